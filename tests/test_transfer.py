"""Transfer learning (tfdisgan.transfer): loading by name, the report, mismatch errors,
partial loads, FreezeD and the frozen mapping, and the --transfer_from training path."""

import json
import os
import tempfile

import keras
import numpy as np
import tensorflow as tf

from tfdisgan import export, training, transfer
from tfdisgan.data import describe
from tfdisgan.models.dcgan import DCGAN
from tfdisgan.models.stylegan2 import StyleGAN2, lazy_adam

SG2 = dict(resolution=16, z_dim=32, w_dim=32, channel_base=256, channel_max=32,
           mapping_layers=2, mbstd_group_size=2)
DCGAN_TINY = dict(data="procedural:64", resolution=16, base_channels=8, max_channels=32,
                  z_dim=16, batch=8, tick_kimg=0.016, snapshot_ticks=2, grid_seeds=4,
                  ema_kimg=0.05, showcase=False, steps=2)


def _sg2(seed, **overrides):
    keras.utils.set_random_seed(seed)
    model = StyleGAN2(**{**SG2, **overrides}, seed=seed)
    model.compile(g_optimizer=lazy_adam(0.01), d_optimizer=lazy_adam(0.01),
                  r1_gamma=1.0, r1_interval=2, pl_weight=0.0)
    return model


def _values(model):
    return {k: v.numpy().copy() for k, v in transfer.named_variables(model).items()}


class TransferTest(tf.test.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp()
        cls.source = _sg2(1)
        # Non-trivial buffers too: they must travel with the weights.
        cls.source.generator.mapping.w_avg.assign(np.linspace(-1, 1, 32).astype(np.float32))
        cls.npz = transfer.save_npz(cls.source, os.path.join(cls.tmp, "source.npz"))

    def test_exact_load_and_report(self):
        target = _sg2(2)
        run_dir = tempfile.mkdtemp()
        report = transfer.transfer(target, self.npz, run_dir=run_dir, verbose=False)
        expected = _values(self.source)
        for key, value in _values(target).items():
            self.assertAllEqual(value, expected[key], msg=key)
        total = len(expected)
        self.assertEqual(report["counts"], {"loaded": total, "partial": 0, "new": 0,
                                            "mismatch": 0, "unused": 0})
        with open(os.path.join(run_dir, "transfer_report.json"), encoding="utf-8") as handle:
            stored = json.load(handle)
        self.assertEqual(len(stored["variables"]), total)
        names = {row["name"] for row in stored["variables"]}
        self.assertIn("generator/mapping/w_avg", names)
        self.assertIn("generator_ema/synthesis/b8/conv0/noise/noise_const", names)
        self.assertIn("discriminator/b4/out/bias", names)
        with open(os.path.join(run_dir, "transfer_report.txt"), encoding="utf-8") as handle:
            text = handle.read()
        self.assertEqual(text.count("\n  loaded "), total)
        self.assertIn(f"{total} loaded, 0 partial, 0 new, 0 mismatch, 0 unused", text)

    def test_mismatch_errors_name_the_first_variable(self):
        cases = [
            (dict(resolution=32), "generator/synthesis/b32/conv0/weight", "grow"),
            (dict(channel_max=16), "generator/synthesis/b4/const", "must match"),
            (dict(num_classes=3), "generator/mapping/embed/weight", "new_classes"),
        ]
        for overrides, name, hint in cases:
            target = _sg2(2, **overrides)
            before = _values(target)
            run_dir = tempfile.mkdtemp()
            with self.assertRaises(transfer.TransferError) as ctx:
                transfer.transfer(target, self.npz, run_dir=run_dir, verbose=False)
            message = str(ctx.exception)
            self.assertIn(f"mismatch at {name!r}", message)
            self.assertIn(hint, message)
            self.assertIsInstance(ctx.exception, training.ConfigError)
            # Nothing was loaded, and the report with the error is written.
            for key, value in _values(target).items():
                self.assertAllEqual(value, before[key])
            with open(os.path.join(run_dir, "transfer_report.json"), encoding="utf-8") as f:
                self.assertIn(name, json.load(f)["error"])
        dcgan = DCGAN(resolution=16, z_dim=32, base_channels=8, max_channels=32)
        dcgan.compile(**DCGAN.default_optimizers())
        with self.assertRaisesRegex(transfer.TransferError, "stylegan2 model, this run trains"):
            transfer.transfer(dcgan, self.npz, verbose=False)

    def test_partial_new_classes(self):
        target = _sg2(2, num_classes=3)
        fresh = _values(target)
        report = transfer.transfer(target, self.npz, partial="new_classes", verbose=False)
        status = {row["name"]: row["status"] for row in report["variables"]}
        source, after = _values(self.source), _values(target)
        for net in ("generator", "generator_ema"):
            self.assertEqual(status[f"{net}/mapping/embed/weight"], "new")
            self.assertEqual(status[f"{net}/mapping/fc0/weight"], "partial")
            fc0 = after[f"{net}/mapping/fc0/weight"]
            self.assertEqual(fc0.shape, (64, 32))
            self.assertAllEqual(fc0[:32], source[f"{net}/mapping/fc0/weight"])  # z rows
            self.assertAllEqual(fc0[32:], fresh[f"{net}/mapping/fc0/weight"][32:])
        self.assertEqual(status["discriminator/mapping/fc7/weight"], "new")
        self.assertEqual(status["discriminator/b4/out/weight"], "mismatch")
        self.assertAllEqual(after["discriminator/b4/out/weight"],
                            fresh["discriminator/b4/out/weight"])
        for name, value in status.items():
            if value == "loaded":
                self.assertAllEqual(after[name], source[name], msg=name)
        self.assertEqual(report["counts"]["unused"], 0)
        self.assertGreater(report["counts"]["loaded"], 100)
        # DCGAN: class embedding and projection new, the z rows of `project` loaded.
        dcgans = []
        for classes in (0, 4):
            keras.utils.set_random_seed(classes)
            dcgans.append(DCGAN(resolution=16, z_dim=8, base_channels=8, max_channels=16,
                                num_classes=classes))
            dcgans[-1].compile(**DCGAN.default_optimizers())
        npz = transfer.save_npz(dcgans[0], os.path.join(tempfile.mkdtemp(), "dcgan.npz"))
        report = transfer.transfer(dcgans[1], npz, partial="new_classes", verbose=False)
        status = {row["name"]: row["status"] for row in report["variables"]}
        self.assertEqual(status["generator/class_embedding/embeddings"], "new")
        self.assertEqual(status["discriminator/class_projection/embeddings"], "new")
        self.assertEqual(status["generator/project/kernel"], "partial")
        self.assertAllEqual(dcgans[1].generator.get_layer("project").kernel.numpy()[:8],
                            dcgans[0].generator.get_layer("project").kernel.numpy())
        # The flag allows label variables only: a resolution change is still an error.
        with self.assertRaisesRegex(transfer.TransferError, "b32/conv0"):
            transfer.transfer(_sg2(2, num_classes=3, resolution=32), self.npz,
                              partial="new_classes", verbose=False)

    def test_partial_grow(self):
        target = _sg2(2, resolution=32)
        fresh = _values(target)
        report = transfer.transfer(target, self.npz, partial="grow", verbose=False)
        status = {row["name"]: row["status"] for row in report["variables"]}
        source, after = _values(self.source), _values(target)
        self.assertEqual({k for k, s in status.items() if s == "unused"},
                         {"discriminator/b16/fromrgb/weight", "discriminator/b16/fromrgb/bias"})
        for name, value in status.items():
            if "/b32/" in name:
                self.assertEqual(value, "new", msg=name)
                self.assertAllEqual(after[name], fresh[name])
            elif value != "unused":
                self.assertEqual(value, "loaded", msg=name)
                self.assertAllEqual(after[name], source[name], msg=name)
        self.assertIn("generator/mapping/w_avg", status)
        with self.assertRaisesRegex(transfer.TransferError, "source resolution below 16"):
            transfer.transfer(_sg2(2, resolution=16), transfer.save_npz(
                target, os.path.join(tempfile.mkdtemp(), "big.npz")), partial="grow",
                verbose=False)

    def test_freeze_d_and_mapping_bit_identical(self):
        model = _sg2(4)
        frozen = transfer.freeze(model, freeze_d=1, freeze_mapping=True)
        self.assertEqual(
            sorted(frozen),
            sorted([f"discriminator/b16/{p}" for p in (
                "fromrgb/weight", "fromrgb/bias", "conv0/weight", "conv0/bias", "conv1/weight",
                "conv1/bias", "skip/weight")] + [f"generator/mapping/fc{i}/{p}" for i in (0, 1)
                                                 for p in ("weight", "bias")]))
        before = _values(model)
        reals = tf.random.stateless_uniform([4, 16, 16, 3], [0, 1], -1.0, 1.0)
        for _ in range(3):  # eager steps, R1 included (r1_interval=2)
            model.train_step(reals)
        after = _values(model)
        for key in frozen:
            self.assertAllEqual(after[key], before[key], msg=key)
        for key in ("discriminator/b8/conv0/weight", "discriminator/b4/fc/weight",
                    "generator/synthesis/b16/conv1/weight", "generator/synthesis/b4/const"):
            self.assertNotAllClose(after[key], before[key], msg=key)
        with self.assertRaisesRegex(ValueError, r"freeze_d must be in \[0, 2\]"):
            transfer.freeze(model, freeze_d=3)

    def test_freeze_d_dcgan_counts_convs_from_the_input(self):
        keras.utils.set_random_seed(0)
        model = DCGAN(resolution=32, z_dim=16, base_channels=8, max_channels=32, seed=0)
        model.compile(**DCGAN.default_optimizers())
        frozen = transfer.freeze(model, freeze_d=2)
        self.assertEqual(sorted(frozen), sorted([
            "discriminator/down16_conv/kernel", "discriminator/down8_conv/kernel",
            "discriminator/down8_bn/gamma", "discriminator/down8_bn/beta"]))
        before = _values(model)
        reals = tf.random.stateless_uniform([4, 32, 32, 3], [0, 2], -1.0, 1.0)
        for _ in range(2):
            model.train_step(reals)
        after = _values(model)
        for key in frozen:
            self.assertAllEqual(after[key], before[key], msg=key)
        self.assertNotAllClose(after["discriminator/down4_conv/kernel"],
                               before["discriminator/down4_conv/kernel"])
        with self.assertRaisesRegex(ValueError, "DCGAN has no mapping"):
            transfer.freeze(model, freeze_mapping=True)

    def test_config_checks(self):
        info = describe("procedural:64")

        def validate(**overrides):
            config = training.TrainConfig(outdir=self.tmp, **{**DCGAN_TINY, **overrides})
            return training.validate(config, info)

        for overrides, flag in [
            (dict(transfer_partial="grow"), "--transfer_partial: needs --transfer_from"),
            (dict(transfer_partial="more"), "--transfer_partial: must be one of"),
            (dict(transfer_keep_optimizer=True), "--transfer_keep_optimizer: needs"),
            (dict(transfer_from="/nonexistent/run"), "--transfer_from: '/nonexistent/run'"),
            (dict(freeze_d=3), r"--freeze_d: must be in \[0, 2\]"),
            (dict(freeze_mapping=True), "--freeze_mapping: applies to --model=stylegan2"),
        ]:
            with self.assertRaisesRegex(training.ConfigError, flag):
                validate(**overrides)
        self.assertEqual(validate(freeze_d=2)[0].freeze_d, 2)


class TransferTrainingTest(tf.test.TestCase):
    """--transfer_from through `training.run` (DCGAN: seconds per run)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.outdir = tempfile.mkdtemp()
        cls.source_run = training.run(
            training.TrainConfig(outdir=cls.outdir, run_name="pretrain", **DCGAN_TINY),
            verbose=False)

    def test_finetune_run_with_freeze_d(self):
        run_dir = training.run(training.TrainConfig(
            outdir=self.outdir, run_name="finetune", transfer_from=self.source_run, freeze_d=1,
            **{**DCGAN_TINY, "classes": ("flood",)}), verbose=False)
        with open(os.path.join(run_dir, "transfer_report.json"), encoding="utf-8") as handle:
            report = json.load(handle)
        self.assertEqual(report["counts"]["loaded"], len(report["variables"]))
        self.assertEqual(report["frozen"], ["discriminator/down8_conv/kernel"])
        self.assertTrue(os.path.isfile(os.path.join(run_dir, "transfer_report.txt")))
        source = _values(export.load_model(self.source_run)[0])
        tuned = _values(export.load_model(run_dir)[0])
        key = "discriminator/down8_conv/kernel"
        self.assertAllEqual(tuned[key], source[key])
        self.assertNotAllClose(tuned["discriminator/down4_conv/kernel"],
                               source["discriminator/down4_conv/kernel"])
        self.assertNotAllClose(tuned["generator/to_rgb/kernel"], source["generator/to_rgb/kernel"])
        with open(os.path.join(run_dir, "log.jsonl"), encoding="utf-8") as handle:
            steps = [json.loads(line)["step"] for line in handle if line.strip()]
        self.assertLessEqual(max(steps), DCGAN_TINY["steps"])  # the counters restarted

    def test_keep_optimizer(self):
        fresh = DCGAN_TINY.copy()
        config, _, num_classes = training.validate(
            training.TrainConfig(outdir=self.outdir, **fresh), describe(fresh["data"]))
        model, _ = training.build_model(config, num_classes, tf.distribute.get_strategy())
        source_model = export.load_model(self.source_run)[0]
        transfer.transfer(model, self.source_run, keep_optimizer=True, verbose=False)
        for name in ("g_optimizer", "d_optimizer"):
            ours, theirs = getattr(model, name), getattr(source_model, name)
            self.assertEqual(int(ours.iterations.numpy()), int(theirs.iterations.numpy()))
            self.assertGreater(int(ours.iterations.numpy()), 0)
            for a, b in zip(ours.variables, theirs.variables, strict=True):
                self.assertAllEqual(a.numpy(), b.numpy())
        model, _ = training.build_model(config, num_classes, tf.distribute.get_strategy())
        transfer.transfer(model, self.source_run, verbose=False)  # reset: fresh optimizers
        self.assertEqual(int(model.g_optimizer.iterations.numpy()), 0)
        self.assertAllEqual(model.g_optimizer.variables[-1].numpy(),
                            np.zeros(model.g_optimizer.variables[-1].shape))
