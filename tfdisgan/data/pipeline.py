"""`load_dataset`: the `tf.data` input pipeline for training, from any dataset spec.

A spec is one of:

* a dataset folder written by `build_dataset` (``manifest.json`` + TFRecord shards);
* a folder of images (decoded in memory, rejects reported as by the dataset tool);
* ``procedural:N``, the built-in synthetic disaster scenes.

Small datasets (the usual case: a few hundred to a few thousand photos) are held in memory
as uint8 and served by index. The order of the images is then a pure function of
``(seed, step)``: training resumes at any step with exactly the batches it would have seen,
and the union of the replicas' batches at a step is the same global batch whatever the
number of replicas or workers. Datasets larger than ``memory_limit`` stream from the shards
with a shuffle buffer, sharded across input pipelines by file when there are enough shards,
by record otherwise.

Example:
    >>> ds = load_dataset("procedural:512", batch_size=32, resolution=64, mirror=True)
    >>> images, labels = next(iter(ds))   # float32 [32, 64, 64, 3] in [-1, 1], int32 [32]
"""

import dataclasses
import json
import os
import sys
import threading

import numpy as np
import tensorflow as tf

from tfdisgan.data import folder as folder_lib
from tfdisgan.data import procedural, tfrecords

DEFAULT_MEMORY_LIMIT = 4 << 30
_SHUFFLE_BUFFER_BYTES = 256 << 20


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """What a spec holds, read without loading the images.

    Attributes:
        spec: str, the spec as given.
        kind: str, "tfrecords" | "folder" | "procedural".
        resolution: int or None, stored resolution (None: any, chosen when loading).
        class_names: tuple of str, index = class id.
        num_images: int or None, images available (None for a raw folder before decoding).
        path: str or None, the folder behind the spec.
    """

    spec: str
    kind: str
    resolution: int | None
    class_names: tuple
    num_images: int | None
    path: str | None = None

    @property
    def num_classes(self):
        return len(self.class_names)

    def class_id(self, name_or_id):
        """Resolves a class given by name (any Unicode) or id; ValueError lists the valid ones."""
        text = folder_lib.normalize_name(str(name_or_id).strip())
        if text in self.class_names:
            return self.class_names.index(text)
        if text.lstrip("-").isdigit() and 0 <= int(text) < len(self.class_names):
            return int(text)
        valid = ", ".join(f"{i}={n}" for i, n in enumerate(self.class_names))
        raise ValueError(f"Unknown class {name_or_id!r} for dataset {self.spec!r}; valid: {valid}")


def describe(spec):
    """Returns the `DatasetInfo` of a spec, reading only the manifest or folder names.

    Raises:
        DatasetError: the spec names nothing usable (message says what was expected).
    """
    spec = os.fspath(spec)
    count = procedural.parse_spec(spec)
    if count is not None:
        return DatasetInfo(spec, "procedural", None, tuple(procedural.CLASS_NAMES), count)
    if os.path.isfile(os.path.join(spec, tfrecords.MANIFEST)):
        manifest = tfrecords.read_manifest(spec, verify_checksums=False)
        names = tuple(c["name"] for c in sorted(manifest["classes"], key=lambda c: c["id"]))
        return DatasetInfo(
            spec, "tfrecords", manifest["resolution"], names, manifest["num_images"], spec
        )
    if os.path.isdir(spec):
        files, _ = folder_lib.scan_source(spec)
        names = tuple(sorted({f.class_name for f in files}))
        return DatasetInfo(spec, "folder", None, names, None, spec)
    raise tfrecords.DatasetError(
        f"Dataset spec {spec!r} is neither 'procedural:N', a dataset folder with "
        f"{tfrecords.MANIFEST}, nor a folder of images"
    )


# The procedural set last drawn, read-only: a run draws it twice (reals.png and the
# pipeline), and each render costs ~20 ms an image. Only small sets are kept.
_PROCEDURAL_CACHE = {}
_PROCEDURAL_CACHE_BYTES = 64 << 20


def _procedural_arrays(num_images, resolution, seed):
    key = (num_images, resolution, seed)
    if key not in _PROCEDURAL_CACHE:
        images, labels = procedural.generate(num_images, resolution, seed=seed)
        if images.nbytes > _PROCEDURAL_CACHE_BYTES:
            return images, labels
        images.flags.writeable = labels.flags.writeable = False
        _PROCEDURAL_CACHE.clear()
        _PROCEDURAL_CACHE[key] = images, labels
    return _PROCEDURAL_CACHE[key]


def _load_arrays(info, resolution, seed, verify_checksums, num_workers):
    """Loads a spec fully into memory: uint8 [N,H,W,3] and int32 [N] (procedural sets up
    to 64 MB read-only, shared with the previous call for the same set)."""
    if info.kind == "procedural":
        return _procedural_arrays(info.num_images, resolution, seed)
    if info.kind == "tfrecords":
        manifest = tfrecords.read_manifest(info.path, verify_checksums)
        return tfrecords.read_all(info.path, manifest)
    files, rejects = folder_lib.scan_source(info.path)
    ids = {name: i for i, name in enumerate(info.class_names)}
    images, labels = [], []
    options = (resolution, "center", None, "white")
    # None means all cores, as in build_dataset (the pool only starts for many files).
    stream = tfrecords.iter_decoded(files, options, num_workers or os.cpu_count() or 1)
    for index, image, _, _ in tfrecords.iter_unique(stream, files, rejects):
        if image is not None:
            images.append(image)
            labels.append(ids[files[index].class_name])
    for reject in rejects:
        sys.stderr.write(f"rejected: {reject.path}: {reject.reason}\n")
    if not images:
        raise tfrecords.DatasetError(f"No usable image in folder {info.path!r}")
    return np.stack(images), np.asarray(labels, np.int32)


def _replica_layout(input_context, batch_size):
    """(per-replica batch, replicas fed by this pipeline, index of its first replica)."""
    if input_context is None:
        return batch_size, 1, 0
    replicas = input_context.num_replicas_in_sync
    pipelines = input_context.num_input_pipelines
    if batch_size % replicas:
        raise ValueError(
            f"batch_size={batch_size} is not divisible by the {replicas} replicas in sync"
        )
    local = replicas // pipelines
    return batch_size // replicas, local, input_context.input_pipeline_id * local


class _IndexSampler:
    """Maps (step, replica) to dataset indices: a pure function of the seed.

    Global position p of the epoch-concatenated stream lives in epoch p // n at offset p % n
    of that epoch's permutation; a step takes positions [step*B, (step+1)*B) and replica r of
    R takes its slice r*b..(r+1)*b of them.
    """

    def __init__(self, n, batch_size, per_replica, seed, shuffle):
        self.n, self.batch_size, self.per_replica = n, batch_size, per_replica
        self.seed, self.shuffle = seed, shuffle
        self._cache = {}
        self._lock = threading.Lock()  # tf.data calls `indices` from several threads

    def permutation(self, epoch):
        if not self.shuffle:
            return np.arange(self.n)
        with self._lock:
            if epoch not in self._cache:
                if len(self._cache) > 4:
                    self._cache.pop(min(self._cache))
                rng = np.random.default_rng([self.seed, epoch])
                self._cache[epoch] = rng.permutation(self.n)
            return self._cache[epoch]

    def indices(self, step, replica):
        start = step * self.batch_size + replica * self.per_replica
        positions = np.arange(start, start + self.per_replica, dtype=np.int64)
        epochs, offsets = positions // self.n, positions % self.n
        out = np.empty_like(positions)
        for epoch in np.unique(epochs):
            mask = epochs == epoch
            out[mask] = self.permutation(int(epoch))[offsets[mask]]
        return out

    def flips(self, step, replica):
        rng = np.random.default_rng([self.seed, 0x5EED, step])
        coins = rng.random(self.batch_size) < 0.5
        start = replica * self.per_replica
        return coins[start : start + self.per_replica]


def _in_memory_dataset(images, labels, batch_size, input_context, seed, shuffle, repeat,
                       mirror, start_step):
    per_replica, local, first = _replica_layout(input_context, batch_size)
    n = len(images)
    if n < batch_size and not repeat:
        raise ValueError(f"batch_size={batch_size} needs more images than the {n} available "
                         "for one epoch (repeat=False)")
    # Repeating, a batch may exceed the images (a few-shot class): the stream of epoch
    # permutations is endless, so the batch takes the next positions across epochs, each
    # image about batch / n times, as the official InfiniteSampler's stream.
    sampler = _IndexSampler(n, batch_size, per_replica, seed, shuffle)
    resolution = images.shape[1]

    def fetch(element):
        step, replica = divmod(int(element), local)
        step += start_step
        idx = sampler.indices(step, first + replica)
        batch = images[idx]
        if mirror:
            flip = sampler.flips(step, first + replica)
            batch[flip] = batch[flip, :, ::-1]
        return batch, labels[idx]

    def fetch_tf(element):
        batch, label = tf.numpy_function(fetch, [element], (tf.uint8, tf.int32), stateful=False)
        batch = tf.ensure_shape(batch, [per_replica, resolution, resolution, 3])
        return batch, tf.ensure_shape(label, [per_replica])

    steps = None if repeat else max(n // batch_size - start_step, 0)
    count = -1 if steps is None else steps * local
    elements = tf.data.Dataset.range(count) if count >= 0 else tf.data.Dataset.counter()
    return elements.map(fetch_tf, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def _num_workers_from_tf_config():
    config = json.loads(os.environ.get("TF_CONFIG", "{}") or "{}")
    cluster = config.get("cluster", {})
    return max(1, len(cluster.get("worker", [])) + len(cluster.get("chief", [])))


def _streaming_dataset(info, manifest, batch_size, input_context, seed, shuffle, repeat,
                       mirror, start_step):
    per_replica, _, _ = _replica_layout(input_context, batch_size)
    files = tfrecords.shard_paths(info.path, manifest)
    options = tf.data.Options()
    pipelines = input_context.num_input_pipelines if input_context else 1
    by_file = len(files) >= max(pipelines, _num_workers_from_tf_config())
    file_ds = tf.data.Dataset.from_tensor_slices(files)
    if input_context is not None and pipelines > 1:
        if by_file:
            file_ds = file_ds.shard(pipelines, input_context.input_pipeline_id)
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    else:
        policy = tf.data.experimental.AutoShardPolicy
        options.experimental_distribute.auto_shard_policy = policy.FILE if by_file else policy.DATA
    if shuffle:
        file_ds = file_ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    ds = file_ds.interleave(
        tf.data.TFRecordDataset,
        cycle_length=min(len(files), 8),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    if input_context is not None and pipelines > 1 and not by_file:
        ds = ds.shard(pipelines, input_context.input_pipeline_id)
    if shuffle:
        # Shuffle the serialized records: cheap to move, and parsed a whole batch at a time.
        image_bytes = manifest["resolution"] ** 2 * 3
        buffer = int(np.clip(_SHUFFLE_BUFFER_BYTES // image_bytes, 64, 10000))
        ds = ds.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = ds.batch(per_replica, drop_remainder=True)
    if start_step:
        # Streaming order is reproducible but not random-access: resume by skipping batches
        # (before parsing them, so skipping costs reading only).
        ds = ds.skip(start_step)
    parse = tfrecords.parse_batch(manifest.get("encoding", "raw"), manifest["resolution"])
    ds = ds.map(parse, num_parallel_calls=tf.data.AUTOTUNE)
    if mirror:
        def flip(step, batch):
            images, labels = batch
            coins = tf.random.stateless_uniform([tf.shape(images)[0]], seed=[seed, step])
            flipped = tf.where(coins[:, None, None, None] < 0.5, tf.reverse(images, [2]), images)
            return flipped, labels

        ds = ds.enumerate(start=start_step).map(flip, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.map(_to_float, num_parallel_calls=tf.data.AUTOTUNE).with_options(options)


def load_dataset(
    spec,
    batch_size,
    resolution=None,
    *,
    classes=None,
    shuffle=True,
    repeat=True,
    mirror=False,
    seed=0,
    start_step=0,
    input_context=None,
    in_memory="auto",
    memory_limit=DEFAULT_MEMORY_LIMIT,
    verify_checksums=True,
    num_workers=None,
):
    """Builds the training input pipeline.

    Args:
        spec: str, a dataset folder, an image folder or "procedural:N".
        batch_size: int, the GLOBAL batch size (split over replicas by `input_context`).
        resolution: int or None. Must match a dataset folder's stored resolution when given;
            required for image folders and procedural specs.
        classes: None or iterable of class names / ids to keep; labels keep their dataset ids.
        shuffle: bool, random order (seeded); otherwise dataset order.
        repeat: bool, loop forever; otherwise one epoch of whole batches.
        mirror: bool, random x-flips (seeded, per image).
        seed: int, seed of order, flips and procedural scenes.
        start_step: int, first step to produce (exact resume: the same batches as an
            uninterrupted run from that step on).
        input_context: `tf.distribute.InputContext` or None: from
            `strategy.distribute_datasets_from_function`; the dataset then yields this
            pipeline's per-replica batches.
        in_memory: "auto" | True | False: hold decoded images in memory ("auto": when they
            fit in `memory_limit` bytes). Image folders and procedural specs always are.
        memory_limit: int, bytes for `in_memory="auto"`.
        verify_checksums: bool, check shard sha256 against the manifest.
        num_workers: int or None, decoding processes for raw image folders.

    Returns:
        `tf.data.Dataset` of `(images, labels)`: float32 [b, H, W, 3] in [-1, 1] and int32
        [b], b = per-replica batch (= `batch_size` without `input_context`).

    Raises:
        DatasetError: bad spec, missing shard, checksum mismatch, resolution mismatch (the
            message names the file).
        ValueError: a bad argument (named with its value).
    """
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(
            f"batch_size must be a positive integer. Received batch_size={batch_size!r}"
        )
    if start_step < 0:
        raise ValueError(f"start_step must be >= 0. Received start_step={start_step!r}")
    info = describe(spec)
    manifest = None
    if info.kind == "tfrecords":
        manifest = tfrecords.read_manifest(info.path, verify_checksums=False)
        if resolution is not None and resolution != info.resolution:
            raise tfrecords.DatasetError(
                f"resolution={resolution} asked, but {os.path.join(info.path, tfrecords.MANIFEST)}"
                f" stores {info.resolution} px images; rebuild the dataset or change resolution"
            )
        resolution = info.resolution
    elif resolution is None:
        raise ValueError(f"resolution is required for {info.kind} spec {info.spec!r}")
    keep = None if classes is None else sorted({info.class_id(c) for c in classes})

    if info.kind == "tfrecords":
        size = manifest["num_images"] * resolution * resolution * 3
        hold = in_memory is True or (in_memory == "auto" and size <= memory_limit)
        if not hold:
            if keep is not None:
                raise ValueError("classes= needs in_memory=True for datasets streamed from disk")
            tfrecords.read_manifest(info.path, verify_checksums)
            return _streaming_dataset(
                info, manifest, batch_size, input_context, seed, shuffle, repeat, mirror,
                start_step,
            ).prefetch(tf.data.AUTOTUNE)
    images, labels = _load_arrays(info, resolution, seed, verify_checksums, num_workers)
    if keep is not None:
        mask = np.isin(labels, keep)
        images, labels = images[mask], labels[mask]
        if not len(images):
            raise ValueError(f"classes={list(classes)} selects no image of {info.spec!r}")
    ds = _in_memory_dataset(
        images, labels, batch_size, input_context, seed, shuffle, repeat, mirror, start_step
    )
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    ds = ds.map(_to_float, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
    return ds.with_options(options)


def _to_float(images, labels):
    return tf.cast(images, tf.float32) * (1.0 / 127.5) - 1.0, labels
