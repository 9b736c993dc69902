"""Argument checks shared by every layer (no TensorFlow, no tfdisgan imports).

Each check raises ``ValueError`` naming the argument or flag and the value received, in
Keras' style ("Received: psi=3.0"), so the Python API and the scripts say the same thing.
"""

import math
import numbers

import numpy as np

PSI_RANGE = (-1.0, 2.0)  # truncation psi: the range the exported SavedModel checks too


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


__all__ = ["PSI_RANGE", "check_psi"]
