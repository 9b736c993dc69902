"""The StyleGAN2 synthesis network ``ws -> images``: one ``SynthesisBlock`` per resolution
(official ``SynthesisBlock`` / ``SynthesisNetwork``)."""

import keras
import numpy as np
from keras import ops

from tfdisgan._validate import (
    check_choice,
    check_int,
    check_noise_mode,
    check_number,
    check_resolution,
)
from tfdisgan.layers import EqualizedConv2D, ModulatedConv2D, ToRGB, setup_filter, upsample2d
from tfdisgan.models.stylegan2.common import (
    ARCHITECTURES,
    HALF_DTYPES,
    RESAMPLE_FILTER,
    SQRT_HALF,
    channels_dict,
)


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
        check_int("in_channels", in_channels, 0)
        check_choice("half_dtype", half_dtype, HALF_DTYPES)
        check_int("out_channels", out_channels, 1)
        check_choice("architecture", architecture, ARCHITECTURES)
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
        self.resample_filter = setup_filter(RESAMPLE_FILTER)
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
                y = self.skip(x, gain=SQRT_HALF)
                x = self.conv0(x, ws[:, next(w_iter)], noise_mode=noise_mode)
                x = self.conv1(x, ws[:, next(w_iter)], noise_mode=noise_mode, gain=SQRT_HALF)
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
        check_int("w_dim", w_dim, 1)
        check_resolution("img_resolution", img_resolution)
        check_int("img_channels", img_channels, 1)
        check_int("channel_base", channel_base, 1)
        check_int("channel_max", channel_max, 1)
        check_int("num_fp16_res", num_fp16_res, 0)
        check_number("conv_clamp", conv_clamp, minimum=0, allow_none=True)
        check_choice("architecture", architecture, ARCHITECTURES)
        check_choice("fused_modconv", fused_modconv, (None, True, False))
        check_choice("half_dtype", half_dtype, HALF_DTYPES)
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
        check_noise_mode(noise_mode)
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


__all__ = ["SynthesisBlock", "SynthesisNetwork"]
