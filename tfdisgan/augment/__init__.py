"""Image augmentation for GAN training: DiffAugment and the classic reals-only baseline.

Every augment layer has a class attribute ``reals_only``: when False the GAN model applies
it to generated images too (DiffAugment), when True only to the real batch (ClassicAugment).
"""

from __future__ import annotations

from tfdisgan.augment.classic import ClassicAugment
from tfdisgan.augment.diffaugment import DiffAugment, diff_augment

# "ada" will join these once tfdisgan/augment/ada.py exists.
AUGMENT_NAMES = ("none", "diffaugment", "classic")


def get_augment(name: str, policy: str = "color,translation,cutout", seed=None):
    """Builds the augment layer named by a flag value.

    Args:
        name: str, one of ``"none"``, ``"diffaugment"``, ``"classic"`` (case-insensitive).
        policy: str, DiffAugment policy; ignored for the other names.
            Default ``"color,translation,cutout"``.
        seed: int or None, seed of the layer's random generator. Default None.

    Returns:
        None for ``"none"``, else a ``DiffAugment`` or ``ClassicAugment`` layer.

    Raises:
        ValueError: on an unknown name (the message lists the valid ones), or on a bad
            policy / seed (from the layer).

    Example:
        >>> aug = get_augment("diffaugment", policy="color,translation", seed=0)
    """
    key = name.strip().lower() if isinstance(name, str) else None
    if key not in AUGMENT_NAMES:
        raise ValueError(
            f"Unknown augment name: augment={name!r}. Valid names: {list(AUGMENT_NAMES)}."
        )
    if key == "none":
        return None
    if key == "diffaugment":
        return DiffAugment(policy=policy, seed=seed)
    return ClassicAugment(seed=seed)


__all__ = ["AUGMENT_NAMES", "ClassicAugment", "DiffAugment", "diff_augment", "get_augment"]
