"""StyleGAN2 synthesis layers: modulated convolution, noise injection, ToRGB.

A modulated convolution scales the input channels of a shared weight by per-sample styles
(an affine map of ``w``), and optionally *demodulates*: rescales each output channel so
that unit-variance inputs give unit-variance outputs,
``w'_{n,k,k,i,o} = w_{k,k,i,o} s_{n,i} / sqrt(sum_{k,k,i} (w s)^2 + 1e-8)``.
This replaces StyleGAN's AdaIN (Karras et al. 2020, section 2.2, eq. 1-3).

Two equal ways to run it (`modulated_conv2d`, ``fused_modconv``):

* fused: build the per-sample weights ``[N, k, k, Cin, Cout]`` and run one grouped
  convolution with the batch folded into the channels (``x`` as ``[1, H, W, N * Cin]``,
  weights ``[k, k, Cin, N * Cout]``, ``N`` groups);
* non-fused: scale the activations by the styles, convolve with the shared weight, scale
  the output by the demodulation coefficients (one ordinary batched convolution).

The maths, the initialisations and the parameter counts are those of ``SynthesisLayer``
and ``ToRGBLayer`` in stylegan2-ada-pytorch (``training/networks.py``), in NHWC.

Reference:
    Karras et al., "Analyzing and Improving the Image Quality of StyleGAN", CVPR 2020.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from tfdisgan.layers.bias_act import bias_act, check_activation, default_gain, foldable_gain
from tfdisgan.layers.conv_resample import conv2d_resample, gpu_visible
from tfdisgan.layers.equalized import (
    EqualizedDense,
    check_bool,
    check_clamp,
    check_gain,
    check_positive_int,
    conv2d_resample_output_size,
)
from tfdisgan.layers.resample import filter_size, setup_filter
from tfdisgan.layers.resample_layers import check_filter_arg

NOISE_MODES = ("random", "const", "none")

# `fused_modconv=None` ("auto"). On the CPU the fused path took 1.03-2.4x the time of the
# non-fused one at every size measured (batch 8, 3x3, 32-128 px, 128-512 channels, up 1 and
# 2, fwd and fwd + bwd; ToRGB 1x1: 1.4-1.6x) and TF 2.21 cannot differentiate a grouped
# conv in float16 on the CPU: the CPU never fuses. A GPU keeps the official policy (fused
# for inference in float32 or at batch 1), unmeasured here.
AUTO_FUSED_TRAINING = False
AUTO_FUSED_INFERENCE_CPU = False
AUTO_FUSED_INFERENCE_GPU = True


def _check_fused(fused_modconv):
    if fused_modconv not in (None, True, False):
        raise ValueError(
            f"`fused_modconv` must be None (auto), True or False. "
            f"Received: fused_modconv={fused_modconv}"
        )
    return fused_modconv


def resolve_fused_modconv(fused_modconv, training=None, batch_size=None, dtype="float32"):
    """The ``fused_modconv`` a modulated convolution runs with.

    Args:
        fused_modconv: True, False, or None (auto).
        training: the Keras ``training`` flag of the call (None counts as inference).
        batch_size: the static batch size, or None when unknown.
        dtype: the compute dtype of the activations. Default ``"float32"``.

    Returns:
        bool. Auto gives False while training; for inference False on the CPU (measured
        faster) and, when a GPU is visible, the official choice: True for float32 or a
        batch of 1. The fused path needs a static batch size; without one the result is
        False (both paths compute the same function).
    """
    if batch_size is None:
        return False
    if fused_modconv is None:
        if training:
            return AUTO_FUSED_TRAINING
        if not gpu_visible():
            return AUTO_FUSED_INFERENCE_CPU
        return AUTO_FUSED_INFERENCE_GPU and (
            tf.as_dtype(dtype) == tf.float32 or int(batch_size) == 1
        )
    return bool(fused_modconv)


def _math_dtype(dtype):
    """Modulation is computed in float32 for half-precision activations, as official."""
    return tf.float32 if dtype in (tf.float16, tf.bfloat16) else dtype


def modulated_conv2d(
    x,
    weight,
    styles,
    noise=None,
    up=1,
    down=1,
    padding=0,
    resample_filter=None,
    demodulate=True,
    flip_weight=True,
    fused_modconv=True,
    gain=1.0,
):
    """Modulated (and optionally demodulated) 2-D convolution with FIR resampling.

    Args:
        x: ``[N, H, W, Cin]`` activations.
        weight: ``[k, k, Cin, Cout]`` shared weight (any scale; demodulation removes it).
        styles: ``[N, Cin]`` per-sample input-channel scales.
        noise: optional tensor broadcastable to the output (``[N, H', W', 1]`` or
            ``[H', W', 1]``), added after the (de)modulated convolution. Default None.
        up: int upsampling factor. Default 1.
        down: int downsampling factor. Default 1.
        padding: padding with respect to the upsampled image (see `conv2d_resample`).
            Default 0.
        resample_filter: FIR filter from `setup_filter` for resampling. Default None.
        demodulate: normalise each output channel to unit expected variance. Default True.
        flip_weight: True = correlation, False = convolution. Default True.
        fused_modconv: one grouped convolution (True) or scaling before and after a shared
            convolution (False). Needs a static batch size; with an unknown one the
            non-fused path runs. Default True.
        gain: number, scales the output (noise included); folded into the demodulation
            coefficients or the styles, no pass over the activations. Default 1.

    Returns:
        ``[N, H', W', Cout]`` in the dtype of ``x``.

    Raises:
        ValueError: for mismatched shapes.

    Example:
        >>> y = modulated_conv2d(tf.ones([2, 8, 8, 16]), tf.random.normal([3, 3, 16, 32]),
        ...                      tf.ones([2, 16]), padding=1)  # [2, 8, 8, 32]
    """
    x = tf.convert_to_tensor(x)
    dtype = x.dtype
    mdtype = _math_dtype(dtype)
    weight = tf.cast(weight, mdtype)
    styles = tf.cast(styles, mdtype)
    kh, kw, in_channels, out_channels = (int(d) for d in weight.shape)
    if x.shape.rank != 4 or (x.shape[3] is not None and int(x.shape[3]) != in_channels):
        raise ValueError(
            f"`x` must be [N, H, W, {in_channels}] to match the weight. "
            f"Received: x.shape={x.shape}, weight.shape={weight.shape}"
        )
    if styles.shape.rank != 2 or styles.shape[1] != in_channels:
        raise ValueError(
            f"`styles` must be [N, {in_channels}]. Received: styles.shape={styles.shape}"
        )
    batch_size = x.shape[0]

    # Keep float16 in range: the scale of weight and styles cancels under demodulation.
    if dtype == tf.float16 and demodulate:
        weight = weight * (
            1.0
            / np.sqrt(in_channels * kh * kw)
            / tf.reduce_max(tf.abs(weight), axis=[0, 1, 2], keepdims=True)
        )
        styles = styles / tf.reduce_max(tf.abs(styles), axis=1, keepdims=True)

    fused_modconv = bool(fused_modconv) and batch_size is not None
    conv_args = dict(f=resample_filter, up=up, down=down, padding=padding, flip_weight=flip_weight)
    gain = float(gain)
    if gain != 1.0 and noise is not None:
        noise = noise * tf.cast(gain, noise.dtype)
    if not fused_modconv:
        dcoefs = None
        if demodulate:
            # sum_{k,k,i} (w_{kkio} s_{ni})^2 = sum_i s_{ni}^2 sum_{kk} w_{kkio}^2
            wsq = tf.reduce_sum(tf.square(weight), axis=[0, 1])  # [Cin, Cout]
            dcoefs = tf.math.rsqrt(tf.matmul(tf.square(styles), wsq) + 1e-8) * gain
        in_scale = styles if demodulate or gain == 1.0 else styles * gain
        x = x * tf.cast(in_scale, dtype)[:, tf.newaxis, tf.newaxis, :]
        x = conv2d_resample(x, tf.cast(weight, dtype), **conv_args)
        if dcoefs is not None:
            x = x * tf.cast(dcoefs, dtype)[:, tf.newaxis, tf.newaxis, :]
        if noise is not None:
            x = x + tf.cast(noise, dtype)
        return x

    # Per-sample weights, folded into one grouped convolution.
    n = int(batch_size)
    w = weight[tf.newaxis] * styles[:, tf.newaxis, tf.newaxis, :, tf.newaxis]  # [N,k,k,I,O]
    if demodulate:
        dcoefs = tf.math.rsqrt(tf.reduce_sum(tf.square(w), axis=[1, 2, 3]) + 1e-8) * gain
        w = w * dcoefs[:, tf.newaxis, tf.newaxis, tf.newaxis, :]  # [N, O] coefficients
    elif gain != 1.0:
        w = w * gain
    w = tf.reshape(tf.transpose(w, [1, 2, 3, 0, 4]), [kh, kw, in_channels, n * out_channels])
    h, wd = _dim(x, 1), _dim(x, 2)
    x = tf.reshape(tf.transpose(x, [1, 2, 0, 3]), [1, h, wd, n * in_channels])
    x = conv2d_resample(x, tf.cast(w, dtype), **conv_args)
    h, wd = _dim(x, 1), _dim(x, 2)
    x = tf.transpose(tf.reshape(x, [h, wd, n, out_channels]), [2, 0, 1, 3])
    if noise is not None:
        x = x + tf.cast(noise, dtype)
    return x


def _dim(x, axis):
    return int(x.shape[axis]) if x.shape[axis] is not None else tf.shape(x)[axis]


@keras.saving.register_keras_serializable(package="tfdisgan")
class NoiseInjection(keras.layers.Layer):
    """Per-pixel noise scaled by a learned strength (StyleGAN2 synthesis layers).

    ``y = x + noise_strength * n`` with ``n`` one ``[N, H, W, 1]`` draw of N(0, 1) per call
    (``"random"``), the fixed ``noise_const`` ``[H, W]`` (``"const"``), or nothing
    (``"none"``). ``noise_strength`` is a trainable scalar initialised to 0;
    ``noise_const`` is a non-trainable weight drawn at build time (the official buffer),
    so it is saved with the weights and the trainable parameter count matches the
    official layer. The random stream comes from a `keras.random.SeedGenerator` whose
    state is a variable of the layer.

    Args:
        resolution: positive int, the spatial size ``H = W`` of the inputs.
        seed: optional int seeding ``noise_const`` and the random stream. Default None.
        **kwargs: `keras.layers.Layer` arguments.

    Call args:
        x: ``[N, resolution, resolution, C]``.
        noise_mode: ``"random"``, ``"const"`` or ``"none"``. Default ``"random"``.

    Raises:
        ValueError: for a bad resolution, a mismatched input or an unknown noise mode.
    """

    def __init__(self, resolution, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.resolution = check_positive_int("resolution", resolution)
        if seed is not None and not (isinstance(seed, (int, np.integer)) and seed >= 0):
            raise ValueError(f"`seed` must be None or an int >= 0. Received: seed={seed}")
        self.seed = None if seed is None else int(seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed, name="noise_seed")

    def build(self, input_shape=None):
        if input_shape is not None and tuple(input_shape[1:3]) not in (
            (self.resolution, self.resolution),
            (None, None),
        ):
            raise ValueError(
                f"Inputs must be {self.resolution}x{self.resolution}. "
                f"Received: input_shape={input_shape}"
            )
        # === Weights ===
        self.noise_strength = self.add_weight(name="noise_strength", shape=(), initializer="zeros")
        self.noise_const = self.add_weight(
            name="noise_const",
            shape=(self.resolution, self.resolution),
            initializer=keras.initializers.RandomNormal(stddev=1.0, seed=self.seed),
            trainable=False,
        )

    def noise(self, batch_size, noise_mode="random", dtype="float32"):
        """The scaled noise to add, ``[N, H, W, 1]`` / ``[H, W, 1]``, or None for "none"."""
        if noise_mode not in NOISE_MODES:
            raise ValueError(
                f"`noise_mode` must be one of {NOISE_MODES}. Received: noise_mode={noise_mode}"
            )
        if noise_mode == "none":
            return None
        strength = tf.cast(self.noise_strength, dtype)
        if noise_mode == "const":
            return tf.cast(self.noise_const, dtype)[:, :, tf.newaxis] * strength
        res = self.resolution
        n = keras.random.normal(
            (batch_size, res, res, 1), seed=self.seed_generator, dtype="float32"
        )
        return tf.cast(n, dtype) * strength

    def call(self, x, noise_mode="random"):
        noise = self.noise(tf.shape(x)[0], noise_mode, x.dtype)
        return x if noise is None else x + noise

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(resolution=self.resolution, seed=self.seed)
        return config


def _style_policy(layer):
    """Styles stay float32 under mixed precision (as official: the affine sees fp32 w)."""
    if layer.compute_dtype in ("float16", "bfloat16"):
        return "float32"
    return layer.dtype_policy


class _Float32StyleInput:
    """Call-argument handling of the style layers: ``w`` reaches the float32 affine
    unrounded in half-precision blocks (official: fp32 ``w`` in fp16 blocks).

    Keras casts every floating call argument to the layer's compute dtype, which would
    round ``w`` to float16 / bfloat16 before the affine. Here the arguments are only made
    tensors (``w`` float32) and ``call`` casts ``x`` to the compute dtype itself.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._convert_input_args = False  # Keras' Layer.__init__ sets it True

    def __call__(self, x, w, *args, **kwargs):
        if not isinstance(x, keras.KerasTensor):
            x = tf.convert_to_tensor(x)
        if not isinstance(w, keras.KerasTensor):
            w = tf.cast(tf.convert_to_tensor(w), "float32")
        return super().__call__(x, w, *args, **kwargs)


def _check_w_shape(w_shape, w_dim):
    if w_shape is not None and w_shape[-1] is not None and int(w_shape[-1]) != w_dim:
        raise ValueError(f"`w` must have w_dim={w_dim} features. Received: w_shape={w_shape}")


@keras.saving.register_keras_serializable(package="tfdisgan")
class ModulatedConv2D(_Float32StyleInput, keras.layers.Layer):
    """StyleGAN2 synthesis layer: style-modulated convolution, noise, bias, activation.

    The official ``SynthesisLayer``: styles ``s = EqualizedDense(in, bias_init=1)(w)``;
    `modulated_conv2d` of ``x`` with the weight ``[k, k, in, filters] ~ N(0, 1)`` (padding
    ``k // 2``, FIR upsampling when ``up > 1``, demodulation); `NoiseInjection`; bias (0);
    `bias_act` with the activation's default gain (``sqrt(2)`` for lrelu) times ``gain``
    and clamping to ``conv_clamp * gain``. Trainable parameters: ``w_dim * in + in``
    (affine) ``+ k * k * in * filters + filters (+ 1 noise strength)``.

    Args:
        filters: positive int, output channels.
        kernel_size: positive int. Default 3.
        w_dim: positive int, dimensionality of ``w``. Default 512.
        up: int upsampling factor (1 or 2 in StyleGAN2). Default 1.
        demodulate: weight demodulation. Default True.
        resample_filter: FIR taps for `setup_filter`. Default ``(1, 3, 3, 1)``.
        conv_clamp: clamp the output to ``+-conv_clamp * gain``; None disables.
            Default None.
        activation: name from `bias_act.ACTIVATIONS`. Default ``"lrelu"``.
        use_noise: add per-pixel noise. Default True.
        resolution: output resolution; None infers ``H * up`` at build. Default None.
        fused_modconv: True (grouped convolution), False (batched), None (auto, see
            `resolve_fused_modconv`). Default None.
        **kwargs: `keras.layers.Layer` arguments.

    Call args:
        x: ``[N, resolution // up, resolution // up, in]``.
        w: ``[N, w_dim]``.
        noise_mode: ``"random"``, ``"const"`` or ``"none"``. Default ``"random"``.
        gain: extra output gain, a number or scalar tensor. Default 1.
        training: Keras training flag (used by the auto ``fused_modconv``).

    Output shape ``[N, resolution, resolution, filters]``.

    Raises:
        ValueError: naming the bad argument or mismatched input.

    Example:
        >>> layer = ModulatedConv2D(32, w_dim=64, up=2)
        >>> layer(tf.ones([2, 8, 8, 16]), tf.ones([2, 64])).shape
        TensorShape([2, 16, 16, 32])

    Reference:
        Karras et al., CVPR 2020, section 2.2.
    """

    def __init__(
        self,
        filters,
        kernel_size=3,
        w_dim=512,
        up=1,
        demodulate=True,
        resample_filter=(1, 3, 3, 1),
        conv_clamp=None,
        activation="lrelu",
        use_noise=True,
        resolution=None,
        fused_modconv=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = check_positive_int("filters", filters)
        self.kernel_size = check_positive_int("kernel_size", kernel_size)
        self.w_dim = check_positive_int("w_dim", w_dim)
        self.up = check_positive_int("up", up)
        self.demodulate = check_bool("demodulate", demodulate)
        self.resample_filter = check_filter_arg(resample_filter)
        self.conv_clamp = check_clamp(conv_clamp)
        self.activation = check_activation(activation)
        self.use_noise = check_bool("use_noise", use_noise)
        if resolution is not None:
            check_positive_int("resolution", resolution)
            if resolution % self.up:
                raise ValueError(
                    f"`resolution` must be a multiple of up={self.up}. "
                    f"Received: resolution={resolution}"
                )
        self.resolution = resolution
        self.fused_modconv = _check_fused(fused_modconv)
        self._filter = setup_filter(self.resample_filter)
        self._padding = self.kernel_size // 2
        self._act_gain = default_gain(self.activation)

    def _output_size(self, size):
        fw, _ = filter_size(self._filter)
        return conv2d_resample_output_size(
            size, self.kernel_size, fw, up=self.up, padding=self._padding
        )

    def build(self, x_shape, w_shape=None):
        in_channels = x_shape[-1]
        if in_channels is None:
            raise ValueError(f"The channel dimension must be known. Received: x_shape={x_shape}")
        in_channels = int(in_channels)
        _check_w_shape(w_shape, self.w_dim)
        out_size = self._output_size(x_shape[1])
        if self.resolution is not None and out_size not in (None, self.resolution):
            raise ValueError(
                f"Inputs of size {x_shape[1]} give {out_size}x{out_size} outputs, not "
                f"resolution={self.resolution}. Received: x_shape={x_shape}"
            )
        resolution = self.resolution if self.resolution is not None else out_size
        if self.use_noise and resolution is None:
            raise ValueError(
                f"Pass `resolution` or inputs of known size to use noise. "
                f"Received: x_shape={x_shape}"
            )
        k = self.kernel_size
        # === Layers ===
        self.affine = EqualizedDense(
            in_channels, bias_init=1.0, dtype=_style_policy(self), name="affine"
        )
        self.affine.build((None, self.w_dim))
        self.noise = None
        if self.use_noise:
            self.noise = NoiseInjection(resolution, dtype=self.dtype_policy, name="noise")
            self.noise.build((None, resolution, resolution, self.filters))
        # === Weights ===
        self.weight = self.add_weight(
            name="weight",
            shape=(k, k, in_channels, self.filters),
            initializer=keras.initializers.RandomNormal(stddev=1.0),
        )
        self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer="zeros")

    def call(self, x, w, noise_mode="random", gain=1, training=None):
        if noise_mode not in NOISE_MODES:
            raise ValueError(
                f"`noise_mode` must be one of {NOISE_MODES}. Received: noise_mode={noise_mode}"
            )
        gain = check_gain(gain)
        x = tf.cast(x, self.compute_dtype)
        styles = self.affine(w)
        noise = None
        if self.noise is not None:
            noise = self.noise.noise(tf.shape(x)[0], noise_mode, x.dtype)
        fused = resolve_fused_modconv(self.fused_modconv, training, x.shape[0], x.dtype)
        act_gain = self._act_gain * gain
        fold = foldable_gain(self.activation, act_gain)  # into dcoefs, noise and bias
        x = modulated_conv2d(
            x,
            self.weight,
            styles,
            noise=noise,
            up=self.up,
            padding=self._padding,
            resample_filter=self._filter,
            demodulate=self.demodulate,
            flip_weight=(self.up == 1),
            fused_modconv=fused,
            gain=fold or 1.0,
        )
        bias = self.bias if fold is None or fold == 1.0 else self.bias * fold
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        return bias_act(x, bias, act=self.activation, gain=1.0 if fold else act_gain,
                        clamp=clamp)

    def compute_output_shape(self, x_shape, w_shape=None):
        size = self._output_size(x_shape[1])
        size_w = self._output_size(x_shape[2])
        return (x_shape[0], size, size_w, self.filters)

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters,
            kernel_size=self.kernel_size,
            w_dim=self.w_dim,
            up=self.up,
            demodulate=self.demodulate,
            resample_filter=self.resample_filter,
            conv_clamp=self.conv_clamp,
            activation=self.activation,
            use_noise=self.use_noise,
            resolution=self.resolution,
            fused_modconv=self.fused_modconv,
        )
        return config


@keras.saving.register_keras_serializable(package="tfdisgan")
class ToRGB(_Float32StyleInput, keras.layers.Layer):
    """StyleGAN2 ToRGB: modulated (not demodulated) convolution to image channels.

    The official ``ToRGBLayer``: styles ``EqualizedDense(in, bias_init=1)(w)`` times
    ``1 / sqrt(in * k * k)``, `modulated_conv2d` without demodulation, bias (0), linear
    `bias_act` clamped to ``conv_clamp``.

    Args:
        channels: positive int, image channels. Default 3.
        w_dim: positive int, dimensionality of ``w``. Default 512.
        kernel_size: positive int. Default 1.
        conv_clamp: clamp the output to ``+-conv_clamp``; None disables. Default None.
        fused_modconv: True, False or None (auto, see `resolve_fused_modconv`).
            Default None.
        **kwargs: `keras.layers.Layer` arguments.

    Call args:
        x: ``[N, H, W, in]``.
        w: ``[N, w_dim]``.
        training: Keras training flag (used by the auto ``fused_modconv``).

    Output shape ``[N, H, W, channels]``.

    Raises:
        ValueError: naming the bad argument or mismatched input.
    """

    def __init__(
        self,
        channels=3,
        w_dim=512,
        kernel_size=1,
        conv_clamp=None,
        fused_modconv=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.channels = check_positive_int("channels", channels)
        self.w_dim = check_positive_int("w_dim", w_dim)
        self.kernel_size = check_positive_int("kernel_size", kernel_size)
        self.conv_clamp = check_clamp(conv_clamp)
        self.fused_modconv = _check_fused(fused_modconv)

    def build(self, x_shape, w_shape=None):
        in_channels = x_shape[-1]
        if in_channels is None:
            raise ValueError(f"The channel dimension must be known. Received: x_shape={x_shape}")
        in_channels = int(in_channels)
        _check_w_shape(w_shape, self.w_dim)
        k = self.kernel_size
        # === Layers ===
        self.affine = EqualizedDense(
            in_channels, bias_init=1.0, dtype=_style_policy(self), name="affine"
        )
        self.affine.build((None, self.w_dim))
        # === Weights ===
        self.weight = self.add_weight(
            name="weight",
            shape=(k, k, in_channels, self.channels),
            initializer=keras.initializers.RandomNormal(stddev=1.0),
        )
        self.bias = self.add_weight(name="bias", shape=(self.channels,), initializer="zeros")
        self.weight_gain = 1.0 / float(np.sqrt(in_channels * k * k))

    def call(self, x, w, training=None):
        x = tf.cast(x, self.compute_dtype)
        styles = self.affine(w)
        styles = styles * tf.cast(self.weight_gain, styles.dtype)
        fused = resolve_fused_modconv(self.fused_modconv, training, x.shape[0], x.dtype)
        x = modulated_conv2d(
            x,
            self.weight,
            styles,
            padding=self.kernel_size // 2,
            demodulate=False,
            fused_modconv=fused,
        )
        return bias_act(x, self.bias, clamp=self.conv_clamp)

    def compute_output_shape(self, x_shape, w_shape=None):
        return tuple(x_shape[:3]) + (self.channels,)

    def get_config(self):
        config = super().get_config()
        config.update(
            channels=self.channels,
            w_dim=self.w_dim,
            kernel_size=self.kernel_size,
            conv_clamp=self.conv_clamp,
            fused_modconv=self.fused_modconv,
        )
        return config
