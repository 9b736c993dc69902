"""Images as users get them: uint8 conversion, grids, PNG and GIF files (written
atomically)."""

import math
import os

import numpy as np
import tensorflow as tf
from PIL import Image


def to_uint8(images):
    """Images in ``[-1, 1]`` -> uint8 (NumPy), the one conversion of the package.

    ``(x * 127.5 + 128).clip(0, 255)`` truncated, as stylegan2-ada-pytorch's generate.py and
    metric_utils.py (``(img * 127.5 + 128).clamp(0, 255).to(torch.uint8)``). Used for generated
    images and for reals read back from the dataset (it inverts the reader's
    ``u / 127.5 - 1`` exactly for every level ``u``). ``to_uint8_tensor`` is the same in-graph.
    """
    images = np.asarray(images)
    return (images * 127.5 + 128).clip(0, 255).astype(np.uint8)


def to_uint8_tensor(images):
    """``to_uint8`` as TensorFlow ops (in-graph: the exported SavedModel's output)."""
    images = tf.convert_to_tensor(images)
    return tf.cast(tf.clip_by_value(images * 127.5 + 128.0, 0.0, 255.0), tf.uint8)


def enlarge(images, min_size=128):
    """uint8 images ``[..., H, W, C]`` repeated pixel by pixel (nearest neighbour) by the
    smallest integer factor that makes them at least ``min_size`` px tall, for viewing
    (a 32 px GIF is too small to see); already large enough: unchanged."""
    images = np.asarray(images)
    factor = max(1, math.ceil(min_size / images.shape[-3]))
    if factor == 1:
        return images
    return np.repeat(np.repeat(images, factor, axis=-3), factor, axis=-2)


def image_grid(images, columns=None):
    """Tiles uint8 images [N,H,W,C] into one [rows*H, columns*W, C] array (row-major)."""
    images = np.asarray(images)
    count, height, width, channels = images.shape
    columns = columns or int(math.ceil(math.sqrt(count)))
    rows = int(math.ceil(count / columns))
    grid = np.zeros((rows * height, columns * width, channels), images.dtype)
    for index, image in enumerate(images):
        row, col = divmod(index, columns)
        grid[row * height : (row + 1) * height, col * width : (col + 1) * width] = image
    return grid


def save_png(array, path):
    """Writes a uint8 image atomically (temporary file, then rename)."""
    tmp = f"{path}.tmp.png"
    Image.fromarray(np.asarray(array).squeeze()).save(tmp)
    os.replace(tmp, path)


def side_by_side(images, gap=None):
    """uint8 images ``[H_i, W_i, 3]`` in one row, top-aligned, separated by ``gap`` px of
    white (default: 1/16 of the tallest image, at least 2)."""
    height = max(i.shape[0] for i in images)
    gap = max(2, height // 16) if gap is None else gap
    width = sum(i.shape[1] for i in images) + gap * (len(images) - 1)
    out = np.full((height, width, 3), 255, np.uint8)
    x = 0
    for image in images:
        out[: image.shape[0], x : x + image.shape[1]] = image
        x += image.shape[1] + gap
    return out


def write_gif(frames, path, fps=24, loop=True):
    """Writes uint8 frames ``[F, H, W, 3]`` as an animated GIF, atomically.

    Each frame is quantised to its own adaptive 256-colour palette. Pillow merges
    identical consecutive frames into one longer frame (the duration is kept).

    Args:
        frames: uint8 ``[F, H, W, 3]`` (or ``[F, H, W]``), F >= 1.
        path: str, output file.
        fps: float > 0, frames per second (GIF stores centiseconds: rounded). Default 24.
        loop: bool, loop forever (True) or play once. Default True.

    Returns:
        ``path``.

    Raises:
        ValueError: bad frames or fps.
    """
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim not in (3, 4) or len(frames) == 0:
        raise ValueError(
            f"`frames` must be uint8 [F, H, W, 3] with F >= 1. Received: {frames.dtype} "
            f"{frames.shape}"
        )
    if not isinstance(fps, (int, float)) or isinstance(fps, bool) or not fps > 0:
        raise ValueError(f"`fps` must be a number > 0. Received: fps={fps}")
    images = [Image.fromarray(f) for f in frames]
    duration = max(10, int(round(100.0 / fps)) * 10)  # centisecond resolution
    tmp = f"{path}.tmp.gif"
    extra = {"loop": 0} if loop else {}
    images[0].save(tmp, save_all=True, append_images=images[1:], duration=duration,
                   disposal=1, **extra)
    os.replace(tmp, path)
    return path


def save_grid(images, path, columns=None):
    """Tiles uint8 ``[N, H, W, 3]`` into a grid PNG (``columns`` default ~sqrt(N))."""
    images = np.asarray(images)
    columns = columns or int(math.ceil(math.sqrt(len(images))))
    save_png(image_grid(images, columns), path)
    return path
