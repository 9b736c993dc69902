"""Import an official NVIDIA StyleGAN2 pickle into tfdisgan: NVlabs/stylegan2 TensorFlow
pickles or stylegan2-ada-pytorch snapshots (no torch needed); it says which kind it found.

    python scripts/import_nvidia.py --source=stylegan2-church-config-f.pkl --out=imported/church
    python scripts/import_nvidia.py --source=network-snapshot-001000.pkl --out=imported/fire
    python scripts/generate.py --network=imported/church --seeds=0-7 --outdir=out/church
    python scripts/train.py --flagfile=configs/building_fire_finetune.cfg \
        --transfer_from=imported/church

The pickle is read by a restricted unpickler (numpy arrays, the official network classes'
state and torch tensors' storages only; any other global is refused by name), so no code
from the file runs. See tfdisgan/nvidia_import.py and tfdisgan/pytorch_import.py for the
variable mappings and docs/transfer_and_import.md for the checks against the official
generators.
"""

import pickle
import sys

from absl import app, logging

from tfdisgan import flags as tfd_flags

tfd_flags.define_import_nvidia_flags()
tfd_flags.flags.adopt_module_key_flags(tfd_flags)  # listed by --help
FLAGS = tfd_flags.flags.FLAGS


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    logging.set_verbosity(logging.WARNING)
    from tfdisgan import nvidia_import

    try:
        nvidia_import.import_network(FLAGS.source, FLAGS.out, fmt=FLAGS.format,
                                     overwrite=FLAGS.overwrite)
    except (OSError, ValueError, pickle.UnpicklingError) as error:
        print(f"import_nvidia: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    tfd_flags.run_script(main)
