"""Tests for StyleGAN2 training (tfdisgan.models.stylegan2.StyleGAN2).

The phases of training_loop.py (Gmain, Greg, Dmain, Dreg) with lazy regularisation, style
mixing, R1 and path-length penalties against independent computations, lazy Adam, the
generator EMA and its buffers, save/load round trips, and 1 vs 2 replicas.
"""

import os
import tempfile

import keras
import numpy as np
import tensorflow as tf

from tests import fixtures
from tests.fixtures import weights_of
from tfdisgan.augment import DiffAugment
from tfdisgan.models.stylegan2 import (
    StyleGAN2,
    lazy_adam,
    path_lengths,
    preset_optimizers,
    resolve_preset,
)

RES = 16
ALL_METRICS = {
    "d_loss", "g_loss", "d_real", "d_fake", "d_grad_norm", "g_grad_norm", "aug_p", "r1",
    "pl_penalty", "pl_mean",
}


def tiny_gan(**kwargs):
    return fixtures.tiny_stylegan2(**{**dict(resolution=RES, z_dim=32, w_dim=32,
                                             channel_base=256, channel_max=32,
                                             mapping_layers=2), **kwargs})


def compile_tiny(gan, augment=None, **kwargs):
    config = dict(r1_gamma=1.0, r1_interval=2, pl_interval=2)
    config.update(kwargs)
    gan.compile(
        g_optimizer=lazy_adam(2e-3, interval=config["pl_interval"]),
        d_optimizer=lazy_adam(2e-3, interval=config["r1_interval"]),
        augment=augment,
        **config,
    )
    return gan


def toy_images(n, seed=0):
    return fixtures.toy_images(n, RES, seed)


class FitTest(tf.test.TestCase):
    """One conditional model trained with fit for 3 steps (reg steps at batch_idx 0, 2)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        keras.utils.set_random_seed(0)
        # A huge half-life without ramp-up: G_ema stays at its start while G moves.
        cls.gan = tiny_gan(num_classes=3, ema_kimg=1000.0, ema_rampup=None)
        compile_tiny(cls.gan, augment=DiffAugment("color,translation,cutout", seed=2))
        cls.initial_g = [w.numpy() for w in cls.gan.generator.weights]
        cls.traces = []
        step = cls.gan.train_step

        def counted_step(data):
            cls.traces.append(1)  # runs once per trace, not per step
            return step(data)

        cls.gan.train_step = counted_step
        labels = np.array([0, 1, 2, 1] * 3, np.int32)
        data = tf.data.Dataset.from_tensor_slices((toy_images(12), labels)).batch(4)
        cls.history = cls.gan.fit(data, epochs=1, verbose=0, shuffle=False).history

    def test_metrics_present_and_finite(self):
        self.assertEqual(set(self.history), ALL_METRICS)
        for name, values in self.history.items():
            self.assertTrue(np.isfinite(values).all(), msg=name)
        self.assertGreater(self.history["r1"][0], 0.0)
        self.assertGreater(self.history["pl_penalty"][0], 0.0)

    def test_phases_and_single_trace(self):
        gan = self.gan
        self.assertEqual(int(gan.batch_idx.numpy()), 3)
        self.assertEqual(int(gan.cur_nimg.numpy()), 12)
        # Gmain/Dmain every step (3) + Greg/Dreg at batch_idx 0 and 2, separate steps.
        self.assertEqual(int(gan.g_optimizer.iterations.numpy()), 5)
        self.assertEqual(int(gan.d_optimizer.iterations.numpy()), 5)
        # One traced function served reg and non-reg steps.
        self.assertLen(self.traces, 1)

    def test_pl_mean_and_w_avg_updated(self):
        self.assertGreater(float(self.gan.pl_mean.numpy()), 0.0)
        self.assertGreater(self.history["pl_mean"][0], 0.0)
        self.assertGreater(np.abs(self.gan.generator.mapping.w_avg.numpy()).max(), 0.0)

    def test_ema_and_buffers(self):
        gan = self.gan
        g, g_ema = gan.generator, gan.generator_ema
        # Buffers are copied (official: `b_ema.copy_(b)`), parameters follow the EMA.
        self.assertAllEqual(g_ema.mapping.w_avg, g.mapping.w_avg)
        for a, b in zip(g.weights, g_ema.weights, strict=True):
            if a.path.endswith("noise_const"):
                self.assertAllEqual(a, b)
        # beta = 0.5 ** (4 / 1e6) per step: after 3 steps G_ema has moved by at most
        # 3 * (1 - beta) ~ 8e-6 of G's displacement, while G itself moved.
        pairs = [
            (w.numpy(), w_ema.numpy(), w0)
            for w, w_ema, w0 in zip(g.weights, g_ema.weights, self.initial_g, strict=True)
            if w.trainable
        ]
        self.assertGreater(max(np.abs(w - w0).max() for w, _, w0 in pairs), 1e-3)
        for w, w_ema, w0 in pairs:
            self.assertLessEqual(np.abs(w_ema - w0).max(), 1e-5 * np.abs(w - w0).max() + 1e-7)

    def test_generate_truncation_and_noise(self):
        gan = self.gan
        a = gan.generate(seeds=[0, 1, 2], labels=[0, 1, 2])
        self.assertAllEqual(a, gan.generate(seeds=[0, 1, 2], labels=[0, 1, 2]))  # const
        # psi = 0: every image is the image of w_avg (labels only enter through w).
        avg = gan.synthesize(np.random.normal(size=[3, 32]), np.array([0, 1, 2]), psi=0.0)
        self.assertAllClose(avg[0], avg[1], atol=1e-5)
        full = gan.synthesize(np.ones([2, 32]), np.array([0, 0]), psi=0.5)
        cut = gan.synthesize(np.ones([2, 32]), np.array([0, 0]), psi=0.5, truncation_cutoff=2)
        self.assertNotAllClose(full, cut)
        with self.assertRaisesRegex(ValueError, "noise_mode"):
            gan.generate(seeds=[0], labels=[0], noise_mode="fixed")

    def test_keras_saving_and_checkpoint_round_trips(self):
        gan = self.gan
        kwargs = dict(seeds=[3, 4, 5], labels=[0, 1, 2], psi=0.7, truncation_cutoff=3)
        expected = gan.generate(**kwargs)
        folder = tempfile.mkdtemp()
        path = os.path.join(folder, "stylegan2.keras")
        gan.save(path)
        loaded = keras.saving.load_model(path)
        self.assertIsInstance(loaded, StyleGAN2)
        self.assertAllEqual(loaded.generate(**kwargs), expected)
        self.assertAllEqual(loaded.generator_ema.mapping.w_avg, gan.generator_ema.mapping.w_avg)

        ckpt = tf.train.Checkpoint(
            model=gan, g_optimizer=gan.g_optimizer, d_optimizer=gan.d_optimizer
        )
        saved = ckpt.save(os.path.join(folder, "ckpt"))
        fresh = compile_tiny(
            tiny_gan(num_classes=3, seed=9, ema_kimg=1000.0), augment=DiffAugment(seed=7)
        )
        tf.train.Checkpoint(
            model=fresh, g_optimizer=fresh.g_optimizer, d_optimizer=fresh.d_optimizer
        ).restore(saved).assert_consumed()
        self.assertAllEqual(fresh.generate(**kwargs), expected)
        for a, b in zip(weights_of(fresh), weights_of(gan), strict=True):
            self.assertAllEqual(a, b)
        self.assertEqual(float(fresh.pl_mean.numpy()), float(gan.pl_mean.numpy()))
        self.assertEqual(int(fresh.batch_idx.numpy()), 3)
        self.assertEqual(int(fresh.g_optimizer.iterations.numpy()), 5)


class StyleMixingTest(tf.test.TestCase):
    def setUp(self):
        super().setUp()
        keras.utils.set_random_seed(0)

    def test_mixing_swaps_a_suffix_of_layers(self):
        gan = tiny_gan(style_mixing_prob=1.0)
        ws = gan.generator.mapping(tf.random.normal([3, 32]))
        w_avg = gan.generator.mapping.w_avg.numpy()
        cutoffs = set()
        for _ in range(12):
            mixed = gan.mix_styles(ws, None).numpy()
            same = np.all(np.isclose(mixed, ws.numpy()), axis=(0, 2))
            cutoff = int(np.argmin(same))  # first layer from the second latent
            self.assertTrue(1 <= cutoff < gan.num_ws)
            self.assertTrue(same[:cutoff].all())
            self.assertFalse(same[cutoff:].any())
            # After the cutoff every layer holds the same (second) w.
            self.assertAllClose(mixed[:, cutoff:], np.repeat(mixed[:, -1:], gan.num_ws - cutoff, 1))
            cutoffs.add(cutoff)
        self.assertGreater(len(cutoffs), 1)  # the crossover layer is random
        self.assertAllEqual(gan.generator.mapping.w_avg, w_avg)  # skip_w_avg_update

    def test_mixing_probability(self):
        gan = tiny_gan(style_mixing_prob=0.9)
        ws = gan.generator.mapping(tf.random.normal([2, 32]))
        mixed = [
            not np.allclose(gan.mix_styles(ws, None).numpy(), ws.numpy()) for _ in range(60)
        ]
        self.assertBetween(np.mean(mixed), 0.75, 0.99)
        gan.style_mixing_prob = 0.0
        self.assertAllClose(gan.generator_ws(tf.ones([2, 32]), None), gan.generator.mapping(
            tf.ones([2, 32])))


class RegularizationTest(tf.test.TestCase):
    def setUp(self):
        super().setUp()
        keras.utils.set_random_seed(0)

    def test_r1_matches_finite_differences(self):
        gan = tiny_gan()
        reals = tf.constant(toy_images(2, seed=3))
        r1, _ = gan.compute_r1(reals, None)

        def d_sum(x):
            return float(tf.reduce_sum(gan.run_discriminator(x, None, training=True)))

        with tf.GradientTape() as tape:
            tape.watch(reals)
            total = tf.reduce_sum(gan.run_discriminator(reals, None, training=True))
        grads = tape.gradient(total, reals).numpy()
        for i in range(2):
            # sum(D) is separable over examples (mbstd group 2 couples them, so perturb
            # one example and use the full sum): the derivative along g_i / |g_i| is |g_i|.
            direction = np.zeros_like(grads)
            direction[i] = grads[i] / np.linalg.norm(grads[i])
            eps = 1e-2
            fd = (d_sum(reals + eps * direction) - d_sum(reals - eps * direction)) / (2 * eps)
            self.assertAllClose(fd**2, r1[i], rtol=2e-2)

    def test_r1_step_scaling(self):
        # Dreg: loss = r1_gamma / 2 * r1_interval * mean(r1); with SGD(1) the update is
        # minus its gradient.
        gan = tiny_gan()
        gan.compile(g_optimizer=keras.optimizers.SGD(1.0), d_optimizer=keras.optimizers.SGD(1.0),
                    r1_gamma=3.0,
                    r1_interval=4)
        reals = tf.constant(toy_images(4, seed=4))
        before = [v.numpy() for v in gan.discriminator.trainable_variables]
        with tf.GradientTape() as outer:
            with tf.GradientTape() as inner:
                inner.watch(reals)
                total = tf.reduce_sum(gan.discriminator(reals, training=True))
            r1 = tf.reduce_sum(tf.square(inner.gradient(total, reals)), axis=[1, 2, 3])
            loss = 3.0 / 2 * 4 * tf.reduce_mean(r1)
        expected = outer.gradient(loss, gan.discriminator.trainable_variables)
        gan.r1_step(reals, None, 4)
        for b, v, g in zip(before, gan.discriminator.trainable_variables, expected, strict=True):
            g = np.zeros_like(b) if g is None else g  # e.g. the output bias: no R1 gradient
            self.assertAllClose(b - v.numpy(), g, rtol=1e-3, atol=1e-6)

    def test_path_lengths_closed_form(self):
        # A linear synthesis img = reshape(A @ vec(ws)): J^T y = A^T vec(y) exactly.
        rng = np.random.default_rng(0)
        num_ws, w_dim = 3, 4
        a = rng.normal(size=[RES * RES * 3, num_ws * w_dim]).astype(np.float32)
        ws = tf.constant(rng.normal(size=[2, num_ws, w_dim]), tf.float32)
        noise = rng.normal(size=[2, RES, RES, 3]).astype(np.float32) / RES

        def synthesis(w):
            flat = tf.reshape(w, [2, -1])
            return tf.reshape(tf.matmul(flat, a, transpose_b=True), [2, RES, RES, 3])

        grads = (noise.reshape(2, -1) @ a).reshape(2, num_ws, w_dim)
        expected = np.sqrt((grads**2).sum(axis=2).mean(axis=1))
        self.assertAllClose(path_lengths(synthesis, ws, noise), expected, rtol=1e-4)

    def test_pl_penalty_and_mean(self):
        gan = compile_tiny(tiny_gan(style_mixing_prob=0.0), pl_decay=0.1)
        gan.train_noise_mode = "const"
        gan.pl_mean.assign(0.5)
        z = tf.random.normal([2, 32])
        penalty, lengths = gan.compute_pl_penalty(z, None)
        new_mean = 0.5 + (np.mean(lengths) - 0.5) * 0.1
        self.assertAllClose(gan.pl_mean, new_mean, rtol=1e-5)
        self.assertAllClose(penalty, (lengths.numpy() - new_mean) ** 2, rtol=1e-5)
        # The lengths are those of the real synthesis network (jacobian check, example 0).
        ws = gan.generator.mapping(z)
        noise = tf.random.normal([2, RES, RES, 3]) / RES
        synth = gan.generator.synthesis
        lengths = path_lengths(lambda w: synth(w, noise_mode="const"), ws, noise)
        with tf.GradientTape() as tape:
            tape.watch(ws)
            first = synth(ws, noise_mode="const")[0]
        jac = tape.jacobian(first, ws)[..., 0, :, :].numpy()  # [H, W, C, num_ws, w_dim]
        jty = np.tensordot(noise[0].numpy(), jac, axes=3)
        self.assertAllClose(lengths[0], np.sqrt((jty**2).sum(axis=1).mean()), rtol=1e-4)

    def test_pl_step_scaling(self):
        # Greg: loss = pl_weight * pl_interval * mean((len - pl_mean)^2) on batch // shrink
        # rows; replay the same random draws to compute the expected SGD(1) update.
        gan = tiny_gan()
        gan.compile(g_optimizer=keras.optimizers.SGD(1.0), d_optimizer=keras.optimizers.SGD(1.0),
                    pl_weight=2.0,
                    pl_interval=3, pl_batch_shrink=2)
        gan.train_noise_mode = "const"
        variables = gan.generator.trainable_variables
        start = gan.generator.get_weights()
        seed_state = gan.seed_generator.state.numpy()
        gan.pl_step(tf.constant(4), None, tf.constant(4))
        got = [v.numpy() for v in variables]
        pl_mean_after = float(gan.pl_mean.numpy())

        gan.generator.set_weights(start)
        gan.seed_generator.state.assign(seed_state)
        gan.pl_mean.assign(0.0)
        with tf.GradientTape() as tape:
            rows, z, _ = gan._pl_inputs(tf.constant(4), None)
            penalty, _ = gan.compute_pl_penalty(z, None)
            loss = 2.0 * 3 * tf.reduce_mean(penalty)
        self.assertEqual(int(rows), 2)
        expected = tape.gradient(loss, variables)
        trainable_start = [
            w for w, v in zip(start, gan.generator.weights, strict=True) if v.trainable
        ]
        for s, g, e in zip(trainable_start, got, expected, strict=True):
            e = np.zeros_like(s) if e is None else e  # e.g. ToRGB biases: no J^T y term
            # The mapping weights are ~100 (N(0, 1) / lr_multiplier): float32 resolution.
            self.assertAllClose(s - g, e, rtol=1e-3, atol=1e-6 * (1 + np.abs(s).max()))
        self.assertAllClose(gan.pl_mean, pl_mean_after)

    def test_both_phases_in_one_step(self):
        # r1_interval=None / pl_interval=None: the official "Dboth" / "Gboth" phases.
        gan = tiny_gan(mbstd_group_size=1)
        gan.compile(g_optimizer=lazy_adam(2e-3), d_optimizer=lazy_adam(2e-3),
                    r1_gamma=1.0, r1_interval=None,
                    pl_interval=None)
        logs = gan.train_step(tf.constant(toy_images(2)))
        self.assertEqual(int(gan.g_optimizer.iterations.numpy()), 1)
        self.assertEqual(int(gan.d_optimizer.iterations.numpy()), 1)
        for name in ("r1", "pl_penalty", "pl_mean", "g_loss", "d_loss"):
            self.assertTrue(np.isfinite(logs[name].numpy()), msg=name)
        self.assertGreater(float(logs["r1"]), 0.0)
        self.assertGreater(float(logs["pl_mean"]), 0.0)


class LazyAdamTest(tf.test.TestCase):
    def test_values(self):
        opt = lazy_adam(0.0025, (0.0, 0.99), interval=16)
        ratio = 16 / 17
        self.assertAllClose(float(opt.learning_rate), 0.0025 * ratio)
        self.assertEqual(opt.beta_1, 0.0)
        self.assertAllClose(opt.beta_2, 0.99**ratio)
        self.assertAllClose(opt.epsilon, 1e-8)
        plain = lazy_adam(0.002, (0.5, 0.9), interval=None)
        self.assertAllClose([float(plain.learning_rate), plain.beta_1, plain.beta_2],
                            [0.002, 0.5, 0.9])
        g_opt, d_opt = preset_optimizers(resolve_preset("paper256", 256))
        self.assertAllClose(float(g_opt.learning_rate), 0.0025 * 4 / 5)
        self.assertAllClose(float(d_opt.learning_rate), 0.0025 * 16 / 17)
        self.assertAllClose(g_opt.beta_2, 0.99 ** 0.8)

    def test_from_preset(self):
        keras.utils.set_random_seed(0)
        gan, preset = StyleGAN2.from_preset("cpu_tiny", 16, channel_max=32, seed=0)
        self.assertEqual((gan.resolution, gan.channel_base, gan.channel_max), (16, 4096, 32))
        self.assertEqual((gan.r1_interval, gan.pl_interval), (16, 4))
        self.assertAllClose(gan.r1_gamma, 0.0002 * 16**2 / preset["batch"])
        self.assertAllClose(float(gan.d_optimizer.learning_rate), 0.0025 * 16 / 17)
        with self.assertRaisesRegex(ValueError, "Unknown preset keys"):
            StyleGAN2.from_preset("cpu_tiny", 16, lrate_g=1.0)


class FixedNoiseTest(tf.test.TestCase):
    def test_same_seed_same_random_noise_and_the_stream_continues(self):
        gan = tiny_gan()
        for layer in gan.generator_ema._flatten_layers():
            if hasattr(layer, "noise_strength"):
                layer.noise_strength.assign(1.0)  # 0 at init: noise would not show
        z = np.random.RandomState(0).randn(2, 32).astype(np.float32)

        def images():
            return gan.generate(z=z, noise_mode="random")

        first = images()
        self.assertNotAllEqual(first, images())  # random noise: the stream moves
        states = [v.numpy() for v in gan._seed_states().values()]
        with gan.fixed_noise(7):
            a = images()
        with gan.fixed_noise(7):
            b = images()
        with gan.fixed_noise(8):
            c = images()
        self.assertAllEqual(a, b)
        self.assertNotAllEqual(a, c)
        for before, v in zip(states, gan._seed_states().values(), strict=True):
            self.assertAllEqual(before, v.numpy())  # the training streams are untouched
        with self.assertRaisesRegex(ValueError, "seed=-1"):
            with gan.fixed_noise(-1):
                pass


class MirroredStrategyTest(tf.test.TestCase):
    def test_two_replicas_match_one(self):
        # Per-replica parts are made replica-independent: mbstd group 1 (groups never span
        # replicas), const noise (each replica's noise layers draw their own [B/2] noise)
        # and no augment (DiffAugment folds in the replica id). Latents, mixing draws and
        # path-length noise are global; pl_mean and w_avg use the mean over replicas.
        # Two steps: batch_idx 0 runs Greg and Dreg (run_if's cross-replica branch), 1 not.
        keras.utils.set_random_seed(0)
        cpus = tf.config.list_logical_devices("CPU")
        self.assertGreaterEqual(len(cpus), 2, "tests/conftest.py splits the CPU in two")
        config = dict(mbstd_group_size=1, seed=3, ema_kimg=0.01)
        single = compile_tiny(tiny_gan(**config))
        single.train_noise_mode = "const"
        # ReductionToOneDevice: no collective ops, whose instance keys collide with those of
        # another MirroredStrategy built earlier in the same process (tests/models/
        # test_gan.py): "Shape mismatch in the collective instance 100".
        strategy = fixtures.two_replicas(reduce_to_one_device=True)
        with strategy.scope():
            multi = tiny_gan(**config)
            for net in ("generator", "discriminator", "generator_ema"):
                getattr(multi, net).set_weights(getattr(single, net).get_weights())
            compile_tiny(multi)
        multi.train_noise_mode = "const"
        images = toy_images(8)
        # The reference runs eagerly (cheaper than a second trace); the replicas run fit.
        for i in range(2):
            logs = single.train_step(tf.constant(images[4 * i : 4 * i + 4]))
        data = tf.data.Dataset.from_tensor_slices(images).batch(4)
        history = multi.fit(data, epochs=1, verbose=0, shuffle=False).history
        # Tolerance: float32 reductions in a different order (observed max diff ~4e-6).
        for a, b in zip(weights_of(single), weights_of(multi), strict=True):
            self.assertAllClose(a, b, rtol=1e-4, atol=1e-5)
        self.assertAllClose(single.pl_mean, multi.pl_mean, rtol=1e-5)
        self.assertGreater(float(multi.pl_mean.numpy()), 0.0)
        self.assertEqual(int(multi.g_optimizer.iterations.numpy()), 3)
        self.assertEqual(int(multi.batch_idx.numpy()), 2)
        self.assertEqual(int(multi.cur_nimg.numpy()), 8)
        for name in ALL_METRICS:
            self.assertAllClose(logs[name], history[name][0], rtol=1e-4, atol=1e-6, msg=name)

class NanToNumTest(tf.test.TestCase):
    def test_as_the_official_nan_to_num(self):
        # misc.nan_to_num(grad, nan=0, posinf=1e5, neginf=-1e5): finite values (even beyond
        # 1e5) unchanged; in a graph as in the train step; None and ints pass through.
        from tfdisgan.models.stylegan2.phases import _nan_to_num

        grad = tf.constant([np.nan, np.inf, -np.inf, 1e6, -2.5, 0.0, -0.0])
        expected = [0.0, 1e5, -1e5, 1e6, -2.5, 0.0, -0.0]
        for fn in (_nan_to_num, tf.function(_nan_to_num)):
            out = fn([grad, None, tf.constant([3], tf.int32)])
            self.assertAllEqual(out[0], expected)
            self.assertIsNone(out[1])
            self.assertAllEqual(out[2], [3])


if __name__ == "__main__":
    tf.test.main()
