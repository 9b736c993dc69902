"""Minibatch standard deviation: lets the discriminator see the diversity of a batch.

The official ``MinibatchStdLayer`` of stylegan2-ada-pytorch (``training/networks.py``) in
NHWC. The batch of ``N`` is split into ``n = N / G`` groups of ``G = min(group_size, N)``
samples, where sample ``i`` belongs to group ``i % n`` (the official reshape puts the
group index on the fast axis), and the ``C`` channels into ``num_channels`` groups of
``c = C / num_channels``. For every group, the standard deviation over its ``G`` samples
(``sqrt(var + 1e-8)``, biased variance) is averaged over the ``c`` channels and all
pixels, and appended to each of its samples as ``num_channels`` constant feature maps.

Reference:
    Karras et al., "Progressive Growing of GANs for Improved Quality, Stability, and
    Variation", ICLR 2018, section 3.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfdisgan._validate import is_int


@keras.saving.register_keras_serializable(package="tfdisgan")
class MinibatchStdDev(keras.layers.Layer):
    """Appends per-group minibatch standard deviation features (NHWC).

    Args:
        group_size: samples per group ``G``; the group is ``min(group_size, N)`` and the
            batch size must be divisible by it. None uses the whole batch. Default 4.
        num_channels: number of appended feature maps ``F``; the input channels must be
            divisible by it. Default 1.
        **kwargs: `keras.layers.Layer` arguments.

    Input shape ``[N, H, W, C]``; output shape ``[N, H, W, C + num_channels]``.

    Raises:
        ValueError: for bad arguments, channels not divisible by ``num_channels``, or a
            static batch size not divisible by the group size.

    Example:
        >>> MinibatchStdDev()(tf.random.normal([8, 4, 4, 32])).shape
        TensorShape([8, 4, 4, 33])
    """

    def __init__(self, group_size=4, num_channels=1, **kwargs):
        super().__init__(**kwargs)
        if group_size is not None and (not is_int(group_size) or group_size < 1):
            raise ValueError(
                f"`group_size` must be None or a positive int. Received: group_size={group_size}"
            )
        if not is_int(num_channels) or num_channels < 1:
            raise ValueError(
                f"`num_channels` must be a positive int. Received: num_channels={num_channels}"
            )
        self.group_size = None if group_size is None else int(group_size)
        self.num_channels = int(num_channels)

    def build(self, input_shape):
        channels = input_shape[-1]
        if len(input_shape) != 4:
            raise ValueError(f"Inputs must be NHWC. Received: input_shape={input_shape}")
        if channels is not None and channels % self.num_channels:
            raise ValueError(
                f"The channels ({channels}) must be divisible by num_channels="
                f"{self.num_channels}. Received: input_shape={input_shape}"
            )
        self._check_batch(input_shape[0])

    def _check_batch(self, batch_size):
        if batch_size is None or self.group_size is None:
            return
        group = min(self.group_size, batch_size)
        if batch_size % group:
            raise ValueError(
                f"The batch size ({batch_size}) must be divisible by the group size "
                f"min(group_size={self.group_size}, {batch_size}) = {group}."
            )

    def call(self, x):
        self._check_batch(x.shape[0])
        shape = tf.shape(x)
        n, h, w = shape[0], shape[1], shape[2]
        c = x.shape[3]
        f = self.num_channels
        g = n if self.group_size is None else tf.minimum(self.group_size, n)
        dtype = x.dtype
        y = tf.cast(x, tf.float32) if dtype in (tf.float16, tf.bfloat16) else x
        y = tf.reshape(y, [g, -1, h, w, f, c // f])  # [G, n, H, W, F, c]
        y = y - tf.reduce_mean(y, axis=0)
        y = tf.reduce_mean(tf.square(y), axis=0)  # [n, H, W, F, c]
        y = tf.sqrt(y + 1e-8)
        y = tf.reduce_mean(y, axis=[1, 2, 4])  # [n, F]
        y = tf.reshape(y, [-1, 1, 1, f])
        y = tf.tile(y, [g, h, w, 1])  # [N, H, W, F]
        return tf.concat([x, tf.cast(y, dtype)], axis=-1)

    def compute_output_shape(self, input_shape):
        channels = input_shape[-1]
        return tuple(input_shape[:-1]) + (
            None if channels is None else channels + self.num_channels,
        )

    def get_config(self):
        config = super().get_config()
        config.update(group_size=self.group_size, num_channels=self.num_channels)
        return config
