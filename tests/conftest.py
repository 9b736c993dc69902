"""Test-session setup shared by every test file.

The CPU is split into two logical devices before TensorFlow initialises its runtime, so any
test can build a 2-replica ``tf.distribute.MirroredStrategy`` on this GPU-less machine (see
DESIGN.md, "Pitfalls"). Tests that do not ask for a strategy run on ``/CPU:0`` as usual.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import tensorflow as tf  # noqa: E402

_cpus = tf.config.list_physical_devices("CPU")
try:
    tf.config.set_logical_device_configuration(
        _cpus[0],
        [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()],
    )
except RuntimeError:  # already initialised by an earlier import; keep what exists
    pass


def pytest_collection_modifyitems(config, items):
    """Drops `tf.test.TestCase.test_session`, a deprecated helper pytest mistakes for a test."""
    items[:] = [item for item in items if item.name != "test_session"]
