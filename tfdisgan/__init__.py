"""tfdisgan: GANs for disaster imagery from small datasets (Keras 3 / TensorFlow).

The public API, re-exported (imported on first use, so that light modules such as the
dataset tool's decode workers can import `tfdisgan.data.folder` without TensorFlow):

* data: `build_dataset`, `load_dataset`, `describe`, `PROCEDURAL_CLASSES`
* augment: `DiffAugment`, `AdaptiveAugment` (ADA), `ClassicAugment`, `get_augment`
* models: `GAN`, `DCGAN`, `StyleGAN2`
* config / training: `TrainConfig`, `train` (the run behind scripts/train.py)
* views / export / gallery / mixing / images: `GeneratorView`, `export_saved_model`,
  `load_network`, `showcase`, `latent_walk`, `style_mixing_grid`, `write_gif`
* metrics: `calc_metrics` (FID/KID, SWD, MS-SSIM, precision/recall; `tfdisgan.metrics`)
* projection: `project` (a photo's w in a StyleGAN2, as the official projector;
  `tfdisgan.projection`)

Where each StyleGAN2 paper term (mapping network, modulation, demodulation, equalized
learning rate, noise, skip G, residual D, minibatch stddev, lazy / R1 / path-length /
style-mixing regularisation, truncation) lives: docs/architecture.md, and the docstring
of `tfdisgan.models.stylegan2`.
"""

import importlib

from tfdisgan.version import __version__ as __version__

_EXPORTS = {
    "AdaptiveAugment": ("tfdisgan.augment", "AdaptiveAugment"),
    "ClassicAugment": ("tfdisgan.augment", "ClassicAugment"),
    "DiffAugment": ("tfdisgan.augment", "DiffAugment"),
    "get_augment": ("tfdisgan.augment", "get_augment"),
    "PROCEDURAL_CLASSES": ("tfdisgan.data", "PROCEDURAL_CLASSES"),
    "build_dataset": ("tfdisgan.data", "build_dataset"),
    "describe": ("tfdisgan.data", "describe"),
    "load_dataset": ("tfdisgan.data", "load_dataset"),
    "DCGAN": ("tfdisgan.models", "DCGAN"),
    "GAN": ("tfdisgan.models", "GAN"),
    "StyleGAN2": ("tfdisgan.models", "StyleGAN2"),
    "TrainConfig": ("tfdisgan.config", "TrainConfig"),
    "train": ("tfdisgan.training", "run"),
    "export_saved_model": ("tfdisgan.export", "export_saved_model"),
    "load_network": ("tfdisgan.export", "load_network"),
    "showcase": ("tfdisgan.gallery", "showcase"),
    "GeneratorView": ("tfdisgan.views", "GeneratorView"),
    "latent_walk": ("tfdisgan.mixing", "latent_walk"),
    "style_mixing_grid": ("tfdisgan.mixing", "style_mixing_grid"),
    "write_gif": ("tfdisgan.images", "write_gif"),
    "calc_metrics": ("tfdisgan.metrics", "calc_metrics"),
    "project": ("tfdisgan.projection", "project"),
}

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'tfdisgan' has no attribute {name!r}")
    module, attribute = _EXPORTS[name]
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__():
    return __all__
