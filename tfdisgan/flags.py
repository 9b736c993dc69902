"""absl flag definitions shared by the scripts, and their validation.

Each script calls the `define_*` functions it needs before `app.run`; a flagfile is a list
of `--name=value` lines (`--flagfile=configs/earthquake.cfg`), and flags given on the command
line after it override the file. Validation raises `app.UsageError` naming the flag, before
any work starts.
"""

from absl import flags


def define_dataset_tool_flags():
    """Flags of scripts/dataset_tool.py."""
    flags.DEFINE_string(
        "source", None, "Image folder (one sub-folder per class, or flat) or procedural:N."
    )
    flags.DEFINE_string("dest", None, "Output dataset folder (TFRecord shards + manifest.json).")
    flags.DEFINE_integer("resolution", 256, "Side of the square output images, in pixels.")
    flags.DEFINE_enum(
        "crop", "center", ["center", "pad", "stretch"],
        "center: scale the short side and crop the middle; pad: fit the long side and pad; "
        "stretch: ignore the aspect ratio.",
    )
    flags.DEFINE_integer(
        "min_size", None, "Reject images whose side is below this (default: resolution // 2)."
    )
    flags.DEFINE_enum(
        "background", "white", ["white", "black"], "Colour behind transparency and padding."
    )
    flags.DEFINE_integer("shards", None, "Number of shard files (default: ~150 MB each).")
    flags.DEFINE_enum(
        "encoding", "raw", ["raw", "png"], "raw uint8 (fastest reader) or PNG (smaller)."
    )
    flags.DEFINE_boolean("overwrite", False, "Replace --dest if it exists.")
    flags.DEFINE_integer("workers", None, "Decoding processes (default: all cores).")
    flags.DEFINE_integer("seed", 0, "Seed of the shard assignment and of procedural scenes.")
    flags.mark_flags_as_required(["source", "dest"])


_TRAIN_HELP = {
    "data": "Dataset: folder of shards (dataset_tool), folder of images, or procedural:N.",
    "outdir": "Parent folder of the run folders.",
    "model": "Model family: dcgan | stylegan2.",
    "cfg": "StyleGAN2 preset as stylegan2-ada's --cfg: auto | stylegan2 | paper256 | paper512 "
           "| paper1024 | cpu_tiny. Fills every StyleGAN2 setting not given as a flag.",
    "resolution": "Image side in pixels (power of two); must match a shard dataset.",
    "classes": "Comma-separated class names or ids to train on (default: all).",
    "conditional": "Condition G and D on the class labels.",
    "batch": "Global batch size, split over replicas (default: DCGAN 32, StyleGAN2 preset).",
    "kimg": "Training length in thousands of real images (or --steps).",
    "steps": "Training length in steps (or --kimg).",
    "g_lr": "Generator Adam learning rate (DCGAN 2e-4; StyleGAN2 preset).",
    "d_lr": "Discriminator Adam learning rate (DCGAN 2e-4; StyleGAN2 preset).",
    "beta1": "Adam beta_1 (DCGAN 0.5; StyleGAN2 0).",
    "beta2": "Adam beta_2 (DCGAN 0.999; StyleGAN2 0.99).",
    "augment": "Augmentation: none | diffaugment | classic (reals only, leaks by design).",
    "diffaugment": "DiffAugment policy, e.g. color,translation,cutout.",
    "mirror": "Random x-flips of the reals in the input pipeline (dataset x2).",
    "r1_gamma": "R1 regularisation weight, 0: off (DCGAN 0; StyleGAN2 preset gamma).",
    "r1_interval": "Apply R1 every this many steps, lazy regularisation (StyleGAN2 16).",
    "ema_kimg": "Generator EMA half-life in kimg (DCGAN 10; StyleGAN2 preset).",
    "ema_rampup": "EMA ramp-up ratio (half-life <= kimg * ramp-up); 0: no ramp-up.",
    "z_dim": "Latent size (DCGAN 100; StyleGAN2 512).",
    "base_channels": "DCGAN width: channels at the highest resolution.",
    "max_channels": "DCGAN channel cap.",
    "w_dim": "StyleGAN2 intermediate latent (w) size.",
    "channel_base": "StyleGAN2 channels: min(channel_base // res, channel_max) per block.",
    "channel_max": "StyleGAN2 channel cap.",
    "mapping_layers": "StyleGAN2 mapping-network depth.",
    "mbstd_group": "StyleGAN2 minibatch-stddev group size (divides the per-replica batch).",
    "style_mixing": "StyleGAN2 style-mixing regularisation probability.",
    "pl_weight": "StyleGAN2 path-length regularisation weight (0: off).",
    "pl_interval": "StyleGAN2 path-length regularisation interval (lazy).",
    "seed": "Seed of weights, data order, latents and augmentation.",
    "tick_kimg": "kimg between log.jsonl lines.",
    "snapshot_ticks": "Ticks between sample grids and checkpoints.",
    "keep_checkpoints": "Number of latest checkpoints kept.",
    "best_metric": "Log key whose lowest value's checkpoint is kept in checkpoints/best.",
    "grid_seeds": "Images in each sample grid.",
    "resume": "Resume: a run folder, or auto (newest run of the same name in --outdir).",
    "run_name": "Run folder name after the number (default: data-modelRES-augment).",
}


def define_train_flags(flag_values=None):
    """Flags of scripts/train.py: one per `training.TrainConfig` field, same defaults.

    Args:
        flag_values: `absl.flags.FlagValues` to define them in (default the global FLAGS).
    """
    import dataclasses
    import types

    from tfdisgan.training import TrainConfig

    flag_values = flags.FLAGS if flag_values is None else flag_values
    defaults = TrainConfig()
    for field in dataclasses.fields(TrainConfig):
        name, default, kind = field.name, getattr(defaults, field.name), field.type
        if isinstance(kind, types.UnionType):  # "int | None" and friends
            kind = next(t for t in kind.__args__ if t is not type(None))
        help_text = _TRAIN_HELP[name]
        if kind is bool:
            flags.DEFINE_boolean(name, default, help_text, flag_values=flag_values)
        elif kind is int:
            flags.DEFINE_integer(name, default, help_text, flag_values=flag_values)
        elif kind is float:
            flags.DEFINE_float(name, default, help_text, flag_values=flag_values)
        elif kind is tuple:
            flags.DEFINE_list(name, list(default), help_text, flag_values=flag_values)
        else:
            flags.DEFINE_string(name, default, help_text, flag_values=flag_values)


def train_config_from_flags(values=None):
    """A `training.TrainConfig` from the parsed flags (typed, nothing else)."""
    import dataclasses

    from tfdisgan.training import TrainConfig

    values = values or flags.FLAGS
    kwargs = {}
    for field in dataclasses.fields(TrainConfig):
        value = values[field.name].value
        kwargs[field.name] = tuple(value) if isinstance(value, list) else value
    return TrainConfig(**kwargs)
