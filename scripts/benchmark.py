"""Measure tfdisgan's throughput and write benchmarks/<machine>.json.

    python scripts/benchmark.py                      # every suite
    python scripts/benchmark.py --suites=reader,dcgan64

Suites: reader (tf.data images/s at 256 px, batch 32), dataset_tool (folder -> shards
images/s), procedural (built-in scenes images/s), dcgan64 (DCGAN training images/s at 64 px,
batch 32) and dcgan256 (the training rate the reader must beat 20x at 256 px). Results of
suites not run are kept from an earlier report of the same machine.
"""

import json
import os

from absl import app, flags

from tfdisgan import benchmarks

SUITES = ("reader", "dataset_tool", "procedural", "dcgan64", "dcgan256")
flags.DEFINE_list("suites", list(SUITES), f"Suites to run, of {SUITES}.")
flags.DEFINE_string("out", None, "Report path (default benchmarks/<machine>.json).")
FLAGS = flags.FLAGS


def _dcgan(resolution, batch_size=32):
    import tensorflow as tf

    from tfdisgan.data import load_dataset
    from tfdisgan.models import DCGAN

    model = DCGAN(resolution=resolution, seed=0)
    g_opt, d_opt = DCGAN.default_optimizers()
    model.compile(g_optimizer=g_opt, d_optimizer=d_opt)
    data = load_dataset("procedural:256", batch_size, resolution=resolution)
    result = benchmarks.bench_train(model, data, steps=5 if resolution > 64 else 10)
    result.update(resolution=resolution, model="DCGAN base_channels=64 z_dim=100",
                  device="GPU" if tf.config.list_physical_devices("GPU") else "CPU")
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
    }
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    for suite in FLAGS.suites:
        print(f"== {suite}", flush=True)
        report[suite] = runners[suite]()
        print(json.dumps(report[suite], indent=1), flush=True)
        if "reader" in report and "dcgan256" in report:
            report["reader_over_training_at_256"] = round(
                report["reader"]["streaming_images_per_s"]
                / report["dcgan256"]["images_per_s"], 1
            )
        _write(report, out)  # after every suite: a later failure keeps the earlier numbers
    print(f"wrote {out}")


if __name__ == "__main__":
    app.run(main)
