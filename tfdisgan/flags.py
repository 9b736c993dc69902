"""absl flag definitions shared by the scripts, and their validation.

Each script calls the `define_*` functions it needs before `app.run`; a flagfile is a list
of `--name=value` lines (`--flagfile=configs/earthquake.cfg`), and flags given on the command
line after it override the file. Validation raises `app.UsageError` naming the flag, before
any work starts.
"""

import dataclasses
import os
import sys
import types

from absl import flags

from tfdisgan.config import MetricsConfig, ProjectConfig, TrainConfig


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
    "cfg": "StyleGAN2 preset as stylegan2-ada's --cfg: auto (default) | stylegan2 | paper256 "
           "| paper512 | paper1024 | cpu_tiny. Fills every StyleGAN2 setting not given as a "
           "flag. Not for --model=dcgan.",
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
    "augment": "Augmentation: none | diffaugment | classic (reals only, leaks by design) | "
               "ada (stylegan2-ada bgc, adaptive p) | diffaugment+ada | rot90 (quarter turns "
               "of the reals only at --aug_p, default 1: a leak to measure).",
    "diffaugment": "DiffAugment policy, e.g. color,translation,cutout.",
    "ada_target": "ADA target for r_t = E[sign(D(reals))] (stylegan2-ada 0.6).",
    "ada_kimg": "ADA speed: kimg for the augmentation probability p to move by 1 (500).",
    "ada_pipeline": "ADA pipeline: a stylegan2-ada --augpipe preset (blit, geom, color, bg, "
                    "bgc) or op names, comma-separated (default bgc).",
    "aug_p": "Fixed ADA probability in [0, 1], no adaptation (default: adapt from 0); "
             "rot90's probability (default 1).",
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
    "precision": "float32 | mixed_float16 (GPUs, loss-scaled) | mixed_bfloat16 (TPUs, CPUs "
                 "with AVX512_BF16/AMX) | auto (per device). StyleGAN2: only the top "
                 "--num_fp16_res resolutions, as the official code.",
    "num_fp16_res": "StyleGAN2 resolutions computed in the half dtype (default 4 when mixed).",
    "xla": "Compile the train step with XLA (jit_compile); off by default (see README).",
    "seed": "Seed of weights, data order, latents and augmentation.",
    "tick_kimg": "kimg between log.jsonl lines.",
    "snapshot_ticks": "Ticks between sample grids and checkpoints.",
    "keep_checkpoints": "Number of latest checkpoints kept.",
    "best_metric": "Log key whose lowest value's checkpoint is kept in checkpoints/best.",
    "metrics": "Quality metrics during training, comma-separated: fid50k_full, kid50k_full, "
               "pr50k3_full, swd, msssim (aliases fid, kid, pr); see scripts/metrics.py.",
    "metrics_kimg": "kimg between metric evaluations, whole ticks (default: every snapshot).",
    "metrics_num_gen": "Fakes per metric evaluation (default the standard 50k; renames e.g. "
                       "fid50k_full to fid2k_full).",
    "feature_net": "Feature network of FID/KID/PR: inception (standard) | keras_inceptionv3 "
                   "(not comparable with published FID).",
    "inception": "Path of inception-2015-12-05.tgz or classify_image_graph_def.pb (default: "
                 "the Keras cache).",
    "inception_sha256": "sha256 of classify_image_graph_def.pb that you checked against the "
                        "official file: the graph must have it, and FID/KID are then "
                        "labelled comparable with papers.",
    "grid_seeds": "Images in each sample grid.",
    "resume": "Resume: a run folder, RUN@KIMG (its checkpoint nearest KIMG; the later ones "
              "move to RUN/checkpoints/after-ckpt-N), or auto (newest run of the same name "
              "in --outdir).",
    "run_name": "Run folder name after the number (default: data-modelRES-augment).",
    "strategy": "Distribution: default (one device) | mirrored (local GPUs or --devices) | "
                "multiworker (cluster from TF_CONFIG) | tpu. --batch is the global batch.",
    "devices": "Comma-separated devices for --strategy=mirrored (e.g. /gpu:0,/gpu:1 or "
               "/cpu:0,/cpu:1), the device of default, or the TPU name for tpu.",
    "showcase": "At the end, write RUN_DIR/showcase/ (samples, latent-walk GIF, style-mixing "
                "or interpolation grid) and the SavedModel RUN_DIR/export/NAME/1.",
    "transfer_from": "Start from another model's weights: a run folder, a checkpoint, a "
                     "scripts/import_nvidia.py folder or a .npz. Optimizers and counters "
                     "restart; RUN_DIR/transfer_report.txt lists every variable.",
    "transfer_partial": "Allow a partial --transfer_from: new_classes (conditional fine-tune, "
                        "new class embedding) | grow (higher resolution, new top blocks).",
    "transfer_keep_optimizer": "With --transfer_from, also copy the optimizer state.",
    "freeze_d": "FreezeD: discriminator blocks nearest the image (highest resolutions) "
                "left untrained; DCGAN counts strided convs from the input.",
    "freeze_mapping": "Leave the StyleGAN2 mapping network untrained.",
    "cross_mix": "Conditional StyleGAN2: CLASS_A:CLASS_B@LO-HI, e.g. "
                 "earthquake:building_fire@16-32: --cross_mix_prob of the G step's fakes take "
                 "class B's styles at LO-HI px and A's elsewhere (same z), judged as B.",
    "cross_mix_prob": "Share of the G step's fakes mixed by --cross_mix, in [0, 1].",
}


def define_dataclass_flags(cls, help_texts, enums=None, skip=(), flag_values=None):
    """Defines one flag per field of the dataclass `cls`, with the field's default.

    The field's type picks the flag: bool -> boolean, int -> integer, float -> float,
    tuple -> a comma-separated list, anything else a string (``X | None`` as ``X``);
    a name in `enums` is an enum flag of those values.

    Args:
        cls: a dataclass whose fields have defaults.
        help_texts: dict field name -> help text (every defined field needs one).
        enums: dict field name -> the allowed values (optional).
        skip: field names that get no flag.
        flag_values: `absl.flags.FlagValues` to define them in (default the global FLAGS).
    """
    flag_values = flags.FLAGS if flag_values is None else flag_values
    enums = enums or {}
    defaults = cls()
    for field in dataclasses.fields(cls):
        if field.name in skip:
            continue
        name, default, kind = field.name, getattr(defaults, field.name), field.type
        if isinstance(kind, types.UnionType):  # "int | None" and friends
            kind = next(t for t in kind.__args__ if t is not type(None))
        help_text = help_texts[name]
        if name in enums:
            flags.DEFINE_enum(name, default, list(enums[name]), help_text,
                              flag_values=flag_values)
        elif kind is bool:
            flags.DEFINE_boolean(name, default, help_text, flag_values=flag_values)
        elif kind is int:
            flags.DEFINE_integer(name, default, help_text, flag_values=flag_values)
        elif kind is float:
            flags.DEFINE_float(name, default, help_text, flag_values=flag_values)
        elif kind is tuple:
            flags.DEFINE_list(name, [str(v) for v in default], help_text,
                              flag_values=flag_values)
        else:
            flags.DEFINE_string(name, default, help_text, flag_values=flag_values)


def dataclass_from_flags(cls, values=None, skip=(), **overrides):
    """An instance of the dataclass `cls` from the parsed flags of its fields (lists become
    tuples); `skip`ped fields keep their defaults, `overrides` replace values."""
    values = values or flags.FLAGS
    kwargs = {}
    for field in dataclasses.fields(cls):
        if field.name in skip:
            continue
        value = values[field.name].value
        kwargs[field.name] = tuple(value) if isinstance(value, list) else value
    return cls(**{**kwargs, **overrides})


# stylegan2-ada-pytorch train.py's flag names that mean exactly one of ours (docs/
# official_flags.md has the whole table). --aug and --gpus translate values (below).
OFFICIAL_ALIASES = {"gamma": "r1_gamma", "snap": "snapshot_ticks", "cond": "conditional",
                    "p": "aug_p", "target": "ada_target", "augpipe": "ada_pipeline"}
OFFICIAL_AUG = {"ada": "ada", "noaug": "none", "fixed": "ada"}


def define_train_flags(flag_values=None):
    """Flags of scripts/train.py: one per `config.TrainConfig` field, same defaults; the
    official train.py names as aliases (``--gamma``, ``--snap``, ``--cond``, ``--p``,
    ``--target``, ``--aug=ada|noaug|fixed``, ``--gpus=N``) and ``--dry_run``.

    Args:
        flag_values: `absl.flags.FlagValues` to define them in (default the global FLAGS).
    """
    define_dataclass_flags(TrainConfig, _TRAIN_HELP, flag_values=flag_values)
    values = flags.FLAGS if flag_values is None else flag_values
    for alias, name in OFFICIAL_ALIASES.items():
        flags.DEFINE_alias(alias, name, flag_values=values)
    flags.DEFINE_enum("aug", None, list(OFFICIAL_AUG), "stylegan2-ada-pytorch's --aug: ada "
                      "(= --augment=ada), noaug (= --augment=none), fixed (ADA's pipeline at "
                      "the fixed --p).", flag_values=values)
    flags.DEFINE_integer("gpus", None, "stylegan2-ada-pytorch's --gpus: N > 1 trains "
                         "--strategy=mirrored over the first N GPUs.", lower_bound=1,
                         flag_values=values)
    flags.DEFINE_boolean("dry_run", False, "Validate the flags and the data, print the "
                         "resolved configuration (a flagfile) and exit.", flag_values=values)


def train_config_from_flags(values=None):
    """A `config.TrainConfig` from the parsed flags, with ``--aug`` and ``--gpus``
    translated.

    Raises:
        app.UsageError: ``--aug`` contradicts ``--augment``, ``--aug=fixed`` without
            ``--p``, or ``--gpus`` with ``--strategy`` / ``--devices``.
    """
    from absl import app

    values = values or flags.FLAGS
    config = dataclass_from_flags(TrainConfig, values)
    aug = values["aug"].value
    if aug is not None:
        augment = OFFICIAL_AUG[aug]
        if values["augment"].present and config.augment != augment:
            raise app.UsageError(f"--aug={aug} means --augment={augment}; "
                                 f"--augment={config.augment} contradicts it")
        if aug == "fixed" and config.aug_p is None:
            raise app.UsageError("--aug=fixed needs --p (the fixed augmentation probability)")
        config = dataclasses.replace(config, augment=augment)
    gpus = values["gpus"].value
    if gpus is not None and gpus > 1:
        if values["strategy"].present or values["devices"].present:
            raise app.UsageError("--gpus: give either --gpus or --strategy/--devices")
        config = dataclasses.replace(config, strategy="mirrored",
                                     devices=tuple(f"/gpu:{i}" for i in range(gpus)))
    return config


_METRICS_HELP = {
    "network": "Run folder, checkpoint prefix or SavedModel to measure.",
    "data": "Dataset of the reals (default: the run's --data).",
    "metrics": "Comma-separated: fid50k_full, kid50k_full, pr50k3_full, swd, msssim "
               "(aliases fid, kid, pr).",
    "num_gen": "Fakes per metric instead of the standard counts (small data); renames e.g. "
               "fid50k_full to fid2k_full.",
    "inception_sha256": "sha256 of classify_image_graph_def.pb that you checked against "
                        "the official file: the graph must have it, and FID/KID are then "
                        "labelled comparable with papers.",
    "inception": "inception-2015-12-05.tgz, its classify_image_graph_def.pb, or a folder "
                 "holding either (default: the Keras cache).",
    "feature_net": "Feature network of FID/KID/PR; keras_inceptionv3 is not comparable with "
                   "published FID.",
    "psi": "Truncation of the fakes (1: none, as the standard metrics).",
    "seed": "Seed of latents and random choices.",
    "batch": "Images per generator / feature-network call.",
    "cache_dir": "Cache of real features (default $TFDISGAN_CACHE or "
                 "~/.cache/tfdisgan/metrics).",
    "run_dir": "Where metric-<name>.jsonl is appended (default: the network's run folder; "
               "none for a SavedModel).",
}


def define_metrics_flags(flag_values=None):
    """Flags of scripts/metrics.py: one per `config.MetricsConfig` field (``--network``
    required)."""
    define_dataclass_flags(MetricsConfig, _METRICS_HELP, flag_values=flag_values,
                           enums={"feature_net": ("inception", "keras_inceptionv3")})
    flags.mark_flag_as_required("network", flag_values=flag_values or flags.FLAGS)


_PROJECT_HELP = {
    "network": "StyleGAN2 run folder or checkpoint to project into (not a SavedModel).",
    "target": "A photo, or a folder of photos (each projected into OUTDIR/<name>/).",
    "outdir": "Output folder: projected_w.npz, target.png, proj.png, proj.gif, "
              "projection.json.",
    "steps": "Optimisation steps (the official 1000).",
    "w_plus": "One w per layer (W+: closer, less editable) instead of one for all (W).",
    "label": "Class of a conditional model to project into: an id or a class name.",
    "distance": "auto (vgg16 when its weights are on the machine, else pixel_ssim), vgg16 or "
                "pixel_ssim; every output names the one used.",
    "vgg16": "Keras' VGG16 weights, vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5 "
             "(default: the Keras cache, ~/.keras/models/; nothing is downloaded).",
    "seed": "Seed of the initial noise buffers and the noise on w (official 303).",
    "w_avg_samples": "Latents whose mean w starts the optimisation.",
    "gif": "Also write proj.gif (target | projection along the optimisation).",
}


def define_project_flags(flag_values=None):
    """Flags of scripts/project.py: one per `config.ProjectConfig` field (``--class`` is
    ``--label``'s alias, as in the other scripts)."""
    values = flag_values or flags.FLAGS
    define_dataclass_flags(ProjectConfig, _PROJECT_HELP, flag_values=flag_values,
                           enums={"distance": ("auto", "vgg16", "pixel_ssim")})
    flags.DEFINE_alias("class", "label", flag_values=values)
    flags.DEFINE_alias("num_steps", "steps", flag_values=values)  # the official name
    for name in ("network", "target", "outdir"):
        flags.mark_flag_as_required(name, flag_values=values)


def project_config_from_flags(values=None):
    """A `config.ProjectConfig` from the parsed flags."""
    return dataclass_from_flags(ProjectConfig, values)


def metrics_config_from_flags(values=None):
    """A `config.MetricsConfig` from the parsed flags."""
    return dataclass_from_flags(MetricsConfig, values)


def _define_network_flag(required=True):
    flags.DEFINE_string(
        "network", None, "A run folder (its latest checkpoint), a checkpoint (RUN_DIR/"
        "checkpoints/ckpt-N) or an exported SavedModel (MODEL_NAME/VERSION or MODEL_NAME)."
        + ("" if required else " Or give --network_a and --network_b."))
    if required:
        flags.mark_flag_as_required("network")


def _define_sampling_flags():
    flags.DEFINE_float("psi", 1.0, "Truncation psi (StyleGAN2: toward the average w; 1: none).")
    flags.DEFINE_alias("trunc", "psi")  # stylegan2-ada-pytorch generate.py / style_mixing.py
    flags.DEFINE_string("class", None, "Class of conditional models: an id or a class folder "
                        "name such as 건물화재 (see the run's config.json).")
    flags.DEFINE_enum("noise_mode", "const", ["const", "random", "none"],
                      "StyleGAN2 noise: const (reproducible), random or none.")
    flags.DEFINE_string("outdir", None, "Output folder (created).")
    flags.mark_flag_as_required("outdir")


def check_psi_flag(flag_values=None):
    """Checks ``--psi`` (truncation, in ``[-1, 2]``) before any network or TensorFlow loads.

    Args:
        flag_values: `absl.flags.FlagValues` holding ``psi`` (default the global FLAGS).

    Raises:
        ValueError: naming ``--psi`` and the value received.
    """
    from tfdisgan._validate import check_psi  # TensorFlow-free: a typo fails at once

    check_psi((flag_values or flags.FLAGS).psi, "--psi")


def define_generate_flags():
    """Flags of scripts/generate.py."""
    _define_network_flag()
    _define_sampling_flags()
    flags.DEFINE_string("seeds", "0-15", "Seeds of the PNGs, e.g. 0-63 or 1,5,9 ('' for none).")
    flags.DEFINE_integer("grid_columns", None, "Columns of grid.png (default ~sqrt(N)).")
    flags.DEFINE_string("interpolate", None, "Seeds of a looping latent-walk GIF, e.g. 0,1,2.")
    flags.DEFINE_enum("interp_space", "z", ["z", "w"],
                      "Walk spherically in z, or linearly in w (StyleGAN2).")
    flags.DEFINE_integer("frames", 60, "Frames in the whole latent-walk loop.")
    flags.DEFINE_float("fps", 24.0, "Frames per second of the GIFs.")
    flags.DEFINE_string("projected_w", None, "A projected_w.npz (scripts/project.py or the "
                        "official projector.py): one PNG per w, projNN.png (StyleGAN2).")


def define_style_mix_flags():
    """Flags of scripts/style_mix.py."""
    _define_network_flag(required=False)
    _define_sampling_flags()
    flags.DEFINE_string("rows", "0-3", "Row seeds: the images that receive styles.")
    flags.DEFINE_string("cols", "10-13", "Column seeds: the images that give their styles.")
    flags.DEFINE_list("row_ws", [], "projected_w.npz files (scripts/project.py) whose ws "
                      "come first among the rows: photos receive the columns' styles.")
    flags.DEFINE_list("col_ws", [], "projected_w.npz files whose ws come first among the "
                      "columns: photos give their styles.")
    flags.DEFINE_string("styles", "0-6", "Style layers taken from the columns (0 = coarsest; "
                        "a 256 px StyleGAN2 has 14).")
    flags.DEFINE_boolean("gif", True, "Also write crossover.gif, sweeping the crossover layer.")
    flags.DEFINE_float("fps", 2.0, "Frames per second of crossover.gif.")
    # Mixing two generators (or two classes of --network) by resolution, both directions.
    flags.DEFINE_string("network_a", None, "Cross-domain mixing: generator A (e.g. church), "
                        "as --network.")
    flags.DEFINE_string("network_b", None, "Cross-domain mixing: generator B (e.g. fire).")
    flags.DEFINE_string("class_a", None, "Class of A (of --network: class mixing, e.g. "
                        "earthquake).")
    flags.DEFINE_string("class_b", None, "Class of B (e.g. building_fire).")
    flags.DEFINE_string("split", "8", "Resolutions, in pixels: 8 = A gives 4-8 px, B 16 px "
                        "and up; 4-8,16-512 = A the first range, B the second.")
    flags.DEFINE_enum("render", "b", ["a", "b", "fine"], "Whose synthesis renders the mixes: "
                      "a, b, or fine (the network giving the second range).")
    flags.DEFINE_string("swap_out", None, "Layer swapping: write a new generator blending A's "
                        "synthesis up to --split and B's above as a run folder here (usable "
                        "as --network, by export.py, as --transfer_from).")
    flags.DEFINE_enum("swap_mode", "hard", ["hard", "smooth", "linear"],
                      "Layer swap: hard cut, sigmoid or linear blend over resolutions.")
    flags.DEFINE_float("swap_width", 1.0, "Layer swap: blend width in octaves (smooth, linear).")
    flags.DEFINE_enum("swap_mapping", "a", ["a", "b"],
                      "Layer swap: whose mapping network (and classes) the new generator has.")
    flags.DEFINE_boolean("overwrite", False, "Replace --swap_out if it exists.")
    # A real photo in cross-domain mixing ("this building, on fire").
    flags.DEFINE_string("photo", None, "Cross-domain mixing of a real photo: project this "
                        "image into --network_a (files in OUTDIR/projection), then mix its "
                        "styles with --network_b's seeds (--rows, --cols), both directions.")
    flags.DEFINE_string("photo_w", None, "As --photo, with a photo already projected into "
                        "--network_a (scripts/project.py's projected_w.npz).")
    flags.DEFINE_integer("project_steps", 1000, "--photo: projection steps (official 1000).",
                         lower_bound=1)


def define_export_flags():
    """Flags of scripts/export.py."""
    _define_network_flag()
    flags.DEFINE_string("out", None, "SavedModel folder in TF Serving's layout: "
                        "MODEL_NAME/VERSION, e.g. exported/fire/1.")
    flags.DEFINE_integer("max_batch", 256, "Most images per request (checked in-graph).")
    flags.DEFINE_boolean("overwrite", False, "Replace --out if it exists.")
    flags.mark_flag_as_required("out")


def define_import_nvidia_flags():
    """Flags of scripts/import_nvidia.py."""
    flags.DEFINE_string("source", None, "Official NVIDIA StyleGAN2 pickle: TensorFlow "
                        "(stylegan2-church-config-f.pkl) or stylegan2-ada-pytorch "
                        "(network-snapshot-*.pkl), read without torch or executing its code.")
    flags.DEFINE_string("out", None, "Output: a folder (run layout: config.json + "
                        "checkpoints/) or, with --format=npz, a .npz file.")
    flags.DEFINE_enum("format", "run", ["run", "npz"],
                      "run: a folder usable as --network and --transfer_from; npz: weights "
                      "for --transfer_from only.")
    flags.DEFINE_boolean("overwrite", False, "Replace --out if it exists.")
    flags.mark_flags_as_required(["source", "out"])


USAGE_ERROR = 2  # the exit code of a usage error, as argparse and click scripts use


def _parse_flags(argv):
    """absl's flag parsing, exiting with `USAGE_ERROR` (absl exits 1) on a bad, unknown or
    missing flag, with one line naming it."""
    try:
        return flags.FLAGS(argv)
    except flags.Error as error:
        name = os.path.basename(argv[0]).removesuffix(".py")
        message = " ".join(str(error).split())
        sys.stderr.write(f"{name}: error: {message}\nPass --help to see the flags.\n")
        sys.exit(USAGE_ERROR)


def run_script(main, tensorflow=True):
    """``app.run(main)`` for the scripts: usage errors (flags that do not parse, extra
    arguments, ``app.UsageError`` raised by `main`) exit with code 2, other errors as
    `main` returns them (2 for bad input it reports, 1 for a diverged run). With
    `tensorflow`, TensorFlow is imported before `main` without its harmless start-up lines
    (`tfdisgan.console.import_tensorflow`)."""
    from absl import app

    def checked(argv):
        if tensorflow:
            from tfdisgan.console import import_tensorflow

            import_tensorflow()  # without its harmless start-up noise (cuInit on a CPU, ...)
        try:
            return main(argv)
        except app.UsageError as error:
            name = os.path.basename(argv[0]).removesuffix(".py")
            sys.stderr.write(f"{name}: error: {error}\nPass --help to see the flags.\n")
            return USAGE_ERROR

    app.run(checked, flags_parser=_parse_flags)

