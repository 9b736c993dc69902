"""Tests of tfdisgan.experiments (small_data, cross_mix, leak) and scripts/study.py: the
leak test and tiny studies."""

import json
import os

import numpy as np
import tensorflow as tf
from PIL import Image

from tests.fixtures import run_script
from tfdisgan.data import procedural
from tfdisgan.experiments import cross_mix, leak
from tfdisgan.experiments import small_data as study


class RotateTest(tf.test.TestCase):
    def test_zero_is_identity_and_quarter_turn_is_rot90(self):
        images = np.random.default_rng(0).uniform(0, 255, (2, 16, 16, 3)).astype(np.float32)
        self.assertAllClose(leak.rotate_images(images, 0.0), images, atol=1e-4)
        # Counter-clockwise on screen, as np.rot90 over (H, W).
        self.assertAllClose(leak.rotate_images(images, 90.0),
                            np.rot90(images, k=1, axes=(1, 2)), atol=1e-3)

    def test_reflect_fill_mirrors_the_border(self):
        image = np.zeros((1, 8, 8, 1), np.float32)
        image[0, :, 0] = 1.0  # left column
        # A quarter turn moves the left column to the bottom row; a small turn pulls the
        # pixels beyond the left edge from the mirror image, so nothing is left empty.
        out = leak.rotate_images(image, 20.0, fill="reflect")
        self.assertGreater(out[0, :, 0].mean(), 0.3)
        with self.assertRaisesRegex(ValueError, "fill="):
            leak.rotate_images(image, 5.0, fill="wrap")


class LeakDetectorTest(tf.test.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.reals, _ = procedural.generate(160, 32, num_workers=1)
        cls.new, _ = procedural.generate(64, 32, seed=1, num_workers=1)

    def test_separates_reals_from_transformed_reals(self):
        rng = np.random.default_rng(3)
        for kind in leak.LEAK_KINDS:
            with self.subTest(kind=kind):
                detector = leak.LeakDetector(kind, seed=0).fit(self.reals)
                self.assertLess(detector.calibration["real"], 0.1)
                self.assertGreater(detector.calibration["transformed"], 0.9)
                # Unseen reals of another procedural seed and their transformed copies.
                self.assertLess(detector.leak_rate(self.new), 0.1)
                moved = leak.transform_for_leak(self.new, kind, rng)
                self.assertGreater(detector.leak_rate(moved), 0.9)

    def test_bad_arguments(self):
        with self.assertRaisesRegex(ValueError, "kind="):
            leak.LeakDetector("shear")
        with self.assertRaisesRegex(ValueError, "reals must be"):
            leak.LeakDetector().fit(self.reals[:4])


class StudyTest(tf.test.TestCase):
    def _config(self, **overrides):
        base = dict(data="procedural:64", classes=("flood",), resolution=16, kimg=None,
                    steps=2, batch=8, base_channels=8, max_channels=32, grid_images=4,
                    outdir=os.path.join(self.get_temp_dir(), "study"))
        return study.StudyConfig(**{**base, **overrides})

    def test_tiny_study_writes_table_json_and_grids(self):
        # The main model (StyleGAN2, R1 and path length on) with ADA, so the study's arms,
        # its ADA column and its report are exercised as users run them; evaluated after
        # each of the 2 steps (--eval_kimg, one step of 8 images), so the curves too.
        report_dir = os.path.join(self.get_temp_dir(), "grids")
        config = self._config(arms=("none", "ada"), report_dir=report_dir,
                              feature_net="none", model="stylegan2", cfg="cpu_tiny",
                              channel_base=128, channel_max=16, eval_kimg=0.008)
        result = study.run_study(config, verbose=False)
        with open(os.path.join(config.outdir, "study.json"), encoding="utf-8") as handle:
            stored = json.load(handle)
        self.assertEqual(list(stored["arms"]), ["none", "ada"])
        self.assertEqual(stored["reals"]["num"], 16)  # flood is every 4th of 64
        for arm in ("none", "ada"):
            values = stored["arms"][arm]
            self.assertEqual(values["augment"], arm)
            self.assertAllInRange(np.array([values["leak"]["orientation"],
                                            values["leak"]["tilt"]]), 0.0, 1.0)
            self.assertGreater(values["swd"], 0.0)
            self.assertIsNotNone(values["d_real"])
            self.assertIsNotNone(values["d_heldout"])  # procedural: unseen scenes exist
            self.assertTrue(os.path.isfile(os.path.join(report_dir, f"{arm}.png")))
            with open(os.path.join(values["run_dir"], "config.json"), encoding="utf-8") as f:
                trained = json.load(f)
            self.assertEqual((trained["model"], trained["channel_max"]), ("stylegan2", 16))
            # The curve: both checkpoints evaluated, the last one being the final model.
            curve = values["curve"]
            self.assertEqual([p["kimg"] for p in curve], [0.008, 0.016])
            self.assertEqual(curve[-1]["swd"], values["swd"])
            self.assertNotEqual(curve[0]["swd"], curve[1]["swd"])  # the model moved
            self.assertIsNotNone(curve[0]["d_heldout"])
            self.assertGreater(curve[0]["swd_heldout"], 0.0)
        self.assertIsNone(stored["arms"]["none"]["aug_p"])  # no ADA
        self.assertGreaterEqual(stored["arms"]["ada"]["aug_p"], 0.0)  # ADA's p, logged
        self.assertTrue(os.path.isfile(os.path.join(report_dir, "study.json")))
        self.assertNotIn("kid", stored["arms"]["none"])
        with open(os.path.join(config.outdir, "study.md"), encoding="utf-8") as handle:
            table = handle.read()
        self.assertEqual(table, result["table"])
        self.assertRegex(table, r"\| none \| none \| 0\.016 \|")
        self.assertRegex(table, r"\| ada \| ada \|")
        self.assertIn("FID/KID: not computed (--feature_net=none)", table)
        self.assertIn("## Against kimg (--eval_kimg)", table)
        self.assertRegex(table, r"\| ada \| 0\.008 \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \|")
        self.assertIn("Lowest SWD per arm: none against the training reals: ", table)
        self.assertIn("none against the held-out reals: ", table)
        with Image.open(os.path.join(report_dir, "study_curves.png")) as png:
            self.assertGreater(png.size[0], 600)  # SWD, MS-SSIM, D, 2 leak panels

    def test_fid_kid_columns_with_a_feature_network(self):
        from unittest import mock

        from tfdisgan.metrics import features

        class MeanColours(features.FeatureNetwork):
            name = "mean_colours"

            def compute(self, batch):  # 4x4 average colours: 48-d features
                x = np.asarray(batch, np.float32)
                n, h = x.shape[:2]
                return x.reshape(n, 4, h // 4, 4, h // 4, 3).mean((2, 4)).reshape(n, -1)

        network = MeanColours("test")
        with mock.patch.object(study, "feature_network",
                               return_value=(network, "mean_colours (test only)")):
            result = study.run_study(self._config(arms=("none",), leak_kinds=("tilt",)),
                                     verbose=False)
        arm = result["arms"]["none"]
        self.assertGreater(arm["fid"], 0.0)
        self.assertIn("kid", arm)
        self.assertIn("| FID (mean_colours (test only)) | KID |", result["table"])

    def test_a_diverged_arm_is_reported_from_its_last_checkpoint(self):
        from unittest import mock

        from tfdisgan import callbacks, training

        real_run = training.run

        def diverging_run(config, **kwargs):
            real_run(config, **kwargs)  # leaves a checkpoint, as NaNGuard would
            raise callbacks.TrainingDiverged("d_loss is nan at step 2")

        with mock.patch.object(training, "run", diverging_run):
            result = study.run_study(self._config(arms=("none",), feature_net="none",
                                                  leak_kinds=("orientation",)),
                                     verbose=False)
        arm = result["arms"]["none"]
        self.assertIn("nan", arm["diverged"])
        self.assertGreater(arm["swd"], 0.0)
        self.assertIn("| none (diverged) |", result["table"])

    def test_errors_name_the_flag(self):
        cases = [
            (dict(arms=("none", "mixup")), "--arms: unknown arm 'mixup'"),
            (dict(arms=()), "--arms: give at least one"),
            (dict(kimg=1.0), "--kimg: give exactly one"),
            (dict(leak_kinds=("shear",)), "--leak_kinds"),
            (dict(feature_net="vgg"), "--feature_net"),
            (dict(classes=(), arms=("transfer",)), "--pretrain_classes"),
            (dict(eval_kimg=0.0), "--eval_kimg: must be > 0"),
            (dict(arms=("rot90@0",)), r"--arms: rot90@0: P must be in \(0, 1\]"),
            (dict(arms=("rot90@x",)), "--arms: unknown arm 'rot90@x'"),
            (dict(eval_kimg=1.0), "--eval_kimg: 1 is more than the budget, 0.016 kimg"),
        ]
        for overrides, message in cases:
            with self.subTest(message=message):
                with self.assertRaisesRegex(ValueError, message):
                    study.run_study(self._config(**overrides), verbose=False)

    def test_transfer_arm_pretrains_on_the_other_classes(self):
        config = self._config(arms=("transfer",))
        pretrain = study.train_config(config, "pretrain", "runs")
        self.assertEqual(pretrain.classes, ("building_fire", "wildfire", "earthquake"))
        self.assertEqual((pretrain.steps, pretrain.augment), (2, "diffaugment"))
        arm = study.train_config(config, "transfer", "runs", transfer_from="runs/x")
        self.assertEqual((arm.classes, arm.augment, arm.transfer_from),
                         (("flood",), "diffaugment", "runs/x"))
        other = study.train_config(self._config(classes=(), pretrain_data="procedural:32"),
                                   "pretrain", "runs")
        self.assertEqual((other.data, other.classes), ("procedural:32", ()))
        ada = study.train_config(self._config(kimg=20.0, steps=None), "ada", "runs")
        self.assertEqual(ada.ada_kimg, 4.0)  # a fifth of the budget
        # The leak against P: quarter turns of the reals only, at P.
        policy = study.train_config(self._config(diffaugment="translation"), "diffaugment", "r")
        self.assertEqual(policy.diffaugment, "translation")
        leaky = study.train_config(config, "rot90@0.25", "runs")
        self.assertEqual((leaky.augment, leaky.aug_p, leaky.run_name),
                         ("rot90", 0.25, "rot90_p0.25"))
        self.assertEqual(study.train_config(config, "rot90", "runs").aug_p, 1.0)
        # --eval_kimg: a checkpoint at every evaluation, all kept; not for the pre-training.
        curves = self._config(kimg=20.0, steps=None, eval_kimg=2.0)
        arm = study.train_config(curves, "none", "runs")
        self.assertEqual((arm.tick_kimg, arm.snapshot_ticks, arm.keep_checkpoints),
                         (2.0, 1, 12))
        self.assertEqual(study.train_config(curves, "pretrain", "runs").keep_checkpoints, 1)

    def test_script_reports_bad_flag(self):
        result = run_script("study.py", "--arms=none,mixup", f"--outdir={self.get_temp_dir()}",
                            timeout=120)
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn("--arms: unknown arm 'mixup'", result.stderr)


class CrossMixStudyTest(tf.test.TestCase):
    def _config(self, **overrides):
        base = dict(data="procedural:32", resolution=16, cfg="cpu_tiny", kimg=None, steps=2,
                    channel_base=128, channel_max=16, batch=8, grid_images=4, num_gen=8,
                    mix_res="16",
                    outdir=os.path.join(self.get_temp_dir(), "cross_mix"))
        return study.StudyConfig(**{**base, **overrides})

    def test_both_arms_write_json_table_and_grids(self):
        report_dir = os.path.join(self.get_temp_dir(), "docs")
        config = self._config(report_dir=report_dir)
        result = cross_mix.run_cross_mix_study(config, verbose=False)
        with open(os.path.join(report_dir, "cross_mix.json"), encoding="utf-8") as handle:
            stored = json.load(handle)
        self.assertEqual(list(stored["arms"]), ["inference", "training"])
        self.assertEqual(stored["cross_mix"], "earthquake:building_fire@16")
        self.assertEqual(stored["split"], "earthquake 4-8 px + building_fire 16 px")
        self.assertEqual((stored["reals"]["num_a"], stored["reals"]["num_b"]), (8, 8))
        self.assertGreater(stored["reals"]["swd_a_vs_b"], 0.0)
        for arm in cross_mix.CROSS_MIX_ARMS:
            values = stored["arms"][arm]
            for key in ("swd_mix_vs_b", "swd_mix_vs_a", "swd_b_vs_b", "swd_a_vs_a",
                        "msssim_mix"):
                self.assertTrue(np.isfinite(values[key]), f"{arm} {key}={values[key]}")
                self.assertGreaterEqual(values[key], 0.0)
            self.assertIsNone(values["diverged"])
            self.assertAllClose(values["kimg"], 0.016)
            with Image.open(os.path.join(report_dir, f"cross_mix_{arm}.png")) as image:
                self.assertEqual(image.size, (4 * 16, 3 * 16))  # rows A, B, mix; 4 seeds
        # Only the training arm's run trains with --cross_mix.
        with open(os.path.join(stored["arms"]["training"]["run_dir"], "config.json"),
                  encoding="utf-8") as handle:
            self.assertEqual(json.load(handle)["cross_mix"], "earthquake:building_fire@16")
        with open(os.path.join(config.outdir, "cross_mix.md"), encoding="utf-8") as handle:
            self.assertEqual(handle.read(), result["table"])
        self.assertIn("| --cross_mix=earthquake:building_fire@16 + class_mix |",
                      result["table"])

    def test_errors_name_the_flag(self):
        cases = [
            (dict(mix_classes=("flood", "flood")), "--mix_classes"),
            (dict(mix_res="4-16"), "--mix_res"),
            (dict(kimg=1.0), "--kimg: give exactly one"),
        ]
        for overrides, message in cases:
            with self.subTest(message=message):
                with self.assertRaisesRegex(ValueError, message):
                    cross_mix.run_cross_mix_study(self._config(**overrides), verbose=False)
