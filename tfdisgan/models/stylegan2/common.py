"""Constants and helpers shared by the StyleGAN2 networks (NHWC).

The architectures and reduced-precision dtypes a network accepts, the FIR filter of every
resampling, the official channel schedule, and the symbolic inputs that build a network by
tracing its ``call``.
"""

import math

import keras

ARCHITECTURES = ("orig", "skip", "resnet")
# Reduced-precision compute dtypes of the `num_fp16_res` top blocks: float16 as official on
# GPUs, bfloat16 on TPUs and CPUs with bf16 dot products (AVX512_BF16 / AMX).
HALF_DTYPES = ("float16", "bfloat16")
# The FIR filter of every up- and downsampling (official `resample_filter=[1, 3, 3, 1]`).
RESAMPLE_FILTER = (1, 3, 3, 1)
# Gain of both branches of a "resnet" block.
SQRT_HALF = math.sqrt(0.5)


def channels_dict(resolutions, channel_base, channel_max):
    """``{res: min(channel_base // res, channel_max)}``, the official channel schedule."""
    return {res: min(channel_base // res, channel_max) for res in resolutions}


def symbolic(shape, dtype="float32"):
    """A ``keras.KerasTensor`` of ``shape``: an input for building a network by tracing."""
    return keras.KerasTensor(shape, dtype=dtype)


__all__ = [
    "ARCHITECTURES",
    "HALF_DTYPES",
    "RESAMPLE_FILTER",
    "SQRT_HALF",
    "channels_dict",
    "symbolic",
]
