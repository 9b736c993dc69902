"""Tests of tfdisgan.precision and mixed-precision training (--precision)."""

import dataclasses
import os
from unittest import mock

import keras
import numpy as np
import tensorflow as tf

from tfdisgan import precision, training
from tfdisgan.data import describe
from tfdisgan.models.stylegan2 import StyleGAN2, lazy_adam

TINY_DCGAN = dict(data="procedural:32", resolution=16, base_channels=8, max_channels=32,
                  z_dim=16, batch=8, tick_kimg=0.016, snapshot_ticks=2, grid_seeds=4,
                  ema_kimg=0.05)
TINY_SG2 = dict(resolution=32, z_dim=32, w_dim=32, channel_base=512, channel_max=32,
                mapping_layers=2, mbstd_group_size=2, seed=3)


def _images(batch=4, res=32):
    return tf.random.stateless_uniform([batch, res, res, 3], [1, 2], -1.0, 1.0)


class ResolvePrecisionTest(tf.test.TestCase):
    def test_concrete_values_pass_through_and_unknown_fails(self):
        for name in ("float32", "mixed_float16", "mixed_bfloat16"):
            self.assertEqual(precision.resolve_precision(name), name)
        with self.assertRaisesRegex(ValueError, "'half'"):
            precision.resolve_precision("half")

    def test_auto_per_device(self):
        self.assertEqual(precision.resolve_precision("auto", "GPU"), "mixed_float16")
        self.assertEqual(precision.resolve_precision("auto", "TPU"), "mixed_bfloat16")
        with mock.patch.object(precision, "cpu_has_fast_bf16", return_value=True):
            self.assertEqual(precision.resolve_precision("auto", "CPU"), "mixed_bfloat16")
        with mock.patch.object(precision, "cpu_has_fast_bf16", return_value=False):
            self.assertEqual(precision.resolve_precision("auto", "CPU"), "float32")

    def test_cpu_flags(self):
        path = os.path.join(self.get_temp_dir(), "cpuinfo")
        for flags, expected in (("fma avx512f avx512_bf16", True), ("fma avx2", False),
                                ("sse amx_bf16 amx_tile", True)):
            with open(path, "w") as handle:
                handle.write(f"processor\t: 0\nflags\t\t: {flags}\n")
            precision.cpu_has_fast_bf16.cache_clear()
            self.assertEqual(precision.cpu_has_fast_bf16(path), expected, flags)
        precision.cpu_has_fast_bf16.cache_clear()
        self.assertFalse(precision.cpu_has_fast_bf16(os.path.join(path, "missing")))
        precision.cpu_has_fast_bf16.cache_clear()

    def test_loss_scaled_only_for_float16(self):
        adam = keras.optimizers.Adam(1e-3)
        self.assertIs(precision.loss_scaled(adam, "mixed_bfloat16"), adam)
        wrapped = precision.loss_scaled(adam, "mixed_float16")
        self.assertIsInstance(wrapped, keras.optimizers.LossScaleOptimizer)
        self.assertIs(precision.loss_scaled(wrapped, "mixed_float16"), wrapped)

    def test_global_policy_restores(self):
        before = keras.config.dtype_policy().name
        with precision.global_policy("mixed_bfloat16"):
            self.assertEqual(keras.layers.Dense(2).compute_dtype, "bfloat16")
        self.assertEqual(keras.config.dtype_policy().name, before)


class StyleGAN2MixedTest(tf.test.TestCase):
    def _train(self, half, steps=2):
        # 16 px: blocks >= max(2**(4+1-1), 8) = 16 px compute in the half dtype.
        gan = StyleGAN2(**{**TINY_SG2, "resolution": 16}, num_fp16_res=1, half_dtype=half)
        g_opt = lazy_adam(2e-3, interval=2)
        d_opt = lazy_adam(2e-3, interval=2)
        if half == "float16":
            g_opt = precision.loss_scaled(g_opt, "mixed_float16")
            d_opt = precision.loss_scaled(d_opt, "mixed_float16")
        gan.compile(g_optimizer=g_opt, d_optimizer=d_opt,
                    r1_gamma=1.0, r1_interval=2, pl_interval=2)
        data = tf.data.Dataset.from_tensors((_images(res=16), tf.zeros([4], tf.int32))).repeat()
        history = gan.fit(data, steps_per_epoch=steps, epochs=1, verbose=0)
        return gan, history.history

    def test_top_blocks_compute_in_half_and_train_finite(self):
        for half in ("bfloat16", "float16"):
            with self.subTest(half=half):
                gan, logs = self._train(half)
                synthesis = gan.generator.synthesis
                self.assertEqual(synthesis.b16.conv1.compute_dtype, half)
                self.assertEqual(synthesis.b16.conv0.compute_dtype, half)
                self.assertEqual(synthesis.b8.conv1.compute_dtype, "float32")
                self.assertEqual(gan.discriminator.b16.conv0.compute_dtype, half)
                self.assertEqual(gan.discriminator.b8.conv0.compute_dtype, "float32")
                # Weights stay float32.
                self.assertEqual(synthesis.b16.conv1.weight.dtype, "float32")
                for key in ("g_loss", "d_loss", "r1", "pl_penalty"):
                    self.assertTrue(np.isfinite(logs[key][-1]), (half, key, logs))
                for v in gan.generator.weights + gan.discriminator.weights:
                    self.assertTrue(np.all(np.isfinite(v.numpy())), v.path)
                images = gan.generate(seeds=[0, 1], psi=0.7)
                self.assertEqual(images.dtype, np.uint8)
                fakes = gan.synthesize(tf.random.normal([2, 32]), noise_mode="const")
                self.assertEqual(fakes.dtype, tf.float32)

    def test_bfloat16_close_to_float32(self):
        """Same weights, bf16 top blocks: images within bf16's ~3 significant digits."""
        full = StyleGAN2(**TINY_SG2)
        half = StyleGAN2(**TINY_SG2, num_fp16_res=2, half_dtype="bfloat16")
        for a, b in zip(full.generator.weights, half.generator.weights, strict=True):
            b.assign(a)
        z = tf.random.stateless_normal([2, 32], [4, 5])
        x = full.generator(z, noise_mode="const").numpy()
        y = half.generator(z, noise_mode="const").numpy()
        self.assertEqual(y.dtype, np.float32)
        self.assertGreater(np.abs(x).mean(), 0.01)
        self.assertLess(np.abs(x - y).mean(), 0.05 * np.abs(x).mean())

    def test_config_round_trip_keeps_half_dtype(self):
        gan = StyleGAN2(**TINY_SG2, num_fp16_res=2, half_dtype="bfloat16")
        config = gan.get_config()
        self.assertEqual((config["num_fp16_res"], config["half_dtype"]), (2, "bfloat16"))
        clone = StyleGAN2.from_config(config)
        self.assertEqual(clone.generator.synthesis.b32.conv1.compute_dtype, "bfloat16")
        with self.assertRaisesRegex(ValueError, "half_dtype"):
            StyleGAN2(**TINY_SG2, num_fp16_res=2, half_dtype="float8")


class TrainPrecisionTest(tf.test.TestCase):
    def test_validate_resolves_precision_and_fp16_res(self):
        info = describe("procedural:8")
        base = training.TrainConfig(model="stylegan2", cfg="cpu_tiny", resolution=32, steps=1)
        config, _, _ = training.validate(dataclasses.replace(base, precision="mixed_bfloat16"),
                                         info)
        self.assertEqual((config.precision, config.num_fp16_res), ("mixed_bfloat16", 4))
        config, _, _ = training.validate(base, info)
        self.assertEqual((config.precision, config.num_fp16_res), ("float32", 0))
        with mock.patch.object(precision, "cpu_has_fast_bf16", return_value=False):
            config, _, _ = training.validate(dataclasses.replace(base, precision="auto"), info)
        self.assertEqual(config.precision, "mixed_float16"
                         if tf.config.list_physical_devices("GPU") else "float32")
        cases = [
            (dict(precision="fp8"), "--precision:.*'fp8'"),
            (dict(num_fp16_res=2), "--num_fp16_res: 2 needs a mixed --precision"),
            (dict(precision="mixed_bfloat16", num_fp16_res=-1), "--num_fp16_res: must be >= 0"),
            (dict(model="dcgan", cfg=None, num_fp16_res=2),
             "--num_fp16_res: applies to --model=stylegan2"),
        ]
        for overrides, message in cases:
            with self.subTest(message=message):
                with self.assertRaisesRegex(training.ConfigError, message):
                    training.validate(dataclasses.replace(base, **overrides), info)

    def test_mixed_run_then_resume_in_float32(self):
        """A mixed_float16 DCGAN run trains finite steps (loss-scaled optimizers) and its
        checkpoint resumes under float32: the checkpoint layout is the same."""
        outdir = self.get_temp_dir()
        config = training.TrainConfig(outdir=outdir, steps=2, precision="mixed_float16",
                                      run_name="mixed", **TINY_DCGAN)
        run_dir = training.run(config, verbose=False)
        with open(os.path.join(run_dir, "log.jsonl")) as handle:
            lines = [line for line in handle if line.strip()]
        self.assertTrue(lines)
        self.assertIn("--precision=mixed_float16", open(os.path.join(run_dir, "flags.txt")).read())
        resumed = dataclasses.replace(config, steps=4, precision="float32", resume=run_dir)
        training.run(resumed, verbose=False)
        step = tf.train.load_variable(
            tf.train.latest_checkpoint(os.path.join(run_dir, "checkpoints")),
            "step/.ATTRIBUTES/VARIABLE_VALUE")
        self.assertEqual(int(step), 4)

    def test_bfloat16_stylegan2_build_model(self):
        info = describe("procedural:8")
        config, _, _ = training.validate(training.TrainConfig(
            model="stylegan2", cfg="cpu_tiny", resolution=32, steps=1,
            precision="mixed_bfloat16", num_fp16_res=1), info)
        model, _ = training.build_model(config, 0, tf.distribute.get_strategy())
        self.assertEqual(model.generator.synthesis.b32.conv1.compute_dtype, "bfloat16")
        self.assertEqual(model.generator.synthesis.b16.conv1.compute_dtype, "float32")
        self.assertNotIsInstance(model.g_optimizer, keras.optimizers.LossScaleOptimizer)


class ExportMixedTest(tf.test.TestCase):
    def test_bfloat16_generator_exports_uint8_images(self):
        from tfdisgan import export

        gan = StyleGAN2(**{**TINY_SG2, "resolution": 16}, num_fp16_res=1,
                        half_dtype="bfloat16")
        path = export.export_saved_model(
            gan, os.path.join(self.get_temp_dir(), "bf16", "1"), max_batch=4)
        loaded = tf.saved_model.load(path)
        images = loaded.signatures["serving_default"](
            seeds=tf.constant([0, 5], tf.int64), psi=tf.constant([1.0, 0.7]),
            class_id=tf.constant([0, 0], tf.int32))["images"]
        self.assertEqual(images.dtype, tf.uint8)
        self.assertEqual(tuple(images.shape), (2, 16, 16, 3))
        expected = np.stack([gan.generate(seeds=[0], psi=1.0)[0],
                             gan.generate(seeds=[5], psi=0.7)[0]])
        # Batches of 2 vs 1: Eigen's CPU kernels (no oneDNN) may round a pixel to the next
        # uint8 level (float32 exports are compared exactly in tests/test_export.py).
        self.assertAllClose(np.int32(images.numpy()), np.int32(expected), atol=1, rtol=0)
