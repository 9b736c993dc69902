"""Mixing two generators (or two classes of one), split by resolution, both directions."""

import dataclasses

import numpy as np

from tfdisgan.images import image_grid, side_by_side
from tfdisgan.mixing.resolutions import (
    ResolutionSplit,
    parse_split,
)
from tfdisgan.mixing.style_grid import (
    StyleMix,
    crossover_sweep,
    style_mixing_grid,
    style_views,
)
from tfdisgan.views import (
    as_view,
)

# ------------------------------------------------------------------------------------------
# Mixing two generators (or two classes of one)
# ------------------------------------------------------------------------------------------

RENDERS = ("a", "b", "fine")


@dataclasses.dataclass
class CrossMix:
    """Both directions of a mix of two sources split by resolution.

    Attributes:
        split: the ``ResolutionSplit``.
        forward: ``StyleMix``: A gives the ``split.a`` styles (columns), B the rest (rows).
        reverse: ``StyleMix``: B gives the ``split.a`` styles (columns), A the rest (rows).
        image: uint8, the two figures side by side (forward left), separated by a gap.
        labels: ``(forward, reverse)`` descriptions, e.g. ``"A 4-8 px + B 16-32 px"``.
        stems: ``(forward, reverse)`` file-name stems, e.g. ``"a4-8_b16-32"``.
    """

    split: ResolutionSplit
    forward: StyleMix
    reverse: StyleMix
    image: np.ndarray
    labels: tuple
    stems: tuple


def pair_views(network_a, network_b, render):
    view_a = as_view(network_a)
    view_b = view_a if network_b is None else as_view(network_b)
    for view, which in ((view_a, "A"), (view_b, "B")):
        view.require_styles(f"mixing network {which}")
    if view_a.resolution != view_b.resolution:
        raise ValueError(
            f"Networks A and B have different resolutions ({view_a.resolution} vs "
            f"{view_b.resolution} px): mixing by resolution needs the same one."
        )
    if render not in RENDERS:
        raise ValueError(f"`render` must be one of {RENDERS}. Received: render={render!r}")
    return view_a, view_b


def renderers(view_a, view_b, render):
    """The synthesis of the forward (B rows) and reverse (A rows) figures."""
    if render == "a":
        return view_a, view_a
    if render == "b":
        return view_b, view_b
    return view_b, view_a  # "fine": the network that gives the split's second range


def cross_domain_mix(network_a, network_b, row_seeds, col_seeds, split, render="b", psi=1.0,
                     class_a=None, class_b=None, noise_mode="const", ws_a=None):
    """Style mixing between two generators (or two classes), split by resolution, both ways.

    ``forward``: the rows are B's images, the columns give them A's styles at the
    ``split.a`` resolutions (``--split=8``: A's 4-8 px layout under B's 16 px and finer
    texture, the seed's "church on fire" with A = church, B = fire). ``reverse``: the
    rows are A's images, the columns give B's styles at the same resolutions. Showing both
    tells which direction works for a pair of models, as in the seed where only one did.

    With ``network_b`` None (or the same model) and two classes, this mixes classes inside
    one conditional model: ``class_a``'s mapping gives the ``split.a`` styles.

    With ``ws_a`` (a real photo projected into A, `tfdisgan.projection`), A's sources are
    those styles instead of seeds: forward, the photo is the column whose coarse styles go
    to B's row seeds ("this building, on fire"); reverse, it is the row that takes B's
    column seeds' coarse styles. The seeds are then B's only.

    Args:
        network_a, network_b: generators (``GeneratorView``, GAN model or exported view)
            with the same resolution, ``num_ws`` and ``w_dim``; ``network_b`` None: A.
        row_seeds, col_seeds: non-empty lists of ints (the same seeds serve both figures).
        split: ``ResolutionSplit`` or a ``--split`` text (``"8"``, ``"4-8,16-512"``).
        render: whose synthesis renders the mixes: ``"a"``, ``"b"`` (default) or
            ``"fine"`` (the rows' network: B forward, A reverse). The source images of
            each figure are rendered by the same synthesis as its mixes.
        psi: float, truncation of both.
        class_a, class_b: classes (id or name) of conditional sources, else None.
        noise_mode: ``"const"`` (default), ``"random"`` or ``"none"``.
        ws_a: None, or A's styles ``[N, num_ws, w_dim]`` used as they are (no truncation).

    Returns:
        ``CrossMix``.

    Raises:
        ValueError: a DCGAN, different resolutions / ``num_ws`` / ``w_dim``, a bad split,
            render, seeds or class.
    """
    view_a, view_b = pair_views(network_a, network_b, render)
    if not isinstance(split, ResolutionSplit):
        split = parse_split(split, view_a.resolution)
    synth_forward, synth_reverse = renderers(view_a, view_b, render)
    common = dict(psi=psi, noise_mode=noise_mode)
    a_seeds = (row_seeds, col_seeds) if ws_a is None else ([], [])
    forward = style_mixing_grid(view_b, row_seeds, a_seeds[1], split.a_layers,
                                row_class=class_b, col_class=class_a, col_network=view_a,
                                synthesis=synth_forward, col_ws=ws_a, **common)
    reverse = style_mixing_grid(view_a, a_seeds[0], col_seeds, split.a_layers,
                                row_class=class_a, col_class=class_b, col_network=view_b,
                                synthesis=synth_reverse, row_ws=ws_a, **common)
    labels = (split.describe("A", "B"), split.describe("B", "A"))
    stems = (split.stem("a", "b"), split.stem("b", "a"))
    return CrossMix(split, forward, reverse, side_by_side([forward.image, reverse.image]),
                    labels, stems)


def cross_domain_sweeps(network_a, network_b, row_seeds, col_seeds, render="b", psi=1.0,
                        class_a=None, class_b=None, noise_mode="const", ws_a=None):
    """GIF frames of both directions of ``cross_domain_mix``, sweeping the crossover layer
    (``ws_a``: A's projected photos instead of A's seeds, as there).

    Returns:
        ``(forward_frames, reverse_frames)``: uint8 ``[num_ws + 1, ...]`` each
        (``crossover_sweep``: frame k gives the columns' layers ``[0, k)``); forward's
        columns are A's, reverse's B's.
    """
    view_a, view_b = pair_views(network_a, network_b, render)
    synth_forward, synth_reverse = renderers(view_a, view_b, render)
    common = dict(psi=psi, noise_mode=noise_mode)
    a_seeds = (row_seeds, col_seeds) if ws_a is None else ([], [])
    forward = crossover_sweep(view_b, row_seeds, a_seeds[1], row_class=class_b,
                              col_class=class_a, col_network=view_a, synthesis=synth_forward,
                              col_ws=ws_a, **common)
    reverse = crossover_sweep(view_a, a_seeds[0], col_seeds, row_class=class_a,
                              col_class=class_b, col_network=view_b, synthesis=synth_reverse,
                              row_ws=ws_a, **common)
    return forward, reverse


@dataclasses.dataclass
class PairedMix:
    """Same-seed mixing of two sources, both directions.

    Attributes:
        image: uint8 ``[4 * H, N * W, 3]``: rows A, B, forward (A's ``split.a`` styles +
            B's rest), reverse (B's ``split.a`` styles + A's rest); one column per seed.
        a_images, b_images, forward, reverse: uint8 ``[N, H, W, 3]``.
        forward_ws, reverse_ws: float32 ``[N, num_ws, w_dim]``.
        split: the ``ResolutionSplit``.
    """

    image: np.ndarray
    a_images: np.ndarray
    b_images: np.ndarray
    forward: np.ndarray
    reverse: np.ndarray
    forward_ws: np.ndarray
    reverse_ws: np.ndarray
    split: ResolutionSplit


def paired_mix(network_a, network_b, seeds, split, render="b", psi=1.0, class_a=None,
               class_b=None, noise_mode="const"):
    """Mixes two sources at the same latent ``z`` per seed, both directions.

    For class mixing inside one conditional model (``network_b`` None) this is "coarse ws
    from class A's mapping, the rest from class B's, same z": both sources share one latent
    space. For two generators it needs the same ``z_dim`` (each maps ``z`` its own way).

    Args:
        network_a, network_b, split, render, psi, class_a, class_b, noise_mode: as
            ``cross_domain_mix`` (render ``"fine"``: B forward, A reverse).
        seeds: non-empty list of ints.

    Returns:
        ``PairedMix``.

    Raises:
        ValueError: as ``cross_domain_mix``; different ``z_dim``.
    """
    view_a, view_b = pair_views(network_a, network_b, render)
    if view_a.z_dim != view_b.z_dim:
        raise ValueError(
            f"Same-z mixing needs the same z_dim: A has {view_a.z_dim}, B {view_b.z_dim}."
        )
    if not isinstance(split, ResolutionSplit):
        split = parse_split(split, view_a.resolution)
    style_views(view_a, view_b, None)  # the same num_ws and w_dim
    synth_forward, synth_reverse = renderers(view_a, view_b, render)
    z = view_a.z_from_seeds(seeds)
    ws_a = view_a.ws_from_z(z, view_a.class_id(class_a), psi)
    ws_b = view_b.ws_from_z(z, view_b.class_id(class_b), psi)
    layers = split.a_layers
    forward_ws, reverse_ws = ws_b.copy(), ws_a.copy()
    forward_ws[:, layers] = ws_a[:, layers]
    reverse_ws[:, layers] = ws_b[:, layers]
    a_images = view_a.images_from_ws(ws_a, noise_mode)
    b_images = view_b.images_from_ws(ws_b, noise_mode)
    forward = synth_forward.images_from_ws(forward_ws, noise_mode)
    reverse = synth_reverse.images_from_ws(reverse_ws, noise_mode)
    grid = image_grid(np.concatenate([a_images, b_images, forward, reverse]), columns=len(z))
    return PairedMix(grid, a_images, b_images, forward, reverse, forward_ws, reverse_ws, split)


def class_mix(network, seeds, class_a, class_b, split, psi=1.0, noise_mode="const"):
    """Class mixing inside one conditional model: ``paired_mix(network, None, ...)``.

    Coarse ws (``split.a``) from ``class_a``'s mapping, the rest from ``class_b``'s, for the
    same ``z``; and the reverse.

    Example:
        >>> mix = class_mix(view, range(6), "earthquake", "building_fire", "8")
        >>> save_png(mix.image, "earthquake_x_fire.png")
    """
    view = as_view(network)
    if view.num_classes == 0:
        raise ValueError("Class mixing needs a conditional generator; this one has no classes.")
    return paired_mix(view, None, seeds, split, render="b", psi=psi, class_a=class_a,
                      class_b=class_b, noise_mode=noise_mode)
