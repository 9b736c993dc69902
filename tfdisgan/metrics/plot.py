"""Loss and metric curves of a run folder, drawn to PNG (scripts/plot_run.py).

Reads ``RUN_DIR/log.jsonl`` (one line per tick: losses, D outputs, speed) and every
``RUN_DIR/metric-<name>.jsonl`` (one line per evaluation with its kimg) and draws one panel
for the losses, one for the discriminator outputs and one per metric, against kimg.
Matplotlib is an optional extra: ``pip install tfdisgan[plot]``.
"""

import glob
import math
import os

from tfdisgan.files import read_jsonl

LOSS_KEYS = ("d_loss", "g_loss", "r1_penalty", "pl_penalty")
D_OUTPUT_KEYS = ("d_real", "d_fake", "aug_p")


def pyplot(what):
    """matplotlib's pyplot on the file-only Agg backend (no display on servers).

    Raises:
        ImportError: matplotlib is not installed; the message names `what` needs it and
            how to install it.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot as plt
    except ImportError:
        raise ImportError(f"{what} needs matplotlib: pip install 'tfdisgan[plot]' (or "
                          "pip install matplotlib)") from None
    return plt


def read_run_logs(run_dir):
    """The curves of a run folder.

    Returns:
        `(series, notes)`: series maps a panel title to {key: (kimg list, value list)};
        notes holds the labels of metric records ("not comparable with published FID").

    Raises:
        FileNotFoundError: no log.jsonl and no metric-*.jsonl in `run_dir`.
    """
    log_path = os.path.join(run_dir, "log.jsonl")
    metric_paths = sorted(glob.glob(os.path.join(run_dir, "metric-*.jsonl")))
    if not os.path.isfile(log_path) and not metric_paths:
        raise FileNotFoundError(f"{run_dir!r} holds neither log.jsonl nor metric-*.jsonl; "
                                "is it a run folder of scripts/train.py?")
    series, notes = {}, set()

    def add(panel, key, x, y):
        if x is None or y is None or not isinstance(y, (int, float)) or not math.isfinite(y):
            return
        xs, ys = series.setdefault(panel, {}).setdefault(key, ([], []))
        xs.append(float(x))
        ys.append(float(y))

    rows = read_jsonl(log_path) if os.path.isfile(log_path) else []
    for row in rows:
        for key in LOSS_KEYS:
            add("losses", key, row.get("kimg"), row.get(key))
        for key in D_OUTPUT_KEYS:
            add("discriminator outputs", key, row.get("kimg"), row.get(key))
    for path in metric_paths:
        for record in read_jsonl(path):
            # One panel per metric (precision with recall, SWD with its levels, ...); records
            # without a kimg (older scripts/metrics.py lines) cannot be placed and are left out.
            panel = record.get("metric") or os.path.basename(path)[7:-6]
            for key, value in record.get("results", {}).items():
                add(panel, key, record.get("kimg"), value)
            if record.get("note"):
                notes.add(f"{panel}: {record['note']}")
    return series, sorted(notes)


def plot_run(run_dir, out=None, dpi=100):
    """Draws the curves of a run folder to a PNG.

    Args:
        run_dir: str, a run folder.
        out: str or None, the PNG path (default ``RUN_DIR/curves.png``).
        dpi: int, resolution.

    Returns:
        str, the PNG path.

    Raises:
        ImportError: matplotlib is not installed (the message says how to install it).
        FileNotFoundError: not a run folder.
    """
    series, notes = read_run_logs(run_dir)
    plt = pyplot("plot_run")
    panels = [p for p in ("losses", "discriminator outputs") if p in series]
    panels += sorted(p for p in series if p not in panels)
    if not panels:
        raise ValueError(f"{run_dir!r}: its logs hold no finite value to plot")
    columns = min(3, len(panels))
    rows = math.ceil(len(panels) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(5 * columns, 3.4 * rows),
                                squeeze=False)
    for axis, panel in zip(axes.flat, panels, strict=False):
        for key, (xs, ys) in sorted(series[panel].items()):
            axis.plot(xs, ys, marker="o" if len(xs) < 30 else None, markersize=3, label=key)
        axis.set_title(panel)
        axis.set_xlabel("kimg")
        axis.grid(alpha=0.3)
        if len(series[panel]) > 1:
            axis.legend(fontsize=8)
    for axis in list(axes.flat)[len(panels):]:
        axis.set_visible(False)
    title = os.path.basename(os.path.normpath(run_dir))
    if notes:
        title += "\n" + "; ".join(notes)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    out = out or os.path.join(run_dir, "curves.png")
    tmp = f"{out}.tmp.png"
    figure.savefig(tmp, dpi=dpi)
    plt.close(figure)
    os.replace(tmp, out)
    return out
