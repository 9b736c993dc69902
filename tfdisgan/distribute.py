"""The `tf.distribute` strategy of a run, from the `--strategy` and `--devices` flags.

* ``default``: TensorFlow's default strategy (one device, no replication); with
  ``--devices=/gpu:1`` a ``OneDeviceStrategy`` on that device.
* ``mirrored``: ``MirroredStrategy`` over every local GPU, or over ``--devices`` (e.g.
  ``/gpu:0,/gpu:1``, or ``/cpu:0,/cpu:1`` for logical CPU devices made with
  ``tf.config.set_logical_device_configuration``).
* ``multiworker``: ``MultiWorkerMirroredStrategy`` over the cluster described by the
  ``TF_CONFIG`` environment variable (every worker runs the same command with its own
  ``TF_CONFIG``). Create it before any other TensorFlow work in the process.
* ``tpu``: ``TPUStrategy`` on the TPU found by ``TPUClusterResolver`` (``--devices`` may
  name the TPU or its gRPC address; empty: the local / Colab / Cloud TPU VM one).

Every run is global-batch based: the global batch is split evenly over
``strategy.num_replicas_in_sync`` replicas, and only the chief (``is_chief``) writes the run
folder; other workers write to throw-away folders (``worker_dir``), as TF's multi-worker
Keras guide does, because saving a checkpoint is a collective operation that every worker
must take part in.

Example:
    >>> strategy = make_strategy("mirrored", devices=("/cpu:0", "/cpu:1"))
    >>> strategy.num_replicas_in_sync
    2

Reference:
    https://www.tensorflow.org/tutorials/distribute/multi_worker_with_keras
"""

import json
import os
import shutil
import tempfile

import tensorflow as tf

STRATEGIES = ("default", "mirrored", "multiworker", "tpu")


class StrategyError(ValueError):
    """A strategy that cannot be built as asked; the message names the flag or variable."""


def _device_names(devices):
    if isinstance(devices, str):
        devices = devices.split(",")
    names = [str(d).strip() for d in (devices or ())]
    for name in names:
        if not name:
            raise StrategyError(f"--devices: empty device name in {list(devices)!r}")
    if len(set(n.lower() for n in names)) != len(names):
        raise StrategyError(f"--devices: a device is listed twice in {names!r}")
    return names


def _check_local_devices(names):
    """Raises StrategyError naming --devices when a device does not exist in this process."""
    local = {}
    for device in tf.config.list_logical_devices():
        spec = tf.DeviceSpec.from_string(device.name)
        local[(spec.device_type.upper(), spec.device_index)] = device.name
    for name in names:
        try:
            spec = tf.DeviceSpec.from_string(name)
        except ValueError:
            spec = None
        if spec is None or spec.device_type is None or spec.device_index is None:
            raise StrategyError(f"--devices: {name!r} is not a device name like /gpu:0")
        if (spec.device_type.upper(), spec.device_index) not in local:
            raise StrategyError(
                f"--devices: {name!r} does not exist here; local devices: "
                f"{', '.join(sorted(local.values()))}"
            )


def parse_tf_config(environ=None):
    """Reads and checks the `TF_CONFIG` environment variable of a multi-worker run.

    Args:
        environ: mapping to read from (default `os.environ`).

    Returns:
        The parsed dict: ``{"cluster": {"worker": [...], ...}, "task": {"type", "index"}}``.

    Raises:
        StrategyError: TF_CONFIG is missing, not JSON, or does not describe this task.
    """
    environ = os.environ if environ is None else environ
    text = environ.get("TF_CONFIG", "")
    hint = ('e.g. TF_CONFIG=\'{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
            '"task": {"type": "worker", "index": 0}}\'')
    if not text.strip():
        raise StrategyError(
            f"--strategy=multiworker needs the TF_CONFIG environment variable on every "
            f"worker, {hint}"
        )
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise StrategyError(f"TF_CONFIG is not valid JSON ({error}); {hint}") from None
    cluster = config.get("cluster") if isinstance(config, dict) else None
    task = config.get("task") if isinstance(config, dict) else None
    if not isinstance(cluster, dict) or not cluster.get("worker") and not cluster.get("chief"):
        raise StrategyError(f"TF_CONFIG has no cluster with 'worker' addresses; {hint}")
    if not isinstance(task, dict) or "type" not in task or "index" not in task:
        raise StrategyError(f"TF_CONFIG has no task {{'type', 'index'}}; {hint}")
    jobs = cluster.get(task["type"])
    index = task["index"]
    if not isinstance(jobs, list) or not isinstance(index, int) or not 0 <= index < len(jobs):
        raise StrategyError(
            f"TF_CONFIG task {task!r} is not in its cluster {cluster!r}"
        )
    return config


def make_strategy(name="default", devices=None):
    """Builds the distribution strategy named by `--strategy`.

    Args:
        name: str, one of `STRATEGIES`.
        devices: sequence of device names or a comma-separated str (`--devices`);
            `mirrored`: the replicas' devices (default all local GPUs, else the CPU);
            `default`: one device to place everything on; `tpu`: the TPU name or address;
            `multiworker`: must be empty (each worker uses its local devices).

    Returns:
        A `tf.distribute.Strategy`.

    Raises:
        StrategyError (a ValueError): unknown name, bad devices, missing or bad TF_CONFIG,
            no TPU found. The message names the flag.
    """
    if name not in STRATEGIES:
        raise StrategyError(f"--strategy: must be one of {STRATEGIES}, got {name!r}")
    names = _device_names(devices)
    if name == "default":
        if len(names) > 1:
            raise StrategyError(
                f"--devices: --strategy=default runs on one device, got {names!r}; use "
                "--strategy=mirrored for several"
            )
        if names:
            _check_local_devices(names)
            return tf.distribute.OneDeviceStrategy(names[0])
        return tf.distribute.get_strategy()
    if name == "mirrored":
        if names:
            _check_local_devices(names)
            cross_device_ops = None
            if all(tf.DeviceSpec.from_string(n).device_type.upper() == "CPU" for n in names):
                # Logical CPU devices (tests, benchmarks): TensorFlow would pick collective
                # ops, whose instance keys collide with those of any other MirroredStrategy
                # built earlier in the process ("Shape mismatch in the collective instance").
                cross_device_ops = tf.distribute.ReductionToOneDevice()
            return tf.distribute.MirroredStrategy(names, cross_device_ops=cross_device_ops)
        # No list: every local GPU, or the CPU when there is none (one replica).
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        if names:
            raise StrategyError(
                f"--devices: does not apply to --strategy=multiworker (each worker "
                f"replicates over its local GPUs), got {names!r}"
            )
        parse_tf_config()
        return tf.distribute.MultiWorkerMirroredStrategy()
    # tpu
    if len(names) > 1:
        raise StrategyError(f"--devices: --strategy=tpu takes one TPU name, got {names!r}")
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(
            tpu=names[0] if names else None
        )
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, RuntimeError, tf.errors.OpError) as error:
        raise StrategyError(
            f"--strategy=tpu: no TPU found ({type(error).__name__}: {error}); run on a TPU VM "
            "or give its name or address with --devices"
        ) from None
    return tf.distribute.TPUStrategy(resolver)


def task_info(strategy=None):
    """``(task_type, task_id)`` of this process (``(None, None)`` without a cluster)."""
    strategy = strategy or tf.distribute.get_strategy()
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(strategy.extended, "_in_multi_worker_mode",
                                       lambda: False)():
        return None, None
    return resolver.task_type, resolver.task_id


def is_chief(strategy=None):
    """True in the process that writes the run folder: the only process of a one-machine
    run; in a cluster the ``chief`` task, or worker 0 when there is no chief."""
    task_type, task_id = task_info(strategy)
    if task_type is None:
        return True
    return task_type == "chief" or (task_type == "worker" and task_id == 0 and not _has_chief(
        strategy))


def _has_chief(strategy):
    spec = strategy.cluster_resolver.cluster_spec().as_dict()
    return bool(spec.get("chief"))


def worker_dir(run_dir, strategy=None):
    """Where this process writes: `run_dir` on the chief, else a new temporary folder.

    Non-chief workers still take part in every collective save (checkpoints of
    synchronised variables need all workers) but into a folder of their own, which the
    caller removes with `cleanup_worker_dir` at the end.

    Returns:
        str, a folder path that exists.
    """
    if is_chief(strategy):
        os.makedirs(run_dir, exist_ok=True)
        return run_dir
    task_type, task_id = task_info(strategy)
    return tempfile.mkdtemp(prefix=f"tfdisgan-{task_type}{task_id}-")


def cleanup_worker_dir(path, run_dir):
    """Removes a non-chief worker's temporary folder (never the run folder itself)."""
    if path and os.path.abspath(path) != os.path.abspath(run_dir):
        shutil.rmtree(path, ignore_errors=True)
