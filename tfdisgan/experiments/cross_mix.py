"""Training-time vs inference-time cross-domain mixing, with equal budgets.

Two conditional StyleGAN2 runs on the two `StudyConfig.mix_classes` A and B, same data,
seed and budget: `inference`, trained plainly, and `training`, trained with
`--cross_mix=A:B@mix_res` (a share of the G step's fakes take B's styles at `mix_res` and
A's elsewhere, judged as B). From each the same `mixing.class_mix` is rendered (A's coarse
styles, B's `mix_res` styles, the same z) and compared with B's and A's reals
(`evaluate_cross_mix`). scripts/study.py --cross_mix_study runs it.

Outputs (`run_cross_mix_study`): OUTDIR/cross_mix.json, OUTDIR/cross_mix.md and
OUTDIR/cross_mix_<arm>.png grids (rows A, B, mix; also in `report_dir` when given);
OUTDIR/runs/ holds the runs.

Example:
    >>> from tfdisgan.experiments import cross_mix, small_data
    >>> config = small_data.StudyConfig(cfg="cpu_tiny", kimg=3, outdir="runs/cross_mix")
    >>> print(cross_mix.run_cross_mix_study(config)["table"])
"""

import dataclasses
import os
import time

import keras
import numpy as np
import tensorflow as tf

from tfdisgan import export, mixing, training
from tfdisgan.data import describe
from tfdisgan.experiments import report
from tfdisgan.experiments.report import fmt
from tfdisgan.experiments.small_data import (
    SCRATCH_ARM,
    StudyError,
    budget_kimg,
    check_budget,
    progress_log,
    train_arm,
)
from tfdisgan.metrics import msssim, swd
from tfdisgan.metrics.core import load_reals

CROSS_MIX_ARMS = ("inference", "training")


def cross_mix_split(config, img_resolution):
    """The `ResolutionSplit` of the comparison: A (`mix_classes[0]`) gives every block
    outside `mix_res`, B (`mix_classes[1]`) the blocks in it (4-8 px from A, 16-32 px from
    B at 32 px), the split `--cross_mix=A:B@mix_res` trains.

    Raises:
        StudyError: naming --mix_res.
    """
    try:
        b = mixing.parse_resolution_range(config.mix_res, img_resolution, "--mix_res")
    except ValueError as error:
        raise StudyError(str(error)) from None
    a = tuple(r for r in mixing.synthesis_resolutions(img_resolution) if r not in b)
    if not a:
        raise StudyError(f"--mix_res: {config.mix_res!r} is every block of the "
                         f"{img_resolution} px generator: nothing would come from class A")
    return mixing.ResolutionSplit(a, tuple(b), int(img_resolution))


def cross_mix_train_config(config, arm, run_dir_parent):
    """The `TrainConfig` of one arm of the cross-mixing comparison.

    Both arms train one conditional StyleGAN2 on the two `mix_classes` with DiffAugment,
    the same data, seed and budget; `training` adds `--cross_mix=A:B@mix_res`.
    """
    if arm not in CROSS_MIX_ARMS:
        raise StudyError(f"unknown cross-mix arm {arm!r}; valid: {', '.join(CROSS_MIX_ARMS)}")
    budget = budget_kimg(config)
    class_a, class_b = config.mix_classes
    extra = {}
    if arm == "training":
        extra = dict(cross_mix=f"{class_a}:{class_b}@{config.mix_res}",
                     cross_mix_prob=config.cross_mix_prob)
    return training.TrainConfig(
        data=config.data, classes=(class_a, class_b), conditional=True, model="stylegan2",
        cfg=config.cfg, resolution=config.resolution, batch=config.batch, kimg=config.kimg,
        steps=config.steps, augment=SCRATCH_ARM, seed=config.seed, precision=config.precision,
        outdir=run_dir_parent, run_name=f"cross_mix_{arm}", grid_seeds=config.grid_images,
        showcase=False, keep_checkpoints=1, tick_kimg=max(budget / 10, 1e-3),
        snapshot_ticks=5, **extra)


def check_config(config):
    """Validates a `StudyConfig` for `run_cross_mix_study` before anything is trained.

    Raises:
        StudyError: naming the flag.
    """
    check_budget(config)
    if len(config.mix_classes) != 2 or config.mix_classes[0] == config.mix_classes[1]:
        raise StudyError("--mix_classes: give two different classes A,B (A: structure, B: "
                         f"textures), got {list(config.mix_classes)}")


def evaluate_cross_mix(view, reals_a, reals_b, split, class_a, class_b, num_gen, seed=0):
    """Metrics of the class mixes of one conditional generator.

    Renders `mixing.class_mix` for `num_gen` seeds: per seed the same `z` mapped with class
    A and with class B, A's styles at `split.a`, B's at `split.b` (the `forward` mix).

    Args:
        view: a `mixing.GeneratorView` of a conditional StyleGAN2.
        reals_a, reals_b: uint8 [N, H, W, 3], the reals of class A and of class B.
        split: `mixing.ResolutionSplit`.
        class_a, class_b: class names or ids.
        num_gen: int, mixes drawn (SWD uses min(num_gen, N) of each set).
        seed: int; the seeds are seed * 100000 + [0, num_gen).

    Returns:
        `(results, mix)`: `results` holds, x 1e3, `swd_mix_vs_b` / `swd_mix_vs_a` (the mixes
        against B's and A's reals), `swd_b_vs_b` / `swd_a_vs_a` (the plain class fakes of the
        same z against their own reals: the generator's quality), `msssim_mix` (the mixes'
        diversity) and the counts; `mix` the `mixing.PairedMix`.
    """
    seeds = list(range(seed * 100000, seed * 100000 + num_gen))
    mix = mixing.class_mix(view, seeds, class_a, class_b, split)
    n = min(num_gen, len(reals_a), len(reals_b))
    rng = np.random.RandomState(seed)
    sub_a = reals_a[rng.permutation(len(reals_a))[:n]]
    sub_b = reals_b[rng.permutation(len(reals_b))[:n]]

    def dist(reals, fakes):
        return swd.sliced_wasserstein_distance(reals, fakes[:n], seed=seed)["swd"]

    results = {
        "swd_mix_vs_b": dist(sub_b, mix.forward),
        "swd_mix_vs_a": dist(sub_a, mix.forward),
        "swd_b_vs_b": dist(sub_b, mix.b_images),
        "swd_a_vs_a": dist(sub_a, mix.a_images),
        "msssim_mix": msssim.msssim_diversity(mix.forward, seed=seed),
        "num_gen": int(num_gen),
        "swd_num": int(n),
    }
    return results, mix


def format_cross_mix_table(result):
    """The markdown table of `run_cross_mix_study`'s dict."""
    a, b = result["classes"]
    head = ["arm", "kimg", f"SWD mix vs {b}", f"SWD mix vs {a}", "MS-SSIM mixes",
            f"SWD {b} fakes vs {b}", f"SWD {a} fakes vs {a}", "img/s", "wall"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    reals = result["reals"]
    # The reals of A in place of the mixes: pure structure of A, none of B's textures.
    lines.append("| " + " | ".join(
        [f"{a} reals (for scale)", "", fmt(reals["swd_a_vs_b"]), "0",
         fmt(reals["msssim_a"]), "", "", "", ""]) + " |")
    for arm, e in result["arms"].items():
        name = {"inference": "plain + inference-time class_mix",
                "training": f"--cross_mix={result['cross_mix']} + class_mix"}[arm]
        row = [name + (" (diverged)" if e.get("diverged") else ""), fmt(e.get("kimg")),
               fmt(e.get("swd_mix_vs_b")), fmt(e.get("swd_mix_vs_a")),
               fmt(e.get("msssim_mix")), fmt(e.get("swd_b_vs_b")),
               fmt(e.get("swd_a_vs_a")), fmt(e.get("img_per_s")), f"{e['wall_s']:.0f} s"]
        lines.append("| " + " | ".join(row) + " |")
    notes = [
        f"- Mixes: `class_mix` of each generator, {result['split']} (same z per seed), "
        f"{result['num_gen']} seeds; SWD x 1e3 against {result['swd_num']} reals of "
        "each class (lower: closer). The reals row puts A's reals in place of the mixes "
        f"(SWD between the two classes' reals); MS-SSIM of {b}'s reals: "
        f"{fmt(reals['msssim_b'])}.",
        "- SWD of the plain class fakes (the same z, one class) against their own reals is "
        "each generator's quality: a mix can only be judged next to it.",
    ]
    return "\n".join(lines) + "\n\n" + "\n".join(notes) + "\n"


def run_cross_mix_study(config, verbose=True):
    """Training-time (`--cross_mix`) vs inference-time (`class_mix`) cross-domain mixing.

    Trains two conditional StyleGAN2 runs on the two `mix_classes` with the same data,
    seed and budget: `inference`, plain, and `training`, with
    `--cross_mix=A:B@mix_res`. From each it renders the same `class_mix` (A's coarse
    styles, B's `mix_res` styles, same z) and reports the mixes' SWD against B's and A's
    reals, their MS-SSIM diversity and each generator's plain per-class SWD
    (`evaluate_cross_mix`), plus a grid per arm (rows: A, B, mix).

    Outputs: OUTDIR/cross_mix.json, OUTDIR/cross_mix.md, OUTDIR/cross_mix_<arm>.png (also
    in `report_dir` when given); OUTDIR/runs/ holds the runs.

    Args:
        config: `StudyConfig` (`model`, `arms`, `classes`, leak and FID settings unused).
        verbose: print progress.

    Returns:
        dict: `config`, `machine`, `classes`, `cross_mix`, `split`, `reals`, `arms` (per
        arm: the `evaluate_cross_mix` results, kimg, img_per_s, wall_s, run_dir, grid,
        diverged), `table`, `total_s`.

    Raises:
        StudyError, training.ConfigError: a bad setting (before any training).
    """
    check_config(config)
    started = time.time()
    log = progress_log(verbose)
    # Both arms are validated before the first trains; --mix_res before --cross_mix, so a
    # bad range is reported under the study's flag.
    probe = cross_mix_train_config(config, "inference", "")
    resolution = training.validate(probe, describe(probe.data))[0].resolution
    split = cross_mix_split(config, resolution)
    probe = cross_mix_train_config(config, "training", "")
    training.validate(probe, describe(probe.data))
    class_a, class_b = config.mix_classes
    os.makedirs(config.outdir, exist_ok=True)
    runs = os.path.join(config.outdir, "runs")
    if config.report_dir:
        os.makedirs(config.report_dir, exist_ok=True)
    reals_a, _ = load_reals(config.data, resolution, None, (class_a,), seed=config.seed)
    reals_b, _ = load_reals(config.data, resolution, None, (class_b,), seed=config.seed)
    num_gen = config.num_gen or min(len(reals_a), len(reals_b), 512)
    n = min(len(reals_a), len(reals_b))
    log(f"Cross-mix study: {len(reals_a)} {class_a} + {len(reals_b)} {class_b} reals of "
        f"{config.data} at {resolution} px, mix {split.describe(class_a, class_b)}")
    result = {
        "config": dataclasses.asdict(config),
        "machine": report.machine(),
        "classes": [class_a, class_b],
        "cross_mix": f"{class_a}:{class_b}@{config.mix_res}",
        "split": split.describe(class_a, class_b),
        "swd_num": int(min(num_gen, n)),
        "num_gen": int(num_gen),
        "reals": {"num_a": int(len(reals_a)), "num_b": int(len(reals_b)),
                  "resolution": int(resolution),
                  "swd_a_vs_b": swd.sliced_wasserstein_distance(
                      reals_a[:n], reals_b[:n], seed=config.seed)["swd"],
                  "msssim_a": msssim.msssim_diversity(reals_a, seed=config.seed),
                  "msssim_b": msssim.msssim_diversity(reals_b, seed=config.seed)},
        "arms": {},
    }
    strategy = tf.distribute.get_strategy()
    for arm in CROSS_MIX_ARMS:
        log(f"== cross-mix arm {arm}")
        cfg = cross_mix_train_config(config, arm, runs)
        run_dir, diverged, wall = train_arm(cfg, arm, runs, strategy, log, verbose)
        entry = {"diverged": diverged, "wall_s": wall, "run_dir": run_dir}
        if tf.train.latest_checkpoint(os.path.join(run_dir, "checkpoints")):
            view = export.load_network(run_dir, batch_size=64)
            metrics, mix = evaluate_cross_mix(view, reals_a, reals_b, split, class_a,
                                              class_b, num_gen, seed=config.seed)
            del view
            k = min(config.grid_images, num_gen, 8)
            # Rows: class A, class B, the mix (A's structure with B's textures); one seed
            # per column, at most 8 (a few KB for docs/).
            entry["grid"] = os.path.join(config.outdir, f"cross_mix_{arm}.png")
            report.save_grid(np.concatenate([mix.a_images[:k], mix.b_images[:k],
                                             mix.forward[:k]]), entry["grid"], columns=k)
            if config.report_dir:
                report.copy_small(entry["grid"],
                                  os.path.join(config.report_dir, f"cross_mix_{arm}.png"))
            log(f"   {arm}: mix swd vs {class_b} {metrics['swd_mix_vs_b']:.1f}, vs {class_a} "
                f"{metrics['swd_mix_vs_a']:.1f}, msssim {metrics['msssim_mix']:.3f}, "
                f"{wall:.0f} s")
        else:
            metrics = {}
        last = report.last_log(run_dir)
        entry.update(kimg=last.get("kimg"), img_per_s=last.get("img_per_s"), **metrics)
        result["arms"][arm] = entry
        keras.backend.clear_session()
        _write_report(config, result, started)
    return result


def _write_report(config, result, started):
    report.write_report(config, result, started, "cross_mix",
                        "Training-time vs inference-time cross-domain mixing",
                        format_cross_mix_table)
