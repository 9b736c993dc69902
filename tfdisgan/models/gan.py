"""GAN base model: the adversarial training step shared by DCGAN and StyleGAN2.

The model owns a generator, a discriminator and an exponential moving average (EMA) copy of
the generator, and trains them with the non-saturating logistic loss, optional (lazy) R1
regularisation and an optional augmentation layer, following the Keras 3 GAN guide
(keras-io ``guides/custom_train_step_in_tensorflow.py``) for the Keras plumbing and
stylegan2-ada-pytorch (``training/loss.py``, ``training/training_loop.py``) for the maths.

Distribution: every quantity that must not depend on the number of replicas is computed for
the *global* batch. Per-replica losses are ``sum(per-example loss) / global_batch`` because
Keras sums gradients across replicas; latents are drawn for the whole global batch from one
seed state and each replica keeps its own rows, so one replica with batch ``B`` and two
replicas with ``B / 2`` each see exactly the same ``z`` (batch-coupled layers such as batch
norm or minibatch-stddev still see only their replica's rows; batch norm's moving statistics
are averaged over the replicas every step, ``sync_buffers``). Optimizers must be built
inside the strategy scope before ``fit`` (``compile`` does it; see DESIGN.md, "Pitfalls").

Exact resume: ``tf.train.Checkpoint(model=gan, g_optimizer=..., d_optimizer=...)`` holds
G, D, G_ema, the optimizer slots, ``cur_nimg`` and the state of every
``keras.random.SeedGenerator`` reachable from the model (its own and the augment layer's),
which Keras layers do not expose to TensorFlow checkpoints by themselves.
"""

import contextlib

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from tfdisgan import losses
from tfdisgan._validate import check_psi, is_int, is_number

TRACKER_NAMES = (
    "d_loss",
    "g_loss",
    "d_real",
    "d_fake",
    "d_grad_norm",
    "g_grad_norm",
    "aug_p",
    "r1",
)


MAX_SEED = 2**32


def seeds_to_z(seeds, z_dim):
    """Latents for integer seeds: row ``i`` is a pure function of ``(seeds[i], z_dim)``.

    ``z_i = tf.random.stateless_normal([z_dim], seed=[seeds[i], 0], alg="philox")``: plain
    TensorFlow ops, so an exported SavedModel reproduces ``GAN.generate(seeds=...)`` in-graph
    without tfdisgan, and a row does not depend on the other seeds of the batch. (The
    official ``generate.py`` draws ``np.random.RandomState(seed).randn(z_dim)``, which cannot
    be run inside a graph.) The algorithm is pinned to Philox: "auto_select" may pick a
    different one per device.

    Args:
        seeds: int tensor or array ``[N]`` (int64 accepted), each in ``[0, 2**32)``.
        z_dim: int > 0.

    Returns:
        float32 tensor ``[N, z_dim]``.

    Example:
        >>> seeds_to_z([0, 1], 512).shape
        TensorShape([2, 512])
    """
    seeds = tf.cast(tf.reshape(tf.convert_to_tensor(seeds), [-1]), tf.int64)
    return _seeds_to_z(seeds, int(z_dim))


@tf.function(autograph=False, reduce_retracing=True)
def _seeds_to_z(seeds, z_dim):
    # A graph: an eager `map_fn` dispatches every row's ops one by one (minutes for 10k).
    def draw(seed):
        return tf.random.stateless_normal(
            [z_dim], seed=tf.stack([seed, tf.zeros([], tf.int64)]), alg="philox"
        )

    return tf.map_fn(draw, seeds, fn_output_signature=tf.TensorSpec([z_dim], tf.float32),
                     parallel_iterations=64)


class GAN(keras.Model):
    """Adversarial training of a generator and a discriminator, with a generator EMA.

    The generator maps ``[z, labels]`` (or ``z`` when unconditional) to images NHWC in
    ``[-1, 1]``; the discriminator maps ``[images, labels]`` (or ``images``) to logits
    ``[B, 1]`` or ``[B]``. Labels are int class indices ``[B]``.

    Each ``train_step`` runs one discriminator step (non-saturating logistic loss, optional
    R1 on reals every ``r1_interval`` steps), one generator step with fresh latents, the EMA
    update and the ``cur_nimg`` increment. Subclasses change pieces by overriding the hooks
    ``sample_z``, ``generator_inputs``, ``run_generator``, ``run_discriminator``,
    ``augment_images``, ``compute_r1``, ``compute_g_loss``, ``d_step``, ``g_step``,
    ``update_ema`` and ``synthesize``.

    Args:
        generator: ``keras.Model``, ``[z [B, z_dim], labels [B] int]`` -> images
            ``[B, H, W, C]`` in ``[-1, 1]`` (``z`` only when ``num_classes == 0``).
        discriminator: ``keras.Model``, ``[images, labels]`` (or ``images``) -> logits
            ``[B, 1]`` or ``[B]``.
        z_dim: int > 0, latent size.
        num_classes: int >= 0, number of classes; 0 means unconditional. Default 0.
        ema_kimg: float >= 0, EMA half-life in thousands of images (0 copies G every step).
            Default 10.0.
        ema_rampup: float >= 0 or None; when set, the half-life is capped at
            ``cur_nimg * ema_rampup`` (0.05 in stylegan2-ada). Default None.
        seed: int or None, seed of the model's ``keras.random.SeedGenerator`` (latents).
        **kwargs: passed to ``keras.Model`` (``name``, ...).

    Raises:
        ValueError: an argument is out of range; the EMA clone does not match the generator.

    Example:
        >>> gan = GAN(g, d, z_dim=64, seed=0)
        >>> gan.compile(GAN.adam(), GAN.adam(), r1_gamma=1.0, r1_interval=16)
        >>> gan.fit(dataset.batch(32, drop_remainder=True), epochs=1)
        >>> images = gan.generate(seeds=range(8))  # uint8 [8, H, W, 3]

    Reference:
        Goodfellow et al. 2014; Karras et al., "Training Generative Adversarial Networks
        with Limited Data", 2020 (stylegan2-ada-pytorch).
    """

    def __init__(
        self,
        generator,
        discriminator,
        *,
        z_dim,
        num_classes=0,
        ema_kimg=10.0,
        ema_rampup=None,
        seed=None,
        **kwargs,
    ):
        if not is_int(z_dim) or z_dim <= 0:
            raise ValueError(f"`z_dim` must be a positive int. Received: z_dim={z_dim}")
        if not is_int(num_classes) or num_classes < 0:
            raise ValueError(
                f"`num_classes` must be an int >= 0. Received: num_classes={num_classes}"
            )
        if not is_number(ema_kimg) or ema_kimg < 0:
            raise ValueError(f"`ema_kimg` must be a number >= 0. Received: ema_kimg={ema_kimg}")
        if ema_rampup is not None and (not is_number(ema_rampup) or ema_rampup < 0):
            raise ValueError(
                f"`ema_rampup` must be None or a number >= 0. Received: ema_rampup={ema_rampup}"
            )
        if seed is not None and not is_int(seed):
            raise ValueError(f"`seed` must be None or an int. Received: seed={seed}")
        for name, net in (("generator", generator), ("discriminator", discriminator)):
            if not isinstance(net, keras.layers.Layer):
                raise ValueError(
                    f"`{name}` must be a keras Model or Layer. Received: {name}={net!r}"
                )
        super().__init__(**kwargs)

        # === Config ===
        self.z_dim = int(z_dim)
        self.num_classes = int(num_classes)
        self.ema_kimg = float(ema_kimg)
        self.ema_rampup = None if ema_rampup is None else float(ema_rampup)
        self.seed = seed

        # === Networks ===
        self.generator = generator
        self.discriminator = discriminator
        self._build_networks()
        self.generator_ema = self.clone_generator(generator)
        self.generator_ema.trainable = False

        # === State ===
        self.seed_generator = keras.random.SeedGenerator(seed, name="gan_seed_generator")
        # Real images seen, summed over replicas (stylegan2-ada's `cur_nimg`). Every replica
        # adds the same global batch, so the first replica's update is the right one.
        self.cur_nimg = keras.Variable(
            0,
            dtype="int64",
            trainable=False,
            aggregation="only_first_replica",
            name="cur_nimg",
        )

        # === Trackers ===
        self.trackers = {name: keras.metrics.Mean(name=name) for name in TRACKER_NAMES}

        # Set by `compile`.
        self.g_optimizer = None
        self.d_optimizer = None
        self.augment = None
        self.r1_gamma = 0.0
        self.r1_interval = 1
        # The networks are built functional models; nothing is left to build here.
        self.built = True

    # --------------------------------------------------------------------------------------
    # Construction helpers
    # --------------------------------------------------------------------------------------

    @staticmethod
    def adam(learning_rate=2e-4, beta_1=0.5, beta_2=0.999, epsilon=1e-8):
        """A ``keras.optimizers.Adam`` with GAN-friendly defaults (DCGAN paper values)."""
        return keras.optimizers.Adam(
            learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon
        )

    def clone_generator(self, generator):
        """Returns a copy of ``generator`` with the same architecture and weights.

        Uses ``keras.models.clone_model`` (functional models, or subclassed models with
        ``get_config``); a clone that is not built yet is built by one forward pass.

        Raises:
            ValueError: the clone's weights do not match the generator's one to one.
        """
        clone = keras.models.clone_model(generator)
        clone.name = f"{generator.name}_ema"
        if not clone.built:
            clone(self.generator_inputs(ops.zeros([1, self.z_dim]), self._dummy_labels(1)))
        src, dst = generator.weights, clone.weights
        if len(src) != len(dst) or any(
            tuple(a.shape) != tuple(b.shape) for a, b in zip(src, dst, strict=True)
        ):
            raise ValueError(
                "The EMA clone of the generator does not have the same weights as the "
                f"generator ({len(dst)} vs {len(src)} variables). Override `clone_generator`."
            )
        for a, b in zip(src, dst, strict=True):
            b.assign(a)
        return clone

    def _build_networks(self):
        """Builds subclassed networks that have not been called yet (functional ones are)."""
        if not self.generator.built:
            self.generator(self.generator_inputs(ops.zeros([1, self.z_dim]), self._dummy_labels(1)))
        if not self.discriminator.built:
            images = ops.zeros((1, *self._image_shape()[1:]))
            labels = self._dummy_labels(1)
            self.discriminator([images, labels] if self.num_classes > 0 else images)

    @classmethod
    def from_config(cls, config):
        """Rebuilds a model family (DCGAN, StyleGAN2) from its ``get_config``: the config is
        exactly the subclass's constructor arguments."""
        return cls(**config)

    def _dummy_labels(self, batch):
        return ops.zeros([batch], dtype="int32") if self.num_classes > 0 else None

    def compile(
        self,
        g_optimizer,
        d_optimizer,
        augment=None,
        r1_gamma=0.0,
        r1_interval=1,
        **kwargs,
    ):
        """Configures training.

        Call it inside the strategy scope: it builds both optimizers there
        (``build_optimizers``), which ``MirroredStrategy`` needs before ``fit``.

        Args:
            g_optimizer: ``keras.optimizers.Optimizer`` for the generator.
            d_optimizer: ``keras.optimizers.Optimizer`` for the discriminator.
            augment: None or a callable (normally a ``keras.layers.Layer``)
                ``augment(images, training=True) -> images``. If its attribute ``reals_only``
                is true it augments only the reals of the D step (the leaky "classic"
                baseline); otherwise reals and fakes in both the D and G steps, with gradients
                flowing through it to G (DiffAugment, ADA). Its attribute ``p``, when present,
                is logged as ``aug_p``; its method ``update(real_logits)``, when present, is
                called every step with D's logits on the augmented reals (ADA adapts ``p``).
            r1_gamma: float >= 0, R1 weight; 0 disables R1. Default 0.
            r1_interval: int >= 1, apply R1 every this many D steps (lazy regularisation),
                with its weight multiplied by the interval. Default 1.
            **kwargs: passed to ``keras.Model.compile`` (``run_eagerly``,
                ``steps_per_execution``, ``jit_compile`` -- which defaults to False here).

        Raises:
            ValueError: a bad argument, or ``optimizer``/``loss`` given (they do not apply).
        """
        for name, opt in (("g_optimizer", g_optimizer), ("d_optimizer", d_optimizer)):
            if not isinstance(opt, keras.optimizers.Optimizer):
                raise ValueError(
                    f"`{name}` must be a keras.optimizers.Optimizer. Received: {name}={opt!r}"
                )
        if g_optimizer is d_optimizer:
            raise ValueError("`g_optimizer` and `d_optimizer` must be two distinct optimizers.")
        if augment is not None and not callable(augment):
            raise ValueError(f"`augment` must be None or callable. Received: augment={augment!r}")
        if not is_number(r1_gamma) or r1_gamma < 0:
            raise ValueError(f"`r1_gamma` must be a number >= 0. Received: r1_gamma={r1_gamma}")
        if not is_int(r1_interval) or r1_interval < 1:
            raise ValueError(
                f"`r1_interval` must be an int >= 1. Received: r1_interval={r1_interval}"
            )
        for key in ("optimizer", "loss", "metrics", "loss_weights", "weighted_metrics"):
            if key in kwargs:
                raise ValueError(
                    f"GAN.compile does not take `{key}` (use g_optimizer/d_optimizer; the "
                    "losses and metrics are fixed). Received: "
                    f"{key}={kwargs[key]!r}"
                )
        kwargs.setdefault("jit_compile", False)
        super().compile(optimizer=None, **kwargs)
        self.g_optimizer = g_optimizer
        self.d_optimizer = d_optimizer
        if isinstance(augment, keras.layers.Layer) and not augment.built:
            augment.build(self._image_shape())
        self.augment = augment
        self.r1_gamma = float(r1_gamma)
        self.r1_interval = int(r1_interval)
        self.build_optimizers()

    def _image_shape(self):
        """The generator's output shape ``(None, H, W, C)``."""
        try:
            shape = self.generator.output_shape
        except (AttributeError, ValueError, RuntimeError):  # subclassed: no symbolic output
            shape = None
        if shape is None:
            images = self.generator(
                self.generator_inputs(ops.zeros([1, self.z_dim]), self._dummy_labels(1)),
                training=False,
            )
            shape = (None, *images.shape[1:])
        return tuple(shape)

    def build_optimizers(self):
        """Creates the optimizer slots for G and D (idempotent).

        Under a ``tf.distribute`` strategy this must run inside ``strategy.scope()`` before
        ``fit`` or before restoring a checkpoint; ``compile`` calls it.
        """
        if self.g_optimizer is None or self.d_optimizer is None:
            raise ValueError("Call `compile(g_optimizer, d_optimizer, ...)` first.")
        for opt, net in (
            (self.g_optimizer, self.generator),
            (self.d_optimizer, self.discriminator),
        ):
            if not opt.built:
                opt.build(net.trainable_variables)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Everything is built by `__init__` and `compile`. Keras 3.15's generic path would
        # `strategy.reduce` the first distributed batch, which fails for (images, labels)
        # tuples under MultiWorkerMirroredStrategy ("Attempt to convert a value (PerReplica").
        optimizers = (self.g_optimizer, self.d_optimizer)
        if all(layer.built for layer in self._flatten_layers()) and all(
            opt is not None and opt.built for opt in optimizers
        ):
            return
        super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    # --------------------------------------------------------------------------------------
    # Forward hooks
    # --------------------------------------------------------------------------------------

    def call(self, inputs, training=False):
        """Generator forward pass (not the EMA copy): ``z`` or ``[z, labels]`` -> images."""
        return self.generator(inputs, training=training)

    def generator_inputs(self, z, labels):
        """Packs the generator's inputs: ``[z, labels]`` when conditional, else ``z``."""
        return [z, labels] if self.num_classes > 0 else z

    def run_generator(self, z, labels, training):
        """``z [B, z_dim]``, ``labels [B]`` or None -> images ``[B, H, W, C]``."""
        return self.generator(self.generator_inputs(z, labels), training=training)

    def run_discriminator(self, images, labels, training):
        """``images [B, H, W, C]``, ``labels [B]`` or None -> float32 logits ``[B]``."""
        inputs = [images, labels] if self.num_classes > 0 else images
        logits = self.discriminator(inputs, training=training)
        return ops.reshape(ops.cast(logits, "float32"), [-1])

    def augment_images(self, images, real):
        """Applies the augment layer according to its routing (see ``compile``).

        Args:
            images: ``[B, H, W, C]``.
            real: bool (Python), whether ``images`` are reals.
        """
        if self.augment is None:
            return images
        if not real and self.augment_reals_only:
            return images
        return self.augment(images, training=True)

    def accumulate_augment(self, real_logits, weight=None):
        """Feeds D's logits on augmented reals to the augment layer's ``accumulate`` (ADA's
        overfitting heuristic ``r_t``): called for every D pass over reals, the main D step
        and the R1 step, as stylegan2-ada's ``Loss/signs/real``; a no-op for augment layers
        without one. ``weight`` (0 or 1) masks a pass that runs only on some steps."""
        accumulate = getattr(self.augment, "accumulate", None)
        if callable(accumulate):
            accumulate(ops.stop_gradient(real_logits), weight)

    def adjust_augment(self, global_batch):
        """Ends the step for the augment layer (ADA adapts ``p`` every ``interval`` steps,
        after all of the step's phases, as training_loop.py)."""
        adjust = getattr(self.augment, "adjust", None)
        if callable(adjust):
            adjust(global_batch)

    @property
    def augment_reals_only(self):
        """True when the augment layer must only see reals (``augment.reals_only``)."""
        return bool(getattr(self.augment, "reals_only", False))

    # --------------------------------------------------------------------------------------
    # Sampling (replica-count invariant)
    # --------------------------------------------------------------------------------------

    @staticmethod
    def num_replicas():
        """Replicas in sync under the current strategy (1 without one)."""
        return tf.distribute.get_strategy().num_replicas_in_sync

    @staticmethod
    def replica_id():
        """This replica's index in the sync group (0 without a strategy)."""
        ctx = tf.distribute.get_replica_context()
        return 0 if ctx is None else ctx.replica_id_in_sync_group

    def replica_rows(self, sample_fn, batch):
        """Draws ``sample_fn(global_batch)`` and keeps this replica's ``batch`` rows.

        All replicas share one seed state, so they draw the same global tensor; replica ``r``
        keeps rows ``[r * batch, (r + 1) * batch)``, the rows ``tf.distribute`` gives it of
        the data batch. One replica with batch ``B`` therefore sees exactly what two replicas
        with ``B / 2`` see together.
        """
        n = self.num_replicas()
        if n == 1:
            return sample_fn(batch)
        full = sample_fn(batch * n)
        start = tf.cast(self.replica_id(), tf.int32) * tf.cast(batch, tf.int32)
        return full[start : start + batch]

    def sample_z(self, batch):
        """Standard-normal latents ``[batch, z_dim]`` for this replica."""

        def draw(rows):
            seed = self.seed_generator.next()
            return tf.random.stateless_normal(
                tf.stack([rows, self.z_dim]), seed=tf.cast(seed, tf.int64), dtype=tf.float32
            )

        return self.replica_rows(draw, batch)

    # --------------------------------------------------------------------------------------
    # Training
    # --------------------------------------------------------------------------------------

    def unpack_data(self, data):
        """Splits a batch into ``images [B, H, W, C]`` float32 and ``labels [B]`` int32/None.

        Accepts ``images``, ``(images,)`` or ``(images, labels)``. Labels are ignored when
        the model is unconditional and required when it is conditional.
        """
        labels = None
        if isinstance(data, dict):
            raise ValueError(f"Expected images or (images, labels). Received a dict: {data}")
        if isinstance(data, (tuple, list)):
            if not 1 <= len(data) <= 3:
                raise ValueError(f"Expected images or (images, labels). Received: {data}")
            images = data[0]
            if len(data) > 1:
                labels = data[1]
        else:
            images = data
        images = ops.cast(images, "float32")
        if self.num_classes == 0:
            return images, None
        if labels is None:
            raise ValueError(
                f"This GAN is conditional (num_classes={self.num_classes}): the data must "
                "yield (images, labels)."
            )
        return images, ops.reshape(ops.cast(labels, "int32"), [-1])

    def train_step(self, data):
        """One D step, one G step, the EMA update and the ``cur_nimg`` increment.

        Args:
            data: ``images [B, H, W, C]`` in ``[-1, 1]`` or ``(images, labels [B])``; ``B`` is
                the per-replica batch (use ``drop_remainder=True`` so replicas get equal
                batches).

        Returns:
            Dict of tracker results (running means over the epoch).
        """
        reals, labels = self.unpack_data(data)
        batch = ops.shape(reals)[0]
        global_batch = batch * self.num_replicas()

        logs = {}
        logs.update(self.d_step(reals, labels, global_batch))
        # Fakes of the G step use the real batch's labels, so the class balance is the data's.
        logs.update(self.g_step(batch, labels, global_batch))
        self.adjust_augment(global_batch)
        self.sync_buffers()
        self.update_ema(global_batch)
        self.cur_nimg.assign_add(ops.cast(global_batch, "int64"))
        logs["aug_p"] = self._aug_p()

        for name, value in logs.items():
            if isinstance(value, tuple):
                self.trackers[name].update_state(value[0], sample_weight=value[1])
            else:
                self.trackers[name].update_state(value)
        return self._format_logs({m.name: m.result() for m in self.metrics})

    def _aug_p(self):
        p = getattr(self.augment, "p", None)
        if p is None:
            return ops.zeros([], "float32")
        return ops.mean(ops.cast(ops.convert_to_tensor(p), "float32"))

    @staticmethod
    def _format_logs(logs):
        # Keras 3.15 reduces fit outputs with `strategy.reduce(MEAN, v, axis=0)` under
        # MultiWorkerMirroredStrategy, which rejects scalars (DESIGN.md, "Pitfalls").
        if isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
            return {k: ops.reshape(v, [1]) for k, v in logs.items()}
        return logs

    def compute_r1(self, reals, labels):
        """R1 on this replica's reals.

        The gradient is taken with respect to the reals before augmentation, through the
        augment layer, as in stylegan2-ada.

        Returns:
            ``(penalty [B], real_logits [B])``; ``real_logits`` are D's logits on the
            augmented reals (reusable for the main loss).
        """
        # A fresh tensor: inside a `tf.cond` branch `reals` is a capture the tape can't see.
        reals = tf.identity(reals)
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(reals)
            logits = self.run_discriminator(
                self.augment_images(reals, real=True), labels, training=True
            )
            logits_sum = ops.sum(logits)
        grads = tape.gradient(logits_sum, reals)
        return losses.r1_penalty(grads), logits

    def d_step(self, reals, labels, global_batch):
        """One discriminator update.

        Loss per replica: ``(sum(d_logistic) + r1_gamma / 2 * r1_interval * sum(r1)) /
        global_batch``, R1 only on steps where ``d_optimizer.iterations % r1_interval == 0``.

        Returns:
            Dict of tracker updates: ``d_loss``, ``d_real``, ``d_fake``, ``d_grad_norm`` and,
            with R1, ``r1`` as ``(mean penalty, weight)``.
        """
        batch = ops.shape(reals)[0]
        gb = ops.cast(global_batch, "float32")
        fakes = ops.stop_gradient(self.run_generator(self.sample_z(batch), labels, training=True))
        use_r1 = self.r1_gamma > 0
        lazy = use_r1 and self.r1_interval > 1
        r1 = r1_weight = None
        with tf.GradientTape() as tape:
            if use_r1 and not lazy:
                # R1 every step: one D forward on the reals serves the loss and the penalty.
                r1, real_logits = self.compute_r1(reals, labels)
                r1_weight = ops.cast(batch, "float32")
            else:
                real_logits = self.run_discriminator(
                    self.augment_images(reals, real=True), labels, training=True
                )
            fake_logits = self.run_discriminator(
                self.augment_images(fakes, real=False), labels, training=True
            )
            d_logistic = losses.d_logistic_loss(real_logits, fake_logits)
            loss = ops.sum(d_logistic) / gb
            if lazy:
                do_r1 = ops.equal(self.d_optimizer.iterations % self.r1_interval, 0)
                r1, r1_logits = tf.cond(
                    do_r1,
                    lambda: self.compute_r1(reals, labels),
                    lambda: (tf.zeros([batch], tf.float32), tf.zeros([batch], tf.float32)),
                )
                r1_weight = ops.cast(do_r1, "float32") * ops.cast(batch, "float32")
            if use_r1:
                gain = self.r1_gamma / 2.0 * self.r1_interval
                loss = loss + ops.sum(r1) * gain / gb
            scaled_loss = self.d_optimizer.scale_loss(loss)
        self.accumulate_augment(real_logits)
        if lazy:  # the R1 pass saw its own augmented reals (stylegan2-ada Dr1 reports too)
            self.accumulate_augment(r1_logits, ops.cast(do_r1, "float32"))
        variables = self.d_train_variables()
        grads = tape.gradient(scaled_loss, variables)
        grad_norm = self.apply_gradients(self.d_optimizer, grads, variables)
        logs = {
            "d_loss": ops.mean(d_logistic),
            "d_real": ops.mean(real_logits),
            "d_fake": ops.mean(fake_logits),
            "d_grad_norm": grad_norm,
        }
        if use_r1:
            logs["r1"] = (ops.mean(r1), r1_weight)
        return logs

    def compute_g_loss(self, z, labels):
        """Per-example generator loss ``[B]`` for latents ``z`` (call inside a tape)."""
        fakes = self.run_generator(z, labels, training=True)
        fake_logits = self.run_discriminator(
            self.augment_images(fakes, real=False), labels, training=True
        )
        return losses.g_nonsaturating_loss(fake_logits)

    def g_step(self, batch, labels, global_batch):
        """One generator update with fresh latents; returns ``g_loss`` and ``g_grad_norm``."""
        z = self.sample_z(batch)
        with tf.GradientTape() as tape:
            g_loss = self.compute_g_loss(z, labels)
            loss = ops.sum(g_loss) / ops.cast(global_batch, "float32")
            scaled_loss = self.g_optimizer.scale_loss(loss)
        variables = self.g_train_variables()
        grads = tape.gradient(scaled_loss, variables)
        grad_norm = self.apply_gradients(self.g_optimizer, grads, variables)
        return {"g_loss": ops.mean(g_loss), "g_grad_norm": grad_norm}

    def g_train_variables(self):
        """The generator variables the G steps update: the trainable ones except those in
        ``frozen_variables`` (``tfdisgan.transfer.freeze``: ``--freeze_mapping``)."""
        return self._unfrozen_variables("generator")

    def d_train_variables(self):
        """The discriminator variables the D steps update: the trainable ones except those
        in ``frozen_variables`` (``tfdisgan.transfer.freeze``: FreezeD's ``--freeze_d``)."""
        return self._unfrozen_variables("discriminator")

    def _unfrozen_variables(self, attr):
        # `frozen_variables`: a frozenset of "generator/<variable.path>" strings, set by
        # `tfdisgan.transfer.freeze`; a plain attribute that no checkpoint tracks.
        frozen = getattr(self, "frozen_variables", None) or frozenset()
        return [v for v in getattr(self, attr).trainable_variables
                if f"{attr}/{v.path}" not in frozen]

    def apply_gradients(self, optimizer, grads, variables):
        """Applies per-replica ``grads`` and returns the global gradient norm.

        With several replicas the gradients are all-reduced here to measure the norm of the
        global gradient; the optimizer then receives ``sum / n`` on every replica, so its own
        cross-replica sum reconstructs the global gradient (one extra all-reduce per step,
        the price of an exact norm).
        """
        pairs = [(g, v) for g, v in zip(grads, variables, strict=True) if g is not None]
        # Dense: an embedding's IndexedSlices repeat a row per occurrence of its label, and
        # Keras' Adam squares them before summing duplicates (a wrong second moment that
        # would also depend on the replica count), as does `global_norm`.
        grads = [tf.convert_to_tensor(g) for g, _ in pairs]
        variables = [v for _, v in pairs]
        n = self.num_replicas()
        ctx = tf.distribute.get_replica_context()
        if n > 1 and ctx is not None:
            grads = ctx.all_reduce(tf.distribute.ReduceOp.SUM, grads)
            grad_norm = tf.linalg.global_norm(grads)
            grads = [g / n for g in grads]
        else:
            grad_norm = tf.linalg.global_norm(grads)
        if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
            grad_norm = grad_norm / ops.cast(optimizer.dynamic_scale, grad_norm.dtype)
            # A non-finite scaled gradient is the loss scaler's overflow probe: it skips the
            # step and lowers the scale. Logged as 0, not Inf, which would stop the run.
            grad_norm = tf.where(tf.math.is_finite(grad_norm), grad_norm, 0.0)
        elif optimizer.loss_scale_factor is not None:
            grad_norm = grad_norm / optimizer.loss_scale_factor
        optimizer.apply_gradients(zip(grads, variables, strict=True))
        return grad_norm

    def sync_buffers(self):
        """Averages G's and D's non-trainable float weights over the replicas.

        Keras creates batch-norm moving statistics with aggregation "none": under
        ``tf.distribute`` each replica's update then changes only its own copy, so the
        copies, and the workers of a multi-worker run, drift apart (a checkpoint keeps
        replica 0's). One all-reduce per step restores a single value, the moving average
        of the mean of the replicas' batch statistics. A no-op with one replica.
        """
        ctx = tf.distribute.get_replica_context()
        if self.num_replicas() == 1 or ctx is None:
            return
        buffers = [
            v for net in (self.generator, self.discriminator) for v in net.non_trainable_weights
            if getattr(v, "aggregation", "none") == "none" and "float" in str(v.dtype)
        ]
        if not buffers:
            return
        values = []
        for v in buffers:
            # An explicit device: with one local replica (MultiWorkerMirroredStrategy on a
            # CPU) a bare read has none, which `all_reduce` rejects ("destinations can not
            # be empty").
            with tf.device(v.value.device):
                values.append(tf.identity(v.value))
        means = ctx.all_reduce(tf.distribute.ReduceOp.MEAN, values)
        for v, mean in zip(buffers, means, strict=True):
            v.assign(mean)

    def ema_beta(self, global_batch):
        """EMA decay for this step: ``0.5 ** (global_batch / ema_nimg)``.

        ``ema_nimg = ema_kimg * 1000``, capped at ``cur_nimg * ema_rampup`` when
        ``ema_rampup`` is set (stylegan2-ada ``training_loop.py``).
        """
        ema_nimg = ops.convert_to_tensor(self.ema_kimg * 1000.0, "float32")
        if self.ema_rampup is not None:
            cur = ops.cast(ops.convert_to_tensor(self.cur_nimg), "float32")
            ema_nimg = ops.minimum(ema_nimg, cur * self.ema_rampup)
        exponent = ops.cast(global_batch, "float32") / ops.maximum(ema_nimg, 1e-8)
        return ops.power(ops.convert_to_tensor(0.5, "float32"), exponent)

    # How `update_ema` treats the generator's non-trainable weights: "copy" (StyleGAN2's
    # buffers w_avg and noise_const, as training_loop.py) or "average" (DCGAN's batch-norm
    # moving statistics: copying the raw generator's would pair averaged weights with the
    # raw weights' activation statistics).
    ema_buffers = "copy"

    def update_ema(self, global_batch):
        """``w_ema <- w + (w_ema - w) * beta`` for trainable weights; the non-trainable ones
        are copied or averaged the same way according to ``ema_buffers``.

        Returns:
            The ``beta`` used (float32 scalar).
        """
        beta = self.ema_beta(global_batch)
        average_buffers = self.ema_buffers == "average"
        for w, w_ema in zip(self.generator.weights, self.generator_ema.weights, strict=True):
            floating = "float" in str(w.dtype)
            if w.trainable or (average_buffers and floating):
                w_ema.assign(w + (w_ema - w) * ops.cast(beta, w.dtype))
            else:
                w_ema.assign(w)
        return beta

    @property
    def metrics(self):
        """The trackers Keras resets each epoch (``r1`` only when R1 is on)."""
        names = [n for n in TRACKER_NAMES if n != "r1" or self.r1_gamma > 0]
        return [self.trackers[n] for n in names]

    # --------------------------------------------------------------------------------------
    # Generation
    # --------------------------------------------------------------------------------------

    def synthesize(self, z, labels=None, psi=1.0, use_ema=True):
        """Images in ``[-1, 1]`` for latents ``z [N, z_dim]`` and labels ``[N]`` or None.

        ``psi`` is latent truncation: here ``z`` is scaled by ``psi`` toward the prior's mean
        (0), so ``psi = 1`` is plain sampling and ``psi = 0`` gives the image of ``z = 0``.
        StyleGAN2 overrides this to truncate in W space instead.
        """
        net = self.generator_ema if use_ema else self.generator
        z = ops.convert_to_tensor(z, "float32") * psi
        if labels is not None:
            labels = ops.convert_to_tensor(labels, "int32")
        return net(self.generator_inputs(z, labels), training=False)

    @contextlib.contextmanager
    def fixed_noise(self, seed):
        """Within the block, the generators' random streams (StyleGAN2's per-pixel noise)
        restart from values fixed by `seed`; afterwards the training streams continue as
        if nothing had been drawn. An evaluation under the same seed then sees the same
        images whenever it runs: during training, after a resume, or on a loaded network.

        Args:
            seed: int in ``[0, 2**31)``.
        """
        seed = int(seed)
        if not 0 <= seed < 2**31:
            raise ValueError(f"seed must be in [0, 2**31). Received: seed={seed}")
        states = [v for name, v in sorted(self._seed_states().items())
                  if name.startswith(("_seed_state_generator_", "_seed_state_generator_ema_"))]
        saved = [v.numpy() for v in states]
        try:
            for i, v in enumerate(states):
                v.assign(np.asarray([seed, 1000 + i], dtype=saved[i].dtype)
                         .reshape(saved[i].shape))
            yield self
        finally:
            for v, value in zip(states, saved, strict=True):
                v.assign(value)

    def generate(self, seeds=None, z=None, labels=None, psi=1.0, use_ema=True, batch_size=32):
        """Generates uint8 images.

        Args:
            seeds: iterable of ints in ``[0, 2**32)``; latent ``i`` is
                ``seeds_to_z(seeds, z_dim)[i]`` (a stateless Philox draw, reproduced by the
                exported SavedModel). Exclusive with ``z``.
            z: float array ``[N, z_dim]``. Exclusive with ``seeds``.
            labels: int or int array ``[N]`` of class indices in ``[0, num_classes)``;
                required when ``num_classes > 0``, must be None otherwise.
            psi: float, truncation (see ``synthesize``). Default 1.0.
            use_ema: bool, use the EMA generator. Default True.
            batch_size: int >= 1, images per forward pass. Default 32.

        Returns:
            ``np.ndarray`` uint8 ``[N, H, W, C]``, ``(x * 127.5 + 128).clip(0, 255)``.

        Raises:
            ValueError: bad seeds, z, labels, psi or batch_size.
        """
        check_psi(psi)
        if (seeds is None) == (z is None):
            raise ValueError("Pass exactly one of `seeds` or `z`.")
        if seeds is not None:
            seeds = [int(s) for s in np.atleast_1d(np.asarray(seeds))]
            for s in seeds:
                if not 0 <= s < MAX_SEED:
                    raise ValueError(f"Seeds must be in [0, 2**32). Received: seed={s}")
            z = seeds_to_z(np.asarray(seeds, np.int64), self.z_dim).numpy()
        z = np.asarray(z, dtype=np.float32)
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"`z` must have shape [N, {self.z_dim}]. Received: z.shape={z.shape}")
        if not is_int(batch_size) or batch_size < 1:
            raise ValueError(f"`batch_size` must be an int >= 1. Received: batch_size={batch_size}")
        if not is_number(psi):
            raise ValueError(f"`psi` must be a number. Received: psi={psi}")
        labels = self._check_labels(labels, len(z))
        chunks = []
        for start in range(0, len(z), batch_size):
            end = start + batch_size
            images = self.synthesize(
                z[start:end],
                None if labels is None else labels[start:end],
                psi=float(psi),
                use_ema=use_ema,
            )
            chunks.append(ops.convert_to_numpy(images))
        images = np.concatenate(chunks, axis=0)
        return (images * 127.5 + 128).clip(0, 255).astype(np.uint8)

    def _check_labels(self, labels, n):
        if self.num_classes == 0:
            if labels is not None:
                raise ValueError(
                    f"This GAN is unconditional (num_classes=0); labels must be None. "
                    f"Received: labels={labels}"
                )
            return None
        if labels is None:
            raise ValueError(
                f"This GAN is conditional (num_classes={self.num_classes}): pass `labels`, "
                f"an int or {n} ints in [0, {self.num_classes})."
            )
        arr = np.asarray(labels)
        if arr.ndim == 0:
            arr = np.full([n], arr)
        if not np.issubdtype(arr.dtype, np.integer) or arr.shape != (n,):
            raise ValueError(f"`labels` must be an int or {n} ints. Received: labels={labels}")
        bad = arr[(arr < 0) | (arr >= self.num_classes)]
        if bad.size:
            raise ValueError(
                f"Labels must be in [0, {self.num_classes}). Received: label={int(bad[0])}"
            )
        return arr.astype(np.int32)

    # --------------------------------------------------------------------------------------
    # Checkpointing
    # --------------------------------------------------------------------------------------

    def _seed_states(self):
        """``{name: state variable}`` of every SeedGenerator reachable from the model.

        Named by the owning attribute (``augment``, ``generator``, ...) and the generator's
        position inside it, so identically built models get identical names.
        """
        states = {}
        for i, sg in enumerate(getattr(self, "_seed_generators", [])):
            states[f"_seed_state_self_{i}"] = sg.state
        for attr in ("generator", "discriminator", "generator_ema", "augment"):
            layer = getattr(self, attr, None)
            if not isinstance(layer, keras.layers.Layer):
                continue
            sgs = [
                sg
                for sub in layer._flatten_layers(include_self=True)
                for sg in getattr(sub, "_seed_generators", [])
            ]
            for i, sg in enumerate(sgs):
                states[f"_seed_state_{attr}_{i}"] = sg.state
        return states

    def _trackable_children(self, save_type="checkpoint", **kwargs):
        # Keras layers keep SeedGenerator states out of TensorFlow's object graph; add them
        # so that `tf.train.Checkpoint` resumes the random streams exactly.
        children = super()._trackable_children(save_type, **kwargs)
        if save_type == "checkpoint":
            children.update(self._seed_states())
        return children
