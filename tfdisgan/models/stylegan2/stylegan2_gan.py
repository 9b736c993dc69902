"""StyleGAN2 (config F / stylegan2-ada) networks, presets and the ``StyleGAN2`` model.

A Keras 3 / TensorFlow re-implementation of the networks and the training loss of NVIDIA's
stylegan2-ada-pytorch (``training/networks.py``, ``training/loss.py``,
``training/training_loop.py``, ``train.py``), NHWC throughout. The networks have the
official parameter counts exactly (e.g. paper256 at 256 px: G 24,767,458 = mapping
2,101,248 + synthesis 22,666,210, D 24,001,089; config F at 1024 px: G 30,370,060,
D 29,012,513), counting ``noise_strength`` and leaving out the buffers (``w_avg``,
``noise_const``, resampling filters), as the official code does. With the official
weights (transposed to NHWC), G, D, the path lengths and R1 agree with the official PyTorch
code to float32 precision (``tests/models/test_stylegan2.py``, ``OfficialAgreementTest``).

* ``MappingNetwork``: z (normalised by its second moment) and the class embedding
  (normalised) -> ``num_layers`` equalised FC layers (lr multiplier 0.01) -> w, tracked by a
  moving average ``w_avg`` and broadcast to ``num_ws`` copies, with truncation toward
  ``w_avg``.
* ``SynthesisNetwork``: a learned 4x4 constant, per resolution two modulated 3x3 convs
  (the first upsampling) with noise and a ToRGB whose output is added to the upsampled
  image ("skip" architecture). ``num_ws = 2 * log2(res) - 2``.
* ``Discriminator``: residual blocks (FromRGB at the top resolution only), an epilogue with
  minibatch stddev, conv, FC and output FC, and projection conditioning through its own
  mapping network.
* ``StyleGAN2(GAN)``: the training phases of ``training_loop.py``: ``Gmain`` (non-saturating
  loss with style mixing), ``Greg`` (path-length penalty, every ``pl_interval`` steps),
  ``Dmain`` (logistic loss), ``Dreg`` (R1, every ``r1_interval`` steps), each regularisation
  phase a separate optimizer step as in the official loop, then the G EMA.
* ``PRESETS`` / ``resolve_preset``: the ``cfg_specs`` of stylegan2-ada ``train.py``
  (``auto``, ``stylegan2``, ``paper256``, ``paper512``, ``paper1024``) plus ``cpu_tiny``;
  ``lazy_adam`` is the lazy-regularisation Adam adjustment of ``training_loop.py``.

Deviations from the official code (all deliberate):

* NHWC layout. The epilogue flattens its 4x4 features in NCHW order so that the FC weight
  has the official layout.
* Labels are int class indices ``[N]`` (one-hot encoded inside the mapping networks, which
  also accept a float ``[N, c_dim]`` label); the fakes of every phase use the labels of
  the real batch rather than labels drawn again from the dataset.
* Replica-count invariance: latents, the style-mixing draws and the path-length noise are
  drawn for the global batch and sliced per replica (``GAN.replica_rows``); the path-length
  batch is ``global_batch // pl_batch_shrink`` rows drawn afresh, with every
  ``pl_batch_shrink``-th label (official: the first rows of the phase's latents and labels
  on each GPU); ``pl_mean`` and ``w_avg`` are updated with the mean over all replicas
  (official: per GPU, unsynchronised buffers).
* Keras' Adam puts ``epsilon`` outside the bias correction of the second moment (TF's
  "epsilon hat"); with ``epsilon = 1e-8`` the difference is negligible.
* ``num_fp16_res`` runs the top blocks (those >= 8 px) with the Keras ``mixed_float16``
  policy (``conv_clamp`` guards them, as in the official code), or ``mixed_bfloat16`` with
  ``half_dtype="bfloat16"``: the same layout with bfloat16, for TPUs and for CPUs with
  bf16 dot products, where it doubles the conv throughput. The default is 0 (float32).
* Under ``tf.distribute``, random noise ("random" noise mode) and minibatch-stddev groups
  are per replica, as per GPU in the official code.

Keras notes: sub-layers are attributes (``fc0``, ``b4``, ...), never lists, because Keras
3.15 leaves lists of layers out of ``tf.train.Checkpoint``'s object graph; networks are
built by tracing ``call`` in a scratch graph (``compute_output_spec``), so building even
config F creates the weights without running a forward pass.

Reference:
    Karras et al., "Analyzing and Improving the Image Quality of StyleGAN", CVPR 2020.
    Karras et al., "Training Generative Adversarial Networks with Limited Data", NeurIPS
    2020 (https://github.com/NVlabs/stylegan2-ada-pytorch).
"""

import math

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from tfdisgan import losses
from tfdisgan.layers import (
    EqualizedConv2D,
    EqualizedDense,
    MinibatchStdDev,
    ModulatedConv2D,
    ToRGB,
    downsample2d,
    setup_filter,
    upsample2d,
)
from tfdisgan.models.gan import _TRACKER_NAMES, GAN, _is_int, _is_number

ARCHITECTURES = ("orig", "skip", "resnet")
# Reduced-precision compute dtypes of the `num_fp16_res` top blocks: float16 as official on
# GPUs, bfloat16 on TPUs and CPUs with bf16 dot products (AVX512_BF16 / AMX).
HALF_DTYPES = ("float16", "bfloat16")
NOISE_MODES = ("random", "const", "none")
_RESAMPLE_FILTER = (1, 3, 3, 1)
_SQRT_HALF = math.sqrt(0.5)


# ------------------------------------------------------------------------------------------
# Argument checks
# ------------------------------------------------------------------------------------------


def _check_int(name, value, minimum, allow_none=False):
    if value is None and allow_none:
        return
    if not _is_int(value) or value < minimum:
        none = " or None" if allow_none else ""
        raise ValueError(f"`{name}` must be an int >= {minimum}{none}. Received: {name}={value!r}")


def _check_number(name, value, minimum=None, maximum=None, allow_none=False):
    if value is None and allow_none:
        return
    if (
        not _is_number(value)
        or (minimum is not None and value < minimum)
        or (maximum is not None and value > maximum)
    ):
        bounds = f" in [{minimum}, {maximum}]" if maximum is not None else f" >= {minimum}"
        raise ValueError(f"`{name}` must be a number{bounds}. Received: {name}={value!r}")


def _check_resolution(name, value, minimum=4):
    if not _is_int(value) or value < minimum or value & (value - 1):
        raise ValueError(
            f"`{name}` must be a power of two >= {minimum}. Received: {name}={value!r}"
        )


def _check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(f"`{name}` must be one of {choices}. Received: {name}={value!r}")


def _check_noise_mode(noise_mode):
    _check_choice("noise_mode", noise_mode, NOISE_MODES)


def channels_dict(resolutions, channel_base, channel_max):
    """``{res: min(channel_base // res, channel_max)}``, the official channel schedule."""
    return {res: min(channel_base // res, channel_max) for res in resolutions}


def normalize_2nd_moment(x, axis=1, epsilon=1e-8):
    """``x / sqrt(mean(x^2, axis) + epsilon)``: unit second moment along ``axis``."""
    return x * ops.rsqrt(ops.mean(ops.square(x), axis=axis, keepdims=True) + epsilon)


def _labels_to_matrix(c, c_dim):
    """Int labels ``[N]`` -> one-hot ``[N, c_dim]`` float32; ``[N, c_dim]`` passes through."""
    c = ops.convert_to_tensor(c)
    if len(c.shape) == 1:
        return ops.one_hot(ops.cast(c, "int32"), c_dim, dtype="float32")
    return ops.cast(c, "float32")


def _symbolic(shape, dtype="float32"):
    return keras.KerasTensor(shape, dtype=dtype)


# ------------------------------------------------------------------------------------------
# Mapping network
# ------------------------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="tfdisgan")
class MappingNetwork(keras.layers.Layer):
    """StyleGAN2 mapping network: ``(z, c) -> w`` broadcast to ``[N, num_ws, w_dim]``.

    ``z`` is normalised to unit second moment; when conditional, the one-hot label goes
    through an equalised FC embedding, is normalised too and concatenated. Then
    ``num_layers`` equalised FC layers with learning-rate multiplier ``lr_multiplier``.
    During training (``training=True``, ``skip_w_avg_update=False``) the non-trainable
    ``w_avg`` tracks the batch mean of w: ``w_avg <- lerp(mean(w), w_avg, w_avg_beta)``
    (under ``tf.distribute`` the mean over all replicas, through ``MEAN`` aggregation).
    Truncation: ``w <- lerp(w_avg, w, psi)`` for the first ``truncation_cutoff`` of the
    ``num_ws`` copies (all when None).

    Args:
        z_dim: int >= 0, latent size (0: no latent, as the discriminator's label mapping).
        c_dim: int >= 0, number of classes (0: unconditional).
        w_dim: int > 0, intermediate latent size.
        num_ws: int > 0 or None, copies of w to output (None: ``[N, w_dim]``).
        num_layers: int >= 1, FC layers. Default 8.
        embed_features: int > 0 or None, label embedding size (None: ``w_dim``).
        layer_features: int > 0 or None, hidden FC width (None: ``w_dim``).
        activation: str, FC activation. Default ``"lrelu"``.
        lr_multiplier: float > 0, learning-rate multiplier of the FC layers. Default 0.01.
        w_avg_beta: float in [0, 1] or None, decay of ``w_avg`` (None: not tracked, no
            truncation). Default 0.995.
        **kwargs: ``keras.layers.Layer`` arguments.

    Call arguments:
        z: float ``[N, z_dim]`` (None when ``z_dim == 0``).
        c: int labels ``[N]`` or float ``[N, c_dim]`` (None when ``c_dim == 0``).
        psi: float or scalar tensor, truncation (1: none). Default 1.
        truncation_cutoff: int or None, truncate only the first this many ws. Default None.
        skip_w_avg_update: bool, do not update ``w_avg`` (style-mixing latents). Default False.
        training: bool, whether ``w_avg`` is updated.

    Returns:
        ``[N, num_ws, w_dim]`` (or ``[N, w_dim]`` when ``num_ws`` is None), float32.

    Raises:
        ValueError: a bad argument, or truncation asked of a net without ``w_avg``.

    Example:
        >>> mapping = MappingNetwork(z_dim=512, c_dim=0, w_dim=512, num_ws=14)
        >>> mapping(tf.random.normal([2, 512])).shape
        TensorShape([2, 14, 512])

    Reference:
        stylegan2-ada-pytorch ``training/networks.py`` ``MappingNetwork``.
    """

    def __init__(
        self,
        z_dim,
        c_dim,
        w_dim,
        num_ws,
        num_layers=8,
        embed_features=None,
        layer_features=None,
        activation="lrelu",
        lr_multiplier=0.01,
        w_avg_beta=0.995,
        **kwargs,
    ):
        _check_int("z_dim", z_dim, 0)
        _check_int("c_dim", c_dim, 0)
        _check_int("w_dim", w_dim, 1)
        _check_int("num_ws", num_ws, 1, allow_none=True)
        _check_int("num_layers", num_layers, 1)
        _check_int("embed_features", embed_features, 1, allow_none=True)
        _check_int("layer_features", layer_features, 1, allow_none=True)
        _check_number("lr_multiplier", lr_multiplier, minimum=0)
        _check_number("w_avg_beta", w_avg_beta, 0, 1, allow_none=True)
        if z_dim == 0 and c_dim == 0:
            raise ValueError("`z_dim` and `c_dim` cannot both be 0: the network has no input.")
        if lr_multiplier == 0:
            raise ValueError(
                f"`lr_multiplier` must be > 0. Received: lr_multiplier={lr_multiplier}"
            )
        super().__init__(**kwargs)

        # === Config ===
        self.z_dim = z_dim
        self.c_dim = c_dim
        self.w_dim = w_dim
        self.num_ws = num_ws
        self.num_layers = num_layers
        self.embed_features = embed_features
        self.layer_features = layer_features
        self.activation = activation
        self.lr_multiplier = lr_multiplier
        self.w_avg_beta = w_avg_beta

        embed = 0 if c_dim == 0 else (w_dim if embed_features is None else embed_features)
        hidden = w_dim if layer_features is None else layer_features
        self._features = [z_dim + embed] + [hidden] * (num_layers - 1) + [w_dim]

        # === Layers ===
        self.embed = EqualizedDense(embed, name="embed") if c_dim > 0 else None
        # One attribute per layer (as the official `fc{idx}`): Keras 3.15 leaves lists of
        # layers out of `tf.train.Checkpoint`'s object graph.
        for i in range(num_layers):
            layer = EqualizedDense(
                self._features[i + 1],
                activation=activation,
                lr_multiplier=lr_multiplier,
                name=f"fc{i}",
            )
            setattr(self, f"fc{i}", layer)

    @property
    def fc_layers(self):
        """The FC layers ``fc0 ... fc{num_layers - 1}``."""
        return [getattr(self, f"fc{i}") for i in range(self.num_layers)]

    def build(self, input_shape=None):
        if self.embed is not None:
            self.embed.build((None, self.c_dim))
        for i, layer in enumerate(self.fc_layers):
            layer.build((None, self._features[i]))
        if self.num_ws is not None and self.w_avg_beta is not None:
            # A buffer in the official code: not trained, copied to G_ema as is; the mean
            # over replicas keeps it independent of the replica count.
            self.w_avg = self.add_weight(
                shape=(self.w_dim,),
                initializer="zeros",
                trainable=False,
                aggregation="mean",
                name="w_avg",
            )
        else:
            self.w_avg = None
        self.built = True

    def call(
        self,
        z,
        c=None,
        psi=1.0,
        truncation_cutoff=None,
        skip_w_avg_update=False,
        training=None,
    ):
        x = None
        if self.z_dim > 0:
            if z is None:
                raise ValueError(f"This mapping network needs `z` [N, {self.z_dim}].")
            x = normalize_2nd_moment(ops.cast(z, "float32"))
        if self.c_dim > 0:
            if c is None:
                raise ValueError(
                    f"This mapping network is conditional (c_dim={self.c_dim}): pass `c`."
                )
            y = normalize_2nd_moment(self.embed(_labels_to_matrix(c, self.c_dim)))
            x = y if x is None else ops.concatenate([x, y], axis=1)
        for layer in self.fc_layers:
            x = layer(x)

        if self.w_avg is not None and training and not skip_w_avg_update:
            batch_mean = ops.mean(ops.stop_gradient(x), axis=0)
            self.w_avg.assign(batch_mean + (self.w_avg - batch_mean) * self.w_avg_beta)

        if self.num_ws is not None:
            x = ops.repeat(ops.expand_dims(x, 1), self.num_ws, axis=1)

        if not (_is_number(psi) and psi == 1):
            if self.w_avg is None:
                raise ValueError("Truncation needs `w_avg`: build with num_ws and w_avg_beta.")
            psi = ops.cast(psi, x.dtype)
            truncated = self.w_avg + psi * (x - self.w_avg)
            if self.num_ws is None or truncation_cutoff is None:
                x = truncated
            else:
                keep = ops.arange(self.num_ws) < truncation_cutoff
                x = ops.where(ops.reshape(keep, [1, -1, 1]), truncated, x)
        return x

    def compute_output_shape(self, z_shape=None, c_shape=None):
        batch = (z_shape or c_shape or (None,))[0]
        if self.num_ws is None:
            return (batch, self.w_dim)
        return (batch, self.num_ws, self.w_dim)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "z_dim": self.z_dim,
                "c_dim": self.c_dim,
                "w_dim": self.w_dim,
                "num_ws": self.num_ws,
                "num_layers": self.num_layers,
                "embed_features": self.embed_features,
                "layer_features": self.layer_features,
                "activation": self.activation,
                "lr_multiplier": self.lr_multiplier,
                "w_avg_beta": self.w_avg_beta,
            }
        )
        return config


# ------------------------------------------------------------------------------------------
# Synthesis network
# ------------------------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="tfdisgan")
class SynthesisBlock(keras.layers.Layer):
    """One resolution of the synthesis network (official ``SynthesisBlock``).

    The first block (``in_channels == 0``) starts from a learned ``[res, res, C]`` constant
    and has one conv; the others upsample with ``conv0`` (``up=2``) then ``conv1``. The
    "skip" architecture adds every block's ToRGB to the FIR-upsampled image of the block
    below; "resnet" adds a 1x1 upsampling skip (both branches times ``sqrt(0.5)``);
    "orig" has a ToRGB on the last block only.

    Call: ``(ws [N, num_conv + num_torgb, w_dim], x [N, res/2, res/2, in] or None,
    img [N, res/2, res/2, img_channels] or None, noise_mode)`` -> ``(x, img)``.
    """

    def __init__(
        self,
        in_channels,
        out_channels,
        w_dim,
        resolution,
        img_channels,
        is_last,
        architecture="skip",
        conv_clamp=None,
        use_fp16=False,
        fused_modconv=None,
        half_dtype="float16",
        **kwargs,
    ):
        _check_int("in_channels", in_channels, 0)
        _check_choice("half_dtype", half_dtype, HALF_DTYPES)
        _check_int("out_channels", out_channels, 1)
        _check_choice("architecture", architecture, ARCHITECTURES)
        super().__init__(**kwargs)

        # === Config ===
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.w_dim = w_dim
        self.resolution = resolution
        self.img_channels = img_channels
        self.is_last = bool(is_last)
        self.architecture = architecture
        self.conv_clamp = conv_clamp
        self.use_fp16 = bool(use_fp16)
        self.fused_modconv = fused_modconv
        self.half_dtype = half_dtype
        self.resample_filter = setup_filter(_RESAMPLE_FILTER)
        self.num_conv = 0
        self.num_torgb = 0

        # === Layers ===
        policy = f"mixed_{half_dtype}" if self.use_fp16 else None
        common = dict(
            w_dim=w_dim,
            resolution=resolution,
            conv_clamp=conv_clamp,
            fused_modconv=fused_modconv,
            dtype=policy,
        )
        self.conv0 = None
        if in_channels != 0:
            self.conv0 = ModulatedConv2D(out_channels, 3, up=2, name="conv0", **common)
            self.num_conv += 1
        self.conv1 = ModulatedConv2D(out_channels, 3, name="conv1", **common)
        self.num_conv += 1
        self.torgb = None
        if is_last or architecture == "skip":
            self.torgb = ToRGB(
                img_channels,
                w_dim=w_dim,
                conv_clamp=conv_clamp,
                fused_modconv=fused_modconv,
                dtype=policy,
                name="torgb",
            )
            self.num_torgb += 1
        self.skip = None
        if in_channels != 0 and architecture == "resnet":
            self.skip = EqualizedConv2D(
                out_channels, 1, use_bias=False, up=2, dtype=policy, name="skip"
            )

    def build(self, input_shape=None):
        if self.in_channels == 0:
            self.const = self.add_weight(
                shape=(self.resolution, self.resolution, self.out_channels),
                initializer=keras.initializers.RandomNormal(0.0, 1.0),
                name="const",
            )
        self.built = True

    def call(self, ws, x=None, img=None, noise_mode="random", training=None):
        compute = self.half_dtype if self.use_fp16 else "float32"
        w_iter = iter(range(self.num_conv + self.num_torgb))
        if self.in_channels == 0:
            batch = ops.shape(ws)[0]
            x = ops.broadcast_to(
                ops.expand_dims(ops.cast(self.const, compute), 0),
                (batch, self.resolution, self.resolution, self.out_channels),
            )
            x = self.conv1(x, ws[:, next(w_iter)], noise_mode=noise_mode)
        else:
            x = ops.cast(x, compute)
            if self.architecture == "resnet":
                y = self.skip(x, gain=_SQRT_HALF)
                x = self.conv0(x, ws[:, next(w_iter)], noise_mode=noise_mode)
                x = self.conv1(x, ws[:, next(w_iter)], noise_mode=noise_mode, gain=_SQRT_HALF)
                x = y + x
            else:
                x = self.conv0(x, ws[:, next(w_iter)], noise_mode=noise_mode)
                x = self.conv1(x, ws[:, next(w_iter)], noise_mode=noise_mode)

        if img is not None:
            img = upsample2d(img, self.resample_filter)
        if self.torgb is not None:
            y = ops.cast(self.torgb(x, ws[:, next(w_iter)]), "float32")
            img = y if img is None else img + y
        return x, img

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "in_channels": self.in_channels,
                "out_channels": self.out_channels,
                "w_dim": self.w_dim,
                "resolution": self.resolution,
                "img_channels": self.img_channels,
                "is_last": self.is_last,
                "architecture": self.architecture,
                "conv_clamp": self.conv_clamp,
                "use_fp16": self.use_fp16,
                "fused_modconv": self.fused_modconv,
                "half_dtype": self.half_dtype,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="tfdisgan")
class SynthesisNetwork(keras.layers.Layer):
    """StyleGAN2 synthesis network: ``ws [N, num_ws, w_dim]`` -> images ``[N, R, R, C]``.

    Blocks at 4, 8, ..., ``img_resolution`` with ``min(channel_base // res, channel_max)``
    channels. Block ``b`` reads ``num_conv + num_torgb`` consecutive ws starting at the sum
    of the ``num_conv`` of the blocks before it, so a block's ToRGB shares its w with the
    next block's first conv, and ``num_ws = sum(num_conv) + num_torgb(last)``
    (``2 * log2(R) - 2``), exactly as the official bookkeeping.

    Args:
        w_dim: int > 0.
        img_resolution: int, power of two >= 4.
        img_channels: int > 0. Default 3.
        channel_base: int > 0. Default 32768 (config F; paper256 uses 16384).
        channel_max: int > 0. Default 512.
        num_fp16_res: int >= 0, run the top this many resolutions (those >= 8 px) in
            reduced precision (``half_dtype``). Default 0.
        conv_clamp: float > 0 or None, clamp conv outputs to ``+-conv_clamp``. Default None.
        architecture: ``"orig" | "skip" | "resnet"``. Default ``"skip"``.
        fused_modconv: None (fused when not training, as official), True or False.
        half_dtype: ``"float16"`` (official, GPUs) or ``"bfloat16"`` (TPUs, CPUs with
            bf16 dot products): the compute dtype of those blocks. Default ``"float16"``.
        **kwargs: ``keras.layers.Layer`` arguments.

    Call arguments:
        ws: float ``[N, num_ws, w_dim]``.
        noise_mode: ``"random" | "const" | "none"``. Default ``"random"``.

    Returns:
        float32 images ``[N, img_resolution, img_resolution, img_channels]`` (unbounded;
        nominally ``[-1, 1]``).

    Example:
        >>> synthesis = SynthesisNetwork(w_dim=512, img_resolution=256, channel_base=16384)
        >>> synthesis.num_ws
        14

    Reference:
        stylegan2-ada-pytorch ``training/networks.py`` ``SynthesisNetwork``.
    """

    def __init__(
        self,
        w_dim,
        img_resolution,
        img_channels=3,
        channel_base=32768,
        channel_max=512,
        num_fp16_res=0,
        conv_clamp=None,
        architecture="skip",
        fused_modconv=None,
        half_dtype="float16",
        **kwargs,
    ):
        _check_int("w_dim", w_dim, 1)
        _check_resolution("img_resolution", img_resolution)
        _check_int("img_channels", img_channels, 1)
        _check_int("channel_base", channel_base, 1)
        _check_int("channel_max", channel_max, 1)
        _check_int("num_fp16_res", num_fp16_res, 0)
        _check_number("conv_clamp", conv_clamp, minimum=0, allow_none=True)
        _check_choice("architecture", architecture, ARCHITECTURES)
        _check_choice("fused_modconv", fused_modconv, (None, True, False))
        _check_choice("half_dtype", half_dtype, HALF_DTYPES)
        super().__init__(**kwargs)

        # === Config ===
        self.w_dim = w_dim
        self.img_resolution = img_resolution
        self.img_channels = img_channels
        self.channel_base = channel_base
        self.channel_max = channel_max
        self.num_fp16_res = num_fp16_res
        self.conv_clamp = conv_clamp
        self.architecture = architecture
        self.fused_modconv = fused_modconv
        self.half_dtype = half_dtype

        log2 = int(np.log2(img_resolution))
        self.block_resolutions = [2**i for i in range(2, log2 + 1)]
        channels = channels_dict(self.block_resolutions, channel_base, channel_max)
        for res, ch in channels.items():
            if ch < 1:
                raise ValueError(
                    f"channel_base={channel_base} leaves no channels at {res} px; use "
                    f"channel_base >= {img_resolution}."
                )
        fp16_resolution = max(2 ** (log2 + 1 - num_fp16_res), 8)

        # === Layers ===
        # One attribute per block (`b4`, `b8`, ...): Keras 3.15 leaves lists of layers out
        # of `tf.train.Checkpoint`'s object graph.
        self.num_ws = 0
        for res in self.block_resolutions:
            block = SynthesisBlock(
                channels[res // 2] if res > 4 else 0,
                channels[res],
                w_dim=w_dim,
                resolution=res,
                img_channels=img_channels,
                is_last=res == img_resolution,
                architecture=architecture,
                conv_clamp=conv_clamp,
                use_fp16=res >= fp16_resolution,
                fused_modconv=fused_modconv,
                half_dtype=half_dtype,
                name=f"b{res}",
            )
            self.num_ws += block.num_conv
            if block.is_last:
                self.num_ws += block.num_torgb
            setattr(self, f"b{res}", block)

    @property
    def blocks(self):
        """The ``SynthesisBlock`` of every resolution, lowest first."""
        return [getattr(self, f"b{res}") for res in self.block_resolutions]

    def build(self, input_shape=None):
        self.built = True

    def call(self, ws, noise_mode="random", training=None):
        _check_noise_mode(noise_mode)
        ws = ops.cast(ws, "float32")
        x = img = None
        w_idx = 0
        for block in self.blocks:
            block_ws = ws[:, w_idx : w_idx + block.num_conv + block.num_torgb]
            w_idx += block.num_conv
            x, img = block(block_ws, x, img, noise_mode=noise_mode, training=training)
        return img

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "w_dim": self.w_dim,
                "img_resolution": self.img_resolution,
                "img_channels": self.img_channels,
                "channel_base": self.channel_base,
                "channel_max": self.channel_max,
                "num_fp16_res": self.num_fp16_res,
                "conv_clamp": self.conv_clamp,
                "architecture": self.architecture,
                "fused_modconv": self.fused_modconv,
                "half_dtype": self.half_dtype,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="tfdisgan")
class Generator(keras.Model):
    """StyleGAN2 generator: ``MappingNetwork`` + ``SynthesisNetwork``.

    Args:
        z_dim: int > 0.
        c_dim: int >= 0, number of classes (0: unconditional).
        w_dim: int > 0.
        img_resolution: int, power of two >= 4.
        img_channels: int > 0. Default 3.
        mapping_kwargs: dict or None, extra ``MappingNetwork`` arguments (``num_layers``,
            ``lr_multiplier``, ...).
        synthesis_kwargs: dict or None, extra ``SynthesisNetwork`` arguments
            (``channel_base``, ``channel_max``, ``conv_clamp``, ...).
        **kwargs: ``keras.Model`` arguments (``name``).

    Call arguments:
        inputs: ``z [N, z_dim]`` or ``[z, labels [N]]`` (conditional).
        psi, truncation_cutoff: truncation (see ``MappingNetwork``). Defaults 1, None.
        noise_mode: ``"random" | "const" | "none"``. Default ``"random"``.
        training: bool.

    Returns:
        float32 images ``[N, R, R, img_channels]``.

    Example:
        >>> g = Generator(512, 0, 512, 256, synthesis_kwargs=dict(channel_base=16384))
        >>> g.build()
        >>> g.num_ws, sum(int(np.prod(v.shape)) for v in g.trainable_weights)
        (14, 24767458)

    Reference:
        stylegan2-ada-pytorch ``training/networks.py`` ``Generator``.
    """

    def __init__(
        self,
        z_dim,
        c_dim,
        w_dim,
        img_resolution,
        img_channels=3,
        mapping_kwargs=None,
        synthesis_kwargs=None,
        **kwargs,
    ):
        _check_int("z_dim", z_dim, 1)
        _check_int("c_dim", c_dim, 0)
        super().__init__(**kwargs)

        # === Config ===
        self.z_dim = z_dim
        self.c_dim = c_dim
        self.w_dim = w_dim
        self.img_resolution = img_resolution
        self.img_channels = img_channels
        self.mapping_kwargs = dict(mapping_kwargs or {})
        self.synthesis_kwargs = dict(synthesis_kwargs or {})

        # === Layers ===
        self.synthesis = SynthesisNetwork(
            w_dim=w_dim,
            img_resolution=img_resolution,
            img_channels=img_channels,
            name="synthesis",
            **self.synthesis_kwargs,
        )
        self.mapping = MappingNetwork(
            z_dim=z_dim,
            c_dim=c_dim,
            w_dim=w_dim,
            num_ws=self.synthesis.num_ws,
            name="mapping",
            **self.mapping_kwargs,
        )

    @property
    def num_ws(self):
        """Number of w vectors the synthesis network reads."""
        return self.synthesis.num_ws

    def build(self, input_shape=None):
        """Creates every weight by tracing the networks symbolically (no computation)."""
        if self.built:
            return
        z = _symbolic((None, self.z_dim))
        c = _symbolic((None,), "int32") if self.c_dim > 0 else None
        self.mapping(z, c)
        self.synthesis(_symbolic((None, self.num_ws, self.w_dim)))
        self.built = True

    def _split_inputs(self, inputs):
        if isinstance(inputs, (list, tuple)):
            if len(inputs) != 2:
                raise ValueError(f"Expected z or [z, labels]. Received {len(inputs)} inputs.")
            z, c = inputs
        else:
            z, c = inputs, None
        if self.c_dim > 0 and c is None:
            raise ValueError(
                f"This generator is conditional (c_dim={self.c_dim}): call it on [z, labels]."
            )
        return z, (c if self.c_dim > 0 else None)

    def call(self, inputs, psi=1.0, truncation_cutoff=None, noise_mode="random", training=None):
        z, c = self._split_inputs(inputs)
        ws = self.mapping(
            z, c, psi=psi, truncation_cutoff=truncation_cutoff, training=training
        )
        return self.synthesis(ws, noise_mode=noise_mode, training=training)

    def get_config(self):
        return {
            "z_dim": self.z_dim,
            "c_dim": self.c_dim,
            "w_dim": self.w_dim,
            "img_resolution": self.img_resolution,
            "img_channels": self.img_channels,
            "mapping_kwargs": dict(self.mapping_kwargs),
            "synthesis_kwargs": dict(self.synthesis_kwargs),
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


# ------------------------------------------------------------------------------------------
# Discriminator
# ------------------------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="tfdisgan")
class DiscriminatorBlock(keras.layers.Layer):
    """One resolution of the discriminator (official ``DiscriminatorBlock``).

    FromRGB (1x1) on the first block (or every block with "skip"), ``conv0`` 3x3,
    ``conv1`` 3x3 with ``down=2``; "resnet" adds a bias-free 1x1 ``down=2`` skip, both
    branches times ``sqrt(0.5)``.

    Call: ``(x [N, res, res, tmp] or None, img [N, res, res, C] or None)`` -> ``(x, img)``.
    """

    def __init__(
        self,
        in_channels,
        tmp_channels,
        out_channels,
        resolution,
        img_channels,
        architecture="resnet",
        conv_clamp=None,
        use_fp16=False,
        half_dtype="float16",
        **kwargs,
    ):
        _check_choice("architecture", architecture, ARCHITECTURES)
        _check_choice("half_dtype", half_dtype, HALF_DTYPES)
        if in_channels not in (0, tmp_channels):
            raise ValueError(
                f"`in_channels` must be 0 or tmp_channels={tmp_channels}. "
                f"Received: in_channels={in_channels}"
            )
        super().__init__(**kwargs)

        # === Config ===
        self.in_channels = in_channels
        self.tmp_channels = tmp_channels
        self.out_channels = out_channels
        self.resolution = resolution
        self.img_channels = img_channels
        self.architecture = architecture
        self.conv_clamp = conv_clamp
        self.use_fp16 = bool(use_fp16)
        self.half_dtype = half_dtype
        self.resample_filter = setup_filter(_RESAMPLE_FILTER)

        # === Layers ===
        policy = f"mixed_{half_dtype}" if self.use_fp16 else None
        self.fromrgb = None
        if in_channels == 0 or architecture == "skip":
            self.fromrgb = EqualizedConv2D(
                tmp_channels, 1, activation="lrelu", conv_clamp=conv_clamp, dtype=policy,
                name="fromrgb",
            )
        self.conv0 = EqualizedConv2D(
            tmp_channels, 3, activation="lrelu", conv_clamp=conv_clamp, dtype=policy,
            name="conv0",
        )
        self.conv1 = EqualizedConv2D(
            out_channels, 3, activation="lrelu", down=2, conv_clamp=conv_clamp, dtype=policy,
            name="conv1",
        )
        self.skip = None
        if architecture == "resnet":
            self.skip = EqualizedConv2D(
                out_channels, 1, use_bias=False, down=2, dtype=policy, name="skip"
            )

    def build(self, input_shape=None):
        self.built = True

    def call(self, x=None, img=None, training=None):
        compute = self.half_dtype if self.use_fp16 else "float32"
        if x is not None:
            x = ops.cast(x, compute)
        if self.fromrgb is not None:
            y = self.fromrgb(ops.cast(img, compute))
            x = y if x is None else x + y
            img = downsample2d(img, self.resample_filter) if self.architecture == "skip" else None
        if self.architecture == "resnet":
            y = self.skip(x, gain=_SQRT_HALF)
            x = self.conv0(x)
            x = y + self.conv1(x, gain=_SQRT_HALF)
        else:
            x = self.conv1(self.conv0(x))
        return x, img

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "in_channels": self.in_channels,
                "tmp_channels": self.tmp_channels,
                "out_channels": self.out_channels,
                "resolution": self.resolution,
                "img_channels": self.img_channels,
                "architecture": self.architecture,
                "conv_clamp": self.conv_clamp,
                "use_fp16": self.use_fp16,
                "half_dtype": self.half_dtype,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="tfdisgan")
class DiscriminatorEpilogue(keras.layers.Layer):
    """The 4x4 head (official ``DiscriminatorEpilogue``): mbstd, conv, FC, output FC.

    With ``cmap_dim > 0`` the output FC has ``cmap_dim`` units and the logit is the
    projection ``sum(out * cmap) / sqrt(cmap_dim)``.

    Call: ``(x [N, 4, 4, C], img or None, cmap [N, cmap_dim] or None)`` -> logits ``[N, 1]``.
    """

    def __init__(
        self,
        in_channels,
        cmap_dim,
        resolution,
        img_channels,
        architecture="resnet",
        mbstd_group_size=4,
        mbstd_num_channels=1,
        conv_clamp=None,
        **kwargs,
    ):
        _check_choice("architecture", architecture, ARCHITECTURES)
        _check_int("mbstd_group_size", mbstd_group_size, 1, allow_none=True)
        _check_int("mbstd_num_channels", mbstd_num_channels, 0)
        super().__init__(**kwargs)

        # === Config ===
        self.in_channels = in_channels
        self.cmap_dim = cmap_dim
        self.resolution = resolution
        self.img_channels = img_channels
        self.architecture = architecture
        self.mbstd_group_size = mbstd_group_size
        self.mbstd_num_channels = mbstd_num_channels
        self.conv_clamp = conv_clamp

        # === Layers ===
        self.fromrgb = None
        if architecture == "skip":
            self.fromrgb = EqualizedConv2D(in_channels, 1, activation="lrelu", name="fromrgb")
        self.mbstd = None
        if mbstd_num_channels > 0:
            self.mbstd = MinibatchStdDev(
                group_size=mbstd_group_size, num_channels=mbstd_num_channels, name="mbstd"
            )
        self.conv = EqualizedConv2D(
            in_channels, 3, activation="lrelu", conv_clamp=conv_clamp, name="conv"
        )
        self.fc = EqualizedDense(in_channels, activation="lrelu", name="fc")
        self.out = EqualizedDense(1 if cmap_dim == 0 else cmap_dim, name="out")

    def build(self, input_shape=None):
        self.built = True

    def call(self, x, img=None, cmap=None, training=None):
        x = ops.cast(x, "float32")
        if self.fromrgb is not None:
            x = x + self.fromrgb(ops.cast(img, "float32"))
        if self.mbstd is not None:
            x = self.mbstd(x)
        x = self.conv(x)
        # Flatten in NCHW order: the FC weight then has the official layout.
        x = ops.reshape(ops.transpose(x, (0, 3, 1, 2)), (-1, self.in_channels * self.resolution**2))
        x = self.out(self.fc(x))
        if self.cmap_dim > 0:
            x = ops.sum(x * cmap, axis=1, keepdims=True) * (1.0 / math.sqrt(self.cmap_dim))
        return x

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "in_channels": self.in_channels,
                "cmap_dim": self.cmap_dim,
                "resolution": self.resolution,
                "img_channels": self.img_channels,
                "architecture": self.architecture,
                "mbstd_group_size": self.mbstd_group_size,
                "mbstd_num_channels": self.mbstd_num_channels,
                "conv_clamp": self.conv_clamp,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="tfdisgan")
class Discriminator(keras.Model):
    """StyleGAN2 discriminator (residual, with projection conditioning).

    Args:
        c_dim: int >= 0, number of classes (0: unconditional).
        img_resolution: int, power of two >= 4.
        img_channels: int > 0. Default 3.
        architecture: ``"orig" | "skip" | "resnet"``. Default ``"resnet"``.
        channel_base: int > 0. Default 32768.
        channel_max: int > 0. Default 512.
        num_fp16_res: int >= 0, blocks at the top this many resolutions (>= 8 px) in
            reduced precision (``half_dtype``). Default 0.
        half_dtype: ``"float16"`` or ``"bfloat16"`` (see ``SynthesisNetwork``).
        conv_clamp: float > 0 or None. Default None.
        cmap_dim: int > 0 or None, size of the label projection (None: channels at 4 px).
        mbstd_group_size: int >= 1 or None (whole batch), minibatch-stddev group. Default 4.
        mbstd_num_channels: int >= 0, minibatch-stddev features (0: off). Default 1.
        mapping_kwargs: dict or None, extra arguments of the label ``MappingNetwork``
            (8 layers, lr multiplier 0.01 by default, as official).
        **kwargs: ``keras.Model`` arguments (``name``).

    Call arguments:
        inputs: images ``[N, R, R, C]`` or ``[images, labels [N]]``.

    Returns:
        float32 logits ``[N, 1]``.

    Example:
        >>> d = Discriminator(0, 256, channel_base=16384)
        >>> d.build()
        >>> d.count_params()
        24001089

    Reference:
        stylegan2-ada-pytorch ``training/networks.py`` ``Discriminator``.
    """

    def __init__(
        self,
        c_dim,
        img_resolution,
        img_channels=3,
        architecture="resnet",
        channel_base=32768,
        channel_max=512,
        num_fp16_res=0,
        conv_clamp=None,
        cmap_dim=None,
        mbstd_group_size=4,
        mbstd_num_channels=1,
        mapping_kwargs=None,
        half_dtype="float16",
        **kwargs,
    ):
        _check_int("c_dim", c_dim, 0)
        _check_choice("half_dtype", half_dtype, HALF_DTYPES)
        _check_resolution("img_resolution", img_resolution)
        _check_int("img_channels", img_channels, 1)
        _check_choice("architecture", architecture, ARCHITECTURES)
        _check_int("channel_base", channel_base, 1)
        _check_int("channel_max", channel_max, 1)
        _check_int("num_fp16_res", num_fp16_res, 0)
        _check_number("conv_clamp", conv_clamp, minimum=0, allow_none=True)
        _check_int("cmap_dim", cmap_dim, 1, allow_none=True)
        super().__init__(**kwargs)

        # === Config ===
        self.c_dim = c_dim
        self.img_resolution = img_resolution
        self.img_channels = img_channels
        self.architecture = architecture
        self.channel_base = channel_base
        self.channel_max = channel_max
        self.num_fp16_res = num_fp16_res
        self.conv_clamp = conv_clamp
        self.cmap_dim = cmap_dim
        self.mbstd_group_size = mbstd_group_size
        self.mbstd_num_channels = mbstd_num_channels
        self.mapping_kwargs = dict(mapping_kwargs or {})
        self.half_dtype = half_dtype

        log2 = int(np.log2(img_resolution))
        self.block_resolutions = [2**i for i in range(log2, 2, -1)]
        channels = channels_dict(self.block_resolutions + [4], channel_base, channel_max)
        if min(channels.values()) < 1:
            raise ValueError(
                f"channel_base={channel_base} leaves no channels at {img_resolution} px."
            )
        fp16_resolution = max(2 ** (log2 + 1 - num_fp16_res), 8)
        cmap = 0 if c_dim == 0 else (channels[4] if cmap_dim is None else cmap_dim)
        self._cmap_dim = cmap

        # === Layers ===
        # One attribute per block (see SynthesisNetwork).
        blocks = [
            DiscriminatorBlock(
                channels[res] if res < img_resolution else 0,
                channels[res],
                channels[res // 2],
                resolution=res,
                img_channels=img_channels,
                architecture=architecture,
                conv_clamp=conv_clamp,
                use_fp16=res >= fp16_resolution,
                half_dtype=half_dtype,
                name=f"b{res}",
            )
            for res in self.block_resolutions
        ]
        for block in blocks:
            setattr(self, block.name, block)
        self.mapping = None
        if c_dim > 0:
            self.mapping = MappingNetwork(
                z_dim=0,
                c_dim=c_dim,
                w_dim=cmap,
                num_ws=None,
                w_avg_beta=None,
                name="mapping",
                **self.mapping_kwargs,
            )
        self.epilogue = DiscriminatorEpilogue(
            channels[4],
            cmap_dim=cmap,
            resolution=4,
            img_channels=img_channels,
            architecture=architecture,
            mbstd_group_size=mbstd_group_size,
            mbstd_num_channels=mbstd_num_channels,
            conv_clamp=conv_clamp,
            name="b4",
        )

    @property
    def blocks(self):
        """The ``DiscriminatorBlock`` of every resolution, highest first."""
        return [getattr(self, f"b{res}") for res in self.block_resolutions]

    def build(self, input_shape=None):
        """Creates every weight by tracing the network symbolically (no computation)."""
        if self.built:
            return
        res = self.img_resolution
        images = _symbolic((None, res, res, self.img_channels))
        inputs = [images, _symbolic((None,), "int32")] if self.c_dim > 0 else images
        # Traces `call` in a scratch graph: the blocks return None images, which a
        # symbolic Keras call would reject.
        self.compute_output_spec(inputs)
        self.built = True

    def call(self, inputs, training=None):
        if isinstance(inputs, (list, tuple)):
            if len(inputs) != 2:
                raise ValueError(f"Expected images or [images, labels]. Received {len(inputs)}.")
            img, labels = inputs
        else:
            img, labels = inputs, None
        if self.c_dim > 0 and labels is None:
            raise ValueError(
                f"This discriminator is conditional (c_dim={self.c_dim}): call it on "
                "[images, labels]."
            )
        img = ops.cast(img, "float32")
        x = None
        for block in self.blocks:
            x, img = block(x, img, training=training)
        cmap = self.mapping(None, labels, training=training) if self.mapping is not None else None
        return self.epilogue(x, img, cmap, training=training)

    def get_config(self):
        return {
            "c_dim": self.c_dim,
            "img_resolution": self.img_resolution,
            "img_channels": self.img_channels,
            "architecture": self.architecture,
            "channel_base": self.channel_base,
            "channel_max": self.channel_max,
            "num_fp16_res": self.num_fp16_res,
            "conv_clamp": self.conv_clamp,
            "cmap_dim": self.cmap_dim,
            "mbstd_group_size": self.mbstd_group_size,
            "mbstd_num_channels": self.mbstd_num_channels,
            "mapping_kwargs": dict(self.mapping_kwargs),
            "half_dtype": self.half_dtype,
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def path_lengths(synthesis_fn, ws, pl_noise):
    """Path lengths of loss.py: the norm of ``J^T y`` per example.

    ``g = d sum(synthesis_fn(ws) * pl_noise) / d ws`` (one backward pass gives ``J^T y`` for
    every example at once, the examples being independent); ``length = sqrt(mean over the
    num_ws axis of the sum over the w_dim axis of g^2)``, i.e. official
    ``pl_grads.square().sum(2).mean(1).sqrt()``. Differentiable (double backprop).

    Args:
        synthesis_fn: callable ``ws -> images [N, H, W, C]``.
        ws: ``[N, num_ws, w_dim]``.
        pl_noise: ``[N, H, W, C]``, normally ``N(0, I) / sqrt(H * W)``.

    Returns:
        ``[N]`` lengths.
    """
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(ws)
        projected = ops.sum(ops.cast(synthesis_fn(ws), "float32") * pl_noise)
    grads = tape.gradient(projected, ws)
    return ops.sqrt(ops.mean(ops.sum(ops.square(grads), axis=2), axis=1))


# ------------------------------------------------------------------------------------------
# Presets and the lazy-regularisation optimizer
# ------------------------------------------------------------------------------------------

# stylegan2-ada train.py `cfg_specs` (None in "auto" = computed from resolution and GPUs, as
# train.py does), plus our own "cpu_tiny". fmaps -> channel_base = int(fmaps * 32768).
PRESETS = {
    "auto": dict(ref_gpus=None, kimg=25000, mb=None, mbstd=None, fmaps=None, lrate=None,
                 gamma=None, ema=None, ramp=0.05, map=2),
    "stylegan2": dict(ref_gpus=8, kimg=25000, mb=32, mbstd=4, fmaps=1, lrate=0.002,
                      gamma=10, ema=10, ramp=None, map=8),
    "paper256": dict(ref_gpus=8, kimg=25000, mb=64, mbstd=8, fmaps=0.5, lrate=0.0025,
                     gamma=1, ema=20, ramp=None, map=8),
    "paper512": dict(ref_gpus=8, kimg=25000, mb=64, mbstd=8, fmaps=1, lrate=0.0025,
                     gamma=0.5, ema=20, ramp=None, map=8),
    "paper1024": dict(ref_gpus=8, kimg=25000, mb=32, mbstd=4, fmaps=1, lrate=0.002,
                      gamma=2, ema=10, ramp=None, map=8),
    # Ours, for CPU demos: 1/8 of config F's channels capped at 128, z = w = 128, a 2-layer
    # mapping; mb, gamma and ema follow the "auto" formulas for one device.
    "cpu_tiny": dict(ref_gpus=1, kimg=500, mb=None, mbstd=4, fmaps=0.125, lrate=0.0025,
                     gamma=None, ema=None, ramp=0.05, map=2, cmax=128, z_dim=128, w_dim=128),
}

# Keys of a resolved preset that are `StyleGAN2` constructor / `compile` arguments.
MODEL_KEYS = (
    "resolution", "z_dim", "w_dim", "channel_base", "channel_max", "mapping_layers",
    "mbstd_group_size", "conv_clamp", "ema_kimg", "ema_rampup",
)
COMPILE_KEYS = ("r1_gamma", "r1_interval", "pl_weight", "pl_interval")


def resolve_preset(name, resolution, batch=None, num_gpus=1):
    """Resolves a training preset exactly as stylegan2-ada ``train.py`` does.

    ``"auto"``: ``mb = max(min(gpus * min(4096 // res, 32), 64), gpus)``, ``mbstd =
    min(mb // gpus, 4)``, ``fmaps = 1 if res >= 512 else 0.5``, ``lrate = 0.002 if res >=
    1024 else 0.0025``, ``gamma = 0.0002 * res**2 / mb``, ``ema = mb * 10 / 32``.
    ``batch`` overrides the batch size only (gamma and ema keep the preset's ``mb``, as in
    train.py). Every preset uses ``conv_clamp=256``, Adam betas ``(0, 0.99)``, R1 every 16
    and path length (weight 2) every 4 steps. The official presets also enable FP16 for the
    top 4 resolutions on CUDA; here that is a separate choice (``num_fp16_res`` /
    ``half_dtype``, scripts/train.py ``--precision``), float32 by default.

    Args:
        name: ``"auto" | "stylegan2" | "paper256" | "paper512" | "paper1024" | "cpu_tiny"``.
        resolution: int, power of two >= 4, the dataset resolution.
        batch: int or None, global batch (None: the preset's ``mb``).
        num_gpus: int >= 1, number of replicas.

    Returns:
        dict with the ``StyleGAN2`` arguments (``MODEL_KEYS``), the ``compile`` arguments
        (``COMPILE_KEYS``), ``batch`` (global), ``lrate``, ``betas``, ``kimg`` and
        ``preset``. Build the optimizers with ``preset_optimizers``.

    Raises:
        ValueError: unknown name, bad resolution / batch / num_gpus, or a per-replica batch
            that the minibatch-stddev group does not divide.

    Example:
        >>> resolve_preset("auto", 256)["channel_base"], resolve_preset("auto", 256)["batch"]
        (16384, 16)
    """
    _check_choice("name", name, tuple(PRESETS))
    _check_resolution("resolution", resolution)
    _check_int("num_gpus", num_gpus, 1)
    _check_int("batch", batch, 1, allow_none=True)
    spec = dict(PRESETS[name])
    res = resolution
    if name == "auto":
        spec["ref_gpus"] = num_gpus
        spec["mb"] = max(min(num_gpus * min(4096 // res, 32), 64), num_gpus)
        spec["mbstd"] = min(spec["mb"] // num_gpus, 4)
        spec["fmaps"] = 1 if res >= 512 else 0.5
        spec["lrate"] = 0.002 if res >= 1024 else 0.0025
    if spec["mb"] is None:  # cpu_tiny: the "auto" batch for one device
        spec["mb"] = max(min(num_gpus * min(4096 // res, 32), 64), num_gpus)
    if spec["gamma"] is None:
        spec["gamma"] = 0.0002 * (res**2) / spec["mb"]
    if spec["ema"] is None:
        spec["ema"] = spec["mb"] * 10 / 32
    global_batch = spec["mb"] if batch is None else batch
    if global_batch % num_gpus:
        raise ValueError(
            f"`batch` must be divisible by num_gpus={num_gpus}. Received: batch={global_batch}"
        )
    per_replica = global_batch // num_gpus
    group = min(spec["mbstd"], per_replica)
    if per_replica % group:
        raise ValueError(
            f"The per-replica batch {per_replica} is not divisible by the minibatch-stddev "
            f"group size {group} of preset {name!r}; choose batch as a multiple of "
            f"{group * num_gpus}."
        )
    return {
        "preset": name,
        "resolution": res,
        "z_dim": spec.get("z_dim", 512),
        "w_dim": spec.get("w_dim", 512),
        "channel_base": int(spec["fmaps"] * 32768),
        "channel_max": spec.get("cmax", 512),
        "mapping_layers": spec["map"],
        "mbstd_group_size": spec["mbstd"],
        "conv_clamp": 256,
        "ema_kimg": float(spec["ema"]),
        "ema_rampup": spec["ramp"],
        "r1_gamma": float(spec["gamma"]),
        "r1_interval": 16,
        "pl_weight": 2.0,
        "pl_interval": 4,
        "batch": global_batch,
        "lrate": float(spec["lrate"]),
        "betas": (0.0, 0.99),
        "kimg": spec["kimg"],
    }


def lazy_adam(learning_rate, betas=(0.0, 0.99), interval=None, epsilon=1e-8, **kwargs):
    """Adam adjusted for lazy regularisation (stylegan2-ada ``training_loop.py``).

    When a regularisation term is applied every ``interval`` steps as an extra optimizer
    step, the optimizer takes ``interval + 1`` steps per ``interval`` minibatches; with
    ``mb_ratio = interval / (interval + 1)`` the learning rate becomes ``lr * mb_ratio``
    and the betas ``beta ** mb_ratio``, so the moment decay per minibatch is unchanged.
    ``interval=None`` (or 0) returns plain Adam (the official "both" phases).

    Args:
        learning_rate: float > 0.
        betas: ``(beta_1, beta_2)``. Default ``(0.0, 0.99)`` (the official values).
        interval: int >= 1 or None, the regularisation interval (G: ``pl_interval`` = 4,
            D: ``r1_interval`` = 16).
        epsilon: float. Default 1e-8.
        **kwargs: other ``keras.optimizers.Adam`` arguments.

    Returns:
        ``keras.optimizers.Adam``.

    Example:
        >>> opt = lazy_adam(0.0025, interval=16)
        >>> float(opt.learning_rate), opt.beta_2  # 0.0025 * 16/17, 0.99 ** (16/17)
        (0.0023529..., 0.99058...)
    """
    _check_number("learning_rate", learning_rate, minimum=0)
    if interval is not None and not _is_int(interval):
        raise ValueError(f"`interval` must be None or an int. Received: interval={interval!r}")
    beta_1, beta_2 = betas
    ratio = 1.0 if not interval or interval <= 0 else interval / (interval + 1)
    return keras.optimizers.Adam(
        learning_rate=learning_rate * ratio,
        beta_1=beta_1**ratio,
        beta_2=beta_2**ratio,
        epsilon=epsilon,
        **kwargs,
    )


def preset_optimizers(preset):
    """``(g_optimizer, d_optimizer)`` for a resolved preset: ``lazy_adam`` with the preset's
    learning rate and betas and its ``pl_interval`` / ``r1_interval``."""
    return (
        lazy_adam(preset["lrate"], preset["betas"], preset["pl_interval"]),
        lazy_adam(preset["lrate"], preset["betas"], preset["r1_interval"]),
    )


def split_preset(preset):
    """``(model_kwargs, compile_kwargs)`` of a resolved preset."""
    return (
        {k: preset[k] for k in MODEL_KEYS},
        {k: preset[k] for k in COMPILE_KEYS},
    )


# ------------------------------------------------------------------------------------------
# The model
# ------------------------------------------------------------------------------------------

_SG2_TRACKERS = ("pl_penalty", "pl_mean")


@keras.saving.register_keras_serializable(package="tfdisgan")
class StyleGAN2(GAN):
    """StyleGAN2 with the stylegan2-ada training loss and phases.

    Each ``train_step`` runs the official phases in order, each its own optimizer step:

    1. ``Gmain``: non-saturating loss ``softplus(-D(G(z)))`` with style mixing (with
       probability ``style_mixing_prob`` the ws from a crossover layer on come from a
       second latent).
    2. ``Greg`` when ``batch_idx % pl_interval == 0``: path-length penalty on
       ``batch // pl_batch_shrink`` fresh latents, ``(|J^T y| - pl_mean)^2 * pl_weight``
       with ``y ~ N(0, I) / sqrt(H * W)``, scaled by ``pl_interval``.
    3. ``Dmain``: logistic loss on (augmented) fakes and reals.
    4. ``Dreg`` when ``batch_idx % r1_interval == 0``: R1 on the reals,
       ``r1_gamma / 2 * |grad|^2``, scaled by ``r1_interval``.

    then the G EMA (buffers ``w_avg`` and ``noise_const`` copied) and the counters. A
    regularisation phase runs under ``tf.cond`` (inside a cross-replica ``merge_call``
    under ``MirroredStrategy``, where a synchronising branch in a replica-context cond is
    not allowed), so one traced function serves every step. With ``r1_interval=None`` /
    ``pl_interval=None`` the term is added to every main step instead (official "Dboth" /
    "Gboth"). Use ``lazy_adam`` (or ``preset_optimizers``) for the optimizers.

    Args:
        resolution: int, power of two >= 4. Default 256.
        z_dim, w_dim: ints > 0. Defaults 512.
        num_classes: int >= 0 (0: unconditional). Default 0.
        channel_base, channel_max: channel schedule ``min(channel_base // res,
            channel_max)``. Defaults 16384 (paper256 / auto below 512 px), 512.
        mapping_layers: int >= 1, FC layers of G's mapping. Default 8.
        mbstd_group_size: int >= 1, minibatch-stddev group; must divide the per-replica
            batch (groups never span replicas). Default 4.
        mbstd_num_channels: int >= 0 (0: off). Default 1.
        conv_clamp: float or None. Default 256 (train.py).
        num_fp16_res: int >= 0, G and D blocks at the top this many resolutions (those
            >= 8 px) compute in ``half_dtype`` (official train.py: 4; ``--fp32``: 0).
            Default 0.
        half_dtype: ``"float16"`` (GPUs; trained as the official code, without loss
            scaling: plain optimizers, ``nan_to_num`` on every gradient) or ``"bfloat16"``
            (TPUs, CPUs with AVX512_BF16 / AMX). Default ``"float16"``.
        style_mixing_prob: float in [0, 1]. Default 0.9.
        truncation_cutoff: int or None, default cutoff for ``synthesize`` / ``generate``.
        fused_modconv: None (fused when not training), True or False.
        ema_kimg: float >= 0, G EMA half-life in kimg. Default 10.
        ema_rampup: float or None. Default 0.05.
        seed: int or None, seed of latents, mixing and path-length noise.
        **kwargs: ``keras.Model`` arguments (``name``).

    Attributes:
        train_noise_mode: noise mode of G during training, ``"random"`` (official). Tests
            set ``"const"`` to compare runs whose per-pixel noise would differ.

    Example:
        >>> preset = resolve_preset("cpu_tiny", 64)
        >>> model_kwargs, compile_kwargs = split_preset(preset)
        >>> gan = StyleGAN2(**model_kwargs, seed=0)
        >>> gan.compile(*preset_optimizers(preset), augment=DiffAugment(), **compile_kwargs)
        >>> gan.fit(dataset.batch(preset["batch"], drop_remainder=True), epochs=1)
        >>> images = gan.generate(seeds=range(8), psi=0.7)

    Reference:
        Karras et al., CVPR 2020 (StyleGAN2); Karras et al., NeurIPS 2020
        (stylegan2-ada-pytorch ``training/loss.py``, ``training/training_loop.py``).
    """

    def __init__(
        self,
        resolution=256,
        z_dim=512,
        w_dim=512,
        num_classes=0,
        channel_base=16384,
        channel_max=512,
        mapping_layers=8,
        mbstd_group_size=4,
        mbstd_num_channels=1,
        conv_clamp=256,
        num_fp16_res=0,
        half_dtype="float16",
        style_mixing_prob=0.9,
        truncation_cutoff=None,
        fused_modconv=None,
        ema_kimg=10.0,
        ema_rampup=0.05,
        seed=None,
        **kwargs,
    ):
        _check_resolution("resolution", resolution)
        _check_int("z_dim", z_dim, 1)
        _check_int("w_dim", w_dim, 1)
        _check_int("num_classes", num_classes, 0)
        _check_int("mapping_layers", mapping_layers, 1)
        _check_number("style_mixing_prob", style_mixing_prob, 0, 1)
        _check_int("truncation_cutoff", truncation_cutoff, 0, allow_none=True)

        # === Layers ===
        generator = Generator(
            z_dim,
            num_classes,
            w_dim,
            resolution,
            mapping_kwargs={"num_layers": mapping_layers},
            synthesis_kwargs={
                "channel_base": channel_base,
                "channel_max": channel_max,
                "conv_clamp": conv_clamp,
                "fused_modconv": fused_modconv,
                "num_fp16_res": num_fp16_res,
                "half_dtype": half_dtype,
            },
            name="generator",
        )
        generator.build()
        discriminator = Discriminator(
            num_classes,
            resolution,
            channel_base=channel_base,
            channel_max=channel_max,
            conv_clamp=conv_clamp,
            num_fp16_res=num_fp16_res,
            half_dtype=half_dtype,
            mbstd_group_size=mbstd_group_size,
            mbstd_num_channels=mbstd_num_channels,
            name="discriminator",
        )
        discriminator.build()
        super().__init__(
            generator,
            discriminator,
            z_dim=z_dim,
            num_classes=num_classes,
            ema_kimg=ema_kimg,
            ema_rampup=ema_rampup,
            seed=seed,
            **kwargs,
        )

        # === Config ===
        self.resolution = resolution
        self.w_dim = w_dim
        self.channel_base = channel_base
        self.channel_max = channel_max
        self.mapping_layers = mapping_layers
        self.mbstd_group_size = mbstd_group_size
        self.mbstd_num_channels = mbstd_num_channels
        self.conv_clamp = conv_clamp
        self.num_fp16_res = num_fp16_res
        self.half_dtype = half_dtype
        self.style_mixing_prob = float(style_mixing_prob)
        self.truncation_cutoff = truncation_cutoff
        self.fused_modconv = fused_modconv
        self.train_noise_mode = "random"

        # === State ===
        # Exponential moving average of the path lengths (loss.py `pl_mean`), the same on
        # every replica (the lengths are averaged over replicas before the update).
        self.pl_mean = keras.Variable(
            0.0, dtype="float32", trainable=False, aggregation="only_first_replica",
            name="pl_mean",
        )
        # training_loop.py `batch_idx`: selects the regularisation steps.
        self.batch_idx = keras.Variable(
            0, dtype="int64", trainable=False, aggregation="only_first_replica",
            name="batch_idx",
        )
        for name in _SG2_TRACKERS:
            self.trackers[name] = keras.metrics.Mean(name=name)
        self._synth_options = None
        # `tfdisgan.mixing.CrossMixTraining` (--cross_mix): G steps mix two classes' styles.
        self.cross_mix = None

        # Set by `compile`.
        self.pl_weight = 0.0
        self.pl_interval = None
        self.pl_batch_shrink = 2
        self.pl_decay = 0.01

    @property
    def num_ws(self):
        """Number of w vectors of the synthesis network."""
        return self.generator.num_ws

    def _image_shape(self):
        # Static: the base class would otherwise run a generator forward pass.
        res = self.generator.img_resolution
        return (None, res, res, self.generator.img_channels)

    def clone_generator(self, generator):
        """A new ``Generator`` from ``generator``'s config with all its weights copied,
        buffers (``w_avg``, ``noise_const``) included, as the official ``deepcopy``."""
        config = generator.get_config()
        config["name"] = f"{generator.name}_ema"
        clone = Generator.from_config(config)
        clone.build()
        src, dst = generator.weights, clone.weights
        if len(src) != len(dst) or any(
            tuple(a.shape) != tuple(b.shape) for a, b in zip(src, dst, strict=True)
        ):
            raise ValueError("The EMA clone does not have the generator's weights.")
        for a, b in zip(src, dst, strict=True):
            b.assign(a)
        return clone

    def compile(
        self,
        g_optimizer,
        d_optimizer,
        augment=None,
        r1_gamma=10.0,
        r1_interval=16,
        pl_weight=2.0,
        pl_interval=4,
        pl_batch_shrink=2,
        pl_decay=0.01,
        **kwargs,
    ):
        """Configures training (call inside the strategy scope).

        Args:
            g_optimizer, d_optimizer: ``keras.optimizers.Optimizer``; use ``lazy_adam``
                with the same intervals for the official behaviour.
            augment: None or an augment layer (see ``GAN.compile``).
            r1_gamma: float >= 0, R1 weight (0: off). Default 10.
            r1_interval: int >= 1 or None. R1 as a separate D step every this many steps,
                weighted by the interval; None adds it to every D step. Default 16.
            pl_weight: float >= 0, path-length weight (0: off). Default 2.
            pl_interval: int >= 1 or None, likewise for G. Default 4.
            pl_batch_shrink: int >= 1, the path-length batch is ``batch // shrink``.
                Default 2.
            pl_decay: float in [0, 1], decay of ``pl_mean``. Default 0.01.
            **kwargs: ``keras.Model.compile`` arguments.

        Raises:
            ValueError: a bad argument.
        """
        _check_int("r1_interval", r1_interval, 1, allow_none=True)
        _check_number("pl_weight", pl_weight, minimum=0)
        _check_int("pl_interval", pl_interval, 1, allow_none=True)
        _check_int("pl_batch_shrink", pl_batch_shrink, 1)
        _check_number("pl_decay", pl_decay, 0, 1)
        super().compile(
            g_optimizer,
            d_optimizer,
            augment=augment,
            r1_gamma=r1_gamma,
            r1_interval=1 if r1_interval is None else r1_interval,
            **kwargs,
        )
        self.r1_interval = r1_interval
        self.pl_weight = float(pl_weight)
        self.pl_interval = pl_interval
        self.pl_batch_shrink = int(pl_batch_shrink)
        self.pl_decay = float(pl_decay)

    @property
    def metrics(self):
        """Trackers: the GAN ones, plus ``pl_penalty`` and ``pl_mean`` when pl is on."""
        names = [n for n in _TRACKER_NAMES if n != "r1" or self.r1_gamma > 0]
        if self.pl_weight > 0:
            names += list(_SG2_TRACKERS)
        return [self.trackers[n] for n in names]

    # --------------------------------------------------------------------------------------
    # Generator forward (loss.py run_G)
    # --------------------------------------------------------------------------------------

    def _next_seed(self):
        return tf.cast(self.seed_generator.next(), tf.int64)

    def mix_styles(self, ws, labels):
        """Style mixing (loss.py ``run_G``): with probability ``style_mixing_prob`` the ws
        at layers ``>= cutoff`` (``cutoff`` uniform in ``[1, num_ws)``) come from a second
        latent, mapped without updating ``w_avg``. The draws are scalars shared by the
        batch and by all replicas.

        Args:
            ws: ``[B, num_ws, w_dim]``.
            labels: ``[B]`` or None.

        Returns:
            ``[B, num_ws, w_dim]``.
        """
        num_ws = self.num_ws
        z2 = self.sample_z(ops.shape(ws)[0])
        ws2 = self.generator.mapping(z2, labels, skip_w_avg_update=True, training=True)
        seeds = tf.random.experimental.stateless_split(self._next_seed(), 2)
        cutoff = tf.random.stateless_uniform(
            [], seeds[0], minval=1, maxval=max(num_ws, 2), dtype=tf.int32
        )
        mix = tf.random.stateless_uniform([], seeds[1]) < self.style_mixing_prob
        cutoff = tf.where(mix, cutoff, num_ws)
        from_second = ops.reshape(ops.arange(num_ws) >= cutoff, [1, num_ws, 1])
        return ops.where(from_second, ws2, ws)

    def generator_ws(self, z, labels, training=True):
        """Mapping plus style mixing (when training): ``z [B, z_dim]`` -> ws."""
        ws = self.generator.mapping(z, labels, training=training)
        if training and self.style_mixing_prob > 0:
            ws = self.mix_styles(ws, labels)
        return ws

    def run_generator(self, z, labels, training):
        """loss.py ``run_G``: mapping, style mixing when training, synthesis."""
        ws = self.generator_ws(z, labels, training=training)
        noise_mode = self.train_noise_mode if training else "random"
        return self.generator.synthesis(ws, noise_mode=noise_mode, training=training)

    # --------------------------------------------------------------------------------------
    # Path-length regularisation
    # --------------------------------------------------------------------------------------

    def _pl_inputs(self, batch, labels):
        rows = ops.maximum(batch // self.pl_batch_shrink, 1)
        z = self.sample_z(rows)
        # Every shrink-th label: global path-length row j then has global label row
        # j * shrink whatever the replica count (z rows are global too, `replica_rows`).
        if labels is not None:
            labels = labels[:: self.pl_batch_shrink][:rows]
        return rows, z, labels

    def _pl_noise(self, rows):
        """``N(0, I) / sqrt(H * W)`` for ``rows`` images, drawn for the global batch."""
        res, channels = self.generator.img_resolution, self.generator.img_channels
        shape = (res, res, channels)

        def draw(n):
            return tf.random.stateless_normal(tf.stack([n, *shape]), seed=self._next_seed())

        return self.replica_rows(draw, rows) / float(res)

    @staticmethod
    def _replica_mean(value):
        ctx = tf.distribute.get_replica_context()
        if ctx is None or ctx.num_replicas_in_sync == 1:
            return value
        return ctx.all_reduce(tf.distribute.ReduceOp.MEAN, value)

    def compute_pl_penalty(self, z, labels):
        """Path-length penalty per example (call inside a tape); updates ``pl_mean``.

        ``lengths = sqrt(mean_over_ws(sum_over_w_dim(g^2)))`` with ``g`` the gradient of
        ``sum(G(ws) * y)`` with respect to the (style-mixed) ws, ``y ~ N(0, I) / sqrt(H *
        W)``; ``pl_mean <- lerp(pl_mean, mean(lengths), pl_decay)`` (mean over all
        replicas); penalty ``(lengths - pl_mean)^2`` with the new ``pl_mean``, which, as in
        loss.py, is not detached inside the penalty.

        Returns:
            ``(penalty [B], lengths [B])``.
        """
        ws = self.generator_ws(z, labels, training=True)
        pl_noise = self._pl_noise(ops.shape(z)[0])
        lengths = path_lengths(
            lambda w: self.generator.synthesis(w, noise_mode=self.train_noise_mode, training=True),
            ws,
            pl_noise,
        )
        old = ops.convert_to_tensor(self.pl_mean)
        pl_mean = old + (self._replica_mean(ops.mean(lengths)) - old) * self.pl_decay
        self.pl_mean.assign(ops.stop_gradient(pl_mean))
        return ops.square(lengths - pl_mean), lengths

    # --------------------------------------------------------------------------------------
    # Training phases
    # --------------------------------------------------------------------------------------

    def apply_gradients(self, optimizer, grads, variables):
        """``nan_to_num`` on the gradients (NaN -> 0, +-inf -> +-1e5, as training_loop.py),
        then ``GAN.apply_gradients``. Skipped with a ``LossScaleOptimizer``, whose own
        non-finite check must see the infinities."""
        if not isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
            grads = [None if g is None else _nan_to_num(g) for g in grads]
        return super().apply_gradients(optimizer, grads, variables)

    def g_step(self, batch, labels, global_batch):
        """``Gmain`` (plus the path-length term when ``pl_interval`` is None: "Gboth")."""
        gb = ops.cast(global_batch, "float32")
        z = self.sample_z(batch)
        both = self.pl_weight > 0 and self.pl_interval is None
        if both:
            rows, pl_z, pl_labels = self._pl_inputs(batch, labels)
        with tf.GradientTape() as tape:
            if self.cross_mix is None:
                g_loss = self.compute_g_loss(z, labels)
            else:
                g_loss = self.cross_mix.g_loss(self, z, labels)
            loss = ops.sum(g_loss) / gb
            if both:
                penalty, _ = self.compute_pl_penalty(pl_z, pl_labels)
                pl_rows = ops.cast(rows * self.num_replicas(), "float32")
                loss = loss + ops.sum(penalty) * self.pl_weight / pl_rows
            scaled_loss = self.g_optimizer.scale_loss(loss)
        variables = self.g_train_variables()
        grads = tape.gradient(scaled_loss, variables)
        logs = {
            "g_loss": ops.mean(g_loss),
            "g_grad_norm": self.apply_gradients(self.g_optimizer, grads, variables),
        }
        if both:
            logs["pl_penalty"] = ops.mean(penalty)
        return logs

    def pl_step(self, batch, labels, global_batch):
        """``Greg``: one G step on the path-length penalty, weighted by ``pl_interval``."""
        del global_batch  # the penalty is averaged over the path-length batch
        rows, z, pl_labels = self._pl_inputs(batch, labels)
        with tf.GradientTape() as tape:
            penalty, _ = self.compute_pl_penalty(z, pl_labels)
            pl_rows = ops.cast(rows * self.num_replicas(), "float32")
            loss = ops.sum(penalty) * (self.pl_weight * self.pl_interval) / pl_rows
            scaled_loss = self.g_optimizer.scale_loss(loss)
        variables = self.g_train_variables()
        grads = tape.gradient(scaled_loss, variables)
        self.apply_gradients(self.g_optimizer, grads, variables)
        self.trackers["pl_penalty"].update_state(ops.mean(penalty))

    def d_step(self, reals, labels, global_batch):
        """``Dmain`` (plus R1 when ``r1_interval`` is None: "Dboth")."""
        batch = ops.shape(reals)[0]
        gb = ops.cast(global_batch, "float32")
        fakes = ops.stop_gradient(self.run_generator(self.sample_z(batch), labels, training=True))
        both = self.r1_gamma > 0 and self.r1_interval is None
        with tf.GradientTape() as tape:
            fake_logits = self.run_discriminator(
                self.augment_images(fakes, real=False), labels, training=True
            )
            if both:
                r1, real_logits = self.compute_r1(reals, labels)
            else:
                real_logits = self.run_discriminator(
                    self.augment_images(reals, real=True), labels, training=True
                )
            d_logistic = losses.d_logistic_loss(real_logits, fake_logits)
            loss = ops.sum(d_logistic) / gb
            if both:
                loss = loss + ops.sum(r1) * (self.r1_gamma / 2.0) / gb
            scaled_loss = self.d_optimizer.scale_loss(loss)
        self.accumulate_augment(real_logits)
        variables = self.d_train_variables()
        grads = tape.gradient(scaled_loss, variables)
        logs = {
            "d_loss": ops.mean(d_logistic),
            "d_real": ops.mean(real_logits),
            "d_fake": ops.mean(fake_logits),
            "d_grad_norm": self.apply_gradients(self.d_optimizer, grads, variables),
        }
        if both:
            logs["r1"] = ops.mean(r1)
        return logs

    def r1_step(self, reals, labels, global_batch):
        """``Dreg``: one D step on R1, ``r1_gamma / 2 * r1_interval * sum(r1) / batch``."""
        with tf.GradientTape() as tape:
            r1, real_logits = self.compute_r1(reals, labels)
            gain = self.r1_gamma / 2.0 * self.r1_interval
            loss = ops.sum(r1) * gain / ops.cast(global_batch, "float32")
            scaled_loss = self.d_optimizer.scale_loss(loss)
        variables = self.d_train_variables()
        grads = tape.gradient(scaled_loss, variables)
        self.apply_gradients(self.d_optimizer, grads, variables)
        self.accumulate_augment(real_logits)  # Dr1 reports Loss/signs/real too (loss.py)
        self.trackers["r1"].update_state(ops.mean(r1))

    def is_reg_step(self, interval):
        """Bool tensor: ``batch_idx % interval == 0`` (training_loop.py phase intervals)."""
        return ops.equal(self.batch_idx % interval, 0)

    @staticmethod
    def run_if(pred, fn, *args):
        """Runs ``fn(*args)`` (no return value) only where the scalar ``pred`` is true.

        Without a strategy, or with one that needs no ``merge_call`` for its
        synchronisation, this is a ``tf.cond``. Under ``MirroredStrategy`` a branch that
        synchronises (gradient all-reduce, optimizer step) may not sit in a replica-context
        cond, so the cond is taken in cross-replica context and the branch re-enters the
        replicas with ``call_for_each_replica``, as Keras' ``LossScaleOptimizer`` does.
        ``pred`` must be the same on every replica.
        """

        def branch():
            fn(*args)

        def skip():
            pass

        if not tf.distribute.has_strategy() or (
            tf.__internal__.distribute.strategy_supports_no_merge_call()
        ):
            tf.cond(pred, branch, skip)
            return

        def merge_fn(distribution, pred, *args):
            first = distribution.experimental_local_results(pred)[0]

            def replicas():
                distribution.extended.call_for_each_replica(fn, args=args)

            tf.cond(first, replicas, skip)

        tf.distribute.get_replica_context().merge_call(merge_fn, args=(pred, *args))

    def train_step(self, data):
        """One minibatch: Gmain, Greg (every ``pl_interval``), Dmain, Dreg (every
        ``r1_interval``), the G EMA, ``cur_nimg`` and ``batch_idx``.

        Args:
            data: ``images [B, H, W, C]`` in ``[-1, 1]`` or ``(images, labels [B])``, ``B``
                per replica (``drop_remainder=True``).

        Returns:
            Dict of tracker results (running means over the epoch; ``r1`` and
            ``pl_penalty`` over the steps that computed them).
        """
        reals, labels = self.unpack_data(data)
        batch = ops.shape(reals)[0]
        global_batch = batch * self.num_replicas()

        logs = self.g_step(batch, labels, global_batch)
        if self.pl_weight > 0 and self.pl_interval is not None:
            self.run_if(
                self.is_reg_step(self.pl_interval), self.pl_step, batch, labels, global_batch
            )
        logs.update(self.d_step(reals, labels, global_batch))
        if self.r1_gamma > 0 and self.r1_interval is not None:
            self.run_if(
                self.is_reg_step(self.r1_interval), self.r1_step, reals, labels, global_batch
            )
        # After every phase, as training_loop.py: Dreg still used the step's old p.
        self.adjust_augment(global_batch)
        self.update_ema(global_batch)
        self.cur_nimg.assign_add(ops.cast(global_batch, "int64"))
        self.batch_idx.assign_add(1)
        logs["aug_p"] = self._aug_p()
        if self.pl_weight > 0:
            logs["pl_mean"] = ops.convert_to_tensor(self.pl_mean)
        for name, value in logs.items():
            self.trackers[name].update_state(value)
        return self._format_logs({m.name: m.result() for m in self.metrics})

    # --------------------------------------------------------------------------------------
    # Generation
    # --------------------------------------------------------------------------------------

    def synthesize(
        self, z, labels=None, psi=1.0, use_ema=True, truncation_cutoff=None, noise_mode=None
    ):
        """Images in ``[-1, 1]`` (nominally) with truncation in W space.

        Args:
            z: ``[N, z_dim]``.
            labels: ``[N]`` int or None.
            psi: float, ``w <- lerp(w_avg, w, psi)`` (1: none, 0: the average image).
            use_ema: bool, use the EMA generator. Default True.
            truncation_cutoff: int or None, truncate only the first this many ws (None:
                the model's ``truncation_cutoff``, itself None = all).
            noise_mode: ``"const" | "random" | "none"``; None means ``"const"``
                (deterministic, as the official ``generate.py`` default).

        Returns:
            float32 ``[N, H, W, C]``.
        """
        overrides = self._synth_options or (None, None)
        if truncation_cutoff is None:
            truncation_cutoff = overrides[0]
        if truncation_cutoff is None:
            truncation_cutoff = self.truncation_cutoff
        noise_mode = noise_mode or overrides[1] or "const"
        _check_noise_mode(noise_mode)
        net = self.generator_ema if use_ema else self.generator
        z = ops.convert_to_tensor(z, "float32")
        if labels is not None:
            labels = ops.convert_to_tensor(labels, "int32")
        return net(
            self.generator_inputs(z, labels),
            psi=psi,
            truncation_cutoff=truncation_cutoff,
            noise_mode=noise_mode,
            training=False,
        )

    def generate(
        self,
        seeds=None,
        z=None,
        labels=None,
        psi=1.0,
        use_ema=True,
        batch_size=32,
        truncation_cutoff=None,
        noise_mode="const",
    ):
        """uint8 images ``[N, H, W, C]``; see ``GAN.generate``. ``psi`` truncates in W
        space (toward ``w_avg``), optionally only the first ``truncation_cutoff`` ws;
        ``noise_mode`` defaults to ``"const"`` (the same image for the same seed)."""
        _check_noise_mode(noise_mode)
        _check_int("truncation_cutoff", truncation_cutoff, 0, allow_none=True)
        self._synth_options = (truncation_cutoff, noise_mode)
        try:
            return super().generate(
                seeds=seeds, z=z, labels=labels, psi=psi, use_ema=use_ema,
                batch_size=batch_size,
            )
        finally:
            self._synth_options = None

    # --------------------------------------------------------------------------------------
    # Config
    # --------------------------------------------------------------------------------------

    @classmethod
    def from_preset(
        cls,
        name,
        resolution,
        num_classes=0,
        batch=None,
        num_gpus=1,
        augment=None,
        seed=None,
        **overrides,
    ):
        """Builds and compiles a model from a preset (call inside the strategy scope).

        Args:
            name, resolution, batch, num_gpus: see ``resolve_preset``.
            num_classes: int >= 0.
            augment: None or an augment layer.
            seed: int or None.
            **overrides: preset entries to replace (``r1_gamma=...``, ``channel_max=...``).

        Returns:
            ``(model, preset)``: the compiled ``StyleGAN2`` (optimizers from
            ``preset_optimizers``) and the resolved preset dict.
        """
        preset = resolve_preset(name, resolution, batch=batch, num_gpus=num_gpus)
        unknown = set(overrides) - set(preset)
        if unknown:
            raise ValueError(f"Unknown preset keys: {sorted(unknown)}. Valid: {sorted(preset)}")
        preset.update(overrides)
        model_kwargs, compile_kwargs = split_preset(preset)
        model = cls(**model_kwargs, num_classes=num_classes, seed=seed)
        model.compile(*preset_optimizers(preset), augment=augment, **compile_kwargs)
        return model, preset

    def get_config(self):
        return {
            "resolution": self.resolution,
            "z_dim": self.z_dim,
            "w_dim": self.w_dim,
            "num_classes": self.num_classes,
            "channel_base": self.channel_base,
            "channel_max": self.channel_max,
            "mapping_layers": self.mapping_layers,
            "mbstd_group_size": self.mbstd_group_size,
            "mbstd_num_channels": self.mbstd_num_channels,
            "conv_clamp": self.conv_clamp,
            "num_fp16_res": self.num_fp16_res,
            "half_dtype": self.half_dtype,
            "style_mixing_prob": self.style_mixing_prob,
            "truncation_cutoff": self.truncation_cutoff,
            "fused_modconv": self.fused_modconv,
            "ema_kimg": self.ema_kimg,
            "ema_rampup": self.ema_rampup,
            "seed": self.seed,
            "name": self.name,
        }


def _nan_to_num(grad):
    grad = tf.convert_to_tensor(grad)
    if not grad.dtype.is_floating:
        return grad
    grad = tf.where(tf.math.is_nan(grad), tf.zeros_like(grad), grad)
    big = tf.constant(1e5, grad.dtype)
    grad = tf.where(grad == np.inf, big, grad)
    return tf.where(grad == -np.inf, -big, grad)


__all__ = [
    "COMPILE_KEYS",
    "Discriminator",
    "DiscriminatorBlock",
    "DiscriminatorEpilogue",
    "Generator",
    "MODEL_KEYS",
    "MappingNetwork",
    "PRESETS",
    "StyleGAN2",
    "SynthesisBlock",
    "SynthesisNetwork",
    "lazy_adam",
    "normalize_2nd_moment",
    "path_lengths",
    "preset_optimizers",
    "resolve_preset",
    "split_preset",
]
