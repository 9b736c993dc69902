"""`TrainConfig`: every setting of a training run, its defaults and its record.

The field names are the flags of scripts/train.py. `fill_defaults` fills the settings left
None from DCGAN's paper values or the StyleGAN2 preset (`--cfg`); `from_record` rebuilds a
config from a run folder's config.json, `to_record` writes one. TensorFlow-free.
Validation against a dataset and the other modules' flags is `tfdisgan.training.validate`.
"""

import dataclasses

MODELS = ("dcgan", "stylegan2")
DCGAN_DEFAULTS = dict(batch=32, g_lr=2e-4, d_lr=2e-4, beta1=0.5, beta2=0.999, r1_gamma=0.0,
                      r1_interval=1, ema_kimg=10.0, ema_rampup=0.05, z_dim=100)
STYLEGAN2_ONLY = ("w_dim", "channel_base", "channel_max", "mapping_layers", "mbstd_group",
                   "style_mixing", "pl_weight", "pl_interval", "num_fp16_res")
AUGMENTS = ("none", "diffaugment", "classic", "ada", "diffaugment+ada", "rot90")
# Settings that define the networks or the data stream: a resume must not change them.
FIXED_ON_RESUME = (
    "model", "cfg", "data", "resolution", "classes", "conditional", "batch", "z_dim",
    "base_channels", "max_channels", "w_dim", "channel_base", "channel_max", "mapping_layers",
    "augment", "diffaugment", "mirror", "seed", "aug_p", "ada_pipeline",
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
        augment: "none" | "diffaugment" | "classic" | "ada" | "diffaugment+ada" (DiffAugment
            with the `diffaugment` policy, then ADA's `bgc` pipeline, as the DiffAugment
            fork of stylegan2-ada-pytorch combines them) | "rot90" (quarter turns of the
            reals only at probability `aug_p`, default 1: leaks, to measure the leak).
        diffaugment: DiffAugment policy, e.g. "color,translation,cutout".
        ada_target: ADA's target for r_t = E[sign(D(reals))] (stylegan2-ada 0.6).
        ada_kimg: ADA adjustment speed: kimg for p to move by 1 (stylegan2-ada 500).
        ada_pipeline: ADA's pipeline, a stylegan2-ada ``--augpipe`` preset ("blit", "geom",
            "color", "bg", "bgc") or comma-separated op names (`tfdisgan.augment.ada_ops`).
        aug_p: fixed ADA probability in [0, 1], no adaptation (None: adapt from 0); with
            "rot90", its probability (None: 1).
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
        inception_sha256: the sha256 of classify_image_graph_def.pb that you checked
            against the official file: the graph must have it, and FID/KID are then
            labelled comparable with papers ("": only the digests tfdisgan verified).
        grid_seeds: number of images in the sample grid.
        resume: "" (new run), "auto" (latest run of the same name in outdir), a run folder,
            or "RUN@KIMG" (that run from its checkpoint nearest KIMG).
        run_name: run folder suffix (default from data, model, resolution and augment).
        strategy: "default" | "mirrored" | "multiworker" | "tpu" (`tfdisgan.distribute`);
            the global `batch` is split over its replicas.
        devices: device names for "mirrored" (default all local GPUs), the one device of
            "default", or the TPU name for "tpu".
        showcase: at the end, write RUN_DIR/showcase/ (sample grid, latent-walk GIF,
            style-mixing grid or, for DCGAN, an interpolation grid) and the SavedModel
            RUN_DIR/export/NAME/1 (`tfdisgan.gallery.showcase`), and print their paths.
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
    ada_pipeline: str = "bgc"
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
    inception_sha256: str = ""
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


@dataclasses.dataclass
class MetricsConfig:
    """What scripts/metrics.py measures (``measure.run``); field names are its flags.

    Attributes:
        network: a run folder (its newest checkpoint), a checkpoint prefix or a SavedModel.
        data: the reals (None: the run's own ``--data``; required for a SavedModel).
        metrics: names or aliases (fid50k_full, kid50k_full, pr50k3_full, swd, msssim; fid,
            kid, pr).
        num_gen: fakes per metric instead of the standard counts (renames the metric).
        inception: the Inception weights (a .tgz, its .pb or a folder; None: Keras' cache).
        inception_sha256: the sha256 of classify_image_graph_def.pb you checked against the
            official file (see `tfdisgan.metrics.features.VERIFIED_INCEPTION_SHA256`).
        feature_net: "inception" (standard FID) or "keras_inceptionv3" (not comparable).
        psi: truncation of the fakes (1: none, as the standard metrics).
        seed: seed of the latents and random choices.
        batch: images per generator / feature-network call.
        cache_dir: cache of the reals' features (None: $TFDISGAN_CACHE or
            ~/.cache/tfdisgan/metrics).
        run_dir: where metric-NAME.jsonl is appended (None: the network's run folder;
            nothing for a SavedModel).
    """

    network: str | None = None
    data: str | None = None
    metrics: tuple = ("fid50k_full",)
    num_gen: int | None = None
    inception: str | None = None
    inception_sha256: str | None = None
    feature_net: str = "inception"
    psi: float = 1.0
    seed: int = 0
    batch: int = 64
    cache_dir: str | None = None
    run_dir: str | None = None


@dataclasses.dataclass
class ProjectConfig:
    """What scripts/project.py projects (``projection.run``); field names are its flags.

    Attributes:
        network: a StyleGAN2 run folder or checkpoint.
        target: a photo, or a folder of photos.
        outdir: where the outputs go (a folder per photo for a folder).
        steps, w_plus, label, distance, vgg16, seed, w_avg_samples: see
            `tfdisgan.projection.project` and `make_distance`.
        gif: also write proj.gif.
    """

    network: str | None = None
    target: str | None = None
    outdir: str | None = None
    steps: int = 1000
    w_plus: bool = False
    label: str | None = None
    distance: str = "auto"
    vgg16: str | None = None
    seed: int = 303
    w_avg_samples: int = 10000
    gif: bool = True


def check(condition, flag, message):
    """Raises `ConfigError("--flag: message")` unless `condition`."""
    if not condition:
        raise ConfigError(f"--{flag}: {message}")


def fill_defaults(config, resolution, num_replicas):
    """Fills the settings left None from DCGAN's defaults or the StyleGAN2 preset."""
    if config.model == "dcgan":
        check(config.cfg is None, "cfg", f"{config.cfg!r} is a StyleGAN2 preset; --model=dcgan "
               "has none (drop --cfg or use --model=stylegan2)")
        for flag in STYLEGAN2_ONLY:
            check(getattr(config, flag) is None, flag, "applies to --model=stylegan2 only")
        defaults = DCGAN_DEFAULTS
    else:
        # Here, not at the top: this module stays TensorFlow-free (flags and --help use it).
        from tfdisgan.models import stylegan2

        if config.cfg is None:
            config = dataclasses.replace(config, cfg="auto")
        check(config.cfg in stylegan2.PRESETS, "cfg",
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


def from_record(record, source="config.json"):
    """The `TrainConfig` a run folder's config.json (a dict) records.

    Keys that are not fields (num_classes, class_names, fields of a newer version) are
    left out; lists become tuples.

    Raises:
        ConfigError: `record` is not a dict or does not make a `TrainConfig`, naming `source`.
    """
    if not isinstance(record, dict):
        raise ConfigError(f"{source}: not a tfdisgan run config (not a JSON object)")
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    values = {k: (tuple(v) if isinstance(v, list) else v) for k, v in record.items()
              if k in fields}
    try:
        return TrainConfig(**values)
    except TypeError as error:
        raise ConfigError(f"{source}: not a tfdisgan run config ({error})") from None


def to_record(config, num_classes, class_names=()):
    """The dict a run folder's config.json holds: every field of `config` plus what
    rebuilding G needs without the dataset at hand (`num_classes`, `class_names`)."""
    record = dataclasses.asdict(config)
    for key, value in record.items():
        if isinstance(value, tuple):
            record[key] = list(value)
    record["num_classes"] = int(num_classes)
    record["class_names"] = list(class_names or []) if num_classes else []
    return record
