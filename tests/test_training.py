"""Tests of tfdisgan.training and scripts/train.py: flags, run folder, exact resume, kills."""

import dataclasses
import glob
import json
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import tensorflow as tf

from tests.fixtures import REPO, run_script
from tests.metrics import fixtures as metrics_fixtures
from tfdisgan import callbacks, training
from tfdisgan.data import describe, tfrecords

TINY = dict(data="procedural:64", resolution=16, base_channels=8, max_channels=32, z_dim=16,
            batch=8, tick_kimg=0.016, snapshot_ticks=2, grid_seeds=4, ema_kimg=0.05,
            showcase=False)  # the end-of-run showcase is tested in tests/test_export.py


def _config(outdir, **overrides):
    return training.TrainConfig(outdir=outdir, **{**TINY, **overrides})


def _restore_weights(run_dir, config):
    info = describe(config.data)
    config, _, num_classes = training.validate(config, info)
    model, step = training.build_model(config, num_classes, tf.distribute.get_strategy())
    checkpoint = training.make_checkpoint(model, step)
    checkpoint.restore(tf.train.latest_checkpoint(os.path.join(run_dir, "checkpoints")))
    weights = [v.numpy() for v in model.generator.weights + model.discriminator.weights
               + model.generator_ema.weights]
    optimizer = [v.numpy() for v in model.g_optimizer.variables]
    return int(step.numpy()), weights, optimizer


class ValidateTest(tf.test.TestCase):
    def test_errors_name_the_flag(self):
        data = os.path.join(self.get_temp_dir(), "d16")
        tfrecords.build_dataset("procedural:8", data, resolution=16, verbose=False)
        info = describe(data)
        inception = metrics_fixtures.write_synthetic_inception(
            os.path.join(self.get_temp_dir(), "inception"))
        cases = [
            (dict(data=data, resolution=32, steps=1), "--resolution: 32 does not match"),
            (dict(data=data, classes=("volcano",), steps=1), "--classes: Unknown class"),
            (dict(data=data, batch=6, steps=1), "--batch: 6 is not divisible by the 4"),
            (dict(data=data, z_dim=0, steps=1), "--z_dim: must be > 0"),
            (dict(data=data, kimg=1.0, steps=1), "--kimg: give exactly one"),
            (dict(data=data), "--kimg: give exactly one"),
            (dict(data=data, augment="adda", steps=1), "--augment: must be one of"),
            (dict(data=data, aug_p=0.5, steps=1), "--aug_p: applies to --augment=ada"),
            (dict(data=data, augment="ada", aug_p=1.5, steps=1), "--aug_p: must be in"),
            (dict(data=data, augment="ada", ada_kimg=0.0, steps=1), "--ada_kimg: must be"),
            (dict(data=data, augment="ada", ada_target=2.0, steps=1), "--ada_target: must"),
            (dict(data=data, augment="ada", xla=True, steps=1), "--xla: cannot compile"),
            (dict(data=data, diffaugment="color,zoom", steps=1), "--diffaugment:.*zoom"),
            (dict(data=data, resolution=None, model="stylegan9", steps=1), "--model"),
            (dict(data=data, model="dcgan", cfg="paper256", steps=1),
             "--cfg: 'paper256' is a StyleGAN2 preset; --model=dcgan has none"),
            (dict(data=data, steps=1, metrics=("fid",), inception=inception,
                  inception_sha256="xyz"), "--inception_sha256 must be 64 hex digits"),
        ]
        for overrides, message in cases:
            with self.subTest(message=message):
                config = dataclasses.replace(training.TrainConfig(), **overrides)
                with self.assertRaisesRegex(training.ConfigError, message):
                    training.validate(config, info, num_replicas=4)
        procedural = describe("procedural:8")
        with self.assertRaisesRegex(training.ConfigError, "--resolution: must be a power"):
            training.validate(training.TrainConfig(resolution=48, steps=1), procedural)
        resolved, class_ids, num_classes = training.validate(
            training.TrainConfig(data=data, classes=("flood",), steps=1, conditional=True), info)
        self.assertEqual((resolved.resolution, class_ids, num_classes), (16, (3,), 4))
        self.assertEqual((resolved.batch, resolved.g_lr, resolved.beta1, resolved.z_dim),
                         (32, 2e-4, 0.5, 100))  # the DCGAN paper's values fill the gaps

    def test_stylegan2_preset_fills_and_flags_override(self):
        info = describe("procedural:8")
        config, _, _ = training.validate(
            training.TrainConfig(model="stylegan2", cfg="paper256", resolution=64, steps=1,
                                 r1_gamma=3.0), info)
        self.assertEqual((config.batch, config.g_lr, config.beta1, config.beta2),
                         (64, 0.0025, 0.0, 0.99))
        self.assertEqual((config.channel_base, config.mapping_layers, config.mbstd_group),
                         (16384, 8, 8))
        self.assertEqual((config.r1_gamma, config.r1_interval, config.pl_weight,
                          config.pl_interval), (3.0, 16, 2.0, 4))
        auto, _, _ = training.validate(
            training.TrainConfig(model="stylegan2", resolution=64, steps=1), info)
        # stylegan2-ada train.py "auto" at 64 px, 1 GPU: mb 32, gamma 0.0002*64^2/32.
        self.assertEqual(auto.batch, 32)
        self.assertAlmostEqual(auto.r1_gamma, 0.0256)
        with self.assertRaisesRegex(training.ConfigError, "--pl_weight: applies to"):
            training.validate(training.TrainConfig(resolution=64, steps=1, pl_weight=1.0),
                              info)
        with self.assertRaisesRegex(training.ConfigError, "--cfg: must be one of"):
            training.validate(training.TrainConfig(model="stylegan2", cfg="huge",
                                                   resolution=64, steps=1), info)
        with self.assertRaisesRegex(training.ConfigError, "--batch:.*minibatch-stddev"):
            training.validate(training.TrainConfig(model="stylegan2", cfg="paper256",
                                                   resolution=64, steps=1, batch=12), info)

    def test_lazy_adam_whatever_the_weights_as_the_python_api(self):
        # training_loop.py keeps the Greg/Dreg phases' mb_ratio even at pl_weight=0 or
        # r1_gamma=0, and so does `preset_optimizers`: the CLI must build the same Adam.
        from tfdisgan.models import stylegan2

        info = describe("procedural:8")
        for overrides in (dict(), dict(pl_weight=0.0, r1_gamma=0.0)):
            with self.subTest(**overrides):
                config, _, _ = training.validate(training.TrainConfig(
                    model="stylegan2", cfg="cpu_tiny", resolution=16, steps=1, **overrides),
                    info)
                model, _ = training.build_model(config, 0, tf.distribute.get_strategy())
                preset = stylegan2.resolve_preset("cpu_tiny", 16)
                for ours, theirs in zip((model.g_optimizer, model.d_optimizer),
                                        stylegan2.preset_optimizers(preset), strict=True):
                    self.assertAllClose(float(ours.learning_rate), float(theirs.learning_rate))
                    self.assertAllClose(ours.beta_2, theirs.beta_2)
                    self.assertLess(float(ours.learning_rate), preset["lrate"])
                    self.assertNotIsInstance(ours, keras.optimizers.LossScaleOptimizer)

    def test_flags_txt_round_trips_through_absl(self):
        from absl import flags as absl_flags

        from tfdisgan import flags as tfd_flags

        values = absl_flags.FlagValues()
        tfd_flags.define_train_flags(values)
        config = _config("/tmp/x", classes=("flood", "wildfire"), steps=5, conditional=True,
                         ema_rampup=0.0)
        path = os.path.join(self.get_temp_dir(), "flags.txt")
        with open(path, "w") as handle:
            handle.write(config.to_flags())
        values(["train.py", f"--flagfile={path}"])
        self.assertEqual(tfd_flags.train_config_from_flags(values), config)
        with self.assertRaises(absl_flags.UnrecognizedFlagError):
            values(["train.py", "--no_such_flag=1"])

    def test_official_flag_names_resolve_to_ours(self):
        from absl import app
        from absl import flags as absl_flags

        from tfdisgan import flags as tfd_flags

        def parse(*argv):
            values = absl_flags.FlagValues()
            tfd_flags.define_train_flags(values)
            values(["train.py", "--data=procedural:8", "--kimg=1", *argv])
            return tfd_flags.train_config_from_flags(values)

        cases = [
            (["--gamma=3", "--snap=5", "--cond", "--target=0.7"],
             ["--r1_gamma=3", "--snapshot_ticks=5", "--conditional", "--ada_target=0.7"]),
            (["--aug=noaug"], ["--augment=none"]),
            (["--aug=ada"], ["--augment=ada"]),
            (["--aug=fixed", "--p=0.2"], ["--augment=ada", "--aug_p=0.2"]),
            (["--aug=ada", "--augpipe=bg"], ["--augment=ada", "--ada_pipeline=bg"]),
            (["--gpus=2"], ["--strategy=mirrored", "--devices=/gpu:0,/gpu:1"]),
            (["--gpus=1"], []),
        ]
        for official, ours in cases:
            with self.subTest(official=official):
                self.assertEqual(parse(*official), parse(*ours))
        for argv, text in ((["--aug=fixed"], "--aug=fixed needs --p"),
                           (["--aug=noaug", "--augment=ada"], "contradicts"),
                           (["--gpus=2", "--strategy=default"], "--gpus")):
            with self.subTest(argv=argv):
                with self.assertRaisesRegex(app.UsageError, text):
                    parse(*argv)

    def test_dry_run_prints_the_resolved_flags_and_trains_nothing(self):
        outdir = os.path.join(self.get_temp_dir(), "runs")
        result = run_script("train.py", "--dry_run", "--model=stylegan2", "--data=procedural:8",
                            "--resolution=16", "--kimg=1", "--gamma=4", f"--outdir={outdir}")
        self.assertEqual(result.returncode, 0, result.stderr[-2000:])
        self.assertTrue(result.stdout.startswith("# scripts/train.py --dry_run"))
        for line in ("--model=stylegan2", "--resolution=16", "--r1_gamma=4.0", "--batch="):
            self.assertIn(line, result.stdout)
        self.assertFalse(os.path.exists(outdir))

    def test_every_shipped_config_parses_and_validates(self):
        import glob

        from absl import flags as absl_flags

        from tfdisgan import flags as tfd_flags

        configs = sorted(glob.glob(os.path.join(REPO, "configs", "*.cfg")))
        self.assertGreaterEqual(len(configs), 10)
        for path in configs:
            with self.subTest(config=os.path.basename(path)):
                values = absl_flags.FlagValues()
                tfd_flags.define_train_flags(values)
                values(["train.py", f"--flagfile={path}"])
                config = tfd_flags.train_config_from_flags(values)
                # Their data folders are the user's; check them against built-in data.
                config = dataclasses.replace(config, data="procedural:8")
                resolved, _, _ = training.validate(config, describe(config.data))
                self.assertIsNotNone(resolved.batch)


class RunTest(tf.test.TestCase):
    def test_run_folder_contents(self):
        outdir = self.get_temp_dir()
        run_dir = training.run(_config(outdir, steps=4, conditional=True), verbose=False)
        self.assertEqual(os.path.basename(run_dir), "00000-procedural64-dcgan-16-diffaugment")
        names = set(os.listdir(run_dir))
        for name in ("flags.txt", "config.json", "log.jsonl", "checkpoints", "tensorboard"):
            self.assertIn(name, names)
        self.assertTrue(any(n.startswith("fakes") and n.endswith(".png") for n in names))
        # reals.png: a row per class (conditional, 4 procedural classes), 8 per row, as the
        # pipeline delivers them; row 0 is the first images of class 0 in dataset order.
        from PIL import Image

        from tfdisgan.data import load_dataset
        from tfdisgan.images import to_uint8

        with Image.open(os.path.join(run_dir, "reals.png")) as image:
            reals = np.asarray(image)
        self.assertEqual(reals.shape, (4 * 16, 8 * 16, 3))
        first = next(iter(load_dataset("procedural:64", 1, 16, classes=[0], shuffle=False,
                                       repeat=False)))[0].numpy()[0]
        self.assertAllEqual(reals[:16, :16], to_uint8(first))
        with open(os.path.join(run_dir, "log.jsonl")) as handle:
            lines = [json.loads(line) for line in handle]
        self.assertEqual([line["step"] for line in lines], [2, 4])
        for key in ("kimg", "d_loss", "g_loss", "d_real", "d_fake", "img_per_s",
                    "sec_per_kimg", "host_peak_mb"):
            self.assertIn(key, lines[0])
        self.assertIn("--conditional", open(os.path.join(run_dir, "flags.txt")).read())
        # TensorBoard: tags grouped as the official ones, x = images shown (8 per step).
        points = {}
        for path in glob.glob(os.path.join(run_dir, "tensorboard", "*")):
            for event in tf.compat.v1.train.summary_iterator(path):
                for value in event.summary.value:
                    points.setdefault(value.tag, []).append(event.step)
        for tag in ("Loss/D/loss", "Loss/G/loss", "Loss/scores/real", "Timing/sec_per_kimg",
                    "Progress/kimg", "Resources/host_peak_mb", "Samples/fakes"):
            self.assertIn(tag, points)
        self.assertEqual(points["Loss/G/loss"], [16, 32])
        self.assertFalse([t for t in points if "/" not in t], sorted(points))

    def test_resume_equals_uninterrupted_training(self):
        outdir = self.get_temp_dir()
        straight = training.run(_config(outdir, steps=6, run_name="straight"), verbose=False)
        first = training.run(_config(outdir, steps=3, run_name="split"), verbose=False)
        resumed = training.run(_config(outdir, steps=6, run_name="split", resume="auto"),
                               verbose=False)
        self.assertEqual(first, resumed)
        config = _config(outdir, steps=6)
        step_a, weights_a, opt_a = _restore_weights(straight, config)
        step_b, weights_b, opt_b = _restore_weights(resumed, config)
        self.assertEqual((step_a, step_b), (6, 6))
        for a, b in zip(weights_a + opt_a, weights_b + opt_b, strict=False):
            self.assertAllClose(a, b, atol=1e-5, rtol=1e-5)
        with open(os.path.join(resumed, "log.jsonl")) as handle:
            steps = [json.loads(line)["step"] for line in handle]
        self.assertEqual(steps, [2, 3, 4, 6])  # step 3: the first run's closing tick
        # --network=RUN@KIMG: the checkpoint nearest that kimg (ckpt-N is step N, batch 8).
        from tfdisgan import runs

        kept = [os.path.basename(p) for p, _ in runs.checkpoint_kimgs(straight)]
        self.assertEqual(kept, ["ckpt-4", "ckpt-6"])
        for kimg, expected in (("0.03", "ckpt-4"), ("0.045", "ckpt-6"), ("200", "ckpt-6")):
            kind, prefix, run_dir = runs.resolve_network(f"{straight}@{kimg}")
            self.assertEqual((kind, os.path.basename(prefix), run_dir),
                             ("checkpoint", expected, straight))
        model, _, _ = runs.load_model(f"{straight}@0.03")
        self.assertEqual(int(model.cur_nimg.numpy()), 32)
        with self.assertRaisesRegex(runs.NetworkError, "does not exist"):
            runs.resolve_network(os.path.join(outdir, "nope@3"))
        # The kimg index beside the checkpoints, rewritten at each save.
        with open(os.path.join(straight, "checkpoints", "index.json")) as handle:
            self.assertEqual(json.load(handle), {
                "batch": 8, "latest": "ckpt-6", "checkpoints": [
                    {"name": "ckpt-4", "step": 4, "kimg": 0.032},
                    {"name": "ckpt-6", "step": 6, "kimg": 0.048}]})

        # --resume=RUN@KIMG: back to ckpt-4, trained again to step 6, equals the straight
        # run; ckpt-6 and the logs as they were are kept aside, not deleted.
        with open(os.path.join(straight, "log.jsonl")) as handle:
            old_log = handle.read()
        again = training.run(_config(outdir, steps=6, run_name="straight",
                                     resume=f"{straight}@0.03"), verbose=False)
        self.assertEqual(again, straight)
        _, weights_c, opt_c = _restore_weights(straight, config)
        for a, c in zip(weights_a + opt_a, weights_c + opt_c, strict=True):
            self.assertAllClose(a, c, atol=1e-5, rtol=1e-5)
        aside = os.path.join(straight, "checkpoints", "after-ckpt-4")
        self.assertEqual(sorted(n for n in os.listdir(aside) if n.endswith(".index")),
                         ["ckpt-6.index"])
        with open(os.path.join(aside, "log.jsonl")) as handle:
            self.assertEqual(handle.read(), old_log)
        with open(os.path.join(straight, "log.jsonl")) as handle:
            self.assertEqual([json.loads(line)["step"] for line in handle], [2, 4, 6])
        with self.assertRaisesRegex(training.ConfigError, "--resume .*has no checkpoints"):
            empty = os.path.join(outdir, "empty")
            os.makedirs(os.path.join(empty, "checkpoints"))
            with open(os.path.join(empty, "config.json"), "w") as handle:
                json.dump({"batch": 8}, handle)
            runs.resume_checkpoint(_config(outdir, resume=f"{empty}@2"), empty)

    def test_logs_reach_the_host_once_per_tick(self):
        # Reading a step's logs waits for the device: once per tick (4 steps here) and not
        # every step; the ticks' lines and checkpoints are still all written.
        from unittest import mock

        reads = []
        real = training._host_logs

        def counting(outputs):
            reads.append(1)
            return real(outputs)

        outdir = self.get_temp_dir()
        with mock.patch.object(training, "_host_logs", counting):
            run_dir = training.run(_config(outdir, steps=8, tick_kimg=0.032, snapshot_ticks=1),
                                   verbose=False)
        self.assertLen(reads, 2)
        with open(os.path.join(run_dir, "log.jsonl")) as handle:
            self.assertEqual([json.loads(line)["step"] for line in handle], [4, 8])
        kept = sorted(os.path.basename(p) for p in glob.glob(
            os.path.join(run_dir, "checkpoints", "ckpt-*.index")))
        self.assertEqual(kept, ["ckpt-4.index", "ckpt-8.index"])

    def test_resume_auto_finds_a_run_named_the_pre_0_2_way(self):
        outdir = self.get_temp_dir()
        first = training.run(_config(outdir, steps=2), verbose=False)
        legacy = os.path.join(outdir, "00000-procedural64-dcgan16-diffaugment")
        os.rename(first, legacy)  # the name 0.1.0 gave it
        resumed = training.run(_config(outdir, steps=4, resume="auto"), verbose=False)
        self.assertEqual(resumed, legacy)
        self.assertEqual(sorted(os.listdir(outdir)), [os.path.basename(legacy)])

    def test_resume_refuses_changed_architecture(self):
        outdir = self.get_temp_dir()
        run_dir = training.run(_config(outdir, steps=2), verbose=False)
        with self.assertRaisesRegex(training.ConfigError, "--base_channels: is 16"):
            training.run(_config(outdir, steps=4, base_channels=16, resume=run_dir),
                         verbose=False)
        with self.assertRaisesRegex(training.ConfigError, "--resume: run folder"):
            training.run(_config(outdir, steps=4, resume=os.path.join(outdir, "nope")),
                         verbose=False)


class NaNGuardTest(tf.test.TestCase):
    def test_nan_stops_before_the_checkpoint_is_saved(self):
        step = tf.Variable(0, dtype=tf.int64)
        saved = []

        class Manager:
            latest_checkpoint = None

            def save(self, checkpoint_number):
                saved.append(checkpoint_number)

        model = keras.Model()
        callback_list = keras.callbacks.CallbackList(
            [callbacks.NaNGuard(), callbacks.CheckpointSaver(Manager(), step, every_steps=1)],
            model=model,
        )
        callback_list.on_train_batch_end(0, {"d_loss": 0.5})
        self.assertEqual(saved, [1])
        with self.assertRaisesRegex(callbacks.TrainingDiverged, "Non-finite g_loss at step 2"):
            callback_list.on_train_batch_end(1, {"d_loss": 0.5, "g_loss": float("nan")})
        self.assertEqual(saved, [1])
        self.assertEqual(int(step.numpy()), 1)


class ScriptTest(tf.test.TestCase):
    """scripts/train.py as a user runs it: flagfile + overrides, Ctrl-C, kill -9, resume."""

    def _command(self, outdir, *extra):
        cfg = os.path.join(self.get_temp_dir(), "tiny.cfg")
        with open(cfg, "w") as handle:
            handle.write(_config(outdir, steps=400, tick_kimg=0.008, snapshot_ticks=1)
                         .to_flags().replace("--resume=\n", ""))
        return [sys.executable, os.path.join(REPO, "scripts", "train.py"), f"--flagfile={cfg}",
                *extra]

    def _env(self):
        return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=REPO)

    def _wait_for_checkpoint(self, outdir, process, minimum=2, timeout=120):
        deadline = time.time() + timeout
        while time.time() < deadline:
            runs = [os.path.join(outdir, d) for d in os.listdir(outdir)] if os.path.isdir(
                outdir) else []
            for run_dir in runs:
                latest = tf.train.latest_checkpoint(os.path.join(run_dir, "checkpoints"))
                if latest and int(latest.rsplit("-", 1)[1]) >= minimum:
                    return run_dir
            self.assertIsNone(process.poll(), "training exited early")
            time.sleep(0.2)
        self.fail("no checkpoint appeared")

    def test_bad_flag_fails_naming_it(self):
        outdir = self.get_temp_dir()
        result = subprocess.run(self._command(outdir, "--classes=volcano"), capture_output=True,
                                text=True, env=self._env(), timeout=120)
        self.assertEqual(result.returncode, 2)
        self.assertIn("--classes", result.stderr)
        result = subprocess.run(self._command(outdir, "--no_such_flag=3"), capture_output=True,
                                text=True, env=self._env(), timeout=120)
        self.assertEqual(result.returncode, 2)  # a usage error, as argparse/click scripts
        self.assertIn("no_such_flag", result.stderr)

    def test_ctrl_c_saves_and_kill_9_resumes(self):
        outdir = os.path.join(self.get_temp_dir(), "runs")
        process = subprocess.Popen(self._command(outdir), env=self._env(),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        run_dir = self._wait_for_checkpoint(outdir, process)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
        self.assertEqual(process.returncode, 130, stderr)
        self.assertIn("Interrupted at step", stderr)
        latest = tf.train.latest_checkpoint(os.path.join(run_dir, "checkpoints"))
        interrupted_step = int(latest.rsplit("-", 1)[1])

        # Resume, then kill -9 in the middle of training (possibly mid-save).
        process = subprocess.Popen(self._command(outdir, "--resume=auto"), env=self._env(),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._wait_for_checkpoint(outdir, process, minimum=interrupted_step + 2)
        time.sleep(np.random.default_rng().uniform(0.0, 0.5))
        process.kill()
        process.wait(timeout=30)
        killed = tf.train.latest_checkpoint(os.path.join(run_dir, "checkpoints"))
        killed_step = int(killed.rsplit("-", 1)[1])
        self.assertGreaterEqual(killed_step, interrupted_step + 2)
        # The latest checkpoint always restores, and the run finishes from it.
        result = subprocess.run(self._command(outdir, "--resume=auto", "--steps=" + str(
            killed_step + 5)), capture_output=True, text=True, env=self._env(), timeout=300)
        self.assertEqual(result.returncode, 0, result.stderr[-2000:])
        self.assertIn(f"at step {killed_step}", result.stdout)
        latest = tf.train.latest_checkpoint(os.path.join(run_dir, "checkpoints"))
        self.assertEqual(int(latest.rsplit("-", 1)[1]), killed_step + 5)
        self.assertLen([d for d in os.listdir(outdir)], 1)  # one run folder, resumed

        # The console when stdout is not a terminal: the run folder and its options first,
        # then one plain line per tick (a tick is one step here), no progress-bar control
        # characters; all of it, for every start of the run, in RUN_DIR/log.txt.
        out = result.stdout
        for control in ("\r", "\b", "\x1b"):
            self.assertNotIn(control, out)
        lines = out.splitlines()
        start = next(i for i, line in enumerate(lines) if line.startswith("Run folder: "))
        # A kill between writing checkpoint files and recording them leaves files after the
        # recorded latest one: the resume moves them aside and says so first.
        for line in lines[1:start]:
            self.assertRegex(line, r"^Checkpoints after ckpt-[0-9]+ and the logs before this "
                                   r"resume are kept in ")
        self.assertEqual(lines[start], f"Run folder: {run_dir}")
        self.assertIn("dcgan 16 px, batch 8", lines[start + 1])
        ticks = [line for line in lines if line.startswith("kimg ")]
        self.assertLen(ticks, 5)
        self.assertIn(f"step {killed_step + 5}/{killed_step + 5}", ticks[-1])
        for field in ("d_loss", "g_loss", "sec/kimg", "host_mb"):
            self.assertIn(field, ticks[-1])
        with open(os.path.join(run_dir, "log.txt"), encoding="utf-8") as handle:
            log = handle.read()
        self.assertEqual(log.count("Run folder: "), 3)  # started, resumed twice
        self.assertTrue(log.endswith("\n".join(ticks) + "\n"), log[-1000:])
        self.assertIn("\n".join(lines[start:start + 2]), log)


if __name__ == "__main__":
    tf.test.main()
