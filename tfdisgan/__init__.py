"""tfdisgan: GANs for disaster imagery from small datasets (Keras 3 / TensorFlow)."""

from tfdisgan.version import __version__

__all__ = ["__version__"]
