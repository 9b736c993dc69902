"""Adaptive discriminator augmentation (ADA): the ``AdaptiveAugment`` layer and its ``p``.

The layer runs the stylegan2-ada pipeline of `tfdisgan.augment.ada_ops` (``ada_augment``,
the ``bgc`` transformations each applied with probability ``p``) on every image the
discriminator sees, and adapts ``p`` during training from the discriminator's overfitting
heuristic ``r_t = E[sign(D(reals))]`` (``accumulate`` and ``adjust``, or ``update``), as
stylegan2-ada-pytorch ``training/training_loop.py`` does.

Reference:
    Karras, Aittala, Hellsten, Laine, Lehtinen, Aila. "Training Generative Adversarial
    Networks with Limited Data", NeurIPS 2020, https://arxiv.org/abs/2006.06676
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf

from tfdisgan._validate import is_int, is_number
from tfdisgan.augment.ada_ops import ada_augment, parse_pipeline
from tfdisgan.augment.diffaugment import parse_policy


def _check_range(name, value, low, high, allow_none=False, low_open=False):
    if allow_none and value is None:
        return
    ok = is_number(value) and math.isfinite(value) and value <= high
    ok = ok and (value > low if low_open else value >= low)
    if not ok:
        bracket = "(" if low_open else "["
        raise ValueError(
            f"Argument `{name}` must be a number in {bracket}{low}, {high}]"
            f"{' or None' if allow_none else ''}. Received: {name}={value!r}"
        )


@keras.saving.register_keras_serializable(package="tfdisgan")
class AdaptiveAugment(keras.layers.Layer):
    """ADA: the stylegan2-ada augmentation pipeline with an adaptive probability ``p``.

    Applied to real and generated images alike (``reals_only = False``), differentiable
    w.r.t. the images. ``p`` is a non-trainable float32 variable; the GAN calls
    ``accumulate(real_logits)`` with D's logits on every pass over augmented reals (main D
    step and R1 step) and ``adjust(batch)`` once at the end of each step, which every
    ``interval`` steps moves ``p`` by
    ``sign(r_t - target) * (batch * interval) / (ada_kimg * 1000)``, clipped to [0, 1],
    where ``r_t`` is the mean sign since the last adjustment (stylegan2-ada
    ``training_loop.py``; the official code only clips at 0, but ``p > 1`` behaves as
    ``p = 1``). Under a ``tf.distribute`` strategy the signs and counts are summed over the
    replicas, so every replica sees the global ``r_t`` and sets the same ``p``. ``p``, the
    accumulators and the random state are variables, saved by ``tf.train.Checkpoint``
    (the random state through the GAN model, see ``models/seeds.py``).

    Args:
        pipeline: str or list of str, a preset (``"blit"``, ``"geom"``, ``"color"``,
            ``"bg"``, ``"bgc"``) or transformation names from ``TRANSFORMS``.
            Default ``"bgc"`` (official default).
        p: float in [0, 1], initial probability. Default 0.0.
        target: float in [0, 1] or None, the ``r_t`` target; None keeps ``p`` fixed.
            Default 0.6.
        ada_kimg: float > 0, thousands of images for ``p`` to move by 1. Default 500.
        interval: int >= 1, steps between adjustments (``ada_interval``). Default 4.
        xint_max, scale_std, rotate_max, aniso_std, xfrac_std, brightness_std,
            contrast_std, hue_max, saturation_std: floats >= 0, strengths (official
            defaults 0.125, 0.2, 1, 0.2, 0.125, 0.2, 0.5, 1, 1).
        diffaugment: str, DiffAugment policy applied to every image before the pipeline
            ("DiffAugment + ADA", in the DiffAugment fork's order). Default ``""`` (none).
        reals_only: bool, augment only the reals of the D step, as the leaky "classic"
            baseline does (``--augment=rot90``: quarter turns of the reals at probability
            ``p``, to measure the leak against ``p``). Default False (reals and fakes,
            as ADA).
        seed: int or None, initial state of the seed generator. Default None (random).
        **kwargs: standard ``keras.layers.Layer`` arguments.

    Input shape:
        ``[B, H, W, C]`` float images, nominally in ``[-1, 1]``; static ``H``, ``W``;
        ``C`` is 3 or 1 when colour transformations are enabled.

    Output shape:
        Same as the input; same dtype. Identity when ``training=False``.

    Raises:
        ValueError: on a bad argument, naming the received value.

    Example:
        >>> ada = AdaptiveAugment(p=0.0, target=0.6, seed=0)
        >>> gan.compile(g_optimizer=g_opt, d_optimizer=d_opt,
                        augment=ada)  # the GAN calls accumulate and adjust

    Reference:
        Karras et al., "Training Generative Adversarial Networks with Limited Data",
        NeurIPS 2020, https://arxiv.org/abs/2006.06676
    """

    # The GAN model applies the layer to generated images as well.
    reals_only = False

    def __init__(
        self,
        pipeline="bgc",
        p=0.0,
        target=0.6,
        ada_kimg=500.0,
        interval=4,
        xint_max=0.125,
        scale_std=0.2,
        rotate_max=1.0,
        aniso_std=0.2,
        xfrac_std=0.125,
        brightness_std=0.2,
        contrast_std=0.5,
        hue_max=1.0,
        saturation_std=1.0,
        diffaugment="",
        seed=None,
        reals_only=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self._names = parse_pipeline(pipeline)
        self._policy = parse_policy(diffaugment)
        _check_range("p", p, 0, 1)
        _check_range("target", target, 0, 1, allow_none=True)
        _check_range("ada_kimg", ada_kimg, 0, math.inf, low_open=True)
        if not is_int(interval) or interval < 1:
            raise ValueError(f"Argument `interval` must be an int >= 1. Received: "
                             f"interval={interval!r}")
        strengths = dict(
            xint_max=xint_max, scale_std=scale_std, rotate_max=rotate_max,
            aniso_std=aniso_std, xfrac_std=xfrac_std, brightness_std=brightness_std,
            contrast_std=contrast_std, hue_max=hue_max, saturation_std=saturation_std,
        )
        for name, value in strengths.items():
            _check_range(name, value, 0, math.inf)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(f"Argument `seed` must be an int or None. Received: seed={seed!r}")

        # === Config ===
        self.pipeline = list(pipeline) if isinstance(pipeline, tuple) else pipeline
        self.initial_p = float(p)
        self.target = None if target is None else float(target)
        self.ada_kimg = float(ada_kimg)
        self.interval = int(interval)
        self.strengths = {k: float(v) for k, v in strengths.items()}
        self.diffaugment = diffaugment
        self.seed = seed
        self.reals_only = bool(reals_only)

        # === State ===
        self.seed_generator = keras.random.SeedGenerator(seed)
        # Every replica computes the same values (all-reduced statistics), so the first
        # replica's write is the right one; "only_first_replica" also allows the writes
        # from replica context without a merge call.
        state = dict(trainable=False, autocast=False, aggregation="only_first_replica")
        self.p = self.add_weight(
            shape=(), initializer=keras.initializers.Constant(self.initial_p),
            dtype="float32", name="p", **state,
        )
        self.sign_sum = self.add_weight(
            shape=(), initializer="zeros", dtype="float32", name="sign_sum", **state
        )
        self.sign_count = self.add_weight(
            shape=(), initializer="zeros", dtype="float32", name="sign_count", **state
        )
        self.rt = self.add_weight(shape=(), initializer="zeros", dtype="float32", name="rt",
                                  **state)
        self.ada_step = self.add_weight(shape=(), initializer="zeros", dtype="int64",
                                        name="ada_step", **state)
        self.built = True

    @property
    def adaptive(self):
        """Whether ``update`` adapts ``p`` (``target`` is not None)."""
        return self.target is not None

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
        if not training or (not self._names and not self._policy):
            return images
        return ada_augment(
            images,
            tf.convert_to_tensor(self.p),
            self._draw_seed(),
            self._names,
            self.strengths,
            self._policy,
        )

    def accumulate(self, real_logits, weight=None):
        """Adds the signs of D's logits on augmented reals to the running ``r_t`` sums.

        Call it for every D pass over reals: the main D step and the R1 step alike, as
        stylegan2-ada's ``Loss/signs/real`` collects both (``loss.py``, Dmain and Dr1). In
        replica context (or without a strategy) the sums are reduced over the replicas.
        No-op when ``target`` is None.

        Args:
            real_logits: float tensor ``[B]`` or ``[B, 1]`` (this replica's rows).
            weight: None or a float scalar tensor (0 or 1) multiplying the contribution,
                for a pass that runs only on some steps.
        """
        if not self.adaptive:
            return
        logits = tf.reshape(tf.cast(real_logits, tf.float32), [-1])
        stats = tf.stack([tf.reduce_sum(tf.sign(logits)), tf.cast(tf.size(logits), tf.float32)])
        if weight is not None:
            stats = stats * tf.cast(weight, tf.float32)
        ctx = tf.distribute.get_replica_context()
        if ctx is not None and ctx.num_replicas_in_sync > 1:
            stats = ctx.all_reduce(tf.distribute.ReduceOp.SUM, stats)
        self.sign_sum.assign_add(stats[0])
        self.sign_count.assign_add(stats[1])

    def adjust(self, batch_size):
        """Ends a training step: every ``interval``-th call moves ``p`` from the signs
        accumulated since the last adjustment (stylegan2-ada ``training_loop.py``: after
        the step's phases, ``batch_idx % ada_interval == 0``; the first call adjusts).

        Args:
            batch_size: the global batch (int or scalar tensor); ``p`` moves by
                ``sign(r_t - target) * batch_size * interval / (ada_kimg * 1000)``.

        Returns:
            The new ``p`` (float32 scalar tensor).
        """
        if not self.adaptive:
            return tf.convert_to_tensor(self.p)
        signs = tf.convert_to_tensor(self.sign_sum)
        count = tf.convert_to_tensor(self.sign_count)
        adjust_now = tf.equal(tf.math.floormod(tf.convert_to_tensor(self.ada_step),
                                               self.interval), 0)
        rt = signs / tf.maximum(count, 1.0)
        batch = tf.cast(batch_size, tf.float32)
        adjust = tf.sign(rt - self.target) * batch * self.interval / (self.ada_kimg * 1000)
        p_old = tf.convert_to_tensor(self.p)
        p_new = tf.where(adjust_now, tf.clip_by_value(p_old + adjust, 0.0, 1.0), p_old)
        # Unconditional writes (tf.where, not tf.cond): a replica-context cond may not hold
        # writes to distributed variables.
        self.p.assign(p_new)
        self.rt.assign(tf.where(adjust_now, rt, tf.convert_to_tensor(self.rt)))
        self.sign_sum.assign(tf.where(adjust_now, 0.0, signs))
        self.sign_count.assign(tf.where(adjust_now, 0.0, count))
        self.ada_step.assign_add(1)
        return p_new

    def update(self, real_logits):
        """``accumulate(real_logits)`` then ``adjust`` with these logits' global count as
        the batch: one D pass over reals per step (the GAN models call ``accumulate`` per
        pass and ``adjust`` once per step instead).

        Returns:
            The new ``p`` (float32 scalar tensor).
        """
        if not self.adaptive:
            return tf.convert_to_tensor(self.p)
        count = tf.cast(tf.size(real_logits), tf.float32)
        ctx = tf.distribute.get_replica_context()
        if ctx is not None and ctx.num_replicas_in_sync > 1:
            count = count * ctx.num_replicas_in_sync
        self.accumulate(real_logits)
        return self.adjust(count)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            pipeline=self.pipeline,
            p=self.initial_p,
            target=self.target,
            ada_kimg=self.ada_kimg,
            interval=self.interval,
            diffaugment=self.diffaugment,
            seed=self.seed,
            **self.strengths,
        )
        if self.reals_only:
            config["reals_only"] = True
        return config
