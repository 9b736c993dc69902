"""GAN base model: the adversarial training step shared by DCGAN and StyleGAN2.

The model owns a generator, a discriminator and an exponential moving average (EMA) copy of
the generator, and trains them with the non-saturating logistic loss, optional (lazy) R1
regularisation and an optional augmentation layer, following the Keras 3 GAN guide
(keras-io ``guides/custom_train_step_in_tensorflow.py``) for the Keras plumbing and
stylegan2-ada-pytorch (``training/loss.py``, ``training/training_loop.py``) for the maths.

The class is split by concept: this module holds construction, ``compile``, the forward
hooks, the EMA and generation; the training step is ``GANSteps`` (``gan_steps.py``), the
replica-count invariance (global-batch latents, the global gradient norm, buffer sync)
``ReplicaHelpers`` (``replicas.py``), and the latents of integer seeds, fixed noise streams
and the checkpointing of every random state ``SeedStates`` (``seeds.py``).
"""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from tfdisgan import optimizers
from tfdisgan._validate import check_psi, is_int, is_number
from tfdisgan.classes import describe_classes, resolve_class
from tfdisgan.images import to_uint8
from tfdisgan.models.gan_steps import GANSteps
from tfdisgan.models.replicas import ReplicaHelpers
from tfdisgan.models.seeds import MAX_SEED, SeedStates, seeds_to_z

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


class GAN(GANSteps, ReplicaHelpers, SeedStates, keras.Model):
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
        >>> gan.compile(g_optimizer=GAN.adam(), d_optimizer=GAN.adam(), r1_gamma=1.0,
        ...             r1_interval=16)
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
        # Names by id (set from the dataset by training.run and from config.json when a run
        # is loaded), so that `generate(labels="홍수")` works; None: ids only.
        self.class_names = None
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
        """A `tfdisgan.optimizers.Adam` (Keras Adam, fewer ops) with the DCGAN paper's
        values (epsilon 1e-8, PyTorch's default); the one place DCGAN's Adam is made
        (``DCGAN.default_optimizers`` and ``training.run`` use it)."""
        return optimizers.Adam(
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
        *,
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

        Keyword-only (since 0.2.0: positional optimizers were G first, the reverse of the
        keras-io GAN guide's ``compile(d_optimizer, g_optimizer, ...)``, and a swap silently
        gave G the discriminator's lazy Adam). ``DCGAN.default_optimizers()`` and
        ``stylegan2.preset_optimizers`` return an ``OptimizerPair`` for ``**``.

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
        # What `get_compile_config` records (subclasses add their own arguments).
        self._compile_args = dict(r1_gamma=self.r1_gamma, r1_interval=self.r1_interval,
                                  jit_compile=kwargs["jit_compile"])
        self.build_optimizers()

    def get_compile_config(self):
        """The ``compile`` arguments, serialised, so that ``keras.models.load_model`` of a
        ``.keras`` file returns a compiled GAN (the optimizers' settings, not their state:
        resume training from the run folder's checkpoints)."""
        if getattr(self, "g_optimizer", None) is None:
            return None
        serialize = keras.saving.serialize_keras_object
        augment = self.augment
        return {
            "g_optimizer": serialize(self.g_optimizer),
            "d_optimizer": serialize(self.d_optimizer),
            "augment": serialize(augment) if isinstance(augment, keras.layers.Layer) else None,
            **self._compile_args,
        }

    def compile_from_config(self, config):
        deserialize = keras.saving.deserialize_keras_object
        config = dict(config)
        for key in ("g_optimizer", "d_optimizer", "augment"):
            if config.get(key) is not None:
                config[key] = deserialize(config[key])
        self.compile(**config)

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

    @property
    def metrics(self):
        """The trackers Keras resets each epoch (``r1`` only when R1 is on)."""
        names = [n for n in TRACKER_NAMES if n != "r1" or self.r1_gamma > 0]
        return [self.trackers[n] for n in names]

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
    # Sampling
    # --------------------------------------------------------------------------------------

    def sample_z(self, batch):
        """Standard-normal latents ``[batch, z_dim]`` for this replica."""

        def draw(rows):
            seed = self.seed_generator.next()
            return tf.random.stateless_normal(
                tf.stack([rows, self.z_dim]), seed=tf.cast(seed, tf.int64), dtype=tf.float32
            )

        return self.replica_rows(draw, batch)

    # --------------------------------------------------------------------------------------
    # EMA
    # --------------------------------------------------------------------------------------

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

    def generate(self, seeds=None, z=None, labels=None, psi=1.0, use_ema=True, batch_size=32):
        """Generates uint8 images.

        Args:
            seeds: iterable of ints in ``[0, 2**32)``; latent ``i`` is
                ``seeds_to_z(seeds, z_dim)[i]`` (a stateless Philox draw, reproduced by the
                exported SavedModel). Exclusive with ``z``.
            z: float array ``[N, z_dim]``. Exclusive with ``seeds``.
            labels: a class id or name (e.g. "홍수", any Unicode normalisation, when
                ``class_names`` is set), or ``N`` of them; required when
                ``num_classes > 0``, must be None otherwise.
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
        return to_uint8(images)

    NO_EVALUATION = (
        "A GAN has no held-out loss to evaluate, so `fit` takes no validation_data / "
        "validation_split and `evaluate` does not apply; measure the generator with "
        "tfdisgan.metrics (calc_metrics, or --metrics=fid50k_full,kid50k_full,swd in "
        "scripts/train.py and scripts/metrics.py).")

    def fit(self, *args, validation_data=None, validation_split=0.0, **kwargs):
        """``keras.Model.fit`` (the GAN's train step); ValueError for validation data."""
        if validation_data is not None or validation_split:
            raise ValueError(self.NO_EVALUATION)
        return super().fit(*args, **kwargs)

    def test_step(self, data):
        raise ValueError(self.NO_EVALUATION)

    def _check_labels(self, labels, n):
        names = labels if isinstance(labels, (list, tuple, np.ndarray)) else [labels]
        if self.num_classes and labels is not None and any(
                isinstance(v, str) for v in names):
            ids = [resolve_class(v, self.num_classes, self.class_names) for v in names]
            labels = ids if isinstance(labels, (list, tuple, np.ndarray)) else ids[0]
        if self.num_classes == 0:
            if labels is not None:
                raise ValueError(
                    f"This GAN is unconditional (num_classes=0); labels must be None. "
                    f"Received: labels={labels}"
                )
            return None
        if labels is None:
            raise ValueError(
                f"This GAN is conditional (num_classes={self.num_classes}: "
                f"{describe_classes(self.num_classes, self.class_names)}): pass `labels`, a "
                f"class id or name or {n} of them (--class in the scripts)."
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
