"""Tests for tfdisgan.models.dcgan: shapes, ranges, parameter counts, argument checks."""

import keras
import numpy as np
import tensorflow as tf

from tfdisgan.models import DCGAN, build_dcgan_discriminator, build_dcgan_generator
from tfdisgan.models.dcgan import dcgan_channels


def _trainable_count(model):
    return int(sum(np.prod(v.shape) for v in model.trainable_weights))


class DCGANNetworksTest(tf.test.TestCase):
    def setUp(self):
        super().setUp()
        keras.utils.set_random_seed(0)

    def test_output_shapes(self):
        for resolution in (32, 64):
            for num_classes in (0, 3):
                with self.subTest(resolution=resolution, num_classes=num_classes):
                    g = build_dcgan_generator(
                        resolution,
                        z_dim=8,
                        base_channels=8,
                        num_classes=num_classes,
                        max_channels=32,
                    )
                    d = build_dcgan_discriminator(
                        resolution, base_channels=8, num_classes=num_classes, max_channels=32
                    )
                    z = tf.constant(np.random.normal(size=[2, 8]), tf.float32)
                    labels = tf.constant([0, 2], tf.int32)
                    g_in = [z, labels] if num_classes else z
                    images = g(g_in, training=False)
                    self.assertEqual(images.shape, (2, resolution, resolution, 3))
                    d_in = [images, labels] if num_classes else images
                    self.assertEqual(d(d_in, training=False).shape, (2, 1))

    def test_generator_output_in_tanh_range(self):
        g = build_dcgan_generator(32, z_dim=8, base_channels=8, max_channels=32)
        z = 50.0 * np.random.normal(size=[4, 8]).astype(np.float32)
        images = g(z, training=True).numpy()
        self.assertLessEqual(images.max(), 1.0)
        self.assertGreaterEqual(images.min(), -1.0)
        self.assertGreater(images.std(), 0.0)

    def test_channel_schedule_and_reference_parameter_counts(self):
        # PyTorch DCGAN at 64 px, nz=100, ngf=ndf=64: 4x4x512 -> 8x8x256 -> 16x16x128 -> 32x32x64.
        self.assertEqual(
            [dcgan_channels(s, 64, 64, 512) for s in (4, 8, 16, 32)], [512, 256, 128, 64]
        )
        self.assertEqual(dcgan_channels(4, 512, 64, 512), 512)  # capped
        g = build_dcgan_generator(64)
        d = build_dcgan_discriminator(64)
        self.assertEqual(g.get_layer("project_reshape").output.shape, (None, 4, 4, 512))
        self.assertEqual(g.get_layer("up32_conv").output.shape, (None, 32, 32, 64))
        # netG / netD of the PyTorch DCGAN example (bias-free, BN weight+bias trainable).
        self.assertEqual(_trainable_count(g), 3_576_704)
        self.assertEqual(_trainable_count(d), 2_765_568)

    def test_batch_norm_flag(self):
        g = build_dcgan_generator(16, z_dim=4, base_channels=4, batch_norm=False)
        d = build_dcgan_discriminator(16, base_channels=4, batch_norm=False)
        for net in (g, d):
            names = [layer.name for layer in net.layers]
            self.assertFalse(any(n.endswith("_bn") for n in names), names)
        g_bn = build_dcgan_generator(16, z_dim=4, base_channels=4)
        self.assertIn("project_bn", [layer.name for layer in g_bn.layers])
        d_bn = build_dcgan_discriminator(16, base_channels=4)
        d_names = [layer.name for layer in d_bn.layers]
        self.assertNotIn("down8_bn", d_names)  # never on the first layer
        self.assertIn("down4_bn", d_names)

    def test_parameter_count_grows_with_resolution(self):
        counts = [
            build_dcgan_generator(r, z_dim=8, base_channels=4, max_channels=32).count_params()
            for r in (16, 32, 64)
        ]
        self.assertLess(counts[0], counts[1])
        self.assertLess(counts[1], counts[2])
        d_counts = [
            build_dcgan_discriminator(r, base_channels=4, max_channels=32).count_params()
            for r in (16, 32, 64)
        ]
        self.assertLess(d_counts[0], d_counts[1])
        self.assertLess(d_counts[1], d_counts[2])

    def test_labels_change_generator_and_projection(self):
        # Without batch norm the untrained outputs are not tiny, so a relative check is stable.
        g = build_dcgan_generator(16, z_dim=8, base_channels=8, num_classes=4, batch_norm=False)
        d = build_dcgan_discriminator(16, base_channels=8, num_classes=4, batch_norm=False)
        z = tf.constant(np.random.normal(size=[1, 8]), tf.float32)
        a = g([z, tf.constant([0])], training=False)
        b = g([z, tf.constant([3])], training=False)
        scale = float(tf.reduce_max(tf.abs(a)))
        self.assertGreater(scale, 0.0)
        self.assertGreater(float(tf.reduce_max(tf.abs(a - b))), 1e-2 * scale)
        # Projection: the label term is <embed(y), features>, so logits differ by class.
        la = d([a, tf.constant([0])], training=False)
        lb = d([a, tf.constant([3])], training=False)
        self.assertNotAllClose(la, lb)
        emb = d.get_layer("class_projection")
        self.assertEqual(emb.embeddings.shape, (4, 4 * 4 * 16))  # 4x4 x (8 * 16 / 8)

    def test_bad_arguments_raise(self):
        for bad in (48, 8, 1024, 64.0):
            with self.subTest(resolution=bad):
                with self.assertRaisesRegex(ValueError, f"resolution={bad}"):
                    build_dcgan_generator(bad)
                with self.assertRaisesRegex(ValueError, f"resolution={bad}"):
                    build_dcgan_discriminator(bad)
        with self.assertRaisesRegex(ValueError, "base_channels=0"):
            build_dcgan_generator(32, base_channels=0)
        with self.assertRaisesRegex(ValueError, "num_classes=-1"):
            build_dcgan_discriminator(32, num_classes=-1)
        with self.assertRaisesRegex(ValueError, "max_channels=0"):
            build_dcgan_discriminator(32, max_channels=0)
        with self.assertRaisesRegex(ValueError, "z_dim=0"):
            build_dcgan_generator(32, z_dim=0)
        with self.assertRaisesRegex(ValueError, "resolution=100"):
            DCGAN(resolution=100)


class DCGANModelTest(tf.test.TestCase):
    def test_model_builds_both_networks_and_config_round_trips(self):
        gan = DCGAN(
            resolution=16,
            z_dim=8,
            base_channels=8,
            max_channels=16,
            num_classes=2,
            batch_norm=False,
            ema_kimg=1.0,
            seed=3,
        )
        self.assertEqual(gan.generator.output.shape, (None, 16, 16, 3))
        self.assertEqual(gan.discriminator.output.shape, (None, 1))
        config = gan.get_config()
        clone = DCGAN.from_config(config)
        self.assertEqual(clone.get_config(), config)
        self.assertEqual(clone.generator.count_params(), gan.generator.count_params())

    def test_default_optimizers(self):
        g_opt, d_opt = DCGAN.default_optimizers()
        self.assertIsNot(g_opt, d_opt)
        for opt in (g_opt, d_opt):
            self.assertIsInstance(opt, keras.optimizers.Adam)
            self.assertAllClose(float(opt.learning_rate), 2e-4)
            self.assertAllClose(opt.beta_1, 0.5)
