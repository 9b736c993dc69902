"""Sliced Wasserstein distance on Laplacian-pyramid patches (ProGAN's SWD).

For every pyramid level (image side down to 16 px) each image contributes 128 random 7x7x3
neighbourhoods; each set's descriptors are normalised per colour channel by their own mean
and standard deviation; the distance between the two descriptor sets is the sliced
Wasserstein distance: 4 repeats x 128 random unit directions, sort the projections, mean
absolute difference. Values are reported x 1e3 per level (`swd_64`, `swd_32`, ...) and
their average (`swd`), as ProGAN's `SWDx1e3_<res>` / `SWDx1e3_avg`.

Like ProGAN's `metrics/sliced_wasserstein.py`: the 5x5 binomial filter of `cv2.pyrDown` /
`pyrUp` with mirror padding, float32 descriptors, the same counts. Because each set is
normalised by its own statistics, SWD ignores a global per-channel brightness or contrast
change (as the original does); it measures the distribution of local structure at each
scale.

Memory: descriptors are float32, N x 128 x 147 x 4 bytes per level and set (16,384 images:
1.2 GB per level, x 2 sets); pass fewer images (`num_gen`) on small machines.

Reference:
    Karras et al., "Progressive Growing of GANs for Improved Quality, Stability, and
    Variation", ICLR 2018, appendix D. https://arxiv.org/abs/1710.10196
"""

import numpy as np

NHOOD_SIZE = 7
NHOODS_PER_IMAGE = 128
DIR_REPEATS = 4
DIRS_PER_REPEAT = 128
MIN_RESOLUTION = 16

_BINOMIAL = np.float32([1, 4, 6, 4, 1]) / 16.0


def pyramid_resolutions(resolution):
    """The level sides of an image of side `resolution`: halvings down to 16 px.

    Raises:
        ValueError: `resolution` < 16.
    """
    if resolution < MIN_RESOLUTION:
        raise ValueError(f"SWD needs images of at least {MIN_RESOLUTION} px. Received "
                         f"resolution={resolution}")
    resolutions = []
    while resolution >= MIN_RESOLUTION:
        resolutions.append(resolution)
        resolution //= 2
    return resolutions


def _blur(images, gain=1.0):
    """Separable 5x5 binomial filter over H and W of [N, H, W, C], mirror padding.

    scipy.ndimage's mode='mirror' (what ProGAN uses) is NumPy's pad mode 'reflect'.
    """
    taps = _BINOMIAL * np.float32(gain ** 0.5)
    out = np.pad(images, ((0, 0), (2, 2), (0, 0), (0, 0)), mode="reflect")
    out = sum(taps[i] * out[:, i:i + images.shape[1]] for i in range(5))
    out = np.pad(out, ((0, 0), (0, 0), (2, 2), (0, 0)), mode="reflect")
    return sum(taps[i] * out[:, :, i:i + images.shape[2]] for i in range(5))


def pyr_down(images):
    """cv2.pyrDown: blur, keep every other row and column. [N,H,W,C] -> [N,H/2,W/2,C]."""
    return _blur(images)[:, ::2, ::2]


def pyr_up(images):
    """cv2.pyrUp: zero-interleave, blur with gain 4. [N,H,W,C] -> [N,2H,2W,C]."""
    n, h, w, c = images.shape
    up = np.zeros((n, h * 2, w * 2, c), images.dtype)
    up[:, ::2, ::2] = images
    return _blur(up, gain=4.0)


def laplacian_pyramid(images, num_levels):
    """Laplacian pyramid of float32 [N, H, W, C]: band-pass levels, then the low-pass rest.

    Returns:
        list of `num_levels` float32 arrays, sides H, H/2, ...
    """
    pyramid = [np.asarray(images, np.float32)]
    for _ in range(1, num_levels):
        pyramid.append(pyr_down(pyramid[-1]))
        pyramid[-2] = pyramid[-2] - pyr_up(pyramid[-1])
    return pyramid


def sample_descriptors(level, rng, nhood_size=NHOOD_SIZE, nhoods_per_image=NHOODS_PER_IMAGE):
    """Random square neighbourhoods of each image of a level.

    Args:
        level: float32 [N, H, W, C].
        rng: `np.random.RandomState`.
        nhood_size: int, odd neighbourhood side (7).
        nhoods_per_image: int, neighbourhoods per image (128).

    Returns:
        float32 [N * nhoods_per_image, nhood_size, nhood_size, C].
    """
    n, h, w, _ = level.shape
    half = nhood_size // 2
    count = n * nhoods_per_image
    image = np.repeat(np.arange(n), nhoods_per_image)[:, None, None]
    offsets = np.arange(-half, half + 1)
    y = rng.randint(half, h - half, size=count)[:, None, None] + offsets[None, :, None]
    x = rng.randint(half, w - half, size=count)[:, None, None] + offsets[None, None, :]
    return level[image, y, x]


def finalize_descriptors(descriptors):
    """Concatenates descriptor batches, normalises each channel, flattens to [M, 7*7*C]."""
    if isinstance(descriptors, list):
        descriptors = np.concatenate(descriptors, axis=0)
    descriptors = descriptors - np.mean(descriptors, axis=(0, 1, 2), keepdims=True)
    std = np.std(descriptors, axis=(0, 1, 2), keepdims=True)
    # A constant channel (e.g. a flat test image) has std 0; leave it at zero, not NaN.
    descriptors = descriptors / np.where(std > 0, std, 1.0)
    return descriptors.reshape(descriptors.shape[0], -1).astype(np.float32)


def sliced_wasserstein(a, b, rng, dir_repeats=DIR_REPEATS, dirs_per_repeat=DIRS_PER_REPEAT):
    """Sliced Wasserstein-1 distance between two equally sized point sets [M, D].

    Returns:
        float, mean over repeats, directions and points of |sorted proj(a) - sorted proj(b)|.

    Raises:
        ValueError: the sets differ in shape.
    """
    if a.ndim != 2 or a.shape != b.shape:
        raise ValueError(f"descriptor sets must have one shape [M, D]. Received {a.shape} and "
                         f"{b.shape}")
    results = []
    for _ in range(dir_repeats):
        dirs = rng.randn(a.shape[1], dirs_per_repeat)
        dirs /= np.sqrt(np.sum(np.square(dirs), axis=0, keepdims=True))
        dirs = dirs.astype(np.float32)
        # [direction, point]: sorting along the contiguous axis is faster than axis=0.
        proj_a = np.sort(dirs.T @ a.T, axis=1)
        proj_b = np.sort(dirs.T @ b.T, axis=1)
        results.append(np.mean(np.abs(proj_a - proj_b)))
    return float(np.mean(results))


class DescriptorCollector:
    """Accumulates pyramid descriptors of image batches (streams 50k images in bounded steps).

    Args:
        resolution: int, image side (>= 16).
        seed: int, seed of the neighbourhood positions.

    Example:
        >>> collector = DescriptorCollector(32)
        >>> collector.feed(uint8_images)          # [N, 32, 32, 3], any number of calls
        >>> descriptors = collector.finalize()    # one [N*128, 147] array per level
    """

    def __init__(self, resolution, seed=0):
        self.resolutions = pyramid_resolutions(resolution)
        self.rng = np.random.RandomState(seed)
        self.batches = [[] for _ in self.resolutions]
        self.num_images = 0

    def feed(self, images):
        """Adds uint8 or float [N, H, W, 3] images in [0, 255]."""
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[1] != self.resolutions[0] or images.shape[2] != \
                self.resolutions[0]:
            raise ValueError(f"images must be [N, {self.resolutions[0]}, "
                             f"{self.resolutions[0]}, C]. Received shape={images.shape}")
        for index, level in enumerate(laplacian_pyramid(images, len(self.resolutions))):
            self.batches[index].append(sample_descriptors(level, self.rng))
        self.num_images += images.shape[0]

    def finalize(self):
        """The normalised descriptors, one float32 [M, 7*7*C] array per level."""
        if not self.num_images:
            raise ValueError("No image was fed to the descriptor collector")
        return [finalize_descriptors(batches) for batches in self.batches]


def swd_from_descriptors(real, fake, resolutions, seed=0):
    """SWD x 1e3 per level and their average from finalized descriptors.

    Returns:
        dict: `swd_<res>` per level and `swd` (the average), all x 1e3.
    """
    rng = np.random.RandomState(seed)
    results = {}
    for res, a, b in zip(resolutions, real, fake, strict=True):
        results[f"swd_{res}"] = sliced_wasserstein(a, b, rng) * 1e3
    results["swd"] = float(np.mean(list(results.values())))
    return results


def sliced_wasserstein_distance(real_images, fake_images, seed=0, batch_size=256):
    """ProGAN's SWD between two equally sized sets of images.

    Args:
        real_images: uint8 [N, H, W, 3] (H = W >= 16).
        fake_images: uint8 [N, H, W, 3], same shape.
        seed: int, seed of neighbourhoods and directions.
        batch_size: int, images per pyramid computation.

    Returns:
        dict: `swd_<res>` for each level (H, H/2, ..., 16) and `swd` (their average), x 1e3.

    Raises:
        ValueError: different shapes or images smaller than 16 px.

    Example:
        >>> sliced_wasserstein_distance(images, images)["swd"]
        0.0
    """
    real_images, fake_images = np.asarray(real_images), np.asarray(fake_images)
    if real_images.shape != fake_images.shape or real_images.ndim != 4:
        raise ValueError(f"real and fake images must have one shape [N, H, W, C]. Received "
                         f"{real_images.shape} and {fake_images.shape}")
    sets = []
    for images in (real_images, fake_images):
        # Both sets sample the same positions: identical sets then give exactly 0.
        collector = DescriptorCollector(images.shape[1], seed=seed)
        for start in range(0, images.shape[0], batch_size):
            collector.feed(images[start:start + batch_size])
        sets.append(collector.finalize())
    return swd_from_descriptors(sets[0], sets[1], collector.resolutions, seed=seed)
