"""Improved precision and recall (Kynkäänniemi et al. 2019) with k-NN manifolds.

Each feature set defines a manifold: the union of balls around its points with radius the
distance to the k-th nearest neighbour (k = 3, the point itself not counted). Precision is
the fraction of fakes inside the real manifold, recall the fraction of reals inside the fake
manifold. As stylegan2-ada-pytorch `metrics/precision_recall.py`: `kthvalue(k + 1)` of each
row of the distance matrix (the +1 skips the zero self-distance) and a probe is inside when
its distance to any manifold point is <= that point's radius. Distances are computed in
row blocks so 50k x 50k never sits in memory.

Note: stylegan2-ada's `pr50k3_full` uses VGG16 fc2 features; here the features are those
of the chosen feature network (see `tfdisgan.metrics.features`), so values are comparable
across our runs, not with the paper's tables.

Reference:
    Kynkäänniemi et al., "Improved Precision and Recall Metric for Assessing Generative
    Models", NeurIPS 2019. https://arxiv.org/abs/1904.06991
"""

import numpy as np


def _distances(rows, cols):
    """Euclidean distances [len(rows), len(cols)] via the Gram matrix (in the inputs' dtype)."""
    sq = (np.sum(rows * rows, axis=1)[:, None] + np.sum(cols * cols, axis=1)[None, :]
          - 2.0 * rows @ cols.T)
    return np.sqrt(np.maximum(sq, 0.0))


def _radii(manifold, k, block):
    radii = np.empty(manifold.shape[0], manifold.dtype)
    for start in range(0, manifold.shape[0], block):
        dist = _distances(manifold[start:start + block], manifold)
        # The k+1-th smallest: index k after partitioning (index 0 is the point itself).
        radii[start:start + block] = np.partition(dist, k, axis=1)[:, k]
    return radii


def _coverage(manifold, radii, probes, block):
    inside = np.empty(probes.shape[0], bool)
    for start in range(0, probes.shape[0], block):
        dist = _distances(probes[start:start + block], manifold)
        inside[start:start + block] = np.any(dist <= radii[None, :], axis=1)
    return float(inside.mean())


def precision_recall(real_features, fake_features, k=3, block=10000):
    """Improved precision and recall of fakes against reals.

    Args:
        real_features: array-like [N_real, D].
        fake_features: array-like [N_fake, D].
        k: int >= 1, neighbourhood size (default 3, the paper's and stylegan2-ada's).
        block: int >= 1, rows per distance block (memory: block x N x 4 bytes).

    Returns:
        `(precision, recall)`: floats in [0, 1].

    Raises:
        ValueError: bad shapes, or a set with <= k points.

    Example:
        >>> x = np.random.RandomState(0).randn(200, 8)
        >>> precision_recall(x, x)
        (1.0, 1.0)
    """
    # float32 like the features (the official code even uses float16 on the GPU): 50k x 50k
    # x 2048-d distances are 4 x 10 TFLOP, twice as fast as float64 on a CPU.
    real = np.asarray(real_features, dtype=np.float32)
    fake = np.asarray(fake_features, dtype=np.float32)
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(f"features must be [N, D] with one D. Received shapes {real.shape} "
                         f"and {fake.shape}")
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be an int >= 1. Received k={k!r}")
    if min(real.shape[0], fake.shape[0]) <= k:
        raise ValueError(f"precision/recall with k={k} needs > {k} features per set. Received "
                         f"{real.shape[0]} real and {fake.shape[0]} fake")
    if block < 1:
        raise ValueError(f"block must be >= 1. Received block={block}")
    precision = _coverage(real, _radii(real, k, block), fake, block)
    recall = _coverage(fake, _radii(fake, k, block), real, block)
    return precision, recall
