r"""Measure tfdisgan's throughput and write benchmarks/<machine>.json.

    python scripts/benchmark.py                      # every suite
    python scripts/benchmark.py --suites=reader,dcgan64

Suites: reader (tf.data images/s at 256 px, batch 32), dataset_tool (folder -> shards
images/s), procedural (built-in scenes images/s), dcgan64 (DCGAN training images/s at 64 px,
batch 32), dcgan256 (the training rate the reader must beat 20x at 256 px), peak (this
machine's measured matmul/conv GFLOP/s), stylegan2 (training images/s at --sg2_resolutions x
--sg2_batches, paper256 nets, R1 every step and lazy; G inference; FLOPs per image; fraction
of peak), peer (the official StyleGAN2-ADA PyTorch code on this CPU, same configuration,
in the same run: needs --peer_root, --peer_python and --peer_bench) and export (G_ema
images/s through Python vs through the exported SavedModel at batch 1/16/64, cpu_tiny nets
at 64 px) and demo32 (StyleGAN2 training images/s at the CPU demo size: 32 px, batch 32,
channel_base 4096, channel_max 128, z = w = 128, 2 mapping layers, the official lazy
schedule, every --sg2_precisions; with the --peer_* flags also the official code at the
same size in the same run, and the ratio). Results of suites not run are kept from an
earlier report of the same machine.

    python scripts/benchmark.py --suites=demo32 --peer_root=../sg2ada \
        --peer_python=../peer/.venv/bin/python --peer_bench=benchmarks/time_official.py

    python scripts/benchmark.py --suites=peak,stylegan2,peer --peer_root=../sg2ada \
        --peer_python=../peer/.venv/bin/python --peer_bench=PEER_TIMER.py

The training suites (dcgan64, dcgan256, stylegan2) run once per --strategy, with the same
global batch; results of a strategy other than default go under "<suite>_<strategy>" and
every training entry records its replica count. 1 vs 2 logical CPU replicas:

    python scripts/benchmark.py --suites=dcgan64 --strategy=default,mirrored \
        --logical_cpus=2 --devices=/cpu:0,/cpu:1

The logic is `tfdisgan.experiments.benchmarks`.
"""

import sys

from absl import app, flags

from tfdisgan import flags as tfd_flags
from tfdisgan.experiments import benchmarks

benchmarks.define_flags()
flags.adopt_module_key_flags(tfd_flags)  # listed by --help


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    try:
        report, out = benchmarks.run_benchmarks(benchmarks.config_from_flags())
    except benchmarks.BenchmarkError as error:
        print(f"benchmark: error: {error}", file=sys.stderr)
        return 2
    print(benchmarks.training_table(report))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    tfd_flags.run_script(main)
