"""Shared tiny run configs and readers for the run-level tests (`training.run` end to end).

The configs are the smallest that still exercise every phase a user's run has: StyleGAN2
on the cpu_tiny preset with R1 and path length on (their default lazy intervals, 16 and 4,
both fire at step 0), 16 px, 1 mapping layer, 16 channels; DCGAN at 16 px with 8-32
channels. A whole StyleGAN2 run of a few steps costs ~10-20 s here, almost all of it
tracing the train step, so each test runs as few as it needs.
"""

import dataclasses
import json
import os

import numpy as np
import tensorflow as tf

from tests.fixtures import REPO  # noqa: F401 (the run tests import it from here)
from tfdisgan import training, transfer
from tfdisgan.data import describe

SG2_TINY = dict(
    model="stylegan2", cfg="cpu_tiny", data="procedural:32", resolution=16, batch=4,
    z_dim=16, w_dim=16, channel_base=128, channel_max=16, mapping_layers=1, mbstd_group=2,
    tick_kimg=0.004, snapshot_ticks=1000, grid_seeds=4, showcase=False,
)
DCGAN_TINY = dict(
    model="dcgan", data="procedural:32", resolution=16, batch=4, z_dim=16, base_channels=8,
    max_channels=32, tick_kimg=0.004, snapshot_ticks=1000, grid_seeds=4, showcase=False,
    ema_kimg=0.05,
)
TINY = {"stylegan2": SG2_TINY, "dcgan": DCGAN_TINY}
# Log keys whose values depend on the machine's speed or memory, not on the training.
TIMING_KEYS = ("time", "img_per_s", "sec_per_kimg", "host_peak_mb")


def tiny_config(model, outdir, **overrides):
    """The tiny `TrainConfig` of `model` ("stylegan2" | "dcgan") writing under `outdir`."""
    return training.TrainConfig(outdir=outdir, **{**TINY[model], **overrides})


def read_log(run_dir, name="log.jsonl"):
    """The lines of a run's log.jsonl as dicts."""
    with open(os.path.join(run_dir, name), encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def training_values(lines):
    """Log lines without the timing and memory keys (what must repeat exactly)."""
    return [{k: v for k, v in line.items() if k not in TIMING_KEYS} for line in lines]


class RunState:
    """A run folder's checkpoint restored into a freshly built model.

    Attributes:
        step: int, the checkpoint's step.
        model: the GAN model holding the restored weights.
        path: the checkpoint restored.
    """

    def __init__(self, run_dir, config, checkpoint=None):
        info = describe(config.data)
        resolved, _, num_classes = training.validate(config, info)
        model, step = training.build_model(resolved, num_classes, tf.distribute.get_strategy())
        ckpt = training.make_checkpoint(model, step)
        self.path = checkpoint or tf.train.latest_checkpoint(
            os.path.join(run_dir, "checkpoints"))
        ckpt.restore(self.path).assert_existing_objects_matched()
        self.step, self.model = int(step.numpy()), model

    def weights(self, *nets):
        """`{net/path: array}` of the named networks' weights (default G, D, G_ema), named
        as `tfdisgan.transfer` names them (its reports use the same keys)."""
        return _weights(self.model, nets)

    def optimizer_state(self):
        return [v.numpy() for opt in (self.model.g_optimizer, self.model.d_optimizer)
                for v in opt.variables]

    def augment_state(self):
        """ADA's p, accumulators and step (empty for other augmentations)."""
        augment = self.model.augment
        names = ("p", "sign_sum", "sign_count", "rt", "ada_step")
        return {n: float(getattr(augment, n).numpy()) for n in names if hasattr(augment, n)}


# Fields that do not change the weights a run starts from (checked for augment and
# precision: equal initial weights for every augment x precision of the tiny configs).
_NOT_INITIAL = dict(outdir="", run_name="", steps=0, augment="none", precision="float32")
_INITIAL = {}


def initial_weights(config):
    """The weights a run of `config` starts from (same seed, nothing trained); built once
    per architecture in a test process (a tiny StyleGAN2 build is ~2 s)."""
    key = repr(dataclasses.replace(config, **_NOT_INITIAL))
    if key not in _INITIAL:
        _INITIAL[key] = _build_initial(config)
    return _INITIAL[key]


def _build_initial(config):
    info = describe(config.data)
    resolved, _, num_classes = training.validate(config, info)
    model, _ = training.build_model(resolved, num_classes, tf.distribute.get_strategy())
    return _weights(model)


def _weights(model, nets=()):
    nets = nets or ("generator", "discriminator", "generator_ema")
    return {k: v.numpy() for k, v in transfer.named_variables(model).items()
            if k.split("/", 1)[0] in nets}


def max_difference(a, b):
    """Largest absolute difference over two `{name: array}` dicts with the same keys."""
    assert set(a) == set(b), sorted(set(a) ^ set(b))
    return max(float(np.max(np.abs(a[k] - b[k]))) if a[k].size else 0.0 for k in a)


def changed(a, b, prefix, atol=0.0):
    """Names under `prefix` whose arrays differ by more than `atol` between `a` and `b`."""
    return [k for k in a if k.startswith(prefix) and a[k].size
            and float(np.max(np.abs(a[k] - b[k]))) > atol]
