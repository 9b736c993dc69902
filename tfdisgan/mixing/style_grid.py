"""The style-mixing figure of the StyleGAN papers and its crossover sweep."""

import dataclasses

import numpy as np

from tfdisgan.images import image_grid
from tfdisgan.models.stylegan2.style_layers import select_layers
from tfdisgan.views import (
    as_view,
    crossover_ws,
    parse_range,
)


@dataclasses.dataclass
class StyleMix:
    """A style-mixing result.

    Attributes:
        image: uint8 ``[(R + 1) * H, (C + 1) * W, 3]``: the figure. Top row: the column
            sources; left column: the row sources; cell ``(r, c)``: row ``r``'s image with
            the ``styles`` layers of column ``c``; the top-left cell is blank.
        mixed: uint8 ``[R, C, H, W, 3]``.
        row_images: uint8 ``[R, H, W, 3]``.
        col_images: uint8 ``[C, H, W, 3]``.
        mixed_ws: float32 ``[R, C, num_ws, w_dim]``.
        row_ws, col_ws: float32 ``[R or C, num_ws, w_dim]``.
    """

    image: np.ndarray
    mixed: np.ndarray
    row_images: np.ndarray
    col_images: np.ndarray
    mixed_ws: np.ndarray
    row_ws: np.ndarray
    col_ws: np.ndarray


def parse_styles(styles, num_ws, name="styles"):
    """``styles`` ("0-6", an int, or ints) -> sorted unique layer ids in ``[0, num_ws)``.

    Raises:
        ValueError: empty, or a layer outside ``[0, num_ws)``.
    """
    layers = sorted(set(parse_range(styles, name)))
    if not layers:
        raise ValueError(f"`{name}` selects no layer.")
    bad = [s for s in layers if not 0 <= s < num_ws]
    if bad:
        raise ValueError(
            f"`{name}`: layer {bad[0]} is out of range; this generator has {num_ws} style "
            f"layers (0-{num_ws - 1}: coarse first, fine last)."
        )
    return layers


def style_mix_ws(row_ws, col_ws, styles):
    """``[R, C, num_ws, w_dim]``: row ``r``'s ws with the ``styles`` layers of column ``c``.

    Args:
        row_ws: ``[R, num_ws, w_dim]``; col_ws: ``[C, num_ws, w_dim]``.
        styles: iterable of layer ids.
    """
    row_ws = np.asarray(row_ws, np.float32)
    col_ws = np.asarray(col_ws, np.float32)
    if row_ws.shape[1:] != col_ws.shape[1:]:
        raise ValueError(
            f"Row and column styles differ in shape: {row_ws.shape[1:]} vs {col_ws.shape[1:]}; "
            "mixing needs generators with the same num_ws and w_dim."
        )
    rows, cols, num_ws = len(row_ws), len(col_ws), row_ws.shape[1]
    first = np.repeat(row_ws, cols, axis=0)  # cell (r, c) at r * C + c
    second = np.tile(col_ws, (rows, 1, 1))
    mixed = select_layers(first, second, np.isin(np.arange(num_ws), list(styles))).numpy()
    return mixed.reshape(rows, cols, *row_ws.shape[1:])


def style_views(network, col_network, synthesis):
    rows = as_view(network)
    cols = rows if col_network is None else as_view(col_network)
    synth = rows if synthesis is None else as_view(synthesis)
    for view in (rows, cols, synth):
        view.require_styles()
    if not (rows.num_ws == cols.num_ws == synth.num_ws and
            rows.w_dim == cols.w_dim == synth.w_dim):
        raise ValueError(
            "Style mixing across generators needs the same num_ws and w_dim: rows "
            f"({rows.num_ws}, {rows.w_dim}), columns ({cols.num_ws}, {cols.w_dim}), "
            f"synthesis ({synth.num_ws}, {synth.w_dim})."
        )
    return rows, cols, synth


def source_ws(view, seeds, label, psi, ws=None, what="rows"):
    """The styles of a figure's rows or columns: given ``ws`` (projected photos, used as
    they are: no truncation) first, then those of ``seeds`` (truncated by ``psi``).

    Raises:
        ValueError: nothing given, or ``ws`` of another shape than the generator's.
    """
    parts = []
    if ws is not None and len(ws):
        parts.append(view.check_ws(ws))
    if seeds is not None and len(seeds):
        parts.append(view.ws_from_z(view.z_from_seeds(seeds), label, psi))
    if not parts:
        raise ValueError(f"The style-mixing {what} are empty: give seeds or projected ws.")
    return np.concatenate(parts)


def mixing_figure(row_images, col_images, cells):
    """The paper's layout: blank corner, column sources on top, row sources on the left."""
    rows, cols = cells.shape[:2]
    h, w, ch = row_images.shape[1:]
    tiles = np.zeros((rows + 1, cols + 1, h, w, ch), np.uint8)
    tiles[0, 1:] = col_images
    tiles[1:, 0] = row_images
    tiles[1:, 1:] = cells
    return image_grid(tiles.reshape(-1, h, w, ch), columns=cols + 1)


def style_mixing_grid(network, row_seeds, col_seeds, styles, psi=1.0, row_class=None,
                      col_class=None, noise_mode="const", col_network=None, synthesis=None,
                      row_ws=None, col_ws=None):
    """The style-mixing figure: column seeds give the layers ``styles`` to the row seeds.

    With coarse layers (e.g. ``0-3``) the columns set pose and layout and the rows keep
    their colours and details; with fine layers the reverse.

    Args:
        network: the generator of the row styles (a ``GeneratorView`` or a GAN model).
        row_seeds, col_seeds: non-empty lists of ints.
        styles: layers taken from the columns: ``"0-6"``, an int or ints.
        psi: float, truncation of both. Default 1.
        row_class, col_class: class id or name for conditional generators.
        noise_mode: ``"const"`` (default), ``"random"`` or ``"none"``.
        col_network: None (``network``) or another generator for the column styles, with
            the same ``num_ws`` and ``w_dim``.
        synthesis: None (``network``) or the generator whose synthesis renders every cell.
        row_ws, col_ws: optional styles ``[N, num_ws, w_dim]`` (``projected_w.npz`` of
            photos, `tfdisgan.projection`) placed before the seeds' rows / columns.

    Returns:
        ``StyleMix``.

    Raises:
        ValueError: DCGAN ("style mixing needs StyleGAN2"), bad seeds, styles or classes.
    """
    rows, cols, synth = style_views(network, col_network, synthesis)
    layers = parse_styles(styles, synth.num_ws)
    row_ws = source_ws(rows, row_seeds, rows.class_id(row_class), psi, row_ws, "rows")
    col_ws = source_ws(cols, col_seeds, cols.class_id(col_class), psi, col_ws, "columns")
    mixed_ws = style_mix_ws(row_ws, col_ws, layers)
    r, c = len(row_ws), len(col_ws)
    images = synth.images_from_ws(
        np.concatenate([row_ws, col_ws, mixed_ws.reshape(r * c, *row_ws.shape[1:])]),
        noise_mode,
    )
    row_images, col_images = images[:r], images[r : r + c]
    mixed = images[r + c :].reshape(r, c, *images.shape[1:])
    return StyleMix(mixing_figure(row_images, col_images, mixed), mixed, row_images, col_images,
                    mixed_ws, row_ws, col_ws)


def crossover_sweep(network, row_seeds, col_seeds, psi=1.0, row_class=None, col_class=None,
                    noise_mode="const", col_network=None, synthesis=None, row_ws=None,
                    col_ws=None):
    """GIF frames of the style-mixing figure sweeping the crossover layer.

    Frame ``k`` (``0 <= k <= num_ws``) gives the columns' layers ``[0, k)`` to the rows:
    frame 0 shows the row images in every cell, the last frame the column images, and the
    frames between move the split from coarse to fine.

    Args:
        As ``style_mixing_grid`` (no ``styles``).

    Returns:
        uint8 ``[num_ws + 1, (R + 1) * H, (C + 1) * W, 3]``.
    """
    rows, cols, synth = style_views(network, col_network, synthesis)
    row_ws = source_ws(rows, row_seeds, rows.class_id(row_class), psi, row_ws, "rows")
    col_ws = source_ws(cols, col_seeds, cols.class_id(col_class), psi, col_ws, "columns")
    r, c, num_ws = len(row_ws), len(col_ws), synth.num_ws
    sources = synth.images_from_ws(np.concatenate([row_ws, col_ws]), noise_mode)
    # Every (crossover, row, col) cell in one batched pass: coarse from the column.
    coarse = np.tile(np.repeat(col_ws[None], r, 0).reshape(r * c, num_ws, -1), (num_ws + 1, 1, 1))
    fine = np.tile(np.repeat(row_ws, c, 0), (num_ws + 1, 1, 1))
    crossover = np.repeat(np.arange(num_ws + 1), r * c)
    cells = synth.images_from_ws(np.asarray(crossover_ws(coarse, fine, crossover)), noise_mode)
    cells = cells.reshape(num_ws + 1, r, c, *cells.shape[1:])
    return np.stack([mixing_figure(sources[:r], sources[r:], frame) for frame in cells])
