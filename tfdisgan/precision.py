"""Training precision: float32, or the official mixed-precision layout in float16/bfloat16.

stylegan2-ada-pytorch trains the top 4 resolutions of G and D in float16 (``num_fp16_res=4``)
with conv outputs clamped to +-256 and everything else (mapping, 4x4 blocks, losses, weights,
optimizer state) in float32; its ``--fp32`` flag turns both off. We offer that layout as
``mixed_float16`` (GPUs; with a loss-scaling optimizer, since Keras' fp16 gradients would
otherwise underflow) and as ``mixed_bfloat16`` (TPUs, and CPUs whose bf16 dot products run at
twice the float32 rate: AVX512_BF16 or AMX). ``auto`` picks per device: float16 on a GPU,
bfloat16 on a TPU or such a CPU, float32 otherwise.

DCGAN has no per-resolution blocks: under a mixed precision its whole networks compute in the
half dtype, the tanh output and the logits stay float32.

Example:
    >>> resolve_precision("auto")  # on a CPU with AVX512_BF16
    'mixed_bfloat16'
"""

import functools

import keras
import tensorflow as tf

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16", "auto")
_CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


@functools.lru_cache(maxsize=1)
def cpu_has_fast_bf16(cpuinfo="/proc/cpuinfo"):
    """True when the CPU has bf16 dot-product instructions (AVX512_BF16 or AMX-BF16).

    Reads ``/proc/cpuinfo`` (Linux); False where it cannot be read.
    """
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return any(flag in flags for flag in _CPU_BF16_FLAGS)
    except OSError:
        pass
    return False


def resolve_precision(precision, device_type=None):
    """Turns ``precision`` (one of ``PRECISIONS``) into a concrete one (not ``"auto"``).

    Args:
        precision: str, ``"float32" | "mixed_float16" | "mixed_bfloat16" | "auto"``.
        device_type: str or None, ``"GPU" | "TPU" | "CPU"`` the model runs on (None: a GPU
            if TensorFlow sees one, else the CPU).

    Returns:
        ``"float32"``, ``"mixed_float16"`` or ``"mixed_bfloat16"``.

    Raises:
        ValueError: an unknown precision, naming it.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"`precision` must be one of {PRECISIONS}. Received: {precision!r}")
    if precision != "auto":
        return precision
    if device_type is None:
        device_type = "GPU" if tf.config.list_physical_devices("GPU") else "CPU"
    if device_type == "GPU":
        return "mixed_float16"
    if device_type == "TPU" or cpu_has_fast_bf16():
        return "mixed_bfloat16"
    return "float32"


def half_dtype(precision):
    """The reduced compute dtype of a concrete precision, or None for float32."""
    return {"float32": None, "mixed_float16": "float16", "mixed_bfloat16": "bfloat16"}[
        precision
    ]


def loss_scaled(optimizer, precision):
    """Wraps ``optimizer`` in Keras' dynamic ``LossScaleOptimizer`` for ``mixed_float16``
    (bfloat16 has float32's exponent range and needs none); returns it unchanged otherwise."""
    if precision == "mixed_float16" and not isinstance(
        optimizer, keras.optimizers.LossScaleOptimizer
    ):
        return keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


class global_policy:  # noqa: N801 - used like a function: `with global_policy("..."):`
    """Context manager setting Keras' global dtype policy and restoring the previous one."""

    def __init__(self, policy):
        self.policy = policy
        self._previous = None

    def __enter__(self):
        self._previous = keras.config.dtype_policy()
        keras.config.set_dtype_policy(self.policy)
        return self

    def __exit__(self, *exc):
        keras.config.set_dtype_policy(self._previous)
        return False


__all__ = [
    "PRECISIONS",
    "cpu_has_fast_bf16",
    "global_policy",
    "half_dtype",
    "loss_scaled",
    "resolve_precision",
]
