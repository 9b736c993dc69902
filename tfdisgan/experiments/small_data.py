"""The small-data study: augmentation and transfer arms trained with equal budgets.

Reproduces, at a small scale on whatever machine runs it, the findings tfdisgan is built
on: on a few hundred images no augmentation overfits the discriminator and collapses the
generator; classic augmentation of the reals (flip/translate/rotate) leaks into the
generated images; DiffAugment and ADA do not; pre-training on other scenes then
fine-tuning helps a small target set. Every arm is an ordinary `tfdisgan.training.run`
with the same data, model, batch and length (kimg); the arms differ only in `--augment`,
or, for `transfer`, in starting from a model pre-trained on the other classes.

Per arm it reports SWD x 1e3 against the reals, the MS-SSIM diversity of the fakes (next
to the reals'), FID and KID when a feature network is on the machine (labelled with it),
D's final mean logits on the training reals, on unseen reals (procedural data) and on
fakes, ADA's final p, the wall time, and the leak tests of `tfdisgan.experiments.leak`
(`orientation`: do fakes look rotated by quarter turns or flipped upside down; `tilt`: do
they look rotated by 8-15 degrees, what classic's rotations would leak). Compare the arms
with each other, the DiffAugment arm being the reference.

Outputs (`run_study`): OUTDIR/study.json, OUTDIR/study.md (the table) and OUTDIR/<arm>.png
sample grids (all also copied to `report_dir` when given); OUTDIR/runs/ holds the runs.
`StudyConfig`'s fields are the flags of scripts/study.py (`define_flags`), which also runs
the cross-mixing comparison of `tfdisgan.experiments.cross_mix` with the same config.

Example:
    >>> from tfdisgan.experiments import small_data
    >>> result = small_data.run_study(small_data.StudyConfig(kimg=20, outdir="runs/study"))
    >>> print(result["table"])
"""

import dataclasses
import os
import sys
import time

import keras
import tensorflow as tf

from tfdisgan import flags as tfd_flags
from tfdisgan import training
from tfdisgan.callbacks import TrainingDiverged
from tfdisgan.config import MODELS
from tfdisgan.data import describe
from tfdisgan.experiments import report
from tfdisgan.experiments.leak import LEAK_KINDS, LeakDetector
from tfdisgan.metrics import features, msssim, plot
from tfdisgan.metrics.core import load_reals
from tfdisgan.precision import PRECISIONS
from tfdisgan.runs import checkpoint_kimgs, load_model

AUGMENT_ARMS = ("none", "classic", "diffaugment", "ada", "diffaugment+ada")
DEFAULT_ARMS = (*AUGMENT_ARMS, "transfer")
# Quarter turns of the reals only at probability P ("rot90@P", "rot90" for P = 1): how the
# leak grows with P (the orientation leak test sees it).
LEAK_ARM = "rot90"
ARMS = (*DEFAULT_ARMS, LEAK_ARM)
# Arms trained from scratch with DiffAugment: the scratch baseline of the transfer arm.
SCRATCH_ARM = "diffaugment"
FEATURE_NETS = ("auto", "none", "inception", "keras_inceptionv3")


@dataclasses.dataclass
class StudyConfig:
    """Settings of a study; field names are the flags of scripts/study.py.

    Attributes:
        data: dataset spec of the target reals (`tfdisgan.data.load_dataset`).
        classes: class names or ids of the target set (empty: the whole dataset).
        pretrain_data: dataset of the transfer arm's pre-training ("": `data`).
        pretrain_classes: its classes (empty: all of `pretrain_data` when it is another
            dataset, else every class of `data` not in `classes`).
        resolution: image side (None: the dataset's, required for procedural data).
        model: "dcgan" | "stylegan2".
        cfg: StyleGAN2 preset (`--cfg` of scripts/train.py).
        kimg: budget of every arm in thousands of real images (or use `steps`).
        steps: budget of every arm in train steps (or use `kimg`).
        pretrain_kimg: pre-training budget of the transfer arm (None: `kimg`; with
            `steps`, the same number of steps).
        batch: global batch (None: the model's default).
        base_channels, max_channels: DCGAN width.
        channel_base, channel_max: StyleGAN2 width (None: the `cfg` preset's), as
            `TrainConfig`.
        arms: arms to run, in order: of `ARMS`, or "rot90@P" (quarter turns of the reals
            only at probability P in (0, 1]; "rot90" is P = 1), as many P as wanted.
        diffaugment: DiffAugment policy of the DiffAugment arms (and of the pre-training).
        eval_kimg: evaluate every arm every `eval_kimg` (a checkpoint kept at each) and
            plot the metrics against kimg (study_curves.png): where an arm's quality turns
            and D(real) on the training reals leaves D(held-out). None: at the end only.
        ada_kimg: ADA's speed (None: a fifth of the budget, so p settles in a short run).
        ada_pipeline: the ADA arms' pipeline (TrainConfig.ada_pipeline; "bg": no colour).
        freeze_d: FreezeD blocks of the transfer arm's fine-tuning.
        num_gen: fakes per arm for the metrics and the leak test (None: as many as reals,
            at most 2000).
        feature_net: FID/KID's network: "auto" (the standard Inception if present, else
            the Keras InceptionV3 if its weights are cached, else no FID/KID), "none",
            "inception", "keras_inceptionv3".
        inception: path of the Inception weights ("": the Keras cache).
        inception_sha256: the digest of the Inception graph you checked (FID/KID labelled
            comparable; `tfdisgan.metrics.features.get_feature_network`).
        leak_kinds: leak tests to run (`LEAK_KINDS`).
        grid_images: images per sample grid.
        seed: seed of every run (the same for every arm) and of the evaluation.
        outdir: output folder (study.json, study.md, grids, runs/).
        report_dir: folder the grids, study.json and study.md are copied to as well ("":
            none), e.g. docs/study.
        command: the command line recorded in the report ("": none).
        precision: `--precision` of every run ("auto": bfloat16 on CPUs with fast bf16).
        mix_classes: (class A, class B) of the cross-mixing comparison
            (`run_cross_mix_study`): A gives the structure, B the textures.
        mix_res: the block resolutions whose styles come from class B ("16-32"); every
            other block's come from A, in training (`--cross_mix`) and at inference
            (`class_mix`) alike.
        cross_mix_prob: `--cross_mix_prob` of the training-time arm.
    """

    data: str = "procedural:1600"
    classes: tuple = ("flood",)
    pretrain_data: str = ""
    pretrain_classes: tuple = ()
    resolution: int | None = 32
    model: str = "dcgan"
    cfg: str = "auto"
    kimg: float | None = 20.0
    steps: int | None = None
    pretrain_kimg: float | None = None
    batch: int | None = None
    base_channels: int = 64
    max_channels: int = 512
    channel_base: int | None = None
    channel_max: int | None = None
    arms: tuple = DEFAULT_ARMS
    diffaugment: str = "color,translation,cutout"
    eval_kimg: float | None = None
    ada_kimg: float | None = None
    ada_pipeline: str = "bgc"
    freeze_d: int = 0
    num_gen: int | None = None
    feature_net: str = "auto"
    inception: str = ""
    inception_sha256: str = ""
    leak_kinds: tuple = LEAK_KINDS
    grid_images: int = 16
    seed: int = 0
    outdir: str = "runs/study"
    report_dir: str = ""
    command: str = ""
    precision: str = "float32"
    mix_classes: tuple = ("earthquake", "building_fire")
    mix_res: str = "16-32"
    cross_mix_prob: float = 0.5


# The help of each `StudyConfig` field's flag (`command` has none: the script records it).
FLAG_HELP = {
    "data": "Dataset of the target reals (shards, image folder or procedural:N).",
    "classes": "Target classes (names or ids; empty: all).",
    "pretrain_data": "Pre-training dataset of the transfer arm (default: --data).",
    "pretrain_classes": "Its classes (default: every class not in --classes).",
    "resolution": "Image side (procedural data: required).",
    "model": "Model of every arm.",
    "cfg": "StyleGAN2 preset (as scripts/train.py --cfg).",
    "kimg": "Budget of every arm, thousands of real images.",
    "steps": "Budget in train steps instead of --kimg (tests).",
    "pretrain_kimg": "Pre-training budget of the transfer arm (default: --kimg).",
    "batch": "Global batch (default: the model's).",
    "base_channels": "DCGAN width at the highest resolution.",
    "max_channels": "DCGAN maximum width.",
    "channel_base": "StyleGAN2 width (default: the --cfg preset's).",
    "channel_max": "StyleGAN2 maximum width (default: the preset's).",
    "arms": f"Arms to run, of {', '.join(ARMS)}; rot90@P: quarter turns of the reals at "
            "probability P (the leak against P).",
    "diffaugment": "DiffAugment policy of the diffaugment arms and the pre-training.",
    "eval_kimg": "Evaluate every arm every this many kimg and plot the curves (default: at "
                 "the end only).",
    "ada_kimg": "ADA adjustment speed (default: a fifth of the budget).",
    "ada_pipeline": "ADA arms' pipeline, as train.py's --ada_pipeline (bgc; bg: no colour).",
    "freeze_d": "FreezeD blocks when fine-tuning (transfer).",
    "num_gen": "Fakes per arm (default: as many as reals, <= 2000).",
    "feature_net": "FID/KID's feature network; auto: whichever is on this machine, else none.",
    "inception": "Inception weights (default: Keras cache).",
    "inception_sha256": "sha256 of the Inception graph you checked against the official file "
                        "(FID/KID then labelled comparable).",
    "leak_kinds": "Leak tests: orientation, tilt.",
    "grid_images": "Images per sample grid.",
    "seed": "Seed of every run and of the evaluation.",
    "outdir": "Output folder (study.md, study.json, grids, runs/).",
    "report_dir": "Also copy the grids, study.json and study.md here (e.g. docs/study).",
    "precision": "--precision of every run (auto: bfloat16 on CPUs with fast bf16).",
    "mix_classes": "Cross-mix study: class A (structure, coarse styles), class B (textures).",
    "mix_res": "Cross-mix study: the resolutions whose styles come from class B; the others "
               "come from A.",
    "cross_mix_prob": "Cross-mix study: --cross_mix_prob of the training-time arm.",
}
_FLAG_ENUMS = {"model": MODELS, "feature_net": FEATURE_NETS, "precision": PRECISIONS}


def define_flags(flag_values=None):
    """Defines the flags of scripts/study.py: one per `StudyConfig` field but `command`,
    with the field's default."""
    tfd_flags.define_dataclass_flags(StudyConfig, FLAG_HELP, enums=_FLAG_ENUMS,
                                     skip=("command",), flag_values=flag_values)


def config_from_flags(values=None, command=""):
    """A `StudyConfig` from the parsed `define_flags` flags; `--steps` replaces the
    default `--kimg`. `command`: the command line to record in the report."""
    config = tfd_flags.dataclass_from_flags(StudyConfig, values, skip=("command",),
                                            command=command)
    return config if config.steps is None else dataclasses.replace(config, kimg=None)


class StudyError(ValueError):
    """A bad study setting; the message names the flag."""


def check_budget(config):
    """Checks the settings every study shares: the budget and the evaluation's counts.

    Raises:
        StudyError: naming the flag.
    """
    if (config.kimg is None) == (config.steps is None):
        raise StudyError("--kimg: give exactly one of --kimg and --steps")
    if config.kimg is not None and not config.kimg > 0:
        raise StudyError(f"--kimg: must be > 0, got {config.kimg}")
    if config.steps is not None and config.steps < 1:
        raise StudyError(f"--steps: must be >= 1, got {config.steps}")
    if config.num_gen is not None and config.num_gen < 8:
        raise StudyError(f"--num_gen: must be >= 8, got {config.num_gen}")
    if config.grid_images < 1:
        raise StudyError(f"--grid_images: must be >= 1, got {config.grid_images}")


def check_config(config):
    """Validates a `StudyConfig` before anything is trained.

    Raises:
        StudyError: naming the flag.
    """
    check_budget(config)
    if config.pretrain_kimg is not None and not config.pretrain_kimg > 0:
        raise StudyError(f"--pretrain_kimg: must be > 0, got {config.pretrain_kimg}")
    if not config.arms:
        raise StudyError("--arms: give at least one arm")
    for arm in config.arms:
        if arm not in ARMS:
            leak_p(arm)  # raises unless rot90@P
    if len(set(config.arms)) != len(config.arms):
        raise StudyError(f"--arms: an arm is repeated in {list(config.arms)}")
    for kind in config.leak_kinds:
        if kind not in LEAK_KINDS:
            raise StudyError(f"--leak_kinds: unknown {kind!r}; valid: {', '.join(LEAK_KINDS)}")
    if config.feature_net not in FEATURE_NETS:
        raise StudyError("--feature_net: must be auto, none, inception or keras_inceptionv3, "
                         f"got {config.feature_net!r}")
    if config.ada_kimg is not None and not config.ada_kimg > 0:
        raise StudyError(f"--ada_kimg: must be > 0, got {config.ada_kimg}")
    if config.eval_kimg is not None:
        if not config.eval_kimg > 0:
            raise StudyError(f"--eval_kimg: must be > 0, got {config.eval_kimg}")
        if config.eval_kimg > budget_kimg(config):
            raise StudyError(f"--eval_kimg: {config.eval_kimg:g} is more than the budget, "
                             f"{budget_kimg(config):g} kimg")
        try:  # the curves are plotted after the training: fail before it
            plot.pyplot("--eval_kimg (plotting the curves)")
        except ImportError as error:
            raise StudyError(str(error)) from None


def leak_p(arm):
    """P of a "rot90@P" arm (1.0 for "rot90"), None for another known arm.

    Raises:
        StudyError: an unknown arm or a P outside (0, 1].
    """
    if arm in ARMS:
        return 1.0 if arm == LEAK_ARM else None
    name, _, value = arm.partition("@")
    try:
        p = float(value) if name == LEAK_ARM else None
    except ValueError:
        p = None
    if p is None:
        raise StudyError(f"--arms: unknown arm {arm!r}; valid: {', '.join(ARMS)}, rot90@P")
    if not 0 < p <= 1:
        raise StudyError(f"--arms: {arm}: P must be in (0, 1], got {p:g}")
    return p


def budget_kimg(config):
    """Every arm's budget in kimg (`steps` at the batch, 32 when left to the model)."""
    return config.steps * (config.batch or 32) / 1000 if config.steps else config.kimg


def _pretrain_classes(config):
    if config.pretrain_classes:
        return tuple(config.pretrain_classes)
    if config.pretrain_data and config.pretrain_data != config.data:
        return ()  # another dataset: all of it
    info = describe(config.data)
    target = set()
    for c in config.classes:
        try:
            target.add(info.class_id(c))
        except ValueError as error:
            raise StudyError(f"--classes: {error}") from None
    names = info.class_names or ()
    others = tuple(name for i, name in enumerate(names) if i not in target)
    if not others or not config.classes:
        raise StudyError("--pretrain_classes: the transfer arm needs pre-training classes "
                         "other than the target --classes; give --classes (the target) and "
                         "a dataset with other classes, or --pretrain_data/--pretrain_classes")
    return others


def train_config(config, arm, run_dir_parent, transfer_from=""):
    """The `TrainConfig` of one arm (or of the pre-training, arm="pretrain")."""
    budget = budget_kimg(config)
    if config.eval_kimg and arm != "pretrain":
        # A log line, a grid and a checkpoint (all kept) every eval_kimg: the curves.
        ticks = dict(tick_kimg=config.eval_kimg, snapshot_ticks=1,
                     keep_checkpoints=int(budget / config.eval_kimg) + 2)
    else:
        # Ten log lines; a checkpoint and a grid at half way and at the end.
        ticks = dict(tick_kimg=max(budget / 10, 1e-3), snapshot_ticks=5, keep_checkpoints=1)
    common = dict(
        outdir=run_dir_parent, model=config.model,
        cfg=config.cfg if config.model == "stylegan2" else None,
        resolution=config.resolution, batch=config.batch, seed=config.seed,
        grid_seeds=config.grid_images, showcase=False, precision=config.precision,
        diffaugment=config.diffaugment, ada_pipeline=config.ada_pipeline, **ticks,
    )
    if config.model == "dcgan":
        common.update(base_channels=config.base_channels, max_channels=config.max_channels)
    else:
        common.update(channel_base=config.channel_base, channel_max=config.channel_max)
    if arm == "pretrain":
        kimg = None if config.steps else (config.pretrain_kimg or config.kimg)
        return training.TrainConfig(
            data=config.pretrain_data or config.data, classes=_pretrain_classes(config),
            kimg=kimg, steps=config.steps, augment=SCRATCH_ARM, run_name="pretrain",
            **common)
    augment = SCRATCH_ARM if arm == "transfer" else arm
    extra = {}
    if leak_p(arm) is not None:
        augment, extra["aug_p"] = LEAK_ARM, leak_p(arm)
    if augment in ("ada", "diffaugment+ada"):
        extra["ada_kimg"] = config.ada_kimg or max(budget / 5, 1e-3)
    if arm == "transfer":
        extra.update(transfer_from=transfer_from, freeze_d=config.freeze_d)
    return training.TrainConfig(
        data=config.data, classes=tuple(config.classes), kimg=config.kimg, steps=config.steps,
        augment=augment, run_name=arm_file_name(arm), **common, **extra)


def arm_file_name(arm):
    """The arm's run-folder and grid name: "diffaugment+ada" -> "diffaugment_ada",
    "rot90@0.5" -> "rot90_p0.5"."""
    return arm.replace("+", "_").replace("@", "_p")


def progress_log(verbose):
    """A print to stderr (flushed) when `verbose`, else a no-op."""
    if verbose:
        return lambda *a: print(*a, file=sys.stderr, flush=True)
    return lambda *a: None


def train_arm(cfg, arm, runs, strategy, log, verbose):
    """Trains one arm; returns ``(run_dir, diverged message or None, wall seconds)``."""
    began = time.time()
    diverged = None
    try:
        run_dir = training.run(cfg, strategy=strategy, verbose=verbose)
    except TrainingDiverged as error:
        # A collapse to NaN is a result too: evaluate the last good checkpoint.
        diverged = str(error)
        run_dir = latest_run_dir(runs, cfg.run_name)
        log(f"   {arm} diverged: {error}")
    return run_dir, diverged, time.time() - began


def latest_run_dir(parent, name):
    """The newest run folder ``NNNNN-<name>`` in `parent`."""
    entries = sorted(e for e in os.listdir(parent) if e.endswith(f"-{name}") and e[:5].isdigit())
    return os.path.join(parent, entries[-1])


def feature_network(config):
    """(network or None, label): FID/KID's feature network, if one is on this machine."""
    if config.feature_net == "none":
        return None, "not computed (--feature_net=none)"
    names = (("inception", "keras_inceptionv3") if config.feature_net == "auto"
             else (config.feature_net,))
    for name in names:
        try:
            network = features.get_feature_network(
                name, config.inception or None,
                inception_sha256=(config.inception_sha256 or None) if name == "inception"
                else None)
        except features.InceptionNotFoundError:
            continue
        label = network.name if network.comparable else f"{network.name} ({network.note})"
        return network, label
    if config.feature_net != "auto":
        features.check_available(names[0], config.inception or None)  # raises, says how
    return None, ("not computed: no feature network on this machine (neither the "
                  "Inception 2015-12-05 file nor the Keras InceptionV3 weights)")


def format_table(result):
    """The markdown table of a study result (`run_study`'s dict)."""
    fmt = report.fmt
    kinds = list(result["calibration"])
    has_kid = any("kid" in a for a in result["arms"].values())
    has_heldout = any(a.get("swd_heldout") is not None for a in result["arms"].values())
    head = ["arm", "augment", "kimg", "SWD x1e3 (lower better)",
            *(["SWD held-out"] if has_heldout else []), "MS-SSIM fakes"]
    if has_kid:
        head += [f"FID ({result['kid_network']})", "KID"]
    head += ["D(real)", "D(held-out)", "D(fake)", "aug_p"]
    head += [f"{k} leak" for k in kinds]
    head += ["img/s", "wall"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    reals = result["reals"]
    row = ["reals", "", "", "0", *([""] if has_heldout else []), fmt(reals["msssim"])]
    if has_kid:
        row += ["0", "0"]
    row += ["", "", "", ""] + [fmt(result["calibration"][k]["real"], 2) for k in kinds]
    row += ["", ""]
    lines.append("| " + " | ".join(row) + " |")
    for arm, a in result["arms"].items():
        row = [arm + (" (diverged)" if a.get("diverged") else ""),
               a["augment"] + (" + transfer" if arm == "transfer" else ""),
               fmt(a["kimg"]), fmt(a["swd"]),
               *([fmt(a.get("swd_heldout"))] if has_heldout else []), fmt(a["msssim"])]
        if has_kid:
            row += [fmt(a.get("fid")), fmt(a.get("kid"))]
        row += [fmt(a.get("d_real")), fmt(a.get("d_heldout")), fmt(a.get("d_fake")),
                fmt(a.get("aug_p"), 2)]
        row += [fmt(a["leak"].get(k), 2) for k in kinds]
        row += [fmt(a.get("img_per_s")), f"{a['wall_s']:.0f} s"]
        lines.append("| " + " | ".join(row) + " |")
    notes = [f"- {k} leak: fraction of fakes the `{k}` test calls transformed; calibration: "
             f"{result['calibration'][k]['real']:.2f} of held-out reals, "
             f"{result['calibration'][k]['transformed']:.2f} of their transformed copies, "
             f"{result['calibration'][k]['classic_reals']:.2f} of reals rotated uniformly in "
             "+-15 degrees (classic's rotations), "
             f"{result['calibration'][k]['noise']:.2f} of structureless noise images (the "
             "level a broken generator reaches: compare arms with each other)."
             for k in kinds]
    if has_heldout:
        notes.append("- SWD held-out: the fakes against as many unseen reals of the same "
                     "classes; a generator that memorises the training reals gets better "
                     "against them, not against these.")
    notes.append("- D(real), D(held-out), D(fake): mean discriminator logits (inference mode) "
                 "at the end on the training reals, on as many unseen reals (procedural data "
                 "only) and on fakes of the trained generator; D(real) far above D(held-out) "
                 "is discriminator overfitting. aug_p: ADA's final probability.")
    notes.append(f"- FID/KID: {result['kid_network']}; with {result['reals']['num']} reals "
                 "and as many fakes both are biased by the counts: compare arms only.")
    if "pretrain" in result:
        p = result["pretrain"]
        notes.append(f"- transfer: pre-trained {p['kimg']:g} kimg on "
                     f"{', '.join(p['classes']) or 'all classes of ' + p['data']} "
                     f"({p['wall_s']:.0f} s), then fine-tuned like the `{SCRATCH_ARM}` arm "
                     "(its scratch baseline).")
    curves = report.format_arm_curves(result)
    if curves:
        curves = "\n## Against kimg (--eval_kimg)\n\n" + curves
    return "\n".join(lines) + "\n\n" + "\n".join(notes) + "\n" + curves


def run_study(config, verbose=True):
    """Trains every arm and writes the report (see the module doc).

    Args:
        config: `StudyConfig`.
        verbose: print progress.

    Returns:
        dict: `config`, `machine`, `reals`, `calibration`, `kid_network`, `arms` (per arm:
        augment, kimg, swd, msssim, fid, kid, d_real, d_heldout, d_fake, aug_p, leak,
        img_per_s, wall_s, run_dir, grid, diverged), `pretrain`, `table` (markdown),
        `total_s`.

    Raises:
        StudyError, training.ConfigError: a bad setting (before any training).
    """
    check_config(config)
    started = time.time()
    log = progress_log(verbose)
    # Every arm's config is validated before the first one trains: a bad flag fails fast.
    pretrain_cfg = None
    if "transfer" in config.arms:
        pretrain_cfg = train_config(config, "pretrain", "")
        training.validate(pretrain_cfg, describe(pretrain_cfg.data))
    for arm in config.arms:
        probe = train_config(config, arm, "", transfer_from="")
        resolved, _, _ = training.validate(probe, describe(probe.data))
    resolution = resolved.resolution
    os.makedirs(config.outdir, exist_ok=True)
    runs = os.path.join(config.outdir, "runs")
    if config.report_dir:
        os.makedirs(config.report_dir, exist_ok=True)

    reals, _ = load_reals(config.data, resolution, None, tuple(config.classes) or None,
                          seed=config.seed)  # procedural scenes are drawn with the seed
    heldout = report.heldout_reals(config, reals)
    num_gen = config.num_gen or min(len(reals), 2000)
    num_gen = max(num_gen, 8)
    log(f"Study: {len(reals)} reals of {config.data} {list(config.classes)} at {resolution} px,"
        f" arms {list(config.arms)}")
    detectors = {kind: LeakDetector(kind, seed=config.seed).fit(reals)
                 for kind in config.leak_kinds}
    try:
        network, kid_label = feature_network(config)
    except features.InceptionNotFoundError as error:
        raise StudyError(f"--feature_net: {error}") from None
    real_feats = network(reals) if network is not None else None
    result = {
        "config": dataclasses.asdict(config),
        "machine": report.machine(),
        "reals": {"num": int(len(reals)), "resolution": int(resolution),
                  "msssim": msssim.msssim_diversity(reals, seed=config.seed)},
        "calibration": {k: d.calibration for k, d in detectors.items()},
        "kid_network": kid_label,
        "arms": {},
    }
    report.save_grid(reals[:config.grid_images], os.path.join(config.outdir, "reals.png"))
    if config.report_dir:
        report.copy_small(os.path.join(config.outdir, "reals.png"),
                          os.path.join(config.report_dir, "reals.png"))
    # One strategy for every run: several MirroredStrategy objects in one process collide.
    strategy = tf.distribute.get_strategy()
    transfer_from = ""
    for arm in config.arms:
        if arm == "transfer":
            # Pre-trained just before its arm: the scratch arms' results come first.
            transfer_from = _pretrain(pretrain_cfg, runs, strategy, result, log, verbose)
        log(f"== arm {arm}")
        cfg = train_config(config, arm, runs, transfer_from=transfer_from)
        run_dir, diverged, wall = train_arm(cfg, arm, runs, strategy, log, verbose)
        entry = {"augment": cfg.augment, "diverged": diverged, "wall_s": wall,
                 "run_dir": run_dir}
        if tf.train.latest_checkpoint(os.path.join(run_dir, "checkpoints")):
            curve = []
            # Every kept checkpoint with --eval_kimg (the last is the final model), else
            # the latest only.
            for prefix, kimg in (checkpoint_kimgs(run_dir) if config.eval_kimg
                                 else [(run_dir, None)]):
                model, _, _ = load_model(prefix)
                metrics, grid = report.evaluate(
                    model, reals, detectors, num_gen, seed=config.seed, network=network,
                    real_features=real_feats, grid_images=config.grid_images,
                    heldout=heldout)
                del model
                if kimg is not None:
                    curve.append(dict(metrics, kimg=kimg))
            if curve:
                entry["curve"] = curve
            name = arm_file_name(arm)
            entry["grid"] = os.path.join(config.outdir, f"{name}.png")
            report.save_grid(grid, entry["grid"])
            if config.report_dir:
                report.copy_small(entry["grid"], os.path.join(config.report_dir, f"{name}.png"))
            log(f"   {arm}: swd {metrics['swd']:.1f}, msssim {metrics['msssim']:.3f}, leak "
                f"{metrics['leak']}, {wall:.0f} s")
        else:
            metrics = {"swd": None, "msssim": None,
                       "leak": {k: None for k in config.leak_kinds}}
        last = report.last_log(run_dir)
        entry.update(kimg=last.get("kimg"), img_per_s=last.get("img_per_s"), **metrics)
        result["arms"][arm] = entry
        keras.backend.clear_session()
        _write_report(config, result, started)  # after every arm: a partial report
    _write_report(config, result, started)
    return result


def _pretrain(pretrain_cfg, runs, strategy, result, log, verbose):
    """Trains the transfer arm's source model; returns its run folder."""
    log(f"== pretrain on {list(pretrain_cfg.classes) or pretrain_cfg.data}")
    began = time.time()
    pretrain_cfg = dataclasses.replace(pretrain_cfg, outdir=runs)
    run_dir = training.run(pretrain_cfg, strategy=strategy, verbose=verbose)
    result["pretrain"] = {"run_dir": run_dir, "data": pretrain_cfg.data,
                          "classes": list(pretrain_cfg.classes),
                          "kimg": report.last_log(run_dir).get("kimg"),
                          "wall_s": time.time() - began}
    keras.backend.clear_session()
    return run_dir


def _write_report(config, result, started):
    if report.plot_arm_curves(result, os.path.join(config.outdir, "study_curves.png")):
        result["curves_png"] = os.path.join(config.outdir, "study_curves.png")
        if config.report_dir:
            report.copy_small(result["curves_png"],
                              os.path.join(config.report_dir, "study_curves.png"))
    report.write_report(config, result, started, "study", "Small-data study", format_table)
