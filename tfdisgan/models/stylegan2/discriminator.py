"""The StyleGAN2 discriminator: residual blocks, the 4x4 epilogue and projection
conditioning (official ``DiscriminatorBlock``, ``DiscriminatorEpilogue``,
``Discriminator``)."""

import math

import keras
import numpy as np
from keras import ops

from tfdisgan._validate import check_choice, check_int, check_number, check_resolution
from tfdisgan.layers import (
    EqualizedConv2D,
    EqualizedDense,
    MinibatchStdDev,
    downsample2d,
    setup_filter,
)
from tfdisgan.models.stylegan2.common import (
    ARCHITECTURES,
    HALF_DTYPES,
    RESAMPLE_FILTER,
    SQRT_HALF,
    channels_dict,
    symbolic,
)
from tfdisgan.models.stylegan2.mapping_network import MappingNetwork


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
        check_choice("architecture", architecture, ARCHITECTURES)
        check_choice("half_dtype", half_dtype, HALF_DTYPES)
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
        self.resample_filter = setup_filter(RESAMPLE_FILTER)

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
            y = self.skip(x, gain=SQRT_HALF)
            x = self.conv0(x)
            x = y + self.conv1(x, gain=SQRT_HALF)
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
        check_choice("architecture", architecture, ARCHITECTURES)
        check_int("mbstd_group_size", mbstd_group_size, 1, allow_none=True)
        check_int("mbstd_num_channels", mbstd_num_channels, 0)
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
        check_int("c_dim", c_dim, 0)
        check_choice("half_dtype", half_dtype, HALF_DTYPES)
        check_resolution("img_resolution", img_resolution)
        check_int("img_channels", img_channels, 1)
        check_choice("architecture", architecture, ARCHITECTURES)
        check_int("channel_base", channel_base, 1)
        check_int("channel_max", channel_max, 1)
        check_int("num_fp16_res", num_fp16_res, 0)
        check_number("conv_clamp", conv_clamp, minimum=0, allow_none=True)
        check_int("cmap_dim", cmap_dim, 1, allow_none=True)
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
        images = symbolic((None, res, res, self.img_channels))
        inputs = [images, symbolic((None,), "int32")] if self.c_dim > 0 else images
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


__all__ = ["Discriminator", "DiscriminatorBlock", "DiscriminatorEpilogue"]
