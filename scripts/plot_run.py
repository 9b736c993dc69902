"""Draw a run's loss and metric curves to PNG: python scripts/plot_run.py RUN_DIR [--out=PATH]

Needs matplotlib (pip install 'tfdisgan[plot]').
"""

import sys

from absl import app, flags

flags.DEFINE_string("out", None, "PNG path (default RUN_DIR/curves.png).")
FLAGS = flags.FLAGS


def main(argv):
    if len(argv) != 2:
        raise app.UsageError("Usage: plot_run.py RUN_DIR [--out=PATH]")
    from tfdisgan.metrics import plot

    try:
        path = plot.plot_run(argv[1], FLAGS.out)
    except (ImportError, OSError, ValueError) as error:
        print(f"plot_run: error: {error}", file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    app.run(main)
