"""Throughput benchmarks behind scripts/benchmark.py; each returns a JSON-ready dict.

Speed targets live here and in the JSON reports under benchmarks/, never in timed tests.
Every suite warms up first (tracing, caches) and reports the median of several timed runs.
"""

import os
import platform
import re
import shutil
import statistics
import tempfile
import time

import numpy as np
import tensorflow as tf
from PIL import Image

from tfdisgan.data import pipeline, procedural, tfrecords


def machine_name():
    """A stable file name for this machine: CPU model slug, core count and GPU if any."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1]
                    break
    except OSError:
        pass
    slug = re.sub(r"[^a-z0-9]+", "-", model.lower()).strip("-")[:40]
    gpus = tf.config.list_physical_devices("GPU")
    suffix = f"-{len(gpus)}gpu" if gpus else ""
    return f"{slug}-{os.cpu_count()}cpu{suffix}"


def environment():
    """Versions and hardware the numbers were measured with."""
    import keras

    return {
        "machine": machine_name(),
        "cpu_count": os.cpu_count(),
        "gpus": [d.name for d in tf.config.list_physical_devices("GPU")],
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _median_rate(fn, count, repeats):
    """Runs fn() `repeats` times; returns (median items/s, all rates)."""
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        rates.append(count / (time.perf_counter() - start))
    return statistics.median(rates), rates


def bench_reader(resolution=256, batch_size=32, num_images=512, batches=60, repeats=3):
    """Images/s the `load_dataset` pipeline delivers, in memory and streamed from shards."""
    tmp = tempfile.mkdtemp(prefix="tfdisgan-bench-")
    try:
        data = os.path.join(tmp, "data")
        tfrecords.build_dataset(
            f"procedural:{num_images}", data, resolution=resolution, shards=4, verbose=False
        )
        result = {"resolution": resolution, "batch_size": batch_size, "num_images": num_images}
        for mode, in_memory in (("in_memory", True), ("streaming", False)):
            ds = pipeline.load_dataset(data, batch_size, in_memory=in_memory, mirror=True)
            iterator = iter(ds)
            for _ in range(5):
                next(iterator)

            def run(it=iterator):
                for _ in range(batches):
                    images, _ = next(it)
                images.numpy()

            rate, rates = _median_rate(run, batches * batch_size, repeats)
            result[f"{mode}_images_per_s"] = round(rate, 1)
            result[f"{mode}_runs"] = [round(r, 1) for r in rates]
        return result
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def bench_dataset_tool(resolution=256, source_size=512, num_images=200, workers=None):
    """Images/s of `build_dataset` on a folder of JPEG photos larger than the target."""
    tmp = tempfile.mkdtemp(prefix="tfdisgan-bench-")
    try:
        source = os.path.join(tmp, "photos")
        images, labels = procedural.generate(num_images, source_size, seed=1)
        for index, (image, label) in enumerate(zip(images, labels, strict=False)):
            folder = os.path.join(source, procedural.CLASS_NAMES[label])
            os.makedirs(folder, exist_ok=True)
            Image.fromarray(image).save(os.path.join(folder, f"{index:05d}.jpg"), quality=92)
        start = time.perf_counter()
        tfrecords.build_dataset(
            source, os.path.join(tmp, "out"), resolution=resolution, num_workers=workers,
            verbose=False,
        )
        seconds = time.perf_counter() - start
        return {
            "resolution": resolution,
            "source": f"{num_images} JPEG files at {source_size}x{source_size}",
            "workers": workers or os.cpu_count(),
            "images_per_s": round(num_images / seconds, 1),
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def bench_procedural(resolution=64, num_images=500):
    """Images/s of the built-in procedural scene generator."""
    start = time.perf_counter()
    procedural.generate(num_images, resolution, seed=0)
    return {
        "resolution": resolution,
        "num_images": num_images,
        "images_per_s": round(num_images / (time.perf_counter() - start), 1),
    }


def bench_train(model, dataset, steps=10, warmup=2, repeats=3):
    """Training images/s of a compiled tfdisgan GAN through Keras' own train function.

    Args:
        model: a compiled `tfdisgan.models.GAN`.
        dataset: a repeating `tf.data.Dataset` of (images, labels) batches.
        steps: int, train steps per timed run.
        warmup: int, untimed steps first (tracing).
        repeats: int, timed runs; the median is reported.
    """
    iterator = iter(dataset)
    model.make_train_function()
    train_function = model.train_function
    for _ in range(warmup):
        train_function(iterator)
    batch = int(next(iter(dataset))[0].shape[0])

    def run():
        for _ in range(steps):
            outputs = train_function(iterator)
        if isinstance(outputs, tf.experimental.Optional):
            outputs = outputs.get_value()
        np.asarray(tf.nest.flatten(outputs)[0])  # wait for the last step to finish

    rate, rates = _median_rate(run, steps * batch, repeats)
    return {"batch_size": batch, "images_per_s": round(rate, 3),
            "runs": [round(r, 3) for r in rates]}


def bench_peak_flops(size=2048, repeats=5):
    """This machine's measured float32 peak: GFLOP/s of a large matmul and a large conv."""
    a = tf.random.normal([size, size])
    matmul = tf.function(lambda x: tf.matmul(x, x))
    matmul(a).numpy()
    rate, _ = _median_rate(lambda: matmul(a).numpy(), 2 * size**3, repeats)
    x = tf.random.normal([8, 64, 64, 256])
    w = tf.random.normal([3, 3, 256, 256])
    conv = tf.function(lambda x, w: tf.nn.conv2d(x, w, 1, "SAME"))
    conv(x, w).numpy()
    conv_flops = 2 * 8 * 64 * 64 * 256 * 256 * 9
    conv_rate, _ = _median_rate(lambda: conv(x, w).numpy(), conv_flops, repeats)
    return {"matmul_gflops": round(rate / 1e9, 1), "conv_gflops": round(conv_rate / 1e9, 1)}


def graph_flops(fn, *input_specs):
    """Float operations of one call of `fn` (TF profiler on the frozen traced graph)."""
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    concrete = tf.function(fn).get_concrete_function(*input_specs)
    frozen = convert_variables_to_constants_v2(concrete)
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    info = tf.compat.v1.profiler.profile(graph=frozen.graph, options=options)
    return int(info.total_float_ops)


def bench_inference(generator_fn, z_dim, batch_size=16, batches=5, repeats=3):
    """Images/s of a generator function z -> images (compiled once, const noise)."""
    fn = tf.function(generator_fn)
    z = tf.random.normal([batch_size, z_dim], seed=0)
    fn(z).numpy()

    def run():
        for _ in range(batches):
            out = fn(z)
        out.numpy()

    rate, rates = _median_rate(run, batches * batch_size, repeats)
    return {"batch_size": batch_size, "images_per_s": round(rate, 3),
            "runs": [round(r, 3) for r in rates]}
