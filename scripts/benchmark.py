"""Measure tfdisgan's throughput and write benchmarks/<machine>.json.

    python scripts/benchmark.py                      # every suite
    python scripts/benchmark.py --suites=reader,dcgan64

Suites: reader (tf.data images/s at 256 px, batch 32), dataset_tool (folder -> shards
images/s), procedural (built-in scenes images/s), dcgan64 (DCGAN training images/s at 64 px,
batch 32), dcgan256 (the training rate the reader must beat 20x at 256 px), peak (this
machine's measured matmul/conv GFLOP/s), stylegan2 (training images/s at --sg2_resolutions x
--sg2_batches, paper256 nets, R1 every step and lazy; G inference; FLOPs per image; fraction
of peak), peer (the official StyleGAN2-ADA PyTorch code on this CPU, same configuration,
in the same run: needs --peer_root and --peer_python) and export (G_ema images/s through
Python vs through the exported SavedModel at batch 1/16/64, cpu_tiny nets at 64 px).
Results of suites not run are kept from an earlier report of the same machine.

    python scripts/benchmark.py --suites=peak,stylegan2,peer --peer_root=../sg2ada \
        --peer_python=../peer/.venv/bin/python --peer_bench=PEER_TIMER.py

The training suites (dcgan64, dcgan256, stylegan2) run once per --strategy, with the same
global batch; results of a strategy other than default go under "<suite>_<strategy>" and
every training entry records its replica count. 1 vs 2 logical CPU replicas:

    python scripts/benchmark.py --suites=dcgan64 --strategy=default,mirrored \
        --logical_cpus=2 --devices=/cpu:0,/cpu:1
"""

import json
import os

from absl import app, flags

from tfdisgan import benchmarks

SUITES = ("reader", "dataset_tool", "procedural", "dcgan64", "dcgan256", "peak", "stylegan2",
          "peer", "export")
flags.DEFINE_list("suites", [s for s in SUITES if s != "peer"], f"Suites to run, of {SUITES}.")
flags.DEFINE_list("sg2_resolutions", ["32", "64", "128"], "StyleGAN2 training resolutions.")
flags.DEFINE_list("sg2_batches", ["8", "32"], "StyleGAN2 training batch sizes.")
flags.DEFINE_list("sg2_schedules", ["r1_every_step", "lazy_r1"],
                  "StyleGAN2 schedules: r1_every_step, lazy_r1, official.")
flags.DEFINE_list("sg2_precisions", ["float32", "auto"],
                  "StyleGAN2 precisions (tfdisgan.precision; auto resolves per device, "
                  "measured once when it equals another entry).")
flags.DEFINE_string("peer_root", None, "A source tree of NVlabs/stylegan2-ada-pytorch.")
flags.DEFINE_string("peer_python", None, "A python with torch (CPU) for the peer suite.")
flags.DEFINE_string("peer_bench", None, "A timing script for the official code (its --configs, "
                    "--param-res, --train-res, --infer-res, --batch, --out interface).")
flags.DEFINE_list("peer_resolutions", ["32", "64"], "Resolutions the peer suite times.")
flags.DEFINE_string("out", None, "Report path (default benchmarks/<machine>.json).")
flags.DEFINE_list("strategy", ["default"], "Strategies of the training suites "
                  "(tfdisgan.distribute: default, mirrored, multiworker, tpu).")
flags.DEFINE_list("devices", [], "Devices of --strategy=mirrored (default all GPUs).")
flags.DEFINE_boolean("xla", False, "Compile the training suites' train step with XLA "
                     "(jit_compile); results go under \"<suite>_xla\".")
flags.DEFINE_integer("logical_cpus", 0, "Split the CPU into this many logical devices "
                     "(/cpu:0, /cpu:1, ...) before TensorFlow starts; 0: no split.")
TRAINING_SUITES = ("dcgan64", "dcgan256", "stylegan2")
FLAGS = flags.FLAGS


def _dcgan(resolution, batch_size=32):
    import tensorflow as tf

    from tfdisgan.data import load_dataset
    from tfdisgan.models import DCGAN

    model = DCGAN(resolution=resolution, seed=0)
    g_opt, d_opt = DCGAN.default_optimizers()
    model.compile(g_optimizer=g_opt, d_optimizer=d_opt, jit_compile=FLAGS.xla)
    data = load_dataset("procedural:256", batch_size, resolution=resolution)
    result = benchmarks.bench_train(model, data, steps=5 if resolution > 64 else 10)
    result.update(resolution=resolution, model="DCGAN base_channels=64 z_dim=100",
                  device="GPU" if tf.config.list_physical_devices("GPU") else "CPU")
    return result


def _precisions():
    from tfdisgan.precision import resolve_precision

    resolved = []
    for name in FLAGS.sg2_precisions:
        try:
            name = resolve_precision(name)
        except ValueError as error:
            raise app.UsageError(f"--sg2_precisions: {error}") from None
        if name not in resolved:
            resolved.append(name)
    return resolved


def _sg2_key(res, batch, schedule, precision):
    # float32 keeps the plain key (comparable with earlier reports).
    suffix = "" if precision == "float32" else f"_{precision}"
    return f"{res}px_b{batch}_{schedule}{suffix}"


def _stylegan2():
    result = {"config": "paper256 nets (channel_base 16384, channel_max 512, 8 mapping "
                        "layers, mbstd 8), z=w=512, no augmentation; float32, or mixed "
                        "precision in the top 4 resolutions (official layout) for keys ending "
                        "in the precision", "train": {}, "inference": {}, "flops": {}}
    import tensorflow as tf

    # FLOPs and inference are measured once, without a strategy (see --strategy).
    measure_once = not tf.distribute.has_strategy()
    for res in (int(r) for r in FLAGS.sg2_resolutions):
        if measure_once:
            result["flops"][res] = benchmarks.stylegan2_flops(res)
        for precision in _precisions() if measure_once else ():
            key = res if precision == "float32" else f"{res}_{precision}"
            result["inference"][key] = benchmarks.bench_stylegan2_inference(
                res, precision=precision)
        for batch in (int(b) for b in FLAGS.sg2_batches):
            for schedule in FLAGS.sg2_schedules:
                if schedule != "r1_every_step" and batch != 8:
                    continue  # 16-step cycles at batch 32 take too long on a small CPU
                for precision in _precisions():
                    key = _sg2_key(res, batch, schedule, precision)
                    print(f"   {key}", flush=True)
                    result["train"][key] = benchmarks.bench_stylegan2(
                        res, batch, schedule, repeats=2 if res >= 128 else 3,
                        precision=precision, xla=FLAGS.xla)
    return result


def _peer():
    if not (FLAGS.peer_root and FLAGS.peer_python and FLAGS.peer_bench):
        raise app.UsageError("--suites=peer needs --peer_root, --peer_python and --peer_bench")
    return benchmarks.run_peer(FLAGS.peer_bench, FLAGS.peer_root, FLAGS.peer_python,
                               [int(r) for r in FLAGS.peer_resolutions])


def _summarise(report):
    """Derived numbers: reader vs training, StyleGAN2 vs peer, fraction of peak."""
    if "reader" in report and "dcgan256" in report:
        report["reader_over_training_at_256"] = round(
            report["reader"]["streaming_images_per_s"] / report["dcgan256"]["images_per_s"], 1
        )
    sg2, peer, peak = report.get("stylegan2"), report.get("peer"), report.get("peak")
    if sg2 and peer:
        ratios = {}
        for res, theirs in peer["by_resolution"].items():
            for schedule, key in (("r1_every_step", "train_img_per_s_r1_every_step"),
                                  ("lazy_r1", "train_img_per_s_lazy_r1_est")):
                for precision in ("float32", "mixed_bfloat16", "mixed_float16"):
                    name = _sg2_key(res, peer["batch"], schedule, precision)
                    ours = sg2["train"].get(name)
                    if ours and theirs.get(key):
                        ratios[name] = round(ours["images_per_s"] / theirs[key], 2)
            for suffix in ("", "_mixed_bfloat16", "_mixed_float16"):
                ours_inf = sg2["inference"].get(f"{res}{suffix}")
                if ours_inf is None and not suffix:
                    ours_inf = sg2["inference"].get(int(res))
                if ours_inf and theirs.get("infer_img_per_s"):
                    ratios[f"{res}px_inference_b16{suffix}"] = round(
                        ours_inf["images_per_s"] / theirs["infer_img_per_s"], 2)
        report["stylegan2_over_peer"] = ratios
    if sg2 and peak:
        fractions = {}
        for key, entry in sg2["train"].items():
            res = int(key.split("px")[0])
            flops = sg2["flops"].get(res) or sg2["flops"].get(str(res))
            achieved = flops["train_estimate"] * entry["images_per_s"]
            # Mixed keys against the bf16 peak: most of their FLOPs run in the half dtype.
            gflops = peak["conv_gflops"]
            if key.endswith("bfloat16") and peak.get("conv_gflops_bfloat16"):
                gflops = peak["conv_gflops_bfloat16"]
            fractions[key] = round(achieved / (gflops * 1e9), 3)
        report["stylegan2_fraction_of_peak_conv"] = fractions


def _strategies():
    """[(name, strategy or None for the default)] of --strategy; splits the CPU first."""
    import tensorflow as tf

    from tfdisgan import distribute

    if FLAGS.logical_cpus > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * FLAGS.logical_cpus)
    result = []
    for name in FLAGS.strategy:
        try:
            devices = FLAGS.devices if name == "mirrored" else ()
            strategy = distribute.make_strategy(name, devices)
        except ValueError as error:
            raise app.UsageError(f"--strategy={name}: {error}") from None
        result.append((name, None if name == "default" else strategy))
    return result


def _write(report, out):
    tmp = f"{out}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=2)
    os.replace(tmp, out)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    unknown = sorted(set(FLAGS.suites) - set(SUITES))
    if unknown:
        raise app.UsageError(f"--suites: unknown {unknown}; valid: {', '.join(SUITES)}")
    strategies = _strategies()
    env = benchmarks.environment()
    out = FLAGS.out or os.path.join("benchmarks", f"{env['machine']}.json")
    report = {}
    if os.path.exists(out):
        with open(out, encoding="utf-8") as handle:
            report = json.load(handle)
    report["environment"] = env
    runners = {
        "reader": benchmarks.bench_reader,
        "dataset_tool": benchmarks.bench_dataset_tool,
        "procedural": benchmarks.bench_procedural,
        "dcgan64": lambda: _dcgan(64),
        "dcgan256": lambda: _dcgan(256),
        "peak": benchmarks.bench_peak_flops,
        "stylegan2": _stylegan2,
        "peer": _peer,
        "export": benchmarks.bench_export,
    }
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    for suite in FLAGS.suites:
        for name, strategy in strategies if suite in TRAINING_SUITES else [("default", None)]:
            key = suite if name == "default" else f"{suite}_{name}"
            if FLAGS.xla and suite in TRAINING_SUITES:
                key += "_xla"
            print(f"== {key}", flush=True)
            if strategy is None:
                report[key] = runners[suite]()
            else:
                with strategy.scope():  # models built here train on its replicas
                    report[key] = runners[suite]()
            print(json.dumps(report[key], indent=1), flush=True)
            _summarise(report)
            _write(report, out)  # after every suite: a later failure keeps the earlier ones
    print(training_table(report))
    print(f"wrote {out}")


def _train_rows(report):
    """(suite key, entry) for every training measurement in the report."""
    for key, value in sorted(report.items()):
        if not isinstance(value, dict):
            continue
        if key.startswith("dcgan") and "images_per_s" in value:
            yield key, value
        elif key.startswith("stylegan2") and isinstance(value.get("train"), dict):
            for name, entry in value["train"].items():
                yield f"{key}:{name}", entry


def training_table(report):
    """Markdown table: resolution x batch x replicas x precision x xla -> img/s, sec/kimg,
    peak memory, for every training entry of the report."""
    lines = ["| run | res | batch | replicas | precision | xla | img/s | sec/kimg | peak MB |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for key, entry in _train_rows(report):
        rate = entry.get("images_per_s")
        memory = entry.get("gpu_peak_mb", entry.get("host_peak_mb", ""))
        lines.append(
            f"| {key} | {entry.get('resolution', '')} | {entry.get('batch_size', '')} | "
            f"{entry.get('replicas', 1)} | {entry.get('precision', 'float32')} | "
            f"{'yes' if entry.get('xla') else 'no'} | {rate} | "
            f"{entry.get('sec_per_kimg', round(1000 / rate, 1) if rate else '')} | {memory} |")
    return "\n".join(lines)


if __name__ == "__main__":
    app.run(main)
