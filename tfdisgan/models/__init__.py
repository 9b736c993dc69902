"""GAN models: the shared ``GAN`` training core and the network families."""

from tfdisgan.models.dcgan import (
    DCGAN,
    build_dcgan_discriminator,
    build_dcgan_generator,
)
from tfdisgan.models.gan import GAN
from tfdisgan.models.stylegan2 import (
    PRESETS,
    Discriminator,
    Generator,
    MappingNetwork,
    StyleGAN2,
    SynthesisNetwork,
    lazy_adam,
    preset_optimizers,
    resolve_preset,
    split_preset,
)

__all__ = [
    "DCGAN",
    "GAN",
    "PRESETS",
    "Discriminator",
    "Generator",
    "MappingNetwork",
    "StyleGAN2",
    "SynthesisNetwork",
    "build_dcgan_discriminator",
    "build_dcgan_generator",
    "lazy_adam",
    "preset_optimizers",
    "resolve_preset",
    "split_preset",
]
