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
fakes, ADA's final p, the wall time, and a leak test:

* `orientation`: a logistic regression on small thumbnails and gradient-orientation
  histograms, trained on held-in reals (x-flipped or not) against the same reals rotated
  by 90/180/270 degrees or flipped upside down. A fake counts as transformed when one of
  its own re-oriented copies looks more upright to the classifier than the fake itself.
* `tilt`: the same, trained against reals rotated by 8-15 degrees either way with
  reflected borders (what `--augment=classic` does to the reals: flips, translations and
  rotations uniform in +-15 degrees); a fake counts as tilted when rotating it back by
  8-15 degrees one way or the other makes it look more upright.

Both are calibrated on held-out reals (the false-positive rate), their transformed copies
(the detection rate) and structureless noise (the rate of a broken generator, which is
high: comparing an image with its own rotations only means something for images with a
layout). Compare the arms with each other, the DiffAugment arm being the reference.

Outputs (`run_study`): OUTDIR/study.json, OUTDIR/study.md (the table) and OUTDIR/<arm>.png
sample grids (all also copied to `report_dir` when given); OUTDIR/runs/ holds the runs.

Example:
    >>> from tfdisgan import study
    >>> result = study.run_study(study.StudyConfig(kimg=20, outdir="runs/study"))
    >>> print(result["table"])
"""

import dataclasses
import json
import math
import os
import platform
import shutil
import sys
import time

import numpy as np

AUGMENT_ARMS = ("none", "classic", "diffaugment", "ada", "diffaugment+ada")
ARMS = (*AUGMENT_ARMS, "transfer")
LEAK_KINDS = ("orientation", "tilt")
# Arms trained from scratch with DiffAugment: the scratch baseline of the transfer arm.
SCRATCH_ARM = "diffaugment"


# ==========================================================================================
# Leak test
# ==========================================================================================


def rotate_images(images, angles, fill="reflect"):
    """Rotates each image about its centre by its angle (degrees, counter-clockwise).

    Bilinear inverse mapping; pixels that come from outside the image take the reflected
    image ("reflect": d c b a | a b c d, Keras' `fill_mode="reflect"`, what
    `ClassicAugment` uses) or the nearest edge pixel ("nearest").

    Args:
        images: uint8 or float [N, H, W, C].
        angles: float [N] or a scalar, degrees.
        fill: str, "reflect" | "nearest".

    Returns:
        float32 [N, H, W, C] in the input's range.

    Raises:
        ValueError: a bad shape or fill mode.
    """
    images = np.asarray(images, np.float32)
    if images.ndim != 4:
        raise ValueError(f"images must be [N, H, W, C]. Received shape={images.shape}")
    if fill not in ("reflect", "nearest"):
        raise ValueError(f"fill must be 'reflect' or 'nearest'. Received fill={fill!r}")
    n, h, w, _ = images.shape
    angles = np.broadcast_to(np.asarray(angles, np.float64), (n,))
    ys, xs = np.meshgrid(np.arange(h) - (h - 1) / 2.0, np.arange(w) - (w - 1) / 2.0,
                         indexing="ij")
    out = np.empty_like(images)
    for i, angle in enumerate(np.radians(angles)):
        # Output pixel (x, y) samples the input at the point rotated back by the angle
        # (y points down, so a counter-clockwise turn on screen is -angle in these axes).
        cos, sin = math.cos(angle), math.sin(angle)
        src_x = cos * xs - sin * ys + (w - 1) / 2.0
        src_y = sin * xs + cos * ys + (h - 1) / 2.0
        out[i] = _bilinear(images[i], src_y, src_x, fill)
    return out


def _fold(coord, size, fill):
    if fill == "nearest":
        return np.clip(coord, 0, size - 1)
    period = 2 * size  # reflect about the pixel edges: -1 -> 0, size -> size - 1
    coord = np.mod(coord + 0.5, period)
    coord = np.where(coord >= size, period - coord, coord) - 0.5
    return np.clip(coord, 0, size - 1)


def _bilinear(image, src_y, src_x, fill):
    h, w = image.shape[:2]
    y0 = np.floor(src_y)
    x0 = np.floor(src_x)
    fy, fx = (src_y - y0)[..., None], (src_x - x0)[..., None]

    def at(y, x):
        yi = np.rint(_fold(y, h, fill)).astype(int)
        xi = np.rint(_fold(x, w, fill)).astype(int)
        return image[yi, xi]

    top = at(y0, x0) * (1 - fx) + at(y0, x0 + 1) * fx
    bottom = at(y0 + 1, x0) * (1 - fx) + at(y0 + 1, x0 + 1) * fx
    return top * (1 - fy) + bottom * fy


def transform_for_leak(images, kind, rng):
    """The "transformed" class of the leak classifier: one random transform per image.

    Args:
        images: uint8 [N, H, W, 3].
        kind: "orientation" (rotate 90, 180 or 270 degrees, or flip upside down) or "tilt"
            (rotate by 8-15 degrees either way, reflected borders).
        rng: `np.random.Generator`.

    Returns:
        float32 [N, H, W, 3] in [0, 255].
    """
    images = np.asarray(images, np.float32)
    if kind == "orientation":
        choice = rng.integers(4, size=len(images))
        out = np.empty_like(images)
        for i, (image, c) in enumerate(zip(images, choice, strict=True)):
            out[i] = image[::-1] if c == 3 else np.rot90(image, k=int(c) + 1)
        return out
    if kind == "tilt":
        angles = rng.uniform(8.0, 15.0, len(images)) * rng.choice([-1.0, 1.0], len(images))
        return rotate_images(images, angles, fill="reflect")
    raise ValueError(f"kind must be one of {LEAK_KINDS}. Received kind={kind!r}")


def leak_features(images, thumb=8, bins=36):
    """Features of the leak classifier: a colour thumbnail and a gradient-orientation
    histogram.

    The thumbnail (area-downsampled to `thumb` x `thumb`) carries the layout (sky above,
    ground below); the histogram of gradient directions (mod 180 degrees, weighted by
    magnitude, normalised to sum 1) carries the alignment of horizons and walls with the
    image axes, which a tilt moves. Both are insensitive to the blur of resampling.

    Args:
        images: uint8 or float [N, H, W, 3] in [0, 255], H = W divisible by `thumb`.
        thumb: int, thumbnail side.
        bins: int, histogram bins over 180 degrees.

    Returns:
        float32 [N, thumb * thumb * 3 + bins].
    """
    x = np.asarray(images, np.float32) / 255.0
    n, h, w, c = x.shape
    if h % thumb or w % thumb:
        raise ValueError(f"image side {h}x{w} is not divisible by thumb={thumb}")
    small = x.reshape(n, thumb, h // thumb, thumb, w // thumb, c).mean((2, 4))
    grey = x.mean(-1)
    gy = grey[:, 2:, 1:-1] - grey[:, :-2, 1:-1]
    gx = grey[:, 1:-1, 2:] - grey[:, 1:-1, :-2]
    angle = np.mod(np.arctan2(gy, gx), np.pi)
    magnitude = np.hypot(gx, gy)
    index = np.minimum((angle / np.pi * bins).astype(int), bins - 1)
    hist = np.zeros((n, bins), np.float32)
    for i in range(n):
        hist[i] = np.bincount(index[i].ravel(), magnitude[i].ravel(), minlength=bins)
    hist /= hist.sum(1, keepdims=True) + 1e-8
    return np.concatenate([small.reshape(n, -1), hist * bins], axis=1).astype(np.float32)


class LeakDetector:
    """Logistic regression telling reals from transformed reals (see the module doc).

    Args:
        kind: "orientation" | "tilt".
        l2: float, weight decay of the logistic regression.
        steps: int, full-batch gradient steps (Adam).
        seed: int.

    Example:
        >>> detector = LeakDetector("orientation").fit(reals)
        >>> detector.calibration      # {"real": 0.01, "transformed": 0.99, ...}
        >>> detector.leak_rate(fakes)  # fraction of fakes that look transformed
    """

    def __init__(self, kind="orientation", l2=1e-3, steps=1500, seed=0):
        if kind not in LEAK_KINDS:
            raise ValueError(f"kind must be one of {LEAK_KINDS}. Received kind={kind!r}")
        if l2 < 0:
            raise ValueError(f"l2 must be >= 0. Received l2={l2}")
        if steps < 1:
            raise ValueError(f"steps must be >= 1. Received steps={steps}")
        self.kind, self.l2, self.steps, self.seed = kind, float(l2), int(steps), int(seed)
        self.calibration = None

    def _samples(self, reals, rng):
        # Reals may be x-flipped (a harmless flip that classic also applies): both classes
        # contain flipped images, so the flip is not a cue.
        flip = rng.random(len(reals)) < 0.5
        plain = np.where(flip[:, None, None, None], reals[:, :, ::-1], reals)
        moved = transform_for_leak(plain[rng.permutation(len(plain))], self.kind, rng)
        x = np.concatenate([leak_features(plain), leak_features(moved)])
        y = np.concatenate([np.zeros(len(plain)), np.ones(len(moved))]).astype(np.float32)
        return x, y

    def fit(self, reals, holdout=0.25, copies=2):
        """Trains on part of `reals` and calibrates on the rest.

        Args:
            reals: uint8 [N, H, W, 3], N >= 8.
            holdout: float in (0, 1), fraction of reals kept for the calibration.
            copies: int, random transformed copies of each training real.

        Returns:
            self; `calibration` holds the fractions called transformed of the held-out
            reals (`real`: the false-positive rate), of their transformed copies
            (`transformed`: the detection rate), of them rotated uniformly in +-15 degrees
            (`classic_reals`) and of uniform noise images (`noise`), plus `num_real` and
            the classifier's `train_accuracy`.
        """
        reals = np.asarray(reals)
        if reals.ndim != 4 or len(reals) < 8:
            raise ValueError(f"reals must be [N >= 8, H, W, 3]. Received shape={reals.shape}")
        rng = np.random.default_rng(self.seed)
        order = rng.permutation(len(reals))
        cut = max(2, int(round(len(reals) * holdout)))
        test, train = reals[order[:cut]], reals[order[cut:]]
        parts = [self._samples(train, rng) for _ in range(copies)]
        x = np.concatenate([p[0] for p in parts])
        y = np.concatenate([p[1] for p in parts])
        self.mean, self.std = x.mean(0), x.std(0) + 1e-6
        self.w, self.b = _logistic_regression((x - self.mean) / self.std, y, self.l2,
                                              self.steps)
        flip = rng.random(len(test)) < 0.5
        test = np.where(flip[:, None, None, None], test[:, :, ::-1], test)
        moved = transform_for_leak(test, self.kind, rng)
        self.calibration = {
            "real": self.leak_rate(test),
            "transformed": self.leak_rate(moved),
            "num_real": int(len(test)),
            # What a generator that copied classic's augmented reals exactly would score
            # (rotations uniform in +-15 degrees, as ClassicAugment's default).
            "classic_reals": self.leak_rate(rotate_images(test, rng.uniform(-15, 15,
                                                                             len(test)))),
            # Structureless images: what a broken generator would score (see predict).
            "noise": self.leak_rate(rng.uniform(0, 255, (len(test), *test.shape[1:]))),
            "train_accuracy": float(np.mean(self.predict(x, features=True) == y)),
        }
        return self

    def score(self, images, features=False):
        """The classifier's logit per image (> 0: looks transformed): float [N]."""
        x = images if features else leak_features(images)
        return ((x - self.mean) / self.std) @ self.w + self.b

    def undo_candidates(self, images):
        """The transforms that would undo a leak: the images re-oriented (90, 180, 270
        degrees, upside down) or rotated back by 8-15 degrees either way."""
        images = np.asarray(images, np.float32)
        if self.kind == "orientation":
            return [np.rot90(images, k=k, axes=(1, 2)) for k in (1, 2, 3)] + [images[:, ::-1]]
        return [rotate_images(images, sign * angle) for angle in (8.0, 11.5, 15.0)
                for sign in (-1.0, 1.0)]

    def predict(self, images, features=False):
        """Whether each image looks transformed: bool [N].

        An image counts as transformed when one of `undo_candidates` of it looks more
        upright (a lower logit) than the image itself. Comparing an image with its own
        re-oriented copies, not the logit with a fixed threshold, keeps the test fair on
        fakes, which lie outside the distribution the classifier was trained on (blurry
        or broken images shift every logit, not their ranking). With `features=True` the
        plain threshold is used (training accuracy).
        """
        if features:
            return self.score(images, features=True) > 0
        own = self.score(images)
        undone = np.min([self.score(c) for c in self.undo_candidates(images)], axis=0)
        return own > undone

    def leak_rate(self, images):
        """Fraction of `images` called transformed."""
        return float(np.mean(self.predict(images)))


def _logistic_regression(x, y, l2, steps, lr=0.05):
    """Full-batch Adam on the mean logistic loss + l2 |w|^2 / 2. Returns (w, b)."""
    n, d = x.shape
    w, b = np.zeros(d, np.float64), 0.0
    m, v = np.zeros(d + 1), np.zeros(d + 1)
    for t in range(1, steps + 1):
        z = x @ w + b
        p = 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))
        grad = np.concatenate([x.T @ (p - y) / n + l2 * w, [np.mean(p - y)]])
        m = 0.9 * m + 0.1 * grad
        v = 0.999 * v + 0.001 * grad ** 2
        step = lr * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
        w -= step[:-1]
        b -= step[-1]
    return w.astype(np.float32), np.float32(b)


# ==========================================================================================
# The study
# ==========================================================================================


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
        arms: subset of `ARMS` to run, in order.
        ada_kimg: ADA's adjustment speed (None: a fifth of the budget, so p can reach its
            level inside a short run; stylegan2-ada's 500 is for runs of thousands of kimg).
        freeze_d: FreezeD blocks of the transfer arm's fine-tuning.
        num_gen: fakes per arm for the metrics and the leak test (None: as many as reals,
            at most 2000).
        feature_net: FID/KID's network: "auto" (the standard Inception if present, else
            the Keras InceptionV3 if its weights are cached, else no FID/KID), "none",
            "inception", "keras_inceptionv3".
        inception: path of the Inception weights ("": the Keras cache).
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
    arms: tuple = ARMS
    ada_kimg: float | None = None
    freeze_d: int = 0
    num_gen: int | None = None
    feature_net: str = "auto"
    inception: str = ""
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


class StudyError(ValueError):
    """A bad study setting; the message names the flag."""


def check_config(config):
    """Validates a `StudyConfig` before anything is trained.

    Raises:
        StudyError: naming the flag.
    """
    if (config.kimg is None) == (config.steps is None):
        raise StudyError("--kimg: give exactly one of --kimg and --steps")
    if config.kimg is not None and not config.kimg > 0:
        raise StudyError(f"--kimg: must be > 0, got {config.kimg}")
    if config.steps is not None and config.steps < 1:
        raise StudyError(f"--steps: must be >= 1, got {config.steps}")
    if config.pretrain_kimg is not None and not config.pretrain_kimg > 0:
        raise StudyError(f"--pretrain_kimg: must be > 0, got {config.pretrain_kimg}")
    if not config.arms:
        raise StudyError("--arms: give at least one arm")
    for arm in config.arms:
        if arm not in ARMS:
            raise StudyError(f"--arms: unknown arm {arm!r}; valid: {', '.join(ARMS)}")
    if len(set(config.arms)) != len(config.arms):
        raise StudyError(f"--arms: an arm is repeated in {list(config.arms)}")
    for kind in config.leak_kinds:
        if kind not in LEAK_KINDS:
            raise StudyError(f"--leak_kinds: unknown {kind!r}; valid: {', '.join(LEAK_KINDS)}")
    if config.feature_net not in ("auto", "none", "inception", "keras_inceptionv3"):
        raise StudyError("--feature_net: must be auto, none, inception or keras_inceptionv3, "
                         f"got {config.feature_net!r}")
    if config.num_gen is not None and config.num_gen < 8:
        raise StudyError(f"--num_gen: must be >= 8, got {config.num_gen}")
    if config.grid_images < 1:
        raise StudyError(f"--grid_images: must be >= 1, got {config.grid_images}")
    if config.ada_kimg is not None and not config.ada_kimg > 0:
        raise StudyError(f"--ada_kimg: must be > 0, got {config.ada_kimg}")


def _pretrain_classes(config):
    from tfdisgan.data import describe

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
    from tfdisgan import training

    budget = config.steps * (config.batch or 32) / 1000 if config.steps else config.kimg
    # Ten log lines; a checkpoint and a grid at half way and at the end.
    ticks = dict(tick_kimg=max(budget / 10, 1e-3), snapshot_ticks=5)
    common = dict(
        outdir=run_dir_parent, model=config.model,
        cfg=config.cfg if config.model == "stylegan2" else None,
        resolution=config.resolution, batch=config.batch, seed=config.seed,
        grid_seeds=config.grid_images, showcase=False, keep_checkpoints=1,
        precision=config.precision, **ticks,
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
    if augment in ("ada", "diffaugment+ada"):
        extra["ada_kimg"] = config.ada_kimg or max(budget / 5, 1e-3)
    if arm == "transfer":
        extra.update(transfer_from=transfer_from, freeze_d=config.freeze_d)
    return training.TrainConfig(
        data=config.data, classes=tuple(config.classes), kimg=config.kimg, steps=config.steps,
        augment=augment, run_name=arm.replace("+", "_"), **common, **extra)


def _last_log(run_dir):
    path = os.path.join(run_dir, "log.jsonl")
    last = {}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    last = json.loads(line)
    return last


def _train_arm(cfg, arm, runs, strategy, log, verbose):
    """Trains one arm; returns ``(run_dir, diverged message or None, wall seconds)``."""
    from tfdisgan import training
    from tfdisgan.callbacks import TrainingDiverged

    began = time.time()
    diverged = None
    try:
        run_dir = training.run(cfg, strategy=strategy, verbose=verbose)
    except TrainingDiverged as error:
        # A collapse to NaN is a result too: evaluate the last good checkpoint.
        diverged = str(error)
        run_dir = _latest_run_dir(runs, cfg.run_name)
        log(f"   {arm} diverged: {error}")
    return run_dir, diverged, time.time() - began


def _latest_run_dir(parent, name):
    entries = sorted(e for e in os.listdir(parent) if e.endswith(f"-{name}") and e[:5].isdigit())
    return os.path.join(parent, entries[-1])


def _feature_network(config):
    """(network or None, label): FID/KID's feature network, if one is on this machine."""
    if config.feature_net == "none":
        return None, "not computed (--feature_net=none)"
    from tfdisgan.metrics import features

    names = (("inception", "keras_inceptionv3") if config.feature_net == "auto"
             else (config.feature_net,))
    for name in names:
        try:
            network = features.get_feature_network(name, config.inception or None)
        except features.InceptionNotFoundError:
            continue
        label = network.name if network.comparable else f"{network.name} ({network.note})"
        return network, label
    if config.feature_net != "auto":
        features.check_available(names[0], config.inception or None)  # raises, says how
    return None, ("not computed: no feature network on this machine (neither the "
                  "Inception 2015-12-05 file nor the Keras InceptionV3 weights)")


def _copy_small(src, dst):
    """Copies a grid PNG as a 256-colour palette PNG (a third of the size, for docs/)."""
    from PIL import Image

    tmp = f"{dst}.tmp.png"
    with Image.open(src) as image:
        image.convert("RGB").quantize(256, dither=Image.Dither.NONE).save(tmp, optimize=True)
    os.replace(tmp, dst)


def _save_grid(images, path, columns=8):
    from tfdisgan.mixing import save_grid

    tmp = f"{path}.tmp.png"
    save_grid(images, tmp, columns=min(columns, len(images)))
    os.replace(tmp, path)


def _mean_logit(model, images, batch_size=64):
    """Mean discriminator logit (inference mode) over uint8 images, or None."""
    if images is None or not len(images):
        return None
    logits = []
    for start in range(0, len(images), batch_size):
        x = np.asarray(images[start:start + batch_size], np.float32) / 127.5 - 1.0
        logits.append(np.asarray(model.run_discriminator(x, None, training=False)))
    return float(np.mean(np.concatenate(logits)))


def heldout_reals(config, reals):
    """For procedural data, as many unseen scenes of the target classes as there are reals
    (the next ones after the training set), else None: D's logits on them against the
    training reals show discriminator overfitting (stylegan2-ada's figure 1)."""
    from tfdisgan.data import procedural

    if not procedural.is_procedural(config.data):
        return None
    images, _ = procedural.generate(2 * len(reals), reals.shape[1], seed=config.seed,
                                    classes=tuple(config.classes) or None)
    if not np.array_equal(images[:len(reals)], reals):
        return None  # not the continuation of the training set: no held-out set
    return images[len(reals):]


def evaluate(model, reals, detectors, num_gen, seed=0, network=None, real_features=None,
             grid_images=16, heldout=None):
    """Metrics and leak rates of a generator against the reals.

    Args:
        model: a `tfdisgan.models.GAN` (unconditional).
        reals: uint8 [N, H, W, 3].
        detectors: dict kind -> fitted `LeakDetector`.
        num_gen: int, fakes drawn (SWD uses min(num_gen, N) of each).
        seed: int, seed of the latents.
        network: FID/KID feature network or None; real_features: its features of the
            reals.
        grid_images: int, fakes returned for the sample grid.
        heldout: uint8 [M, H, W, 3] unseen reals or None.

    Returns:
        `(results dict, uint8 grid images)`. Besides the metrics, the mean D logits
        (inference mode) on the training reals (`d_real`), the held-out reals
        (`d_heldout`) and fakes of the trained (non-EMA) generator (`d_fake`), and ADA's
        final `aug_p` (None without ADA).
    """
    from tfdisgan.metrics import frechet, kid, msssim, swd

    z = np.random.RandomState(seed).randn(num_gen, model.z_dim).astype(np.float32)
    fakes = np.asarray(model.generate(z=z, batch_size=64))
    n = min(num_gen, len(reals))
    # The same random subset of reals for every arm: SWD compares equal counts.
    subset = reals[np.random.RandomState(seed).permutation(len(reals))[:n]]
    results = {
        "swd": swd.sliced_wasserstein_distance(subset, fakes[:n], seed=seed)["swd"],
        "msssim": msssim.msssim_diversity(fakes, seed=seed),
        "num_gen": int(num_gen),
        "swd_num": int(n),
    }
    if network is not None:
        # With a few hundred images both are biased by the counts: compare arms only.
        fake_features = network(fakes)
        results["kid"] = kid.kernel_inception_distance(real_features, fake_features,
                                                       seed=seed)
        results["fid"] = frechet.frechet_distance_from_features(real_features, fake_features)
    results["leak"] = {kind: d.leak_rate(fakes) for kind, d in detectors.items()}
    # Measured here, not read from log.jsonl: its tick values are the trackers' running
    # means since the start of the run, not the state at the end.
    raw = np.asarray(model.generate(z=z[:len(reals)], use_ema=False, batch_size=64))
    results.update(d_real=_mean_logit(model, reals), d_heldout=_mean_logit(model, heldout),
                   d_fake=_mean_logit(model, raw))
    p = getattr(model.augment, "p", None)
    results["aug_p"] = None if p is None else float(np.asarray(p))
    return results, fakes[:grid_images]


def _machine():
    import tensorflow as tf

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    gpus = [d.name for d in tf.config.list_physical_devices("GPU")]
    return {"cpu": cpu, "cpu_count": os.cpu_count(), "gpus": gpus,
            "python": platform.python_version(), "tensorflow": tf.__version__,
            "platform": platform.platform()}


def _write_atomic(path, text):
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def _fmt(value, digits=3):
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:.{digits}g}" if isinstance(value, float) else str(value)


def format_table(result):
    """The markdown table of a study result (`run_study`'s dict)."""
    kinds = list(result["calibration"])
    has_kid = any("kid" in a for a in result["arms"].values())
    head = ["arm", "augment", "kimg", "SWD x1e3 (lower better)", "MS-SSIM fakes"]
    if has_kid:
        head += [f"FID ({result['kid_network']})", "KID"]
    head += ["D(real)", "D(held-out)", "D(fake)", "aug_p"]
    head += [f"{k} leak" for k in kinds]
    head += ["img/s", "wall"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    reals = result["reals"]
    row = ["reals", "", "", "0", _fmt(reals["msssim"])]
    if has_kid:
        row += ["0", "0"]
    row += ["", "", "", ""] + [_fmt(result["calibration"][k]["real"], 2) for k in kinds]
    row += ["", ""]
    lines.append("| " + " | ".join(row) + " |")
    for arm, a in result["arms"].items():
        row = [arm + (" (diverged)" if a.get("diverged") else ""),
               a["augment"] + (" + transfer" if arm == "transfer" else ""),
               _fmt(a["kimg"]), _fmt(a["swd"]), _fmt(a["msssim"])]
        if has_kid:
            row += [_fmt(a.get("fid")), _fmt(a.get("kid"))]
        row += [_fmt(a.get("d_real")), _fmt(a.get("d_heldout")), _fmt(a.get("d_fake")),
                _fmt(a.get("aug_p"), 2)]
        row += [_fmt(a["leak"].get(k), 2) for k in kinds]
        row += [_fmt(a.get("img_per_s")), f"{a['wall_s']:.0f} s"]
        lines.append("| " + " | ".join(row) + " |")
    notes = [f"- {k} leak: fraction of fakes the `{k}` test calls transformed; calibration: "
             f"{result['calibration'][k]['real']:.2f} of held-out reals, "
             f"{result['calibration'][k]['transformed']:.2f} of their transformed copies, "
             f"{result['calibration'][k]['classic_reals']:.2f} of reals rotated uniformly in "
             "+-15 degrees (classic's rotations), "
             f"{result['calibration'][k]['noise']:.2f} of structureless noise images (the "
             "level a broken generator reaches: compare arms with each other)."
             for k in kinds]
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
    return "\n".join(lines) + "\n\n" + "\n".join(notes) + "\n"


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
    import keras
    import tensorflow as tf

    from tfdisgan import export, training
    from tfdisgan.data import describe
    from tfdisgan.metrics.core import load_reals
    from tfdisgan.metrics.features import InceptionNotFoundError
    from tfdisgan.metrics.msssim import msssim_diversity

    check_config(config)
    started = time.time()
    log = (lambda *a: print(*a, file=sys.stderr, flush=True)) if verbose else (lambda *a: None)
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
    heldout = heldout_reals(config, reals)
    num_gen = config.num_gen or min(len(reals), 2000)
    num_gen = max(num_gen, 8)
    log(f"Study: {len(reals)} reals of {config.data} {list(config.classes)} at {resolution} px,"
        f" arms {list(config.arms)}")
    detectors = {kind: LeakDetector(kind, seed=config.seed).fit(reals)
                 for kind in config.leak_kinds}
    try:
        network, kid_label = _feature_network(config)
    except InceptionNotFoundError as error:
        raise StudyError(f"--feature_net: {error}") from None
    real_feats = network(reals) if network is not None else None
    result = {
        "config": dataclasses.asdict(config),
        "machine": _machine(),
        "reals": {"num": int(len(reals)), "resolution": int(resolution),
                  "msssim": msssim_diversity(reals, seed=config.seed)},
        "calibration": {k: d.calibration for k, d in detectors.items()},
        "kid_network": kid_label,
        "arms": {},
    }
    _save_grid(reals[:config.grid_images], os.path.join(config.outdir, "reals.png"))
    if config.report_dir:
        _copy_small(os.path.join(config.outdir, "reals.png"),
                    os.path.join(config.report_dir, "reals.png"))
    # One strategy for every run: several MirroredStrategy objects in one process collide.
    strategy = tf.distribute.get_strategy()
    transfer_from = ""
    for arm in config.arms:
        if arm == "transfer":
            # Pre-trained just before its arm: the scratch arms' results come first.
            transfer_from = _pretrain(config, pretrain_cfg, runs, strategy, result, log,
                                      verbose)
        log(f"== arm {arm}")
        cfg = train_config(config, arm, runs, transfer_from=transfer_from)
        run_dir, diverged, wall = _train_arm(cfg, arm, runs, strategy, log, verbose)
        entry = {"augment": cfg.augment, "diverged": diverged, "wall_s": wall,
                 "run_dir": run_dir}
        if tf.train.latest_checkpoint(os.path.join(run_dir, "checkpoints")):
            model, _, _ = export.load_model(run_dir)
            metrics, grid = evaluate(model, reals, detectors, num_gen, seed=config.seed,
                                     network=network, real_features=real_feats,
                                     grid_images=config.grid_images, heldout=heldout)
            del model
            name = arm.replace("+", "_")
            entry["grid"] = os.path.join(config.outdir, f"{name}.png")
            _save_grid(grid, entry["grid"])
            if config.report_dir:
                _copy_small(entry["grid"], os.path.join(config.report_dir, f"{name}.png"))
            log(f"   {arm}: swd {metrics['swd']:.1f}, msssim {metrics['msssim']:.3f}, leak "
                f"{metrics['leak']}, {wall:.0f} s")
        else:
            metrics = {"swd": None, "msssim": None,
                       "leak": {k: None for k in config.leak_kinds}}
        last = _last_log(run_dir)
        entry.update(kimg=last.get("kimg"), img_per_s=last.get("img_per_s"), **metrics)
        result["arms"][arm] = entry
        keras.backend.clear_session()
        _write_report(config, result, started)  # after every arm: a partial report
    _write_report(config, result, started)
    return result


def _pretrain(config, pretrain_cfg, runs, strategy, result, log, verbose):
    """Trains the transfer arm's source model; returns its run folder."""
    import keras

    from tfdisgan import training

    log(f"== pretrain on {list(pretrain_cfg.classes) or pretrain_cfg.data}")
    began = time.time()
    pretrain_cfg = dataclasses.replace(pretrain_cfg, outdir=runs)
    run_dir = training.run(pretrain_cfg, strategy=strategy, verbose=verbose)
    result["pretrain"] = {"run_dir": run_dir, "data": pretrain_cfg.data,
                          "classes": list(pretrain_cfg.classes),
                          "kimg": _last_log(run_dir).get("kimg"),
                          "wall_s": time.time() - began}
    keras.backend.clear_session()
    return run_dir


def _write_report(config, result, started):
    result["total_s"] = time.time() - started
    result["table"] = format_table(result)
    _write_atomic(os.path.join(config.outdir, "study.json"),
                  json.dumps(result, indent=2, default=float))
    header = f"# Small-data study\n\n`{config.command}`\n\n" if config.command else ""
    _write_atomic(os.path.join(config.outdir, "study.md"), header + result["table"])
    if config.report_dir:
        for name in ("study.json", "study.md"):
            shutil.copyfile(os.path.join(config.outdir, name),
                            os.path.join(config.report_dir, name))


# ==========================================================================================
# Training-time vs inference-time cross-domain mixing
# ==========================================================================================

CROSS_MIX_ARMS = ("inference", "training")


def cross_mix_split(config, img_resolution):
    """The `ResolutionSplit` of the comparison: A (`mix_classes[0]`) gives every block
    outside `mix_res`, B (`mix_classes[1]`) the blocks in it (4-8 px from A, 16-32 px from
    B at 32 px), the split `--cross_mix=A:B@mix_res` trains.

    Raises:
        StudyError: naming --mix_res.
    """
    from tfdisgan import mixing

    try:
        b = mixing.parse_resolution_range(config.mix_res, img_resolution, "--mix_res")
    except ValueError as error:
        raise StudyError(str(error)) from None
    a = tuple(r for r in mixing.synthesis_resolutions(img_resolution) if r not in b)
    if not a:
        raise StudyError(f"--mix_res: {config.mix_res!r} is every block of the "
                         f"{img_resolution} px generator: nothing would come from class A")
    return mixing.ResolutionSplit(a, tuple(b), int(img_resolution))


def cross_mix_train_config(config, arm, run_dir_parent):
    """The `TrainConfig` of one arm of the cross-mixing comparison.

    Both arms train one conditional StyleGAN2 on the two `mix_classes` with DiffAugment,
    the same data, seed and budget; `training` adds `--cross_mix=A:B@mix_res`.
    """
    from tfdisgan import training

    if arm not in CROSS_MIX_ARMS:
        raise StudyError(f"unknown cross-mix arm {arm!r}; valid: {', '.join(CROSS_MIX_ARMS)}")
    budget = config.steps * (config.batch or 32) / 1000 if config.steps else config.kimg
    class_a, class_b = config.mix_classes
    extra = {}
    if arm == "training":
        extra = dict(cross_mix=f"{class_a}:{class_b}@{config.mix_res}",
                     cross_mix_prob=config.cross_mix_prob)
    return training.TrainConfig(
        data=config.data, classes=(class_a, class_b), conditional=True, model="stylegan2",
        cfg=config.cfg, resolution=config.resolution, batch=config.batch, kimg=config.kimg,
        steps=config.steps, augment=SCRATCH_ARM, seed=config.seed, precision=config.precision,
        outdir=run_dir_parent, run_name=f"cross_mix_{arm}", grid_seeds=config.grid_images,
        showcase=False, keep_checkpoints=1, tick_kimg=max(budget / 10, 1e-3),
        snapshot_ticks=5, **extra)


def _check_cross_mix_config(config):
    if (config.kimg is None) == (config.steps is None):
        raise StudyError("--kimg: give exactly one of --kimg and --steps")
    if config.kimg is not None and not config.kimg > 0:
        raise StudyError(f"--kimg: must be > 0, got {config.kimg}")
    if config.steps is not None and config.steps < 1:
        raise StudyError(f"--steps: must be >= 1, got {config.steps}")
    if len(config.mix_classes) != 2 or config.mix_classes[0] == config.mix_classes[1]:
        raise StudyError("--mix_classes: give two different classes A,B (A: structure, B: "
                         f"textures), got {list(config.mix_classes)}")
    if config.num_gen is not None and config.num_gen < 8:
        raise StudyError(f"--num_gen: must be >= 8, got {config.num_gen}")
    if config.grid_images < 1:
        raise StudyError(f"--grid_images: must be >= 1, got {config.grid_images}")


def evaluate_cross_mix(view, reals_a, reals_b, split, class_a, class_b, num_gen, seed=0):
    """Metrics of the class mixes of one conditional generator.

    Renders `mixing.class_mix` for `num_gen` seeds: per seed the same `z` mapped with class
    A and with class B, A's styles at `split.a`, B's at `split.b` (the `forward` mix).

    Args:
        view: a `mixing.GeneratorView` of a conditional StyleGAN2.
        reals_a, reals_b: uint8 [N, H, W, 3], the reals of class A and of class B.
        split: `mixing.ResolutionSplit`.
        class_a, class_b: class names or ids.
        num_gen: int, mixes drawn (SWD uses min(num_gen, N) of each set).
        seed: int; the seeds are seed * 100000 + [0, num_gen).

    Returns:
        `(results, mix)`: `results` holds, x 1e3, `swd_mix_vs_b` / `swd_mix_vs_a` (the mixes
        against B's and A's reals), `swd_b_vs_b` / `swd_a_vs_a` (the plain class fakes of the
        same z against their own reals: the generator's quality), `msssim_mix` (the mixes'
        diversity) and the counts; `mix` the `mixing.PairedMix`.
    """
    from tfdisgan import mixing
    from tfdisgan.metrics import msssim, swd

    seeds = list(range(seed * 100000, seed * 100000 + num_gen))
    mix = mixing.class_mix(view, seeds, class_a, class_b, split)
    n = min(num_gen, len(reals_a), len(reals_b))
    rng = np.random.RandomState(seed)
    sub_a = reals_a[rng.permutation(len(reals_a))[:n]]
    sub_b = reals_b[rng.permutation(len(reals_b))[:n]]

    def dist(reals, fakes):
        return swd.sliced_wasserstein_distance(reals, fakes[:n], seed=seed)["swd"]

    results = {
        "swd_mix_vs_b": dist(sub_b, mix.forward),
        "swd_mix_vs_a": dist(sub_a, mix.forward),
        "swd_b_vs_b": dist(sub_b, mix.b_images),
        "swd_a_vs_a": dist(sub_a, mix.a_images),
        "msssim_mix": msssim.msssim_diversity(mix.forward, seed=seed),
        "num_gen": int(num_gen),
        "swd_num": int(n),
    }
    return results, mix


def format_cross_mix_table(result):
    """The markdown table of `run_cross_mix_study`'s dict."""
    a, b = result["classes"]
    head = ["arm", "kimg", f"SWD mix vs {b}", f"SWD mix vs {a}", "MS-SSIM mixes",
            f"SWD {b} fakes vs {b}", f"SWD {a} fakes vs {a}", "img/s", "wall"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    reals = result["reals"]
    # The reals of A in place of the mixes: pure structure of A, none of B's textures.
    lines.append("| " + " | ".join(
        [f"{a} reals (for scale)", "", _fmt(reals["swd_a_vs_b"]), "0",
         _fmt(reals["msssim_a"]), "", "", "", ""]) + " |")
    for arm, e in result["arms"].items():
        name = {"inference": "plain + inference-time class_mix",
                "training": f"--cross_mix={result['cross_mix']} + class_mix"}[arm]
        row = [name + (" (diverged)" if e.get("diverged") else ""), _fmt(e.get("kimg")),
               _fmt(e.get("swd_mix_vs_b")), _fmt(e.get("swd_mix_vs_a")),
               _fmt(e.get("msssim_mix")), _fmt(e.get("swd_b_vs_b")),
               _fmt(e.get("swd_a_vs_a")), _fmt(e.get("img_per_s")), f"{e['wall_s']:.0f} s"]
        lines.append("| " + " | ".join(row) + " |")
    notes = [
        f"- Mixes: `class_mix` of each generator, {result['split']} (same z per seed), "
        f"{result['num_gen']} seeds; SWD x 1e3 against {result['swd_num']} reals of "
        "each class (lower: closer). The reals row puts A's reals in place of the mixes "
        f"(SWD between the two classes' reals); MS-SSIM of {b}'s reals: "
        f"{_fmt(reals['msssim_b'])}.",
        "- SWD of the plain class fakes (the same z, one class) against their own reals is "
        "each generator's quality: a mix can only be judged next to it.",
    ]
    return "\n".join(lines) + "\n\n" + "\n".join(notes) + "\n"


def run_cross_mix_study(config, verbose=True):
    """Training-time (`--cross_mix`) vs inference-time (`class_mix`) cross-domain mixing.

    Trains two conditional StyleGAN2 runs on the two `mix_classes` with the same data,
    seed and budget: `inference`, plain, and `training`, with
    `--cross_mix=A:B@mix_res`. From each it renders the same `class_mix` (A's coarse
    styles, B's `mix_res` styles, same z) and reports the mixes' SWD against B's and A's
    reals, their MS-SSIM diversity and each generator's plain per-class SWD
    (`evaluate_cross_mix`), plus a grid per arm (rows: A, B, mix).

    Outputs: OUTDIR/cross_mix.json, OUTDIR/cross_mix.md, OUTDIR/cross_mix_<arm>.png (also
    in `report_dir` when given); OUTDIR/runs/ holds the runs.

    Args:
        config: `StudyConfig` (`model`, `arms`, `classes`, leak and FID settings unused).
        verbose: print progress.

    Returns:
        dict: `config`, `machine`, `classes`, `cross_mix`, `split`, `reals`, `arms` (per
        arm: the `evaluate_cross_mix` results, kimg, img_per_s, wall_s, run_dir, grid,
        diverged), `table`, `total_s`.

    Raises:
        StudyError, training.ConfigError: a bad setting (before any training).
    """
    import keras
    import tensorflow as tf

    from tfdisgan import export, training
    from tfdisgan.callbacks import image_grid, save_png
    from tfdisgan.data import describe
    from tfdisgan.metrics import msssim, swd
    from tfdisgan.metrics.core import load_reals

    _check_cross_mix_config(config)
    started = time.time()
    log = (lambda *a: print(*a, file=sys.stderr, flush=True)) if verbose else (lambda *a: None)
    # Both arms are validated before the first trains; --mix_res before --cross_mix, so a
    # bad range is reported under the study's flag.
    probe = cross_mix_train_config(config, "inference", "")
    resolution = training.validate(probe, describe(probe.data))[0].resolution
    split = cross_mix_split(config, resolution)
    probe = cross_mix_train_config(config, "training", "")
    training.validate(probe, describe(probe.data))
    class_a, class_b = config.mix_classes
    os.makedirs(config.outdir, exist_ok=True)
    runs = os.path.join(config.outdir, "runs")
    if config.report_dir:
        os.makedirs(config.report_dir, exist_ok=True)
    reals_a, _ = load_reals(config.data, resolution, None, (class_a,), seed=config.seed)
    reals_b, _ = load_reals(config.data, resolution, None, (class_b,), seed=config.seed)
    num_gen = config.num_gen or min(len(reals_a), len(reals_b), 512)
    n = min(len(reals_a), len(reals_b))
    log(f"Cross-mix study: {len(reals_a)} {class_a} + {len(reals_b)} {class_b} reals of "
        f"{config.data} at {resolution} px, mix {split.describe(class_a, class_b)}")
    result = {
        "config": dataclasses.asdict(config),
        "machine": _machine(),
        "classes": [class_a, class_b],
        "cross_mix": f"{class_a}:{class_b}@{config.mix_res}",
        "split": split.describe(class_a, class_b),
        "swd_num": int(min(num_gen, n)),
        "num_gen": int(num_gen),
        "reals": {"num_a": int(len(reals_a)), "num_b": int(len(reals_b)),
                  "resolution": int(resolution),
                  "swd_a_vs_b": swd.sliced_wasserstein_distance(
                      reals_a[:n], reals_b[:n], seed=config.seed)["swd"],
                  "msssim_a": msssim.msssim_diversity(reals_a, seed=config.seed),
                  "msssim_b": msssim.msssim_diversity(reals_b, seed=config.seed)},
        "arms": {},
    }
    strategy = tf.distribute.get_strategy()
    for arm in CROSS_MIX_ARMS:
        log(f"== cross-mix arm {arm}")
        cfg = cross_mix_train_config(config, arm, runs)
        run_dir, diverged, wall = _train_arm(cfg, arm, runs, strategy, log, verbose)
        entry = {"diverged": diverged, "wall_s": wall, "run_dir": run_dir}
        if tf.train.latest_checkpoint(os.path.join(run_dir, "checkpoints")):
            view = export.load_network(run_dir, batch_size=64)
            metrics, mix = evaluate_cross_mix(view, reals_a, reals_b, split, class_a,
                                              class_b, num_gen, seed=config.seed)
            del view
            k = min(config.grid_images, num_gen, 8)
            # Rows: class A, class B, the mix (A's structure with B's textures); one seed
            # per column, at most 8 (a few KB for docs/).
            grid = image_grid(np.concatenate([mix.a_images[:k], mix.b_images[:k],
                                              mix.forward[:k]]), columns=k)
            entry["grid"] = os.path.join(config.outdir, f"cross_mix_{arm}.png")
            save_png(grid, entry["grid"])
            if config.report_dir:
                _copy_small(entry["grid"],
                            os.path.join(config.report_dir, f"cross_mix_{arm}.png"))
            log(f"   {arm}: mix swd vs {class_b} {metrics['swd_mix_vs_b']:.1f}, vs {class_a} "
                f"{metrics['swd_mix_vs_a']:.1f}, msssim {metrics['msssim_mix']:.3f}, "
                f"{wall:.0f} s")
        else:
            metrics = {}
        last = _last_log(run_dir)
        entry.update(kimg=last.get("kimg"), img_per_s=last.get("img_per_s"), **metrics)
        result["arms"][arm] = entry
        keras.backend.clear_session()
        _write_cross_mix_report(config, result, started)
    return result


def _write_cross_mix_report(config, result, started):
    result["total_s"] = time.time() - started
    result["table"] = format_cross_mix_table(result)
    _write_atomic(os.path.join(config.outdir, "cross_mix.json"),
                  json.dumps(result, indent=2, default=float))
    header = (f"# Training-time vs inference-time cross-domain mixing\n\n`{config.command}`\n\n"
              if config.command else "")
    _write_atomic(os.path.join(config.outdir, "cross_mix.md"), header + result["table"])
    if config.report_dir:
        for name in ("cross_mix.json", "cross_mix.md"):
            shutil.copyfile(os.path.join(config.outdir, name),
                            os.path.join(config.report_dir, name))
