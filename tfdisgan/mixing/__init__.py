"""Latent walks, style mixing, image grids and GIFs for trained generators.

Everything here works on a ``GeneratorView``: one uniform view of a generator, whichever
object holds it -- a trained ``DCGAN`` / ``StyleGAN2`` model (its EMA generator), or an
exported SavedModel (``tfdisgan.export.SavedModelView``). A view maps seeds to latents
(``seeds_to_z``), latents to images, and, for style-based generators (StyleGAN2), latents
to per-layer styles ``ws [N, num_ws, w_dim]`` and ``ws`` to images. Functions that mix take
the source of the row styles, of the column styles and the synthesis network as separate
views, so styles of two *different* generators with the same ``num_ws`` and ``w_dim`` can
be mixed too (cross-domain mixing, layer swapping).

* ``latent_walk``: a looping walk through the latents of some seeds, spherical in ``z`` or
  linear in ``w`` (StyleGAN2), as frames for ``write_gif``.
* ``style_mixing_grid``: the figure of the StyleGAN papers: column seeds give the styles of
  the layers ``styles`` (coarse ``0-3``, middle ``4-7``, fine ``8-`` at 1024 px) to the row
  seeds, with the row and column source images along the edges.
* ``crossover_sweep``: the same grid as GIF frames, sweeping the crossover layer.
* ``interpolation_grid``: rows of straight walks between seeds (what DCGAN can show).
* ``cross_domain_mix`` / ``cross_domain_sweeps``: two generators (or two classes) split by
  *resolution* (``parse_split``: ``"8"`` = A gives 4-8 px, B 16 px and up), both directions
  at once; ``paired_mix`` / ``class_mix``: the same per seed, one ``z`` for both sources.
* ``swap_layers``: layer swapping (Pinkney & Adler 2020), a new StyleGAN2 whose synthesis
  blocks come from A up to a resolution and from B above (hard, or blended); ``write_run``
  stores any model as a run folder for ``--network``.
* ``CrossMixTraining`` (``--cross_mix``): the same mixing of two classes inside training.

Style mixing needs a style-based generator: on a DCGAN these raise ``ValueError`` ("style
mixing needs StyleGAN2"); latent walks in ``z`` work for both.

Example:
    >>> view = GeneratorView(model)                       # a trained StyleGAN2
    >>> write_gif(latent_walk(view, [0, 1, 2], frames=48), "walk.gif", fps=24)
    >>> grid = style_mixing_grid(view, [0, 1, 2], [10, 11], styles=range(0, 4))
    >>> save_png(grid.image, "style_mixing.png")

Reference:
    Karras et al., "A Style-Based Generator Architecture for Generative Adversarial
    Networks", CVPR 2019 (figure 3, style mixing); stylegan2-ada-pytorch ``style_mixing.py``.
    Pinkney & Adler, "Resolution Dependent GAN Interpolation for Controllable Image
    Synthesis Between Domains", 2020 (layer swapping).
"""

from tfdisgan._validate import PSI_RANGE
from tfdisgan.images import image_grid, save_grid, save_png, side_by_side, to_uint8, write_gif
from tfdisgan.mixing.cross_domain import (
    RENDERS,
    CrossMix,
    PairedMix,
    class_mix,
    cross_domain_mix,
    cross_domain_sweeps,
    pair_views,
    paired_mix,
    renderers,
)
from tfdisgan.mixing.cross_mix import (
    CrossMixTraining,
    cross_mix_from_config,
    cross_mix_ws,
    parse_cross_mix,
)
from tfdisgan.mixing.layer_swap import (
    MAPPING_SOURCES,
    SWAP_MODES,
    check_swap_models,
    swap_blend,
    swap_layers,
    write_run,
)
from tfdisgan.mixing.resolutions import (
    ResolutionSplit,
    describe_resolutions,
    layers_of,
    parse_resolution_range,
    parse_split,
    resolution_layers,
    synthesis_resolutions,
)
from tfdisgan.mixing.style_grid import (
    StyleMix,
    crossover_sweep,
    mixing_figure,
    parse_styles,
    style_mix_ws,
    style_mixing_grid,
    style_views,
)
from tfdisgan.mixing.walks import (
    interpolation_grid,
    latent_walk,
)
from tfdisgan.views import (
    NEEDS_STYLEGAN2,
    NOISE_MODES,
    SPACES,
    GeneratorView,
    as_view,
    check_class_names,
    check_seeds,
    crossover_ws,
    describe_classes,
    lerp,
    loop_positions,
    normalize_class_name,
    parse_range,
    psi_per_row,
    resolve_class,
    slerp,
    truncate_ws,
)

__all__ = [
    "CrossMix",
    "CrossMixTraining",
    "GeneratorView",
    "MAPPING_SOURCES",
    "NEEDS_STYLEGAN2",
    "NOISE_MODES",
    "PSI_RANGE",
    "PairedMix",
    "RENDERS",
    "ResolutionSplit",
    "SPACES",
    "SWAP_MODES",
    "StyleMix",
    "as_view",
    "check_class_names",
    "check_seeds",
    "check_swap_models",
    "class_mix",
    "cross_domain_mix",
    "cross_domain_sweeps",
    "cross_mix_from_config",
    "cross_mix_ws",
    "crossover_sweep",
    "crossover_ws",
    "describe_classes",
    "describe_resolutions",
    "image_grid",
    "interpolation_grid",
    "latent_walk",
    "layers_of",
    "lerp",
    "loop_positions",
    "mixing_figure",
    "normalize_class_name",
    "pair_views",
    "paired_mix",
    "parse_cross_mix",
    "parse_range",
    "parse_resolution_range",
    "parse_split",
    "parse_styles",
    "psi_per_row",
    "renderers",
    "resolution_layers",
    "resolve_class",
    "save_grid",
    "save_png",
    "side_by_side",
    "slerp",
    "style_mix_ws",
    "style_mixing_grid",
    "style_views",
    "swap_blend",
    "swap_layers",
    "synthesis_resolutions",
    "to_uint8",
    "truncate_ws",
    "write_gif",
    "write_run",
]
