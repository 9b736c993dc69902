"""GAN models: the shared ``GAN`` training core and the network families."""

from tfdisgan.models.dcgan import (
    DCGAN,
    build_dcgan_discriminator,
    build_dcgan_generator,
)
from tfdisgan.models.gan import GAN

__all__ = ["DCGAN", "GAN", "build_dcgan_discriminator", "build_dcgan_generator"]
