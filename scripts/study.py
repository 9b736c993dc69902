"""The small-data study: augmentation and transfer arms with equal budgets.

    python scripts/study.py --kimg=20 --outdir=runs/study --report_dir=docs/study

Trains every arm of --arms (none, classic, diffaugment, ada, diffaugment+ada, transfer) on
the same few hundred images with the same budget, then writes OUTDIR/study.md (a markdown
table: SWD, MS-SSIM diversity, FID/KID if a feature network is present, D(real)/D(fake), ADA's
p, leak rates, wall time), OUTDIR/study.json and a sample grid per arm. The logic is
`tfdisgan.experiments.small_data`. Results on a 2-core CPU and the full-scale recipe:
docs/small_data_study.md.

    python scripts/study.py --cross_mix_study --cfg=cpu_tiny --kimg=3 --outdir=runs/cross_mix

instead compares training-time cross-domain mixing (--cross_mix) with inference-time class
mixing: two conditional StyleGAN2 runs on --mix_classes (OUTDIR/cross_mix.md, .json, grids;
`tfdisgan.experiments.cross_mix`).
"""

import shlex
import sys

from absl import app, flags, logging

from tfdisgan import flags as tfd_flags
from tfdisgan import training
from tfdisgan.data import DatasetError
from tfdisgan.experiments import cross_mix, small_data

small_data.define_flags()
flags.adopt_module_key_flags(tfd_flags)  # listed by --help
flags.DEFINE_bool("cross_mix_study", False, "Instead of the augmentation arms: compare "
                  "training-time cross-domain mixing (--cross_mix) with inference-time "
                  "class mixing, two conditional StyleGAN2 runs on --mix_classes "
                  "(ignores --model, --classes, --arms).")
FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    logging.set_verbosity(logging.WARNING)
    config = small_data.config_from_flags(
        command="python " + " ".join(shlex.quote(a) for a in sys.argv))
    study = cross_mix.run_cross_mix_study if FLAGS.cross_mix_study else small_data.run_study
    try:
        result = study(config)
    except (small_data.StudyError, training.ConfigError, DatasetError) as error:
        print(f"study: error: {error}", file=sys.stderr)
        return 2
    print(result["table"])
    name = "cross_mix" if FLAGS.cross_mix_study else "study"
    print(f"Wrote {config.outdir}/{name}.md and {name}.json")
    return 0


if __name__ == "__main__":
    tfd_flags.run_script(main)
