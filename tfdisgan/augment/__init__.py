"""Image augmentation for GAN training: DiffAugment, ADA and the classic reals-only baseline.

Every augment layer has a class attribute ``reals_only``: when False the GAN model applies
it to generated images too (DiffAugment, ADA), when True only to the real batch
(ClassicAugment). ADA's ``AdaptiveAugment`` also has a probability variable ``p`` and an
``update(real_logits)`` that the GAN model calls every step.
"""

from __future__ import annotations

from tfdisgan.augment.ada import AdaptiveAugment
from tfdisgan.augment.ada_ops import ada_augment
from tfdisgan.augment.classic import ClassicAugment
from tfdisgan.augment.diffaugment import DiffAugment, diff_augment

AUGMENT_NAMES = ("none", "diffaugment", "classic", "ada", "diffaugment+ada", "rot90")
# The names built on `AdaptiveAugment` (they take `aug_p`).
ADA_NAMES = ("ada", "diffaugment+ada", "rot90")


def get_augment(
    name: str,
    policy: str = "color,translation,cutout",
    seed=None,
    ada_target: float = 0.6,
    ada_kimg: float = 500.0,
    aug_p: float | None = None,
    ada_pipeline: str = "bgc",
):
    """Builds the augment layer named by a flag value.

    Args:
        name: str, one of ``"none"``, ``"diffaugment"``, ``"classic"``, ``"ada"``,
            ``"diffaugment+ada"``, ``"rot90"`` (quarter turns of the reals only, at the
            probability ``aug_p``, default 1: a leak to measure) (case-insensitive).
        policy: str, DiffAugment policy, used by ``"diffaugment"`` and
            ``"diffaugment+ada"`` (applied before the ADA pipeline). Default
            ``"color,translation,cutout"``.
        seed: int or None, seed of the layer's random generator. Default None.
        ada_target: float in [0, 1], ADA's ``r_t`` target. Default 0.6.
        ada_kimg: float > 0, thousands of images for ADA's ``p`` to move by 1. Default 500.
        aug_p: float in [0, 1] or None: a fixed ADA probability (no adaptation); None
            adapts ``p`` from 0. Default None.
        ada_pipeline: str, the ADA pipeline of ``"ada"`` and ``"diffaugment+ada"`` (a
            stylegan2-ada preset or op names, see `AdaptiveAugment`). Default ``"bgc"``.

    Returns:
        None for ``"none"``, else a ``DiffAugment``, ``ClassicAugment`` or
        ``AdaptiveAugment`` layer.

    Raises:
        ValueError: on an unknown name (the message lists the valid ones), or on a bad
            policy, seed or ADA setting (from the layer).

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
    if key == "rot90":
        return AdaptiveAugment(pipeline="rotate90", p=1.0 if aug_p is None else aug_p,
                               target=None, seed=seed, reals_only=True)
    if key in ("ada", "diffaugment+ada"):
        return AdaptiveAugment(
            p=0.0 if aug_p is None else aug_p,
            target=ada_target if aug_p is None else None,
            ada_kimg=ada_kimg,
            diffaugment=policy if key == "diffaugment+ada" else "",
            pipeline=ada_pipeline,
            seed=seed,
        )
    return ClassicAugment(seed=seed)


__all__ = [
    "ADA_NAMES",
    "AUGMENT_NAMES",
    "AdaptiveAugment",
    "ClassicAugment",
    "DiffAugment",
    "ada_augment",
    "diff_augment",
    "get_augment",
]
