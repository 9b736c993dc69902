"""Tests for tfdisgan.models.gan: the training step, EMA, augment routing, resume, replicas."""

import os
import tempfile
import types

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from tests import fixtures
from tests.fixtures import weights_of
from tests.xla_random import consistent_stateless_random
from tfdisgan.models import DCGAN, GAN

RES = 16
Z_DIM = 8
ALL_METRICS = {
    "d_loss",
    "g_loss",
    "d_real",
    "d_fake",
    "d_grad_norm",
    "g_grad_norm",
    "aug_p",
    "r1",
}


def tiny_dcgan(**kwargs):
    return fixtures.tiny_dcgan(**{"resolution": RES, "z_dim": Z_DIM, **kwargs})


def toy_images(n, seed=0):
    return fixtures.toy_images(n, RES, seed)


class RecordingAugment(keras.layers.Layer):
    """Differentiable stand-in for an augment layer that records what it is given (eager)."""

    def __init__(self, reals_only=False, **kwargs):
        super().__init__(**kwargs)
        self.reals_only = reals_only
        self.log = types.SimpleNamespace(calls=[])

    def call(self, images, training=True):
        self.log.calls.append(images)
        return tf.image.flip_left_right(images) * 0.9


class BlockingAugment(keras.layers.Layer):
    reals_only = False

    def call(self, images, training=True):
        return tf.stop_gradient(images)


class NoiseAugment(keras.layers.Layer):
    """Random augment with its own SeedGenerator and an ADA-style probability variable."""

    reals_only = False

    def __init__(self, seed, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.p = keras.Variable(0.25, trainable=False, name="p")

    def call(self, images, training=True):
        noise = keras.random.normal(ops.shape(images), seed=self.seed_generator)
        return images + 0.1 * noise


class GANTrainingTest(tf.test.TestCase):
    def setUp(self):
        super().setUp()
        keras.utils.set_random_seed(0)

    def test_fit_returns_all_metrics(self):
        gan = tiny_dcgan(num_classes=3)
        gan.compile(**DCGAN.default_optimizers(), r1_gamma=1.0, r1_interval=2)
        labels = np.array([0, 1, 2, 0] * 4, np.int32)
        ds = tf.data.Dataset.from_tensor_slices((toy_images(16), labels)).batch(8)
        history = gan.fit(ds, epochs=1, verbose=0, shuffle=False)
        self.assertEqual(set(history.history), ALL_METRICS)
        for name, values in history.history.items():
            self.assertTrue(np.isfinite(values).all(), name)
        self.assertGreater(history.history["r1"][0], 0.0)
        self.assertEqual(int(gan.cur_nimg.numpy()), 16)
        self.assertEqual(int(gan.d_optimizer.iterations.numpy()), 2)
        self.assertEqual(int(gan.g_optimizer.iterations.numpy()), 2)

    def test_python_loop_with_tf_function(self):
        gan = tiny_dcgan()
        gan.compile(**DCGAN.default_optimizers())
        step = tf.function(gan.train_step)
        images = toy_images(16)
        d_before = [w.numpy() for w in gan.discriminator.trainable_weights]
        for i in range(2):
            logs = step(tf.constant(images[8 * i : 8 * (i + 1)]))
        self.assertEqual(set(logs), ALL_METRICS - {"r1"})
        self.assertTrue(all(np.isfinite(float(v)) for v in logs.values()))
        self.assertEqual(int(gan.cur_nimg.numpy()), 16)
        d_after = [w.numpy() for w in gan.discriminator.trainable_weights]
        self.assertFalse(all(np.allclose(a, b) for a, b in zip(d_before, d_after, strict=True)))

    def test_discriminator_learns_separable_toy_set(self):
        gan = tiny_dcgan(batch_norm=False)
        gan.compile(g_optimizer=DCGAN.adam(1e-3), d_optimizer=DCGAN.adam(1e-3))
        reals = tf.fill([8, RES, RES, 3], 0.8)
        d_step = tf.function(lambda x: gan.d_step(x, None, 8)["d_loss"])
        loss = [float(d_step(reals)) for _ in range(40)]
        self.assertAllClose(loss[0], 2 * np.log(2.0), atol=0.2)
        self.assertLess(loss[-1], 0.4 * loss[0])
        self.assertTrue(np.all(np.diff(loss[-20:]) < 0), loss)

    def test_gan_steps_run_under_jit_compile(self):
        # The same model (same seed, same initial weights) trained with and without XLA on
        # the same random numbers (tests/xla_random.py: TF's own stateless draws differ
        # under XLA), two steps with lazy R1 firing at step 0: XLA may fuse and reorder
        # float32 ops, nothing else. Observed max weight difference 4e-9 (with TF's own
        # draws: 8e-4, other latents); tolerance 1e-6 absolute + 1e-5 relative, a few ulps
        # of the losses (~1) and room for Adam, whose first steps move a weight by ~lr =
        # 2e-4 however small its gradient, to amplify a reordered near-zero gradient.
        with consistent_stateless_random():
            results = []
            for jit in (False, True):
                keras.utils.set_random_seed(0)
                gan = tiny_dcgan(batch_norm=False)
                gan.compile(**DCGAN.default_optimizers(), r1_gamma=1.0, r1_interval=2,
                            jit_compile=jit)
                self.assertEqual(gan.jit_compile, jit)  # Keras did not turn XLA off
                start = weights_of(gan)
                history = gan.fit(tf.data.Dataset.from_tensors(toy_images(4)).repeat(2),
                                  verbose=0, shuffle=False)
                results.append((start, weights_of(gan), history.history))
        (start, plain, logs), (xla_start, xla, xla_logs) = results
        for a, b in zip(start, xla_start, strict=True):
            self.assertAllEqual(a, b)  # the comparison starts from the same weights
        self.assertFalse(all(np.allclose(a, b) for a, b in zip(start, plain, strict=True)))
        for a, b in zip(plain, xla, strict=True):
            self.assertAllClose(a, b, atol=1e-6, rtol=1e-5)
        for key in ("d_loss", "g_loss", "r1"):
            self.assertAllClose(logs[key], xla_logs[key], atol=1e-6, rtol=1e-5, msg=key)
        self.assertGreater(xla_logs["r1"][0], 0.0)  # R1 ran inside the compiled step


class EMATest(tf.test.TestCase):
    def setUp(self):
        super().setUp()
        keras.utils.set_random_seed(0)

    def _one_step(self, gan):
        gan.compile(**DCGAN.default_optimizers())
        tf.function(gan.train_step)(tf.constant(toy_images(4)))

    def test_initial_copy(self):
        gan = tiny_dcgan()
        for a, b in zip(gan.generator.weights, gan.generator_ema.weights, strict=True):
            self.assertAllEqual(a, b)
        self.assertEqual(gan.generator_ema.trainable_weights, [])
        self.assertNotIn(id(gan.generator_ema.weights[0]), {id(v) for v in gan.trainable_variables})

    def test_zero_half_life_tracks_generator(self):
        gan = tiny_dcgan(ema_kimg=0.0)
        self._one_step(gan)
        changed = 0
        init = tiny_dcgan(ema_kimg=0.0)  # fresh weights are N(0, 0.02) draws: differ
        for a, b, c in zip(
            gan.generator.weights, gan.generator_ema.weights, init.generator.weights, strict=True
        ):
            self.assertAllClose(a, b, atol=1e-7)
            changed += int(a.shape == c.shape and not np.allclose(a, c))
        self.assertGreater(changed, 0)

    def test_huge_half_life_stays(self):
        gan = tiny_dcgan(ema_kimg=1e9)
        before = [w.numpy() for w in gan.generator_ema.weights]
        self._one_step(gan)
        moved = 0
        buffers_moved = 0
        for w, w_ema, b in zip(
            gan.generator.weights, gan.generator_ema.weights, before, strict=True
        ):
            # Weights and batch-norm moving statistics alike are averaged (DCGAN's
            # ema_buffers = "average"): with a huge half-life both stay.
            self.assertAllClose(w_ema, b, atol=1e-6)
            if w.trainable:
                moved += int(not np.allclose(w, b, atol=1e-6))
            else:
                buffers_moved += int(not np.allclose(w, b, atol=1e-6))
        self.assertGreater(moved, 0)
        self.assertGreater(buffers_moved, 0)  # the raw statistics did move

    def test_rampup_matches_hand_computation(self):
        gan = tiny_dcgan(ema_kimg=10.0, ema_rampup=0.05)
        for w_ema in gan.generator_ema.weights:
            w_ema.assign(w_ema + 1.0)
        gan.cur_nimg.assign(1000)
        ema_before = [w.numpy() for w in gan.generator_ema.weights]
        # ema_nimg = min(10 * 1000, 1000 * 0.05) = 50; beta = 0.5 ** (8 / 50).
        expected_beta = 0.5 ** (8 / 50)
        beta = gan.update_ema(8)
        self.assertAllClose(beta, expected_beta, rtol=1e-6)
        for w, e0, e1 in zip(
            gan.generator.weights, ema_before, gan.generator_ema.weights, strict=True
        ):
            expected = w.numpy() + (e0 - w.numpy()) * expected_beta  # buffers too (DCGAN)
            self.assertAllClose(e1, expected, rtol=1e-5, atol=1e-6)
        # No ramp-up cap when cur_nimg * rampup exceeds the half-life; full copy at nimg 0.
        gan.cur_nimg.assign(10**6)
        self.assertAllClose(gan.ema_beta(8), 0.5 ** (8 / 10_000), rtol=1e-6)
        gan.cur_nimg.assign(0)
        self.assertAllClose(gan.ema_beta(8), 0.0)


class AugmentRoutingTest(tf.test.TestCase):
    def setUp(self):
        super().setUp()
        keras.utils.set_random_seed(0)

    def _calls(self, reals_only, r1_gamma=0.0):
        gan = tiny_dcgan()
        augment = RecordingAugment(reals_only=reals_only)
        gan.compile(**DCGAN.default_optimizers(), augment=augment, r1_gamma=r1_gamma)
        reals = tf.constant(toy_images(4))
        gan.train_step(reals)  # eager, so the layer sees concrete tensors
        return [c.numpy() for c in augment.log.calls], reals.numpy()

    def test_reals_and_fakes_routed(self):
        calls, reals = self._calls(reals_only=False)
        self.assertLen(calls, 3)  # D step: reals, fakes; G step: fakes
        self.assertAllClose(calls[0], reals)
        for fake in calls[1:]:
            self.assertEqual(fake.shape, reals.shape)
            self.assertNotAllClose(fake, reals)
        self.assertNotAllClose(calls[1], calls[2])  # fresh z for the G step

    def test_reals_only(self):
        calls, reals = self._calls(reals_only=True)
        self.assertLen(calls, 1)
        self.assertAllClose(calls[0], reals)

    def test_r1_sees_augmented_reals_once(self):
        calls, reals = self._calls(reals_only=False, r1_gamma=1.0)
        self.assertLen(calls, 3)  # R1 every step reuses the real forward pass
        self.assertAllClose(calls[0], reals)

    def test_gradients_reach_generator_through_augment(self):
        z = tf.random.normal([4, Z_DIM])
        for augment, expect_grads in ((RecordingAugment(), True), (BlockingAugment(), False)):
            gan = tiny_dcgan()
            gan.compile(**DCGAN.default_optimizers(), augment=augment)
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(gan.compute_g_loss(z, None))
            grads = tape.gradient(loss, gan.generator.trainable_variables)
            if expect_grads:
                self.assertTrue(all(g is not None for g in grads))
                self.assertGreater(float(tf.linalg.global_norm(grads)), 0.0)
            else:
                self.assertTrue(all(g is None for g in grads))

    def test_aug_p_logged(self):
        gan = tiny_dcgan()
        gan.compile(**DCGAN.default_optimizers(), augment=NoiseAugment(seed=3))
        logs = tf.function(gan.train_step)(tf.constant(toy_images(4)))
        self.assertAllClose(logs["aug_p"], 0.25)


class ConditionalTest(tf.test.TestCase):
    def test_labels_routed(self):
        keras.utils.set_random_seed(0)
        gan = tiny_dcgan(num_classes=3, batch_norm=False, ema_kimg=0.0)
        gan.compile(**DCGAN.default_optimizers())
        images = toy_images(4)
        with self.assertRaisesRegex(ValueError, "num_classes=3"):
            gan.train_step(tf.constant(images))
        logs = gan.train_step((tf.constant(images), tf.constant([0, 1, 2, 0])))
        self.assertIn("d_loss", logs)
        z = np.random.default_rng(1).normal(size=[1, Z_DIM]).astype(np.float32)
        a = gan.generate(z=z, labels=[0])
        b = gan.generate(z=z, labels=[2])
        self.assertGreater(np.abs(a.astype(int) - b.astype(int)).max(), 0)
        self.assertAllEqual(gan.generate(z=z, labels=0), a)


class CheckpointTest(tf.test.TestCase):
    def _model(self, seed, aug_seed):
        gan = tiny_dcgan(seed=seed, ema_kimg=0.01, ema_rampup=0.05)
        gan.compile(
            **DCGAN.default_optimizers(),
            augment=NoiseAugment(seed=aug_seed),
            r1_gamma=1.0,
            r1_interval=2,
        )
        return gan

    def test_exact_resume(self):
        keras.utils.set_random_seed(0)
        batches = [tf.constant(toy_images(4, seed=i)) for i in range(4)]
        gan = self._model(seed=1, aug_seed=5)
        step = tf.function(gan.train_step)
        for x in batches[:2]:
            step(x)
        ckpt = tf.train.Checkpoint(
            model=gan, g_optimizer=gan.g_optimizer, d_optimizer=gan.d_optimizer
        )
        path = ckpt.save(os.path.join(tempfile.mkdtemp(), "ckpt"))
        saved = {name for name, _ in tf.train.list_variables(path)}
        self.assertTrue(any("_seed_state" in n and "augment" in n for n in saved), saved)
        gan.reset_metrics()  # the trackers are running means; compare the same 2 steps
        for x in batches[2:]:
            logs = step(x)
        expected = weights_of(gan)

        # A model built differently (other seeds, other initial weights) then restored.
        fresh = self._model(seed=99, aug_seed=77)
        self.assertFalse(
            all(np.allclose(a, b) for a, b in zip(weights_of(fresh), expected, strict=True))
        )
        tf.train.Checkpoint(
            model=fresh, g_optimizer=fresh.g_optimizer, d_optimizer=fresh.d_optimizer
        ).restore(path).assert_consumed()
        self.assertEqual(int(fresh.cur_nimg.numpy()), 8)
        self.assertEqual(int(fresh.d_optimizer.iterations.numpy()), 2)
        fresh_step = tf.function(fresh.train_step)
        for x in batches[2:]:
            fresh_logs = fresh_step(x)
        for a, b in zip(weights_of(fresh), expected, strict=True):
            self.assertAllClose(a, b, rtol=1e-5, atol=1e-6)
        self.assertAllClose(fresh_logs["g_loss"], logs["g_loss"], rtol=1e-5)
        self.assertAllEqual(fresh.seed_generator.state, gan.seed_generator.state)
        self.assertAllEqual(fresh.augment.seed_generator.state, gan.augment.seed_generator.state)


class MirroredStrategyTest(tf.test.TestCase):
    def test_two_replicas_match_one(self):
        # No batch norm: it normalises per replica, so 2 x B/2 would differ from 1 x B.
        keras.utils.set_random_seed(0)
        cpus = tf.config.list_logical_devices("CPU")
        self.assertGreaterEqual(len(cpus), 2, "tests/conftest.py splits the CPU in two")
        config = dict(batch_norm=False, seed=3, ema_kimg=0.01)
        single = tiny_dcgan(**config)
        single.compile(**DCGAN.default_optimizers(), r1_gamma=1.0)
        strategy = fixtures.two_replicas()
        with strategy.scope():
            multi = tiny_dcgan(**config)
            for net in ("generator", "discriminator", "generator_ema"):
                getattr(multi, net).set_weights(getattr(single, net).get_weights())
            multi.compile(**DCGAN.default_optimizers(), r1_gamma=1.0)
        self.assertEqual(multi.distribute_strategy.num_replicas_in_sync, 2)

        ds = tf.data.Dataset.from_tensor_slices(toy_images(16)).batch(8)
        h1 = single.fit(ds, epochs=1, verbose=0, shuffle=False).history
        h2 = multi.fit(ds, epochs=1, verbose=0, shuffle=False).history
        for a, b in zip(weights_of(single), weights_of(multi), strict=True):
            self.assertAllClose(a, b, rtol=1e-4, atol=1e-5)
        self.assertEqual(int(multi.cur_nimg.numpy()), 16)
        for name in ("d_loss", "g_loss", "d_grad_norm", "g_grad_norm", "r1"):
            self.assertAllClose(h1[name], h2[name], rtol=1e-4, msg=name)


class GenerateTest(tf.test.TestCase):
    def setUp(self):
        super().setUp()
        keras.utils.set_random_seed(0)
        self.gan = tiny_dcgan(batch_norm=False)

    def test_uint8_and_deterministic(self):
        images = self.gan.generate(seeds=[0, 1, 2], batch_size=2)
        self.assertEqual(images.dtype, np.uint8)
        self.assertEqual(images.shape, (3, RES, RES, 3))
        self.assertAllEqual(self.gan.generate(seeds=[0, 1, 2]), images)
        self.assertNotAllClose(images[0], images[1])
        # Seed i is a stateless Philox draw of seed i alone, whatever the other seeds.
        z = tf.random.stateless_normal([1, Z_DIM], seed=[1, 0], alg="philox")
        self.assertAllEqual(self.gan.generate(z=z), images[1:2])
        self.assertAllEqual(self.gan.generate(seeds=[1]), images[1:2])

    def test_conversion_and_truncation(self):
        z = np.random.RandomState(0).randn(2, Z_DIM)
        raw = self.gan.synthesize(z).numpy()
        expected = (raw * 127.5 + 128).clip(0, 255).astype(np.uint8)
        self.assertAllEqual(self.gan.generate(z=z), expected)
        zero = self.gan.generate(z=z, psi=0.0)
        self.assertAllEqual(zero[0], zero[1])  # psi = 0 maps every z to 0
        self.assertAllEqual(zero, self.gan.generate(z=np.zeros([2, Z_DIM])))

    def test_bad_arguments(self):
        with self.assertRaisesRegex(ValueError, "exactly one"):
            self.gan.generate()
        with self.assertRaisesRegex(ValueError, r"z.shape=\(2, 3\)"):
            self.gan.generate(z=np.zeros([2, 3]))
        with self.assertRaisesRegex(ValueError, "seed=-1"):
            self.gan.generate(seeds=[-1])
        with self.assertRaisesRegex(ValueError, "unconditional"):
            self.gan.generate(seeds=[0], labels=[0])
        with self.assertRaisesRegex(ValueError, "batch_size=0"):
            self.gan.generate(seeds=[0], batch_size=0)
        cond = tiny_dcgan(num_classes=2)
        with self.assertRaisesRegex(ValueError, "num_classes=2"):
            cond.generate(seeds=[0])
        with self.assertRaisesRegex(ValueError, "label=5"):
            cond.generate(seeds=[0, 1], labels=[1, 5])
        with self.assertRaisesRegex(ValueError, "labels"):
            cond.generate(seeds=[0, 1], labels=[1])


class ArgumentTest(tf.test.TestCase):
    def test_constructor_and_compile_validation(self):
        g, d = tiny_dcgan().generator, tiny_dcgan().discriminator
        for kwargs, text in (
            (dict(z_dim=0), "z_dim=0"),
            (dict(z_dim=Z_DIM, num_classes=-1), "num_classes=-1"),
            (dict(z_dim=Z_DIM, ema_kimg=-1.0), "ema_kimg=-1.0"),
            (dict(z_dim=Z_DIM, ema_rampup=-0.5), "ema_rampup=-0.5"),
            (dict(z_dim=Z_DIM, seed=1.5), "seed=1.5"),
        ):
            with self.subTest(kwargs=kwargs):
                with self.assertRaisesRegex(ValueError, text):
                    GAN(g, d, **kwargs)
        gan = GAN(g, d, z_dim=Z_DIM)
        for kwargs, text in (
            (dict(r1_gamma=-1.0), "r1_gamma=-1.0"),
            (dict(r1_interval=0), "r1_interval=0"),
            (dict(optimizer="adam"), "optimizer"),
            (dict(augment=3), "augment=3"),
        ):
            with self.subTest(kwargs=kwargs):
                with self.assertRaisesRegex(ValueError, text):
                    gan.compile(**DCGAN.default_optimizers(), **kwargs)
        opt = DCGAN.adam()
        with self.assertRaisesRegex(ValueError, "distinct"):
            gan.compile(g_optimizer=opt, d_optimizer=opt)
        # Keyword-only: a positional pair (in either order) is a TypeError, never a swap.
        with self.assertRaisesRegex(TypeError, "positional"):
            gan.compile(DCGAN.adam(), DCGAN.adam())
        pair = DCGAN.default_optimizers()
        g_opt, d_opt = pair  # unpacks as a tuple too
        self.assertIs(pair["g_optimizer"], g_opt)
        self.assertIs(pair["d_optimizer"], d_opt)
        self.assertEqual(dict(**pair), {"g_optimizer": g_opt, "d_optimizer": d_opt})
        # The one DCGAN Adam: the paper's values with PyTorch's epsilon, as training.run.
        self.assertAllClose(float(g_opt.learning_rate), 2e-4)  # a float32 variable
        self.assertEqual((g_opt.beta_1, g_opt.beta_2, g_opt.epsilon), (0.5, 0.999, 1e-8))
        with self.assertRaisesRegex(ValueError, "compile"):
            gan.build_optimizers()

    def test_fit_with_validation_data_says_what_to_do(self):
        gan = tiny_dcgan()
        gan.compile(**DCGAN.default_optimizers())
        data = tf.data.Dataset.from_tensors(toy_images(4))
        for kwargs in (dict(validation_data=data), dict(validation_split=0.1)):
            with self.subTest(kwargs=list(kwargs)):
                with self.assertRaisesRegex(ValueError, "no held-out loss.*tfdisgan.metrics"):
                    gan.fit(data, **kwargs)
        with self.assertRaisesRegex(ValueError, "no held-out loss"):
            gan.evaluate(data, verbose=0)
        self.assertEqual(int(gan.d_optimizer.iterations.numpy()), 0)  # nothing trained

    def test_generate_takes_class_names(self):
        import unicodedata

        gan = tiny_dcgan(num_classes=3)
        gan.class_names = ("건물화재", "산불", "홍수")
        by_id = gan.generate(seeds=[0, 1], labels=[2, 0])
        nfd = unicodedata.normalize("NFD", "홍수")  # as macOS writes folder names
        self.assertAllEqual(gan.generate(seeds=[0, 1], labels=[nfd, "건물화재"]), by_id)
        self.assertAllEqual(gan.generate(seeds=[0, 1], labels="홍수"),
                            gan.generate(seeds=[0, 1], labels=2))
        with self.assertRaisesRegex(ValueError, "Unknown class 'volcano'; valid: 0=건물화재"):
            gan.generate(seeds=[0], labels="volcano")
        with self.assertRaisesRegex(ValueError, r"0=건물화재, 1=산불, 2=홍수.*--class"):
            gan.generate(seeds=[0])

    def test_call_is_the_generator(self):
        gan = tiny_dcgan()
        z = tf.random.normal([2, Z_DIM])
        self.assertAllClose(gan(z), gan.generator(z, training=False))


class SubclassedGenerator(keras.Model):
    """A StyleGAN2-like subclassed generator: built lazily, with its own noise SeedGenerator."""

    def __init__(self, z_dim=Z_DIM, **kwargs):
        super().__init__(**kwargs)
        self.z_dim = z_dim
        self.dense = keras.layers.Dense(8 * 8 * 3)
        self.noise = keras.random.SeedGenerator(7)

    def call(self, z, training=False):
        noise = keras.random.normal((ops.shape(z)[0], 8 * 8 * 3), seed=self.noise)
        return ops.tanh(ops.reshape(self.dense(z) + 0.01 * noise, (-1, 8, 8, 3)))

    def get_config(self):
        return {"z_dim": self.z_dim, **super().get_config()}


class SubclassedDiscriminator(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.flatten = keras.layers.Flatten()
        self.dense = keras.layers.Dense(1)

    def call(self, images, training=False):
        return self.dense(self.flatten(images))


class SubclassedNetworksTest(tf.test.TestCase):
    def test_unbuilt_subclassed_networks(self):
        keras.utils.set_random_seed(0)
        gan = GAN(SubclassedGenerator(), SubclassedDiscriminator(), z_dim=Z_DIM, seed=0)
        self.assertLen(gan.generator_ema.weights, len(gan.generator.weights))
        self.assertLen(gan.discriminator.weights, 2)
        for a, b in zip(gan.generator.weights, gan.generator_ema.weights, strict=True):
            self.assertAllEqual(a, b)
        gan.compile(g_optimizer=GAN.adam(), d_optimizer=GAN.adam(), r1_gamma=1.0)
        x = np.random.default_rng(0).uniform(-1, 1, [8, 8, 8, 3]).astype(np.float32)
        history = gan.fit(x, batch_size=4, verbose=0, shuffle=False).history
        self.assertTrue(np.isfinite(history["r1"]).all())
        # The generators' noise seeds are checkpointed too.
        self.assertIn("_seed_state_generator_0", gan._seed_states())
        self.assertEqual(gan.generate(seeds=[0, 1]).shape, (2, 8, 8, 3))
