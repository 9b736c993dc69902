"""Draw a run's loss and metric curves to PNG: python scripts/plot_run.py --run=RUN_DIR [--out=PATH]

(``plot_run.py RUN_DIR`` works too.)

Needs matplotlib (pip install 'tfdisgan[plot]').
"""

import sys

from absl import app, flags

from tfdisgan import flags as tfd_flags

flags.DEFINE_string("run", None, "The run folder (RUN_DIR) whose log.jsonl and metric files "
                    "are drawn.")
flags.DEFINE_string("out", None, "PNG path (default RUN_DIR/curves.png).")
FLAGS = flags.FLAGS


def main(argv):
    run = FLAGS.run or (argv[1] if len(argv) == 2 else None)
    if run is None or len(argv) > (1 if FLAGS.run else 2):
        raise app.UsageError("give the run folder: --run=RUN_DIR [--out=PATH]")
    from tfdisgan.metrics import plot

    try:
        path = plot.plot_run(run, FLAGS.out)
    except (ImportError, OSError, ValueError) as error:
        print(f"plot_run: error: {error}", file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    tfd_flags.run_script(main, tensorflow=False)  # matplotlib only
