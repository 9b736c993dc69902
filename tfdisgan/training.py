"""The training run behind scripts/train.py: run folder, checkpoints, exact resume, logging.

`TrainConfig` holds every setting of a run with its default; `run(config)` validates it
(errors name the flag), creates or resumes the run folder, builds the model in the
distribution strategy's scope and trains with Keras' own compiled train function, driving
the callbacks of `tfdisgan.callbacks` like `fit` does.

Resume is exact: the checkpoint holds G, D, G_ema, both optimizers, the step, the image
count and every random-number state; the input order is a pure function of (seed, step)
(`load_dataset(start_step=...)`), so a run stopped at step k and resumed reaches the same
weights as an uninterrupted one.

Run folder::

    RUN_DIR/flags.txt        the fully resolved flags (--name=value, usable as --flagfile)
    RUN_DIR/config.json      the same as JSON, compared on resume
    RUN_DIR/log.jsonl        one line per tick
    RUN_DIR/fakesNNNNNN.png  sample grids at fixed seeds
    RUN_DIR/checkpoints/     tf.train.CheckpointManager (keep last N)
    RUN_DIR/checkpoints/best/  the best by --best_metric, if set
    RUN_DIR/metric-NAME.jsonl  one line per evaluation of --metrics (tfdisgan.metrics)
    RUN_DIR/tensorboard/     scalars and sample grids
"""

import dataclasses
import json
import math
import os
import re
import signal
import sys
import threading
import time

import keras
import numpy as np
import tensorflow as tf

from tfdisgan import callbacks as cb
from tfdisgan import distribute, runs
from tfdisgan.augment import get_augment
from tfdisgan.data import describe, load_dataset
from tfdisgan.precision import global_policy, half_dtype, loss_scaled, resolve_precision

MODELS = ("dcgan", "stylegan2")
DCGAN_DEFAULTS = dict(batch=32, g_lr=2e-4, d_lr=2e-4, beta1=0.5, beta2=0.999, r1_gamma=0.0,
                      r1_interval=1, ema_kimg=10.0, ema_rampup=0.05, z_dim=100)
_STYLEGAN2_ONLY = ("w_dim", "channel_base", "channel_max", "mapping_layers", "mbstd_group",
                   "style_mixing", "pl_weight", "pl_interval", "num_fp16_res")
AUGMENTS = ("none", "diffaugment", "classic", "ada", "diffaugment+ada")
# Settings that define the networks or the data stream: a resume must not change them.
_FIXED_ON_RESUME = (
    "model", "cfg", "data", "resolution", "classes", "conditional", "batch", "z_dim",
    "base_channels", "max_channels", "w_dim", "channel_base", "channel_max", "mapping_layers",
    "augment", "diffaugment", "mirror", "seed", "aug_p",
)
# Not fixed: --strategy, --devices (a run resumes with another number of replicas) and
# --mbstd_group (groups are per replica; the preset's value follows the per-replica batch).


class ConfigError(ValueError):
    """A bad, missing or contradictory setting; the message names the flag (`--name`)."""


@dataclasses.dataclass
class TrainConfig:
    """Every setting of a training run; field names are the flag names of scripts/train.py.

    Attributes:
        data: dataset spec: folder of shards, folder of images or "procedural:N".
        outdir: parent folder of run folders.
        model: "dcgan" | "stylegan2".
        cfg: StyleGAN2 preset (stylegan2-ada's --cfg): "auto" | "stylegan2" | "paper256" |
            "paper512" | "paper1024" | "cpu_tiny"; fills every StyleGAN2 setting left None.
            None: "auto" for StyleGAN2; an error with DCGAN, which has no presets.
        resolution: image side; must match a shard dataset's (None: take the dataset's).
        classes: class names or ids to train on (empty: all).
        conditional: condition G and D on the class labels.
        batch: global batch size.
        (Settings left None take the model's defaults: DCGAN's paper values, or the
        StyleGAN2 preset `cfg`; `validate` returns the config with all of them filled.)
        kimg: length in thousands of real images (or use `steps`).
        steps: length in train steps (or use `kimg`).
        g_lr, d_lr, beta1, beta2: Adam settings (DCGAN paper: 2e-4, 0.5, 0.999).
        augment: "none" | "diffaugment" | "classic" | "ada" | "diffaugment+ada" (ADA's
            `bgc` pipeline followed by DiffAugment with the `diffaugment` policy).
        diffaugment: DiffAugment policy, e.g. "color,translation,cutout".
        ada_target: ADA's target for r_t = E[sign(D(reals))] (stylegan2-ada 0.6).
        ada_kimg: ADA adjustment speed: kimg for p to move by 1 (stylegan2-ada 500).
        aug_p: fixed ADA probability in [0, 1], no adaptation (None: adapt from 0).
        mirror: random x-flips of the reals in the input pipeline.
        r1_gamma, r1_interval: R1 weight (0: off) and lazy interval.
        ema_kimg, ema_rampup: generator EMA half-life and ramp-up ratio (0: no ramp-up).
        z_dim: latent size.
        base_channels, max_channels: DCGAN width.
        w_dim, channel_base, channel_max, mapping_layers, mbstd_group: StyleGAN2 size.
        style_mixing: StyleGAN2 style-mixing probability.
        pl_weight, pl_interval: StyleGAN2 path-length weight (0: off) and lazy interval.
        precision: "float32" | "mixed_float16" | "mixed_bfloat16" | "auto"
            (`tfdisgan.precision`): StyleGAN2 runs its top `num_fp16_res` resolutions in
            the half dtype as the official code, DCGAN its whole networks; "auto" picks
            float16 on GPUs, bfloat16 on TPUs and CPUs with AVX512_BF16/AMX, else float32.
        num_fp16_res: StyleGAN2 resolutions in the half dtype (default 4 when mixed, as
            official train.py; 0 with float32).
        xla: compile the train step with XLA (`jit_compile`). Off by default: on CPUs the
            StyleGAN2 step takes over 10 minutes to compile.
        seed: seed of weights, data order, latents and augmentation.
        tick_kimg: kimg between log lines.
        snapshot_ticks: ticks between sample grids and checkpoints.
        keep_checkpoints: checkpoints kept (latest N).
        best_metric: log key whose lowest value's checkpoint is kept in checkpoints/best
            (e.g. a metric's key such as "fid2k_full", "swd", "kid50k_full").
        metrics: quality metrics computed during training (`tfdisgan.metrics`:
            fid50k_full, kid50k_full, pr50k3_full, swd, msssim or the aliases fid, kid, pr);
            their values go to log.jsonl, TensorBoard and RUN_DIR/metric-<name>.jsonl.
        metrics_kimg: kimg between evaluations, rounded to whole ticks (None: every
            snapshot, as stylegan2-ada).
        metrics_num_gen: fakes per evaluation (None: the standard counts, e.g. 50k); a
            non-standard count renames the metric (fid2k_full).
        feature_net: "inception" (the standard FID network) | "keras_inceptionv3"
            (labelled not comparable with published FID).
        inception: path of the Inception weights (inception-2015-12-05.tgz or its
            classify_image_graph_def.pb); "" looks in the Keras cache.
        grid_seeds: number of images in the sample grid.
        resume: "" (new run), "auto" (latest run of the same name in outdir) or a run folder.
        run_name: run folder suffix (default from data, model, resolution and augment).
        strategy: "default" | "mirrored" | "multiworker" | "tpu" (`tfdisgan.distribute`);
            the global `batch` is split over its replicas.
        devices: device names for "mirrored" (default all local GPUs), the one device of
            "default", or the TPU name for "tpu".
        showcase: at the end, write RUN_DIR/showcase/ (sample grid, latent-walk GIF,
            style-mixing grid or, for DCGAN, an interpolation grid) and the SavedModel
            RUN_DIR/export/NAME/1 (`tfdisgan.export.showcase`), and print their paths.
        transfer_from: start from another model's weights (`tfdisgan.transfer`): a run
            folder, a checkpoint, a scripts/import_nvidia.py folder or a .npz ("": none).
        transfer_partial: "" (the architectures must match) | "new_classes" | "grow".
        transfer_keep_optimizer: also copy the source's optimizer state.
        freeze_d: FreezeD, discriminator blocks nearest the image left untrained (0: none).
        freeze_mapping: leave StyleGAN2's mapping network untrained.
        cross_mix: "CLASS_A:CLASS_B@LO-HI" (conditional StyleGAN2): a share of the G step's
            fakes take class B's styles at LO-HI px and class A's elsewhere, judged as B
            (`tfdisgan.mixing.CrossMixTraining`); "": off.
        cross_mix_prob: the share of fakes mixed by `cross_mix`.
    """

    data: str = "procedural:2000"
    outdir: str = "runs"
    model: str = "dcgan"
    cfg: str | None = None
    resolution: int | None = None
    classes: tuple = ()
    conditional: bool = False
    batch: int | None = None
    kimg: float | None = None
    steps: int | None = None
    g_lr: float | None = None
    d_lr: float | None = None
    beta1: float | None = None
    beta2: float | None = None
    augment: str = "diffaugment"
    diffaugment: str = "color,translation,cutout"
    ada_target: float = 0.6
    ada_kimg: float = 500.0
    aug_p: float | None = None
    mirror: bool = False
    r1_gamma: float | None = None
    r1_interval: int | None = None
    ema_kimg: float | None = None
    ema_rampup: float | None = None
    z_dim: int | None = None
    base_channels: int = 64
    max_channels: int = 512
    w_dim: int | None = None
    channel_base: int | None = None
    channel_max: int | None = None
    mapping_layers: int | None = None
    mbstd_group: int | None = None
    style_mixing: float | None = None
    pl_weight: float | None = None
    pl_interval: int | None = None
    precision: str = "float32"
    num_fp16_res: int | None = None
    xla: bool = False
    seed: int = 0
    tick_kimg: float = 4.0
    snapshot_ticks: int = 10
    keep_checkpoints: int = 3
    best_metric: str = ""
    metrics: tuple = ()
    metrics_kimg: float | None = None
    metrics_num_gen: int | None = None
    feature_net: str = "inception"
    inception: str = ""
    grid_seeds: int = 32
    resume: str = ""
    run_name: str = ""
    strategy: str = "default"
    devices: tuple = ()
    showcase: bool = True
    transfer_from: str = ""
    transfer_partial: str = ""
    transfer_keep_optimizer: bool = False
    freeze_d: int = 0
    freeze_mapping: bool = False
    cross_mix: str = ""
    cross_mix_prob: float = 0.5

    def to_flags(self):
        """The config as flagfile lines (`--name=value`), None fields left out."""
        lines = []
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value is None:
                continue
            if isinstance(value, bool):
                lines.append(f"--{field.name}" if value else f"--no{field.name}")
            elif isinstance(value, (list, tuple)):
                lines.append(f"--{field.name}={','.join(str(v) for v in value)}")
            else:
                lines.append(f"--{field.name}={value}")
        return "\n".join(lines) + "\n"


def _check(condition, flag, message):
    if not condition:
        raise ConfigError(f"--{flag}: {message}")


def _fill_defaults(config, resolution, num_replicas):
    """Fills the settings left None from DCGAN's defaults or the StyleGAN2 preset."""
    if config.model == "dcgan":
        _check(config.cfg is None, "cfg", f"{config.cfg!r} is a StyleGAN2 preset; --model=dcgan "
               "has none (drop --cfg or use --model=stylegan2)")
        for flag in _STYLEGAN2_ONLY:
            _check(getattr(config, flag) is None, flag, "applies to --model=stylegan2 only")
        defaults = DCGAN_DEFAULTS
    else:
        from tfdisgan.models import stylegan2

        if config.cfg is None:
            config = dataclasses.replace(config, cfg="auto")
        _check(config.cfg in stylegan2.PRESETS, "cfg",
               f"must be one of {tuple(stylegan2.PRESETS)}, got {config.cfg!r}")
        try:
            preset = stylegan2.resolve_preset(config.cfg, resolution, config.batch,
                                              num_replicas)
        except ValueError as error:
            raise ConfigError(f"--batch: {error}") from None
        defaults = dict(
            batch=preset["batch"], g_lr=preset["lrate"], d_lr=preset["lrate"],
            beta1=preset["betas"][0], beta2=preset["betas"][1], r1_gamma=preset["r1_gamma"],
            r1_interval=preset["r1_interval"], ema_kimg=preset["ema_kimg"],
            ema_rampup=preset["ema_rampup"] or 0.0, z_dim=preset["z_dim"],
            w_dim=preset["w_dim"], channel_base=preset["channel_base"],
            channel_max=preset["channel_max"], mapping_layers=preset["mapping_layers"],
            mbstd_group=preset["mbstd_group_size"], style_mixing=0.9,
            pl_weight=preset["pl_weight"], pl_interval=preset["pl_interval"],
        )
    filled = {k: v for k, v in defaults.items() if getattr(config, k) is None}
    return dataclasses.replace(config, resolution=resolution, **filled)


def validate(config, info, num_replicas=1):
    """Checks a config against itself and the dataset before anything is built.

    Returns:
        `(resolved_config, class_ids, num_classes)`: the config with the resolution and
        every model default filled in (what flags.txt records).

    Raises:
        ConfigError: naming the first bad flag.
    """
    _check(config.model in MODELS, "model", f"must be one of {MODELS}, got {config.model!r}")
    _check(config.strategy in distribute.STRATEGIES, "strategy",
           f"must be one of {distribute.STRATEGIES}, got {config.strategy!r}")
    _check(config.augment in AUGMENTS, "augment",
           f"must be one of {AUGMENTS}, got {config.augment!r}")
    _check((config.kimg is None) != (config.steps is None), "kimg",
           "give exactly one of --kimg and --steps")
    if config.kimg is not None:
        _check(config.kimg > 0, "kimg", f"must be > 0, got {config.kimg}")
    if config.steps is not None:
        _check(config.steps > 0, "steps", f"must be > 0, got {config.steps}")
    if config.batch is not None:
        _check(config.batch >= 1, "batch", f"must be >= 1, got {config.batch}")
    resolution = config.resolution
    if info.resolution is not None:
        _check(resolution in (None, info.resolution), "resolution",
               f"{resolution} does not match the dataset {info.spec!r}, which stores "
               f"{info.resolution} px images")
        resolution = info.resolution
    _check(resolution is not None, "resolution", f"required for the {info.kind} spec "
           f"{info.spec!r}")
    _check(resolution >= 16 and resolution & (resolution - 1) == 0, "resolution",
           f"must be a power of two >= 16, got {resolution}")
    config = _fill_defaults(config, resolution, num_replicas)
    try:
        precision = resolve_precision(config.precision,
                                      "TPU" if config.strategy == "tpu" else None)
    except ValueError as error:
        raise ConfigError(f"--precision: {error}") from None
    config = dataclasses.replace(config, precision=precision)
    if config.model == "stylegan2":
        if config.num_fp16_res is None:
            config = dataclasses.replace(config, num_fp16_res=0 if precision == "float32" else 4)
        _check(config.num_fp16_res >= 0, "num_fp16_res",
               f"must be >= 0, got {config.num_fp16_res}")
        _check(precision != "float32" or config.num_fp16_res == 0, "num_fp16_res",
               f"{config.num_fp16_res} needs a mixed --precision; --precision=float32 runs "
               "every block in float32")
    _check(config.batch % num_replicas == 0, "batch",
           f"{config.batch} is not divisible by the {num_replicas} replicas")
    if config.mbstd_group is not None:
        per_replica = config.batch // num_replicas
        group = min(config.mbstd_group, per_replica)
        _check(per_replica % group == 0, "mbstd_group",
               f"the per-replica batch {per_replica} (--batch={config.batch} over "
               f"{num_replicas} replicas) is not divisible by the group {group}")
    for flag in ("g_lr", "d_lr", "tick_kimg", "z_dim"):
        _check(getattr(config, flag) > 0, flag, f"must be > 0, got {getattr(config, flag)}")
    for flag in ("beta1", "beta2"):
        _check(0 <= getattr(config, flag) < 1, flag, f"must be in [0, 1), got "
               f"{getattr(config, flag)}")
    for flag in ("ema_kimg", "ema_rampup", "r1_gamma", "pl_weight"):
        value = getattr(config, flag)
        _check(value is None or value >= 0, flag, f"must be >= 0, got {value}")
    for flag in ("r1_interval", "pl_interval", "snapshot_ticks", "keep_checkpoints",
                 "grid_seeds", "mapping_layers", "mbstd_group"):
        value = getattr(config, flag)
        _check(value is None or value >= 1, flag, f"must be >= 1, got {value}")
    if config.style_mixing is not None:
        _check(0 <= config.style_mixing <= 1, "style_mixing",
               f"must be in [0, 1], got {config.style_mixing}")
    if config.augment in ("diffaugment", "diffaugment+ada"):
        try:
            get_augment("diffaugment", policy=config.diffaugment)
        except ValueError as error:
            raise ConfigError(f"--diffaugment: {error}") from None
    if config.augment in ("ada", "diffaugment+ada"):
        _check(0 <= config.ada_target <= 1, "ada_target",
               f"must be in [0, 1], got {config.ada_target}")
        _check(config.ada_kimg > 0, "ada_kimg", f"must be > 0, got {config.ada_kimg}")
        _check(config.aug_p is None or 0 <= config.aug_p <= 1, "aug_p",
               f"must be in [0, 1], got {config.aug_p}")
        # ADA pads by the transformed corners as stylegan2-ada: data-dependent shapes.
        _check(not config.xla, "xla", f"cannot compile --augment={config.augment} (its "
               "padding depends on the sampled transforms); drop --xla")
        _check(config.strategy != "tpu", "strategy", f"tpu cannot run --augment="
               f"{config.augment} (data-dependent shapes)")
    else:
        _check(config.aug_p is None, "aug_p", "applies to --augment=ada or diffaugment+ada "
               f"only, got --augment={config.augment}")
    if config.metrics:
        from tfdisgan.metrics import core as metrics_core
        from tfdisgan.metrics import features as metrics_features

        try:
            names = metrics_core.resolve_metrics(config.metrics)
        except ValueError as error:
            raise ConfigError(f"--metrics: {error}") from None
        _check(config.feature_net in metrics_features.FEATURE_NETS, "feature_net",
               f"must be one of {metrics_features.FEATURE_NETS}, got {config.feature_net!r}")
        if any(metrics_core.METRICS[n].uses_features for n in names):
            # Missing weights fail before the run starts, not at the first evaluation.
            try:
                metrics_features.check_available(config.feature_net, config.inception or None)
            except metrics_features.InceptionNotFoundError as error:
                raise ConfigError(f"--inception: {error}") from None
        _check(config.metrics_kimg is None or config.metrics_kimg > 0, "metrics_kimg",
               f"must be > 0, got {config.metrics_kimg}")
        _check(config.metrics_num_gen is None or config.metrics_num_gen >= 2,
               "metrics_num_gen", f"must be >= 2, got {config.metrics_num_gen}")
    class_ids = []
    for name in config.classes:
        try:
            class_ids.append(info.class_id(name))
        except ValueError as error:
            raise ConfigError(f"--classes: {error}") from None
    num_classes = info.num_classes if config.conditional else 0
    _check(not config.conditional or num_classes >= 2, "conditional",
           f"needs a dataset with >= 2 classes; {info.spec!r} has {info.num_classes}")
    from tfdisgan import transfer  # --transfer_*, --freeze_*

    transfer.check_config(config)
    from tfdisgan import mixing  # --cross_mix, --cross_mix_prob

    mixing.cross_mix_from_config(config, num_classes, info.class_names, class_ids)
    return config, tuple(class_ids), num_classes


def _default_run_name(config, resolution):
    data = config.data.rstrip("/").split("/")[-1].replace(":", "")
    data = re.sub(r"[^\w.-]+", "_", data) or "data"
    return f"{data}-{config.model}{resolution}-{config.augment}"


def _next_run_dir(outdir, name):
    ids = [
        int(entry.split("-", 1)[0]) for entry in (os.listdir(outdir) if os.path.isdir(outdir)
                                                  else [])
        if re.match(r"^\d{5}-", entry)
    ]
    return os.path.join(outdir, f"{max(ids, default=-1) + 1:05d}-{name}")


def find_resume_dir(config, name):
    """The run folder to resume: the given one, or for "auto" the newest `NNNNN-name` in
    outdir that holds a checkpoint (None if none: "auto" then starts a new run)."""
    if config.resume != "auto":
        path = config.resume
        _check(os.path.isdir(path), "resume", f"run folder {path!r} does not exist")
        _check(tf.train.latest_checkpoint(os.path.join(path, "checkpoints")) is not None,
               "resume", f"{path!r} holds no checkpoint")
        return path
    if not os.path.isdir(config.outdir):
        return None
    candidates = sorted(
        entry for entry in os.listdir(config.outdir)
        if re.match(rf"^\d{{5}}-{re.escape(name)}$", entry)
    )
    for entry in reversed(candidates):
        path = os.path.join(config.outdir, entry)
        if tf.train.latest_checkpoint(os.path.join(path, "checkpoints")):
            return path
    return None


def _write_atomic(path, text):
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def _compare_on_resume(config, run_dir):
    with open(os.path.join(run_dir, "config.json"), encoding="utf-8") as handle:
        stored = json.load(handle)
    if config.model == "dcgan" and stored.get("cfg") == "auto":
        stored["cfg"] = None  # runs written before --cfg became StyleGAN2-only
    for key in _FIXED_ON_RESUME:
        old, new = stored.get(key), getattr(config, key)
        if isinstance(new, tuple):
            new = list(new)
        _check(old == new, key, f"is {new!r} but the run being resumed ({run_dir}) used "
               f"{old!r}; resume with the same value or start a new run")


def _truncate_log(path, step):
    """Drops log lines written after the checkpoint being resumed (they will be redone)."""
    if not os.path.exists(path):
        return
    with open(path, encoding="utf-8") as handle:
        lines = [line for line in handle if line.strip()]
    kept = [line for line in lines if json.loads(line).get("step", 0) <= step]
    _write_atomic(path, "".join(kept))


def build_model(config, num_classes, strategy):
    """Builds and compiles the model, optimizers and augmentation inside `strategy.scope()`.

    `config` must be resolved (`validate`). StyleGAN2 gets `lazy_adam` optimizers: the
    learning rate and betas adjusted for its lazy R1 / path-length intervals as in
    training_loop.py (whatever the weights). With `--precision=mixed_float16` DCGAN's
    optimizers are wrapped in a dynamic `LossScaleOptimizer`; StyleGAN2's are not (the
    official code applies `nan_to_num` to the gradients and always steps).
    """
    from tfdisgan.models import dcgan, stylegan2

    # Initial weights are a function of the seed too (Keras initialisers draw from it).
    keras.utils.set_random_seed(config.seed)
    betas = (config.beta1, config.beta2)
    with strategy.scope():
        augment = get_augment(config.augment, policy=config.diffaugment, seed=config.seed + 1,
                              ada_target=config.ada_target, ada_kimg=config.ada_kimg,
                              aug_p=config.aug_p)
        if config.model == "dcgan":
            # DCGAN's layers take the global policy (its tanh and logits stay float32).
            with global_policy(config.precision):
                model = dcgan.DCGAN(
                    resolution=config.resolution, z_dim=config.z_dim,
                    base_channels=config.base_channels, max_channels=config.max_channels,
                    num_classes=num_classes, ema_kimg=config.ema_kimg,
                    ema_rampup=config.ema_rampup or None, seed=config.seed,
                )
            g_opt = keras.optimizers.Adam(config.g_lr, beta_1=betas[0], beta_2=betas[1],
                                          epsilon=1e-8)
            d_opt = keras.optimizers.Adam(config.d_lr, beta_1=betas[0], beta_2=betas[1],
                                          epsilon=1e-8)
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


def _checkpointed_optimizer(optimizer):
    # The inner optimizer of a LossScaleOptimizer: the checkpoint then has the same layout
    # in every precision, so a run can resume in another one (the loss scale restarts).
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return optimizer.inner_optimizer
    return optimizer


def make_checkpoint(model, step):
    """The `tf.train.Checkpoint` of everything a resume needs."""
    return tf.train.Checkpoint(
        model=model, g_optimizer=_checkpointed_optimizer(model.g_optimizer),
        d_optimizer=_checkpointed_optimizer(model.d_optimizer), step=step,
    )


def make_strategy(config):
    """The `tf.distribute` strategy named by `config.strategy` / `config.devices`.

    Raises:
        ConfigError: naming --strategy, --devices or TF_CONFIG.
    """
    try:
        return distribute.make_strategy(config.strategy, config.devices)
    except distribute.StrategyError as error:
        raise ConfigError(str(error)) from None


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
    name = config.run_name or _default_run_name(config, resolution)
    run_dir = find_resume_dir(config, name) if config.resume else None
    resuming = run_dir is not None
    if resuming:
        _compare_on_resume(config, run_dir)
    else:
        # On a non-chief worker this name may be ahead of the chief's; it is never created.
        run_dir = _next_run_dir(config.outdir, name)
    _train(config, strategy, run_dir, resuming, class_ids, num_classes, verbose, chief)
    return run_dir


def restore_readable(checkpoint, checkpoint_dir):
    """Restores the newest checkpoint of `checkpoint_dir` that reads back whole.

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
    failures = []
    for path in reversed(paths):
        try:
            checkpoint.restore(path).assert_existing_objects_matched()
            return path
        except (*runs.CHECKPOINT_ERRORS, AssertionError) as error:  # AssertionError: matching
            reason = str(error).strip().splitlines()[0][:200] if str(error).strip() else (
                type(error).__name__)
            failures.append(path)
            print(f"WARNING: checkpoint {path} (.index / .data files) is unreadable "
                  f"({reason}); trying an older one", file=sys.stderr)
    raise ConfigError(f"--resume: no readable checkpoint in {checkpoint_dir} (tried "
                      f"{', '.join(failures) or 'none'})")


def _train(config, strategy, run_dir, resuming, class_ids, num_classes, verbose, chief):
    """The body of `run`. The run folder appears only once the model is built, a resume
    restored and the data opened: a bad dataset leaves nothing behind."""
    resolution = config.resolution
    model, step = build_model(config, num_classes, strategy)
    checkpoint = make_checkpoint(model, step)
    resume_from = None
    if resuming:
        # The checkpoint holds the optimizers' learning-rate variables too; the resumed run
        # takes --g_lr/--d_lr as given now (the advice after a divergence is to lower them).
        optimizers = [_checkpointed_optimizer(model.g_optimizer),
                      _checkpointed_optimizer(model.d_optimizer)]
        rates = [float(np.asarray(opt.learning_rate)) for opt in optimizers]
        # Variables are stored once whatever the replica count: a checkpoint written with N
        # replicas restores into M (the data order and latents follow the global batch).
        resume_from = restore_readable(checkpoint, os.path.join(run_dir, "checkpoints"))
        for opt, rate in zip(optimizers, rates, strict=True):
            opt.learning_rate.assign(rate)
        if verbose:
            print(f"Resumed {resume_from} at step {int(step.numpy())}")
    start = int(step.numpy())

    def dataset_fn(context):
        return load_dataset(config.data, config.batch, resolution, classes=class_ids or None,
                            mirror=config.mirror, seed=config.seed, start_step=start,
                            input_context=context)

    dataset = strategy.distribute_datasets_from_function(dataset_fn)
    iterator = iter(dataset)
    from tfdisgan import transfer  # --transfer_from (new runs only), --freeze_d/_mapping

    # Before the folder exists too: a source that does not load leaves nothing behind.
    report = transfer.apply(model, config, None, resuming=resuming, verbose=verbose)
    out_dir = distribute.worker_dir(run_dir, strategy)  # creates the run folder (chief)
    try:
        if report is not None:
            transfer.write_report(out_dir, report)
        _train_in(config, strategy, run_dir, out_dir, model, step, checkpoint, resume_from,
                  iterator, class_ids, num_classes, verbose, chief)
    finally:
        distribute.cleanup_worker_dir(out_dir, run_dir)


def _train_in(config, strategy, run_dir, out_dir, model, step, checkpoint, resume_from,
              iterator, class_ids, num_classes, verbose, chief):
    """Writes the run folder `out_dir` (the run folder on the chief) and trains."""
    resolution = config.resolution
    _write_atomic(os.path.join(out_dir, "flags.txt"), config.to_flags())
    config_dict = dataclasses.asdict(config)
    config_dict["classes"] = list(config.classes)
    # What `tfdisgan.export.load_network` needs to rebuild G without the dataset at hand.
    config_dict["num_classes"] = num_classes
    config_dict["class_names"] = list(describe(config.data).class_names) if num_classes else []
    _write_atomic(os.path.join(out_dir, "config.json"), json.dumps(config_dict, indent=2,
                                                                   ensure_ascii=False))
    if config.cross_mix:  # before the train function is traced
        from tfdisgan import mixing

        model.cross_mix = mixing.cross_mix_from_config(config, num_classes,
                                                       config_dict["class_names"], class_ids)
    manager = tf.train.CheckpointManager(
        checkpoint, os.path.join(out_dir, "checkpoints"), max_to_keep=config.keep_checkpoints
    )
    start = int(step.numpy())
    _truncate_log(os.path.join(out_dir, "log.jsonl"), start)
    for name in sorted(os.listdir(out_dir)):  # evaluations after the checkpoint are redone
        if name.startswith("metric-") and name.endswith(".jsonl"):
            _truncate_log(os.path.join(out_dir, name), start)

    total = config.steps or int(math.ceil(config.kimg * 1000 / config.batch))
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
            inception=config.inception or None, resolution=resolution,
            classes=class_ids or None, step_offset=start))
    callbacks = [
        cb.NaNGuard(step_offset=start),
        *metric_callbacks,
        cb.CheckpointSaver(manager, step, snapshot_steps, best, config.best_metric),
        cb.JsonlLogger(os.path.join(out_dir, "log.jsonl"), tick_steps, config.batch,
                       writer, step_offset=start),
    ]
    if chief:  # sampling is local work: the other workers skip it
        callbacks.append(cb.SnapshotGrid(out_dir, snapshot_steps, seeds=range(config.grid_seeds),
                                         writer=writer, step_offset=start))
    callback_list = keras.callbacks.CallbackList(callbacks, model=model)
    saver = next(c for c in callback_list.callbacks if isinstance(c, cb.CheckpointSaver))
    model.make_train_function()
    train_function = model.train_function
    progress = keras.utils.Progbar(total, stateful_metrics=["img/s"], verbose=int(verbose))
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
            if isinstance(outputs, tf.experimental.Optional):
                outputs = outputs.get_value()
            logs = {key: float(np.asarray(value).reshape(-1)[0]) for key, value in
                    outputs.items()}
            callback_list.on_train_batch_end(current, logs)
            rate = (current + 1 - start) * config.batch / (time.perf_counter() - started)
            progress.update(current + 1, [("d_loss", logs.get("d_loss", 0.0)),
                                          ("g_loss", logs.get("g_loss", 0.0)), ("img/s", rate)])
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
        from tfdisgan.export import showcase

        # Multi-worker and TPU variables are read through their strategy, and saving them
        # may need every worker: the chief reloads the final checkpoint into a plain model.
        remote = isinstance(strategy, (tf.distribute.MultiWorkerMirroredStrategy,
                                       tf.distribute.TPUStrategy))
        showcase(out_dir, None if remote else model,
                 class_names=config_dict["class_names"] or None, verbose=verbose)
