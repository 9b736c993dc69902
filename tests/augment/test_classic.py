"""Tests for tfdisgan.augment.classic (the reals-only flip/translate/rotate baseline)."""

import keras
import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from tfdisgan.augment import ClassicAugment


def _images(shape, seed=0):
    return np.random.default_rng(seed).uniform(-1.0, 1.0, size=shape).astype(np.float32)


class ClassicAugmentTest(tf.test.TestCase, parameterized.TestCase):
    def test_shape_dtype_range_in_tf_function(self):
        layer = ClassicAugment(seed=0)
        fn = tf.function(
            lambda t: layer(t), input_signature=[tf.TensorSpec([None, 16, 12, 3], tf.float32)]
        )
        x = tf.constant(_images((4, 16, 12, 3)))
        for batch in (3, 4):
            y = fn(x[:batch])
            self.assertEqual(y.shape, (batch, 16, 12, 3))
            self.assertEqual(y.dtype, tf.float32)
            # Bilinear interpolation with reflect fill stays inside the input range.
            self.assertAllInRange(y, -1.0 - 1e-5, 1.0 + 1e-5)
        self.assertNotAllClose(fn(x), x)

    def test_flips_occur_per_sample(self):
        x = _images((16, 8, 8, 3))
        out = ClassicAugment(flip=True, translation=0.0, rotation=0.0, seed=1)(x).numpy()
        flipped = [np.array_equal(o, i[:, ::-1]) for o, i in zip(out, x, strict=True)]
        kept = [np.array_equal(o, i) for o, i in zip(out, x, strict=True)]
        self.assertTrue(all(f or k for f, k in zip(flipped, kept, strict=True)))
        self.assertGreater(sum(flipped), 0)
        self.assertGreater(sum(kept), 0)

    def test_translation_and_rotation_change_images(self):
        x = _images((4, 16, 16, 3))
        for kwargs in ({"translation": 0.25, "rotation": 0.0}, {"translation": 0.0}):
            out = ClassicAugment(flip=False, fill_mode="constant", seed=2, **kwargs)(x)
            self.assertEqual(out.shape, x.shape)
            self.assertNotAllClose(out, x)

    @parameterized.parameters(
        ({"flip": False, "translation": 0.0, "rotation": 0.0}, True),
        ({}, False),
    )
    def test_identity(self, kwargs, training):
        x = _images((4, 8, 8, 3))
        self.assertAllEqual(ClassicAugment(seed=0, **kwargs)(x, training=training), x)

    def test_seed_generators_reachable(self):
        # The GAN model checkpoints every SeedGenerator found through _flatten_layers.
        layer = ClassicAugment(seed=0)
        found = [sg for sub in layer._flatten_layers() for sg in sub._seed_generators]
        self.assertLen(found, 3)
        self.assertLen(layer.non_trainable_variables, 3)

    def test_same_seed_same_result(self):
        x = _images((4, 16, 16, 3))
        self.assertAllClose(ClassicAugment(seed=3)(x), ClassicAugment(seed=3)(x))

    def test_config_round_trip(self):
        layer = ClassicAugment(
            flip=False, translation=0.1, rotation=30.0, fill_mode="constant", seed=4, name="classic"
        )
        config = layer.get_config()
        for key, value in {
            "flip": False,
            "translation": 0.1,
            "rotation": 30.0,
            "fill_mode": "constant",
            "seed": 4,
        }.items():
            self.assertEqual(config[key], value)
        self.assertEqual(ClassicAugment.from_config(config).get_config(), config)
        revived = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
        self.assertIsInstance(revived, ClassicAugment)

    @parameterized.parameters(
        ({"flip": "yes"}, "flip='yes'"),
        ({"translation": 1.5}, "translation=1.5"),
        ({"rotation": -1.0}, "rotation=-1.0"),
        ({"fill_mode": "mirror"}, "fill_mode='mirror'"),
        ({"seed": 1.5}, "seed=1.5"),
    )
    def test_bad_arguments(self, kwargs, message):
        with self.assertRaisesRegex(ValueError, message):
            ClassicAugment(**kwargs)

    def test_reals_only_flag(self):
        self.assertTrue(ClassicAugment.reals_only)
        self.assertTrue(ClassicAugment(seed=0).reals_only)
