"""Write a dataset as sharded TFRecords plus manifest.json; read it back with tf.data.

Layout of a dataset folder::

    DATA/
      manifest.json            resolution, classes, shards (+ sha256), rejects, provenance
      shard-00000-of-00002.tfrecord
      shard-00001-of-00002.tfrecord

Each record holds one image as raw uint8 HWC bytes (like the official StyleGAN2 TFRecords:
decoding is a memcpy, so the reader is never the bottleneck) or as PNG (`encoding="png"`,
about half the disk), its shape and its int64 class id. Images are spread over the shards in
a seeded random order, so every shard holds every class.

Example:
    >>> manifest = build_dataset("photos", "data/fire", resolution=256)
    >>> ds = load_dataset("data/fire", batch_size=32)
"""

import concurrent.futures
import datetime
import hashlib
import json
import math
import multiprocessing
import os
import shutil
import sys
import time
import uuid

import numpy as np
import tensorflow as tf

from tfdisgan.console import Progress, display_width, pad
from tfdisgan.data import folder as folder_lib
from tfdisgan.data import procedural
from tfdisgan.version import __version__

MANIFEST = "manifest.json"
FORMAT = "tfdisgan-tfrecords-v1"
ENCODINGS = ("raw", "png")
DEFAULT_SHARD_BYTES = 150 * 1024 * 1024


class DatasetError(ValueError):
    """A dataset folder or spec is missing, inconsistent or corrupt; the message names it."""


# ----------------------------------------------------------------------------------------
# Writing.


def _sha256(path, chunk=1 << 22):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def _example(image, label, encoding):
    if encoding == "png":
        data = tf.io.encode_png(image).numpy()
    else:
        data = image.tobytes()
    feature = {
        "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[data])),
        "shape": tf.train.Feature(int64_list=tf.train.Int64List(value=list(image.shape))),
        "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[int(label)])),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


# A spawned worker re-imports the main script (TensorFlow too when the script imports it):
# pools pay off from here on.
_MIN_FILES_FOR_POOL = 128


def iter_decoded(files, options, num_workers):
    """Yields (index, image, info, reason) in file order, decoding in a process pool.

    The pool spawns its workers: forking a process whose TensorFlow runtime has started its
    threads can deadlock the child.
    """
    jobs = [(f.path, *options) for f in files]
    if num_workers <= 1 or len(jobs) < _MIN_FILES_FOR_POOL:
        for index, job in enumerate(jobs):
            yield (index, *folder_lib.decode_job(job))
        return
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(num_workers, mp_context=context) as pool:
        chunk = max(1, min(16, len(jobs) // (num_workers * 8)))
        for index, result in enumerate(pool.map(folder_lib.decode_job, jobs, chunksize=chunk)):
            yield (index, *result)


def iter_unique(stream, candidates, rejects):
    """Passes decode results through, turning exact duplicates into rejects.

    Yields every `(index, image, info, extra)` of `stream`; `image` is None for a file that
    was rejected, which is then appended to `rejects` with its reason (the decoder's, or
    "exact duplicate of <first path>" for pixels already seen).
    """
    seen = {}
    for index, image, info, extra in stream:
        item = candidates[index]
        if image is not None and info["sha1"] in seen:
            image, extra = None, f"exact duplicate of {seen[info['sha1']]}"
        if image is None:
            rejects.append(folder_lib.Reject(item.path, extra, item.class_name))
        else:
            seen[info["sha1"]] = item.path
        yield index, image, info, extra


def _iter_procedural(count, resolution, seed):
    images, labels = procedural.generate(count, resolution, seed=seed)
    for index in range(count):
        image = images[index]
        info = {"sha1": hashlib.sha1(image.tobytes()).hexdigest(), "upscaled": False}
        yield index, image, info, int(labels[index])


def build_dataset(
    source,
    dest,
    resolution=256,
    crop="center",
    min_size=None,
    background="white",
    shards=None,
    encoding="raw",
    overwrite=False,
    num_workers=None,
    seed=0,
    verbose=True,
):
    """Turns an image folder (or `procedural:N`) into sharded TFRecords plus manifest.json.

    Every file is tried; rejects (not an image, truncated, too small, decompression bomb,
    exact duplicate of an earlier file, ...) are listed with their reasons in the console
    summary and in the manifest. Writing goes to a temporary sibling folder that is renamed to
    `dest` only once complete, so an interrupted run never leaves a dataset that looks valid.

    Args:
        source: str, a folder with one sub-folder per class (or a flat folder: one class), or
            "procedural:N" for the built-in synthetic scenes.
        dest: str, output folder; must not exist unless `overwrite`.
        resolution: int, side of the square images, default 256.
        crop: str, "center" | "pad" | "stretch" (see `folder.decode_image`).
        min_size: int or None, smallest accepted side in pixels, default `resolution // 2`.
        background: str, "white" | "black": behind transparency and padding.
        shards: int or None, number of shard files; default sized to ~150 MB each.
        encoding: str, "raw" (uint8 bytes, fastest to read) or "png" (smaller).
        overwrite: bool, replace an existing `dest`.
        num_workers: int or None, decoding processes; default: all cores.
        seed: int, seed of the order images are spread over the shards.
        verbose: bool, print progress and the summary table.

    Returns:
        The manifest dict (also written to `dest/manifest.json`).

    Raises:
        FileNotFoundError: `source` does not exist.
        FileExistsError: `dest` exists and `overwrite` is False.
        DatasetError: no usable image was found.
        ValueError: an option is invalid (the message names it).
    """
    min_size = folder_lib.validate_options(resolution, crop, min_size, background)
    if encoding not in ENCODINGS:
        raise ValueError(f"encoding must be one of {ENCODINGS}. Received encoding={encoding!r}")
    if shards is not None and (not isinstance(shards, int) or shards < 1):
        raise ValueError(f"shards must be a positive integer. Received shards={shards!r}")
    dest = os.path.abspath(os.fspath(dest))
    if os.path.exists(dest) and not overwrite:
        raise FileExistsError(f"Destination exists: {dest!r} (pass --overwrite to replace it)")
    num_workers = num_workers or os.cpu_count() or 1
    started = time.time()

    count = procedural.parse_spec(source) if isinstance(source, str) else None
    if count is not None:
        class_names = list(procedural.CLASS_NAMES)
        candidates = [folder_lib.SourceFile(f"procedural:{i}", "") for i in range(count)]
        rejects = []
        stream = _iter_procedural(count, resolution, seed)
        source_text = source
    else:
        candidates, rejects = folder_lib.scan_source(source)
        class_names = sorted({f.class_name for f in candidates})
        options = (resolution, crop, min_size, background)
        stream = iter_decoded(candidates, options, num_workers)
        source_text = os.path.abspath(os.fspath(source))
    class_ids = {name: i for i, name in enumerate(class_names)}

    bytes_per_image = resolution * resolution * 3 // (2 if encoding == "png" else 1)
    if shards is None:
        shards = max(1, math.ceil(len(candidates) * bytes_per_image / DEFAULT_SHARD_BYTES))
    shard_names = [f"shard-{i:05d}-of-{shards:05d}.tfrecord" for i in range(shards)]
    # A seeded permutation deals images round-robin to shards: each shard mixes all classes.
    order = np.random.default_rng(seed).permutation(max(len(candidates), 1))
    shard_of = {int(item): pos % shards for pos, item in enumerate(order)}

    parent = os.path.dirname(dest) or "."
    os.makedirs(parent, exist_ok=True)
    tmp = os.path.join(parent, f".{os.path.basename(dest)}.tmp-{uuid.uuid4().hex[:8]}")
    os.makedirs(tmp)
    try:
        writers = [tf.io.TFRecordWriter(os.path.join(tmp, name)) for name in shard_names]
        shard_counts = [0] * shards
        per_class = {name: {"kept": 0, "rejected": 0} for name in class_names}
        upscaled, kept = 0, 0
        progress = Progress(len(candidates), "images") if verbose else None
        for index, image, info, extra in iter_unique(stream, candidates, rejects):
            if image is not None:
                label = extra if count is not None else class_ids[candidates[index].class_name]
                shard = shard_of[index]
                writers[shard].write(_example(image, label, encoding))
                shard_counts[shard] += 1
                per_class[class_names[label]]["kept"] += 1
                upscaled += int(info["upscaled"])
                kept += 1
            if progress is not None:
                progress.update(index + 1, f"{kept} kept")
        for writer in writers:
            writer.close()
        for reject in rejects:
            if reject.class_name in per_class:
                per_class[reject.class_name]["rejected"] += 1
        if kept == 0:
            raise DatasetError(
                f"No usable image in {source_text!r}: {len(candidates)} candidate files, "
                f"{len(rejects)} rejected"
                + "".join(f"\n  {r.path}: {r.reason}" for r in rejects[:20])
            )
        # Shards that got no image (tiny datasets with many shards) are dropped.
        shard_entries = []
        for name, num in zip(shard_names, shard_counts, strict=False):
            path = os.path.join(tmp, name)
            if num == 0:
                os.remove(path)
                continue
            shard_entries.append({"file": name, "num_images": num, "sha256": _sha256(path)})
        manifest = {
            "format": FORMAT,
            "tool": f"tfdisgan {__version__}",
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            "source": source_text,
            "resolution": resolution,
            "channels": 3,
            "encoding": encoding,
            "crop": crop,
            "min_size": min_size,
            "background": background,
            "num_images": kept,
            "num_upscaled": upscaled,
            "classes": [
                {"id": i, "name": name, "num_images": per_class[name]["kept"]}
                for i, name in enumerate(class_names)
            ],
            "shards": shard_entries,
            "rejected": [
                {"path": r.path, "class": r.class_name, "reason": r.reason} for r in rejects
            ],
            "seconds": round(time.time() - started, 3),
        }
        with open(os.path.join(tmp, MANIFEST), "w", encoding="utf-8") as handle:
            json.dump(manifest, handle, ensure_ascii=False, indent=2)
        _commit_folder(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if verbose:
        print_summary(manifest)
    return manifest


def _commit_folder(tmp, dest):
    """Moves the finished `tmp` folder to `dest` with renames only (atomic on one filesystem)."""
    if os.path.exists(dest):
        trash = f"{tmp}.old"
        os.rename(dest, trash)
        os.rename(tmp, dest)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        os.rename(tmp, dest)


def print_summary(manifest, stream=sys.stdout):
    """Prints the per-class kept/rejected table and every rejected file with its reason."""
    rejected = {}
    for reject in manifest["rejected"]:
        rejected[reject["class"]] = rejected.get(reject["class"], 0) + 1
    # Padded by terminal columns: a Korean class name is twice as wide as its length.
    width = max([len("class")] + [display_width(c["name"]) for c in manifest["classes"]])
    lines = [f"{'id':>3}  {pad('class', width)}  {'kept':>7}  {'rejected':>8}"]
    for entry in manifest["classes"]:
        lines.append(
            f"{entry['id']:>3}  {pad(entry['name'], width)}  {entry['num_images']:>7}"
            f"  {rejected.get(entry['name'], 0):>8}"
        )
    lines.append(
        f"{'':>3}  {pad('total', width)}  {manifest['num_images']:>7}  "
        f"{len(manifest['rejected']):>8}"
    )
    for reject in manifest["rejected"]:
        lines.append(f"rejected: {reject['path']}: {reject['reason']}")
    if manifest.get("num_upscaled"):
        lines.append(
            f"note: {manifest['num_upscaled']} images were smaller than "
            f"{manifest['resolution']} px and were upscaled (>= min_size {manifest['min_size']})"
        )
    lines.append(
        f"{manifest['num_images']} images in {len(manifest['shards'])} shard(s) at "
        f"{manifest['resolution']}x{manifest['resolution']}, {manifest['seconds']:.1f}s"
    )
    stream.write("\n".join(lines) + "\n")


# ----------------------------------------------------------------------------------------
# Reading.


def read_manifest(path, verify_checksums=True):
    """Loads and validates `path/manifest.json` and the shards it lists.

    Args:
        path: str, a dataset folder written by `build_dataset`.
        verify_checksums: bool, compare each shard's sha256 with the manifest.

    Returns:
        The manifest dict.

    Raises:
        DatasetError: missing or malformed manifest, missing shard or checksum mismatch; the
            message names the file.
    """
    manifest_path = os.path.join(os.fspath(path), MANIFEST)
    if not os.path.isfile(manifest_path):
        raise DatasetError(f"Not a tfdisgan dataset: {manifest_path!r} does not exist")
    try:
        with open(manifest_path, encoding="utf-8") as handle:
            manifest = json.load(handle)
    except (OSError, json.JSONDecodeError) as error:
        raise DatasetError(f"Unreadable manifest {manifest_path!r}: {error}") from None
    missing = [k for k in ("format", "resolution", "classes", "shards") if k not in manifest]
    if missing or manifest.get("format") != FORMAT:
        raise DatasetError(
            f"Malformed manifest {manifest_path!r}: format={manifest.get('format')!r}, "
            f"missing keys {missing}"
        )
    for shard in manifest["shards"]:
        shard_path = os.path.join(os.fspath(path), shard["file"])
        if not os.path.isfile(shard_path):
            raise DatasetError(f"Shard listed in {manifest_path!r} is missing: {shard_path!r}")
        if verify_checksums and _sha256(shard_path) != shard["sha256"]:
            raise DatasetError(
                f"Checksum mismatch for shard {shard_path!r}: the file differs from the one "
                "written by the dataset tool (corrupt or modified); rebuild the dataset"
            )
    return manifest


_FEATURES = {
    "image": tf.io.FixedLenFeature([], tf.string),
    "shape": tf.io.FixedLenFeature([3], tf.int64),
    "label": tf.io.FixedLenFeature([], tf.int64),
}


def _parse_record(encoding, resolution):
    """A map fn: serialized Example -> (uint8 [H,W,3], int32 label)."""

    def parse(record):
        example = tf.io.parse_single_example(record, _FEATURES)
        if encoding == "png":
            image = tf.io.decode_png(example["image"], channels=3)
        else:
            image = tf.reshape(tf.io.decode_raw(example["image"], tf.uint8), example["shape"])
        image = tf.ensure_shape(image, [resolution, resolution, 3])
        return image, tf.cast(example["label"], tf.int32)

    return parse


def parse_batch(encoding, resolution):
    """A map fn on a batch of serialized Examples: one vectorised parse, uint8 [B,H,W,3]."""
    if encoding == "png":
        single = _parse_record(encoding, resolution)
        spec = (
            tf.TensorSpec([resolution, resolution, 3], tf.uint8),
            tf.TensorSpec([], tf.int32),
        )
        return lambda records: tf.map_fn(single, records, fn_output_signature=spec)

    def parse(records):
        examples = tf.io.parse_example(records, _FEATURES)
        flat = tf.io.decode_raw(examples["image"], tf.uint8)
        images = tf.reshape(flat, [-1, resolution, resolution, 3])
        return images, tf.cast(examples["label"], tf.int32)

    return parse


def shard_paths(path, manifest):
    """The absolute paths of a dataset's shard files, in manifest order."""
    return [os.path.join(os.fspath(path), shard["file"]) for shard in manifest["shards"]]


def read_records(path, manifest):
    """A finite `tf.data.Dataset` of (uint8 [H,W,3], int32 label) in file order."""
    files = shard_paths(path, manifest)
    parse = _parse_record(manifest.get("encoding", "raw"), manifest["resolution"])
    return tf.data.TFRecordDataset(files).map(parse, num_parallel_calls=tf.data.AUTOTUNE)


def read_all(path, manifest):
    """Reads a whole dataset into memory: (uint8 [N,H,W,3], int32 [N]) in file order."""
    images, labels = [], []
    for batch_images, batch_labels in read_records(path, manifest).batch(256):
        images.append(batch_images.numpy())
        labels.append(batch_labels.numpy())
    res = manifest["resolution"]
    if not images:
        return np.zeros([0, res, res, 3], np.uint8), np.zeros([0], np.int32)
    return np.concatenate(images), np.concatenate(labels)
