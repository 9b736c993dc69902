"""StyleGAN2 building blocks: Keras layers and the TensorFlow ops behind them (NHWC).

* resample: `setup_filter`, `upfirdn2d`, `upsample2d`, `downsample2d`, `filter2d`
* resample_layers: `Upsample2D`, `Downsample2D`, `Blur`
* conv_resample: `conv2d_resample`
* bias_act: `bias_act`, `ACTIVATIONS`
* equalized: `EqualizedDense`, `EqualizedConv2D`
* modulated: `modulated_conv2d`, `ModulatedConv2D`, `NoiseInjection`, `ToRGB`
* stats: `MinibatchStdDev`
"""

from tfdisgan.layers.bias_act import ACTIVATIONS, bias_act
from tfdisgan.layers.conv_resample import conv2d_resample
from tfdisgan.layers.equalized import EqualizedConv2D, EqualizedDense
from tfdisgan.layers.modulated import (
    ModulatedConv2D,
    NoiseInjection,
    ToRGB,
    modulated_conv2d,
    resolve_fused_modconv,
)
from tfdisgan.layers.resample import (
    downsample2d,
    filter2d,
    setup_filter,
    upfirdn2d,
    upsample2d,
)
from tfdisgan.layers.resample_layers import Blur, Downsample2D, Upsample2D
from tfdisgan.layers.stats import MinibatchStdDev

__all__ = [
    "ACTIVATIONS",
    "Blur",
    "Downsample2D",
    "EqualizedConv2D",
    "EqualizedDense",
    "MinibatchStdDev",
    "ModulatedConv2D",
    "NoiseInjection",
    "ToRGB",
    "Upsample2D",
    "bias_act",
    "conv2d_resample",
    "downsample2d",
    "filter2d",
    "modulated_conv2d",
    "resolve_fused_modconv",
    "setup_filter",
    "upfirdn2d",
    "upsample2d",
]
