"""Quality metrics: FID/KID with the standard Inception, SWD, MS-SSIM, precision/recall.

* `frechet`: Fréchet distance between Gaussians (FID's formula), float64 NumPy.
* `kid`: unbiased polynomial-kernel MMD over subsets (KID).
* `swd`: ProGAN's sliced Wasserstein distance on Laplacian-pyramid patches.
* `msssim`: MS-SSIM diversity of random pairs (`tf.image.ssim_multiscale`).
* `precision_recall`: Kynkäänniemi et al. k-NN precision and recall.
* `features`: the feature networks (Inception 2015-12-05 pool3; Keras InceptionV3).
* `core`: the registry (`fid50k_full`, `kid50k_full`, `pr50k3_full`, `swd`, `msssim`),
  `calc_metrics`, the real-feature cache and `metric-<name>.jsonl` records.
* `callback`: `MetricsCallback`, metrics every N kimg during training.

Submodules are imported on first use (NumPy-only metrics need no TensorFlow import).
"""

import importlib

_EXPORTS = {
    "frechet_distance": "tfdisgan.metrics.frechet",
    "feature_statistics": "tfdisgan.metrics.frechet",
    "kernel_inception_distance": "tfdisgan.metrics.kid",
    "sliced_wasserstein_distance": "tfdisgan.metrics.swd",
    "msssim_diversity": "tfdisgan.metrics.msssim",
    "precision_recall": "tfdisgan.metrics.precision_recall",
    "get_feature_network": "tfdisgan.metrics.features",
    "InceptionNotFoundError": "tfdisgan.metrics.features",
    "METRICS": "tfdisgan.metrics.core",
    "calc_metrics": "tfdisgan.metrics.core",
    "resolve_metrics": "tfdisgan.metrics.core",
    "MetricsCallback": "tfdisgan.metrics.callback",
}
_SUBMODULES = ("callback", "core", "features", "frechet", "kid", "msssim", "precision_recall",
               "swd")

__all__ = sorted([*_EXPORTS, *_SUBMODULES])


def __getattr__(name):
    if name in _SUBMODULES:
        value = importlib.import_module(f"tfdisgan.metrics.{name}")
    elif name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    else:
        raise AttributeError(f"module 'tfdisgan.metrics' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return __all__
