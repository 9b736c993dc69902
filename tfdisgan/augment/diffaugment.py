"""Differentiable Augmentation (DiffAugment) for data-efficient GAN training.

The same random, differentiable transformation family is applied to real *and* generated
images before the discriminator sees them, so the generator receives gradients through the
augmentation and the augmentations do not leak into the generated distribution.

The three policies and their magnitudes follow the official implementation
(mit-han-lab/data-efficient-gans, ``DiffAugment_tf.py`` / ``DiffAugment_pytorch.py``):

- ``"color"``: brightness ``x + (u - 0.5)``; saturation ``(x - mean_c) * 2u + mean_c`` (mean
  over channels); contrast ``(x - mean_hwc) * (u + 0.5) + mean_hwc`` (mean over the whole
  image), ``u ~ U[0, 1)`` drawn once per sample for each of the three.
- ``"translation"``: integer shift ``t ~ U{-s, ..., s}`` per sample and axis, with
  ``s = int(size * translation_ratio + 0.5)``; ``out[i] = x[i + t]`` and zero where
  ``i + t`` falls outside the image.
- ``"cutout"``: a ``k x k`` square (``k = int(size * cutout_ratio + 0.5)`` per axis) is set to
  zero; its centre ``o ~ U{0, ..., size - k % 2}`` per sample and axis, covering rows
  ``o - k // 2 ... o - k // 2 + k - 1`` clipped to the image (so near a border only the
  part inside the image is cut, as in the official code).

The implementation is our own: the official code gathers from a zero-padded tensor and
scatters a cutout mask; here translation is one batched gather per axis followed by a
validity mask, and cutout is a mask built from range comparisons, which gives the same
result, has a static output shape and compiles under XLA.

Reference:
    Zhao, Liu, Lin, Zhu, Han. "Differentiable Augmentation for Data-Efficient GAN Training",
    NeurIPS 2020, https://arxiv.org/abs/2006.10738
"""

from __future__ import annotations

import keras
import tensorflow as tf

VALID_POLICIES = ("color", "translation", "cutout")

# Number of independent random streams each policy consumes (see `diff_augment`).
_STREAMS_PER_POLICY = {"color": 3, "translation": 2, "cutout": 2}


def parse_policy(policy) -> tuple[str, ...]:
    """Turns a policy string or sequence into a tuple of policy names.

    Args:
        policy: str, comma-separated names (``"color,translation"``), or a list/tuple of
            names. Whitespace and empty entries are ignored; ``""`` or ``[]`` means identity.

    Returns:
        Tuple of names, each one of ``VALID_POLICIES``, in application order.

    Raises:
        ValueError: if the policy has the wrong type or names an unknown augmentation.
    """
    if isinstance(policy, str):
        names = policy.split(",")
    elif isinstance(policy, (list, tuple)) and all(isinstance(p, str) for p in policy):
        names = list(policy)
    else:
        raise ValueError(
            "Argument `policy` must be a comma-separated string or a list of strings. "
            f"Received: policy={policy!r}"
        )
    names = tuple(n.strip().lower() for n in names if n.strip())
    unknown = [n for n in names if n not in VALID_POLICIES]
    if unknown:
        raise ValueError(
            f"Unknown DiffAugment policy {unknown} in policy={policy!r}. "
            f"Valid names: {list(VALID_POLICIES)}."
        )
    return names


def _scaled_size(size, ratio):
    """``int(size * ratio + 0.5)`` for a static (Python) or dynamic (tensor) size."""
    if isinstance(size, int):
        return int(size * ratio + 0.5)
    return tf.cast(tf.cast(size, tf.float32) * ratio + 0.5, tf.int32)


def _uniform(shape, seed, dtype):
    return tf.cast(tf.random.stateless_uniform(shape, seed=seed), dtype)


def _randint(shape, low, high, seed):
    """Integers uniform in ``[low, high)``, shape ``shape``."""
    return tf.random.stateless_uniform(shape, seed=seed, minval=low, maxval=high, dtype=tf.int32)


def _dims(images):
    """(batch, height, width), each a Python int when static, else a scalar tensor."""
    static = images.shape
    dynamic = tf.shape(images)
    return tuple(static[i] if static[i] is not None else dynamic[i] for i in range(3))


def rand_color(images, seeds):
    """Random brightness, saturation and contrast, one magnitude per sample each.

    Args:
        images: float tensor ``[B, H, W, C]``, nominally in ``[-1, 1]``.
        seeds: int32 tensor ``[3, 2]`` of stateless seeds.

    Returns:
        Tensor of the same shape and dtype.
    """
    batch = _dims(images)[0]
    shape = [batch, 1, 1, 1]
    x = images + (_uniform(shape, seeds[0], images.dtype) - 0.5)
    mean = tf.reduce_mean(x, axis=3, keepdims=True)
    x = (x - mean) * (_uniform(shape, seeds[1], images.dtype) * 2.0) + mean
    mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
    x = (x - mean) * (_uniform(shape, seeds[2], images.dtype) + 0.5) + mean
    return x


def _shift_axis(images, offsets, size, axis):
    """``out[..., i, ...] = images[..., i + offsets[b], ...]`` along ``axis`` (1 or 2).

    Returns the gathered tensor (indices clipped into range) and a ``[B, size]`` boolean
    mask that is False where ``i + offset`` fell outside the image.
    """
    index = tf.range(size, dtype=tf.int32)[tf.newaxis, :] + offsets[:, tf.newaxis]
    valid = tf.logical_and(index >= 0, index < size)
    gathered = tf.gather(images, tf.clip_by_value(index, 0, size - 1), axis=axis, batch_dims=1)
    return gathered, valid


def rand_translation(images, seeds, ratio=0.125):
    """Random integer translation with zero fill, per sample.

    Args:
        images: float tensor ``[B, H, W, C]``.
        seeds: int32 tensor ``[2, 2]`` of stateless seeds (height, width).
        ratio: float, maximum shift as a fraction of the side, rounded as
            ``int(size * ratio + 0.5)``.

    Returns:
        Tensor of the same shape and dtype.
    """
    batch, height, width = _dims(images)
    shift_h = _scaled_size(height, ratio)
    shift_w = _scaled_size(width, ratio)
    dy = _randint([batch], -shift_h, shift_h + 1, seeds[0])
    dx = _randint([batch], -shift_w, shift_w + 1, seeds[1])
    x, valid_h = _shift_axis(images, dy, height, axis=1)
    x, valid_w = _shift_axis(x, dx, width, axis=2)
    valid = tf.logical_and(valid_h[:, :, tf.newaxis], valid_w[:, tf.newaxis, :])
    return x * tf.cast(valid, x.dtype)[..., tf.newaxis]


def rand_cutout(images, seeds, ratio=0.5):
    """Zeroes one random square per sample (clipped at the image border).

    Args:
        images: float tensor ``[B, H, W, C]``.
        seeds: int32 tensor ``[2, 2]`` of stateless seeds (height, width).
        ratio: float, side of the square as a fraction of the image side, rounded as
            ``int(size * ratio + 0.5)``.

    Returns:
        Tensor of the same shape and dtype.
    """
    batch, height, width = _dims(images)
    size_h = _scaled_size(height, ratio)
    size_w = _scaled_size(width, ratio)
    # Centre drawn from [0, size - k % 2], as in the official code.
    top = _randint([batch], 0, height + 1 - size_h % 2, seeds[0]) - size_h // 2
    left = _randint([batch], 0, width + 1 - size_w % 2, seeds[1]) - size_w // 2
    rows = tf.range(height, dtype=tf.int32)[tf.newaxis, :]
    cols = tf.range(width, dtype=tf.int32)[tf.newaxis, :]
    in_rows = tf.logical_and(rows >= top[:, tf.newaxis], rows < (top + size_h)[:, tf.newaxis])
    in_cols = tf.logical_and(cols >= left[:, tf.newaxis], cols < (left + size_w)[:, tf.newaxis])
    cut = tf.logical_and(in_rows[:, :, tf.newaxis], in_cols[:, tf.newaxis, :])
    return images * tf.cast(tf.logical_not(cut), images.dtype)[..., tf.newaxis]


def diff_augment(
    images,
    policy="color,translation,cutout",
    seed=0,
    translation_ratio=0.125,
    cutout_ratio=0.5,
):
    """Stateless functional DiffAugment: the same ``seed`` always gives the same result.

    Args:
        images: float tensor ``[B, H, W, C]`` (NHWC), nominally in ``[-1, 1]``; any channel
            count, non-square allowed, batch may be dynamic.
        policy: str or list of str, policies from ``("color", "translation", "cutout")``
            applied in order. Default ``"color,translation,cutout"``; ``""`` is identity.
        seed: int, or int tensor of shape ``[2]`` (a stateless seed).
        translation_ratio: float, maximum translation as a fraction of the side. Default 0.125.
        cutout_ratio: float, cutout side as a fraction of the image side. Default 0.5.

    Returns:
        Tensor ``[B, H, W, C]`` of the same dtype, differentiable w.r.t. ``images``.

    Raises:
        ValueError: on an unknown policy name.

    Example:
        >>> x = tf.random.uniform([4, 16, 16, 3], -1.0, 1.0)
        >>> y = diff_augment(x, "color,translation", seed=[1, 2])
    """
    names = parse_policy(policy)
    images = tf.convert_to_tensor(images)
    if not names:
        return images
    if isinstance(seed, int):
        seed = [seed, 0]
    seed = tf.cast(seed, tf.int32)
    streams = sum(_STREAMS_PER_POLICY[n] for n in names)
    seeds = tf.random.experimental.stateless_split(seed, num=streams)
    x = images
    used = 0
    for name in names:
        take = _STREAMS_PER_POLICY[name]
        op_seeds = seeds[used : used + take]
        used += take
        if name == "color":
            x = rand_color(x, op_seeds)
        elif name == "translation":
            x = rand_translation(x, op_seeds, translation_ratio)
        else:
            x = rand_cutout(x, op_seeds, cutout_ratio)
    return x


def _check_ratio(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(
            f"Argument `{name}` must be a number in [0, 1]. Received: {name}={value!r}"
        )


@keras.saving.register_keras_serializable(package="tfdisgan")
class DiffAugment(keras.layers.Layer):
    """Differentiable augmentation applied to both real and generated images.

    Randomness is per sample and comes from a ``keras.random.SeedGenerator`` whose state is a
    variable (so checkpoints hold it). Each call draws one seed from it; under a
    ``tf.distribute`` strategy the replica id is folded in, so replicas augment differently.
    Works eagerly, in ``tf.function`` with a dynamic batch, under ``jit_compile=True`` and
    under ``MirroredStrategy``.

    Args:
        policy: str or list of str. Comma-separated subset of ``"color"``, ``"translation"``,
            ``"cutout"``, applied in order. Default ``"color,translation,cutout"``; ``""`` is
            the identity.
        translation_ratio: float in [0, 1], maximum shift as a fraction of the image side.
            Default 0.125 (official value).
        cutout_ratio: float in [0, 1], cutout side as a fraction of the image side.
            Default 0.5 (official value).
        seed: int or None, initial state of the seed generator. Default None (random).
        **kwargs: standard ``keras.layers.Layer`` arguments (``name``, ``dtype``, ...).

    Input shape:
        ``[B, H, W, C]`` float images (NHWC), nominally in ``[-1, 1]``.

    Output shape:
        Same as the input; same dtype. Identity when ``training=False``.

    Raises:
        ValueError: on an unknown policy name, a ratio outside [0, 1] or a non-int seed.

    Example:
        >>> aug = DiffAugment("color,translation,cutout", seed=1)
        >>> y = aug(tf.random.uniform([8, 32, 32, 3], -1.0, 1.0))

    Reference:
        Zhao et al., "Differentiable Augmentation for Data-Efficient GAN Training",
        NeurIPS 2020, https://arxiv.org/abs/2006.10738
    """

    # The GAN model applies the layer to generated images as well.
    reals_only = False

    def __init__(
        self,
        policy="color,translation,cutout",
        translation_ratio=0.125,
        cutout_ratio=0.5,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self._names = parse_policy(policy)
        _check_ratio("translation_ratio", translation_ratio)
        _check_ratio("cutout_ratio", cutout_ratio)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(f"Argument `seed` must be an int or None. Received: seed={seed!r}")
        self.policy = list(policy) if isinstance(policy, tuple) else policy
        self.translation_ratio = translation_ratio
        self.cutout_ratio = cutout_ratio
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.built = True

    def _draw_seed(self):
        state = self.seed_generator.next()
        # Same reduction Keras applies before its own stateless ops (int64 state -> int32).
        seed = tf.cast(tf.math.floormod(state, tf.int32.max - 1), tf.int32)
        replica = tf.distribute.get_replica_context()
        if replica is not None and replica.num_replicas_in_sync > 1:
            seed = tf.random.experimental.stateless_fold_in(
                seed, tf.cast(replica.replica_id_in_sync_group, tf.int32)
            )
        return seed

    def call(self, images, training=True):
        if not training or not self._names:
            return images
        return diff_augment(
            images,
            self._names,
            seed=self._draw_seed(),
            translation_ratio=self.translation_ratio,
            cutout_ratio=self.cutout_ratio,
        )

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "policy": self.policy if isinstance(self.policy, str) else list(self.policy),
                "translation_ratio": self.translation_ratio,
                "cutout_ratio": self.cutout_ratio,
                "seed": self.seed,
            }
        )
        return config
