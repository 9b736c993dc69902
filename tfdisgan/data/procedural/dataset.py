"""The procedural dataset's API: `render_scene`, `generate` (spawned worker processes for
large requests) and the ``"procedural:N"`` spec helpers `is_procedural` and `parse_spec`."""

import concurrent.futures
import multiprocessing
import os
import re
from collections.abc import Iterable

import numpy as np

from tfdisgan.data.procedural.canvas import Canvas
from tfdisgan.data.procedural.scenes import SCENES

CLASS_NAMES = ("building_fire", "wildfire", "earthquake", "flood")
MIN_RESOLUTION = 16
MAX_RESOLUTION = 512

SPEC_PREFIX = "procedural"
# Scenes are drawn at least this large, then downsampled: small outputs stay anti-aliased and
# the thin details (windows, cracks, ripples) average into the right colours.
_MIN_CANVAS = 128
_SUPERSAMPLE = 2
# Below this many images per worker a pool costs more to start than it saves: a spawned
# worker re-imports the main script, TensorFlow included when the script imports it (seconds).
_MIN_IMAGES_PER_SPAWN_WORKER = 512
_SPEC_PATTERN = re.compile(r"procedural:([0-9]+)")


# === Public API ===


def _check_resolution(resolution):
    valid = (
        isinstance(resolution, (int, np.integer))
        and not isinstance(resolution, bool)
        and MIN_RESOLUTION <= resolution <= MAX_RESOLUTION
        and resolution & (resolution - 1) == 0
    )
    if not valid:
        raise ValueError(
            f"`resolution` must be a power of two in [{MIN_RESOLUTION}, {MAX_RESOLUTION}]. "
            f"Received resolution={resolution!r}"
        )
    return int(resolution)


def _check_seed(seed):
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"`seed` must be a non-negative integer. Received seed={seed!r}")
    return int(seed)


def _check_index(index):
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or index < 0:
        raise ValueError(f"`index` must be a non-negative integer. Received index={index!r}")
    return int(index)


def render_scene(index: int, resolution: int, seed: int = 0) -> tuple[np.ndarray, int]:
    """Draws one synthetic disaster scene.

    The scene is a pure function of its arguments: the layout is drawn from
    `np.random.default_rng([seed, index])` in normalised coordinates, rendered on a canvas
    at least twice (and at least 128 px) as large as asked, and box-downsampled, so
    renders of one index at different resolutions show the same picture.

    Args:
        index: int >= 0. Which scene; its class is `index % 4` (see `CLASS_NAMES`).
        resolution: int. Output height and width in pixels, a power of two in
            [`MIN_RESOLUTION`, `MAX_RESOLUTION`] = [16, 512].
        seed: int >= 0, default 0. Selects a different dataset of the same classes.

    Returns:
        A tuple `(image, label)`: `image` is a uint8 NumPy array of shape
        `[resolution, resolution, 3]` (RGB) and `label` the int class id `index % 4`.

    Raises:
        ValueError: if `resolution` is not a power of two in [16, 512], or `index` or
            `seed` is negative or not an integer.

    Example:
        >>> image, label = render_scene(7, resolution=64)
        >>> image.shape, image.dtype, CLASS_NAMES[label]
        ((64, 64, 3), dtype('uint8'), 'flood')
    """
    index = _check_index(index)
    resolution = _check_resolution(resolution)
    seed = _check_seed(seed)
    label = index % len(CLASS_NAMES)
    rng = np.random.default_rng([seed, index])
    canvas = Canvas(max(_MIN_CANVAS, _SUPERSAMPLE * resolution))
    SCENES[label](canvas, rng)
    # Box filter = the mean over each block of supersamples: exact anti-aliasing, and fast.
    image = canvas.image.reduce(canvas.size // resolution)
    # Exposure and white balance of the "camera", per scene.
    grade = rng.uniform(0.88, 1.1) * rng.uniform(0.95, 1.05, 3)
    pixels = np.clip(np.asarray(image, dtype=np.float32) * grade.astype(np.float32), 0, 255)
    return np.round(pixels).astype(np.uint8), label


def _class_ids(classes):
    """Sorted unique class ids from names or ids; None means all classes."""
    if classes is None:
        return list(range(len(CLASS_NAMES)))
    if isinstance(classes, (str, int, np.integer)):
        classes = [classes]
    ids = set()
    for c in classes:
        if isinstance(c, str) and c in CLASS_NAMES:
            ids.add(CLASS_NAMES.index(c))
        elif (
            isinstance(c, (int, np.integer))
            and not isinstance(c, bool)
            and 0 <= c < len(CLASS_NAMES)
        ):
            ids.add(int(c))
        else:
            raise ValueError(
                f"Unknown class {c!r}. Valid classes are names {list(CLASS_NAMES)} "
                f"or ids 0..{len(CLASS_NAMES) - 1}."
            )
    if not ids:
        raise ValueError(f"`classes` is empty. Valid classes are {list(CLASS_NAMES)}.")
    return sorted(ids)


def _render_batch(indices, resolution, seed):
    images = np.empty((len(indices), resolution, resolution, 3), np.uint8)
    labels = np.empty(len(indices), np.int32)
    for i, index in enumerate(indices):
        images[i], labels[i] = render_scene(index, resolution, seed)
    return images, labels


def generate(
    num_images: int,
    resolution: int,
    seed: int = 0,
    classes: Iterable[str | int] | str | int | None = None,
    num_workers: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Draws the first `num_images` scenes of the procedural dataset.

    Image i is `render_scene(index_i, resolution, seed)`, where index_i is the i-th scene
    index whose class is kept, so class counts stay balanced (round-robin over the kept
    classes) and a filtered dataset is a subset of the unfiltered one. Large requests are
    spread over a pool of spawned worker processes; the result does not depend on
    `num_workers`.

    Args:
        num_images: int >= 1. How many images to draw.
        resolution: int. Height and width, a power of two in [16, 512].
        seed: int >= 0, default 0. Which dataset (see `render_scene`).
        classes: optional iterable of class names (see `CLASS_NAMES`) or ids to keep;
            default None keeps all four.
        num_workers: optional int >= 1, default None (= `os.cpu_count()`). Worker
            processes; 1 draws in this process.

    Returns:
        A tuple `(images, labels)`: uint8 array `[num_images, resolution, resolution, 3]`
        and int32 array `[num_images]` of class ids.

    Raises:
        ValueError: for `num_images` < 1, a bad `resolution`, `seed` or `num_workers`, or a
            class that is not in `CLASS_NAMES`.

    Example:
        >>> images, labels = generate(8, resolution=32, classes=["wildfire", "flood"])
        >>> images.shape, labels.tolist()
        ((8, 32, 32, 3), [1, 3, 1, 3, 1, 3, 1, 3])
    """
    if (
        isinstance(num_images, bool)
        or not isinstance(num_images, (int, np.integer))
        or num_images < 1
    ):
        raise ValueError(
            f"`num_images` must be a positive integer. Received num_images={num_images!r}"
        )
    resolution = _check_resolution(resolution)
    seed = _check_seed(seed)
    ids = _class_ids(classes)
    if num_workers is None:
        num_workers = os.cpu_count() or 1
    if (
        isinstance(num_workers, bool)
        or not isinstance(num_workers, (int, np.integer))
        or num_workers < 1
    ):
        raise ValueError(
            f"`num_workers` must be a positive integer. Received num_workers={num_workers!r}"
        )
    n = int(num_images)
    k = len(ids)
    indices = [(i // k) * len(CLASS_NAMES) + ids[i % k] for i in range(n)]
    context = _pool_context()
    workers = min(int(num_workers), n // _MIN_IMAGES_PER_SPAWN_WORKER)
    # A daemonic process (e.g. a multiprocessing worker) may not start children.
    if workers <= 1 or multiprocessing.current_process().daemon:
        return _render_batch(indices, resolution, seed)
    # Processes, not threads: drawing is pure Python + Pillow calls that hold the GIL, so a
    # thread pool measured slower than one thread. Several chunks per worker balance the load.
    chunks = [c.tolist() for c in np.array_split(np.asarray(indices), workers * 4)]
    images = np.empty((n, resolution, resolution, 3), np.uint8)
    labels = np.empty(n, np.int32)
    start = 0
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
        results = pool.map(_render_batch, chunks, [resolution] * len(chunks), [seed] * len(chunks))
        for chunk_images, chunk_labels in results:
            images[start : start + len(chunk_labels)] = chunk_images
            labels[start : start + len(chunk_labels)] = chunk_labels
            start += len(chunk_labels)
    return images, labels


def _pool_context():
    """Always "spawn": forking a process whose TensorFlow runtime has started its thread
    pools can deadlock the child (seen here: a benchmark process hung in forked workers after
    training). A spawned worker re-imports the package (seconds), so pools are only used for
    at least `_MIN_IMAGES_PER_SPAWN_WORKER` images per worker."""
    return multiprocessing.get_context("spawn")


def is_procedural(spec: object) -> bool:
    """Whether a dataset spec names the procedural dataset.

    True for any string of the form "procedural" or "procedural:...", well formed or not,
    so a caller can route it to `parse_spec`, which then reports a malformed spec.

    Args:
        spec: anything; only strings can be procedural specs.

    Returns:
        bool.

    Example:
        >>> is_procedural("procedural:2000"), is_procedural("photos/flood")
        (True, False)
    """
    return isinstance(spec, str) and spec.split(":", 1)[0] == SPEC_PREFIX


def parse_spec(spec: str) -> int | None:
    """Reads the image count from a "procedural:N" dataset spec.

    Args:
        spec: str. A dataset source as given on the command line: "procedural:N" for the
            first N images of this dataset, anything else for a folder or shards.

    Returns:
        N (int >= 1) for "procedural:N"; None for a string that is not a procedural spec
        (its part before the first ":" is not "procedural"), e.g. a folder path.

    Raises:
        ValueError: for a malformed procedural spec, e.g. "procedural", "procedural:abc" or
            "procedural:0", naming the spec and the expected form.

    Example:
        >>> parse_spec("procedural:2000"), parse_spec("data/floods")
        (2000, None)
    """
    if not is_procedural(spec):
        return None
    match = _SPEC_PATTERN.fullmatch(spec)
    if match is None or int(match.group(1)) < 1:
        raise ValueError(
            f"Malformed procedural dataset spec {spec!r}: expected 'procedural:N' with N a "
            "positive integer number of images, e.g. 'procedural:2000'."
        )
    return int(match.group(1))
