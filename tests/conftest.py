"""Test-session setup shared by every test file.

The CPU is split into two logical devices before TensorFlow initialises its runtime, so any
test can build a 2-replica ``tf.distribute.MirroredStrategy`` on this GPU-less machine (see
DESIGN.md, "Pitfalls"). Tests that do not ask for a strategy run on ``/CPU:0`` as usual.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Under pytest-xdist each worker gets its share of the cores for TensorFlow's op threads
# (inherited by the subprocesses tests start): N workers x all-core thread pools would
# oversubscribe the CPU, and the tiny test networks gain little from intra-op threads.
_workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
if _workers > 1:
    _share = str(max(1, (os.cpu_count() or 1) // _workers))
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", _share)
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", _share)
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
