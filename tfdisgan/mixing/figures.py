"""The style-mixing figures of scripts/style_mix.py, written to a folder: one generator,
two generators split by resolution (both directions, same-z rows, sweeps, an optional
layer-swapped run folder), or two classes of one conditional generator."""

import os

import numpy as np

from tfdisgan import export, runs
from tfdisgan.images import save_png, side_by_side, write_gif
from tfdisgan.mixing.cross_domain import cross_domain_mix, cross_domain_sweeps, paired_mix
from tfdisgan.mixing.layer_swap import swap_layers, write_run
from tfdisgan.mixing.resolutions import parse_split, synthesis_resolutions
from tfdisgan.mixing.style_grid import crossover_sweep, style_mixing_grid
from tfdisgan.projection import (
    ProjectionError,
    load_target,
    make_distance,
    project,
    read_projected_w,
    write_projection,
)
from tfdisgan.views import GeneratorView, parse_range


def write_style_mixing(network, rows, cols, styles, outdir, psi=1.0, label=None,
                       noise_mode="const", gif=False, fps=24, row_ws=(), col_ws=()):
    """One generator: ``style_mixing.png`` (column seeds give the layers `styles` to the
    row seeds) and, with `gif`, ``crossover.gif``. Returns the paths written.

    Args:
        network: what ``--network`` names (run folder, checkpoint, SavedModel).
        rows, cols: seeds; styles: layer indices or a range text ("0-3").
        label: class name or id of both (conditional models).
        row_ws, col_ws: ``projected_w.npz`` files whose ws come first among the rows /
            columns (photos projected by scripts/project.py).

    Raises:
        ValueError: a DCGAN, bad styles, class or seeds (naming the flag).
    """
    if isinstance(styles, str):
        styles = parse_range(styles, "--styles")
    view = export.load_network(network)
    view.require_styles("--network")
    label = view.class_id(label) if len(rows) or len(cols) else None
    common = dict(psi=psi, row_class=label, col_class=label, noise_mode=noise_mode,
                  row_ws=_projected(row_ws, view, "--row_ws"),
                  col_ws=_projected(col_ws, view, "--col_ws"))
    mix = style_mixing_grid(view, rows, cols, styles, **common)
    os.makedirs(outdir, exist_ok=True)
    written = [os.path.join(outdir, "style_mixing.png")]
    save_png(mix.image, written[0])
    if gif:
        frames = crossover_sweep(view, rows, cols, **common)
        written.append(write_gif(frames, os.path.join(outdir, "crossover.gif"), fps))
    return written


def _projected(paths, view, flag):
    """The ws of ``projected_w.npz`` files, concatenated (None for none)."""
    if not paths:
        return None
    try:
        return np.concatenate([read_projected_w(p, view) for p in paths])
    except ProjectionError as error:
        raise ValueError(str(error).replace("--projected_w", flag)) from None


def _load_pair(network_a, network_b, for_swap):
    """``(view_a, view_b, model_a, model_b)``; models only `for_swap` (checkpoints)."""
    if not for_swap:
        return (export.load_network(network_a, flag="--network_a"),
                export.load_network(network_b, flag="--network_b"), None, None)
    loaded = []
    for flag, path in (("--network_a", network_a), ("--network_b", network_b)):
        if runs.resolve_network(path, flag)[0] != "checkpoint":
            raise ValueError(f"--swap_out needs training checkpoints: {flag} {path!r} is a "
                             "SavedModel.")
        model, names, _ = runs.load_model(path, flag)
        loaded.append((GeneratorView(model, class_names=names), model))
    (view_a, model_a), (view_b, model_b) = loaded
    return view_a, view_b, model_a, model_b


def swap_out(network_a, network_b, model_a, model_b, split_text, split, out, mode="hard",
             width=1.0, mapping="a", class_names=None, overwrite=False):
    """Writes the layer-swapped generator of `model_a` / `model_b` at `split` (A the lowest
    resolutions) as the run folder `out`; returns `out`."""
    blocks = synthesis_resolutions(model_a.generator_ema.img_resolution)
    if list(split.a) != blocks[: len(split.a)]:
        raise ValueError(f"--swap_out: --split={split_text} must give A the lowest "
                         "resolutions (4 px up to the swap point), e.g. --split=8.")
    swapped = swap_layers(model_a, model_b, max(split.a), mode=mode, width=width,
                          mapping=mapping)
    source = network_a if mapping == "a" else network_b
    run_config = runs.read_run_config(runs.resolve_network(source)[2])
    info = {"network_a": os.path.abspath(network_a), "network_b": os.path.abspath(network_b),
            "split": split_text, **swapped.swap_info}
    return write_run(swapped, out, run_config, class_names=class_names, info=info,
                     overwrite=overwrite)


def photo_styles(view_a, photo=None, photo_w=None, label=None, steps=1000,
                 distance="auto", outdir=None, log=print):
    """A's styles of a real photo: projected now (`photo`, an image file; the projection's
    files go to ``outdir/projection``) or read from scripts/project.py's `photo_w`.

    Returns:
        float32 ``[1, num_ws, w_dim]``, or None when neither is given.

    Raises:
        ValueError: both given, an unreadable photo, a SavedModel A (no gradients), or a
            ``projected_w.npz`` of another shape (naming the flag).
    """
    if photo and photo_w:
        raise ValueError("give --photo (projected now) or --photo_w (projected before), not "
                         "both.")
    if photo_w:
        return _projected([photo_w], view_a, "--photo_w")
    if not photo:
        return None
    try:
        target = load_target(photo, view_a.resolution)
        result = project(view_a, target, steps=steps, label=label,
                         distance=make_distance(distance))
    except ProjectionError as error:
        raise ValueError(str(error).replace("--target", "--photo")) from None
    written = write_projection(os.path.join(outdir, "projection"), result, view_a)
    log(f"Projected {photo} into A: PSNR {result.psnr:.1f} dB ({result.distance_label}): "
        f"{written['proj.png']}")
    return result.ws[None]


def write_cross_mix(outdir, rows, cols, split, network=None, network_a=None, network_b=None,
                    class_a=None, class_b=None, render="b", psi=1.0, noise_mode="const",
                    gif=False, fps=24, swap_out_dir=None, swap_mode="hard", swap_width=1.0,
                    swap_mapping="a", overwrite=False, log=print, photo=None, photo_w=None,
                    project_steps=1000, distance="auto"):
    """Two generators (`network_a`, `network_b`) or two classes of one (`network`,
    `class_a`, `class_b`) split by resolution (`split`, e.g. "8"), both directions:
    ``mix_*.png``, ``both_directions.png``, ``same_z.png`` (when the z sizes agree), with
    `gif` the sweeps, and with `swap_out_dir` a layer-swapped run folder. Returns the
    paths written.

    With `photo` (projected into A for `project_steps`) or `photo_w` (its
    ``projected_w.npz``), A's sources are that real photo instead of seeds and `rows` /
    `cols` are B's seeds ("this building, on fire": the photo's layout under B's texture,
    and the reverse); with `swap_out_dir` too, ``photo_swapped.png`` shows the photo's
    styles rendered by A's and by the layer-swapped generator.

    Raises:
        ValueError: DCGANs, mismatched generators, bad split, classes or seeds, a photo
            with class mixing.
        FileExistsError: `swap_out_dir` exists without `overwrite`.
    """
    model_a = model_b = None
    if network is None:
        view_a, view_b, model_a, model_b = _load_pair(network_a, network_b,
                                                      bool(swap_out_dir))
        class_a, class_b = view_a.class_id(class_a), view_b.class_id(class_b)
    else:
        view_a = view_b = export.load_network(network)
        view_a.require_styles("--network")
        class_a, class_b = view_a.class_id(class_a), view_a.class_id(class_b)
    for view, which in ((view_a, "A"), (view_b, "B")):
        view.require_styles(f"network {which}")
    split_text, split = split, parse_split(split, view_a.resolution, "--split")
    if network is not None and (photo or photo_w):
        raise ValueError("--photo/--photo_w: a real photo mixes across two generators "
                         "(--network_a, --network_b), not classes of one.")
    os.makedirs(outdir, exist_ok=True)
    ws_a = photo_styles(view_a, photo, photo_w, class_a, project_steps, distance, outdir, log)
    common = dict(render=render, psi=psi, class_a=class_a, class_b=class_b,
                  noise_mode=noise_mode)
    mix = cross_domain_mix(view_a, view_b, rows, cols, split, ws_a=ws_a, **common)
    written = []
    for figure, stem, label in zip((mix.forward, mix.reverse), mix.stems, mix.labels,
                                   strict=True):
        path = os.path.join(outdir, f"mix_{stem}.png")
        save_png(figure.image, path)
        written.append(path)
        log(f"{label}: {path}")
    written.append(os.path.join(outdir, "both_directions.png"))
    save_png(mix.image, written[-1])
    if view_a.z_dim == view_b.z_dim and ws_a is None:
        paired = paired_mix(view_a, view_b, rows, split, **common)
        written.append(os.path.join(outdir, "same_z.png"))
        save_png(paired.image, written[-1])
    if gif:
        sweeps = cross_domain_sweeps(view_a, view_b, rows, cols, ws_a=ws_a, **common)
        for frames, stem in zip(sweeps, mix.stems, strict=True):
            written.append(write_gif(frames, os.path.join(outdir, f"mix_{stem}.gif"), fps))
    if swap_out_dir:
        names = (view_a if swap_mapping == "a" else view_b).class_names
        written.append(swap_out(network_a, network_b, model_a, model_b, split_text, split,
                                swap_out_dir, swap_mode, swap_width, swap_mapping, names,
                                overwrite))
        if ws_a is not None:  # A's render of the photo | the swapped generator's
            swapped = export.load_network(swap_out_dir)
            written.append(os.path.join(outdir, "photo_swapped.png"))
            save_png(side_by_side([view_a.images_from_ws(ws_a, noise_mode)[0],
                                   swapped.images_from_ws(ws_a, noise_mode)[0]]), written[-1])
            log(f"The photo's styles through A | the layer-swapped generator: {written[-1]}")
    return written
