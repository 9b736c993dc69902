"""The training run behind scripts/train.py: run folder, checkpoints, exact resume, logging.

`TrainConfig` holds every setting of a run with its default; `run(config)` validates it
(errors name the flag), creates or resumes the run folder, builds the model in the
distribution strategy's scope and trains with Keras' own compiled train function, driving
the callbacks of `tfdisgan.callbacks` like `fit` does.

Resume is exact: the checkpoint holds G, D, G_ema, both optimizers, the step, the image
count and every random-number state; the input order is a pure function of (seed, step)
(`load_dataset(start_step=...)`), so a run stopped at step k and resumed reaches the same
weights as an uninterrupted one.

The run folder's layout, config.json and checkpoints: `tfdisgan.runs`.
"""

import dataclasses
import math
import os
import signal
import sys
import threading
import time

import keras
import numpy as np
import tensorflow as tf

from tfdisgan import callbacks as cb
from tfdisgan import distribute, mixing, transfer
from tfdisgan.augment import ADA_NAMES, get_augment
from tfdisgan.augment.ada_ops import parse_pipeline
from tfdisgan.checkpoint_files import set_aside_after
from tfdisgan.config import (  # noqa: F401 - TrainConfig, ConfigError: the API's names
    AUGMENTS,
    MODELS,
    ConfigError,
    TrainConfig,
    check,
    fill_defaults,
    to_record,
)
from tfdisgan.console import Console
from tfdisgan.data import describe, load_dataset
from tfdisgan.files import write_atomic, write_json
from tfdisgan.graph_memory import released_custom_gradients
from tfdisgan.metrics import core as metrics_core
from tfdisgan.metrics import features as metrics_features
from tfdisgan.precision import resolve_precision
from tfdisgan.runs import (  # noqa: F401 - build_model, make_checkpoint: the API's names
    build_model,
    checkpointed_optimizer,
    compare_on_resume,
    default_run_name,
    find_resume_dir,
    legacy_run_name,
    make_checkpoint,
    next_run_dir,
    restore_readable,
    resume_checkpoint,
    truncate_log,
)


def validate(config, info, num_replicas=1):
    """Checks a config against itself and the dataset before anything is built.

    Returns:
        `(resolved_config, class_ids, num_classes)`: the config with the resolution and
        every model default filled in (what flags.txt records).

    Raises:
        ConfigError: naming the first bad flag.
    """
    check(config.model in MODELS, "model", f"must be one of {MODELS}, got {config.model!r}")
    check(config.strategy in distribute.STRATEGIES, "strategy",
           f"must be one of {distribute.STRATEGIES}, got {config.strategy!r}")
    check(config.augment in AUGMENTS, "augment",
           f"must be one of {AUGMENTS}, got {config.augment!r}")
    check((config.kimg is None) != (config.steps is None), "kimg",
           "give exactly one of --kimg and --steps")
    if config.kimg is not None:
        check(config.kimg > 0, "kimg", f"must be > 0, got {config.kimg}")
    if config.steps is not None:
        check(config.steps > 0, "steps", f"must be > 0, got {config.steps}")
    if config.batch is not None:
        check(config.batch >= 1, "batch", f"must be >= 1, got {config.batch}")
        check(config.batch % num_replicas == 0, "batch",
               f"{config.batch} is not divisible by the {num_replicas} replicas")
    resolution = config.resolution
    if info.resolution is not None:
        check(resolution in (None, info.resolution), "resolution",
               f"{resolution} does not match the dataset {info.spec!r}, which stores "
               f"{info.resolution} px images")
        resolution = info.resolution
    check(resolution is not None, "resolution", f"required for the {info.kind} spec "
           f"{info.spec!r}")
    check(resolution >= 16 and resolution & (resolution - 1) == 0, "resolution",
           f"must be a power of two >= 16, got {resolution}")
    config = fill_defaults(config, resolution, num_replicas)
    try:
        precision = resolve_precision(config.precision,
                                      "TPU" if config.strategy == "tpu" else None)
    except ValueError as error:
        raise ConfigError(f"--precision: {error}") from None
    config = dataclasses.replace(config, precision=precision)
    if config.model == "stylegan2":
        if config.num_fp16_res is None:
            config = dataclasses.replace(config, num_fp16_res=0 if precision == "float32" else 4)
        check(config.num_fp16_res >= 0, "num_fp16_res",
               f"must be >= 0, got {config.num_fp16_res}")
        check(precision != "float32" or config.num_fp16_res == 0, "num_fp16_res",
               f"{config.num_fp16_res} needs a mixed --precision; --precision=float32 runs "
               "every block in float32")
    check(config.batch % num_replicas == 0, "batch",
           f"{config.batch} is not divisible by the {num_replicas} replicas")
    if config.mbstd_group is not None:
        per_replica = config.batch // num_replicas
        group = min(config.mbstd_group, per_replica)
        check(per_replica % group == 0, "mbstd_group",
               f"the per-replica batch {per_replica} (--batch={config.batch} over "
               f"{num_replicas} replicas) is not divisible by the group {group}")
    for flag in ("g_lr", "d_lr", "tick_kimg", "z_dim"):
        check(getattr(config, flag) > 0, flag, f"must be > 0, got {getattr(config, flag)}")
    for flag in ("beta1", "beta2"):
        check(0 <= getattr(config, flag) < 1, flag, f"must be in [0, 1), got "
               f"{getattr(config, flag)}")
    for flag in ("ema_kimg", "ema_rampup", "r1_gamma", "pl_weight"):
        value = getattr(config, flag)
        check(value is None or value >= 0, flag, f"must be >= 0, got {value}")
    for flag in ("r1_interval", "pl_interval", "snapshot_ticks", "keep_checkpoints",
                 "grid_seeds", "mapping_layers", "mbstd_group"):
        value = getattr(config, flag)
        check(value is None or value >= 1, flag, f"must be >= 1, got {value}")
    if config.style_mixing is not None:
        check(0 <= config.style_mixing <= 1, "style_mixing",
               f"must be in [0, 1], got {config.style_mixing}")
    if config.augment in ("diffaugment", "diffaugment+ada"):
        try:
            get_augment("diffaugment", policy=config.diffaugment)
        except ValueError as error:
            raise ConfigError(f"--diffaugment: {error}") from None
    if config.augment in ADA_NAMES:
        check(0 <= config.ada_target <= 1, "ada_target",
               f"must be in [0, 1], got {config.ada_target}")
        check(config.ada_kimg > 0, "ada_kimg", f"must be > 0, got {config.ada_kimg}")
        check(config.aug_p is None or 0 <= config.aug_p <= 1, "aug_p",
               f"must be in [0, 1], got {config.aug_p}")
        if config.augment != "rot90":
            try:
                parse_pipeline(config.ada_pipeline)
            except ValueError as error:
                raise ConfigError(f"--ada_pipeline: {error}") from None
        # ADA pads by the transformed corners as stylegan2-ada: data-dependent shapes.
        check(not config.xla, "xla", f"cannot compile --augment={config.augment} (its "
               "padding depends on the sampled transforms); drop --xla")
        check(config.strategy != "tpu", "strategy", f"tpu cannot run --augment="
               f"{config.augment} (data-dependent shapes)")
    else:
        check(config.aug_p is None, "aug_p", "applies to --augment=ada, diffaugment+ada or "
               f"rot90 only, got --augment={config.augment}")
    if config.metrics:
        try:
            names = metrics_core.resolve_metrics(config.metrics)
        except ValueError as error:
            raise ConfigError(f"--metrics: {error}") from None
        check(config.feature_net in metrics_features.FEATURE_NETS, "feature_net",
               f"must be one of {metrics_features.FEATURE_NETS}, got {config.feature_net!r}")
        if any(metrics_core.METRICS[n].uses_features for n in names):
            # Missing weights fail before the run starts, not at the first evaluation.
            try:
                metrics_features.check_available(config.feature_net, config.inception or None,
                                                 config.inception_sha256 or None)
            except metrics_features.InceptionNotFoundError as error:
                raise ConfigError(f"--inception: {error}") from None
            except ValueError as error:  # names --inception_sha256
                raise ConfigError(str(error)) from None
        check(config.metrics_kimg is None or config.metrics_kimg > 0, "metrics_kimg",
               f"must be > 0, got {config.metrics_kimg}")
        check(config.metrics_num_gen is None or config.metrics_num_gen >= 2,
               "metrics_num_gen", f"must be >= 2, got {config.metrics_num_gen}")
    class_ids = []
    for name in config.classes:
        try:
            class_ids.append(info.class_id(name))
        except ValueError as error:
            raise ConfigError(f"--classes: {error}") from None
    num_classes = info.num_classes if config.conditional else 0
    check(not config.conditional or num_classes >= 2, "conditional",
           f"needs a dataset with >= 2 classes; {info.spec!r} has {info.num_classes}")
    transfer.check_config(config)
    mixing.cross_mix_from_config(config, num_classes, info.class_names, class_ids)
    return config, tuple(class_ids), num_classes


def make_strategy(config):
    """The `tf.distribute` strategy named by `config.strategy` / `config.devices`.

    Raises:
        ConfigError: naming --strategy, --devices or TF_CONFIG.
    """
    try:
        return distribute.make_strategy(config.strategy, config.devices)
    except distribute.StrategyError as error:
        raise ConfigError(str(error)) from None


def dry_run(config):
    """What ``--dry_run`` prints: `config` validated against its dataset and resolved (the
    flags.txt a run would write, a valid flagfile), nothing built or written.

    Raises:
        ConfigError: naming the first bad flag.
        data.DatasetError: the data cannot be read.
    """
    replicas = len(config.devices) if config.strategy == "mirrored" and config.devices else 1
    resolved, _, num_classes = validate(config, describe(config.data), replicas)
    return (f"# scripts/train.py --dry_run: resolved, nothing trained ({num_classes or 'no'} "
            f"classes, {replicas} replica(s))\n" + resolved.to_flags())


def run(config, strategy=None, verbose=True):
    """Trains according to `config`; returns the run folder.

    Args:
        config: `TrainConfig`.
        strategy: a `tf.distribute.Strategy`, or None to build the one of `config.strategy`
            (`make_strategy`; for "multiworker" nothing else in the process may have used
            TensorFlow before).
        verbose: print progress (on the chief only).

    In a multi-worker run every worker calls `run` with the same config; only the chief
    writes the run folder (flags, logs, samples, TensorBoard, checkpoints). The others do
    the same work (a checkpoint save is collective) into a temporary folder that is removed
    at the end, and read the chief's checkpoints to resume, so the output folder must be
    on a file system every worker sees.

    Raises:
        ConfigError: a bad flag (before any training).
        callbacks.TrainingDiverged: NaN/Inf; the last good checkpoint is kept.
        KeyboardInterrupt: after saving a checkpoint (Ctrl-C).
    """
    if strategy is None:
        # Before anything else: MultiWorkerMirroredStrategy configures the TF runtime.
        strategy = make_strategy(config)
    chief = distribute.is_chief(strategy)
    verbose = verbose and chief
    info = describe(config.data)
    config, class_ids, num_classes = validate(config, info, strategy.num_replicas_in_sync)
    resolution = config.resolution
    name = config.run_name or default_run_name(config, resolution)
    legacy = None if config.run_name else legacy_run_name(config, resolution)
    run_dir = find_resume_dir(config, name, legacy) if config.resume else None
    resuming = run_dir is not None
    if resuming:
        compare_on_resume(config, run_dir)
    else:
        # On a non-chief worker this name may be ahead of the chief's; it is never created.
        run_dir = next_run_dir(config.outdir, name)
    console = Console(enabled=verbose)
    # The traced steps are not differentiated from outside after the run: free their graphs.
    try:
        with released_custom_gradients():
            _train(config, strategy, run_dir, resuming, class_ids, num_classes, console,
                   chief)
    finally:
        console.close()
    return run_dir


def _train(config, strategy, run_dir, resuming, class_ids, num_classes, console, chief):
    """The body of `run`. The run folder appears only once the model is built, a resume
    restored and the data opened: a bad dataset leaves nothing behind."""
    resolution = config.resolution
    model, step = build_model(config, num_classes, strategy)
    checkpoint = make_checkpoint(model, step)
    resume_from = None
    if resuming:
        # The checkpoint holds the optimizers' learning-rate variables too; the resumed run
        # takes --g_lr/--d_lr as given now (the advice after a divergence is to lower them).
        optimizers = [checkpointed_optimizer(model.g_optimizer),
                      checkpointed_optimizer(model.d_optimizer)]
        rates = [float(np.asarray(opt.learning_rate)) for opt in optimizers]
        # Variables are stored once whatever the replica count: a checkpoint written with N
        # replicas restores into M (the data order and latents follow the global batch).
        chosen = resume_checkpoint(config, run_dir)  # --resume=RUN@KIMG
        resume_from = restore_readable(checkpoint, os.path.join(run_dir, "checkpoints"),
                                       newest=chosen)
        for opt, rate in zip(optimizers, rates, strict=True):
            opt.learning_rate.assign(rate)
        console.print(f"Resumed {resume_from} at step {int(step.numpy())}")
    start = int(step.numpy())

    def dataset_fn(context):
        return load_dataset(config.data, config.batch, resolution, classes=class_ids or None,
                            mirror=config.mirror, seed=config.seed, start_step=start,
                            input_context=context)

    dataset = strategy.distribute_datasets_from_function(dataset_fn)
    iterator = iter(dataset)
    # Before the folder exists too: a source that does not load leaves nothing behind.
    report = transfer.apply(model, config, None, resuming=resuming, verbose=console.enabled)
    out_dir = distribute.worker_dir(run_dir, strategy)  # creates the run folder (chief)
    try:
        if report is not None:
            transfer.write_report(out_dir, report)
        _train_in(config, strategy, run_dir, out_dir, model, step, checkpoint, resume_from,
                  iterator, class_ids, num_classes, console, chief)
    finally:
        distribute.cleanup_worker_dir(out_dir, run_dir)


def _host_logs(outputs):
    """A train step's logs as Python floats (this waits for the device)."""
    if isinstance(outputs, tf.experimental.Optional):
        outputs = outputs.get_value()
    return {key: float(np.asarray(value).reshape(-1)[0]) for key, value in outputs.items()}


def _banner(config, run_dir, num_classes, strategy, start, total):
    """The run's first lines: where it writes and the options that decide what it does."""
    length = f"{config.steps} steps" if config.steps else f"{config.kimg} kimg ({total} steps)"
    if start:
        length += f" from step {start}"
    return "\n".join([
        f"Run folder: {run_dir}",
        f"{config.model} {config.resolution} px, batch {config.batch}, {length}, "
        f"augment {config.augment}, "
        f"precision {config.precision}, {num_classes or 'no'} classes, "
        f"{strategy.num_replicas_in_sync} replica(s), data {config.data}",
    ])


def _train_in(config, strategy, run_dir, out_dir, model, step, checkpoint, resume_from,
              iterator, class_ids, num_classes, console, chief):
    """Writes the run folder `out_dir` (the run folder on the chief) and trains."""
    verbose = console.enabled
    resolution = config.resolution
    write_atomic(os.path.join(out_dir, "flags.txt"), config.to_flags())
    class_names = describe(config.data).class_names if num_classes else ()
    model.class_names = tuple(class_names) or None  # generate(labels="홍수")
    write_json(os.path.join(out_dir, "config.json"), to_record(config, num_classes,
                                                               class_names))
    if chief and not os.path.exists(os.path.join(out_dir, "reals.png")):
        from tfdisgan.gallery import write_reals

        write_reals(out_dir, config.data, resolution, class_ids or None, num_classes)
    if config.cross_mix:  # before the train function is traced
        model.cross_mix = mixing.cross_mix_from_config(config, num_classes,
                                                       list(class_names), class_ids)
    manager = tf.train.CheckpointManager(
        checkpoint, os.path.join(out_dir, "checkpoints"), max_to_keep=config.keep_checkpoints
    )
    start = int(step.numpy())
    logs = [os.path.join(out_dir, name) for name in sorted(os.listdir(out_dir))
            if name == "log.jsonl" or (name.startswith("metric-") and name.endswith(".jsonl"))]
    if resume_from and chief:
        # Resumed from an earlier checkpoint (--resume=RUN@KIMG, or past an unreadable
        # one): the later checkpoints and the logs as they were move aside, kept whole.
        aside = set_aside_after(resume_from, logs)
        if aside:
            console.print(f"Checkpoints after {os.path.basename(resume_from)} and the logs "
                          f"before this resume are kept in {aside}")
    for path in logs:  # lines after the checkpoint are redone
        truncate_log(path, start)

    total = config.steps or int(math.ceil(config.kimg * 1000 / config.batch))
    if chief:
        console.attach(out_dir)
    console.print(_banner(config, run_dir, num_classes, strategy, start, total))
    tick_steps = max(1, int(round(config.tick_kimg * 1000 / config.batch)))
    snapshot_steps = tick_steps * config.snapshot_ticks
    writer = tf.summary.create_file_writer(os.path.join(out_dir, "tensorboard"))
    best = None
    if config.best_metric:
        best = tf.train.CheckpointManager(checkpoint, os.path.join(out_dir, "checkpoints",
                                                                   "best"), max_to_keep=1)
    metric_callbacks = []
    if config.metrics:
        # Before CheckpointSaver and JsonlLogger, which read the values from the logs; on a
        # tick step, so log.jsonl holds them. Every worker evaluates (same weights, same
        # seeds): saving checkpoints/best is collective under MultiWorkerMirroredStrategy.
        from tfdisgan.metrics.callback import MetricsCallback

        every_kimg = config.metrics_kimg or config.tick_kimg * config.snapshot_ticks
        metric_steps = tick_steps * max(1, int(round(every_kimg / config.tick_kimg)))
        metric_callbacks.append(MetricsCallback(
            config.metrics, config.data, metric_steps, run_dir=out_dir,
            num_gen=config.metrics_num_gen, feature_net=config.feature_net,
            inception=config.inception or None,
            inception_sha256=config.inception_sha256 or None, resolution=resolution,
            classes=class_ids or None, step_offset=start))
    callbacks = [
        cb.NaNGuard(step_offset=start),
        *metric_callbacks,
        cb.CheckpointSaver(manager, step, snapshot_steps, best, config.best_metric,
                           batch_size=config.batch),
        cb.JsonlLogger(os.path.join(out_dir, "log.jsonl"), tick_steps, config.batch,
                       writer, step_offset=start,
                       on_tick=lambda entry: console.tick(entry, total)),
    ]
    if chief:  # sampling is local work: the other workers skip it
        callbacks.append(cb.SnapshotGrid(out_dir, snapshot_steps, seeds=range(config.grid_seeds),
                                         writer=writer, step_offset=start))
    callback_list = keras.callbacks.CallbackList(callbacks, model=model)
    saver = next(c for c in callback_list.callbacks if isinstance(c, cb.CheckpointSaver))
    model.make_train_function()
    train_function = model.train_function
    # On a terminal only (see `tfdisgan.console`); the losses shown are the tick's means so
    # far (the trackers restart every tick), not means since the start.
    progress = keras.utils.Progbar(total, stateful_metrics=["d_loss", "g_loss", "img/s"],
                                   verbose=int(verbose and console.interactive))
    progress.update(start)
    callback_list.on_train_begin()
    started, logs = time.perf_counter(), {}
    interrupted = []
    previous_handler = None
    if threading.current_thread() is threading.main_thread():
        # Ctrl-C only raises a flag: the step in flight finishes, so the checkpoint holds a
        # consistent (weights, step) pair and the resumed run is exact.
        previous_handler = signal.signal(signal.SIGINT, lambda *_: interrupted.append(True))
    try:
        for current in range(start, total):
            outputs = train_function(iterator)
            # The logs come to the host once per tick (every checkpoint and metric step is a
            # tick step) and at the end: reading them every step would wait for the device
            # each step. The NaN guard checks every read: a tick's values are means over
            # it, so a non-finite step shows, and no checkpoint is written between reads.
            read = (current + 1) % tick_steps == 0 or current + 1 == total or interrupted
            logs = _host_logs(outputs) if read else None
            callback_list.on_train_batch_end(current, logs)
            rate = (current + 1 - start) * config.batch / (time.perf_counter() - started)
            shown = [("img/s", rate)]
            if logs is not None:
                shown += [("d_loss", logs.get("d_loss", 0.0)), ("g_loss", logs.get("g_loss",
                                                                                    0.0))]
            progress.update(current + 1, shown)
            if interrupted:
                path = saver.save()
                print(f"\nInterrupted at step {int(step.numpy())}: saved {path}. Resume "
                      f"with --resume={run_dir}", file=sys.stderr)
                raise KeyboardInterrupt
    finally:
        if previous_handler is not None:
            signal.signal(signal.SIGINT, previous_handler)
        writer.flush()
    callback_list.on_train_end(logs)
    writer.close()
    if chief and config.showcase:
        from tfdisgan.gallery import showcase  # loads TF Serving's export path lazily

        # Multi-worker and TPU variables are read through their strategy, and saving them
        # may need every worker: the chief reloads the final checkpoint into a plain model.
        remote = isinstance(strategy, (tf.distribute.MultiWorkerMirroredStrategy,
                                       tf.distribute.TPUStrategy))
        showcase(out_dir, None if remote else model,
                 class_names=tuple(class_names) or None, verbose=verbose)
