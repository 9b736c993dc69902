"""Equalized-learning-rate dense and convolution layers (StyleGAN2 / stylegan2-ada).

Weights are stored with unit variance and scaled at run time by the He constant
``1 / sqrt(fan_in)`` (times ``lr_multiplier`` for dense layers), so every layer learns at the
same speed under Adam whatever its fan-in ("equalized learning rate", Karras et al. 2018).
A learning-rate multiplier ``m`` is implemented as in the official code: weights are
initialised ``N(0, 1) / m`` and multiplied by ``m`` at run time, and the bias is stored at
its initial value and multiplied by ``m`` at run time, so the effective step of both is
scaled by ``m``.

These are ``FullyConnectedLayer`` and ``Conv2dLayer`` of stylegan2-ada-pytorch
(``training/networks.py``) in NHWC: a dense weight is ``[in, units]`` and a convolution
weight ``[k, k, in, filters]``.

Reference:
    Karras et al., "Progressive Growing of GANs for Improved Quality, Stability, and
    Variation", ICLR 2018 (equalized learning rate).
    Karras et al., "Training Generative Adversarial Networks with Limited Data",
    NeurIPS 2020 (stylegan2-ada-pytorch).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from tfdisgan._validate import is_int, is_number
from tfdisgan.layers.bias_act import bias_act, check_activation, default_gain, foldable_gain
from tfdisgan.layers.conv_resample import conv2d_resample
from tfdisgan.layers.resample import filter_size, setup_filter
from tfdisgan.layers.resample_layers import check_filter_arg


def check_positive_int(name, value):
    if not is_int(value) or value < 1:
        raise ValueError(f"`{name}` must be a positive int. Received: {name}={value}")
    return int(value)


def check_bool(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"`{name}` must be a bool. Received: {name}={value}")
    return bool(value)


def check_clamp(conv_clamp):
    if conv_clamp is not None and (not is_number(conv_clamp) or conv_clamp < 0):
        raise ValueError(
            f"`conv_clamp` must be None or a number >= 0. Received: conv_clamp={conv_clamp}"
        )
    return conv_clamp


def check_gain(gain):
    """A call's ``gain``: a number, or a scalar tensor (Keras turns NumPy scalars into
    tensors when they are passed to a layer call, e.g. ``gain=np.sqrt(0.5)``)."""
    if is_number(gain):
        return float(gain)
    if (tf.is_tensor(gain) or isinstance(gain, np.ndarray)) and len(gain.shape) == 0:
        return gain
    raise ValueError(f"`gain` must be a number or a scalar tensor. Received: gain={gain}")


def conv2d_resample_output_size(size, kernel_size, filter_size, up=1, down=1, padding=0):
    """Spatial output size of `conv2d_resample` along one axis (None if ``size`` is None).

    ``padding`` is the symmetric padding passed to `conv2d_resample`; the layers use
    ``kernel_size // 2``, which gives ``size * up // down`` for odd kernels.
    """
    if size is None:
        return None
    p0 = p1 = padding
    if up > 1:
        p0, p1 = p0 + (filter_size + up - 1) // 2, p1 + (filter_size - up) // 2
    if down > 1:
        p0, p1 = p0 + (filter_size - down + 1) // 2, p1 + (filter_size - down) // 2
    length = size * up + p0 + p1 - (filter_size - 1 if up > 1 else 0) - (kernel_size - 1)
    if down > 1:
        length = (length - filter_size) // down + 1
    return length


@keras.saving.register_keras_serializable(package="tfdisgan")
class EqualizedDense(keras.layers.Layer):
    """Fully connected layer with equalized learning rate (official FullyConnectedLayer).

    ``y = act(x @ (W * lr_multiplier / sqrt(in)) + b * lr_multiplier) * gain``, where the
    stored ``W ~ N(0, 1) / lr_multiplier`` (shape ``[in, units]``), the stored ``b`` starts
    at ``bias_init``, and ``act`` / ``gain`` come from `bias_act` (default gain; the linear
    case skips it, like the official ``addmm`` path).

    Args:
        units: positive int, output features.
        use_bias: add a bias. Default True.
        bias_init: initial value of the stored bias (the effective bias is
            ``bias_init * lr_multiplier``, as official). Default 0.0; the style affine
            layers of StyleGAN2 use 1.0.
        lr_multiplier: learning-rate multiplier (> 0). Default 1.0; the mapping network
            uses 0.01.
        activation: name from `bias_act.ACTIVATIONS`. Default ``"linear"``.
        **kwargs: `keras.layers.Layer` arguments.

    Input shape ``[..., in]``; output shape ``[..., units]``.

    Raises:
        ValueError: naming the bad argument.

    Example:
        >>> EqualizedDense(512, lr_multiplier=0.01, activation="lrelu")(tf.ones([4, 512]))

    Reference:
        Karras et al., ICLR 2018, section 4.1 (equalized learning rate).
    """

    def __init__(
        self,
        units,
        use_bias=True,
        bias_init=0.0,
        lr_multiplier=1.0,
        activation="linear",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = check_positive_int("units", units)
        self.use_bias = check_bool("use_bias", use_bias)
        if not is_number(bias_init) or not np.isfinite(bias_init):
            raise ValueError(
                f"`bias_init` must be a finite number. Received: bias_init={bias_init}"
            )
        self.bias_init = float(bias_init)
        if not is_number(lr_multiplier) or not lr_multiplier > 0:
            raise ValueError(
                f"`lr_multiplier` must be a number > 0. Received: lr_multiplier={lr_multiplier}"
            )
        self.lr_multiplier = float(lr_multiplier)
        self.activation = check_activation(activation)

    def build(self, input_shape):
        in_features = input_shape[-1]
        if in_features is None:
            raise ValueError(
                f"The last input dimension must be known. Received: input_shape={input_shape}"
            )
        in_features = int(in_features)
        # === Weights ===
        self.weight = self.add_weight(
            name="weight",
            shape=(in_features, self.units),
            initializer=keras.initializers.RandomNormal(stddev=1.0 / self.lr_multiplier),
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias",
                shape=(self.units,),
                initializer=keras.initializers.Constant(self.bias_init),
            )
        self.weight_gain = self.lr_multiplier / float(np.sqrt(in_features))
        self.bias_gain = self.lr_multiplier

    def call(self, x):
        w = tf.cast(self.weight, x.dtype) * tf.cast(self.weight_gain, x.dtype)
        b = None
        if self.bias is not None:
            b = tf.cast(self.bias, x.dtype)
            if self.bias_gain != 1:
                b = b * tf.cast(self.bias_gain, x.dtype)
        if x.shape.rank == 2:
            y = tf.matmul(x, w)
        else:
            y = tf.tensordot(x, w, axes=[[x.shape.rank - 1], [0]])
        if self.activation == "linear" and b is not None:
            return y + b  # the official fast path (addmm): no activation, no gain
        return bias_act(y, b, act=self.activation)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units,
            use_bias=self.use_bias,
            bias_init=self.bias_init,
            lr_multiplier=self.lr_multiplier,
            activation=self.activation,
        )
        return config


@keras.saving.register_keras_serializable(package="tfdisgan")
class EqualizedConv2D(keras.layers.Layer):
    """2-D convolution with equalized learning rate and FIR up/downsampling.

    The official ``Conv2dLayer`` in NHWC: weight ``[k, k, in, filters] ~ N(0, 1)`` scaled by
    ``1 / sqrt(in * k * k)`` at run time, "same" padding ``k // 2``, resampling through
    `conv2d_resample` (``down``: FIR filter then stride-``down`` convolution; ``up``:
    transposed convolution then FIR filter), then `bias_act` with the activation's default
    gain times the call's ``gain`` and clamping to ``conv_clamp * gain``. As in the
    official layer, the weight is correlated (``tf.nn.conv2d``) when ``up == 1`` and
    convolved when ``up > 1``, so official weights load by transposing OIkk -> kkIO.

    The discriminator's residual skip is ``EqualizedConv2D(c, 1, use_bias=False,
    down=2)`` called with ``gain=sqrt(0.5)``.

    Args:
        filters: positive int, output channels.
        kernel_size: positive int, square kernel size.
        use_bias: add a bias (initialised to 0). Default True.
        activation: name from `bias_act.ACTIVATIONS`. Default ``"linear"``.
        up: int upsampling factor. Default 1.
        down: int downsampling factor. Default 1.
        resample_filter: FIR taps for `setup_filter`. Default ``(1, 3, 3, 1)``.
        conv_clamp: clamp the output to ``+-conv_clamp * gain``; None disables.
            Default None.
        **kwargs: `keras.layers.Layer` arguments (``trainable=False`` freezes the layer,
            the official ``trainable`` argument).

    Input shape ``[N, H, W, in]``; output ``[N, H * up / down, W * up / down, filters]``
    for odd kernels.

    Call args:
        x: input tensor.
        gain: extra output gain, a number or scalar tensor. Default 1.

    Raises:
        ValueError: naming the bad argument.

    Example:
        >>> conv = EqualizedConv2D(64, 3, activation="lrelu", down=2)
        >>> conv(tf.ones([2, 16, 16, 32])).shape
        TensorShape([2, 8, 8, 64])

    Reference:
        Karras et al., "Training Generative Adversarial Networks with Limited Data",
        NeurIPS 2020.
    """

    def __init__(
        self,
        filters,
        kernel_size,
        use_bias=True,
        activation="linear",
        up=1,
        down=1,
        resample_filter=(1, 3, 3, 1),
        conv_clamp=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = check_positive_int("filters", filters)
        self.kernel_size = check_positive_int("kernel_size", kernel_size)
        self.use_bias = check_bool("use_bias", use_bias)
        self.activation = check_activation(activation)
        self.up = check_positive_int("up", up)
        self.down = check_positive_int("down", down)
        self.resample_filter = check_filter_arg(resample_filter)
        self.conv_clamp = check_clamp(conv_clamp)
        self._filter = setup_filter(self.resample_filter)
        self._padding = self.kernel_size // 2
        self._act_gain = default_gain(self.activation)

    def build(self, input_shape):
        in_channels = input_shape[-1]
        if in_channels is None:
            raise ValueError(
                f"The channel dimension must be known. Received: input_shape={input_shape}"
            )
        in_channels = int(in_channels)
        k = self.kernel_size
        # === Weights ===
        self.weight = self.add_weight(
            name="weight",
            shape=(k, k, in_channels, self.filters),
            initializer=keras.initializers.RandomNormal(stddev=1.0),
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer="zeros")
        self.weight_gain = 1.0 / float(np.sqrt(in_channels * k * k))

    def call(self, x, gain=1):
        gain = check_gain(gain)
        act_gain = self._act_gain * gain
        # The output gain goes into the weight scale and the bias (`foldable_gain`).
        fold = foldable_gain(self.activation, act_gain)
        w = tf.cast(self.weight, x.dtype) * tf.cast(self.weight_gain * (fold or 1.0), x.dtype)
        x = conv2d_resample(
            x,
            w,
            f=self._filter,
            up=self.up,
            down=self.down,
            padding=self._padding,
            flip_weight=(self.up == 1),
        )
        bias = self.bias
        if fold is not None and bias is not None and fold != 1.0:
            bias = bias * fold
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        return bias_act(x, bias, act=self.activation, gain=1.0 if fold else act_gain,
                        clamp=clamp)

    def compute_output_shape(self, input_shape):
        n, h, w, _ = input_shape
        fw, fh = filter_size(self._filter)
        args = dict(up=self.up, down=self.down, padding=self._padding)
        return (
            n,
            conv2d_resample_output_size(h, self.kernel_size, fh, **args),
            conv2d_resample_output_size(w, self.kernel_size, fw, **args),
            self.filters,
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters,
            kernel_size=self.kernel_size,
            use_bias=self.use_bias,
            activation=self.activation,
            up=self.up,
            down=self.down,
            resample_filter=self.resample_filter,
            conv_clamp=self.conv_clamp,
        )
        return config
