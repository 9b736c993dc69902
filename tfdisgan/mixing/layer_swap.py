"""Layer swapping (Pinkney & Adler 2020): a StyleGAN2 whose blocks come from two models;
`write_run` stores it as a run folder."""

import dataclasses
import math
import os

import numpy as np
import tensorflow as tf

from tfdisgan import config as config_lib
from tfdisgan import runs
from tfdisgan.config import ConfigError
from tfdisgan.mixing.resolutions import (
    describe_resolutions,
    synthesis_resolutions,
)
from tfdisgan.models.gan import GAN

# ------------------------------------------------------------------------------------------
# Layer swapping
# ------------------------------------------------------------------------------------------

SWAP_MODES = ("hard", "smooth", "linear")
MAPPING_SOURCES = ("a", "b")


def swap_blend(img_resolution, resolution, mode="hard", width=1.0):
    """B's share ``alpha`` per block resolution: weights ``(1 - alpha) * A + alpha * B``.

    ``hard``: 0 up to ``resolution``, 1 above. ``smooth``: a sigmoid of ``log2(res)``
    centred between ``resolution`` and the next block, ``width`` octaves per unit (Pinkney
    & Adler's ``blend_width``). ``linear``: a ramp over ``width`` octaves with the same
    centre (width 1 equals hard). All are non-decreasing with the resolution.

    Args:
        img_resolution: int, the generators' output resolution.
        resolution: int, the last block resolution that is (mostly) A's.
        mode: ``"hard"``, ``"smooth"`` or ``"linear"``. Default ``"hard"``.
        width: float > 0, the transition width in octaves (smooth, linear). Default 1.

    Returns:
        dict ``{res: alpha}`` over ``synthesis_resolutions(img_resolution)``.

    Raises:
        ValueError: a bad mode, width or resolution.

    Reference:
        Pinkney & Adler, "Resolution Dependent GAN Interpolation for Controllable Image
        Synthesis Between Domains", 2020 (layer swapping, ``blend_models.py``).
    """
    blocks = synthesis_resolutions(img_resolution)
    if mode not in SWAP_MODES:
        raise ValueError(f"`mode` must be one of {SWAP_MODES}. Received: mode={mode!r}")
    if (not isinstance(width, (int, float)) or isinstance(width, bool) or not width > 0
            or not math.isfinite(width)):
        raise ValueError(f"`width` must be a number > 0. Received: width={width!r}")
    if resolution not in blocks[:-1]:
        raise ValueError(
            f"The swap resolution must be a block below the top of the {img_resolution} px "
            f"generator ({describe_resolutions(blocks[:-1])}), so that both get a share. Received: "
            f"resolution={resolution!r}"
        )
    centre = math.log2(resolution) + 0.5
    alphas = {}
    for res in blocks:
        x = math.log2(res) - centre
        if mode == "hard":
            alphas[res] = 0.0 if res <= resolution else 1.0
        elif mode == "smooth":
            alphas[res] = 1.0 / (1.0 + math.exp(-x / width))
        else:
            alphas[res] = min(1.0, max(0.0, x / width + 0.5))
    return alphas


def check_swap_models(model_a, model_b):
    for model, which in ((model_a, "model_a"), (model_b, "model_b")):
        if not (isinstance(model, GAN) and hasattr(model.generator, "synthesis")):
            raise ValueError(
                f"Layer swapping needs two StyleGAN2 models (run folders or checkpoints, not "
                f"exported SavedModels or DCGANs). Received: {which}={model!r}"
            )
    syn_a, syn_b = model_a.generator.synthesis, model_b.generator.synthesis
    if syn_a.img_resolution != syn_b.img_resolution:
        raise ValueError(
            f"Layer swapping needs the same resolution: A {syn_a.img_resolution} px, B "
            f"{syn_b.img_resolution} px."
        )
    for wa, wb in zip(syn_a.weights, syn_b.weights, strict=False):
        if wa.path.split("/", 1)[-1] != wb.path.split("/", 1)[-1] or wa.shape != wb.shape:
            raise ValueError(
                "Layer swapping needs the same synthesis architecture; the first difference: "
                f"A {wa.path} {tuple(wa.shape)} vs B {wb.path} {tuple(wb.shape)}."
            )
    if len(syn_a.weights) != len(syn_b.weights):
        raise ValueError(
            f"Layer swapping needs the same synthesis architecture: A has "
            f"{len(syn_a.weights)} variables, B {len(syn_b.weights)}."
        )


def swap_layers(model_a, model_b, resolution, mode="hard", width=1.0, mapping="a", name=None):
    """A new StyleGAN2 whose synthesis blends A's blocks (low resolutions) and B's (high).

    Every weight of the block at ``res`` px (the 4x4 constant, both modulated convs with
    their style affines, noise strengths, and the ToRGB) becomes ``(1 - alpha) * A + alpha
    * B`` with ``alpha = swap_blend(...)[res]``; ``hard`` copies them exactly. The fixed
    noise buffers (``noise_const``) are copied from the source with the larger share (an
    average of two noise images would no longer be unit Gaussian). The mapping network
    (with its ``w_avg``), the discriminator and every other setting come from the model
    named by ``mapping``. Both the trained generator and the EMA generator are blended.
    The result is a normal ``StyleGAN2``: ``GeneratorView``, ``export_saved_model`` and
    ``write_run`` (a run folder for ``--network``) take it.

    Args:
        model_a: StyleGAN2, source of the low resolutions (structure, layout).
        model_b: StyleGAN2 of the same synthesis architecture, source of the high ones.
        resolution: int, the last block that is A's (``hard``); the blend's centre lies
            between it and the next block.
        mode: ``"hard"`` (default), ``"smooth"`` (sigmoid) or ``"linear"``.
        width: float > 0, octaves of the smooth / linear transition. Default 1.
        mapping: ``"a"`` (default) or ``"b"``: whose mapping network (and class count,
            discriminator) the new model has.
        name: str or None, the new model's name.

    Returns:
        ``StyleGAN2`` (not compiled).

    Raises:
        ValueError: not two StyleGAN2 models of the same synthesis architecture, or a bad
            resolution, mode, width or mapping.

    Example:
        >>> swapped = swap_layers(church, fire, 8)     # church 4-8 px, fire 16 px and up
        >>> export.export_saved_model(swapped, "exported/church_on_fire/1")

    Reference:
        Pinkney & Adler, "Resolution Dependent GAN Interpolation for Controllable Image
        Synthesis Between Domains", 2020.
    """
    check_swap_models(model_a, model_b)
    if mapping not in MAPPING_SOURCES:
        raise ValueError(
            f"`mapping` must be one of {MAPPING_SOURCES}. Received: mapping={mapping!r}"
        )
    alphas = swap_blend(model_a.generator.synthesis.img_resolution, resolution, mode, width)
    base = model_a if mapping == "a" else model_b
    config = base.get_config()
    if name is not None:
        config["name"] = name
    swapped = type(base).from_config(config)
    for attr in ("generator", "generator_ema", "discriminator"):
        src, dst = getattr(base, attr), getattr(swapped, attr)
        for a, b in zip(src.weights, dst.weights, strict=True):
            b.assign(a)
    for attr in ("generator", "generator_ema"):
        syn_a = getattr(model_a, attr).synthesis
        syn_b = getattr(model_b, attr).synthesis
        syn_d = getattr(swapped, attr).synthesis
        for res, alpha in alphas.items():
            blocks = [getattr(s, f"b{res}") for s in (syn_a, syn_b, syn_d)]
            for wa, wb, wd in zip(*(b.weights for b in blocks), strict=True):
                if alpha == 0.0 or (not wd.trainable and alpha < 0.5):
                    wd.assign(wa)
                elif alpha == 1.0 or not wd.trainable:
                    wd.assign(wb)
                else:
                    wd.assign(np.asarray(wa) * np.float32(1.0 - alpha)
                              + np.asarray(wb) * np.float32(alpha))
    swapped.swap_info = {"resolution": int(resolution), "mode": mode, "width": float(width),
                         "mapping": mapping,
                         "alpha": {str(r): float(a) for r, a in alphas.items()}}
    return swapped


def write_run(model, out, run_config, class_names=None, info=None, overwrite=False):
    """Writes ``model`` as a run folder (``config.json`` + ``checkpoints/ckpt-0``), atomically,
    so that ``--network=out`` (generate, style_mix, export) and ``--transfer_from`` load it.

    Args:
        model: a ``StyleGAN2`` (e.g. from ``swap_layers``) of the architecture ``run_config``
            describes.
        out: str, the folder to create.
        run_config: dict, a run's ``config.json`` (the source run's): the architecture
            fields must match ``model``.
        class_names: class names by id, or None.
        info: dict or None, written to ``out/swap.json`` (what was made, from what).
        overwrite: bool, replace an existing ``out``.

    Returns:
        ``out``.

    Raises:
        FileExistsError: ``out`` exists without ``overwrite``.
        ValueError: the config does not rebuild a model with ``model``'s weights.
    """
    if os.path.exists(out) and not overwrite:
        raise FileExistsError(f"{out} exists; pass --overwrite to replace it.")
    try:
        config = config_lib.from_record(run_config)
    except ConfigError as error:
        raise ValueError(str(error)) from None
    config = dataclasses.replace(config, transfer_from="", resume="", showcase=False)
    target, step = runs.build_model(config, int(model.num_classes),
                                    tf.distribute.get_strategy())
    for attr in ("generator", "generator_ema", "discriminator"):
        src, dst = getattr(model, attr).weights, getattr(target, attr).weights
        if len(src) != len(dst) or any(a.shape != b.shape for a, b in zip(src, dst,
                                                                          strict=True)):
            raise ValueError(
                f"The run config does not describe this model: its {attr} differs "
                f"({len(dst)} vs {len(src)} variables or their shapes)."
            )
        for a, b in zip(src, dst, strict=True):
            b.assign(a)
    return runs.write_run(out, target, step, config, int(model.num_classes), class_names,
                          extra={"swap.json": info} if info is not None else None,
                          overwrite=overwrite)
