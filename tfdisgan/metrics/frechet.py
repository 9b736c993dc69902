"""Fréchet distance between two Gaussians, and the feature statistics it is computed from.

FID (Heusel et al. 2017) fits a Gaussian to the Inception pool3 features of the reals and of
the fakes and reports

    d^2 = ||mu_1 - mu_2||^2 + Tr(C_1 + C_2 - 2 (C_1 C_2)^(1/2)).

Everything is float64 NumPy, as in the official TTUR `fid.py` and stylegan2-ada-pytorch
`metrics/frechet_inception_distance.py`; TensorFlow's float32 linear algebra is not precise
enough for 2048 x 2048 covariances.

Reference:
    Heusel et al., "GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash
    Equilibrium", NeurIPS 2017. https://arxiv.org/abs/1706.08500
"""

import numpy as np

METHODS = ("eigh", "sqrtm")


def feature_statistics(features):
    """Mean and covariance of features, accumulated in float64.

    The covariance is normalised by N (the population covariance), as stylegan2-ada's
    `FeatureStats.get_mean_cov`; TTUR's `np.cov` divides by N - 1. The two differ by a
    factor N / (N - 1), negligible at 50k samples.

    Args:
        features: array-like [N, D], N >= 2.

    Returns:
        `(mu, sigma)`: float64 [D] and [D, D].

    Raises:
        ValueError: not 2-D, or fewer than 2 rows.
    """
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or features.shape[0] < 2:
        raise ValueError(f"features must have shape [N >= 2, D]. Received shape={features.shape}")
    mu = features.mean(axis=0)
    centered = features - mu
    sigma = centered.T @ centered / features.shape[0]
    return mu, sigma


def _trace_sqrt_product_eigh(sigma1, sigma2):
    """Tr((C1 C2)^(1/2)) through symmetric eigendecompositions.

    C1 C2 is similar to C1^(1/2) C2 C1^(1/2), which is symmetric positive semi-definite, so
    the trace of the square root is the sum of the square roots of its eigenvalues. Small
    negative eigenvalues from rounding are clipped to zero.
    """
    values, vectors = np.linalg.eigh(sigma1)
    root1 = (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T
    middle = root1 @ sigma2 @ root1
    middle = (middle + middle.T) * 0.5
    return float(np.sum(np.sqrt(np.clip(np.linalg.eigvalsh(middle), 0.0, None))))


def _trace_sqrt_product_sqrtm(sigma1, sigma2, eps):
    """Tr((C1 C2)^(1/2)) exactly as TTUR's fid.py: scipy.linalg.sqrtm with an eps fallback."""
    from scipy import linalg  # optional: only this reference path needs SciPy

    covmean, _ = linalg.sqrtm(sigma1 @ sigma2, disp=False)
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(
                f"sqrtm gave an imaginary component {np.max(np.abs(covmean.imag))}"
            )
        covmean = covmean.real
    return float(np.trace(covmean))


def frechet_distance(mu1, sigma1, mu2, sigma2, method="eigh", eps=1e-6):
    """Squared Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2).

    Args:
        mu1, mu2: array-like [D], means.
        sigma1, sigma2: array-like [D, D], symmetric positive semi-definite covariances.
        method: str, "eigh" (default: NumPy only, stable for singular covariances, which
            is the usual case with fewer samples than feature dimensions) or "sqrtm"
            (the official TTUR / stylegan2-ada computation with `scipy.linalg.sqrtm`; needs
            SciPy). Both agree to ~1e-6 relative on well-conditioned inputs.
        eps: float, diagonal offset of the "sqrtm" fallback for a singular product.

    Returns:
        float, the squared distance (the number papers report as FID), >= 0 up to rounding.

    Raises:
        ValueError: mismatched shapes or an unknown method.

    Example:
        >>> frechet_distance([0, 0], np.eye(2), [1, 0], np.eye(2))
        1.0
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2,
                                                                                    np.float64))
    sigma1 = np.atleast_2d(np.asarray(sigma1, np.float64))
    sigma2 = np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or mu1.ndim != 1:
        raise ValueError(f"mu1 and mu2 must be vectors of one length. Received shapes "
                         f"{mu1.shape} and {mu2.shape}")
    dim = mu1.shape[0]
    if sigma1.shape != (dim, dim) or sigma2.shape != (dim, dim):
        raise ValueError(f"sigma1 and sigma2 must have shape ({dim}, {dim}). Received "
                         f"{sigma1.shape} and {sigma2.shape}")
    if method == "eigh":
        trace_sqrt = _trace_sqrt_product_eigh(sigma1, sigma2)
    elif method == "sqrtm":
        trace_sqrt = _trace_sqrt_product_sqrtm(sigma1, sigma2, eps)
    else:
        raise ValueError(f"method must be one of {METHODS}. Received method={method!r}")
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt)


def frechet_distance_from_features(features1, features2, method="eigh"):
    """`frechet_distance` of the Gaussians fitted to two feature sets [N1, D] and [N2, D].

    With fewer samples than dimensions (small data: e.g. 1000 images, 2048-d features) the
    result is computed exactly in sample space: with centred features A [N1, D], B [N2, D],
    C1 = A^T A / N1 and C2 = B^T B / N2, the non-zero eigenvalues of C1 C2 are those of
    (A B^T)(A B^T)^T / (N1 N2), so Tr((C1 C2)^(1/2)) is the sum of the singular values of
    A B^T / sqrt(N1 N2): an N1 x N2 SVD instead of two 2048 x 2048 eigendecompositions
    (seconds instead of a minute on two CPU cores). `method="sqrtm"` always takes the
    reference path.

    Args:
        features1, features2: array-like [N1, D], [N2, D], N >= 2.
        method: str, as `frechet_distance`.

    Returns:
        float, the squared Fréchet distance.
    """
    a, b = np.asarray(features1, np.float64), np.asarray(features2, np.float64)
    if (method != "eigh" or a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]
            or min(len(a), len(b)) >= a.shape[1] or min(len(a), len(b)) < 2):
        return frechet_distance(*feature_statistics(a), *feature_statistics(b), method=method)
    n1, n2 = len(a), len(b)
    mu1, mu2 = a.mean(axis=0), b.mean(axis=0)
    a, b = a - mu1, b - mu2
    # Tr(C) = sum of squares / N: the D x D covariances are never formed.
    trace1, trace2 = np.sum(a * a) / n1, np.sum(b * b) / n2
    trace_sqrt = np.linalg.svd(a @ b.T, compute_uv=False).sum() / np.sqrt(n1 * n2)
    diff = mu1 - mu2
    return float(diff @ diff + trace1 + trace2 - 2.0 * trace_sqrt)
