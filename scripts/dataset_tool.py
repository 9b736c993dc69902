"""Turn a folder of images (or procedural:N) into sharded TFRecords + manifest.json.

    python scripts/dataset_tool.py --source=PHOTOS --dest=DATA --resolution=256
    python scripts/dataset_tool.py --source=procedural:2000 --dest=data/procedural --resolution=64
"""

import sys

from absl import app, flags

from tfdisgan import flags as tfd_flags

tfd_flags.define_dataset_tool_flags()
flags.adopt_module_key_flags(tfd_flags)  # listed by --help
FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    # Imported here, not at the top: the decode workers are spawned and re-import this script,
    # which then stays free of TensorFlow (the writer's import) and starts in a fraction of a
    # second.
    from tfdisgan.data import DatasetError, build_dataset

    try:
        build_dataset(
            FLAGS.source,
            FLAGS.dest,
            resolution=FLAGS.resolution,
            crop=FLAGS.crop,
            min_size=FLAGS.min_size,
            background=FLAGS.background,
            shards=FLAGS.shards,
            encoding=FLAGS.encoding,
            overwrite=FLAGS.overwrite,
            num_workers=FLAGS.workers,
            seed=FLAGS.seed,
        )
    except (FileNotFoundError, FileExistsError, DatasetError, ValueError) as error:
        print(f"dataset_tool: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    tfd_flags.run_script(main)
