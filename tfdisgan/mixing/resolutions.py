"""Resolutions <-> style layers: which ws a block of a given resolution takes, splits."""

import dataclasses
import re

import numpy as np

# ------------------------------------------------------------------------------------------
# Resolutions <-> style layers
# ------------------------------------------------------------------------------------------


def synthesis_resolutions(img_resolution):
    """``[4, 8, ..., img_resolution]``: the blocks of a StyleGAN2 synthesis network.

    Raises:
        ValueError: not a power of two >= 4.
    """
    if (not isinstance(img_resolution, (int, np.integer)) or img_resolution < 4
            or img_resolution & (img_resolution - 1)):
        raise ValueError(
            f"`img_resolution` must be a power of two >= 4. Received: {img_resolution!r}"
        )
    return [2**i for i in range(2, int(img_resolution).bit_length())]


def resolution_layers(resolution, img_resolution):
    """The two ws indices that belong to ``resolution`` px: ``[2 log2(r) - 4, 2 log2(r) - 3]``.

    The synthesis network (``SynthesisNetwork.call``) gives block ``b`` the ws starting at
    the sum of the earlier blocks' ``num_conv``, so: index 0 drives the 4 px ``conv1``;
    index ``2 log2(r) - 4`` (r >= 8) the ``conv1`` of the r px block; index
    ``2 log2(r) - 3`` the r px ToRGB *and* the up-sampling ``conv0`` of the next block
    (the last index only the top ToRGB). Owning the pair ``(2 log2(r) - 4, 2 log2(r) - 3)``
    per resolution is the StyleGAN papers' convention (4-8 px = layers 0-3 "coarse"), with
    ``num_ws = 2 log2(R) - 2`` layers in all.

    Args:
        resolution: int, a block resolution in ``[4, img_resolution]``.
        img_resolution: int, the generator's output resolution.

    Returns:
        list of 2 ints.

    Raises:
        ValueError: ``resolution`` is not a block of this generator.
    """
    blocks = synthesis_resolutions(img_resolution)
    if resolution not in blocks:
        raise ValueError(
            f"{resolution} px is not a block of a {img_resolution} px generator "
            f"({describe_resolutions(blocks)})."
        )
    log2 = int(resolution).bit_length() - 1
    return [2 * log2 - 4, 2 * log2 - 3]


def layers_of(resolutions, img_resolution):
    """Sorted ws indices of the given block resolutions (``resolution_layers`` of each)."""
    return sorted({i for r in resolutions for i in resolution_layers(r, img_resolution)})


def describe_resolutions(resolutions):
    resolutions = sorted(resolutions)
    if not resolutions:
        return "none"
    if len(resolutions) == 1:
        return f"{resolutions[0]} px"
    return f"{resolutions[0]}-{resolutions[-1]} px"


def parse_resolution_range(text, img_resolution, name="range"):
    """``"16-32"`` (or ``"16"``) -> the block resolutions in that inclusive range.

    The upper end may exceed the generator (``16-512`` on a 256 px model means 16-256 px);
    both ends must be powers of two >= 4 and the range must hold a block of this generator.

    Args:
        text: str ``"LO-HI"`` or ``"R"``.
        img_resolution: int, the generator's output resolution.
        name: str, the flag or argument (for the message).

    Returns:
        tuple of ints, lowest first.

    Raises:
        ValueError: not a range of powers of two, reversed, or outside the generator.
    """
    match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", str(text))
    if not match:
        raise ValueError(
            f"{name}: expected a resolution range in pixels such as 16-32 (or 8). "
            f"Received: {text!r}"
        )
    lo = int(match.group(1))
    hi = int(match.group(2)) if match.group(2) is not None else lo
    for value in (lo, hi):
        if value < 4 or value & (value - 1):
            raise ValueError(
                f"{name}: resolutions are powers of two >= 4 (4, 8, 16, ...). Received {value} "
                f"in {text!r}."
            )
    if hi < lo:
        raise ValueError(f"{name}: the range {text!r} ends before it starts.")
    blocks = synthesis_resolutions(img_resolution)
    selected = tuple(r for r in blocks if lo <= r <= hi)
    if not selected:
        raise ValueError(
            f"{name}: {text!r} holds no block of this {img_resolution} px generator "
            f"({describe_resolutions(blocks)})."
        )
    return selected


@dataclasses.dataclass(frozen=True)
class ResolutionSplit:
    """Which generator gives the styles of which block resolutions.

    Attributes:
        a: tuple of int, the resolutions whose styles come from source A (the split's first
            range; the coarse ones in ``--split=8``).
        b: tuple of int, those from source B (the rest).
        img_resolution: int.
    """

    a: tuple
    b: tuple
    img_resolution: int

    @property
    def a_layers(self):
        """ws indices from A (``layers_of(a)``)."""
        return layers_of(self.a, self.img_resolution)

    @property
    def b_layers(self):
        """ws indices from B."""
        return layers_of(self.b, self.img_resolution)

    def describe(self, first="A", second="B"):
        """``"A 4-8 px + B 16-32 px"``."""
        return f"{first} {describe_resolutions(self.a)} + {second} {describe_resolutions(self.b)}"

    def stem(self, first="a", second="b"):
        """A file-name stem: ``"a4-8_b16-32"``."""
        def span(res):
            return f"{min(res)}-{max(res)}" if len(res) > 1 else f"{res[0]}"

        return f"{first}{span(self.a)}_{second}{span(self.b)}"


def parse_split(text, img_resolution, name="--split"):
    """A ``--split`` by resolution -> ``ResolutionSplit``.

    Forms:
        * ``"8"``: A gives the 4-8 px styles, B 16 px and up (the seed's "church coarse
          4-8 px, fire 16 px and finer").
        * ``"4-8,16-512"``: A the first range, B the second; the upper end may exceed the
          generator; together the two ranges must cover every block, without overlap.
        * ``"16-32"`` (one range): A that range, B every other block.

    Args:
        text: str or int.
        img_resolution: int, the generators' output resolution.
        name: str, the flag (for the message).

    Returns:
        ``ResolutionSplit`` (``a_layers`` / ``b_layers`` give the ws indices).

    Raises:
        ValueError: a malformed range, overlapping ranges, a block in neither range, or a
            split that leaves one side without a block.
    """
    blocks = synthesis_resolutions(img_resolution)
    text = str(text).strip()
    parts = [p for p in text.split(",")]
    if len(parts) > 2 or not text:
        raise ValueError(
            f"{name}: expected R (A gives 4..R px), LO-HI (A gives that range) or "
            f"LO-HI,LO-HI (A the first, B the second). Received: {text!r}"
        )
    if len(parts) == 1 and "-" not in parts[0]:
        top = parse_resolution_range(parts[0], img_resolution, name)[0]
        a = tuple(r for r in blocks if r <= top)
        b = tuple(r for r in blocks if r > top)
    elif len(parts) == 1:
        a = parse_resolution_range(parts[0], img_resolution, name)
        b = tuple(r for r in blocks if r not in a)
    else:
        a = parse_resolution_range(parts[0], img_resolution, name)
        b = parse_resolution_range(parts[1], img_resolution, name)
        overlap = sorted(set(a) & set(b))
        if overlap:
            raise ValueError(f"{name}: {overlap[0]} px is in both ranges of {text!r}.")
        missing = [r for r in blocks if r not in a and r not in b]
        if missing:
            raise ValueError(
                f"{name}: {missing[0]} px is in neither range of {text!r}; the two ranges "
                f"must cover every block of the {img_resolution} px generator "
                f"({describe_resolutions(blocks)})."
            )
    if not b:
        raise ValueError(
            f"{name}: {text!r} leaves no resolution to B on a {img_resolution} px generator "
            f"({describe_resolutions(blocks)}); split below {img_resolution}."
        )
    return ResolutionSplit(tuple(a), tuple(b), int(img_resolution))
