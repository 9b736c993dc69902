"""Measure a trained generator: FID/KID with the standard Inception, SWD, MS-SSIM, P/R.

    python scripts/metrics.py --network=runs/00003-flood64-stylegan264-diffaugment \
        --data=datasets/flood64 --metrics=fid50k_full,kid,swd,msssim,pr \
        --inception=~/inception-2015-12-05.tgz [--num_gen=2000]

--network is a run folder (latest checkpoint), a checkpoint or an exported SavedModel.
Results are printed and appended to RUN_DIR/metric-<name>.jsonl (the run folder of
--network, or --run_dir). Metrics without a feature network (swd, msssim) need no download.
"""

import sys

from absl import app, flags

flags.DEFINE_string("network", None, "Run folder, checkpoint prefix or SavedModel to measure.")
flags.DEFINE_string("data", None, "Dataset of the reals (default: the run's --data).")
flags.DEFINE_list("metrics", ["fid50k_full"], "Comma-separated: fid50k_full, kid50k_full, "
                  "pr50k3_full, swd, msssim (aliases fid, kid, pr).")
flags.DEFINE_integer("num_gen", None, "Fakes per metric instead of the standard counts "
                     "(small data); renames e.g. fid50k_full to fid2k_full.")
flags.DEFINE_string("inception", None, "inception-2015-12-05.tgz, its "
                    "classify_image_graph_def.pb, or a folder holding either (default: the "
                    "Keras cache).")
flags.DEFINE_enum("feature_net", "inception", ["inception", "keras_inceptionv3"],
                  "Feature network of FID/KID/PR; keras_inceptionv3 is not comparable with "
                  "published FID.")
flags.DEFINE_float("psi", 1.0, "Truncation of the fakes (1: none, as the standard metrics).")
flags.DEFINE_integer("seed", 0, "Seed of latents and random choices.")
flags.DEFINE_integer("batch", 64, "Images per generator / feature-network call.")
flags.DEFINE_string("cache_dir", None, "Cache of real features (default "
                    "$TFDISGAN_CACHE or ~/.cache/tfdisgan/metrics).")
flags.DEFINE_string("run_dir", None, "Where metric-<name>.jsonl is appended (default: the "
                    "network's run folder; none for a SavedModel).")
flags.mark_flag_as_required("network")

FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    from tfdisgan import flags as tfd_flags
    from tfdisgan import measure
    from tfdisgan.data import DatasetError
    from tfdisgan.metrics import features
    from tfdisgan.runs import NetworkError

    try:
        tfd_flags.check_psi_flag()  # before the network loads
        measure.measure(
            FLAGS.network, FLAGS.metrics, data=FLAGS.data, num_gen=FLAGS.num_gen,
            feature_net=FLAGS.feature_net, inception=FLAGS.inception, psi=FLAGS.psi,
            seed=FLAGS.seed, batch_size=FLAGS.batch, cache_dir=FLAGS.cache_dir,
            run_dir=FLAGS.run_dir)
    except (features.InceptionNotFoundError, NetworkError, DatasetError,
            ValueError) as error:
        print(f"metrics: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    app.run(main)
