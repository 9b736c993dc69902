"""What the experiments measure of a trained arm and what they write.

`evaluate` measures one arm's generator for the small-data study: SWD and MS-SSIM against
the reals, FID/KID with a feature network, the leak rates, D's mean logits on training
reals, unseen reals (`heldout_reals`) and fakes (`mean_logit`), ADA's p.

A study's result is one dict; `write_report` stores it as OUTDIR/<name>.json and its
markdown table as OUTDIR/<name>.md after every arm (a partial report survives a crash),
copying both to a `report_dir` (e.g. docs/study) when the config names one; `save_grid`
and `copy_small` write the sample grids, `plot_curves` the metrics against kimg, `machine`
describes the machine it ran on.
"""

import json
import math
import os
import platform
import shutil
import time

import numpy as np
import tensorflow as tf
from PIL import Image

from tfdisgan import images
from tfdisgan.data import procedural
from tfdisgan.files import write_atomic
from tfdisgan.metrics import frechet, kid, msssim, plot, swd


def cpu_model():
    """The CPU's model name (``/proc/cpuinfo``; else what `platform` knows)."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return model


def machine():
    """The machine a study ran on: CPU, cores, GPUs, Python, TensorFlow, platform."""
    gpus = [d.name for d in tf.config.list_physical_devices("GPU")]
    return {"cpu": cpu_model(), "cpu_count": os.cpu_count(), "gpus": gpus,
            "python": platform.python_version(), "tensorflow": tf.__version__,
            "platform": platform.platform()}


def fmt(value, digits=3):
    """A table cell: ``digits`` significant digits of a float, "n/a" for None or NaN."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:.{digits}g}" if isinstance(value, float) else str(value)


def last_log(run_dir):
    """The last line of RUN_DIR/log.jsonl as a dict ({} when there is none)."""
    path = os.path.join(run_dir, "log.jsonl")
    last = {}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    last = json.loads(line)
    return last


def save_grid(grid_images, path, columns=8):
    """Tiles uint8 images into a grid PNG of at most `columns` columns, atomically."""
    images.save_grid(grid_images, path, columns=min(columns, len(grid_images)))


def copy_small(src, dst):
    """Copies a grid PNG as a 256-colour palette PNG (a third of the size, for docs/)."""
    tmp = f"{dst}.tmp.png"
    with Image.open(src) as image:
        image.convert("RGB").quantize(256, dither=Image.Dither.NONE).save(tmp, optimize=True)
    os.replace(tmp, dst)


def write_report(config, result, started, name, title, table):
    """Writes OUTDIR/<name>.json (`result`) and OUTDIR/<name>.md (`title`, the command line
    and `table`), both also to `config.report_dir` when set.

    Args:
        config: the study's config (`outdir`, `report_dir`, `command`).
        result: the study's dict; gets `total_s` (since `started`) and `table`.
        started: `time.time()` at the study's start.
        name: file name without extension ("study", "cross_mix").
        title: the markdown heading.
        table: function result -> markdown table.
    """
    result["total_s"] = time.time() - started
    result["table"] = table(result)
    write_atomic(os.path.join(config.outdir, f"{name}.json"),
                 json.dumps(result, indent=2, default=float))
    header = f"# {title}\n\n`{config.command}`\n\n" if config.command else ""
    write_atomic(os.path.join(config.outdir, f"{name}.md"), header + result["table"])
    if config.report_dir:
        for file_name in (f"{name}.json", f"{name}.md"):
            shutil.copyfile(os.path.join(config.outdir, file_name),
                            os.path.join(config.report_dir, file_name))


def plot_curves(panels, path, columns=None, dpi=90):
    """Draws curves against kimg, one axis per panel, as a PNG (needs matplotlib).

    Args:
        panels: list of ``(title, lines)``; each line a dict with ``label``, ``kimg`` and
            ``values`` (equal-length lists; None values are skipped) and optional
            ``style`` ("-", "--", ...) and ``color``.
        path: the PNG written.
        columns: axes per row (default: all in one row).
        dpi: resolution.

    Raises:
        ImportError: matplotlib is not installed (the message says how to install it).
    """
    pyplot = plot.pyplot("plotting curves")
    columns = columns or len(panels)
    rows = -(-len(panels) // columns)
    figure, axes = pyplot.subplots(rows, columns, squeeze=False,
                                   figsize=(4.5 * columns, 3.2 * rows))
    for index, (title, lines) in enumerate(panels):
        axis = axes[index // columns][index % columns]
        for line in lines:
            pairs = [(k, v) for k, v in zip(line["kimg"], line["values"], strict=True)
                     if v is not None]
            axis.plot([k for k, _ in pairs], [v for _, v in pairs], line.get("style", "-"),
                      color=line.get("color"), marker="o", alpha=0.8, label=line["label"])
        axis.set_title(title)
        axis.set_xlabel("kimg")
        axis.legend(fontsize=7)
    for index in range(len(panels), rows * columns):
        axes[index // columns][index % columns].axis("off")
    figure.tight_layout()
    figure.savefig(path, dpi=dpi)
    pyplot.close(figure)


CURVE_METRICS = (("swd", "SWD x1e3: training reals (-) and held-out (--)"),
                 ("msssim", "MS-SSIM of the fakes"),
                 ("d_real", "D(real): training reals (-) and held-out (--)"))
# Each metric's dashed companion: the same measured against held-out reals.
HELDOUT = {"swd": "swd_heldout", "d_real": "d_heldout"}


def plot_arm_curves(result, path):
    """The arms' metrics against kimg (`small_data.StudyConfig.eval_kimg`): SWD, MS-SSIM, D's mean
    logit on the training reals (solid) and on held-out reals (dashed), and each leak
    rate, one line per arm; written to `path` (PNG). Returns False when no arm has a
    curve."""
    arms = {arm: a["curve"] for arm, a in result["arms"].items() if a.get("curve")}
    if not arms:
        return False
    colours = dict(zip(arms, [f"C{i}" for i in range(len(arms))], strict=True))
    panels = []
    for key, title in CURVE_METRICS:
        lines = []
        for arm, curve in arms.items():
            kimg = [p["kimg"] for p in curve]
            lines.append(dict(label=arm, color=colours[arm], kimg=kimg,
                              values=[p.get(key) for p in curve]))
            if key in HELDOUT:
                lines.append(dict(label=f"{arm} held-out", color=colours[arm], style="--",
                                  kimg=kimg, values=[p.get(HELDOUT[key]) for p in curve]))
        panels.append((title, lines))
    for kind in result["calibration"]:
        panels.append((f"{kind} leak (fraction of fakes)", [
            dict(label=arm, color=colours[arm], kimg=[p["kimg"] for p in curve],
                 values=[p["leak"].get(kind) for p in curve]) for arm, curve in arms.items()]))
    plot_curves(panels, path, columns=min(len(panels), 3))
    return True


def format_arm_curves(result):
    """The markdown table of the curves: per arm and evaluated kimg, SWD against the
    training and the held-out reals, MS-SSIM, D(real), D(held-out) and the leak rates; and
    where each arm's SWD was lowest, against either. "" without curves."""
    kinds = list(result["calibration"])
    head = ["arm", "kimg", "SWD x1e3", "SWD held-out", "MS-SSIM", "D(real)", "D(held-out)",
            *[f"{k} leak" for k in kinds]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lowest = []
    for arm, a in result["arms"].items():
        curve = a.get("curve") or []
        for p in curve:
            lines.append("| " + " | ".join(
                [arm, fmt(p["kimg"]), fmt(p["swd"]), fmt(p.get("swd_heldout")),
                 fmt(p["msssim"]), fmt(p.get("d_real")),
                 fmt(p.get("d_heldout")), *[fmt(p["leak"].get(k), 2) for k in kinds]]) + " |")
        for key, against in (("swd", "training reals"), ("swd_heldout", "held-out reals")):
            scored = [p for p in curve if p.get(key) is not None]
            if scored:
                best = min(scored, key=lambda p, key=key: p[key])
                lowest.append(f"{arm} against the {against}: {fmt(best[key])} at "
                              f"{fmt(best['kimg'])} kimg (end {fmt(scored[-1][key])})")
    if len(lines) == 2:
        return ""
    return ("\n".join(lines) + "\n\n- Lowest SWD per arm: " + "; ".join(lowest) + ".\n")


def mean_logit(model, images, batch_size=64):
    """Mean discriminator logit (inference mode) over uint8 images, or None."""
    if images is None or not len(images):
        return None
    logits = []
    for start in range(0, len(images), batch_size):
        x = np.asarray(images[start:start + batch_size], np.float32) / 127.5 - 1.0
        logits.append(np.asarray(model.run_discriminator(x, None, training=False)))
    return float(np.mean(np.concatenate(logits)))


def heldout_reals(config, reals):
    """For procedural data, as many unseen scenes of the target classes as there are reals
    (the next ones after the training set), else None: D's logits on them against the
    training reals show discriminator overfitting (stylegan2-ada's figure 1)."""
    if not procedural.is_procedural(config.data):
        return None
    images, _ = procedural.generate(2 * len(reals), reals.shape[1], seed=config.seed,
                                    classes=tuple(config.classes) or None)
    if not np.array_equal(images[:len(reals)], reals):
        return None  # not the continuation of the training set: no held-out set
    return images[len(reals):]


def swd_against(reals, fakes, seed=0):
    """SWD x 1e3 of the fakes against as many reals: the same seeded subset of the reals
    for every model compared."""
    n = min(len(fakes), len(reals))
    subset = reals[np.random.RandomState(seed).permutation(len(reals))[:n]]
    return swd.sliced_wasserstein_distance(subset, fakes[:n], seed=seed)["swd"]


def fake_metrics(reals, fakes, seed=0, network=None, real_features=None):
    """SWD x 1e3 of the fakes against as many reals (the same seeded subset for every model
    compared), the fakes' MS-SSIM diversity and, with a feature `network` (and its
    `real_features` of the reals), KID and FID.

    Returns:
        dict: ``swd``, ``msssim``, ``num_gen``, ``swd_num`` and, with a network, ``kid``
        and ``fid``.
    """
    results = {
        "swd": swd_against(reals, fakes, seed),
        "msssim": msssim.msssim_diversity(fakes, seed=seed),
        "num_gen": len(fakes),
        "swd_num": min(len(fakes), len(reals)),
    }
    if network is not None:
        # With a few hundred images both are biased by the counts: compare models only.
        fake_features = network(fakes)
        results["kid"] = kid.kernel_inception_distance(real_features, fake_features,
                                                       seed=seed)
        results["fid"] = frechet.frechet_distance_from_features(real_features, fake_features)
    return results


def evaluate(model, reals, detectors, num_gen, seed=0, network=None, real_features=None,
             grid_images=16, heldout=None):
    """Metrics and leak rates of a generator against the reals.

    Args:
        model: a `tfdisgan.models.GAN` (unconditional).
        reals: uint8 [N, H, W, 3].
        detectors: dict kind -> fitted `LeakDetector`.
        num_gen: int, fakes drawn (SWD uses min(num_gen, N) of each).
        seed: int, seed of the latents.
        network: FID/KID feature network or None; real_features: its features of the
            reals.
        grid_images: int, fakes returned for the sample grid.
        heldout: uint8 [M, H, W, 3] unseen reals or None.

    Returns:
        `(results dict, uint8 grid images)`. Besides the metrics, SWD against the
        held-out reals (`swd_heldout`, None without them), the mean D logits
        (inference mode) on the training reals (`d_real`), the held-out reals
        (`d_heldout`) and fakes of the trained (non-EMA) generator (`d_fake`), and ADA's
        final `aug_p` (None without ADA).
    """
    z = np.random.RandomState(seed).randn(num_gen, model.z_dim).astype(np.float32)
    fakes = np.asarray(model.generate(z=z, batch_size=64))
    results = fake_metrics(reals, fakes, seed, network, real_features)
    results["leak"] = {kind: d.leak_rate(fakes) for kind, d in detectors.items()}
    # SWD against unseen reals: against the training reals a generator that memorises them
    # scores better and better, against new scenes of the same kind it does not.
    results["swd_heldout"] = None if heldout is None else swd_against(heldout, fakes, seed)
    # Measured here, not read from log.jsonl: its tick values are the trackers' running
    # means since the start of the run, not the state at the end.
    raw = np.asarray(model.generate(z=z[:len(reals)], use_ema=False, batch_size=64))
    results.update(d_real=mean_logit(model, reals), d_heldout=mean_logit(model, heldout),
                   d_fake=mean_logit(model, raw))
    p = getattr(model.augment, "p", None)
    results["aug_p"] = None if p is None else float(np.asarray(p))
    return results, fakes[:grid_images]
