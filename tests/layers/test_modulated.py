"""Tests for tfdisgan.layers.modulated: modulated convolution, noise, SynthesisLayer, ToRGB.

The reference builds each sample's (de)modulated weight explicitly in NumPy and runs the
definition of conv2d_resample (`layer_test_util.np_conv2d_resample`); parameter counts are
those of stylegan2-ada-pytorch's SynthesisLayer / ToRGBLayer.
"""

import keras
import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from tests.layers.layer_test_util import np_conv2d_resample, np_lrelu, run_layer_test
from tfdisgan.layers import (
    ModulatedConv2D,
    NoiseInjection,
    ToRGB,
    modulated_conv2d,
    resolve_fused_modconv,
    setup_filter,
)

SQRT2 = np.sqrt(2.0)
FILTER = setup_filter([1, 3, 3, 1])


def _normal(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def np_modulated_conv2d(
    x, weight, styles, noise=None, up=1, padding=0, f=None, demodulate=True, flip_weight=True
):
    """Per-sample weights ``w * s`` (demodulated: / sqrt(sum w^2 + 1e-8)), then the conv."""
    out = []
    for n in range(x.shape[0]):
        w = weight.astype(np.float64) * styles[n].astype(np.float64)[None, None, :, None]
        if demodulate:
            w = w / np.sqrt(np.sum(w**2, axis=(0, 1, 2)) + 1e-8)
        out.append(
            np_conv2d_resample(x[n : n + 1], w, f, up=up, padding=padding, flip_weight=flip_weight)
        )
    y = np.concatenate(out, axis=0)
    return y if noise is None else y + noise


def _mod_cases():
    for fused in (True, False):
        for up in (1, 2):
            for demodulate in (True, False):
                name = (
                    f"{'fused' if fused else 'nonfused'}_up{up}_{'demod' if demodulate else 'mod'}"
                )
                yield (name, fused, up, demodulate)


class ModulatedConv2dOpTest(tf.test.TestCase, parameterized.TestCase):
    @parameterized.named_parameters(*_mod_cases())
    def test_matches_numpy(self, fused, up, demodulate):
        x, weight = _normal([2, 6, 6, 4]), _normal([3, 3, 4, 5], seed=1)
        styles = np.random.default_rng(2).uniform(0.2, 2.0, [2, 4]).astype(np.float32)
        noise = _normal([2, 6 * up, 6 * up, 1], seed=3)
        got = modulated_conv2d(
            x,
            weight,
            styles,
            noise=noise,
            up=up,
            padding=1,
            resample_filter=FILTER,
            demodulate=demodulate,
            flip_weight=(up == 1),
            fused_modconv=fused,
        )
        expected = np_modulated_conv2d(
            x,
            weight,
            styles,
            noise,
            up=up,
            padding=1,
            f=FILTER,
            demodulate=demodulate,
            flip_weight=(up == 1),
        )
        self.assertAllClose(got, expected, atol=1e-4, rtol=1e-4)

    @parameterized.parameters((1,), (2,))
    def test_fused_equals_nonfused_with_gradients(self, up):
        x = tf.constant(_normal([3, 8, 8, 8]))
        weight = tf.Variable(_normal([3, 3, 8, 8], seed=1))
        styles = tf.Variable(_normal([3, 8], seed=2))

        def run(fused):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = modulated_conv2d(
                    x,
                    weight,
                    styles,
                    up=up,
                    padding=1,
                    resample_filter=FILTER,
                    flip_weight=(up == 1),
                    fused_modconv=fused,
                )
                loss = tf.reduce_sum(tf.sin(y))
            return [y] + tape.gradient(loss, [x, weight, styles])

        for a, b in zip(run(True), run(False), strict=True):
            self.assertAllClose(a, b, atol=1e-4, rtol=1e-4)

    @parameterized.named_parameters(*_mod_cases())
    def test_gain_is_the_output_scaled(self, fused, up, demodulate):
        # SynthesisLayer folds its activation gain in here: gain * (conv + noise), with
        # the gradients of the output scaled after.
        x = tf.constant(_normal([2, 8, 8, 4]))
        weight = tf.Variable(_normal([3, 3, 4, 5], seed=1))
        styles = tf.Variable(_normal([2, 4], seed=2))
        noise = tf.constant(_normal([2, 8 * up, 8 * up, 1], seed=3))
        dy = _normal([2, 8 * up, 8 * up, 5], seed=4)

        def run(gain):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = modulated_conv2d(x, weight, styles, noise=noise, up=up, padding=1,
                                     resample_filter=FILTER, demodulate=demodulate,
                                     flip_weight=(up == 1), fused_modconv=fused, gain=gain)
                loss = tf.reduce_sum(y * dy)
            return [y, *tape.gradient(loss, [x, weight, styles])]

        for a, b in zip(run(SQRT2), run(1.0), strict=True):
            self.assertAllClose(a, b * SQRT2, atol=1e-4, rtol=1e-4)

    def test_demodulated_output_has_unit_variance(self):
        x = _normal([4, 16, 16, 64])
        weight = _normal([3, 3, 64, 64], seed=1)
        styles = np.random.default_rng(2).uniform(0.5, 2.0, [4, 64]).astype(np.float32)
        y = modulated_conv2d(x, weight, styles, padding=1, fused_modconv=False)
        self.assertAllClose(np.std(y[:, 1:-1, 1:-1]), 1.0, rtol=0.05)

    @parameterized.parameters((True,), (False,))
    def test_demodulation_is_invariant_to_style_scale(self, fused):
        x, weight = _normal([2, 8, 8, 4]), _normal([3, 3, 4, 6], seed=1)
        styles = _normal([2, 4], seed=2)
        scale = np.array([[0.1], [7.0]], np.float32)
        a = modulated_conv2d(x, weight, styles, padding=1, fused_modconv=fused)
        b = modulated_conv2d(x, weight, styles * scale, padding=1, fused_modconv=fused)
        self.assertAllClose(a, b, atol=1e-4, rtol=1e-4)

    def test_float16_prenormalisation_matches_float32(self):
        x, weight = _normal([2, 8, 8, 16]), 50 * _normal([3, 3, 16, 8], seed=1)
        styles = 100 * _normal([2, 16], seed=2)
        y32 = modulated_conv2d(x, weight, styles, padding=1, fused_modconv=False)
        y16 = modulated_conv2d(
            tf.cast(x, tf.float16), weight, styles, padding=1, fused_modconv=False
        )
        self.assertEqual(y16.dtype, tf.float16)
        self.assertAllClose(tf.cast(y16, tf.float32), y32, atol=2e-2, rtol=2e-2)

    def test_unknown_batch_size_runs_nonfused(self):
        x, weight, styles = _normal([2, 8, 8, 4]), _normal([3, 3, 4, 6], seed=1), _normal([2, 4])
        fn = tf.function(
            lambda x, s: modulated_conv2d(x, weight, s, padding=1, fused_modconv=True),
            input_signature=[tf.TensorSpec([None, 8, 8, 4]), tf.TensorSpec([None, 4])],
        )
        self.assertAllClose(
            fn(x, styles), np_modulated_conv2d(x, weight, styles, padding=1), atol=1e-4
        )

    def test_resolve_fused_modconv(self):
        self.assertTrue(resolve_fused_modconv(True, training=True, batch_size=4))
        self.assertFalse(resolve_fused_modconv(False, training=False, batch_size=4))
        self.assertFalse(resolve_fused_modconv(True, training=False, batch_size=None))
        self.assertFalse(resolve_fused_modconv(None, training=True, batch_size=4))
        if not tf.config.list_logical_devices("GPU"):
            self.assertFalse(resolve_fused_modconv(None, training=False, batch_size=4))


class NoiseInjectionTest(tf.test.TestCase):
    def test_modes(self):
        x = tf.zeros([3, 16, 16, 4])
        layer = NoiseInjection(16, seed=7)
        layer.build(x.shape)
        layer.noise_strength.assign(2.0)
        self.assertAllEqual(layer(x, noise_mode="none"), x)
        const = layer(x, noise_mode="const")
        self.assertAllClose(const, tf.broadcast_to(2.0 * layer.noise_const[:, :, None], x.shape))
        self.assertAllEqual(layer(x, noise_mode="const"), const)
        r1, r2 = layer(x, noise_mode="random"), layer(x, noise_mode="random")
        self.assertNotAllClose(r1, r2)
        self.assertNotAllClose(r1[0], r1[1])
        self.assertAllEqual(r1[..., 0], r1[..., 3])  # one noise image shared by all channels
        self.assertAllClose(np.std(r1 / 2.0), 1.0, rtol=0.1)
        self.assertAllClose(np.std(layer.noise_const), 1.0, rtol=0.15)

    def test_weights_and_seeded_const(self):
        a, b = NoiseInjection(8, seed=3), NoiseInjection(8, seed=3)
        a.build((None, 8, 8, 2))
        b.build((None, 8, 8, 2))
        self.assertAllEqual(a.noise_const, b.noise_const)
        self.assertEqual([w.name for w in a.trainable_weights], ["noise_strength"])
        self.assertEqual([w.name for w in a.non_trainable_weights], ["noise_const"])
        self.assertEqual(a.count_params(), 1 + 64)

    def test_layer_checks(self):
        run_layer_test(
            self,
            NoiseInjection,
            dict(resolution=8, seed=1),
            (_normal([2, 8, 8, 3]),),
            call_kwargs=dict(noise_mode="const"),
            expected_output_shape=(2, 8, 8, 3),
            expected_num_trainable_weights=1,
            expected_num_non_trainable_weights=1,
        )

    def test_bad_arguments_raise(self):
        with self.assertRaisesRegex(ValueError, r"resolution=0"):
            NoiseInjection(0)
        with self.assertRaisesRegex(ValueError, r"noise_mode=foo"):
            NoiseInjection(4)(tf.zeros([1, 4, 4, 1]), noise_mode="foo")
        with self.assertRaisesRegex(ValueError, r"input_shape=\(1, 8, 8, 1\)"):
            NoiseInjection(4)(tf.zeros([1, 8, 8, 1]))


class ModulatedConv2DLayerTest(tf.test.TestCase, parameterized.TestCase):
    @parameterized.parameters((1, True), (2, True), (2, False))
    def test_matches_official_synthesis_layer(self, up, fused):
        x, w = _normal([2, 8, 8, 4]), _normal([2, 16], seed=1)
        layer = ModulatedConv2D(6, w_dim=16, up=up, conv_clamp=0.5, fused_modconv=fused)
        layer.build(x.shape, w.shape)
        layer.bias.assign(_normal([6], seed=2))
        layer.noise.noise_strength.assign(0.3)
        y = layer(x, w, noise_mode="const", gain=0.7)

        styles = w @ layer.affine.weight.numpy() / np.sqrt(16) + 1.0  # bias_init 1
        noise = 0.3 * layer.noise.noise_const.numpy()[None, :, :, None]
        pre = np_modulated_conv2d(
            x,
            layer.weight.numpy(),
            styles,
            noise,
            up=up,
            padding=1,
            f=FILTER,
            flip_weight=(up == 1),
        )
        expected = np.clip(np_lrelu(pre + layer.bias.numpy()) * SQRT2 * 0.7, -0.35, 0.35)
        self.assertEqual(y.shape, (2, 8 * up, 8 * up, 6))
        self.assertAllClose(y, expected, atol=1e-4, rtol=1e-4)

    def test_noise_modes(self):
        x, w = _normal([2, 8, 8, 4]), _normal([2, 16], seed=1)
        layer = ModulatedConv2D(4, w_dim=16)
        layer(x, w, noise_mode="none")
        layer.noise.noise_strength.assign(1.0)
        none = layer(x, w, noise_mode="none")
        self.assertAllEqual(layer(x, w, noise_mode="const"), layer(x, w, noise_mode="const"))
        self.assertNotAllClose(layer(x, w, noise_mode="const"), none)
        self.assertNotAllClose(layer(x, w, noise_mode="random"), layer(x, w, noise_mode="random"))
        layer.noise.noise_strength.assign(0.0)
        self.assertAllClose(layer(x, w, noise_mode="random"), none)
        self.assertAllEqual(ModulatedConv2D(4, w_dim=16, use_noise=False)(x, w).shape, none.shape)

    def test_param_count_matches_official(self):
        # SynthesisLayer(512, 512, w_dim=512, resolution=4, kernel_size=3).
        layer = ModulatedConv2D(512, 3, w_dim=512, resolution=4)
        layer.build((None, 4, 4, 512), (None, 512))
        trainable = sum(int(np.prod(v.shape)) for v in layer.trainable_weights)
        self.assertEqual(trainable, (512 * 512 + 512) + 3 * 3 * 512 * 512 + 512 + 1)
        self.assertEqual(trainable, 2_622_465)
        self.assertEqual([tuple(v.shape) for v in layer.non_trainable_weights], [(4, 4)])

    @parameterized.parameters(
        (dict(filters=8, w_dim=16, up=2, resample_filter=[1, 2, 1]), (2, 16, 16, 8), 5),
        (
            dict(filters=8, w_dim=16, use_noise=False, conv_clamp=256.0, kernel_size=1),
            (2, 8, 8, 8),
            4,
        ),
    )
    def test_layer_checks(self, kwargs, shape, num_trainable):
        run_layer_test(
            self,
            ModulatedConv2D,
            kwargs,
            (_normal([2, 8, 8, 4]), _normal([2, 16], seed=1)),
            call_kwargs=dict(noise_mode="const"),
            expected_output_shape=shape,
            expected_num_trainable_weights=num_trainable,
            run_mixed_precision_check=True,
            atol=1e-4,
        )

    def test_inside_functional_model_with_unknown_batch(self):
        x_in, w_in = keras.Input((8, 8, 4)), keras.Input((16,))
        out = ModulatedConv2D(8, w_dim=16, up=2)(x_in, w_in, noise_mode="const")
        model = keras.Model([x_in, w_in], out)
        self.assertEqual(model.output_shape, (None, 16, 16, 8))
        self.assertEqual(model([_normal([3, 8, 8, 4]), _normal([3, 16])]).shape, (3, 16, 16, 8))

    @parameterized.parameters(
        (dict(filters=0), r"filters=0"),
        (dict(filters=4, w_dim=-1), r"w_dim=-1"),
        (dict(filters=4, up=2, resolution=7), r"resolution=7"),
        (dict(filters=4, fused_modconv="yes"), r"fused_modconv=yes"),
        (dict(filters=4, demodulate=1), r"demodulate=1"),
        (dict(filters=4, activation="gelu"), r"activation=gelu"),
    )
    def test_bad_arguments_raise(self, kwargs, message):
        with self.assertRaisesRegex(ValueError, message):
            ModulatedConv2D(**kwargs)

    def test_bad_inputs_raise(self):
        x = tf.zeros([2, 8, 8, 4])
        with self.assertRaisesRegex(ValueError, r"w_dim=16"):
            ModulatedConv2D(4, w_dim=16)(x, tf.zeros([2, 8]))
        with self.assertRaisesRegex(ValueError, r"resolution=32"):
            ModulatedConv2D(4, w_dim=16, resolution=32)(x, tf.zeros([2, 16]))
        with self.assertRaisesRegex(ValueError, r"noise_mode=off"):
            ModulatedConv2D(4, w_dim=16)(x, tf.zeros([2, 16]), noise_mode="off")


class HalfPrecisionStyleTest(tf.test.TestCase):
    def test_w_reaches_the_affine_in_float32(self):
        # Official fp16 blocks feed the float32 affine an fp32 w; Keras would round a float
        # call argument to the layer's half compute dtype first (1.0001 -> 1.0 in bfloat16).
        w = np.full([2, 8], 1.0001, np.float32)
        x = tf.random.normal([2, 8, 8, 4])
        for layer in (ModulatedConv2D(4, w_dim=8, dtype="mixed_bfloat16"),
                      ToRGB(3, w_dim=8, dtype="mixed_bfloat16")):
            with self.subTest(layer=type(layer).__name__):
                layer(x, w)
                seen = []
                affine_call = layer.affine.call

                def spy(inputs, *args, _call=affine_call, _seen=seen, **kwargs):
                    _seen.append(inputs)
                    return _call(inputs, *args, **kwargs)

                layer.affine.call = spy
                y = layer(x, w)
                self.assertEqual(y.dtype, tf.bfloat16)
                self.assertEqual(seen[0].dtype, tf.float32)
                self.assertAllEqual(seen[0], w)  # not rounded


class ToRGBTest(tf.test.TestCase, parameterized.TestCase):
    @parameterized.parameters((True,), (False,))
    def test_matches_official_torgb(self, fused):
        x, w = _normal([2, 8, 8, 4]), _normal([2, 16], seed=1)
        layer = ToRGB(3, w_dim=16, conv_clamp=0.5, fused_modconv=fused)
        layer.build(x.shape, w.shape)
        layer.bias.assign(_normal([3], seed=2))
        y = layer(x, w)
        styles = (w @ layer.affine.weight.numpy() / np.sqrt(16) + 1.0) / np.sqrt(4)
        pre = np_modulated_conv2d(x, layer.weight.numpy(), styles, demodulate=False)
        self.assertAllClose(y, np.clip(pre + layer.bias.numpy(), -0.5, 0.5), atol=1e-5)

    def test_param_count_matches_official(self):
        # ToRGBLayer(512, 3, w_dim=512): affine 512*512 + 512, weight 512*3, bias 3.
        layer = ToRGB(3, w_dim=512)
        layer.build((None, 4, 4, 512), (None, 512))
        self.assertEqual(layer.count_params(), 512 * 512 + 512 + 512 * 3 + 3)

    def test_layer_checks(self):
        run_layer_test(
            self,
            ToRGB,
            dict(channels=3, w_dim=16, kernel_size=3, conv_clamp=None, fused_modconv=None),
            (_normal([2, 8, 8, 4]), _normal([2, 16], seed=1)),
            expected_output_shape=(2, 8, 8, 3),
            expected_num_trainable_weights=4,
            run_mixed_precision_check=True,
        )

    @parameterized.parameters(
        (dict(channels=0), r"channels=0"),
        (dict(kernel_size=-3), r"kernel_size=-3"),
        (dict(conv_clamp="big"), r"conv_clamp=big"),
    )
    def test_bad_arguments_raise(self, kwargs, message):
        with self.assertRaisesRegex(ValueError, message):
            ToRGB(**kwargs)
