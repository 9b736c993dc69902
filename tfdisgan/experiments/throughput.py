"""What the benchmark suites time: each `bench_*` function measures one thing on this
machine and returns a JSON-ready dict (`tfdisgan.experiments.benchmarks` runs them).

Every measurement warms up first (tracing, caches) and reports the median of several timed
runs. StyleGAN2 is measured at the peer benchmark's configuration (the official paper256
preset, built by `runs.build_model` as training builds it: `build_stylegan2_bench_model`);
`run_peer` times the official PyTorch code in the same run.
"""

import json
import os
import resource
import shutil
import statistics
import subprocess
import tempfile
import time

import numpy as np
import tensorflow as tf
from PIL import Image
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

from tfdisgan import export
from tfdisgan.data import load_dataset, pipeline, procedural, tfrecords
from tfdisgan.models import stylegan2


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
        model: a compiled `tfdisgan.models.GAN`; built in a strategy's scope, it trains
            with that strategy's replicas (the dataset's global batch split over them).
        dataset: a repeating `tf.data.Dataset` of (images, labels) global batches.
        steps: int, train steps per timed run.
        warmup: int, untimed steps first (tracing).
        repeats: int, timed runs; the median is reported.
    """
    batch = int(next(iter(dataset))[0].shape[0])
    strategy = model.distribute_strategy
    dataset = strategy.experimental_distribute_dataset(dataset)  # as is without a strategy
    iterator = iter(dataset)
    model.make_train_function()
    train_function = model.train_function
    for _ in range(warmup):
        train_function(iterator)

    def run():
        for _ in range(steps):
            outputs = train_function(iterator)
        if isinstance(outputs, tf.experimental.Optional):
            outputs = outputs.get_value()
        np.asarray(tf.nest.flatten(outputs)[0])  # wait for the last step to finish

    rate, rates = _median_rate(run, steps * batch, repeats)
    return {"batch_size": batch, "replicas": strategy.num_replicas_in_sync,
            "strategy": type(strategy).__name__, "xla": bool(model.jit_compile),
            "images_per_s": round(rate, 3), "sec_per_kimg": round(1000.0 / rate, 1),
            "runs": [round(r, 3) for r in rates], **peak_memory_mb()}


def peak_memory_mb():
    """Peak memory so far: host RSS of this process, and GPU 0's allocator peak if any."""
    result = {"host_peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                                    1)}
    if tf.config.list_physical_devices("GPU"):
        info = tf.config.experimental.get_memory_info("GPU:0")
        result["gpu_peak_mb"] = round(info["peak"] / 2**20, 1)
    return result


def bench_peak_flops(size=2048, repeats=5):
    """This machine's measured peak: GFLOP/s of a large float32 matmul and of a large conv in
    float32 and in bfloat16 (twice the float32 rate on CPUs with AVX512_BF16 or AMX)."""
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
    xb, wb = tf.cast(x, tf.bfloat16), tf.cast(w, tf.bfloat16)
    conv(xb, wb).numpy()
    bf16_rate, _ = _median_rate(lambda: conv(xb, wb).numpy(), conv_flops, repeats)
    return {"matmul_gflops": round(rate / 1e9, 1), "conv_gflops": round(conv_rate / 1e9, 1),
            "conv_gflops_bfloat16": round(bf16_rate / 1e9, 1)}


def graph_flops(fn, *input_specs):
    """Float operations of one call of `fn` (TF profiler on the frozen traced graph)."""
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


def build_stylegan2_bench_model(resolution, r1_interval, pl_weight=0.0, precision="float32",
                                xla=False, batch=8, mbstd_group=None):
    """StyleGAN2 as the peer benchmark measures it, built by `runs.build_model` from a
    `TrainConfig` exactly as `training.run` builds it (one model factory): the official
    paper256 preset (channel_base 16384, 8 mapping layers, z = w = 512, mbstd 8, R1 gamma
    1, conv_clamp 256), unconditional, no augmentation, R1 every `r1_interval` steps, path
    length off unless `pl_weight`; a mixed `precision` puts the top 4 resolutions in the
    half dtype (official layout) and, as in training, StyleGAN2 is not loss-scaled."""
    from tfdisgan import training
    from tfdisgan.data import describe

    config = training.TrainConfig(
        model="stylegan2", cfg="paper256", data=f"procedural:{batch}", resolution=resolution,
        batch=batch, steps=1, augment="none", r1_interval=r1_interval, pl_weight=pl_weight,
        precision=precision, xla=xla, mbstd_group=mbstd_group, seed=0, showcase=False)
    resolved, _, num_classes = training.validate(config, describe(config.data))
    model, _ = training.build_model(resolved, num_classes, tf.distribute.get_strategy())
    return model


def _random_images(resolution, batch_size):
    images = tf.random.uniform([batch_size, resolution, resolution, 3], -1.0, 1.0, seed=0)
    return tf.data.Dataset.from_tensors((images, tf.zeros([batch_size], tf.int32))).repeat()


def bench_stylegan2(resolution, batch_size, schedule="r1_every_step", repeats=3,
                    precision="float32", xla=False):
    """StyleGAN2 training images/s at the peer benchmark's configuration.

    Schedules: "r1_every_step" (Gmain + Dmain + Dreg each step, the peer's measured number),
    "lazy_r1" (R1 every 16 steps, timed over 16 steps: the peer's estimate Gmain + Dmain +
    Dreg/16), "official" (lazy R1 and path length every 4 steps, as real training runs).
    """
    r1_interval = 1 if schedule == "r1_every_step" else 16
    pl_weight = 2.0 if schedule == "official" else 0.0
    model = build_stylegan2_bench_model(resolution, r1_interval, pl_weight, precision, xla,
                                        batch=batch_size,
                                        mbstd_group=None if batch_size % 8 == 0 else 4)
    # Lazy schedules are timed over whole 16-step cycles (one R1 step each).
    steps, repeats = (1, repeats) if schedule == "r1_every_step" else (16, 1)
    result = bench_train(model, _random_images(resolution, batch_size), steps=steps,
                         warmup=2, repeats=repeats)
    result.update(resolution=resolution, schedule=schedule, precision=precision)
    return result


# The CPU demo size a newcomer starts with (configs/demo.cfg's nets at 32 px, batch 32): the
# configuration of `bench_stylegan2_demo` and of the official timer's `--configs demo32`.
DEMO32 = dict(resolution=32, batch=32, z_dim=128, w_dim=128, channel_base=4096,
              channel_max=128, mapping_layers=2, mbstd_group=4)


def bench_stylegan2_demo(precision="float32", cycles=2, xla=False):
    """StyleGAN2 training images/s at the CPU demo size (`DEMO32`), built as
    `training.run` builds it (``--cfg=auto``: lazy R1 every 16 and path length every 4
    steps), no augmentation, timed over whole 16-step cycles (one R1 step, four path-length
    steps each) after 2 warm-up steps; the median of `cycles` cycles."""
    from tfdisgan import training
    from tfdisgan.data import describe

    config = training.TrainConfig(
        model="stylegan2", cfg="auto", data=f"procedural:{DEMO32['batch']}", steps=1,
        augment="none", precision=precision, xla=xla, seed=0, showcase=False, **DEMO32)
    resolved, _, num_classes = training.validate(config, describe(config.data))
    model, _ = training.build_model(resolved, num_classes, tf.distribute.get_strategy())
    result = bench_train(model, _random_images(DEMO32["resolution"], DEMO32["batch"]),
                         steps=16, warmup=2, repeats=cycles)
    result.update(precision=precision, schedule="official (lazy R1 / 16, path length / 4)")
    return result


def stylegan2_flops(resolution):
    """Forward float operations per image of G (mapping + synthesis) and D, paper256 nets."""
    model = build_stylegan2_bench_model(resolution, 16)
    g_flops = graph_flops(
        lambda z: model.synthesize(z, noise_mode="const", use_ema=False),
        tf.TensorSpec([1, model.z_dim], tf.float32),
    )
    d_flops = graph_flops(
        lambda x: model.run_discriminator(x, None, training=False),
        tf.TensorSpec([1, resolution, resolution, 3], tf.float32),
    )
    # Training touches G forward 2x (Gmain, Dmain) and backward once (~2x forward), and D
    # forward 3x (fakes in Gmain, fakes and reals in Dmain) and backward 3x: ~4G + 9D.
    return {"g_forward": g_flops, "d_forward": d_flops,
            "train_estimate": 4 * g_flops + 9 * d_flops}


def bench_stylegan2_inference(resolution, batch_size=16, precision="float32"):
    """G_ema images/s at the peer's inference setting (const noise, batch 16)."""
    model = build_stylegan2_bench_model(resolution, 16, precision=precision)
    return bench_inference(
        lambda z: model.synthesize(z, noise_mode="const", use_ema=True), model.z_dim,
        batch_size=batch_size, batches=3,
    )


def bench_export(resolution=64, batch_sizes=(1, 16, 64), preset="cpu_tiny", images=64,
                 repeats=3):
    """G_ema images/s through Python (`model.generate`, eager Keras, what the scripts run)
    vs through the exported SavedModel (`serving_default` loaded in this process, what TF
    Serving runs), seeds in and uint8 images out, const noise, at each batch size."""
    model_kwargs, _ = stylegan2.split_preset(stylegan2.resolve_preset(preset, resolution))
    model = stylegan2.StyleGAN2(**model_kwargs, seed=0)
    tmp = tempfile.mkdtemp(prefix="tfdisgan-bench-export-")
    try:
        start = time.perf_counter()
        path = export.export_saved_model(model, os.path.join(tmp, "g", "1"),
                                         max_batch=max(batch_sizes))
        export_s = time.perf_counter() - start
        serving = tf.saved_model.load(path).signatures["serving_default"]
        result = {"preset": preset, "resolution": resolution, "export_s": round(export_s, 2),
                  "images_per_s": {}}
        for batch in batch_sizes:
            calls = max(1, images // batch)
            seeds = np.arange(batch, dtype=np.int64)
            inputs = dict(seeds=tf.constant(seeds), psi=tf.ones([batch]),
                          class_id=tf.zeros([batch], tf.int32))

            def python(seeds=seeds, calls=calls, batch=batch):
                for _ in range(calls):
                    model.generate(seeds=seeds, batch_size=batch)

            def saved(inputs=inputs, calls=calls):
                for _ in range(calls):
                    serving(**inputs)["images"].numpy()

            entry = {}
            for name, fn in (("python", python), ("saved_model", saved)):
                fn()  # warm-up: tracing, kernel caches
                rate, _ = _median_rate(fn, calls * batch, repeats)
                entry[name] = round(rate, 2)
            entry["saved_model_over_python"] = round(entry["saved_model"] / entry["python"], 2)
            result["images_per_s"][f"b{batch}"] = entry
        return result
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def bench_dcgan(resolution, batch_size=32, xla=False):
    """DCGAN training images/s (base_channels 64, z 100) on procedural scenes."""
    from tfdisgan import training
    from tfdisgan.data import describe

    # Built as training.run builds it (runs.build_model): base_channels 64, z 100, Adam
    # 2e-4 / 0.5, no augmentation.
    config = training.TrainConfig(model="dcgan", data="procedural:256", resolution=resolution,
                                  batch=batch_size, steps=1, augment="none", xla=xla, seed=0,
                                  showcase=False)
    resolved, _, num_classes = training.validate(config, describe(config.data))
    model, _ = training.build_model(resolved, num_classes, tf.distribute.get_strategy())
    data = load_dataset("procedural:256", batch_size, resolution=resolution)
    result = bench_train(model, data, steps=5 if resolution > 64 else 10)
    result.update(resolution=resolution, model="DCGAN base_channels=64 z_dim=100",
                  device="GPU" if tf.config.list_physical_devices("GPU") else "CPU")
    return result


def _run_official_timer(bench_script, sg2ada_root, python, args, timeout):
    """Runs the official code's timer (``benchmarks/time_official.py``'s interface) with
    `args` plus ``--out`` in `python` and returns its JSON report."""
    handle, out = tempfile.mkstemp(suffix=".json")
    os.close(handle)
    env = dict(os.environ, SG2ADA_ROOT=sg2ada_root)
    subprocess.run([python, bench_script, *args, "--out", out], check=True, env=env,
                   timeout=timeout, stdout=subprocess.DEVNULL)
    with open(out, encoding="utf-8") as handle:
        report = json.load(handle)
    os.remove(out)
    return report


def run_peer_demo(bench_script, sg2ada_root, python, timeout=3600):
    """The official code's training images/s at the CPU demo size (its timer's
    ``--configs demo32`` at 32 px, batch 32), in this same benchmark run: the estimate of
    its own schedule, Gmain + Dmain + EMA + Greg / 4 + Dreg / 16 (medians of 5 steps)."""
    report = _run_official_timer(
        bench_script, sg2ada_root, python,
        ["--configs", "demo32", "--param-res", "32", "--train-res", "32", "--infer-res", "",
         "--batch", str(DEMO32["batch"])], timeout)
    entry = report["configs"]["demo32"]["32"]
    return {"torch": report["meta"].get("torch"), "batch": DEMO32["batch"],
            "params": entry.get("params"),
            "images_per_s": entry["train"]["img_per_s_lazy_r1_est"],
            "phase_seconds": entry["train"].get("phase_seconds")}


def run_peer(bench_script, sg2ada_root, python, resolutions, batch=8, timeout=3600):
    """Runs `bench_script`, a timer of the official StyleGAN2-ADA (PyTorch) in `python`, in
    this same benchmark run and returns its per-resolution paper256 numbers."""
    res = ",".join(str(r) for r in resolutions)
    report = _run_official_timer(
        bench_script, sg2ada_root, python,
        ["--configs", "paper256", "--param-res", res, "--train-res", res, "--infer-res", res,
         "--batch", str(batch)], timeout)
    results = {}
    for r, entry in report["configs"]["paper256"].items():
        results[r] = {
            "params": entry.get("params"),
            "train_img_per_s_r1_every_step": entry.get("train", {}).get(
                "img_per_s_every_step_r1"),
            "train_img_per_s_lazy_r1_est": entry.get("train", {}).get("img_per_s_lazy_r1_est"),
            "infer_img_per_s": entry.get("infer", {}).get("img_per_s"),
        }
    return {"torch": report["meta"].get("torch"), "batch": batch, "by_resolution": results}
