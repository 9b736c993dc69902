"""Built-in offline dataset: procedurally drawn synthetic disaster scenes in four classes.

Every image is a pure function of ``(index, resolution, seed)``: the scene is laid out in
normalised coordinates from ``np.random.default_rng([seed, index])`` (never the global RNG),
drawn with Pillow on a supersampled canvas and box-downsampled, so the 64 px and the
256 px renders of one index are the same picture. The label is ``index % 4``, in the order of
`CLASS_NAMES`. The classes differ in dominant colour and structure (night-time blocks with
flames and smoke, orange-hazy hills with a fire line, dusty tilted buildings with rubble and
cracks, grey sky over a brown/blue waterline) and vary within a class in layout, counts,
palette, lighting and horizon height.

A dataset spec string ``"procedural:N"`` names the first N images of this dataset wherever a
folder of images is accepted (see `parse_spec`).

Modules: `canvas` (colour helpers, the normalised-coordinate Pillow canvas), `elements`
(flames, smoke, trees, cracks, ... shared by the scenes), `scenes` (the four class
renderers) and `dataset` (the API below, re-exported here).

Example:
    >>> image, label = render_scene(5, resolution=64)        # uint8 [64, 64, 3], label 1
    >>> images, labels = generate(100, resolution=64, classes=["flood"])
"""

from tfdisgan.data.procedural.dataset import (
    CLASS_NAMES,
    MAX_RESOLUTION,
    MIN_RESOLUTION,
    SPEC_PREFIX,
    generate,
    is_procedural,
    parse_spec,
    render_scene,
)

__all__ = [
    "CLASS_NAMES",
    "MAX_RESOLUTION",
    "MIN_RESOLUTION",
    "SPEC_PREFIX",
    "generate",
    "is_procedural",
    "parse_spec",
    "render_scene",
]
