"""Measure tfdisgan's throughput and write benchmarks/<machine>.json.

    python scripts/benchmark.py                      # every suite
    python scripts/benchmark.py --suites=reader,dcgan64

Suites: reader (tf.data images/s at 256 px, batch 32), dataset_tool (folder -> shards
images/s), procedural (built-in scenes images/s), dcgan64 (DCGAN training images/s at 64 px,
batch 32), dcgan256 (the training rate the reader must beat 20x at 256 px), peak (this
machine's measured matmul/conv GFLOP/s), stylegan2 (training images/s at --sg2_resolutions x
--sg2_batches, paper256 nets, R1 every step and lazy; G inference; FLOPs per image; fraction
of peak) and peer (the official StyleGAN2-ADA PyTorch code on this CPU, same configuration,
in the same run: needs --peer_root and --peer_python). Results of suites not run are kept
from an earlier report of the same machine.

    python scripts/benchmark.py --suites=peak,stylegan2,peer --peer_root=../sg2ada \
        --peer_python=../peer/.venv/bin/python
"""

import json
import os

from absl import app, flags

from tfdisgan import benchmarks

SUITES = ("reader", "dataset_tool", "procedural", "dcgan64", "dcgan256", "peak", "stylegan2",
          "peer")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
flags.DEFINE_list("suites", [s for s in SUITES if s != "peer"], f"Suites to run, of {SUITES}.")
flags.DEFINE_list("sg2_resolutions", ["32", "64", "128"], "StyleGAN2 training resolutions.")
flags.DEFINE_list("sg2_batches", ["8", "32"], "StyleGAN2 training batch sizes.")
flags.DEFINE_list("sg2_schedules", ["r1_every_step", "lazy_r1"],
                  "StyleGAN2 schedules: r1_every_step, lazy_r1, official.")
flags.DEFINE_string("peer_root", None, "A source tree of NVlabs/stylegan2-ada-pytorch.")
flags.DEFINE_string("peer_python", None, "A python with torch (CPU) for the peer suite.")
flags.DEFINE_string(
    "peer_bench", os.path.join(os.path.dirname(REPO), "shared", "peer_bench", "bench_sg2ada.py"),
    "The peer benchmark script (../shared/peer_bench/bench_sg2ada.py).",
)
flags.DEFINE_list("peer_resolutions", ["32", "64"], "Resolutions the peer suite times.")
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


def _stylegan2():
    result = {"config": "paper256 nets (channel_base 16384, channel_max 512, 8 mapping "
                        "layers, mbstd 8), z=w=512, no augmentation, float32", "train": {},
              "inference": {}, "flops": {}}
    for res in (int(r) for r in FLAGS.sg2_resolutions):
        result["flops"][res] = benchmarks.stylegan2_flops(res)
        result["inference"][res] = benchmarks.bench_stylegan2_inference(res)
        for batch in (int(b) for b in FLAGS.sg2_batches):
            for schedule in FLAGS.sg2_schedules:
                if schedule != "r1_every_step" and batch != 8:
                    continue  # 16-step cycles at batch 32 take too long on a small CPU
                key = f"{res}px_b{batch}_{schedule}"
                print(f"   {key}", flush=True)
                result["train"][key] = benchmarks.bench_stylegan2(
                    res, batch, schedule, repeats=2 if res >= 128 else 3)
    return result


def _peer():
    if not (FLAGS.peer_root and FLAGS.peer_python):
        raise app.UsageError("--suites=peer needs --peer_root and --peer_python")
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
                ours = sg2["train"].get(f"{res}px_b{peer['batch']}_{schedule}")
                if ours and theirs.get(key):
                    ratios[f"{res}px_b{peer['batch']}_{schedule}"] = round(
                        ours["images_per_s"] / theirs[key], 2)
            ours_inf = sg2["inference"].get(res) or sg2["inference"].get(int(res))
            if ours_inf and theirs.get("infer_img_per_s"):
                ratios[f"{res}px_inference_b16"] = round(
                    ours_inf["images_per_s"] / theirs["infer_img_per_s"], 2)
        report["stylegan2_over_peer"] = ratios
    if sg2 and peak:
        fractions = {}
        for key, entry in sg2["train"].items():
            res = int(key.split("px")[0])
            flops = sg2["flops"].get(res) or sg2["flops"].get(str(res))
            achieved = flops["train_estimate"] * entry["images_per_s"]
            fractions[key] = round(achieved / (peak["conv_gflops"] * 1e9), 3)
        report["stylegan2_fraction_of_peak_conv"] = fractions


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
        "peak": benchmarks.bench_peak_flops,
        "stylegan2": _stylegan2,
        "peer": _peer,
    }
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    for suite in FLAGS.suites:
        print(f"== {suite}", flush=True)
        report[suite] = runners[suite]()
        print(json.dumps(report[suite], indent=1), flush=True)
        _summarise(report)
        _write(report, out)  # after every suite: a later failure keeps the earlier numbers
    print(f"wrote {out}")


if __name__ == "__main__":
    app.run(main)
