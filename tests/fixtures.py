"""The test suite's shared fixtures, in one place: the repository root, toy images, tiny
models, a 2-replica strategy and the script runner. Files keep only what is theirs (their
resolution, their run configs: tests/runs/harness.py holds the run-level ones).
"""

import os
import subprocess
import sys

import numpy as np
import tensorflow as tf

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The two logical CPUs tests/conftest.py makes, standing in for two GPUs.
CPUS = ("/cpu:0", "/cpu:1")


def toy_images(n, resolution=16, seed=0):
    """float32 ``[n, resolution, resolution, 3]`` uniform in ``[-1, 1]``."""
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, [n, resolution, resolution, 3]).astype(np.float32)


def weights_of(gan):
    """G, D and G_ema's weights (trainable and buffers) as NumPy arrays, in order."""
    nets = (gan.generator, gan.discriminator, gan.generator_ema)
    return [w.numpy() for net in nets for w in net.weights]


def tiny_dcgan(**overrides):
    """A DCGAN at 16 px with 8-16 channels (z 16, seed 1) unless overridden."""
    from tfdisgan.models import DCGAN

    return DCGAN(**{**dict(resolution=16, z_dim=16, base_channels=8, max_channels=16,
                           seed=1), **overrides})


def tiny_stylegan2(**overrides):
    """A StyleGAN2 at 16 px, 16 channels, z = w = 16, 1 mapping layer, mbstd groups of 2
    (seed 1) unless overridden."""
    from tfdisgan.models import StyleGAN2

    return StyleGAN2(**{**dict(resolution=16, z_dim=16, w_dim=16, channel_base=128,
                               channel_max=16, mapping_layers=1, mbstd_group_size=2,
                               seed=1), **overrides})


def two_replicas(reduce_to_one_device=False):
    """A ``MirroredStrategy`` over the two logical CPUs. ``reduce_to_one_device``: no
    collective ops, whose instance keys can collide with those of another MirroredStrategy
    built earlier in the same process ("Shape mismatch in the collective instance")."""
    cpus = tf.config.list_logical_devices("CPU")
    assert len(cpus) >= 2, "tests/conftest.py splits the CPU in two"
    ops = tf.distribute.ReductionToOneDevice() if reduce_to_one_device else None
    return tf.distribute.MirroredStrategy([cpus[0].name, cpus[1].name], cross_device_ops=ops)


def run_script(name, *args, timeout=600, background=False, **env):
    """Runs ``scripts/NAME`` with ``args`` as a user would (a fresh process importing this
    checkout's tfdisgan, TensorFlow's C++ log quiet, ``env`` added to the environment),
    output captured as text.

    Returns:
        ``subprocess.CompletedProcess`` (``background``: the running ``subprocess.Popen``).
    """
    command = [sys.executable, os.path.join(REPO, "scripts", name), *map(str, args)]
    # This checkout's package first (not an editable install of another one).
    path = os.pathsep.join(p for p in (REPO, os.environ.get("PYTHONPATH")) if p)
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=path, **env)
    if background:
        return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=environment)
    return subprocess.run(command, capture_output=True, text=True, env=environment,
                          timeout=timeout)
