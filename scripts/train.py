"""Train a GAN: python scripts/train.py --flagfile=configs/demo.cfg [--flag=value ...]

Flags given after --flagfile override the file. Every flag is listed by --help; the run
folder's flags.txt is the resolved configuration and can itself be used as a flagfile.
"""

import sys

from absl import app, flags, logging

from tfdisgan import flags as tfd_flags

tfd_flags.define_train_flags()
flags.adopt_module_key_flags(tfd_flags)  # listed by --help, not only --helpfull


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    logging.set_verbosity(logging.WARNING)  # keep TF's checkpoint chatter off the console
    from tfdisgan import callbacks, training
    from tfdisgan.data import DatasetError

    config = tfd_flags.train_config_from_flags()
    try:
        if tfd_flags.flags.FLAGS.dry_run:
            print(training.dry_run(config), end="")
            return 0
        run_dir = training.run(config)
    except (training.ConfigError, DatasetError) as error:
        print(f"train: error: {error}", file=sys.stderr)
        return 2
    except callbacks.TrainingDiverged as error:
        print(f"train: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    print(f"Done: {run_dir}")
    return 0


if __name__ == "__main__":
    tfd_flags.run_script(main)
