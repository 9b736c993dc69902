"""Tests for tfdisgan.augment.diffaugment.

The augmentation parameters are recovered from the outputs and checked against the ranges
and formulas of the official implementation (mit-han-lab/data-efficient-gans,
DiffAugment_tf.py): brightness U[-0.5, 0.5), saturation U[0, 2), contrast U[0.5, 1.5),
integer translation in [-s, s] with s = int(size * 0.125 + 0.5) and zero fill, cutout of a
k x k square (k = int(size * 0.5 + 0.5)) centred at U{0, ..., size - k % 2}, clipped.
"""

import itertools

import keras
import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from tests.fixtures import two_replicas
from tests.xla_random import consistent_stateless_random
from tfdisgan.augment import AUGMENT_NAMES, ClassicAugment, DiffAugment, diff_augment, get_augment


def _images(shape, seed=0):
    """Random images in [-1, 1] with no exact zeros (zeros mark cutout / translation fill)."""
    rng = np.random.default_rng(seed)
    return (rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.1, 1.0, size=shape)).astype(
        np.float32
    )


def _shift_ref(image, dy, dx):
    """NumPy reference of the official translation: out[i, j] = x[i + dy, j + dx], else 0."""
    h, w, _ = image.shape
    out = np.zeros_like(image)
    for i, j in itertools.product(range(h), range(w)):
        if 0 <= i + dy < h and 0 <= j + dx < w:
            out[i, j] = image[i + dy, j + dx]
    return out


def _extent(flags):
    """(start, stop) of the True run in a 1-D bool array; asserts it is one contiguous run."""
    idx = np.flatnonzero(flags)
    assert idx.size > 0 and idx[-1] - idx[0] + 1 == idx.size, flags
    return int(idx[0]), int(idx[-1]) + 1


class DiffAugmentTest(tf.test.TestCase, parameterized.TestCase):
    @parameterized.parameters(
        ((4, 16, 16, 3),), ((2, 16, 12, 3),), ((3, 8, 20, 1),), ((2, 16, 16, 5),)
    )
    def test_shape_and_dtype_preserved(self, shape):
        x = tf.constant(_images(shape))
        y = DiffAugment(seed=1)(x)
        self.assertEqual(y.shape, x.shape)
        self.assertEqual(y.dtype, x.dtype)
        self.assertNotAllClose(y, x)

    @parameterized.parameters(("",), ([],), (" , ",))
    def test_empty_policy_is_identity(self, policy):
        x = tf.constant(_images((2, 8, 8, 3)))
        self.assertAllEqual(DiffAugment(policy, seed=0)(x), x)
        self.assertAllEqual(diff_augment(x, policy, seed=0), x)

    def test_training_false_is_identity(self):
        x = tf.constant(_images((2, 8, 8, 3)))
        self.assertAllEqual(DiffAugment(seed=0)(x, training=False), x)

    def test_color_magnitudes_match_official_ranges(self):
        # 2x2 image built so that brightness b, saturation s and contrast c are separable:
        # top row grey (pure luminance deviation), bottom row pure channel deviation with
        # channel mean equal to the image mean 0.1. Then out - mean(out) = c*G + c*s*D.
        image = np.array(
            [
                [[0.4, 0.4, 0.4], [-0.2, -0.2, -0.2]],
                [[0.4, -0.2, 0.1], [-0.1, 0.3, 0.1]],
            ],
            np.float32,
        )
        n = 4000
        out = DiffAugment("color", seed=7)(np.repeat(image[None], n, 0)).numpy()
        mean = out.mean(axis=(1, 2, 3))
        b = mean - 0.1
        c = (out[:, 0, 0, 0] - mean) / 0.3
        s = (out[:, 1, 0, 0] - mean) / (0.3 * c)
        # The model above explains every pixel exactly: the formulas are the official ones.
        pred = mean[:, None] + c[:, None] * (image[0, 1, 0] - 0.1) * np.ones((n, 1))
        self.assertAllClose(out[:, 0, 1, :], np.repeat(pred, 3, 1), atol=1e-5)
        self.assertAllClose(out[:, 1, 0, 1] - mean, -0.3 * c * s, atol=1e-5)
        for values, low, high in ((b, -0.5, 0.5), (s, 0.0, 2.0), (c, 0.5, 1.5)):
            width = high - low
            self.assertGreaterEqual(values.min(), low - 1e-4)
            self.assertLessEqual(values.max(), high + 1e-4)
            self.assertLess(values.min(), low + 0.01 * width)
            self.assertGreater(values.max(), high - 0.01 * width)
            self.assertAllClose(values.mean(), (low + high) / 2, atol=0.03 * width)
            self.assertAllClose(values.std(), width / np.sqrt(12.0), atol=0.03 * width)
        # Independent draws for the three magnitudes.
        self.assertLess(abs(np.corrcoef(b, c)[0, 1]), 0.1)
        self.assertLess(abs(np.corrcoef(s, c)[0, 1]), 0.1)

    def test_brightness_is_constant_per_sample(self):
        # A flat grey image is unchanged by saturation and contrast: only brightness remains.
        x = np.full((64, 4, 6, 3), 0.2, np.float32)
        out = DiffAugment("color", seed=3)(x).numpy() - 0.2
        per_sample = out[:, :1, :1, :1]
        self.assertAllClose(out, np.broadcast_to(per_sample, out.shape), atol=1e-6)
        self.assertGreater(np.unique(np.round(per_sample, 5)).size, 60)

    @parameterized.parameters((16, 16, 0.125), (16, 12, 0.125), (12, 20, 0.25))
    def test_translation_geometry(self, height, width, ratio):
        shift_h, shift_w = int(height * ratio + 0.5), int(width * ratio + 0.5)
        x = _images((200, height, width, 2), seed=1)
        out = DiffAugment("translation", translation_ratio=ratio, seed=5)(x).numpy()
        found = []
        for i in range(len(x)):
            matches = [
                (dy, dx)
                for dy in range(-shift_h - 1, shift_h + 2)
                for dx in range(-shift_w - 1, shift_w + 2)
                if np.array_equal(out[i], _shift_ref(x[i], dy, dx))
            ]
            self.assertLen(matches, 1, f"sample {i} is not a single zero-filled shift")
            found.append(matches[0])
        dys, dxs = np.array(found).T
        self.assertEqual(set(dys), set(range(-shift_h, shift_h + 1)))
        self.assertEqual(set(dxs), set(range(-shift_w, shift_w + 1)))
        # Uniform over the 2s + 1 integers, like the official randint.
        counts = np.bincount(dys + shift_h) / len(dys)
        self.assertAllClose(counts, np.full_like(counts, 1 / (2 * shift_h + 1)), atol=0.1)

    @parameterized.parameters((16, 16, 0.5), (16, 12, 0.5), (15, 15, 0.3))
    def test_cutout_geometry(self, height, width, ratio):
        k_h, k_w = int(height * ratio + 0.5), int(width * ratio + 0.5)
        x = _images((300, height, width, 3), seed=2)
        out = DiffAugment("cutout", cutout_ratio=ratio, seed=11)(x).numpy()
        centres, full = [], 0
        for i in range(len(x)):
            zero = np.all(out[i] == 0, axis=-1)
            self.assertAllEqual(out[i][~zero], x[i][~zero])
            r0, r1 = _extent(zero.any(axis=1))
            c0, c1 = _extent(zero.any(axis=0))
            # One rectangle, the k_h x k_w square clipped to the image.
            self.assertTrue(zero[r0:r1, c0:c1].all())
            self.assertEqual(zero.sum(), (r1 - r0) * (c1 - c0))
            self.assertTrue(r1 - r0 == k_h or r0 == 0 or r1 == height)
            self.assertTrue(c1 - c0 == k_w or c0 == 0 or c1 == width)
            self.assertLessEqual(r1 - r0, k_h)
            self.assertLessEqual(c1 - c0, k_w)
            full += (r1 - r0, c1 - c0) == (k_h, k_w)
            top = r0 if r0 > 0 else r1 - k_h
            left = c0 if c0 > 0 else c1 - k_w
            centres.append((top + k_h // 2, left + k_w // 2))
        cy, cx = np.array(centres).T
        # Official centre range: [0, size - k % 2], inclusive, every value reachable.
        self.assertEqual(set(cy), set(range(0, height - k_h % 2 + 1)))
        self.assertEqual(set(cx), set(range(0, width - k_w % 2 + 1)))
        self.assertGreater(full, 10)

    def test_gradients_flow(self):
        x = tf.Variable(_images((4, 16, 16, 3)))
        layer = DiffAugment(seed=0)
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(layer(x)))
        grad = tape.gradient(loss, x)
        self.assertIsNotNone(grad)
        self.assertTrue(np.all(np.isfinite(grad)))
        self.assertGreater(float(tf.reduce_sum(tf.abs(grad))), 0.0)

    def test_geometric_gradient_counts_surviving_pixels(self):
        # d sum(out) / dx is 1 for every input pixel that reaches the output, 0 otherwise.
        x = tf.constant(_images((4, 16, 16, 3)))
        layer = DiffAugment("translation,cutout", seed=4)
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = layer(x)
            total = tf.reduce_sum(out)
        grad = tape.gradient(total, x).numpy()
        self.assertAllInSet(grad, [0.0, 1.0])
        self.assertEqual(grad.sum(), np.count_nonzero(out.numpy()))

    def test_randomness_and_determinism(self):
        x = tf.constant(_images((4, 16, 16, 3)))
        layer = DiffAugment(seed=42)
        first, second = layer(x), layer(x)
        self.assertNotAllClose(first, second)
        self.assertNotAllClose(first[0], first[1])
        fresh = DiffAugment(seed=42)
        self.assertAllEqual(fresh(x), first)
        self.assertAllEqual(fresh(x), second)
        self.assertNotAllClose(DiffAugment(seed=43)(x), first)
        self.assertAllEqual(diff_augment(x, seed=[1, 2]), diff_augment(x, seed=[1, 2]))

    def test_seed_state_is_a_variable(self):
        layer = DiffAugment(seed=5)
        self.assertLen(layer.non_trainable_variables, 1)
        before = layer.non_trainable_variables[0].numpy().copy()
        layer(_images((2, 8, 8, 3)))
        self.assertNotAllEqual(layer.non_trainable_variables[0].numpy(), before)

    def test_checkpoint_restores_random_state(self):
        # Keras keeps SeedGenerator states out of a layer's TF object graph; the GAN model
        # collects them from `_seed_generators` (models/seeds.py) and checkpoints the variables.
        layer = DiffAugment(seed=6)
        self.assertEqual(layer._seed_generators, [layer.seed_generator])
        x = tf.constant(_images((2, 8, 8, 3)))
        layer(x)
        checkpoint = tf.train.Checkpoint(seed_state=layer.seed_generator.state)
        path = checkpoint.write(self.get_temp_dir() + "/ckpt")
        expected = layer(x)
        checkpoint.read(path).assert_consumed()
        self.assertAllEqual(layer(x), expected)

    def test_tf_function_with_unknown_batch(self):
        layer = DiffAugment(seed=1)
        fn = tf.function(
            lambda t: layer(t), input_signature=[tf.TensorSpec([None, 16, 12, 3], tf.float32)]
        )
        x = tf.constant(_images((5, 16, 12, 3)))
        y3, y5 = fn(x[:3]), fn(x)
        self.assertEqual(y3.shape, (3, 16, 12, 3))
        self.assertEqual(y5.shape, (5, 16, 12, 3))
        self.assertNotAllClose(fn(x), y5)
        # Graph and eager draw the same numbers from the same seed state.
        self.assertAllClose(DiffAugment(seed=1)(x[:3]), y3, atol=1e-6)

    def test_xla(self):
        # Two layers with the same seed, one compiled with XLA, on the same random numbers
        # (tests/xla_random.py: TF's own stateless draws differ under XLA, so without it
        # XLA picks other shifts, cutouts and colours). Translation and cutout are integer
        # index work and must match exactly; colour is float arithmetic XLA may fuse and
        # reorder: observed max difference 2.4e-7 (1 ulp at |x| ~ 2-4), tolerance 2e-6
        # (outputs lie in about [-4, 4]).
        x = tf.constant(_images((4, 16, 16, 3)))
        with consistent_stateless_random():
            for policy, atol in (("translation,cutout", 0.0), ("color,translation,cutout", 2e-6)):
                with self.subTest(policy=policy):
                    compiled, plain = DiffAugment(policy, seed=2), DiffAugment(policy, seed=2)
                    fn = tf.function(lambda t, layer=compiled: layer(t), jit_compile=True)
                    ref = tf.function(lambda t, layer=plain: layer(t))
                    for _ in range(2):  # the second call: the advanced seed state
                        y, expected = fn(x), ref(x)
                        self.assertEqual(y.shape, x.shape)
                        self.assertNotAllClose(expected, x)
                        self.assertAllClose(y, expected, atol=atol, rtol=0.0)
                    self.assertAllEqual(compiled.seed_generator.state,
                                        plain.seed_generator.state)

    def test_mirrored_strategy(self):
        strategy = two_replicas()
        with strategy.scope():
            layer = DiffAugment(seed=3)
        x = tf.constant(_images((4, 16, 16, 3)))

        @tf.function
        def step():
            return strategy.run(lambda: layer(x))

        outputs = strategy.experimental_local_results(step())
        self.assertLen(outputs, 2)
        for out in outputs:
            self.assertEqual(out.shape, x.shape)
            self.assertNotAllClose(out, x)
        # The replica id is folded into the seed: replicas augment differently.
        self.assertNotAllClose(outputs[0], outputs[1])
        again = strategy.experimental_local_results(step())
        self.assertNotAllClose(again[0], outputs[0])

    @parameterized.parameters(("color,translation",), (["cutout", "color"],))
    def test_config_round_trip(self, policy):
        layer = DiffAugment(policy, translation_ratio=0.25, cutout_ratio=0.3, seed=9, name="aug")
        config = layer.get_config()
        self.assertEqual(config["policy"], list(policy) if isinstance(policy, list) else policy)
        clone = DiffAugment.from_config(config)
        self.assertEqual(clone.get_config(), config)
        revived = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
        self.assertIsInstance(revived, DiffAugment)
        x = tf.constant(_images((2, 16, 16, 3)))
        self.assertAllEqual(clone(x), layer(x))

    def test_bad_arguments(self):
        with self.assertRaisesRegex(ValueError, "zoom.*'color', 'translation', 'cutout'"):
            DiffAugment("color,zoom")
        with self.assertRaisesRegex(ValueError, "policy=3"):
            DiffAugment(3)
        with self.assertRaisesRegex(ValueError, "translation_ratio=-0.1"):
            DiffAugment(translation_ratio=-0.1)
        with self.assertRaisesRegex(ValueError, "cutout_ratio=2"):
            DiffAugment(cutout_ratio=2)
        with self.assertRaisesRegex(ValueError, "seed='a'"):
            DiffAugment(seed="a")
        with self.assertRaisesRegex(ValueError, "flip"):
            diff_augment(np.zeros((1, 4, 4, 3), np.float32), "flip")

    def test_reals_only_flag(self):
        self.assertFalse(DiffAugment.reals_only)


class GetAugmentTest(tf.test.TestCase):
    def test_factory(self):
        self.assertIsNone(get_augment("none"))
        layer = get_augment("diffaugment", policy="color", seed=1)
        self.assertIsInstance(layer, DiffAugment)
        self.assertEqual(layer.policy, "color")
        self.assertEqual(layer.seed, 1)
        classic = get_augment("Classic", seed=2)
        self.assertIsInstance(classic, ClassicAugment)
        self.assertEqual(classic.seed, 2)
        self.assertEqual(
            AUGMENT_NAMES,
            ("none", "diffaugment", "classic", "ada", "diffaugment+ada", "rot90"),
        )

    def test_unknown_name(self):
        with self.assertRaisesRegex(ValueError, "augment='adda'.*'none', 'diffaugment', 'classic'"):
            get_augment("adda")
        with self.assertRaisesRegex(ValueError, "None"):
            get_augment(None)
