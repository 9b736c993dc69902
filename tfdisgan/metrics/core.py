"""Metric registry and the evaluation of a generator against a dataset.

Standard names and sample counts follow stylegan2-ada-pytorch `metrics/metric_main.py`:

===========  ==============================================================  ======
name         what                                                            fakes
===========  ==============================================================  ======
fid50k_full  FID, all reals (`frechet`)                                      50,000
kid50k_full  KID, up to 1M reals, 100 subsets of <= 1000 (`kid`)             50,000
pr50k3_full  precision/recall, k=3, up to 200k reals (`precision_recall`)    50,000
swd          ProGAN SWD x 1e3 per pyramid level + average (`swd`)            16,384
msssim       MS-SSIM of fake pairs (`msssim`), and of real pairs for scale   10,000
===========  ==============================================================  ======

`fid`, `kid` and `pr` are short for the first three. `num_gen` (for small-data runs, where
50k fakes per evaluation would cost more than the training) replaces the number of fakes
and the name says so: `fid50k_full` with `num_gen=2000` reports `fid2k_full`, so numbers of
different sample counts (FID is biased by N) are never confused. Each result is a dict like
stylegan2-ada's, appended as one line to ``RUN_DIR/metric-<name>.jsonl``.

The reals' features of the feature-network metrics (the slow part: an Inception pass over
the dataset) are cached in ``cache_dir`` (default ``$TFDISGAN_CACHE`` or
``~/.cache/tfdisgan/metrics``) under a key made of the dataset's identity (for a shard
folder the sha256 of its manifest.json, which lists every shard's sha256) and the metric
configuration (feature network weights, resolution, classes, number of reals): changing the
dataset or the configuration changes the key, so a stale entry is never read.

Example:
    >>> results = calc_metrics(model, "datasets/flood64", ["fid50k_full", "swd"],
    ...                        num_gen=2000, inception="~/inception-2015-12-05.tgz",
    ...                        run_dir="runs/00003-flood64-sg2-64-diffaugment")
    >>> results[0]["results"]          # (illustrative value)
    {'fid2k_full': 41.7}
"""

import contextlib
import dataclasses
import hashlib
import inspect
import json
import math
import os
import sys
import time

import numpy as np

from tfdisgan._validate import check_psi
from tfdisgan.console import Progress
from tfdisgan.images import to_uint8
from tfdisgan.metrics import features as features_lib
from tfdisgan.metrics import frechet, kid, msssim, precision_recall, swd

PR_NOT_COMPARABLE = ("not comparable with published precision/recall (these use Inception "
                     "features; stylegan2-ada's pr50k3_full uses VGG16)")

CACHE_VERSION = 1


@dataclasses.dataclass(frozen=True)
class MetricSpec:
    """A registered metric.

    Attributes:
        name: str, the standard name.
        kind: str, "fid" | "kid" | "pr" | "swd" | "msssim".
        num_gen: int, fakes by default.
        max_real: int or None, reals used at most (None: all).
        template: str, result name with `{n}` for a non-standard fake count ("" : the name).
    """

    name: str
    kind: str
    num_gen: int
    max_real: int | None
    template: str = ""

    @property
    def uses_features(self):
        return self.kind in ("fid", "kid", "pr")


METRICS = {
    spec.name: spec for spec in (
        MetricSpec("fid50k_full", "fid", 50000, None, "fid{n}_full"),
        MetricSpec("kid50k_full", "kid", 50000, 1000000, "kid{n}_full"),
        MetricSpec("pr50k3_full", "pr", 50000, 200000, "pr{n}3_full"),
        MetricSpec("swd", "swd", 16384, 16384),
        MetricSpec("msssim", "msssim", 10000, 10000),
    )
}
ALIASES = {"fid": "fid50k_full", "kid": "kid50k_full", "pr": "pr50k3_full"}


def _count(n):
    return f"{n // 1000}k" if n % 1000 == 0 else str(n)


def resolve_metrics(names):
    """Standard names for a list of names or aliases (comma-separated string accepted).

    Raises:
        ValueError: an unknown name (the message lists the valid ones).
    """
    if isinstance(names, str):
        names = [n for n in names.split(",") if n.strip()]
    resolved = []
    for name in names:
        name = ALIASES.get(name.strip(), name.strip())
        if name not in METRICS:
            valid = ", ".join([*METRICS, *ALIASES])
            raise ValueError(f"Unknown metric {name!r}; valid: {valid}")
        if name not in resolved:
            resolved.append(name)
    return resolved


def metric_name(name, num_gen=None):
    """The result name of metric `name` computed with `num_gen` fakes (see module doc)."""
    spec = METRICS[ALIASES.get(name, name)]
    if num_gen is None or num_gen == spec.num_gen or not spec.template:
        return spec.name
    return spec.template.format(n=_count(int(num_gen)))


def result_keys(name, num_gen=None):
    """The keys a metric puts into `results` (what `--best_metric` can name)."""
    spec = METRICS[ALIASES.get(name, name)]
    base = metric_name(name, num_gen)
    if spec.kind == "pr":
        return [f"{base}_precision", f"{base}_recall"]
    if spec.kind == "msssim":
        return [base, f"{base}_real"]
    if spec.kind == "swd":
        return [base]  # plus swd_<res> per pyramid level
    return [base]


def default_cache_dir():
    """``$TFDISGAN_CACHE`` or ``~/.cache/tfdisgan/metrics``."""
    return os.environ.get("TFDISGAN_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "tfdisgan", "metrics")


# ------------------------------------------------------------------------------------------
# Reals.


def dataset_fingerprint(spec):
    """Identity of a dataset's contents, without reading the images.

    Shard folders: sha256 of manifest.json (which holds every shard's sha256, so a rebuilt
    dataset gets a new fingerprint). Image folders: sha256 of the sorted (path, size,
    mtime) list. Procedural specs: the spec and the package version.
    """
    from tfdisgan.data import describe, tfrecords
    from tfdisgan.version import __version__

    info = describe(spec)
    if info.kind == "tfrecords":
        tfrecords.read_manifest(info.path, verify_checksums=False)  # errors name the file
        with open(os.path.join(info.path, tfrecords.MANIFEST), "rb") as handle:
            return "manifest-" + hashlib.sha256(handle.read()).hexdigest()
    if info.kind == "procedural":
        return f"{info.spec}-tfdisgan{__version__}"
    entries = []
    for root, _, files in os.walk(info.path):
        for name in sorted(files):
            path = os.path.join(root, name)
            stat = os.stat(path)
            entries.append(f"{os.path.relpath(path, info.path)}:{stat.st_size}:"
                           f"{stat.st_mtime_ns}")
    return "folder-" + hashlib.sha256("\n".join(sorted(entries)).encode()).hexdigest()


def load_reals(spec, resolution=None, max_items=None, classes=None, seed=0, batch_size=64):
    """The dataset's images as uint8 [N, H, W, 3] and labels int32 [N].

    All images when `max_items` is None or >= the dataset size (in dataset order), else a
    seeded random subset of `max_items`. Never mirrored.
    """
    from tfdisgan.data import describe, load_dataset

    info = describe(spec)
    total = info.num_images
    if total is None or classes is not None:
        # The number of images is known only once decoded (raw folder) or filtered (class
        # subset): read one epoch with batch 1, so no remainder is dropped.
        # (num_workers given: pipeline.load_dataset's default None fails for raw folders.)
        dataset = load_dataset(spec, 1, resolution, classes=classes, shuffle=max_items
                               is not None, repeat=False, seed=seed,
                               num_workers=os.cpu_count() or 1)
        wanted = max_items
    else:
        shuffle = max_items is not None and max_items < total
        wanted = max_items if shuffle else total
        # Repeating, unshuffled: the first `total` positions are every image once.
        dataset = load_dataset(spec, min(batch_size, total), resolution, shuffle=shuffle,
                               repeat=True, seed=seed)
    images, labels, count = [], [], 0
    for batch, label in dataset:
        images.append(to_uint8(batch.numpy()))  # the stored levels, exactly
        labels.append(label.numpy())
        count += len(labels[-1])
        if wanted is not None and count >= wanted:
            break
    if not images:
        raise ValueError(f"Dataset {spec!r} yielded no image (classes={classes})")
    images, labels = np.concatenate(images), np.concatenate(labels).astype(np.int32)
    return images[:wanted], labels[:wanted]


def _cache_path(cache_dir, spec, key_fields):
    text = json.dumps(key_fields, sort_keys=True)
    digest = hashlib.md5(text.encode("utf-8")).hexdigest()
    base = os.path.basename(os.fspath(spec).rstrip("/")).replace(":", "") or "data"
    return os.path.join(cache_dir, f"{base}-{key_fields['feature_net']}-{digest}.npz")


def real_features(spec, network, resolution=None, max_real=None, classes=None, cache_dir=None,
                  use_cache=True, verbose=False):
    """Feature-network features of the reals, from the cache when its key matches.

    Returns:
        `(features float32 [N, D], cache_hit bool)`.
    """
    from tfdisgan.data import describe

    fingerprint = dataset_fingerprint(spec)
    total = describe(spec).num_images
    if max_real is not None and total is not None and classes is None and max_real >= total:
        max_real = None  # all reals either way: fid (all) and pr (<= 200k) share one entry
    key_fields = {
        "version": CACHE_VERSION, "dataset": fingerprint, "feature_net": network.name,
        "weights": network.fingerprint, "resolution": resolution, "max_real": max_real,
        "classes": None if classes is None else sorted(str(c) for c in classes),
    }
    path = _cache_path(cache_dir or default_cache_dir(), spec, key_fields) if use_cache else None
    if path and os.path.isfile(path):
        with np.load(path) as stored:
            if json.loads(str(stored["key"])) == key_fields:
                return stored["features"], True
    images, _ = load_reals(spec, resolution, max_real, classes)
    if verbose:
        print(f"Computing {network.name} features of {len(images)} reals", file=sys.stderr)
    feats = network(images)
    if path:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.tmp{os.getpid()}.npz"
        np.savez(tmp, features=feats, key=json.dumps(key_fields, sort_keys=True))
        os.replace(tmp, path)
    return feats, False


# ------------------------------------------------------------------------------------------
# Fakes.


def _label_sampler(model, spec, resolution, classes, rng):
    """Labels for conditional fakes: drawn from the reals' label distribution (as
    stylegan2-ada's `dataset.get_label(np.random.randint(len(dataset)))`)."""
    if not getattr(model, "num_classes", 0):
        return lambda n: None
    _, labels = load_reals(spec, resolution, None, classes)
    return lambda n: labels[rng.randint(len(labels), size=n)]


def _generate_fn(model, batch_size):
    """`f(z, labels, psi) -> uint8 NHWC` for a GAN (`generate`) or a generator view of
    `tfdisgan.export.load_network` (`images_from_z`). Random noise wherever the network
    has noise inputs, as the official metrics sample StyleGAN2 with noise_mode='random':
    a checkpoint scores the same during training (a GAN model) and after (a view)."""
    if hasattr(model, "generate"):
        extra = {}
        if "noise_mode" in inspect.signature(model.generate).parameters:
            extra["noise_mode"] = "random"
        return lambda z, labels, psi: model.generate(z=z, labels=labels, psi=psi,
                                                     batch_size=batch_size, **extra)
    if hasattr(model, "images_from_z"):
        modes = getattr(model, "noise_modes", ("const",))
        noise = "random" if "random" in modes else modes[0]
        return lambda z, labels, psi: model.images_from_z(z, labels=labels, psi=psi,
                                                          noise_mode=noise)
    raise ValueError(f"model must have generate(z=...) or images_from_z(z); received {model!r}")


def iterate_fakes(model, num, batch_size=64, seed=0, psi=1.0, label_fn=None):
    """Yields uint8 batches [b, H, W, 3] of `num` fakes of `model`.

    Latents are `np.random.RandomState(seed)` normals and random noise is drawn under
    `GAN.fixed_noise(seed)`, so an evaluation is reproducible.
    """
    rng = np.random.RandomState(seed)
    label_fn = label_fn or (lambda n: None)
    generate = _generate_fn(model, batch_size)
    # Random noise from a stream fixed by `seed` too (GAN.fixed_noise): the same weights
    # score the same during training and afterwards. A SavedModel has const noise only.
    gan = model if hasattr(model, "fixed_noise") else getattr(model, "model", None)
    fixed = gan.fixed_noise(seed) if hasattr(gan, "fixed_noise") else contextlib.nullcontext()
    with fixed:
        done = 0
        while done < num:
            n = min(batch_size, num - done)
            z = rng.randn(n, model.z_dim).astype(np.float32)
            images = np.asarray(generate(z, label_fn(n), psi))
            if images.shape[-1] == 1:
                images = np.repeat(images, 3, axis=-1)
            yield images
            done += n


# ------------------------------------------------------------------------------------------
# Evaluation.


def _format_time(seconds):
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds // 3600}h {seconds // 60 % 60:02d}m"


def calc_metrics(model, data, metrics, *, num_gen=None, feature_net="inception",
                 inception=None, network=None, resolution=None, classes=None, psi=1.0,
                 seed=0, batch_size=64, cache_dir=None, use_cache=True, run_dir=None,
                 snapshot=None, extra=None, verbose=False, inception_sha256=None):
    """Evaluates a generator on several metrics in one generation pass.

    Args:
        model: a `tfdisgan.models.GAN`, a generator view of `tfdisgan.export.load_network`
            (run folder, checkpoint or SavedModel), or anything with `z_dim`, `num_classes`
            and `generate(z=..., labels=..., psi=..., batch_size=...)` -> uint8 NHWC.
        data: str, the dataset spec (`tfdisgan.data.load_dataset`).
        metrics: names or aliases (list or comma-separated str).
        num_gen: int or None, fakes per metric instead of the standard counts.
        feature_net: str, "inception" (standard FID network) | "keras_inceptionv3".
        inception: str or None, `--inception=PATH` (see `features.find_inception`).
        inception_sha256: str or None, the digest of the Inception graph the user checked
            (see `features.get_feature_network`).
        network: a `features.FeatureNetwork` to use instead (tests, custom networks).
        resolution: int or None, image side (default: the generator's output); the reals
            are loaded at it (a shard dataset must store that resolution).
        classes: None or class names/ids the reals are restricted to.
        psi: float, truncation of the fakes (1: none, as the standard metrics).
        seed: int, seed of latents, labels and random choices.
        batch_size: int, images per generator / feature-network call.
        cache_dir: str or None, cache of real features (default `default_cache_dir()`).
        use_cache: bool, read and write that cache.
        run_dir: str or None, where `metric-<name>.jsonl` lines are appended.
        snapshot: str or None, the checkpoint evaluated (recorded relative to run_dir).
        extra: dict or None, more fields for every record (e.g. kimg during training).
        verbose: bool, progress and result lines on stderr / stdout.

    Returns:
        list of result dicts, one per metric: `results` (the values), `metric`,
        `total_time`, `num_gen`, `num_real`, `feature_net`, `comparable_with_papers`,
        `note` (feature metrics with a non-standard network), `snapshot`, `timestamp`.

    Raises:
        ValueError: unknown metric, bad count, or ``psi`` outside ``[-1, 2]`` (checked before
            the reals are read).
        features.InceptionNotFoundError: the feature network's weights are missing.
    """
    names = resolve_metrics(metrics)
    check_psi(psi)
    if num_gen is not None and (not isinstance(num_gen, (int, np.integer)) or num_gen < 2):
        raise ValueError(f"num_gen must be an int >= 2. Received num_gen={num_gen!r}")
    specs = [METRICS[n] for n in names]
    counts = {s.name: int(num_gen or s.num_gen) for s in specs}
    feature_specs = [s for s in specs if s.uses_features]
    started = time.time()
    if feature_specs and network is None:
        network = features_lib.get_feature_network(feature_net, inception, batch_size,
                                                    inception_sha256)
    if resolution is None:  # the generator's output side, which the reals must match
        resolution = getattr(model, "resolution", None) or int(np.asarray(_generate_fn(
            model, 1)(np.zeros([1, model.z_dim], np.float32),
                      np.zeros([1], np.int32) if getattr(model, "num_classes", 0) else None,
                      1.0)).shape[1])
    rng = np.random.RandomState(seed)
    labels_for = _label_sampler(model, data, resolution, classes, rng)

    # The reals first: a dataset problem shows before any generation.
    real_feats, cache_hit, real_time = None, None, 0.0
    if feature_specs:
        max_real = max((s.max_real or 0 for s in feature_specs), default=0)
        max_real = None if any(s.max_real is None for s in feature_specs) else max_real
        began = time.time()
        real_feats, cache_hit = real_features(data, network, resolution, max_real, classes,
                                              cache_dir, use_cache, verbose)
        real_time = time.time() - began

    # One pass over the fakes feeds every metric (stylegan2-ada generates per metric).
    need_feat = max((counts[s.name] for s in feature_specs), default=0)
    swd_spec = METRICS["swd"] if "swd" in names else None
    ms_spec = METRICS["msssim"] if "msssim" in names else None
    reals_swd = None
    if swd_spec is not None:
        reals_swd, _ = load_reals(data, resolution, swd_spec.max_real, classes, seed)
        # A random subset when there are more reals than fakes (not the first in file order).
        reals_swd = reals_swd[np.random.RandomState(seed).permutation(len(reals_swd))]
        counts["swd"] = min(counts["swd"], len(reals_swd))  # SWD compares equal counts
    total = max([need_feat] + [counts[n] for n in ("swd", "msssim") if n in counts])
    fake_feats, collector, ms_scores, done = [], None, [], 0
    progress = Progress(total, "fakes") if verbose else None
    for images in iterate_fakes(model, total, batch_size, seed, psi, labels_for):
        if done < need_feat:
            fake_feats.append(network(images[: need_feat - done]))
        if swd_spec is not None and done < counts["swd"]:
            if collector is None:
                collector = swd.DescriptorCollector(images.shape[1], seed=seed)
            collector.feed(images[: counts["swd"] - done])
        if ms_spec is not None and done < counts["msssim"]:
            part = images[: counts["msssim"] - done]
            half = len(part) // 2 * 2
            if half:  # consecutive fakes are independent draws: pair them (as ProGAN)
                ms_scores.append(msssim.msssim_pairs(part[0:half:2], part[1:half:2]))
        done += len(images)
        if progress is not None:
            progress.update(min(done, total))
    gen_time = time.time() - started - real_time
    fake_feats = np.concatenate(fake_feats) if fake_feats else None

    records = []
    for spec in specs:
        began = time.time()
        name, n = metric_name(spec.name, num_gen), counts[spec.name]
        record_extra = {}
        if spec.kind in ("fid", "kid", "pr"):
            fakes = fake_feats[:n]
            reals = real_feats if spec.max_real is None else real_feats[: spec.max_real]
            if spec.kind == "fid":
                values = {name: frechet.frechet_distance_from_features(reals, fakes)}
            elif spec.kind == "kid":
                values = {name: kid.kernel_inception_distance(reals, fakes, seed=seed)}
            else:
                p, r = precision_recall.precision_recall(reals, fakes, k=3)
                values = {f"{name}_precision": p, f"{name}_recall": r}
            num_real = len(reals)
            record_extra.update(network.describe())
            if spec.kind == "pr":
                # stylegan2-ada's pr50k3_full embeds with VGG16 fc2, never Inception.
                record_extra.update(comparable_with_papers=False, note=PR_NOT_COMPARABLE)
            record_extra["real_cache_hit"] = cache_hit
        elif spec.kind == "swd":
            collector_real = swd.DescriptorCollector(reals_swd.shape[1], seed=seed)
            for start in range(0, n, 256):
                collector_real.feed(reals_swd[start:min(start + 256, n)])
            values = swd.swd_from_descriptors(collector_real.finalize(), collector.finalize(),
                                              collector.resolutions, seed=seed)
            num_real = n
            record_extra["units"] = "x1e3"
        else:
            reals, _ = load_reals(data, resolution, spec.max_real, classes, seed)
            values = {name: float(np.mean(np.concatenate(ms_scores))),
                      f"{name}_real": msssim.msssim_diversity(reals, seed=seed)}
            num_real = len(reals)
            record_extra["msssim_settings"] = msssim.msssim_settings(resolution)
        seconds = time.time() - began + gen_time * n / max(total, 1)
        if spec.uses_features:
            seconds += real_time
        record = {
            "results": {k: float(v) for k, v in values.items()},
            "metric": name,
            "total_time": seconds,
            "total_time_str": _format_time(seconds),
            # The metrics run on one device: a GPU when TensorFlow sees one.
            "num_gpus": 1 if _gpus_visible() else 0,
            "num_gen": n,
            "num_real": num_real,
            "resolution": resolution,
            "data": os.fspath(data),
            **record_extra,
            **(extra or {}),
            "snapshot": (os.path.relpath(snapshot, run_dir) if snapshot and run_dir
                         else snapshot),
            "timestamp": time.time(),
        }
        warning = few_images_warning(spec.kind, num_real, n)
        if warning:
            record["warning"] = warning
        records.append(record)
        report(record, run_dir, verbose)
    return records


# Below these counts a metric still computes but means little (stylegan2-ada and the
# papers behind each metric use far more): FID's 2048-dim covariance is rank-deficient
# and its bias grows as the count falls, KID (100 subsets of 1000 officially) gets noisy,
# SWD's descriptors (ProGAN: 16384 images) and P/R's 3-NN manifolds get coarse.
FEW_IMAGES = {"fid": 2048, "kid": 1000, "pr": 1000, "swd": 1024, "msssim": 200}


def few_images_warning(kind, num_real, num_gen):
    """A one-line warning when a metric uses fewer images than it needs to mean much
    (``FEW_IMAGES``), else ``""``."""
    need = FEW_IMAGES.get(kind)
    if need is None or min(num_real, num_gen) >= need:
        return ""
    advice = {"fid": "biased upwards and not comparable across image counts; compare runs "
                     "at equal counts, or use KID (unbiased)",
              "kid": "noisy; compare differences larger than its spread across seeds"}.get(
        kind, "coarse; compare runs at equal counts only")
    return (f"{num_real} reals / {num_gen} fakes, fewer than the {need} this metric needs: "
            f"{advice}")


def _gpus_visible():
    import tensorflow as tf

    return bool(tf.config.list_logical_devices("GPU"))


def report(record, run_dir=None, verbose=True):
    """Appends a result to `RUN_DIR/metric-<name>.jsonl` (stylegan2-ada's `report_metric`)
    and prints it; records from a non-standard feature network print its label."""
    line = json.dumps(record)
    if verbose:
        values = ", ".join(f"{k} {v:.4g}" for k, v in record["results"].items())
        note = f"  [{record['note']}]" if record.get("note") else ""
        counts = f"{record['num_real']} reals, {record['num_gen']} fakes"
        print(f"{record['metric']}: {values}  ({counts}, {record['total_time_str']}){note}")
        if record.get("warning"):
            print(f"warning: {record['metric']}: {record['warning']}", file=sys.stderr)
    if run_dir is not None:
        os.makedirs(run_dir, exist_ok=True)
        with open(os.path.join(run_dir, f"metric-{record['metric']}.jsonl"), "a",
                  encoding="utf-8") as handle:
            handle.write(line + "\n")


def flat_results(records):
    """All values of a list of records in one dict (what the training logs receive)."""
    flat = {}
    for record in records:
        flat.update(record["results"])
    return flat


def is_finite_results(records):
    """Whether every value is finite (a diverged generator gives NaN features)."""
    return all(math.isfinite(v) for v in flat_results(records).values())
