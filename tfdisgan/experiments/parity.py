"""Convergence parity: tfdisgan's StyleGAN2 and the official stylegan2-ada-pytorch trained
side by side on the same data with the same configuration, evaluated by the same code.

For every arm (``plain``; ``cond``: conditioned on the dataset's classes; ``ada``: ADA with
the bgc pipeline) and seed, both sides train for ``kimg`` with a snapshot every
``eval_kimg``: ours through `tfdisgan.training.run`, the official code through
benchmarks/train_official.py (its own training loop, loss, networks and augment pipe, on
this CPU) in a separate Python that has torch. Each snapshot is then loaded into our
StyleGAN2 (the official pickles through `tfdisgan.nvidia_import`, which reads them without
torch, so both sides' images come from the same generator code) and measured the same way:
SWD x 1e3 against the training reals, the MS-SSIM diversity of the fakes, and KID when a
feature network is on the machine (labelled with it).

Outputs (`run_parity`): OUTDIR/parity.json, OUTDIR/parity.md (the table: per arm and
evaluated kimg, each side's mean and range over seeds, and whether our mean lies in the
official range), OUTDIR/parity_curves.png (every metric against kimg, every run) and
OUTDIR/parity_<arm>.png (final samples of the first seed, ours left, official right), all
copied to `report_dir` when given. OUTDIR/data holds the reals as the image folder the
official code reads, OUTDIR/ours and OUTDIR/official the runs.

Example:
    >>> from tfdisgan.experiments import parity
    >>> config = parity.ParityConfig(outdir="runs/parity", peer_python=".venv/bin/python",
    ...                              peer_root="../stylegan2-ada-pytorch")
    >>> print(parity.run_parity(config)["table"])
"""

import dataclasses
import json
import math
import os
import shutil
import subprocess
import sys
import time

import numpy as np

from tfdisgan import flags as tfd_flags
from tfdisgan import images as tfd_images
from tfdisgan import nvidia_import, runs, training
from tfdisgan.experiments import report
from tfdisgan.experiments.small_data import FEATURE_NETS, feature_network
from tfdisgan.experiments.small_data import FLAG_HELP as STUDY_FLAG_HELP
from tfdisgan.files import read_jsonl
from tfdisgan.metrics.core import load_reals

ARMS = ("plain", "cond", "ada")
SIDES = ("ours", "official")
METRICS = ("swd", "msssim", "kid", "fid")  # kid and fid with a feature network
# The official runner, in a source checkout of tfdisgan.
DEFAULT_PEER_SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "benchmarks", "train_official.py")


@dataclasses.dataclass
class ParityConfig:
    """Settings of a parity comparison; field names are the flags of scripts/parity.py.

    The defaults are the CPU demo size of the official configuration ``auto``: 32 px,
    channel_base 4096, channel_max 128, z = w = 128, 2 mapping layers, minibatch-stddev
    groups of 4, batch 32, R1 gamma 0.0002 * 32^2 / 32, lr 0.0025, G EMA 10 kimg with the
    0.05 ramp-up, style mixing 0.9, path length 2 (every 4 steps), R1 every 16; ADA's
    target 0.6 with a fast ``ada_kimg`` so that p can move within a short budget.
    """

    outdir: str = "runs/parity"
    report_dir: str = ""
    data: str = "procedural:2000"
    resolution: int = 32
    kimg: float = 3.0
    eval_kimg: float = 1.0
    seeds: tuple = ("0", "1")
    arms: tuple = ARMS
    sides: tuple = SIDES
    batch: int = 32
    channel_base: int = 4096
    channel_max: int = 128
    z_dim: int = 128
    mapping_layers: int = 2
    mbstd_group: int = 4
    r1_gamma: float = 0.0064
    lr: float = 0.0025
    ema_kimg: float = 10.0
    ada_target: float = 0.6
    ada_kimg: float = 4.0
    num_gen: int = 1000
    feature_net: str = "auto"
    inception: str = ""
    inception_sha256: str = ""
    peer_python: str = ""
    peer_root: str = ""
    peer_script: str = ""
    command: str = ""


FLAG_HELP = {
    "outdir": "Folder of the data export, both sides' runs and the report.",
    "report_dir": "Also copy the report (md, json, PNGs) here (e.g. docs/parity).",
    "data": "Training data (any --data of scripts/train.py; written out as PNGs for the "
            "official code).",
    "resolution": "Image resolution.",
    "kimg": "Training length of every run, thousands of images.",
    "eval_kimg": "Snapshot and evaluation interval, kimg.",
    "seeds": "Seeds; every arm trains once per seed on each side.",
    "arms": "plain, cond (conditioned on the classes), ada (ADA, bgc).",
    "sides": "ours, official (official needs --peer_python and --peer_root).",
    "batch": "Batch size.",
    "channel_base": "Channel base of G and D.",
    "channel_max": "Most channels of any layer.",
    "z_dim": "z and w dimensions.",
    "mapping_layers": "Mapping network depth.",
    "mbstd_group": "Minibatch-stddev group size.",
    "r1_gamma": "R1 gamma.",
    "lr": "Learning rate of G and D.",
    "ema_kimg": "G EMA half-life, kimg (0.05 ramp-up on both sides).",
    "ada_target": "ADA's target of sign(D(real)).",
    "ada_kimg": "ADA's speed: kimg for p to move by 1.",
    "num_gen": "Fakes per evaluation (SWD uses min(num_gen, reals) of each).",
    # The feature network flags as the study's.
    **{name: STUDY_FLAG_HELP[name] for name in ("feature_net", "inception", "inception_sha256")},
    "peer_python": "A Python with torch (never a dependency of tfdisgan).",
    "peer_root": "A source tree of NVlabs/stylegan2-ada-pytorch.",
    "peer_script": "The official runner (default: benchmarks/train_official.py of this "
                   "checkout).",
}


class ParityError(ValueError):
    """A bad parity setting; the message names the flag."""


def define_flags(flag_values=None):
    """Defines the flags of scripts/parity.py, one per `ParityConfig` field but `command`."""
    tfd_flags.define_dataclass_flags(ParityConfig, FLAG_HELP,
                                     enums={"feature_net": FEATURE_NETS},
                                     skip=("command",), flag_values=flag_values)


def config_from_flags(values=None, command=""):
    """A `ParityConfig` from the parsed `define_flags` flags."""
    return tfd_flags.dataclass_from_flags(ParityConfig, values, skip=("command",),
                                          command=command)


def seeds_of(config):
    try:
        return [int(s) for s in config.seeds]
    except ValueError as error:
        raise ParityError(f"--seeds: integers, got {','.join(map(str, config.seeds))}") \
            from error


def check_config(config):
    """Validates a `ParityConfig` before anything is trained.

    Raises:
        ParityError: naming the flag.
    """
    if not config.kimg > 0:
        raise ParityError(f"--kimg: must be > 0, got {config.kimg}")
    if not 0 < config.eval_kimg <= config.kimg:
        raise ParityError(f"--eval_kimg: must be in (0, --kimg], got {config.eval_kimg}")
    if not seeds_of(config):
        raise ParityError("--seeds: give at least one seed")
    for name, values, valid in (("arms", config.arms, ARMS), ("sides", config.sides, SIDES)):
        if not values:
            raise ParityError(f"--{name}: give at least one of {', '.join(valid)}")
        for value in values:
            if value not in valid:
                raise ParityError(f"--{name}: unknown {value!r}; valid: {', '.join(valid)}")
    if config.num_gen < 16:
        raise ParityError(f"--num_gen: must be >= 16, got {config.num_gen}")
    if "official" in config.sides:
        if config.eval_kimg != int(config.eval_kimg):
            raise ParityError(f"--eval_kimg: the official snapshots are named by whole kimg "
                              f"(a fraction would overwrite them); got {config.eval_kimg}")
        if not config.peer_python or not os.path.isfile(config.peer_python):
            raise ParityError(f"--peer_python: a Python with torch is needed for the official "
                              f"side, got {config.peer_python!r}")
        if not os.path.isfile(os.path.join(config.peer_root, "training", "training_loop.py")):
            raise ParityError(f"--peer_root: not a stylegan2-ada-pytorch tree: "
                              f"{config.peer_root!r}")
        if not os.path.isfile(config.peer_script or DEFAULT_PEER_SCRIPT):
            raise ParityError(f"--peer_script: not found: "
                              f"{config.peer_script or DEFAULT_PEER_SCRIPT}")


def export_reals(reals, labels, folder):
    """The reals as the official ImageFolderDataset reads them: PNGs and dataset.json with
    each file's class id."""
    os.makedirs(folder, exist_ok=True)
    names = []
    for index, image in enumerate(reals):
        name = f"{index:05d}.png"
        tfd_images.save_png(image, os.path.join(folder, name))
        names.append([name, int(labels[index])])
    with open(os.path.join(folder, "dataset.json"), "w", encoding="utf-8") as handle:
        json.dump({"labels": names}, handle)


def train_config(config, arm, seed, snapshot_ticks=1):
    """Our `TrainConfig` of one run (a checkpoint and grid every `snapshot_ticks` ticks)."""
    return training.TrainConfig(
        model="stylegan2", cfg="auto", data=config.data, resolution=config.resolution,
        batch=config.batch, kimg=config.kimg, g_lr=config.lr, d_lr=config.lr,
        r1_gamma=config.r1_gamma, ema_kimg=config.ema_kimg, ema_rampup=0.05,
        z_dim=config.z_dim, w_dim=config.z_dim, channel_base=config.channel_base,
        channel_max=config.channel_max, mapping_layers=config.mapping_layers,
        mbstd_group=config.mbstd_group, style_mixing=0.9, pl_weight=2.0,
        augment="ada" if arm == "ada" else "none", ada_target=config.ada_target,
        ada_kimg=config.ada_kimg, conditional=arm == "cond", seed=seed,
        precision="float32", tick_kimg=config.eval_kimg, snapshot_ticks=snapshot_ticks,
        keep_checkpoints=1000, grid_seeds=16, showcase=False,
        outdir=os.path.join(config.outdir, "ours"), run_name=f"{arm}-s{seed}")


def official_command(config, arm, seed, data_dir, out, snapshot_ticks=1):
    """The command line of one official run (a snapshot every `snapshot_ticks` ticks)."""
    command = [
        config.peer_python, config.peer_script or DEFAULT_PEER_SCRIPT, f"--data={data_dir}",
        f"--outdir={out}", f"--resolution={config.resolution}", f"--kimg={config.kimg}",
        f"--batch={config.batch}", f"--gamma={config.r1_gamma}", f"--ema={config.ema_kimg}",
        f"--cbase={config.channel_base}", f"--cmax={config.channel_max}",
        f"--zdim={config.z_dim}", f"--map={config.mapping_layers}",
        f"--mbstd={config.mbstd_group}", f"--lr={config.lr}", f"--seed={seed}",
        f"--tick={config.eval_kimg}", f"--snap={snapshot_ticks}"]
    if arm == "cond":
        command.append("--cond")
    if arm == "ada":
        command += ["--ada", f"--ada_target={config.ada_target}",
                    f"--ada_kimg={config.ada_kimg}"]
    return command


def _train_ours(config, arm, seed, log, snapshot_ticks=1):
    started = time.perf_counter()
    run_dir = training.run(train_config(config, arm, seed, snapshot_ticks), verbose=False)
    wall = time.perf_counter() - started
    lines = read_jsonl(os.path.join(run_dir, "log.jsonl"))
    # Steady state: the ticks after the first (which includes tracing).
    rates = [line["img_per_s"] for line in lines[1:] if "img_per_s" in line]
    p = [line.get("aug_p") for line in lines if "aug_p" in line]
    log(f"  ours {arm} seed {seed}: {wall:.0f} s")
    return {"run_dir": run_dir, "wall_s": wall,
            "img_per_s": float(np.median(rates)) if rates else None,
            "aug_p": p[-1] if p and arm == "ada" else None}


def _train_official(config, arm, seed, data_dir, log, snapshot_ticks=1):
    out = os.path.join(config.outdir, "official", f"{arm}-s{seed}")
    shutil.rmtree(out, ignore_errors=True)
    env = dict(os.environ, SG2ADA_ROOT=os.path.abspath(config.peer_root))
    started = time.perf_counter()
    result = subprocess.run(
        official_command(config, arm, seed, data_dir, out, snapshot_ticks), env=env,
        capture_output=True, text=True)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"official run {arm} seed {seed} failed:\n{result.stderr[-3000:]}")
    stats = read_jsonl(os.path.join(out, "stats.jsonl"))
    sec_per_kimg = [s["Timing/sec_per_kimg"]["mean"] for s in stats[1:]
                    if "Timing/sec_per_kimg" in s]
    p = [s["Progress/augment"]["mean"] for s in stats if "Progress/augment" in s]
    log(f"  official {arm} seed {seed}: {wall:.0f} s")
    return {"run_dir": out, "wall_s": wall,
            "img_per_s": 1000.0 / float(np.median(sec_per_kimg)) if sec_per_kimg else None,
            "aug_p": p[-1] if p and arm == "ada" else None}


def loop_speeds(config, arm="plain", seed=0, log=print):
    """Training images/s of both whole training loops, side by side in this process's
    run: ours (`training.run`) and the official ``training_loop.py`` (``peer_script``),
    one after the other on the same exported data with the same configuration, each
    snapshotting only at its end. A tick is ``config.eval_kimg`` (fractions allowed here);
    each side's rate is the median of its ticks after the first (which holds tracing and
    start-up), as in `run_parity`.

    Returns:
        dict: ``ours`` and ``official`` (``images_per_s``, ``wall_s``) and
        ``ours_over_official``.
    """
    if not 0 < config.eval_kimg < config.kimg:
        raise ParityError(f"loop speeds need at least two ticks: --eval_kimg "
                          f"{config.eval_kimg} vs --kimg {config.kimg}")
    reals, labels = load_reals(config.data, config.resolution)
    data_dir = os.path.join(config.outdir, "data")
    export_reals(reals, labels, data_dir)
    never = 1_000_000  # snapshot ticks: only the final snapshot
    result = {"kimg": config.kimg, "tick_kimg": config.eval_kimg, "arm": arm}
    entries = {"ours": _train_ours(config, arm, seed, log, never),
               "official": _train_official(config, arm, seed, data_dir, log, never)}
    for side, entry in entries.items():
        result[side] = {"images_per_s": entry["img_per_s"], "wall_s": round(entry["wall_s"], 1)}
    ours, official = result["ours"]["images_per_s"], result["official"]["images_per_s"]
    result["ours_over_official"] = round(ours / official, 3) if ours and official else None
    return result


def _snapshots(side, run_dir):
    """``[(kimg, loader)]`` of a run's snapshots, oldest first; ``loader()`` returns the
    model (the official pickles are imported into our StyleGAN2)."""
    if side == "ours":
        return [(kimg, lambda prefix=prefix: runs.load_model(prefix)[0])
                for prefix, kimg in runs.checkpoint_kimgs(run_dir)]
    found = []
    for name in sorted(os.listdir(run_dir)):
        if name.startswith("network-snapshot-") and name.endswith(".pkl"):
            kimg = int(name[len("network-snapshot-"):-len(".pkl")])
            if kimg == 0:  # the loop's first tick, after one minibatch
                continue

            path = os.path.join(run_dir, name)

            def load(path=path):
                out = path[:-len(".pkl")] + "-imported"
                nvidia_import.import_network(path, out, overwrite=True, verbose=False)
                return runs.load_model(out)[0]
            found.append((kimg, load))
    return found


def evaluate(model, reals, num_gen, network=None, real_features=None, seed=123):
    """`report.fake_metrics` of `model`'s G_ema fakes (fixed latents; class-conditional
    models draw the classes in turn). Returns ``(metrics, 16 fakes)``."""
    z = np.random.RandomState(seed).randn(num_gen, model.z_dim).astype(np.float32)
    labels = np.arange(num_gen) % model.num_classes if model.num_classes else None
    fakes = np.asarray(model.generate(z=z, labels=labels, batch_size=64))
    return report.fake_metrics(reals, fakes, seed, network, real_features), fakes[:16]


def run_parity(config, verbose=True):
    """Trains and evaluates every arm x seed x side; writes the report.

    Returns:
        dict: ``runs`` (per side/arm/seed: run folder, wall time, images/s, final ADA p,
        and per evaluated kimg the metrics), ``table`` (markdown), ``config``, ``machine``,
        ``feature_net``.
    """
    check_config(config)
    log = print if verbose else (lambda *_: None)
    started = time.time()
    reals, labels = load_reals(config.data, config.resolution)
    data_dir = os.path.join(config.outdir, "data")
    if "official" in config.sides:
        export_reals(reals, labels, data_dir)
    network, feature_label = feature_network(config)
    real_features = network(reals) if network is not None else None
    result = {"config": dataclasses.asdict(config), "machine": report.machine(),
              "feature_net": feature_label, "runs": {}}
    grids = {}
    for arm in config.arms:
        for seed in seeds_of(config):
            for side in config.sides:
                if side == "ours":
                    entry = _train_ours(config, arm, seed, log)
                else:
                    entry = _train_official(config, arm, seed, data_dir, log)
                entry["points"] = []
                for kimg, load in _snapshots(side, entry["run_dir"]):
                    metrics, fakes = evaluate(load(), reals, config.num_gen, network,
                                              real_features)
                    entry["points"].append({"kimg": kimg, **metrics})
                    grids[(side, arm, seed)] = fakes
                result["runs"].setdefault(side, {}).setdefault(arm, {})[str(seed)] = entry
                log(f"    {side} {arm} seed {seed}: " + ", ".join(
                    f"{p['kimg']:g} kimg swd {p['swd']:.1f}" for p in entry["points"]))
    result["table"] = format_table(result, config)
    _write_report(config, result, grids, started)
    return result


def _aligned(points, evaluated):
    """The point nearest each evaluated kimg (both sides snapshot every eval_kimg, at
    slightly different image counts)."""
    return [min(points, key=lambda p, k=k: abs(p["kimg"] - k)) for k in evaluated]


def _summary(result, side, arm, metric, evaluated):
    """Per evaluated kimg: the values over seeds of one side."""
    seeds = result["runs"].get(side, {}).get(arm, {})
    values = [[p.get(metric) for p in _aligned(entry["points"], evaluated)]
              for entry in seeds.values() if entry["points"]]
    return [[v[i] for v in values if v[i] is not None] for i in range(len(evaluated))]


def _evaluated(config):
    count = int(math.floor(config.kimg / config.eval_kimg + 1e-9))
    return [config.eval_kimg * (i + 1) for i in range(count)]


def _measured(result):
    """The `METRICS` some evaluated point has."""
    return [m for m in METRICS if any(m in p for side in result["runs"].values()
                                      for arm in side.values() for e in arm.values()
                                      for p in e["points"])]


def format_table(result, config):
    """Markdown: per arm, metric and evaluated kimg, each side's mean [min, max] over seeds
    and whether our mean lies inside the official range."""
    evaluated = _evaluated(config)
    metrics = _measured(result)
    rows = ["| arm | metric | kimg | ours: mean [min, max] | official: mean [min, max] | "
            "ours inside the official range |", "|---|---|---|---|---|---|"]
    for arm in config.arms:
        for metric in metrics:
            ours = _summary(result, "ours", arm, metric, evaluated)
            theirs = _summary(result, "official", arm, metric, evaluated)
            for i, kimg in enumerate(evaluated):
                a, b = ours[i], theirs[i]
                inside = ("yes" if a and b and min(b) <= np.mean(a) <= max(b) else
                          "no" if a and b else "")
                rows.append(f"| {arm} | {metric} | {kimg:g} | {_range(a)} | {_range(b)} | "
                            f"{inside} |")
    speed = ["", "| side | arm | seed | images/s (steady) | wall s | final ADA p |",
             "|---|---|---|---|---|---|"]
    for side, arms in result["runs"].items():
        for arm, seeds in arms.items():
            for seed, entry in seeds.items():
                speed.append(f"| {side} | {arm} | {seed} | {report.fmt(entry['img_per_s'])} "
                             f"| {entry['wall_s']:.0f} | {report.fmt(entry['aug_p'])} |")
    return "\n".join(rows + speed)


def _range(values):
    if not values:
        return "-"
    return f"{np.mean(values):.4g} [{min(values):.4g}, {max(values):.4g}]"


def _write_report(config, result, grids, started):
    out = config.outdir
    panels = []
    for metric in _measured(result):
        for arm in config.arms:
            lines = []
            for side, style, colour in (("ours", "-", "tab:blue"),
                                        ("official", "--", "tab:red")):
                for seed, entry in result["runs"].get(side, {}).get(arm, {}).items():
                    points = [p for p in entry["points"] if metric in p]
                    lines.append(dict(label=f"{side} seed {seed}", style=style, color=colour,
                                      kimg=[p["kimg"] for p in points],
                                      values=[p[metric] for p in points]))
            panels.append((f"{arm}: {metric}", lines))
    report.plot_curves(panels, os.path.join(out, "parity_curves.png"),
                       columns=len(config.arms))
    written = ["parity_curves.png"]
    first = seeds_of(config)[0]
    for arm in config.arms:
        panels = [tfd_images.image_grid(grids[(side, arm, first)], columns=4)
                  for side in config.sides if (side, arm, first) in grids]
        if panels:
            name = f"parity_{arm}.png"
            tfd_images.save_png(tfd_images.side_by_side(
                [tfd_images.enlarge(p, 256) for p in panels]), os.path.join(out, name))
            written.append(name)
    result["wall_s"] = time.time() - started
    with open(os.path.join(out, "parity.json"), "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=2, default=str)
    m = result["machine"]
    gpus = ", ".join(m["gpus"]) if m.get("gpus") else "no GPU"
    title = (f"# Convergence parity with stylegan2-ada-pytorch\n\nMachine: {m['cpu']}, "
             f"{m['cpu_count']} cores, {gpus}, TensorFlow {m['tensorflow']}. KID: "
             f"{result['feature_net']}. Command: "
             f"`{config.command or 'tfdisgan.experiments.parity.run_parity'}`\n\n")
    with open(os.path.join(out, "parity.md"), "w", encoding="utf-8") as handle:
        handle.write(title + result["table"] + "\n")
    if config.report_dir:
        os.makedirs(config.report_dir, exist_ok=True)
        for name in ("parity.md", "parity.json", *written):
            shutil.copyfile(os.path.join(out, name), os.path.join(config.report_dir, name))


__all__ = ["ARMS", "ParityConfig", "ParityError", "SIDES", "check_config",
           "config_from_flags", "define_flags", "evaluate", "export_reals", "format_table",
           "official_command", "run_parity", "train_config"]

if __name__ == "__main__":  # pragma: no cover
    sys.exit("use scripts/parity.py")
