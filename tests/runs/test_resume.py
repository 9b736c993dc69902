"""Exact resume of the main model with the flagship augmentation, through kills.

StyleGAN2 + ADA on a tiny set with a fast D, so that ADA's p has moved off 0 by the end
(otherwise "equal p" would hold trivially): the uninterrupted run is also the test that
ADA adapts, D(real) rising on 8 images and p climbing from 0 with it. A run is killed by
SIGKILL in the middle of writing a checkpoint, resumed, killed again right after a
checkpoint it tore (its data file cut to half), and resumed to the end: the result equals
an uninterrupted run in weights, optimizer moments, ADA state and log lines. Then across
replica counts.
"""

import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import tensorflow as tf

from tests.runs.harness import (
    REPO,
    RunState,
    max_difference,
    read_log,
    tiny_config,
    training_values,
)
from tfdisgan import training

STEPS = 20
# Checkpoints every 4 steps (a tick of 4 steps, one tick per snapshot).
ADA_RUN = dict(data="procedural:8", augment="ada", ada_kimg=0.32, d_lr=0.01, steps=STEPS,
               tick_kimg=0.016, snapshot_ticks=1, keep_checkpoints=5)


def _kill(config, point, test):
    path = os.path.join(test.get_temp_dir(), f"config-{point.replace(':', '-')}.json")
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(dataclasses.asdict(config), handle)
    env = dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run([sys.executable, "-m", "tests.runs.kill_driver", path, point],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    test.assertEqual(result.returncode, -9, result.stderr[-3000:])


def _latest(run_dir):
    return os.path.basename(tf.train.latest_checkpoint(os.path.join(run_dir, "checkpoints")))


class KilledResumeTest(tf.test.TestCase):
    def test_killed_mid_save_and_after_a_torn_save_resumes_exactly(self):
        outdir = self.get_temp_dir()
        straight = training.run(
            tiny_config("stylegan2", outdir, run_name="straight", **ADA_RUN), verbose=False)
        # ADA adapts: on 8 images with a fast D, D(real) turns positive and r_t passes the
        # 0.6 target, and p climbs from 0 (each adjustment, every 4 steps, moves it by
        # 4 * 4 / 320 = 0.05; 0.1 by step 20 here).
        lines = read_log(straight)
        self.assertEqual(lines[0]["aug_p"], 0.0)
        self.assertGreater(max(line["d_real"] for line in lines), 0.3)
        self.assertGreaterEqual(lines[-1]["aug_p"], 0.05 - 1e-6)

        killed = tiny_config("stylegan2", outdir, run_name="killed", **ADA_RUN)
        _kill(killed, "mid_save:8", self)
        run_dir = os.path.join(outdir, "00001-killed")
        self.assertEqual(_latest(run_dir), "ckpt-4")  # ckpt-8 written, never recorded
        _kill(dataclasses.replace(killed, resume="auto"), "torn_save:16", self)
        self.assertEqual(_latest(run_dir), "ckpt-16")  # recorded, then torn

        stderr = os.path.join(self.get_temp_dir(), "stderr.txt")
        with open(stderr, "w") as capture:
            original, sys.stderr = sys.stderr, capture
            try:
                resumed = training.run(dataclasses.replace(killed, resume="auto"),
                                       verbose=False)
            finally:
                sys.stderr = original
        self.assertEqual(resumed, run_dir)
        warning = open(stderr).read()
        self.assertIn("ckpt-16", warning)
        self.assertIn("unreadable", warning)

        a, b = RunState(straight, killed), RunState(resumed, killed)
        self.assertEqual((a.step, b.step), (STEPS, STEPS))
        self.assertLess(max_difference(a.weights(), b.weights()), 1e-5)
        for x, y in zip(a.optimizer_state(), b.optimizer_state(), strict=True):
            self.assertAllClose(x, y, atol=1e-5, rtol=1e-5)
        self.assertEqual(a.augment_state(), b.augment_state())
        self.assertGreater(a.augment_state()["p"], 0.0)  # p moved: the check has teeth
        self.assertAllClose(a.augment_state()["p"], lines[-1]["aug_p"], atol=0.05)
        self.assertEqual(a.augment_state()["ada_step"], float(STEPS))
        lines_a, lines_b = training_values(read_log(straight)), training_values(read_log(resumed))
        self.assertEqual([line["step"] for line in lines_b], [4, 8, 12, 16, 20])
        self.assertEqual(len(lines_a), len(lines_b))
        for x, y in zip(lines_a, lines_b, strict=True):
            self.assertEqual(set(x), set(y))
            self.assertAllClose([x[k] for k in sorted(x)], [y[k] for k in sorted(y)],
                                atol=1e-5, rtol=1e-5)


class ReplicaCountResumeTest(tf.test.TestCase):
    def test_two_replicas_resume_with_one(self):
        # Augmentation draws are per replica (as per GPU officially), so 2 and 1 replicas
        # train differently; what must hold is the hand-over: ADA's p and accumulators,
        # the step and the weights restore whole into the other replica count.
        outdir = self.get_temp_dir()
        mirrored = dict(strategy="mirrored", devices=("/cpu:0", "/cpu:1"))
        run = dict(ADA_RUN, steps=8)
        config = tiny_config("stylegan2", outdir, run_name="down", **{**run, "steps": 6},
                             **mirrored)
        run_dir = training.run(config, verbose=False)
        before = RunState(run_dir, config)
        self.assertEqual(before.step, 6)
        self.assertEqual(before.augment_state()["ada_step"], 6.0)
        resumed = tiny_config("stylegan2", outdir, run_name="down", resume=run_dir, **run)
        training.run(resumed, verbose=False)
        after = RunState(run_dir, resumed)
        self.assertEqual(after.step, 8)
        self.assertEqual(after.augment_state()["ada_step"], 8.0)
        self.assertTrue(all(np.all(np.isfinite(w)) for w in after.weights().values()))
        self.assertGreater(max_difference(before.weights(), after.weights()), 0.0)
        # Resumed from the closing checkpoint (step 6): the log continues from its line.
        self.assertEqual([line["step"] for line in read_log(run_dir)], [4, 6, 8])


if __name__ == "__main__":
    tf.test.main()
