"""Kernel Inception Distance: unbiased MMD^2 with a cubic polynomial kernel, over subsets.

k(x, y) = (x . y / d + 1)^3. The unbiased estimator drops the diagonal of the within-set
kernel matrices, so two samples of one distribution score ~0 on average (slightly negative
values happen). Like stylegan2-ada-pytorch `metrics/kernel_inception_distance.py` (itself
matching Binkowski et al.'s `compute_scores.py`): `num_subsets` = 100 random subsets of
m = min(N_real, N_fake, `max_subset_size` = 1000) features from each set, and the mean MMD^2.

Reference:
    Binkowski et al., "Demystifying MMD GANs", ICLR 2018. https://arxiv.org/abs/1801.01401
"""

import numpy as np


def kernel_inception_distance(real_features, fake_features, num_subsets=100,
                              max_subset_size=1000, seed=0):
    """Unbiased polynomial-kernel MMD^2 between two feature sets, averaged over subsets.

    Args:
        real_features: array-like [N_real, D].
        fake_features: array-like [N_fake, D].
        num_subsets: int >= 1, random subsets drawn (default 100).
        max_subset_size: int >= 2, largest subset (default 1000).
        seed: int, seed of the subset draws (the official code uses the global NumPy RNG;
            a seed makes the value reproducible).

    Returns:
        float, KID (papers often report it x 1e3).

    Raises:
        ValueError: bad shapes, fewer than 2 rows, or bad subset settings.

    Example:
        >>> x = np.random.RandomState(0).randn(500, 16)
        >>> abs(kernel_inception_distance(x, x.copy())) < 1e-3
        True
    """
    # Dot products in float32 (as the official code, whose features are float32), the
    # kernel and its sums in float64: the MMD is a small difference of large sums.
    real = np.asarray(real_features, dtype=np.float32)
    fake = np.asarray(fake_features, dtype=np.float32)
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(f"features must be [N, D] with one D. Received shapes {real.shape} "
                         f"and {fake.shape}")
    if num_subsets < 1:
        raise ValueError(f"num_subsets must be >= 1. Received num_subsets={num_subsets}")
    if max_subset_size < 2:
        raise ValueError(f"max_subset_size must be >= 2. Received max_subset_size="
                         f"{max_subset_size}")
    m = min(real.shape[0], fake.shape[0], max_subset_size)
    if m < 2:
        raise ValueError(f"KID needs >= 2 features per set. Received {real.shape[0]} real and "
                         f"{fake.shape[0]} fake")
    n = real.shape[1]
    rng = np.random.RandomState(seed)
    total = 0.0
    for _ in range(num_subsets):
        x = fake[rng.choice(fake.shape[0], m, replace=False)]
        y = real[rng.choice(real.shape[0], m, replace=False)]
        xx, yy, xy = (np.asarray(m_, np.float64) for m_ in (x @ x.T, y @ y.T, x @ y.T))
        a = (xx / n + 1) ** 3 + (yy / n + 1) ** 3
        b = (xy / n + 1) ** 3
        total += (a.sum() - np.diag(a).sum()) / (m - 1) - b.sum() * 2 / m
    return float(total / num_subsets / m)
