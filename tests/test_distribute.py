"""Tests of tfdisgan.distribute and of training under several replicas.

Two logical CPU devices (tests/conftest.py) stand in for two GPUs. The exact replica-count
checks use models whose every computation is replica-count independent: DCGAN without
batch norm, StyleGAN2 with const noise and minibatch-stddev groups of 1, no augmentation
(batch-norm statistics, random noise, mbstd groups and DiffAugment's draws are per
replica, as per GPU in the official code). `training.run` itself is checked with the
default DCGAN under two replicas, resumed with one and the other way round.
"""

import dataclasses
import json
import os
import types

import keras
import numpy as np
import tensorflow as tf

from tests.fixtures import CPUS
from tests.runs.harness import RunState, changed
from tfdisgan import distribute, training
from tfdisgan.data import describe
from tfdisgan.models.stylegan2 import StyleGAN2, lazy_adam

TINY = dict(data="procedural:64", resolution=16, base_channels=8, max_channels=32, z_dim=16,
            batch=8, tick_kimg=0.016, snapshot_ticks=100, grid_seeds=4, ema_kimg=0.05,
            augment="none", conditional=True, r1_gamma=1.0, r1_interval=2,
            showcase=False)  # the end-of-run showcase is tested in tests/test_export.py
# Float32 sums in another order (per-replica partial sums, all-reduced): observed max
# difference 3e-8 (DCGAN) and 1.5e-6 (StyleGAN2) in 2 steps; Adam's normalisation can
# amplify it where a gradient is near zero, so the tolerance is 2e-5 absolute (weights
# ~0.01-1) plus 1e-4 relative.
ATOL, RTOL = 2e-5, 1e-4


def _config(outdir, **overrides):
    return training.TrainConfig(outdir=outdir, **{**TINY, **overrides})


def _log(run_dir):
    with open(os.path.join(run_dir, "log.jsonl")) as handle:
        return [json.loads(line) for line in handle]


class MakeStrategyTest(tf.test.TestCase):
    def test_strategies(self):
        default = distribute.make_strategy("default")
        self.assertIs(default, tf.distribute.get_strategy())
        one = distribute.make_strategy("default", devices=("/cpu:1",))
        self.assertIsInstance(one, tf.distribute.OneDeviceStrategy)
        mirrored = distribute.make_strategy("mirrored", devices="/cpu:0,/cpu:1")
        self.assertEqual(mirrored.num_replicas_in_sync, 2)
        self.assertTrue(distribute.is_chief(mirrored))
        self.assertEqual(distribute.task_info(mirrored), (None, None))

    def test_errors_name_the_flag(self):
        cases = [
            (("nccl",), "--strategy: must be one of"),
            (("mirrored", ("/gpu:7",)), "--devices: '/gpu:7' does not exist"),
            (("mirrored", ("cpu",)), "--devices: 'cpu' is not a device name"),
            (("mirrored", ("/cpu:0", "/CPU:0")), "--devices: a device is listed twice"),
            (("default", CPUS), "--devices: --strategy=default runs on one device"),
            (("multiworker", CPUS), "--devices: does not apply"),
            (("tpu",), "--strategy=tpu: no TPU found"),
        ]
        for args, message in cases:
            with self.subTest(args=args):
                with self.assertRaisesRegex(distribute.StrategyError, message):
                    distribute.make_strategy(*args)
        self.assertTrue(issubclass(distribute.StrategyError, ValueError))

    def test_tf_config_is_checked(self):
        good = {"cluster": {"worker": ["localhost:1", "localhost:2"]},
                "task": {"type": "worker", "index": 1}}
        self.assertEqual(distribute.parse_tf_config({"TF_CONFIG": json.dumps(good)}), good)
        bad_task = dict(good, task={"type": "worker", "index": 2})
        for environ, message in (
            ({}, "--strategy=multiworker needs the TF_CONFIG environment variable"),
            ({"TF_CONFIG": "{cluster"}, "TF_CONFIG is not valid JSON"),
            ({"TF_CONFIG": '{"task": {"type": "worker", "index": 0}}'}, "no cluster"),
            ({"TF_CONFIG": json.dumps({"cluster": good["cluster"]})}, "no task"),
            ({"TF_CONFIG": json.dumps(bad_task)}, "is not in its cluster"),
        ):
            with self.subTest(message=message):
                with self.assertRaisesRegex(distribute.StrategyError, message):
                    distribute.parse_tf_config(environ)
        # From a config, without TF_CONFIG: a ConfigError (exit status 2 in scripts/train.py).
        previous = os.environ.pop("TF_CONFIG", None)
        try:
            with self.assertRaisesRegex(training.ConfigError, "TF_CONFIG"):
                training.run(_config(self.get_temp_dir(), steps=1, strategy="multiworker"))
        finally:
            if previous is not None:
                os.environ["TF_CONFIG"] = previous

    def test_chief_and_worker_dirs(self):
        def fake(task_type, task_id, jobs):
            spec = tf.train.ClusterSpec({job: [f"localhost:{i}"] * n for i, (job, n)
                                         in enumerate(jobs.items())})
            resolver = tf.distribute.cluster_resolver.SimpleClusterResolver(
                spec, task_type=task_type, task_id=task_id)
            extended = types.SimpleNamespace(_in_multi_worker_mode=lambda: True)
            return types.SimpleNamespace(cluster_resolver=resolver, extended=extended)

        run_dir = os.path.join(self.get_temp_dir(), "00000-run")
        self.assertTrue(distribute.is_chief(fake("worker", 0, {"worker": 2})))
        self.assertFalse(distribute.is_chief(fake("worker", 0, {"chief": 1, "worker": 2})))
        self.assertTrue(distribute.is_chief(fake("chief", 0, {"chief": 1, "worker": 2})))
        chief = distribute.worker_dir(run_dir, fake("worker", 0, {"worker": 2}))
        self.assertEqual(chief, run_dir)
        self.assertTrue(os.path.isdir(run_dir))
        worker = distribute.worker_dir(run_dir, fake("worker", 1, {"worker": 2}))
        self.assertNotEqual(worker, run_dir)
        self.assertIn("worker1", worker)
        self.assertTrue(os.path.isdir(worker))
        distribute.cleanup_worker_dir(worker, run_dir)
        distribute.cleanup_worker_dir(chief, run_dir)
        self.assertFalse(os.path.exists(worker))
        self.assertTrue(os.path.isdir(run_dir))  # never removes the run folder


class ConfigTest(tf.test.TestCase):
    def test_fields_flags_and_validation(self):
        from absl import flags as absl_flags

        from tfdisgan import flags as tfd_flags

        values = absl_flags.FlagValues()
        tfd_flags.define_train_flags(values)
        values(["train.py", "--strategy=mirrored", "--devices=/cpu:0,/cpu:1", "--steps=1"])
        config = tfd_flags.train_config_from_flags(values)
        self.assertEqual((config.strategy, config.devices), ("mirrored", CPUS))
        self.assertIn("--devices=/cpu:0,/cpu:1\n", config.to_flags())
        info = describe("procedural:8")
        with self.assertRaisesRegex(training.ConfigError, "--strategy: must be one of"):
            training.validate(dataclasses.replace(config, strategy="horovod"), info)
        with self.assertRaisesRegex(training.ConfigError, "--strategy: must be one of"):
            training.run(dataclasses.replace(config, strategy="horovod"))
        with self.assertRaisesRegex(training.ConfigError, "--devices: '/gpu:3'"):
            training.run(dataclasses.replace(config, devices=("/gpu:3",)))
        with self.assertRaisesRegex(training.ConfigError, "--batch: 9 is not divisible by "
                                                          "the 2 replicas"):
            training.run(_config(self.get_temp_dir(), steps=1, batch=9, strategy="mirrored",
                                 devices=CPUS))
        sg2 = training.TrainConfig(model="stylegan2", cfg="cpu_tiny", resolution=16, steps=1,
                                   batch=8, mbstd_group=4)
        training.validate(sg2, info, num_replicas=2)
        with self.assertRaisesRegex(training.ConfigError, "--mbstd_group: the per-replica "
                                                          "batch 4"):
            training.validate(dataclasses.replace(sg2, mbstd_group=3), info, num_replicas=2)


class RunTest(tf.test.TestCase):
    """`training.run` under two replicas, and resumed with another replica count."""

    def test_mirrored_run_and_resume_with_another_replica_count(self):
        # DCGAN's batch norm normalises per replica, so these runs are not bitwise
        # comparable with one replica (ReplicaCountTest checks exactness without it); here
        # the plumbing: the config builds the strategy, the checkpoint restores into the
        # other replica count (assert_existing_objects_matched), and each resumed run
        # continues from its own checkpoint: step 2 -> 4, its weights move on from their
        # step-2 values, and its step-2 log line is the one written before the resume (a
        # run restarted from step 0 would rewrite it, with new timings).
        outdir = self.get_temp_dir()
        mirrored = dict(strategy="mirrored", devices=CPUS)
        runs = {  # name: (replicas before the resume, after, --resume)
            "down": (dict(mirrored), {}, "folder"),
            "up": ({}, dict(mirrored), "auto"),
        }
        for name, (first, second, resume) in runs.items():
            with self.subTest(run=name):
                run_dir = training.run(_config(outdir, steps=2, run_name=name, **first),
                                       verbose=False)
                devices = json.load(open(os.path.join(run_dir, "config.json")))["devices"]
                self.assertEqual(devices, list(first.get("devices", ())))
                state = RunState(run_dir, _config(outdir, steps=2))
                self.assertEqual(state.step, 2)
                before = state.weights()
                lines_before = _log(run_dir)
                self.assertEqual([line["step"] for line in lines_before], [2])
                resume = run_dir if resume == "folder" else resume
                resumed = training.run(_config(outdir, steps=4, run_name=name, resume=resume,
                                               **second), verbose=False)
                self.assertEqual(resumed, run_dir)
                devices = json.load(open(os.path.join(run_dir, "config.json")))["devices"]
                self.assertEqual(devices, list(second.get("devices", ())))
                state = RunState(run_dir, _config(outdir, steps=4))
                self.assertEqual(state.step, 4)
                after = state.weights()
                self.assertTrue(all(np.all(np.isfinite(w)) for w in after.values()))
                for net in ("generator/", "discriminator/", "generator_ema/"):
                    # the resumed steps trained each network
                    self.assertNotEmpty(changed(after, before, net, atol=1e-6), net)
                lines = _log(run_dir)
                self.assertEqual([line["step"] for line in lines], [2, 4])
                self.assertEqual([line["kimg"] for line in lines], [0.016, 0.032])
                self.assertEqual(lines[0], lines_before[0])  # continued, not restarted


def _checkpoint(model):
    return tf.train.Checkpoint(model=model, g_optimizer=model.g_optimizer,
                               d_optimizer=model.d_optimizer)


def _full_state(model):
    """Every variable a resume must carry: weights, optimizer slots, RNG and counters."""
    nets = (model.generator, model.discriminator, model.generator_ema)
    state = [v for net in nets for v in net.weights]
    state += model.g_optimizer.variables + model.d_optimizer.variables
    state += list(model._seed_states().values()) + [model.cur_nimg]
    state += [getattr(model, name) for name in ("pl_mean", "batch_idx") if hasattr(model, name)]
    return [np.asarray(v.numpy() if hasattr(v, "numpy") else v) for v in state]


class ReplicaCountTest(tf.test.TestCase):
    """One replica with global batch B against two replicas with B / 2 each, step by step,
    and a checkpoint of either resumed by the other, continuing exactly."""

    def check_replicas_and_resume(self, build, batches, resume_up=True):
        single = build()
        strategy = distribute.make_strategy("mirrored", CPUS)
        with strategy.scope():
            multi = build()
        for net in ("generator", "discriminator", "generator_ema"):
            getattr(multi, net).set_weights(getattr(single, net).get_weights())
        # Unseeded layers (StyleGAN2's noise) draw their seeds from Keras' global RNG.
        for a, b in zip(single._seed_states().values(), multi._seed_states().values(),
                        strict=True):
            b.assign(a)
        # The replicas run Keras' compiled train function, as `training.run` does.
        multi.make_train_function()

        # One iterator over both batches (a new one per step would retrace). Batched, so
        # tf.distribute splits it: replica r gets rows [r * B/2, (r+1) * B/2).
        data = tf.data.Dataset.from_tensor_slices(
            tuple(tf.concat(parts, 0) for parts in zip(*batches, strict=True))
        ).batch(len(batches[0][0]))
        iterator = iter(strategy.experimental_distribute_dataset(data))

        def multi_step():
            return multi.train_function(iterator)

        def assert_same(a, b, msg):
            for x, y in zip(_full_state(a), _full_state(b), strict=True):
                self.assertAllClose(x, y, atol=ATOL, rtol=RTOL, msg=msg)

        # Step 1: two replicas = one.
        logs_single = single.train_step(batches[0])
        logs_multi = multi_step()
        assert_same(single, multi, "step 1, 2 replicas vs 1")
        for name in ("d_loss", "g_loss", "d_grad_norm", "g_grad_norm", "r1"):
            self.assertAllClose(logs_single[name], logs_multi[name], rtol=1e-4, atol=1e-6,
                                msg=name)
        directory = self.get_temp_dir()
        from_single = _checkpoint(single).write(os.path.join(directory, "single"))
        from_multi = _checkpoint(multi).write(os.path.join(directory, "multi"))

        # Step 2 after a resume 2 -> 1: a fresh single-replica model from the 2-replica
        # checkpoint continues like the uninterrupted single-replica model.
        keras.utils.set_random_seed(123)  # initial weights differ: the restore must set all
        resumed = build()
        _checkpoint(resumed).read(from_multi).assert_consumed()
        single.train_step(batches[1])
        resumed.train_step(batches[1])
        assert_same(single, resumed, "step 2 after resuming 2 -> 1 replicas")

        if resume_up:
            # Step 2 after a resume 1 -> 2: the 2-replica model from the 1-replica
            # checkpoint (the restore makes Keras retrace the train function: seconds).
            _checkpoint(multi).read(from_single).assert_consumed()
            multi_step()
            assert_same(single, multi, "step 2 after resuming 1 -> 2 replicas")
        return single

    def test_dcgan(self):
        # Conditional, lazy R1 (interval 2: in step 1 only), EMA with ramp-up; no batch
        # norm (per replica) and no augmentation (per replica).
        from tfdisgan.models.dcgan import DCGAN

        def build():
            gan = DCGAN(resolution=16, z_dim=16, base_channels=8, max_channels=16,
                        num_classes=4, batch_norm=False, seed=3, ema_kimg=0.01,
                        ema_rampup=0.05)
            gan.compile(**DCGAN.default_optimizers(), r1_gamma=1.0, r1_interval=2)
            return gan

        keras.utils.set_random_seed(0)
        rng = np.random.default_rng(0)
        batches = [(tf.constant(rng.uniform(-1, 1, [8, 16, 16, 3]), tf.float32),
                    tf.constant(rng.integers(0, 4, [8]), tf.int32)) for _ in range(2)]
        gan = self.check_replicas_and_resume(build, batches)
        self.assertEqual(int(gan.d_optimizer.iterations.numpy()), 2)
        self.assertEqual(int(gan.cur_nimg.numpy()), 16)

    def test_batch_norm_statistics_stay_mirrored(self):
        # Keras' moving statistics (aggregation "none") would be updated per replica; the
        # GAN averages them, so every replica (and worker) holds the same buffers.
        from tfdisgan.models.dcgan import DCGAN

        strategy = distribute.make_strategy("mirrored", CPUS)
        with strategy.scope():
            gan = DCGAN(resolution=16, z_dim=16, base_channels=8, max_channels=16, seed=3)
            gan.compile(**DCGAN.default_optimizers())
        images = np.random.default_rng(2).uniform(-1, 1, [8, 16, 16, 3]).astype(np.float32)
        gan.fit(tf.data.Dataset.from_tensor_slices(images).batch(8), verbose=0, shuffle=False)
        buffers = [v for net in (gan.generator, gan.discriminator, gan.generator_ema)
                   for v in net.non_trainable_weights if "moving" in v.path]
        self.assertLen(buffers, 2 * (2 + 1 + 2))  # mean and variance of each BN layer
        for v in buffers:
            first, second = strategy.experimental_local_results(v.value)
            self.assertAllClose(first, second, atol=1e-7, msg=v.path)
        moving_mean = strategy.experimental_local_results(buffers[0].value)[0]
        self.assertGreater(float(np.abs(moving_mean).max()), 0.0)

    def test_stylegan2(self):
        # Every step regularises in the main phases: path length in the G step
        # (pl_interval=None, "Gboth": pl_mean all-reduced inside the tape) and R1 in the D
        # step (r1_interval=None, "Dboth"), conditional, with style mixing. The lazy Greg
        # and Dreg steps (run_if's cross-replica branch) under two replicas are
        # tests/models/test_stylegan2_training.py's MirroredStrategyTest. Const noise and
        # mbstd groups of 1: random noise and mbstd groups are per replica (as per GPU in
        # the official code). Resuming 1 -> 2 replicas: test_dcgan (the same mechanism).
        config = dict(resolution=8, z_dim=16, w_dim=16, channel_base=128, channel_max=16,
                      mapping_layers=1, mbstd_group_size=1, seed=5, ema_kimg=0.01,
                      num_classes=3)

        def build():
            gan = StyleGAN2(**config)
            gan.compile(g_optimizer=lazy_adam(2e-3), d_optimizer=lazy_adam(2e-3),
                        r1_gamma=1.0, r1_interval=None,
                        pl_weight=2.0, pl_interval=None)
            gan.train_noise_mode = "const"
            return gan

        keras.utils.set_random_seed(0)
        rng = np.random.default_rng(1)
        batches = [(tf.constant(rng.uniform(-1, 1, [4, 8, 8, 3]), tf.float32),
                    tf.constant(rng.integers(0, 3, [4]), tf.int32)) for _ in range(2)]
        gan = self.check_replicas_and_resume(build, batches, resume_up=False)
        self.assertGreater(float(gan.pl_mean.numpy()), 0.0)
        self.assertEqual(int(gan.d_optimizer.iterations.numpy()), 2)
        self.assertEqual(int(gan.batch_idx.numpy()), 2)


if __name__ == "__main__":
    tf.test.main()
