"""Tests for tfdisgan.losses: hand-computed NumPy values and R1 on known functions."""

import numpy as np
import tensorflow as tf

from tfdisgan import losses


def _softplus(x):
    return np.log1p(np.exp(x))


class LogisticLossTest(tf.test.TestCase):
    def test_d_logistic_matches_numpy(self):
        real = np.array([2.0, -1.0, 0.0, 5.0], np.float32)
        fake = np.array([-3.0, 0.5, 0.0, 4.0], np.float32)
        expected = _softplus(fake) + _softplus(-real)
        self.assertAllClose(losses.d_logistic_loss(real, fake), expected, rtol=1e-6)
        # log(2) + log(2) at zero logits, by hand.
        self.assertAllClose(losses.d_logistic_loss([0.0], [0.0]), [2 * np.log(2.0)])

    def test_g_nonsaturating_matches_numpy(self):
        fake = np.array([-2.0, 0.0, 3.0], np.float32)
        self.assertAllClose(losses.g_nonsaturating_loss(fake), _softplus(-fake), rtol=1e-6)
        self.assertAllClose(losses.g_nonsaturating_loss([0.0]), [np.log(2.0)])

    def test_column_logits_are_flattened(self):
        real = np.array([[1.0], [2.0]], np.float32)
        fake = np.array([[0.5], [-0.5]], np.float32)
        out = losses.d_logistic_loss(real, fake)
        self.assertEqual(out.shape, (2,))
        self.assertEqual(losses.g_nonsaturating_loss(fake).shape, (2,))

    def test_large_logits_do_not_overflow(self):
        out = losses.d_logistic_loss([100.0], [-100.0])
        self.assertAllClose(out, [0.0], atol=1e-6)
        self.assertAllClose(losses.g_nonsaturating_loss([-100.0]), [100.0])

    def test_bad_logit_shapes_raise(self):
        with self.assertRaisesRegex(ValueError, r"real_logits.shape=\(2, 3\)"):
            losses.d_logistic_loss(np.zeros([2, 3]), np.zeros([2]))
        with self.assertRaisesRegex(ValueError, "fake_logits"):
            losses.g_nonsaturating_loss(np.zeros([2, 1, 1]))


class R1PenaltyTest(tf.test.TestCase):
    def _grads(self, fn, x):
        x = tf.convert_to_tensor(x)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.reduce_sum(fn(x))
        return tape.gradient(y, x)

    def test_linear_discriminator(self):
        # D(x) = <w, x>: the gradient is w for every example, the penalty sum(w^2).
        rng = np.random.default_rng(0)
        w = rng.normal(size=[4, 4, 3]).astype(np.float32)
        x = rng.normal(size=[2, 4, 4, 3]).astype(np.float32)
        grads = self._grads(lambda t: tf.reduce_sum(t * w, axis=[1, 2, 3]), x)
        self.assertAllClose(losses.r1_penalty(grads), [np.sum(w**2)] * 2, rtol=1e-5)

    def test_quadratic_discriminator(self):
        # D(x) = sum(x^2): gradient 2x, penalty 4 * sum(x^2) per example.
        x = np.arange(2 * 2 * 2 * 1, dtype=np.float32).reshape([2, 2, 2, 1])
        grads = self._grads(lambda t: tf.reduce_sum(t**2, axis=[1, 2, 3]), x)
        expected = 4 * np.sum(x**2, axis=(1, 2, 3))  # [56, 504]
        self.assertAllClose(losses.r1_penalty(grads), expected)
        self.assertAllClose(expected, [56.0, 504.0])

    def test_rank_one_raises(self):
        with self.assertRaisesRegex(ValueError, r"real_grads.shape=\(3,\)"):
            losses.r1_penalty(np.zeros([3], np.float32))
