"""MS-SSIM diversity: mean multi-scale SSIM of random pairs of images (lower = more diverse).

As in AC-GAN (Odena et al. 2017) and ProGAN's `metrics/ms_ssim.py`: draw disjoint random
pairs from a set of generated images and average `tf.image.ssim_multiscale` over the pairs.
A collapsing generator scores higher than the real data; compare `msssim` with
`msssim_real` of the training set.

Small images: `tf.image.ssim_multiscale` uses 5 scales with an 11x11 Gaussian window, so
every scale must keep >= 11 px: images of at least 176 px. For smaller images (the usual
32-64 px here) `msssim_settings` uses as many scales as keep >= 8 px (at most 5), a 7x7
window with sigma 1.5 * 7 / 11 (the same width relative to the window) and the first
power factors of Wang et al. renormalised to sum to 1. Values below 176 px are therefore
comparable between runs at one resolution, not with published MS-SSIM tables.

Reference:
    Wang, Simoncelli, Bovik, "Multiscale structural similarity for image quality
    assessment", 2003. Odena et al., "Conditional Image Synthesis with Auxiliary Classifier
    GANs", ICML 2017.
"""

import math

import numpy as np
import tensorflow as tf

POWER_FACTORS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)  # Wang et al. 2003
FILTER_SIZE = 11
FILTER_SIGMA = 1.5
SMALL_FILTER_SIZE = 7
MIN_SCALE_SIDE = 8


def msssim_settings(resolution):
    """`ssim_multiscale` arguments that work for images of side `resolution`.

    Args:
        resolution: int >= 8, the smaller image side.

    Returns:
        dict with `power_factors` (tuple), `filter_size` (int), `filter_sigma` (float).

    Raises:
        ValueError: resolution < 8.

    Example:
        >>> msssim_settings(64)["power_factors"]   # 4 scales: 64, 32, 16, 8 px
    """
    full = len(POWER_FACTORS)
    if resolution >= FILTER_SIZE * 2 ** (full - 1):
        return dict(power_factors=POWER_FACTORS, filter_size=FILTER_SIZE,
                    filter_sigma=FILTER_SIGMA)
    if resolution < MIN_SCALE_SIDE:
        raise ValueError(f"MS-SSIM needs images of at least {MIN_SCALE_SIDE} px. Received "
                         f"resolution={resolution}")
    scales = min(full, int(math.floor(math.log2(resolution / MIN_SCALE_SIDE))) + 1)
    weights = np.asarray(POWER_FACTORS[:scales])
    weights = tuple(float(w) for w in weights / weights.sum())
    size = SMALL_FILTER_SIZE
    return dict(power_factors=weights, filter_size=size,
                filter_sigma=FILTER_SIGMA * size / FILTER_SIZE)


def msssim_pairs(images_a, images_b, batch_size=256, settings=None):
    """MS-SSIM of each pair (images_a[i], images_b[i]).

    Args:
        images_a, images_b: uint8 [N, H, W, C] (or float in [0, 255]), one shape.
        batch_size: int, pairs per call.
        settings: dict of `msssim_settings` (default: from the image side).

    Returns:
        float64 [N] in [0, 1].

    Raises:
        ValueError: shapes differ.
    """
    images_a, images_b = np.asarray(images_a), np.asarray(images_b)
    if images_a.shape != images_b.shape or images_a.ndim != 4:
        raise ValueError(f"image sets must have one shape [N, H, W, C]. Received "
                         f"{images_a.shape} and {images_b.shape}")
    settings = settings or msssim_settings(min(images_a.shape[1:3]))
    scores = []
    for start in range(0, images_a.shape[0], batch_size):
        a = tf.convert_to_tensor(images_a[start:start + batch_size], tf.float32)
        b = tf.convert_to_tensor(images_b[start:start + batch_size], tf.float32)
        scores.append(tf.image.ssim_multiscale(a, b, max_val=255.0, **settings).numpy())
    return np.concatenate(scores).astype(np.float64)


def msssim_diversity(images, num_pairs=None, seed=0, batch_size=256):
    """Mean MS-SSIM over disjoint random pairs of a set of images.

    Args:
        images: uint8 [N, H, W, C], N >= 2.
        num_pairs: int or None, pairs to average (default and maximum: N // 2).
        seed: int, seed of the pairing.
        batch_size: int, pairs per call.

    Returns:
        float in [0, 1]; 1 for a set of identical images.

    Raises:
        ValueError: fewer than 2 images or a bad `num_pairs`.
    """
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[0] < 2:
        raise ValueError(f"MS-SSIM diversity needs >= 2 images [N, H, W, C]. Received "
                         f"shape={images.shape}")
    most = images.shape[0] // 2
    num_pairs = most if num_pairs is None else int(num_pairs)
    if not 1 <= num_pairs <= most:
        raise ValueError(f"num_pairs must be in [1, {most}] for {images.shape[0]} images. "
                         f"Received num_pairs={num_pairs}")
    order = np.random.RandomState(seed).permutation(images.shape[0])[:2 * num_pairs]
    scores = msssim_pairs(images[order[0::2]], images[order[1::2]], batch_size=batch_size)
    return float(np.mean(scores))
