"""The ``StyleGAN2`` model: G, D and the G EMA, style mixing, configuration and generation;
its training phases are ``StyleGAN2Phases`` (``phases.py``)."""

import keras
import tensorflow as tf
from keras import ops

from tfdisgan._validate import check_int, check_noise_mode, check_number, check_resolution
from tfdisgan.models.gan import GAN, TRACKER_NAMES
from tfdisgan.models.stylegan2.discriminator import Discriminator
from tfdisgan.models.stylegan2.generator import Generator
from tfdisgan.models.stylegan2.phases import StyleGAN2Phases
from tfdisgan.models.stylegan2.presets import preset_optimizers, resolve_preset, split_preset
from tfdisgan.models.stylegan2.style_layers import crossover

_SG2_TRACKERS = ("pl_penalty", "pl_mean")


@keras.saving.register_keras_serializable(package="tfdisgan")
class StyleGAN2(StyleGAN2Phases, GAN):
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
        >>> gan.compile(**preset_optimizers(preset), augment=DiffAugment(), **compile_kwargs)
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
        check_resolution("resolution", resolution)
        check_int("z_dim", z_dim, 1)
        check_int("w_dim", w_dim, 1)
        check_int("num_classes", num_classes, 0)
        check_int("mapping_layers", mapping_layers, 1)
        check_number("style_mixing_prob", style_mixing_prob, 0, 1)
        check_int("truncation_cutoff", truncation_cutoff, 0, allow_none=True)

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
        *,
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
        check_int("r1_interval", r1_interval, 1, allow_none=True)
        check_number("pl_weight", pl_weight, minimum=0)
        check_int("pl_interval", pl_interval, 1, allow_none=True)
        check_int("pl_batch_shrink", pl_batch_shrink, 1)
        check_number("pl_decay", pl_decay, 0, 1)
        super().compile(
            g_optimizer=g_optimizer,
            d_optimizer=d_optimizer,
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
        self._compile_args = {**self._compile_args, "r1_interval": r1_interval,
                              "pl_weight": self.pl_weight, "pl_interval": pl_interval,
                              "pl_batch_shrink": self.pl_batch_shrink, "pl_decay": self.pl_decay}

    @property
    def metrics(self):
        """Trackers: the GAN ones, plus ``pl_penalty`` and ``pl_mean`` when pl is on."""
        names = [n for n in TRACKER_NAMES if n != "r1" or self.r1_gamma > 0]
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
        return crossover(ws, ws2, tf.where(mix, cutoff, num_ws))

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
        check_noise_mode(noise_mode)
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
        check_noise_mode(noise_mode)
        check_int("truncation_cutoff", truncation_cutoff, 0, allow_none=True)
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
        model.compile(**preset_optimizers(preset), augment=augment, **compile_kwargs)
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


__all__ = ["StyleGAN2"]
