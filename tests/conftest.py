"""Test-session setup shared by every test file.

The CPU is split into two logical devices before TensorFlow initialises its runtime, so any
test can build a 2-replica ``tf.distribute.MirroredStrategy`` on this GPU-less machine (see
DESIGN.md, "Pitfalls"). Tests that do not ask for a strategy run on ``/CPU:0`` as usual.
"""

import atexit
import gc
import os
import shutil
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

# Every temporary file of the session (tf.test's get_temp_dir, tempfile.mkdtemp in fixtures,
# the run folders some tests write under gettempdir(), and the scripts the tests spawn, via
# TMPDIR) lands in one folder removed when the process exits, so a run of the suite leaves
# nothing in /tmp (before, each run left tf.test's '<string>...' folders and run folders).
SESSION_TMP = tempfile.mkdtemp(prefix="tfdisgan-tests-")
os.environ["TMPDIR"] = SESSION_TMP
tempfile.tempdir = SESSION_TMP


def remove_session_tmp(path=None):
    """Removes the session's temporary folder (`path`: another one, for its test)."""
    shutil.rmtree(path or SESSION_TMP, ignore_errors=True)


# At exit of each process (xdist worker and controller), after tf.test's own cleanup of
# its folder inside this one (atexit runs last-registered first).
atexit.register(remove_session_tmp)

import tensorflow as tf  # noqa: E402

_cpus = tf.config.list_physical_devices("CPU")
try:
    tf.config.set_logical_device_configuration(
        _cpus[0],
        [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()],
    )
except RuntimeError:  # already initialised by an earlier import; keep what exists
    pass

if os.environ.get("TFDISGAN_TEST_GRAPPLER", "0") != "1":
    # Grappler (TF's graph optimiser) rewrites each tf.function on its first call; for the
    # second-order StyleGAN2 step that is ~5 s of a ~25 s tiny run (measured here: 20.1 vs
    # 25.3 s for harness.tiny_config("stylegan2") x 4 steps). Its rewrites keep the maths,
    # so in-process tests run without it. Subprocesses (the scripts, tests/runs/
    # kill_driver.py) keep it on, as users run: tests/runs/test_resume.py compares a
    # StyleGAN2 + ADA run killed and resumed in subprocesses (grappler on) with one trained
    # in-process (off), to 1e-5, so its rewrites are checked against the plain graph.
    tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})


# Files whose tests run whole trainings (30-80 s each here), longest first. They are collected
# first, so that `pytest -n auto` hands them out while every worker is free and the many
# short tests fill the gaps; collected last, the slowest would start near the end and leave
# the other worker idle while it finishes.
SLOW_FIRST = (
    "tests/runs/test_resume.py",
    "tests/test_study.py",
    "tests/runs/test_features.py",
    "tests/test_multiworker.py",
    "tests/test_cross_mixing.py",
    "tests/runs/test_augment_matrix.py",
    "tests/test_training.py",
    "tests/test_projection.py",
)


def pytest_collection_modifyitems(config, items):
    """Drops `tf.test.TestCase.test_session`, a deprecated helper pytest mistakes for a
    test, and puts the SLOW_FIRST files first (in that order; the rest keep theirs)."""
    items[:] = [item for item in items if item.name != "test_session"]

    def rank(item):
        path = item.nodeid.split("::", 1)[0]
        return SLOW_FIRST.index(path) if path in SLOW_FIRST else len(SLOW_FIRST)

    items.sort(key=rank)  # stable: each file's tests stay together and in order


def pytest_runtest_teardown(item, nextitem):
    """Frees what each test traced (see `tfdisgan.graph_memory`): without it every traced
    step stays in TensorFlow's gradient registry and a worker of this suite grew past
    13 GB; at the end of each file, also the objects in reference cycles."""
    from tfdisgan import graph_memory

    graph_memory.release_custom_gradients()
    if nextitem is None or nextitem.module is not item.module:
        gc.collect()
