"""Tests for tfdisgan.layers.equalized and bias_act (official FullyConnectedLayer /
Conv2dLayer / bias_act semantics) and for conv2d_resample against its definition."""

import keras
import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from tests.layers.layer_test_util import (
    np_conv2d_resample,
    np_lrelu,
    run_layer_test,
)
from tfdisgan.layers import (
    ACTIVATIONS,
    EqualizedConv2D,
    EqualizedDense,
    bias_act,
    conv2d_resample,
    setup_filter,
)

SQRT2 = np.sqrt(2.0)


def _normal(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


class BiasActTest(tf.test.TestCase, parameterized.TestCase):
    @parameterized.parameters(
        ("linear", lambda x: x, 1.0),
        ("relu", lambda x: np.maximum(x, 0), SQRT2),
        ("lrelu", np_lrelu, SQRT2),
        ("tanh", np.tanh, 1.0),
        ("sigmoid", lambda x: 1 / (1 + np.exp(-x)), 1.0),
        ("elu", lambda x: np.where(x > 0, x, np.expm1(x)), 1.0),
        ("softplus", lambda x: np.log1p(np.exp(x)), 1.0),
        ("swish", lambda x: x / (1 + np.exp(-x)), SQRT2),
    )
    def test_activation_table(self, act, func, def_gain):
        x, b = _normal([2, 3, 5]), _normal([5], seed=1)
        self.assertAllClose(ACTIVATIONS[act].def_gain, def_gain)
        self.assertAllClose(bias_act(x, b, act=act), func(x + b) * def_gain, atol=1e-5)

    def test_alpha_gain_clamp_and_axis(self):
        x, b = 3 * _normal([2, 4, 3, 3]), _normal([4], seed=1)
        got = bias_act(x, b, act="lrelu", alpha=0.1, gain=2.0, clamp=1.5, axis=1)
        pre = x + b.reshape(1, 4, 1, 1)
        self.assertAllClose(got, np.clip(np_lrelu(pre, 0.1) * 2.0, -1.5, 1.5), atol=1e-6)

    @parameterized.parameters(
        (dict(act="gelu"), r"activation=gelu"),
        (dict(clamp=-1), r"clamp=-1"),
        (dict(b=np.zeros(4, np.float32)), r"b.shape=\(4,\)"),
    )
    def test_bad_arguments_raise(self, kwargs, message):
        with self.assertRaisesRegex(ValueError, message):
            bias_act(tf.zeros([2, 3]), **kwargs)


class ClampGradientTest(tf.test.TestCase):
    """`clamp_values` (bias_act's clamp) against ``tf.clip_by_value``: same values, same
    first- and second-order gradients, bounds included, in every way TensorFlow
    differentiates it, and no traced graph left in TensorFlow's gradient registry."""

    def _inputs(self):
        # Inside, outside and exactly on both bounds.
        x = np.array([[-3.0, -2.0, -1.0, 0.5, 2.0, 2.5, 7.0, -0.25]], np.float32)
        return tf.constant(x), tf.constant(_normal([1, 8], seed=4))

    def _first_and_second(self, clamp_fn, x, dy):
        # d/dx sum(dy * clamp(x)) and d/dx sum(g^2) with g = d/dx sum(clamp(x)^2 * dy),
        # the shape of R1 (a gradient penalty differentiated again).
        with tf.GradientTape() as outer:
            outer.watch(x)
            with tf.GradientTape() as inner:
                inner.watch(x)
                y = clamp_fn(x * 1.0)
                loss = tf.reduce_sum(tf.square(y) * dy)
            g = inner.gradient(loss, x)
            penalty = tf.reduce_sum(tf.square(g))
        with tf.GradientTape() as tape:
            tape.watch(x)
            first = tf.reduce_sum(clamp_fn(x * 1.0) * dy)
        return clamp_fn(x), tape.gradient(first, x), outer.gradient(penalty, x)

    def test_equals_clip_by_value_eager_and_traced(self):
        from tfdisgan.layers.bias_act import clamp_values

        x, dy = self._inputs()

        def ours(v):
            return clamp_values(v, 2.0)

        def clip(v):
            return tf.clip_by_value(v, -2.0, 2.0)

        want = [t.numpy() for t in self._first_and_second(clip, x, dy)]
        # The bounds pass the gradient (torch's clamp backward): -2 and 2 get dy.
        self.assertAllEqual(want[1][0] != 0, [False, True, True, True, True, False, False, True])
        eager = self._first_and_second(ours, x, dy)
        traced = tf.function(lambda a, b: self._first_and_second(ours, a, b))(x, dy)
        for got in (eager, traced):
            for a, b in zip(got, want, strict=True):
                self.assertAllEqual(a, b)

    def test_symbolic_gradient_inside_cond_and_no_registry_entry(self):
        from tfdisgan import graph_memory
        from tfdisgan.layers.bias_act import clamp_values

        x, dy = self._inputs()
        before = graph_memory.custom_gradient_names()

        @tf.function
        def grads(v):
            # tf.cond's gradient goes through the registered (symbolic) gradient.
            with tf.GradientTape() as tape:
                tape.watch(v)
                y = tf.cond(tf.reduce_sum(v) > -100.0, lambda: clamp_values(v * 1.0, 2.0),
                            lambda: v)
                loss = tf.reduce_sum(y * dy)
            return tape.gradient(loss, v), tf.gradients(tf.reduce_sum(
                clamp_values(v, 2.0) * dy), v)[0]

        by_tape, by_symbolic = grads(x)
        want = np.where(np.abs(x.numpy()) <= 2.0, dy.numpy(), 0.0)
        self.assertAllEqual(by_tape, want)
        self.assertAllEqual(by_symbolic, want)
        self.assertEqual(graph_memory.custom_gradient_names(), before)

    def test_half_dtypes(self):
        from tfdisgan.layers.bias_act import clamp_values

        for dtype in (tf.float16, tf.bfloat16):
            x = tf.cast(self._inputs()[0], dtype)
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = clamp_values(x, 2.0)
            self.assertEqual(y.dtype, dtype)
            self.assertAllEqual(tf.cast(y, tf.float32), np.clip(x.numpy().astype(np.float32),
                                                               -2, 2))
            self.assertAllEqual(tf.cast(tape.gradient(y, x), tf.float32),
                                (np.abs(x.numpy().astype(np.float32)) <= 2).astype(np.float32))


class LeakyReluGradientTest(tf.test.TestCase):
    """bias_act's lrelu in a graph: the gradient reads the output, so the bias add feeds the
    activation only (grappler's remapper failed on the whole train step when
    ``LeakyReluGrad`` read the bias add), with TensorFlow's values to the bit."""

    def _grads(self, act_fn, x, b, dy):
        # First order, and R1's shape: the gradient's square differentiated again.
        with tf.GradientTape(persistent=True) as outer:
            outer.watch([x, b])
            with tf.GradientTape() as inner:
                inner.watch(x)
                y = act_fn(x, b)
                loss = tf.reduce_sum(y * dy)
            g = inner.gradient(loss, x)
            penalty = tf.reduce_sum(tf.square(g * x))
        return [y, g, *outer.gradient(penalty, [x, b])]

    def test_equals_tensorflow_first_and_second_order(self):
        x = tf.constant(np.concatenate([_normal([2, 5, 3], seed=1), np.array(
            [[[0.0, -0.0, 1e-30]]] * 2, np.float32)], axis=1))
        b = tf.constant(_normal([3], seed=2))
        dy = tf.constant(_normal([2, 6, 3], seed=3))

        def ours(v, bias):
            return bias_act(v, bias, act="lrelu", gain=1.0)

        def reference(v, bias):
            return tf.nn.leaky_relu(tf.nn.bias_add(v, bias), 0.2)

        want = tf.function(lambda *a: self._grads(reference, *a))(x, b, dy)
        got = tf.function(lambda *a: self._grads(ours, *a))(x, b, dy)
        for a, c in zip(got, want, strict=True):
            self.assertAllEqual(a, c)

    def test_the_bias_add_feeds_the_activation_only(self):
        x = tf.constant(_normal([2, 8, 8, 3], seed=4))
        w = tf.constant(_normal([3, 3, 3, 4], seed=5))
        b = tf.constant(_normal([4], seed=6))

        @tf.function
        def step(v):
            with tf.GradientTape() as tape:
                tape.watch(v)
                loss = tf.reduce_sum(bias_act(tf.nn.conv2d(v, w, 1, "SAME"), b, act="lrelu"))
            return tape.gradient(loss, v)

        graph = step.get_concrete_function(x).graph
        adds = [op for op in graph.get_operations() if op.type == "BiasAdd"]
        self.assertLen(adds, 1)
        consumers = [op.type for op in adds[0].outputs[0].consumers()]
        self.assertEqual(consumers, ["LeakyRelu"])
        self.assertIn("LeakyReluGrad", [op.type for op in graph.get_operations()])


class FoldedGainTest(tf.test.TestCase, parameterized.TestCase):
    def test_foldable_gain(self):
        from tfdisgan.layers.bias_act import foldable_gain

        self.assertEqual(foldable_gain("lrelu", SQRT2), SQRT2)
        self.assertEqual(foldable_gain("linear", 0.5), 0.5)
        self.assertIsNone(foldable_gain("tanh", 2.0))  # tanh(2x) != 2 tanh(x)
        self.assertIsNone(foldable_gain("lrelu", -1.0))
        self.assertIsNone(foldable_gain("lrelu", tf.constant(2.0)))

    @parameterized.parameters(("lrelu", 1.0, 256.0), ("lrelu", np.sqrt(0.5), 0.3),
                              ("linear", np.sqrt(0.5), None), ("tanh", 1.0, None))
    def test_conv_with_the_gain_folded_equals_the_gain_applied_after(self, act, gain, clamp):
        layer = EqualizedConv2D(6, 3, activation=act, conv_clamp=clamp, down=2)
        x = tf.constant(_normal([2, 8, 8, 4]))
        layer.build(x.shape)
        layer.bias.assign(_normal([6], seed=2))
        with tf.GradientTape() as tape:
            y = layer(x, gain=gain)
            loss = tf.reduce_sum(y * _normal([2, 4, 4, 6], seed=3))
        got = tape.gradient(loss, [layer.weight, layer.bias])
        # The unfolded definition: bias_act after the convolution, gain * act's gain.
        with tf.GradientTape() as tape:
            w = layer.weight * layer.weight_gain
            pre = conv2d_resample(x, w, f=setup_filter([1, 3, 3, 1]), down=2, padding=1)
            clamp_at = None if clamp is None else clamp * gain
            want_y = bias_act(pre, layer.bias, act=act, gain=ACTIVATIONS[act].def_gain * gain,
                              clamp=clamp_at)
            loss = tf.reduce_sum(want_y * _normal([2, 4, 4, 6], seed=3))
        want = tape.gradient(loss, [layer.weight, layer.bias])
        self.assertAllClose(y, want_y, atol=1e-6, rtol=1e-6)
        for a, b in zip(got, want, strict=True):
            self.assertAllClose(a, b, atol=1e-5, rtol=1e-5)


class EqualizedDenseTest(tf.test.TestCase, parameterized.TestCase):
    @parameterized.parameters((1.0, 0.0, "linear"), (0.01, 0.5, "lrelu"), (0.1, 1.0, "relu"))
    def test_matches_official_formula(self, lr, bias_init, act):
        x = _normal([6, 32])
        layer = EqualizedDense(16, bias_init=bias_init, lr_multiplier=lr, activation=act)
        y = layer(x)
        w = layer.weight.numpy() * lr / np.sqrt(32)
        pre = x @ w + bias_init * lr
        post = {"linear": pre, "lrelu": np_lrelu(pre) * SQRT2, "relu": np.maximum(pre, 0) * SQRT2}
        self.assertAllClose(y, post[act], atol=1e-5, rtol=1e-5)
        self.assertAllClose(layer.bias, np.full([16], bias_init))

    @parameterized.parameters((1.0,), (0.01,))
    def test_runtime_scale_gives_unit_output_std(self, lr):
        keras.utils.set_random_seed(3)
        layer = EqualizedDense(256, lr_multiplier=lr)
        y = layer(_normal([512, 128]))
        # Stored weights are N(0, 1 / lr^2); the runtime gain lr / sqrt(fan_in) undoes both.
        self.assertAllClose(np.std(layer.weight.numpy()), 1.0 / lr, rtol=0.05)
        self.assertAllClose(layer.weight_gain, lr / np.sqrt(128))
        self.assertAllClose(np.std(y), 1.0, rtol=0.05)

    def test_rank3_inputs(self):
        layer = EqualizedDense(4)
        x = _normal([2, 3, 8])
        self.assertAllClose(
            layer(x),
            (x.reshape(6, 8) @ layer.weight.numpy() / np.sqrt(8)).reshape(2, 3, 4),
            atol=1e-5,
        )

    def test_layer_checks(self):
        run_layer_test(
            self,
            EqualizedDense,
            dict(units=8, use_bias=True, bias_init=1.0, lr_multiplier=0.5, activation="lrelu"),
            (_normal([4, 16]),),
            expected_output_shape=(4, 8),
            expected_num_trainable_weights=2,
            run_mixed_precision_check=True,
        )

    def test_no_bias_param_count(self):
        layer = EqualizedDense(8, use_bias=False)
        layer(_normal([2, 16]))
        self.assertEqual(layer.count_params(), 16 * 8)

    @parameterized.parameters(
        (dict(units=-1), r"units=-1"),
        (dict(units=4, lr_multiplier=0), r"lr_multiplier=0"),
        (dict(units=4, activation="gelu"), r"activation=gelu"),
        (dict(units=4, use_bias="yes"), r"use_bias=yes"),
        (dict(units=4, bias_init=None), r"bias_init=None"),
    )
    def test_bad_arguments_raise(self, kwargs, message):
        with self.assertRaisesRegex(ValueError, message):
            EqualizedDense(**kwargs)


def _conv_cases():
    for k in (1, 3):
        for up, down in ((1, 1), (2, 1), (1, 2), (2, 2)):
            yield (f"k{k}_up{up}_down{down}", k, up, down)


class Conv2dResampleTest(tf.test.TestCase, parameterized.TestCase):
    @parameterized.named_parameters(*_conv_cases())
    def test_matches_definition(self, k, up, down):
        x, w = _normal([2, 8, 6, 4]), _normal([k, k, 4, 5], seed=1)
        f = setup_filter([1, 3, 3, 1])
        for flip_weight in (True, False):
            got = conv2d_resample(
                x, tf.constant(w), f=f, up=up, down=down, padding=k // 2, flip_weight=flip_weight
            )
            expected = np_conv2d_resample(
                x, w, f, up=up, down=down, padding=k // 2, flip_weight=flip_weight
            )
            self.assertAllClose(got, expected, atol=1e-4, rtol=1e-4)
            self.assertEqual(got.shape, (2, 8 * up // down, 6 * up // down, 5))

    @parameterized.parameters(((0, 1, 2, 0),), ((-1, 1, 1, 0),), ((2, 2, 1, 1),))
    def test_asymmetric_and_negative_padding(self, padding):
        x, w = _normal([2, 7, 6, 3]), _normal([3, 3, 3, 2], seed=1)
        got = conv2d_resample(x, tf.constant(w), padding=padding)
        self.assertAllClose(got, np_conv2d_resample(x, w, padding=padding), atol=1e-4)

    def test_grouped(self):
        x, w = _normal([1, 6, 6, 8]), _normal([3, 3, 2, 8], seed=1)  # 4 groups, 2 -> 2
        f = setup_filter([1, 3, 3, 1])
        for up, down in ((1, 1), (2, 1), (1, 2)):
            got = conv2d_resample(x, tf.constant(w), f=f, up=up, down=down, padding=1)
            expected = np.concatenate(
                [
                    np_conv2d_resample(
                        x[..., 2 * g : 2 * g + 2],
                        w[..., 2 * g : 2 * g + 2],
                        f,
                        up=up,
                        down=down,
                        padding=1,
                    )
                    for g in range(4)
                ],
                axis=-1,
            )
            self.assertAllClose(got, expected, atol=1e-4, rtol=1e-4)


class EqualizedConv2DTest(tf.test.TestCase, parameterized.TestCase):
    @parameterized.named_parameters(*_conv_cases())
    def test_matches_upfirdn_conv_reference(self, k, up, down):
        x = _normal([2, 8, 8, 4])
        layer = EqualizedConv2D(6, k, activation="lrelu", up=up, down=down, conv_clamp=0.8)
        layer.build(x.shape)
        layer.bias.assign(_normal([6], seed=2))
        y = layer(x, gain=0.5)
        w = layer.weight.numpy() / np.sqrt(4 * k * k)
        # Official flip_weight = (up == 1): correlation, or convolution when upsampling.
        pre = np_conv2d_resample(
            x,
            w,
            setup_filter([1, 3, 3, 1]),
            up=up,
            down=down,
            padding=k // 2,
            flip_weight=(up == 1),
        )
        expected = np.clip(np_lrelu(pre + layer.bias.numpy()) * SQRT2 * 0.5, -0.4, 0.4)
        self.assertEqual(y.shape, (2, 8 * up // down, 8 * up // down, 6))
        self.assertAllClose(y, expected, atol=1e-4, rtol=1e-4)

    def test_weight_scale(self):
        keras.utils.set_random_seed(5)
        layer = EqualizedConv2D(64, 3)
        y = layer(_normal([4, 16, 16, 32]))
        self.assertAllClose(layer.weight_gain, 1 / np.sqrt(32 * 9))
        self.assertAllClose(np.std(layer.weight.numpy()), 1.0, rtol=0.05)
        self.assertAllClose(np.std(y[:, 1:-1, 1:-1]), 1.0, rtol=0.05)  # unit in, unit out

    def test_residual_skip_is_official(self):
        # DiscriminatorBlock.skip: 1x1, no bias, down=2, linear, called with gain sqrt(0.5).
        x = _normal([2, 16, 16, 8])
        skip = EqualizedConv2D(16, 1, use_bias=False, down=2)
        y = skip(x, gain=np.sqrt(0.5))
        self.assertEqual(skip.count_params(), 8 * 16)
        expected = np_conv2d_resample(
            x, skip.weight.numpy() / np.sqrt(8), setup_filter([1, 3, 3, 1]), down=2
        ) * np.sqrt(0.5)
        self.assertAllClose(y, expected, atol=1e-5)

    @parameterized.parameters(
        (
            dict(filters=8, kernel_size=3, activation="lrelu", down=2, conv_clamp=256.0),
            (2, 8, 8, 8),
        ),
        (
            dict(filters=8, kernel_size=3, up=2, resample_filter=[1, 2, 1], use_bias=False),
            (2, 32, 32, 8),
        ),
    )
    def test_layer_checks(self, kwargs, shape):
        run_layer_test(
            self,
            EqualizedConv2D,
            kwargs,
            (_normal([2, 16, 16, 4]),),
            expected_output_shape=shape,
            expected_num_trainable_weights=1 + kwargs.get("use_bias", True),
            run_mixed_precision_check=True,
        )

    def test_param_count_matches_official(self):
        # Conv2dLayer(512, 512, kernel_size=3): weight 3*3*512*512 + bias 512.
        layer = EqualizedConv2D(512, 3)
        layer.build((None, 4, 4, 512))
        self.assertEqual(layer.count_params(), 3 * 3 * 512 * 512 + 512)

    @parameterized.parameters(
        (dict(filters=-1, kernel_size=3), r"filters=-1"),
        (dict(filters=4, kernel_size=0), r"kernel_size=0"),
        (dict(filters=4, kernel_size=3, up=0), r"up=0"),
        (dict(filters=4, kernel_size=3, down=2.0), r"down=2.0"),
        (dict(filters=4, kernel_size=3, conv_clamp=-1), r"conv_clamp=-1"),
        (dict(filters=4, kernel_size=3, activation="gelu"), r"activation=gelu"),
        (dict(filters=4, kernel_size=3, resample_filter=[]), r"resample_filter=\[\]"),
    )
    def test_bad_arguments_raise(self, kwargs, message):
        with self.assertRaisesRegex(ValueError, message):
            EqualizedConv2D(**kwargs)
