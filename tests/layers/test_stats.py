"""Tests for tfdisgan.layers.stats.MinibatchStdDev against a NumPy transcription of the
official MinibatchStdLayer (sample i belongs to group i % (N / G))."""

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from tests.layers.layer_test_util import run_layer_test
from tfdisgan.layers import MinibatchStdDev


def _normal(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def np_minibatch_std(x, group_size, num_channels):
    """Loops over groups and channel groups, NHWC, float64."""
    x = x.astype(np.float64)
    n, h, w, c = x.shape
    g = n if group_size is None else min(group_size, n)
    groups = n // g
    f, cg = num_channels, c // num_channels
    stats = np.zeros([n, h, w, f])
    for j in range(groups):
        members = [i for i in range(n) if i % groups == j]
        assert len(members) == g
        for k in range(f):
            block = x[members][..., k * cg : (k + 1) * cg]  # [G, H, W, c]
            std = np.sqrt(np.mean((block - block.mean(axis=0)) ** 2, axis=0) + 1e-8)
            stats[members, :, :, k] = std.mean()
    return np.concatenate([x, stats], axis=-1)


class MinibatchStdDevTest(tf.test.TestCase, parameterized.TestCase):
    @parameterized.parameters(
        (8, 4, 1), (8, 2, 1), (8, None, 1), (4, 8, 1), (8, 4, 2), (6, 3, 4), (1, 4, 1)
    )
    def test_matches_numpy(self, batch, group_size, num_channels):
        x = (
            _normal([batch, 4, 5, 8])
            * np.arange(1, batch + 1, dtype=np.float32)[:, None, None, None]
        )
        y = MinibatchStdDev(group_size, num_channels)(x)
        self.assertEqual(y.shape, (batch, 4, 5, 8 + num_channels))
        self.assertAllClose(y, np_minibatch_std(x, group_size, num_channels), atol=1e-5, rtol=1e-5)

    def test_groups_are_strided_like_official(self):
        # Batch of 4, groups of 2: samples {0, 2} and {1, 3}. Only group {1, 3} varies.
        x = np.zeros([4, 2, 2, 1], np.float32)
        x[1], x[3] = 1.0, 3.0
        y = MinibatchStdDev(group_size=2)(x)
        self.assertAllClose(y[:, 0, 0, 1], [1e-4, 1.0, 1e-4, 1.0], atol=1e-6)

    def test_dynamic_batch(self):
        layer = MinibatchStdDev(4)
        fn = tf.function(layer, input_signature=[tf.TensorSpec([None, 4, 4, 8])])
        for batch in (8, 2):
            x = _normal([batch, 4, 4, 8], seed=batch)
            self.assertAllClose(fn(x), np_minibatch_std(x, 4, 1), atol=1e-5)

    def test_layer_checks(self):
        run_layer_test(
            self,
            MinibatchStdDev,
            dict(group_size=2, num_channels=2),
            (_normal([4, 4, 4, 8]),),
            expected_output_shape=(4, 4, 4, 10),
            expected_num_trainable_weights=0,
            run_mixed_precision_check=True,
            atol=1e-5,
        )

    def test_gradient_matches_finite_differences(self):
        # The std of each group flows back to every member (second-order R1 goes through it).
        layer = MinibatchStdDev(group_size=2, num_channels=2)
        x = tf.cast(_normal([4, 3, 3, 4], seed=7), tf.float64)
        theoretical, numerical = tf.test.compute_gradient(
            lambda t: tf.cast(layer(tf.cast(t, tf.float32)), tf.float64), [x], delta=1e-3)
        self.assertAllClose(theoretical[0], numerical[0], atol=2e-3, rtol=2e-3)
        self.assertGreater(float(np.abs(theoretical[0]).max()), 0.0)

    @parameterized.parameters(
        (dict(group_size=0), r"group_size=0"),
        (dict(group_size=2.5), r"group_size=2.5"),
        (dict(num_channels=0), r"num_channels=0"),
    )
    def test_bad_arguments_raise(self, kwargs, message):
        with self.assertRaisesRegex(ValueError, message):
            MinibatchStdDev(**kwargs)

    def test_bad_inputs_raise(self):
        with self.assertRaisesRegex(ValueError, r"divisible by the group size"):
            MinibatchStdDev(4)(tf.zeros([6, 4, 4, 8]))
        with self.assertRaisesRegex(ValueError, r"num_channels=3"):
            MinibatchStdDev(2, num_channels=3)(tf.zeros([4, 4, 4, 8]))
