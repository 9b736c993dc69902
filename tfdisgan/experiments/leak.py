"""The leak test of the small-data study: do generated images look transformed?

Augmenting only the reals (`--augment=classic`: flips, translations, rotations) teaches
the generator to produce the transformed images too: the augmentation "leaks". Two tests
measure it, each a logistic regression on small thumbnails and gradient-orientation
histograms (`leak_features`):

* `orientation`: trained on held-in reals (x-flipped or not) against the same reals rotated
  by 90/180/270 degrees or flipped upside down. A fake counts as transformed when one of
  its own re-oriented copies looks more upright to the classifier than the fake itself.
* `tilt`: the same, trained against reals rotated by 8-15 degrees either way with
  reflected borders (what `--augment=classic` does to the reals: flips, translations and
  rotations uniform in +-15 degrees); a fake counts as tilted when rotating it back by
  8-15 degrees one way or the other makes it look more upright.

Both are calibrated on held-out reals (the false-positive rate), their transformed copies
(the detection rate) and structureless noise (the rate of a broken generator, which is
high: comparing an image with its own rotations only means something for images with a
layout). Compare the arms of a study with each other, not with zero.

NumPy only: `rotate_images` is a bilinear rotation with Keras' reflected borders.

Example:
    >>> detector = LeakDetector("tilt").fit(reals)
    >>> detector.leak_rate(fakes)
"""

import math

import numpy as np

LEAK_KINDS = ("orientation", "tilt")


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
