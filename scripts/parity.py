"""Convergence parity with the official stylegan2-ada-pytorch, side by side.

    python scripts/parity.py --peer_python=TORCH_VENV/bin/python \
        --peer_root=PATH/TO/stylegan2-ada-pytorch --outdir=runs/parity --report_dir=docs/parity

Trains tfdisgan's StyleGAN2 and the official code (benchmarks/train_official.py runs its own
training loop on this CPU) on the same data with the same configuration (the CPU demo size,
32 px, small nets) for every arm (plain, cond, ada) and seed, evaluates every snapshot of
both with the same code (SWD, MS-SSIM diversity, KID when a feature network is present) and
writes OUTDIR/parity.md, parity.json, parity_curves.png and a side-by-side sample grid per
arm. The logic is `tfdisgan.experiments.parity`; results: docs/parity.md.
"""

import shlex
import sys

from absl import app, flags, logging

from tfdisgan import flags as tfd_flags
from tfdisgan import training
from tfdisgan.data import DatasetError
from tfdisgan.experiments import parity

parity.define_flags()
flags.adopt_module_key_flags(tfd_flags)  # listed by --help


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    logging.set_verbosity(logging.WARNING)
    config = parity.config_from_flags(
        command="python " + " ".join(shlex.quote(a) for a in sys.argv))
    try:
        result = parity.run_parity(config)
    except (parity.ParityError, training.ConfigError, DatasetError) as error:
        print(f"parity: error: {error}", file=sys.stderr)
        return 2
    print(result["table"])
    print(f"Wrote {config.outdir}/parity.md and parity.json")
    return 0


if __name__ == "__main__":
    tfd_flags.run_script(main)
