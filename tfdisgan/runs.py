"""The run folder: its name, config.json, checkpoints, and the model they rebuild.

One copy of what every writer and loader of a run folder shares: training
(`tfdisgan.training.run`), the layer swap and importers that write a run folder
(`write_run`), and every ``--network`` / ``--transfer_from`` loader (`resolve_network`,
`load_model`). `build_model` makes the compiled model of a resolved `TrainConfig`;
`make_checkpoint` is everything an exact resume needs; `restore_readable` falls back past
a damaged newest checkpoint. What is wrong with a damaged file, in one line, is
`tfdisgan.checkpoint_files`.

Run folder::

    RUN_DIR/flags.txt        the fully resolved flags (--name=value, usable as --flagfile)
    RUN_DIR/config.json      the same as JSON (`config.to_record`), compared on resume
    RUN_DIR/log.jsonl        one line per tick
    RUN_DIR/fakesNNNNNN.png  sample grids at fixed seeds
    RUN_DIR/checkpoints/     tf.train.CheckpointManager (keep last N)
    RUN_DIR/checkpoints/best/  the best by --best_metric, if set
    RUN_DIR/metric-NAME.jsonl  one line per evaluation of --metrics (tfdisgan.metrics)
    RUN_DIR/tensorboard/     scalars and sample grids
"""

import dataclasses
import gc
import glob
import json
import os
import re
import shutil
import sys

import keras
import tensorflow as tf

from tfdisgan.augment import get_augment
from tfdisgan.checkpoint_files import (
    CHECKPOINT_ERRORS,
    NETWORK_FORMS,
    alternatives_hint,
    checkpoint_number,
    checkpoint_prefixes,
    checkpoint_problem,
    describe_non_network,
    find_run_dir,
    one_line,
    quiet_tf_logs,
)
from tfdisgan.config import FIXED_ON_RESUME, ConfigError, check, from_record, to_record
from tfdisgan.data import describe
from tfdisgan.files import write_atomic, write_json
from tfdisgan.models import dcgan, stylegan2
from tfdisgan.precision import global_policy, half_dtype, loss_scaled

# ------------------------------------------------------------------------------------------
# The run folder: names, resume, logs
# ------------------------------------------------------------------------------------------


MODEL_TOKENS = {"stylegan2": "sg2", "dcgan": "dcgan"}


def _data_token(config):
    data = config.data.rstrip("/").split("/")[-1].replace(":", "")
    return re.sub(r"[^\w.-]+", "_", data) or "data"


def default_run_name(config, resolution):
    """``DATA-MODEL-RES-AUGMENT`` (e.g. ``fire-sg2-512-diffaugment``, like the official
    ``00003-fire-...`` names): the run folder's name when --run_name is empty."""
    model = MODEL_TOKENS.get(config.model, config.model)
    return f"{_data_token(config)}-{model}-{resolution}-{config.augment}"


def legacy_run_name(config, resolution):
    """The default name before 0.2.0 (``procedural64-stylegan232-ada``): ``--resume=auto``
    still finds those runs."""
    return f"{_data_token(config)}-{config.model}{resolution}-{config.augment}"


def next_run_dir(outdir, name):
    """``outdir/NNNNN-name`` with NNNNN one above the highest number in `outdir`."""
    ids = [
        int(entry.split("-", 1)[0]) for entry in (os.listdir(outdir) if os.path.isdir(outdir)
                                                  else [])
        if re.match(r"^\d{5}-", entry)
    ]
    return os.path.join(outdir, f"{max(ids, default=-1) + 1:05d}-{name}")


def find_resume_dir(config, name, legacy_name=None):
    """The run folder to resume: the given one, or for "auto" the newest `NNNNN-name` (or
    `NNNNN-legacy_name`) in outdir that holds a checkpoint (None if none: "auto" then
    starts a new run)."""
    if config.resume != "auto":
        path, _ = split_resume(config.resume)
        check(os.path.isdir(path), "resume", f"run folder {path!r} does not exist")
        check(tf.train.latest_checkpoint(os.path.join(path, "checkpoints")) is not None,
               "resume", f"{path!r} holds no checkpoint")
        return path
    if not os.path.isdir(config.outdir):
        return None
    names = "|".join(re.escape(n) for n in (name, legacy_name) if n)
    candidates = sorted(
        entry for entry in os.listdir(config.outdir) if re.match(rf"^\d{{5}}-({names})$", entry)
    )
    for entry in reversed(candidates):
        path = os.path.join(config.outdir, entry)
        if tf.train.latest_checkpoint(os.path.join(path, "checkpoints")):
            return path
    return None


def split_resume(resume):
    """``(run folder, kimg or None)`` of ``--resume=RUN`` or ``--resume=RUN@KIMG``."""
    match = _AT_KIMG.match(resume)
    if match and os.path.isdir(match.group(1)) and not os.path.exists(resume):
        return match.group(1), float(match.group(2))
    return resume, None


def resume_checkpoint(config, run_dir):
    """The checkpoint prefix ``--resume=RUN@KIMG`` names (the one nearest KIMG), or None
    to resume from the newest."""
    _, kimg = split_resume(config.resume) if config.resume != "auto" else (None, None)
    if kimg is None:
        return None
    try:
        return checkpoint_at_kimg(run_dir, kimg, flag="--resume")[1]
    except NetworkError as error:
        raise ConfigError(str(error)) from None


def compare_on_resume(config, run_dir):
    """Raises `ConfigError` naming the first setting of `FIXED_ON_RESUME` that differs from
    the run folder's config.json."""
    with open(os.path.join(run_dir, "config.json"), encoding="utf-8") as handle:
        stored = json.load(handle)
    if config.model == "dcgan" and stored.get("cfg") == "auto":
        stored["cfg"] = None  # runs written before --cfg became StyleGAN2-only
    # A setting newer than the run folder is missing from its config.json: the run used
    # the field's default (e.g. --ada_pipeline, bgc before it could be chosen).
    defaults = {f.name: None if f.default is dataclasses.MISSING else f.default
                for f in dataclasses.fields(config)}
    for key in FIXED_ON_RESUME:
        old, new = stored.get(key, defaults[key]), getattr(config, key)
        if isinstance(new, tuple):
            new = list(new)
        check(old == new, key, f"is {new!r} but the run being resumed ({run_dir}) used "
               f"{old!r}; resume with the same value or start a new run")


def truncate_log(path, step):
    """Drops log lines written after the checkpoint being resumed (they will be redone)."""
    if not os.path.exists(path):
        return
    with open(path, encoding="utf-8") as handle:
        lines = [line for line in handle if line.strip()]
    kept = [line for line in lines if json.loads(line).get("step", 0) <= step]
    write_atomic(path, "".join(kept))


# ------------------------------------------------------------------------------------------
# The model of a config, its checkpoint
# ------------------------------------------------------------------------------------------


def build_model(config, num_classes, strategy):
    """Builds and compiles the model, optimizers and augmentation inside `strategy.scope()`.

    `config` must be resolved (`validate`). StyleGAN2 gets `lazy_adam` optimizers: the
    learning rate and betas adjusted for its lazy R1 / path-length intervals as in
    training_loop.py (whatever the weights). With `--precision=mixed_float16` DCGAN's
    optimizers are wrapped in a dynamic `LossScaleOptimizer`; StyleGAN2's are not (the
    official code applies `nan_to_num` to the gradients and always steps).
    """
    # Initial weights are a function of the seed too (Keras initialisers draw from it).
    keras.utils.set_random_seed(config.seed)
    betas = (config.beta1, config.beta2)
    with strategy.scope():
        augment = get_augment(config.augment, policy=config.diffaugment, seed=config.seed + 1,
                              ada_target=config.ada_target, ada_kimg=config.ada_kimg,
                              aug_p=config.aug_p, ada_pipeline=config.ada_pipeline)
        if config.model == "dcgan":
            # DCGAN's layers take the global policy (its tanh and logits stay float32).
            with global_policy(config.precision):
                model = dcgan.DCGAN(
                    resolution=config.resolution, z_dim=config.z_dim,
                    base_channels=config.base_channels, max_channels=config.max_channels,
                    num_classes=num_classes, ema_kimg=config.ema_kimg,
                    ema_rampup=config.ema_rampup or None, seed=config.seed,
                )
            g_opt = dcgan.DCGAN.adam(config.g_lr, *betas)
            d_opt = dcgan.DCGAN.adam(config.d_lr, *betas)
            compile_kwargs = dict(r1_gamma=config.r1_gamma, r1_interval=config.r1_interval)
        else:
            model = stylegan2.StyleGAN2(
                resolution=config.resolution, z_dim=config.z_dim, w_dim=config.w_dim,
                num_classes=num_classes, channel_base=config.channel_base,
                channel_max=config.channel_max, mapping_layers=config.mapping_layers,
                mbstd_group_size=config.mbstd_group, style_mixing_prob=config.style_mixing,
                ema_kimg=config.ema_kimg, ema_rampup=config.ema_rampup or None,
                num_fp16_res=config.num_fp16_res,
                half_dtype=half_dtype(config.precision) or "float16", seed=config.seed,
            )
            # The lazy-regularisation adjustment whatever the weights: training_loop.py
            # keeps its Greg/Dreg phases (and mb_ratio) even at pl_weight=0 / r1_gamma=0,
            # as `preset_optimizers` does.
            g_opt = stylegan2.lazy_adam(config.g_lr, betas, config.pl_interval)
            d_opt = stylegan2.lazy_adam(config.d_lr, betas, config.r1_interval)
            compile_kwargs = dict(r1_gamma=config.r1_gamma, r1_interval=config.r1_interval,
                                  pl_weight=config.pl_weight, pl_interval=config.pl_interval)
        if config.model == "dcgan":
            # DCGAN computes its whole networks in the half dtype: loss scaling for float16.
            g_opt = loss_scaled(g_opt, config.precision)
            d_opt = loss_scaled(d_opt, config.precision)
        # StyleGAN2 in float16 takes the official route instead: no loss scaling, fp32
        # weights and gradients outside the top blocks, conv clamping, and `nan_to_num` on
        # every gradient, so every phase always steps (a LossScaleOptimizer would skip
        # non-finite steps, losing e.g. a lazy R1 step while the counters advance).
        model.compile(g_optimizer=g_opt, d_optimizer=d_opt, augment=augment,
                      jit_compile=config.xla, **compile_kwargs)
        step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
    return model, step


def checkpointed_optimizer(optimizer):
    """The optimizer whose variables a checkpoint holds: the inner one of a
    LossScaleOptimizer, so the checkpoint has the same layout in every precision and a run
    can resume in another one (the loss scale restarts)."""
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return optimizer.inner_optimizer
    return optimizer


def make_checkpoint(model, step):
    """The `tf.train.Checkpoint` of everything a resume needs."""
    return tf.train.Checkpoint(
        model=model, g_optimizer=checkpointed_optimizer(model.g_optimizer),
        d_optimizer=checkpointed_optimizer(model.d_optimizer), step=step,
    )


def restore_readable(checkpoint, checkpoint_dir, newest=None):
    """Restores the newest checkpoint of `checkpoint_dir` that reads back whole (no newer
    than the prefix `newest`, when given).

    A truncated or corrupt newest checkpoint (a full disk, a copy cut short) is skipped
    with a warning naming its files, and the next older one is tried, so a resume loses at
    most the steps since the older checkpoint, never the run.

    Returns:
        The path (prefix) of the checkpoint restored.

    Raises:
        ConfigError: naming --resume, when no checkpoint of the folder reads.
    """
    state = tf.train.get_checkpoint_state(checkpoint_dir)
    paths = list(state.all_model_checkpoint_paths) if state else []
    if state and state.model_checkpoint_path and state.model_checkpoint_path not in paths:
        paths.append(state.model_checkpoint_path)
    if newest is not None:  # --resume=RUN@KIMG: that one, else an older one
        number = checkpoint_number(newest)
        paths = [p for p in paths if checkpoint_number(p) < number] + [newest]
    failures = []
    for path in reversed(paths):
        try:
            checkpoint.restore(path).assert_existing_objects_matched()
            return path
        except (*CHECKPOINT_ERRORS, AssertionError) as error:  # AssertionError: matching
            reason = str(error).strip().splitlines()[0][:200] if str(error).strip() else (
                type(error).__name__)
            failures.append(path)
            print(f"WARNING: checkpoint {path} (.index / .data files) is unreadable "
                  f"({reason}); trying an older one", file=sys.stderr)
    raise ConfigError(f"--resume: no readable checkpoint in {checkpoint_dir} (tried "
                      f"{', '.join(failures) or 'none'})")


def write_run(out, model, step, config, num_classes, class_names=None, extra=None,
              overwrite=False):
    """Writes a run folder that `load_model`, ``--network`` and ``--transfer_from`` take:
    ``config.json``, ``flags.txt``, ``checkpoints/ckpt-STEP`` and any `extra` JSON files,
    into a temporary folder renamed into place (a reader never sees half of it).

    Args:
        out: str, the folder to create.
        model: the GAN, built by `build_model(config, ...)` (its weights are saved).
        step: its step variable.
        config: the resolved `TrainConfig` describing `model`.
        num_classes: int, 0 for an unconditional model.
        class_names: class names by id, or None.
        extra: ``{file name: JSON-able value}`` written beside config.json.
        overwrite: replace an existing `out`.

    Returns:
        `out`.

    Raises:
        FileExistsError: `out` exists without `overwrite`.
    """
    if os.path.exists(out) and not overwrite:
        raise FileExistsError(f"{out} exists; pass --overwrite to replace it.")
    tmp = f"{os.path.normpath(out)}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    write_json(os.path.join(tmp, "config.json"), to_record(config, num_classes, class_names))
    write_atomic(os.path.join(tmp, "flags.txt"), config.to_flags())
    for name, value in (extra or {}).items():
        write_json(os.path.join(tmp, name), value)
    manager = tf.train.CheckpointManager(make_checkpoint(model, step),
                                         os.path.join(tmp, "checkpoints"), max_to_keep=1)
    manager.save(checkpoint_number=int(step.numpy()))
    if os.path.exists(out):
        shutil.rmtree(out)
    os.replace(tmp, out)  # the checkpoint state file holds relative paths
    return out


# ------------------------------------------------------------------------------------------
# Loading a trained network (--network, --transfer_from)
# ------------------------------------------------------------------------------------------


class NetworkError(ValueError):
    """A ``--network`` that names nothing loadable; the message names the path."""


def is_saved_model(path):
    return os.path.isfile(os.path.join(path, "saved_model.pb"))


def _latest_version(path):
    versions = [int(e) for e in os.listdir(path) if e.isdigit() and is_saved_model(
        os.path.join(path, e))]
    return os.path.join(path, str(max(versions))) if versions else None


_AT_KIMG = re.compile(r"^(.+)@([0-9]+(?:\.[0-9]*)?)$")


def checkpoint_kimgs(run_dir):
    """``[(prefix, kimg)]`` of a run folder's checkpoints, oldest first: ``ckpt-N`` holds
    step N, ``N * batch / 1000`` kimg (the batch of its config.json)."""
    batch = int(read_run_config(run_dir)["batch"])
    prefixes = checkpoint_prefixes(os.path.join(run_dir, "checkpoints"))
    return sorted(((p, int(p.rsplit("-", 1)[1]) * batch / 1000.0) for p in prefixes
                   if re.search(r"-[0-9]+$", p)), key=lambda item: item[1])


def checkpoint_at_kimg(run_dir, kimg, flag="--network"):
    """``("checkpoint", prefix, run_dir)`` for the checkpoint of ``run_dir`` nearest ``kimg``
    (``--network=RUN@200``; the earlier one on a tie).

    Raises:
        NetworkError: no checkpoint, or no config.json, in ``run_dir``.
    """
    found = checkpoint_kimgs(run_dir)
    if not found:
        raise NetworkError(f"{flag} {run_dir}@{kimg:g}: {run_dir} has no checkpoints/ckpt-N")
    prefix, _ = min(found, key=lambda item: abs(item[1] - kimg))
    return ("checkpoint", prefix, run_dir)


def resolve_network(path, flag="--network", accepts=NETWORK_FORMS):
    """Classifies ``--network``: ``("saved_model", dir)`` or ``("checkpoint", prefix,
    run_dir)``.

    Accepts a SavedModel version folder, a model folder of numeric versions (the latest), a
    run folder (its latest checkpoint), ``RUN@KIMG`` (the checkpoint nearest KIMG), a
    ``checkpoints`` folder, or a checkpoint prefix (``RUN/checkpoints/ckpt-12``).
    Nothing is read beyond names and file headers: a damaged checkpoint shows when it is
    restored (`load_model`).

    Args:
        path: str, what the flag names.
        flag: str, the flag, named in the messages (``--network_a``, ``--transfer_from``).
        accepts: str, what the flag takes (listed when ``path`` is none of it).

    Raises:
        NetworkError: nothing loadable there; the message names the path and says what it
            is (a pickle, a text file, one file of a checkpoint, a checkpoint without its
            index, ...) and what to pass instead.
    """
    path = os.fspath(path)
    at_kimg = _AT_KIMG.match(path)
    if at_kimg and os.path.isdir(at_kimg.group(1)) and not os.path.exists(path):
        return checkpoint_at_kimg(at_kimg.group(1), float(at_kimg.group(2)), flag)
    if os.path.isdir(path):
        if is_saved_model(path):
            return ("saved_model", path)
        latest = _latest_version(path)
        if latest:
            return ("saved_model", latest)
        prefix = None
        for folder in (os.path.join(path, "checkpoints"), path):
            if not os.path.isdir(folder):
                continue
            with quiet_tf_logs():
                prefix = tf.train.latest_checkpoint(folder)
            if prefix:
                break
            if checkpoint_prefixes(folder):
                state = os.path.join(folder, "checkpoint")
                raise NetworkError(
                    f"{flag} {path!r}: {state} names no readable checkpoint (the file is "
                    "missing or damaged, or its newest checkpoint was deleted)"
                    + alternatives_hint(folder, flag=flag))
    elif os.path.isfile(f"{path}.index"):
        prefix = path
    elif glob.glob(f"{glob.escape(path)}.data-*"):
        raise NetworkError(f"{flag} {path!r}: the checkpoint's index {path}.index is missing"
                           + alternatives_hint(os.path.dirname(path), bad=path, flag=flag))
    elif os.path.isfile(path):
        raise NetworkError(describe_non_network(path, flag, accepts))
    else:
        raise NetworkError(f"{flag} {path!r} does not exist.")
    if not prefix:
        raise NetworkError(
            f"{flag} {path!r} is neither a SavedModel (saved_model.pb), a folder of "
            "numeric SavedModel versions, a run folder with checkpoints/, nor a checkpoint; "
            f"{flag} takes {accepts}."
        )
    run_dir = find_run_dir(os.path.dirname(prefix))
    if run_dir is None:
        raise NetworkError(
            f"Found the checkpoint {prefix!r} but no config.json in its run folder above it: "
            "the model cannot be rebuilt without the run's config."
        )
    return ("checkpoint", prefix, run_dir)


def _restore(model, step, prefix):
    """Restores ``prefix`` into ``model``; returns None, or why it failed (one line).

    A failed restore leaves TensorFlow objects whose deletion logs warnings: they are freed
    here, with those logs silenced, so nothing prints after the caller's error.
    """
    with quiet_tf_logs():
        checkpoint = make_checkpoint(model, step)
        try:
            checkpoint.restore(prefix).assert_existing_objects_matched()
            return None
        except (AssertionError, *CHECKPOINT_ERRORS) as error:  # unmatched, or unreadable
            failure = one_line(error)
        del checkpoint
        gc.collect()
    return failure


def read_run_config(run_dir):
    """The dict of ``RUN_DIR/config.json``.

    Raises:
        NetworkError: the file is missing or not JSON, naming it.
    """
    config_path = os.path.join(run_dir, "config.json")
    try:
        with open(config_path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError) as error:
        raise NetworkError(f"{config_path}: unreadable run config ({one_line(error)})") \
            from None


def load_model(path, flag="--network", accepts=NETWORK_FORMS):
    """Rebuilds a trained model from a run folder or a checkpoint.

    Reads ``RUN_DIR/config.json`` (the resolved training config), rebuilds the model with
    `build_model` and restores the checkpoint (the latest one for a run
    folder).

    Args:
        path: run folder, ``checkpoints`` folder or checkpoint prefix.
        flag, accepts: as `resolve_network`.

    Returns:
        ``(model, class_names, prefix)``: the ``GAN``; class names by id (None for an
        unconditional model); the checkpoint restored.

    Raises:
        NetworkError: nothing to load, the config / dataset description is unusable, or the
            checkpoint cannot be restored (truncated, damaged, a missing file: the message
            names the file and the readable checkpoints beside it; or it does not match the
            model ``config.json`` describes). Never falls back to an older checkpoint.
    """
    kind = resolve_network(path, flag, accepts)
    if kind[0] != "checkpoint":
        raise NetworkError(f"{flag} {path!r} is a SavedModel, not a training checkpoint.")
    _, prefix, run_dir = kind
    config_path = os.path.join(run_dir, "config.json")
    stored = read_run_config(run_dir)
    try:
        config = from_record(stored, config_path)
    except ConfigError as error:
        raise NetworkError(str(error)) from None
    num_classes = stored.get("num_classes")
    class_names = stored.get("class_names")
    if num_classes is None:
        try:
            info = describe(config.data)
        except (OSError, ValueError) as error:
            raise NetworkError(
                f"{config_path} does not record the classes and its dataset "
                f"{config.data!r} cannot be read to find them: {error}"
            ) from None
        num_classes = info.num_classes if config.conditional else 0
        class_names = list(info.class_names)
    model, step = build_model(config, int(num_classes), tf.distribute.get_strategy())
    failure = _restore(model, step, prefix)
    if failure is not None:
        what = (f"{flag} {path!r} cannot be restored" if os.path.normpath(path) ==
                os.path.normpath(prefix) else f"{flag} {path!r}: its newest checkpoint "
                f"{os.path.basename(prefix)} cannot be restored")
        problem = checkpoint_problem(prefix)
        if problem is None:  # every byte reads back: it is another model's checkpoint
            raise NetworkError(f"{what}: it does not match the model {config_path} describes "
                               f"({failure}).")
        hint = alternatives_hint(os.path.dirname(prefix), bad=prefix, flag=flag)
        raise NetworkError(f"{what}: {problem}{hint}")
    names = tuple(class_names) if num_classes and class_names else None
    model.class_names = names
    return model, names, prefix
