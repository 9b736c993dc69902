"""Tests for tfdisgan.layers.resample: FIR filters, upfirdn2d and the resampling layers.

Every case is compared with the NumPy transcription of the definition
(`layer_test_util.np_upfirdn2d`), for both implementations; the fast implementation's
custom gradients are compared with TensorFlow's gradients of the reference one, to second
order. Inputs are non-square so that x/y mix-ups show.
"""

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from tests.layers.layer_test_util import np_upfirdn2d, run_layer_test
from tfdisgan import graph_memory
from tfdisgan.layers import (
    Blur,
    Downsample2D,
    Upsample2D,
    downsample2d,
    filter2d,
    setup_filter,
    upfirdn2d,
    upsample2d,
)

_RNG = np.random.default_rng(1234)
_FILTERS = {
    "binomial4": setup_filter([1, 3, 3, 1]),
    "separable3": setup_filter([1, 2, 1], separable=True),
    "random3x4": _RNG.uniform(0.1, 1.0, [3, 4]).astype(np.float32),
}
_CASES = [
    dict(up=2, padding=(2, 1, 2, 1)),
    dict(down=2, padding=1),
    dict(down=2, padding=(-1, 2, 0, 1)),
    dict(padding=(-1, 2, 3, -2)),
    dict(up=2, down=2, padding=(1, 2, 0, 3)),
    dict(up=(2, 3), padding=1),
    dict(down=(1, 2), padding=2),
    dict(up=3, padding=(0, 2, 1, 0)),
]


def _x(shape=(2, 7, 9, 3), seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _params():
    for i, case in enumerate(_CASES):
        for fname in _FILTERS:
            for flip in (False, True):
                yield (f"case{i}_{fname}_{'flip' if flip else 'conv'}", case, fname, flip)


class SetupFilterTest(tf.test.TestCase, parameterized.TestCase):
    def test_binomial_is_normalised_outer_product(self):
        f = setup_filter([1, 3, 3, 1])
        self.assertEqual(f.shape, (4, 4))
        self.assertEqual(f.dtype, np.float32)
        self.assertAllClose(f, np.outer([1, 3, 3, 1], [1, 3, 3, 1]) / 64.0)

    def test_separable_auto_from_eight_taps(self):
        self.assertEqual(setup_filter(np.ones(8)).shape, (8,))
        self.assertEqual(setup_filter(np.ones(7)).shape, (7, 7))
        self.assertEqual(setup_filter([1, 2, 1], separable=True).shape, (3,))

    def test_gain_flip_and_identity(self):
        self.assertAllClose(setup_filter([1, 3, 3, 1], gain=4).sum(), 4.0)
        self.assertAllClose(setup_filter([1, 2, 1], separable=True, gain=4).sum(), 2.0)
        f = np.arange(1, 7, dtype=np.float32).reshape(2, 3)
        self.assertAllClose(setup_filter(f, flip_filter=True), f[::-1, ::-1] / f.sum())
        self.assertAllClose(setup_filter(None), [[1.0]])
        self.assertAllClose(setup_filter([1, 1], normalize=False), np.ones([2, 2]))

    @parameterized.parameters(([],), ([[[1.0]]],), ([1.0, -1.0],), ([1.0, np.nan],), ("abc",))
    def test_bad_filters_raise(self, f):
        with self.assertRaises((ValueError, TypeError)):
            setup_filter(f)

    def test_error_names_value(self):
        with self.assertRaisesRegex(ValueError, r"Received: f=\[1.0, -1.0\]"):
            setup_filter([1.0, -1.0])


class Upfirdn2dTest(tf.test.TestCase, parameterized.TestCase):
    @parameterized.named_parameters(*_params())
    def test_matches_numpy(self, case, fname, flip):
        x, f = _x(), _FILTERS[fname]
        expected = np_upfirdn2d(x, f, flip_filter=flip, gain=1.5, **case)
        for impl in ("ref", "fast"):
            got = upfirdn2d(tf.constant(x), f, flip_filter=flip, gain=1.5, impl=impl, **case)
            self.assertAllClose(got, expected, atol=1e-5, rtol=1e-5, msg=impl)

    @parameterized.parameters((_CASES[0],), (_CASES[2],), (_CASES[4],), (_CASES[5],))
    def test_fast_gradients_match_reference_to_second_order(self, case):
        x0, f = _x(), _FILTERS["random3x4"]

        def grads(impl, x=None):
            x = tf.Variable(x0) if x is None else x
            with tf.GradientTape() as outer:
                with tf.GradientTape() as inner:
                    y = upfirdn2d(x, f, gain=1.3, impl=impl, **case)
                    loss = tf.reduce_sum(tf.sin(y) * y)
                g = inner.gradient(loss, x)
                loss2 = tf.reduce_sum(tf.square(g) * x)
            return g, outer.gradient(loss2, x)

        (g_ref, h_ref), (g_fast, h_fast) = grads("ref"), grads("fast")
        self.assertAllClose(g_fast, g_ref, atol=1e-4, rtol=1e-4)
        self.assertAllClose(h_fast, h_ref, atol=1e-3 * float(np.abs(h_ref).max()), rtol=1e-4)
        # Traced, the fast path attaches its adjoint without tf.custom_gradient (which
        # would keep the graph in TensorFlow's registry): same values, to second order.
        before = graph_memory.custom_gradient_names()
        variable = tf.Variable(x0)
        g_graph, h_graph = tf.function(lambda: grads("fast", variable))()
        self.assertAllClose(g_graph, g_fast, atol=1e-6, rtol=1e-6)
        self.assertAllClose(h_graph, h_fast, atol=1e-6 * float(np.abs(h_ref).max()), rtol=1e-6)
        self.assertEqual(graph_memory.custom_gradient_names(), before)

    def test_symbolic_gradients_in_a_graph_match_the_tape(self):
        # tf.gradients (and cond/while gradients) read the gradient registry, not the
        # tape: the fast op's registered adjoint gives the tape's values, to second order.
        x0, f = _x(), _FILTERS["random3x4"]

        @tf.function
        def both(x):
            with tf.GradientTape() as outer:
                outer.watch(x)
                with tf.GradientTape() as inner:
                    inner.watch(x)
                    y = upfirdn2d(x, f, up=2, padding=(2, 1, 2, 1), gain=1.3, impl="fast")
                    loss = tf.reduce_sum(tf.sin(y) * y)
                g = inner.gradient(loss, x)
                loss2 = tf.reduce_sum(tf.square(g) * x)
            y = upfirdn2d(x, f, up=2, padding=(2, 1, 2, 1), gain=1.3, impl="fast")
            (g_sym,) = tf.gradients(tf.reduce_sum(tf.sin(y) * y), x)
            (h_sym,) = tf.gradients(tf.reduce_sum(tf.square(g_sym) * x), x)
            return g, outer.gradient(loss2, x), g_sym, h_sym

        g, h, g_sym, h_sym = both(tf.constant(x0))
        self.assertGreater(float(tf.reduce_max(tf.abs(h))), 0.0)
        self.assertAllClose(g_sym, g, atol=1e-6, rtol=1e-6)
        self.assertAllClose(h_sym, h, atol=1e-5, rtol=1e-5)

    def test_saved_model_keeps_the_fast_gradient(self):
        # tf.saved_model.save (default options) traces every registered gradient with
        # op=None; the loaded function differentiates like the original.
        x0, f = _x(), _FILTERS["random3x4"]

        class Module(tf.Module):
            @tf.function(input_signature=[tf.TensorSpec(x0.shape, tf.float32)])
            def resample(self, x):
                return upfirdn2d(x, f, down=2, padding=1, gain=1.3, impl="fast")

        def grad(fn):
            x = tf.constant(x0)
            with tf.GradientTape() as tape:
                tape.watch(x)
                loss = tf.reduce_sum(tf.sin(fn(x)))
            return tape.gradient(loss, x)

        module = Module()
        path = self.get_temp_dir() + "/resample"
        tf.saved_model.save(module, path)
        loaded = tf.saved_model.load(path)
        self.assertAllClose(loaded.resample(x0), module.resample(x0), atol=1e-6)
        self.assertAllClose(grad(loaded.resample), grad(module.resample), atol=1e-6)

    def test_tensor_filter_and_dynamic_shapes_use_reference(self):
        x, f = _x(), _FILTERS["binomial4"]
        expected = np_upfirdn2d(x, f, up=2, padding=(2, 1, 2, 1))
        fn = tf.function(
            lambda x: upfirdn2d(x, tf.constant(f), up=2, padding=(2, 1, 2, 1)),
            input_signature=[tf.TensorSpec([None, None, None, 3])],
        )
        self.assertAllClose(fn(x), expected, atol=1e-5)

    def test_impl_auto_equals_fast(self):
        x, f = tf.constant(_x()), _FILTERS["binomial4"]
        self.assertAllEqual(upfirdn2d(x, f, down=2), upfirdn2d(x, f, down=2, impl="fast"))

    @parameterized.parameters(
        (dict(up=0), r"up=0"),
        (dict(down=(2, 0)), r"down=\(2, 0\)"),
        (dict(padding=(1, 2, 3)), r"padding=\(1, 2, 3\)"),
        (dict(impl="cuda"), r"impl=cuda"),
        (dict(padding=-4), r"padding=-4"),
    )
    def test_bad_arguments_raise(self, kwargs, message):
        with self.assertRaisesRegex(ValueError, message):
            upfirdn2d(tf.zeros([1, 7, 9, 2]), _FILTERS["binomial4"], **kwargs)


class ResampleWrappersTest(tf.test.TestCase, parameterized.TestCase):
    @parameterized.parameters(("binomial4",), ("separable3",))
    def test_shapes(self, fname):
        x, f = tf.constant(_x((2, 8, 12, 3))), _FILTERS[fname]
        self.assertEqual(upsample2d(x, f).shape, (2, 16, 24, 3))
        self.assertEqual(downsample2d(x, f).shape, (2, 4, 6, 3))
        self.assertEqual(filter2d(x, f).shape, (2, 8, 12, 3))
        self.assertEqual(upsample2d(x, f, padding=(1, 0, -1, 2)).shape, (2, 17, 25, 3))

    def test_wrappers_match_numpy_padding_arithmetic(self):
        x, f = _x((2, 8, 12, 3)), _FILTERS["binomial4"]
        self.assertAllClose(
            upsample2d(tf.constant(x), f),
            np_upfirdn2d(x, f, up=2, padding=(2, 1, 2, 1), gain=4),
            atol=1e-5,
        )
        self.assertAllClose(
            downsample2d(tf.constant(x), f), np_upfirdn2d(x, f, down=2, padding=1), atol=1e-5
        )
        self.assertAllClose(
            filter2d(tf.constant(x), f), np_upfirdn2d(x, f, padding=(2, 1, 2, 1)), atol=1e-5
        )

    @parameterized.parameters(("binomial4",), ("separable3",))
    def test_constant_image_stays_constant(self, fname):
        f = _FILTERS[fname]
        x = tf.fill([1, 16, 16, 2], 0.75)
        # Zero padding darkens the border; the interior must be exact.
        self.assertAllClose(upsample2d(x, f)[:, 4:-4, 4:-4], tf.fill([1, 24, 24, 2], 0.75))
        self.assertAllClose(downsample2d(x, f)[:, 2:-2, 2:-2], tf.fill([1, 4, 4, 2], 0.75))
        self.assertAllClose(filter2d(x, f)[:, 2:-2, 2:-2], tf.fill([1, 12, 12, 2], 0.75))


class ResampleLayersTest(tf.test.TestCase, parameterized.TestCase):
    def test_upsample_layer(self):
        x = _x((2, 8, 8, 3))
        layer = run_layer_test(
            self,
            Upsample2D,
            dict(factor=2, resample_filter=[1, 3, 3, 1]),
            (x,),
            expected_output_shape=(2, 16, 16, 3),
            expected_num_trainable_weights=0,
            run_mixed_precision_check=True,
        )
        self.assertAllClose(layer(x), upsample2d(x, setup_filter([1, 3, 3, 1])))

    def test_downsample_layer(self):
        x = _x((2, 16, 16, 3))
        layer = run_layer_test(
            self,
            Downsample2D,
            dict(factor=2, resample_filter=[1, 2, 1]),
            (x,),
            expected_output_shape=(2, 8, 8, 3),
            run_mixed_precision_check=True,
        )
        self.assertAllClose(layer(x), downsample2d(x, setup_filter([1, 2, 1])))

    def test_blur_layer(self):
        x = _x((2, 8, 10, 3))
        layer = run_layer_test(
            self,
            Blur,
            dict(resample_filter=[1, 3, 3, 1], padding=[1, 0, 0, -1]),
            (x,),
            expected_output_shape=(2, 7, 11, 3),
        )
        self.assertAllClose(
            layer(x), filter2d(x, setup_filter([1, 3, 3, 1]), padding=(1, 0, 0, -1))
        )

    @parameterized.parameters(
        (Upsample2D, dict(factor=0), r"factor=0"),
        (Downsample2D, dict(factor=1.5), r"factor=1.5"),
        (Upsample2D, dict(resample_filter=[1, -1]), r"resample_filter=\[1, -1\]"),
        (Blur, dict(padding="same"), r"padding=same"),
    )
    def test_bad_arguments_raise(self, cls, kwargs, message):
        with self.assertRaisesRegex(ValueError, message):
            cls(**kwargs)
