"""Argument checks shared by every layer (no TensorFlow, no tfdisgan imports).

Each check raises ``ValueError`` naming the argument or flag and the value received, in
Keras' style ("Received: psi=3.0"), so the Python API and the scripts say the same thing.
"""

import math
import numbers

import numpy as np

PSI_RANGE = (-1.0, 2.0)  # truncation psi: the range the exported SavedModel checks too
# Noise modes of the StyleGAN2 synthesis network (and of `StyleGAN2.synthesize`).
NOISE_MODES = ("random", "const", "none")


def is_int(value):
    """True for a Python or NumPy integer (not a bool)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def is_number(value):
    """True for a Python or NumPy integer or float (not a bool)."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def check_int(name, value, minimum, allow_none=False):
    """Checks an int argument ``>= minimum`` (or None with ``allow_none``).

    Raises:
        ValueError: "`name` must be an int >= minimum[ or None]. Received: name=value".
    """
    if value is None and allow_none:
        return
    if not is_int(value) or value < minimum:
        none = " or None" if allow_none else ""
        raise ValueError(f"`{name}` must be an int >= {minimum}{none}. Received: {name}={value!r}")


def check_number(name, value, minimum=None, maximum=None, allow_none=False):
    """Checks a number argument in ``[minimum, maximum]`` (either bound optional; or None
    with ``allow_none``).

    Raises:
        ValueError: "`name` must be a number in [minimum, maximum]" (or ">= minimum").
    """
    if value is None and allow_none:
        return
    if (
        not is_number(value)
        or (minimum is not None and value < minimum)
        or (maximum is not None and value > maximum)
    ):
        bounds = f" in [{minimum}, {maximum}]" if maximum is not None else f" >= {minimum}"
        raise ValueError(f"`{name}` must be a number{bounds}. Received: {name}={value!r}")


def check_resolution(name, value, minimum=4):
    """Checks an image resolution: an int power of two ``>= minimum``.

    Raises:
        ValueError: "`name` must be a power of two >= minimum. Received: name=value".
    """
    if not is_int(value) or value < minimum or value & (value - 1):
        raise ValueError(
            f"`{name}` must be a power of two >= {minimum}. Received: {name}={value!r}"
        )


def check_choice(name, value, choices):
    """Checks that ``value`` is one of ``choices``.

    Raises:
        ValueError: "`name` must be one of choices. Received: name=value".
    """
    if value not in choices:
        raise ValueError(f"`{name}` must be one of {choices}. Received: {name}={value!r}")


def check_noise_mode(noise_mode):
    """Checks a StyleGAN2 noise mode: one of ``NOISE_MODES``."""
    check_choice("noise_mode", noise_mode, NOISE_MODES)


def _label(name):
    """A flag (``--psi``) as given, an argument name in backquotes."""
    return name if name.startswith("--") else f"`{name}`"


def check_psi(psi, name="psi"):
    """Checks a truncation ``psi``: a finite number (or numbers) in ``PSI_RANGE``.

    Args:
        psi: a number, or an array of numbers (one per row).
        name: str, what to call it in the message: an argument (``psi``) or a flag
            (``--psi``).

    Returns:
        ``psi`` unchanged.

    Raises:
        ValueError: not numeric, not finite, or outside ``[-1, 2]``; the message names
            ``name`` and the first bad value.
    """
    low, high = PSI_RANGE
    rule = f"{_label(name)} (truncation) must be a number in [{low:g}, {high:g}]"
    if isinstance(psi, (bool, np.bool_)) or isinstance(psi, str):
        raise ValueError(f"{rule}. Received: {name}={psi!r}")
    if isinstance(psi, numbers.Real):
        values = [float(psi)]
    else:
        try:
            arr = np.asarray(psi)
        except (TypeError, ValueError):
            arr = np.asarray([])
        if arr.dtype.kind not in "iuf":
            raise ValueError(f"{rule}. Received: {name}={psi!r}")
        values = [float(v) for v in arr.reshape(-1)]
    for value in values:
        if not (math.isfinite(value) and low <= value <= high):
            raise ValueError(f"{rule}. Received: {name}={value!r}")
    return psi


__all__ = [
    "NOISE_MODES",
    "PSI_RANGE",
    "check_choice",
    "check_int",
    "check_noise_mode",
    "check_number",
    "check_psi",
    "check_resolution",
    "is_int",
    "is_number",
]
