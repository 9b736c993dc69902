"""Measure a trained generator: FID/KID with the standard Inception, SWD, MS-SSIM, P/R.

    python scripts/metrics.py --network=runs/00003-flood64-sg2-64-diffaugment \
        --data=datasets/flood64 --metrics=fid50k_full,kid,swd,msssim,pr \
        --inception=~/inception-2015-12-05.tgz [--num_gen=2000]

--network is a run folder (latest checkpoint), a checkpoint or an exported SavedModel.
Results are printed and appended to RUN_DIR/metric-<name>.jsonl (the run folder of
--network, or --run_dir). Metrics without a feature network (swd, msssim) need no download.
"""

import sys

from absl import app, flags

from tfdisgan import flags as tfd_flags  # TensorFlow-free: --help and typos are instant

tfd_flags.define_metrics_flags()
flags.adopt_module_key_flags(tfd_flags)  # listed by --help

FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    from tfdisgan import measure
    from tfdisgan.data import DatasetError
    from tfdisgan.metrics import features
    from tfdisgan.runs import NetworkError

    try:
        tfd_flags.check_psi_flag()  # before the network loads
        measure.run(tfd_flags.metrics_config_from_flags())
    except (features.InceptionNotFoundError, NetworkError, DatasetError,
            ValueError) as error:
        print(f"metrics: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    tfd_flags.run_script(main)
