"""Transfer learning: start a run from another model's weights, and FreezeD.

`apply(model, config, run_dir)` is the one call `training` makes after building the model:

* `--transfer_from=SOURCE` copies every variable of the source's generator, discriminator
  and generator EMA (the mapping's `w_avg` and StyleGAN2's `noise_const` buffers included)
  into the new model, matched by its path inside its network (Keras 3 `variable.path`,
  e.g. ``synthesis/b64/conv0/weight``), never by position. SOURCE is a run folder (its
  latest checkpoint), a checkpoint prefix (``RUN/checkpoints/ckpt-12``), a folder written by
  ``scripts/import_nvidia.py`` (which has the same layout) or a ``.npz`` of weights
  (`save_npz`; keys ``generator/...``, ``discriminator/...``, ``generator_ema/...`` plus the
  ``__config__`` JSON). The optimizers start afresh and the step and image counters at 0,
  unless `--transfer_keep_optimizer` (then the Adam moments and iteration counts of the
  source's optimizers are copied too; the run's step still starts at 0).
* A report lists every variable as ``loaded``, ``new`` (not in the source: freshly
  initialised), ``mismatch`` (a different shape: freshly initialised), ``partial`` (the
  source's rows copied into the first rows, the rest fresh) or ``unused`` (in the source
  only). It is printed and written to ``RUN_DIR/transfer_report.json`` and ``.txt``.
* Any architecture difference (resolution, channels, latent sizes, mapping depth,
  conditional or not) is an error naming the first variable that differs, unless one of
  the explicit partial loads allows it:

  - ``--transfer_partial=new_classes``: a conditional fine-tune from an unconditional
    model, or to another number of classes. The label-dependent variables are allowed to
    be new: G's class embedding (``mapping/embed``), the first mapping layer's label rows
    (its z rows are loaded), D's label mapping and its projection output (``b4/out``);
    DCGAN: ``class_embedding``, ``class_projection`` and the label rows of ``project``.
  - ``--transfer_partial=grow`` (StyleGAN2): a higher resolution with the same channel
    schedule. The blocks at the source's resolutions and below, the mapping, ``w_avg`` and
    D's epilogue are loaded; G's new top blocks and D's new top blocks (with their FromRGB)
    are initialised; the source D's FromRGB at its old top resolution is unused.

* `--freeze_d=N` (FreezeD, Mo et al. 2020) keeps the N discriminator blocks nearest the
  image fixed: StyleGAN2's N highest-resolution `DiscriminatorBlock`s (FromRGB, both convs
  and the skip), DCGAN's first N strided convs counted from the input (each with its batch
  norm's gamma and beta). `--freeze_mapping` keeps StyleGAN2's mapping network fixed. Both
  work by leaving the variables out of the optimizer updates (`GAN.g_train_variables`,
  `GAN.d_train_variables`), so frozen weights stay bit-identical while training.
  (stylegan2-ada's ``--freezed`` counts layers, three or four per block; we count blocks.)

Example:
    >>> # python scripts/train.py --flagfile=configs/procedural_finetune.cfg \\
    >>> #     --transfer_from=runs/00000-procedural-pretrain --freeze_d=1

Reference:
    Mo, Cho, Shin, "Freeze the Discriminator: a Simple Baseline for Fine-Tuning GANs",
    CVPR AI for Content Creation Workshop 2020 (https://github.com/sangwoomo/FreezeD).
    Karras et al., "Training Generative Adversarial Networks with Limited Data", 2020.
"""

import dataclasses
import json
import math
import os
import re
import zipfile

import numpy as np

from tfdisgan import checkpoint_files, runs
from tfdisgan.config import ConfigError
from tfdisgan.files import write_atomic
from tfdisgan.models import stylegan2

NETWORKS = ("generator", "discriminator", "generator_ema")
PARTIAL_MODES = ("", "new_classes", "grow")
STATUSES = ("loaded", "partial", "new", "mismatch", "unused")
CONFIG_KEY = "__config__"
# What --transfer_from takes (its error messages list it).
SOURCE_FORMS = ("a run folder (its newest checkpoint), a checkpoint prefix "
                "(RUN/checkpoints/ckpt-N), a folder written by scripts/import_nvidia.py or a "
                ".npz of weights (tfdisgan.transfer.save_npz, scripts/import_nvidia.py "
                "--format=npz)")

# Variables allowed to differ under --transfer_partial=new_classes (relative to the net).
_LABEL_VARIABLES = (
    r"^generator(_ema)?/mapping/embed/",
    r"^generator(_ema)?/mapping/fc0/weight$",
    r"^discriminator/mapping/",
    r"^discriminator/b4/out/",
    r"^generator(_ema)?/class_embedding/",
    r"^generator(_ema)?/project/kernel$",
    r"^discriminator/class_projection/",
)


class TransferError(ConfigError):
    """The source cannot be loaded into the model; the message names the variable (a
    `config.ConfigError`, so scripts/train.py reports it as a flag error)."""


# ------------------------------------------------------------------------------------------
# Variables by name
# ------------------------------------------------------------------------------------------


def _relative_path(net, variable):
    # StyleGAN2's paths start with the network's name ("generator/..."), DCGAN's functional
    # networks name only the layer ("project/kernel"): strip the former.
    path = variable.path
    prefix = f"{net.name}/"
    return path[len(prefix):] if path.startswith(prefix) else path


def named_variables(model):
    """``{"generator/<path>": variable, ...}`` for G, D and G EMA (buffers included).

    Raises:
        TransferError: two variables of one network share a path (cannot match by name).
    """
    named = {}
    for attr in NETWORKS:
        net = getattr(model, attr)
        for variable in net.weights:
            key = f"{attr}/{_relative_path(net, variable)}"
            if key in named:
                raise TransferError(f"Two variables are named {key!r}: cannot match by name.")
            named[key] = variable
    return named


def model_family(model):
    """``"stylegan2"`` or ``"dcgan"`` (the `--model` flag) of a built GAN."""
    return "stylegan2" if isinstance(model, stylegan2.StyleGAN2) else "dcgan"


def describe_model(model):
    """The architecture facts the report and the errors quote."""
    return {"model": model_family(model), "resolution": int(model.resolution),
            "num_classes": int(model.num_classes), "z_dim": int(model.z_dim)}


# ------------------------------------------------------------------------------------------
# Sources
# ------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Source:
    """Weights to transfer: ``{key: ndarray}``, their architecture facts, and optionally
    the source's optimizer states ``{"g_optimizer"|"d_optimizer": {key: [m, v]}, ...}``."""

    path: str
    weights: dict
    info: dict
    optimizers: dict | None = None


def save_npz(model, path, extra=None):
    """Writes the G, D and G EMA weights of `model` to a ``.npz`` `--transfer_from` reads.

    Args:
        model: a built `GAN`.
        path: output file (``.npz``); written atomically.
        extra: dict merged into the ``__config__`` JSON (e.g. where the weights came from).

    Returns:
        `path`.
    """
    arrays = {key: np.asarray(v.numpy()) for key, v in named_variables(model).items()}
    return write_npz(path, arrays, {**describe_model(model), "model_config": model.get_config(),
                                    **(extra or {})})


def write_npz(path, arrays, info):
    """Writes ``{key: array}`` plus the ``__config__`` JSON `info` atomically to `path`."""
    if not str(path).endswith(".npz"):
        raise ValueError(f"The weights file must end in .npz. Received: path={path!r}")
    tmp = f"{path}.tmp.npz"
    payload = dict(arrays)
    payload[CONFIG_KEY] = np.asarray(json.dumps(info, default=str))
    np.savez(tmp, **payload)
    os.replace(tmp, path)
    return path


def _read_npz(path):
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        why = "truncated or damaged?: " if isinstance(error, (EOFError, zipfile.BadZipFile)) \
            else ""
        raise TransferError(f"--transfer_from {path!r}: not a readable .npz "
                            f"({why}{checkpoint_files.one_line(error)})") from None
    if CONFIG_KEY not in arrays:
        raise TransferError(f"--transfer_from {path!r}: no {CONFIG_KEY} entry; write it with "
                            "tfdisgan.transfer.save_npz or scripts/import_nvidia.py.")
    info = json.loads(str(arrays.pop(CONFIG_KEY)))
    bad = [k for k in arrays if k.split("/", 1)[0] not in NETWORKS]
    if bad:
        raise TransferError(f"--transfer_from {path!r}: unknown entry {bad[0]!r} (keys start "
                            f"with one of {NETWORKS}).")
    return Source(path, arrays, info)


def _optimizer_state(optimizer, named):
    """``{key: [slot arrays]}`` of a built Keras optimizer, plus ``__iterations__``."""
    import keras

    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        optimizer = optimizer.inner_optimizer
    by_id = {id(v): k for k, v in named.items()}
    slots = [s for s in ("_momentums", "_velocities") if hasattr(optimizer, s)]
    state = {"__iterations__": [np.asarray(optimizer.iterations.numpy())]}
    for variable in optimizer._trainable_variables:
        key = by_id.get(id(variable))
        if key is None:
            continue
        index = optimizer._get_variable_index(variable)
        state[key] = [np.asarray(getattr(optimizer, s)[index].numpy()) for s in slots]
    return state


def load_source(path, with_optimizers=False):
    """Reads the weights `--transfer_from` names.

    Args:
        path: a run folder, a ``checkpoints`` folder, a checkpoint prefix, an imported
            model's folder (``scripts/import_nvidia.py``) or a ``.npz`` (`save_npz`).
        with_optimizers: also read the optimizer states (checkpoints only).

    Returns:
        `Source`.

    Raises:
        TransferError: nothing loadable at `path`, or optimizer states asked of a ``.npz``.
    """
    path = os.fspath(path)
    if path.endswith(".npz") or (os.path.isdir(path) and os.path.isfile(
            os.path.join(path, "network.npz")) and not os.path.isdir(
            os.path.join(path, "checkpoints"))):
        source = _read_npz(path if path.endswith(".npz") else os.path.join(path, "network.npz"))
        if with_optimizers:
            raise TransferError(f"--transfer_keep_optimizer: {path!r} holds weights only, no "
                                "optimizer state; drop the flag or transfer from a checkpoint.")
        return source
    try:
        model, _, prefix = runs.load_model(path, "--transfer_from", SOURCE_FORMS)
    except runs.NetworkError as error:
        raise TransferError(str(error)) from None
    named = named_variables(model)
    weights = {key: np.asarray(v.numpy()) for key, v in named.items()}
    optimizers = None
    if with_optimizers:
        optimizers = {"g_optimizer": _optimizer_state(model.g_optimizer, named),
                      "d_optimizer": _optimizer_state(model.d_optimizer, named)}
    return Source(prefix, weights, describe_model(model), optimizers)


# ------------------------------------------------------------------------------------------
# Matching
# ------------------------------------------------------------------------------------------


def _block_resolution(key):
    match = re.search(r"/b(\d+)/", key)
    return int(match.group(1)) if match else None


def _allowed(key, status, partial, source_res):
    """Whether a `status` other than loaded is acceptable for `key` under `partial`."""
    if partial == "new_classes":
        return any(re.search(p, key) for p in _LABEL_VARIABLES)
    if partial == "grow":
        res = _block_resolution(key)
        if status == "unused":
            # The source D's FromRGB at its top resolution: the grown D enters it from above.
            return key.startswith("discriminator/") and res == source_res and "/fromrgb/" in key
        return status == "new" and res is not None and source_res is not None and res > source_res
    return False


def plan(model, source, partial=""):
    """Matches the model's variables with the source's by name; loads nothing.

    Returns:
        list of dicts ``{"name", "status", "shape", "source_shape"}`` in the model's order
        (G, D, G EMA), then the source's unused variables.

    Raises:
        TransferError: a difference `partial` does not allow, naming the first variable.
    """
    if partial not in PARTIAL_MODES:
        raise TransferError(f"--transfer_partial must be one of {PARTIAL_MODES}. Received: "
                            f"{partial!r}")
    target = describe_model(model)
    family = source.info.get("model")
    if family and family != target["model"]:
        raise TransferError(f"--transfer_from {source.path!r} is a {family} model, this run "
                            f"trains {target['model']}: the architectures cannot match.")
    source_res = source.info.get("resolution")
    if partial == "grow":
        if target["model"] != "stylegan2":
            raise TransferError("--transfer_partial=grow supports --model=stylegan2 only (the "
                                "DCGAN channel schedule depends on the resolution).")
        if not source_res or source_res >= target["resolution"]:
            raise TransferError(f"--transfer_partial=grow needs a source resolution below "
                                f"{target['resolution']}; the source is {source_res} px.")
    rows = []
    named = named_variables(model)
    for key, variable in named.items():
        shape = tuple(int(d) for d in variable.shape)
        if key not in source.weights:
            rows.append({"name": key, "status": "new", "shape": shape, "source_shape": None})
            continue
        source_shape = tuple(source.weights[key].shape)
        status = "loaded"
        if source_shape != shape:
            status = "mismatch"
            if (partial == "new_classes" and len(shape) == 2 and source_shape[1:] == shape[1:]
                    and source_shape[0] < shape[0]):
                status = "partial"  # the z rows of a [z (+ labels), out] kernel
        rows.append({"name": key, "status": status, "shape": shape,
                     "source_shape": source_shape})
    for key, array in source.weights.items():
        if key not in named:
            rows.append({"name": key, "status": "unused", "shape": None,
                         "source_shape": tuple(array.shape)})
    for row in rows:
        if row["status"] != "loaded" and not _allowed(row["name"], row["status"], partial,
                                                      source_res):
            raise TransferError(_mismatch_message(row, source, target, partial))
    return rows


def _mismatch_message(row, source, target, partial):
    facts = ", ".join(f"{k} {source.info.get(k)} -> {target[k]}" for k in
                      ("resolution", "num_classes", "z_dim") if source.info.get(k) is not None
                      and source.info.get(k) != target[k])
    what = {
        "new": f"is not in the source (shape {row['shape']})",
        "mismatch": f"has shape {row['shape']} here but {row['source_shape']} in the source",
        "partial": f"has shape {row['shape']} here but {row['source_shape']} in the source",
        "unused": f"(shape {row['source_shape']}) exists in the source but not here",
    }[row["status"]]
    hint = ("the architectures must match (resolution, channels, latent sizes, mapping "
            "layers, classes)")
    if source.info.get("num_classes") not in (None, target["num_classes"]):
        hint = "a conditional fine-tune or another number of classes needs " \
               "--transfer_partial=new_classes"
    elif (target["model"] == "stylegan2" and source.info.get("resolution")
          and source.info["resolution"] < target["resolution"]):
        hint = "a higher resolution with the same channels needs --transfer_partial=grow"
    if partial:
        hint = f"--transfer_partial={partial} does not allow this difference"
    return (f"--transfer_from {source.path!r}: architecture mismatch at {row['name']!r}, "
            f"which {what}" + (f" ({facts})" if facts else "") + f"; {hint}.")


def load_weights(model, source, rows):
    """Assigns the planned variables (`plan`'s rows) from `source`."""
    named = named_variables(model)
    for row in rows:
        if row["status"] == "loaded":
            named[row["name"]].assign(source.weights[row["name"]])
        elif row["status"] == "partial":
            variable = named[row["name"]]
            value = np.array(variable.numpy())
            value[: row["source_shape"][0]] = source.weights[row["name"]]
            variable.assign(value)


def _load_optimizer(optimizer, state, named, rows):
    import keras

    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        optimizer = optimizer.inner_optimizer
    loaded = {row["name"] for row in rows if row["status"] == "loaded"}
    slots = [s for s in ("_momentums", "_velocities") if hasattr(optimizer, s)]
    count = 0
    for key, variable in named.items():
        if key not in loaded or key not in state or not variable.trainable:
            continue
        try:
            index = optimizer._get_variable_index(variable)
        except KeyError:
            continue
        for slot, value in zip(slots, state[key], strict=True):
            getattr(optimizer, slot)[index].assign(value)
        count += 1
    optimizer.iterations.assign(int(state["__iterations__"][0]))
    return count


# ------------------------------------------------------------------------------------------
# Freezing
# ------------------------------------------------------------------------------------------


def num_d_blocks(model_name, resolution):
    """How many discriminator blocks `--freeze_d` can count at `resolution`: StyleGAN2's
    blocks above 4x4, DCGAN's strided convs (both ``log2(resolution) - 2``)."""
    del model_name  # the same count for both families
    return int(math.log2(resolution)) - 2


def frozen_d_variables(model, n):
    """The discriminator variables FreezeD keeps fixed: the `n` blocks nearest the image.

    Raises:
        ValueError: `n` is negative or above the number of blocks.
    """
    d = model.discriminator
    if model_family(model) == "stylegan2":
        blocks = d.blocks  # highest resolution first
        if not 0 <= n <= len(blocks):
            raise ValueError(f"freeze_d must be in [0, {len(blocks)}] for this discriminator. "
                             f"Received: freeze_d={n}")
        return [v for block in blocks[:n] for v in block.trainable_weights]
    convs = [layer for layer in d.layers if re.fullmatch(r"down\d+_conv", layer.name)]
    if not 0 <= n <= len(convs):
        raise ValueError(f"freeze_d must be in [0, {len(convs)}] for this discriminator. "
                         f"Received: freeze_d={n}")
    names = set()
    for layer in convs[:n]:
        block = layer.name[: -len("_conv")]
        names.update((f"{block}_conv", f"{block}_bn"))
    return [v for layer in d.layers if layer.name in names for v in layer.trainable_weights]


def frozen_mapping_variables(model):
    """StyleGAN2 G's mapping network variables (the trainable ones).

    Raises:
        ValueError: the model has no mapping network (DCGAN).
    """
    if model_family(model) != "stylegan2":
        raise ValueError("freeze_mapping needs a StyleGAN2 (DCGAN has no mapping network).")
    return list(model.generator.mapping.trainable_weights)


def freeze(model, freeze_d=0, freeze_mapping=False):
    """Leaves FreezeD's discriminator blocks and/or G's mapping out of the optimizer updates.

    Call before the train function is traced (before `fit` / `make_train_function`).

    Args:
        model: a `GAN`.
        freeze_d: int >= 0, blocks nearest the image to freeze (see `frozen_d_variables`).
        freeze_mapping: bool, freeze StyleGAN2's mapping network.

    Returns:
        list of the frozen variables' keys (``discriminator/b32/conv0/weight``, ...).
    """
    frozen = [("discriminator", v) for v in frozen_d_variables(model, freeze_d)] if freeze_d \
        else []
    if freeze_mapping:
        frozen += [("generator", v) for v in frozen_mapping_variables(model)]
    # A frozenset of strings: Keras and tf.train.Checkpoint leave it out of the object graph,
    # so checkpoints have the same layout with and without freezing.
    model.frozen_variables = frozenset(f"{attr}/{v.path}" for attr, v in frozen)
    keys = {id(v): k for k, v in named_variables(model).items()}
    return [keys[id(v)] for _, v in frozen]


# ------------------------------------------------------------------------------------------
# Config and the training hook
# ------------------------------------------------------------------------------------------


def _not_a_source_file(path):
    """A file that is neither a ``.npz`` nor a checkpoint prefix (a pickle, a README, ...)."""
    return (os.path.isfile(path) and not path.endswith(".npz")
            and not os.path.isfile(f"{path}.index"))


def check_config(config):
    """Checks the `--transfer_*` and `--freeze_*` flags of a resolved `TrainConfig`.

    Raises:
        config.ConfigError: naming the flag.
    """
    if config.transfer_partial not in PARTIAL_MODES:
        raise ConfigError(f"--transfer_partial: must be one of new_classes, grow (or empty), "
                          f"got {config.transfer_partial!r}")
    if not config.transfer_from:
        for flag in ("transfer_partial", "transfer_keep_optimizer"):
            if getattr(config, flag):
                raise ConfigError(f"--{flag}: needs --transfer_from")
    elif not os.path.exists(config.transfer_from) and not os.path.isfile(
            f"{config.transfer_from}.index"):
        raise ConfigError(f"--transfer_from: {config.transfer_from!r} does not exist")
    elif _not_a_source_file(config.transfer_from):  # a pickle, a text file: before the run
        raise ConfigError(checkpoint_files.describe_non_network(
            config.transfer_from, "--transfer_from", SOURCE_FORMS))
    if config.transfer_keep_optimizer and config.transfer_partial == "grow":
        raise ConfigError("--transfer_keep_optimizer: not with --transfer_partial=grow (new "
                          "blocks have no optimizer state)")
    limit = num_d_blocks(config.model, config.resolution)
    if not 0 <= config.freeze_d <= limit:
        raise ConfigError(f"--freeze_d: must be in [0, {limit}] (discriminator blocks at "
                          f"{config.resolution} px), got {config.freeze_d}")
    if config.freeze_mapping and config.model != "stylegan2":
        raise ConfigError("--freeze_mapping: applies to --model=stylegan2 only (DCGAN has no "
                          "mapping network)")


def format_report(report):
    """The text version of a transfer report (one line per variable)."""
    lines = [f"Transfer from {report['source']}",
             f"  partial load: {report['partial'] or 'none'}; optimizer state: "
             f"{'kept' if report['keep_optimizer'] else 'reset'}; counters reset",
             "  " + ", ".join(f"{report['counts'][s]} {s}" for s in STATUSES)]
    if report.get("frozen"):
        lines.append(f"  frozen (not updated): {len(report['frozen'])} variables")
    if report.get("error"):
        lines.append(f"  ERROR: {report['error']}")
    width = max([len(r["name"]) for r in report["variables"]] + [8])
    for row in report["variables"]:
        shape = row["shape"] if row["shape"] is not None else "-"
        src = row["source_shape"] if row["source_shape"] is not None else "-"
        frozen = " frozen" if row["name"] in set(report.get("frozen") or ()) else ""
        lines.append(f"  {row['status']:<8s} {row['name']:<{width}s} {shape!s:<20s} "
                     f"source {src}{frozen}")
    return "\n".join(lines) + "\n"


def write_report(run_dir, report):
    """Writes ``transfer_report.json`` and ``.txt`` into ``run_dir``."""
    write_atomic(os.path.join(run_dir, "transfer_report.json"),
                 json.dumps(report, indent=2, default=list))
    write_atomic(os.path.join(run_dir, "transfer_report.txt"), format_report(report))


def transfer(model, source_path, partial="", keep_optimizer=False, run_dir=None,
             verbose=True, frozen=()):
    """Loads `source_path` into `model` and reports every variable.

    Args:
        model: a built, compiled `GAN`.
        source_path: see `load_source`.
        partial: "" | "new_classes" | "grow" (see the module docstring).
        keep_optimizer: also copy the source's optimizer moments and iteration counts.
        run_dir: folder for ``transfer_report.json`` / ``.txt`` (None: not written).
        verbose: print the report.
        frozen: keys of frozen variables, marked in the report.

    Returns:
        The report dict (``source``, ``partial``, ``keep_optimizer``, ``counts``,
        ``variables``, ``frozen``).

    Raises:
        TransferError: the source cannot be read or does not match (the report, with the
            error, is still written to `run_dir`).
    """
    source = load_source(source_path, with_optimizers=keep_optimizer)
    report = {"source": source.path, "source_info": source.info, "partial": partial,
              "keep_optimizer": bool(keep_optimizer), "frozen": list(frozen),
              "counts": dict.fromkeys(STATUSES, 0), "variables": []}
    try:
        rows = plan(model, source, partial)
    except TransferError as error:
        report["error"] = str(error)
        if run_dir:
            write_report(run_dir, report)
        raise
    load_weights(model, source, rows)
    if keep_optimizer:
        named = named_variables(model)
        report["optimizer_variables_loaded"] = sum(
            _load_optimizer(getattr(model, name), source.optimizers[name], named, rows)
            for name in ("g_optimizer", "d_optimizer"))
    report["variables"] = [{**r, "shape": r["shape"] and list(r["shape"]),
                            "source_shape": r["source_shape"] and list(r["source_shape"])}
                           for r in rows]
    for row in rows:
        report["counts"][row["status"]] += 1
    if run_dir:
        write_report(run_dir, report)
    if verbose:
        print(format_report(report), end="")
    return report


def apply(model, config, run_dir, resuming=False, verbose=True):
    """The training hook: freezing always, the transfer for a new run.

    Args:
        model: the model `runs.build_model` returned.
        config: the resolved `TrainConfig`.
        run_dir: where the report goes.
        resuming: a checkpoint is about to be restored (it already holds the weights).
        verbose: print the report.

    Returns:
        The transfer report, or None when nothing was transferred.
    """
    frozen = freeze(model, config.freeze_d, config.freeze_mapping)
    if not config.transfer_from or resuming:
        return None
    return transfer(model, config.transfer_from, config.transfer_partial,
                    config.transfer_keep_optimizer, run_dir=run_dir, verbose=verbose,
                    frozen=frozen)
