"""Latent walks (GIF frames) and interpolation grids."""


import numpy as np

from tfdisgan.images import image_grid
from tfdisgan.views import (
    SPACES,
    as_view,
    check_seeds,
    lerp,
    loop_positions,
    slerp,
)

# ------------------------------------------------------------------------------------------
# Walks and grids
# ------------------------------------------------------------------------------------------


def latent_walk(network, seeds, frames=60, space="z", psi=1.0, label=None, noise_mode="const"):
    """Frames of a closed loop through the latents of ``seeds``.

    ``space="z"`` walks great circles between the seeds' ``z`` (``slerp``); ``space="w"``
    walks straight lines between their (truncated) ``w`` (StyleGAN2 only), where
    interpolation is perceptually linear.

    Args:
        network: a ``GeneratorView`` or anything ``as_view`` takes.
        seeds: >= 2 ints in ``[0, 2**32)``, the key frames (the loop returns to the first).
        frames: int >= len(seeds), frames in the whole loop. Default 60.
        space: ``"z"`` or ``"w"``. Default ``"z"``.
        psi: float, truncation. Default 1.
        label: class id (or name) for conditional generators, else None.
        noise_mode: ``"const"`` (default), ``"random"`` or ``"none"`` (StyleGAN2).

    Returns:
        uint8 ``[frames, H, W, 3]``; frame 0 is the first seed's image.

    Raises:
        ValueError: fewer than 2 seeds, too few frames, unknown space, ``"w"`` on DCGAN.
    """
    view = as_view(network)
    seeds = check_seeds(seeds)
    if len(seeds) < 2:
        raise ValueError(f"A latent walk needs >= 2 seeds. Received: seeds={list(seeds)}")
    if not isinstance(frames, (int, np.integer)) or frames < len(seeds):
        raise ValueError(
            f"`frames` must be an int >= the number of seeds ({len(seeds)}). "
            f"Received: frames={frames}"
        )
    if space not in SPACES:
        raise ValueError(f"`space` must be one of {SPACES}. Received: space={space!r}")
    label = view.class_id(label)
    keys_z = view.z_from_seeds(seeds)
    segment, t = loop_positions(len(seeds), int(frames))
    a, b = segment, (segment + 1) % len(seeds)
    if space == "z":
        z = slerp(keys_z[a], keys_z[b], t)
        return view.images_from_z(z, label, psi, noise_mode)
    view.require_styles("a latent walk in w")
    keys_w = view.ws_from_z(keys_z, label, psi)
    return view.images_from_ws(lerp(keys_w[a], keys_w[b], t), noise_mode)


def interpolation_grid(network, seeds, steps=8, space="z", psi=1.0, label=None,
                       noise_mode="const"):
    """Rows of straight interpolations: row ``i`` goes from ``seeds[i]`` to ``seeds[i + 1]``.

    Args:
        network: a ``GeneratorView`` or anything ``as_view`` takes.
        seeds: >= 2 ints.
        steps: int >= 2, images per row (both ends included). Default 8.
        space, psi, label, noise_mode: as ``latent_walk``.

    Returns:
        ``(grid uint8 [(len(seeds) - 1) * H, steps * W, 3], images [rows, steps, H, W, 3])``.
    """
    view = as_view(network)
    seeds = check_seeds(seeds)
    if len(seeds) < 2:
        raise ValueError(f"An interpolation grid needs >= 2 seeds. Received: {list(seeds)}")
    if not isinstance(steps, (int, np.integer)) or steps < 2:
        raise ValueError(f"`steps` must be an int >= 2. Received: steps={steps}")
    if space not in SPACES:
        raise ValueError(f"`space` must be one of {SPACES}. Received: space={space!r}")
    label = view.class_id(label)
    rows = len(seeds) - 1
    t = np.tile(np.linspace(0.0, 1.0, steps), rows)
    a = np.repeat(np.arange(rows), steps)
    keys_z = view.z_from_seeds(seeds)
    if space == "z":
        images = view.images_from_z(slerp(keys_z[a], keys_z[a + 1], t), label, psi, noise_mode)
    else:
        view.require_styles("interpolation in w")
        keys_w = view.ws_from_z(keys_z, label, psi)
        images = view.images_from_ws(lerp(keys_w[a], keys_w[a + 1], t), noise_mode)
    return image_grid(images, columns=steps), images.reshape(rows, steps, *images.shape[1:])
