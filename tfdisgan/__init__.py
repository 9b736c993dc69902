"""tfdisgan: GANs for disaster imagery from small datasets (Keras 3 / TensorFlow).

The public API, re-exported:

* data: `build_dataset`, `load_dataset`, `describe`, `PROCEDURAL_CLASSES`
* augment: `DiffAugment`, `ClassicAugment`, `get_augment`
* models: `GAN`, `DCGAN`, `StyleGAN2`
* training: `TrainConfig`, `train` (the run behind scripts/train.py)
"""

from tfdisgan.augment import ClassicAugment, DiffAugment, get_augment
from tfdisgan.data import PROCEDURAL_CLASSES, build_dataset, describe, load_dataset
from tfdisgan.models import DCGAN, GAN, StyleGAN2
from tfdisgan.training import TrainConfig
from tfdisgan.training import run as train
from tfdisgan.version import __version__

__all__ = [
    "DCGAN",
    "GAN",
    "PROCEDURAL_CLASSES",
    "StyleGAN2",
    "ClassicAugment",
    "DiffAugment",
    "TrainConfig",
    "__version__",
    "build_dataset",
    "describe",
    "get_augment",
    "load_dataset",
    "train",
]
