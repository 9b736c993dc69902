"""Class names and ids of conditional generators: one spelling (NFC) of 건물화재 whatever
the file system wrote, ids or names accepted wherever a class is asked for, errors that list
the valid classes."""

import unicodedata

import numpy as np


def normalize_class_name(name):
    """NFC and stripped: macOS (NFD) and Linux spellings of 건물화재 compare equal."""
    return unicodedata.normalize("NFC", str(name).strip())


def check_class_names(class_names, num_classes):
    if class_names is None:
        return None
    names = tuple(normalize_class_name(n) for n in class_names)
    if num_classes and len(names) != num_classes:
        raise ValueError(
            f"`class_names` has {len(names)} names but the model has {num_classes} classes."
        )
    return names


def describe_classes(num_classes, class_names):
    if class_names and len(class_names) == num_classes:
        return ", ".join(f"{i}={n}" for i, n in enumerate(class_names))
    return f"ids 0-{num_classes - 1}"


def resolve_class(value, num_classes, class_names=None):
    """A class given by id or name -> int id (None for unconditional generators).

    Args:
        value: None, int, or str (a class name in any Unicode normalisation, or an id).
        num_classes: int >= 0, the model's number of classes.
        class_names: None or sequence of str, names by id.

    Returns:
        int in ``[0, num_classes)``, or None when ``num_classes == 0`` and ``value`` is None.

    Raises:
        ValueError: missing, unexpected, unknown or out-of-range class; lists the valid ones.
    """
    if num_classes == 0:
        if value not in (None, ""):
            raise ValueError(
                f"This generator is unconditional: it takes no class. Received: class={value!r}"
            )
        return None
    valid = describe_classes(num_classes, class_names)
    if value is None or value == "":
        raise ValueError(f"This generator is conditional: give a class (--class in the scripts, "
                         f"`labels=` in Python), one of {valid}.")
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        if 0 <= value < num_classes:
            return int(value)
        raise ValueError(f"Class id {value} is out of range; valid: {valid}.")
    text = normalize_class_name(value)
    if class_names:
        names = [normalize_class_name(n) for n in class_names]
        if text in names:
            return names.index(text)
    if text.isdigit():
        if int(text) < num_classes:
            return int(text)
        raise ValueError(f"Class id {text} is out of range; valid: {valid}.")
    raise ValueError(f"Unknown class {value!r}; valid: {valid}.")


__all__ = ["check_class_names", "describe_classes", "normalize_class_name", "resolve_class"]
