"""Every augmentation x model x precision a user reaches through scripts/train.py, run whole.

Each case goes through `training.run` with the model's default regularisation (StyleGAN2:
lazy R1 every 16 and path length every 4 steps, both at step 0, so R1's second-order
gradient runs through the augmentation) and asserts that G and D moved, that every logged
value is finite, that R1, path length and ADA's p are logged, that every path trains with
tfdisgan's Adam and that the run leaves no traced graph in TensorFlow's gradient registry.
The ADA-on-StyleGAN2 case is the one that crashed on its first R1 step while every op test
passed. That ADA's p adapts when D overfits is tests/runs/test_resume.py's straight run.
"""

import dataclasses
import json
import math
import os

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from tests.runs.harness import RunState, changed, initial_weights, read_log, tiny_config
from tfdisgan import graph_memory, optimizers, training
from tfdisgan.data import describe

AUGMENTS = ("none", "classic", "diffaugment", "ada", "diffaugment+ada", "rot90")
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")


def _cases():
    cases = []
    for precision in PRECISIONS:
        for augment in AUGMENTS:
            # Every augment in float32; the half dtypes (emulated on a CPU without bf16/fp16
            # units, slow) with the augments whose ops differ most: none, ADA's pipeline.
            if precision == "float32" or augment in ("none", "diffaugment+ada") or (
                    precision == "mixed_bfloat16" and augment == "ada"):
                cases.append((f"stylegan2_{augment}_{precision}", "stylegan2", augment,
                              precision, {}))
            if precision != "mixed_float16" or augment == "ada":
                cases.append((f"dcgan_{augment}_{precision}", "dcgan", augment, precision, {}))
    # DCGAN has no R1 by default; with it, lazy (inside a tf.cond) and every step.
    cases.append(("dcgan_ada_lazy_r1", "dcgan", "ada", "float32",
                  dict(r1_gamma=1.0, r1_interval=2)))
    cases.append(("dcgan_diffaugment+ada_r1", "dcgan", "diffaugment+ada", "float32",
                  dict(r1_gamma=1.0, r1_interval=1)))
    return cases


class AugmentMatrixTest(tf.test.TestCase, parameterized.TestCase):
    @parameterized.named_parameters(*_cases())
    def test_run(self, model, augment, precision, overrides):
        config = tiny_config(model, self.get_temp_dir(), augment=augment, precision=precision,
                             steps=3, **overrides)
        before = graph_memory.custom_gradient_names()
        run_dir = training.run(config, verbose=False)
        # The traced steps are not kept alive by TensorFlow's gradient registry (a worker
        # of this suite once grew past 13 GB): the run leaves no entry behind.
        self.assertEqual(graph_memory.custom_gradient_names(), before)
        lines = read_log(run_dir)
        self.assertEqual([line["step"] for line in lines], [1, 2, 3])
        for line in lines:
            bad = {k: v for k, v in line.items() if not math.isfinite(v)}
            self.assertEqual(bad, {}, f"non-finite log values at step {line['step']}")
        state = RunState(run_dir, config)
        self.assertEqual(state.step, 3)
        for optimizer in (state.model.g_optimizer, state.model.d_optimizer):
            optimizer = getattr(optimizer, "inner_optimizer", optimizer)  # DCGAN float16
            self.assertIsInstance(optimizer, optimizers.Adam)  # the lean Adam, every path
            # StyleGAN2 steps as torch.optim.Adam (tests/test_training_parity.py); DCGAN as
            # Keras' Adam (the keras-io guide).
            self.assertEqual(optimizer.torch_epsilon, model == "stylegan2")
        start = initial_weights(config)
        after = state.weights()
        self.assertNotEmpty(changed(after, start, "generator/", atol=1e-7))
        self.assertNotEmpty(changed(after, start, "discriminator/", atol=1e-7))
        self.assertTrue(all(np.all(np.isfinite(w)) for w in after.values()))
        first = lines[0]
        if model == "stylegan2" or overrides.get("r1_gamma"):
            self.assertGreater(first["r1"], 0.0)  # R1 ran at step 0, through the augment
        if model == "stylegan2":
            self.assertGreater(first["pl_penalty"], 0.0)
            self.assertGreater(first["pl_mean"], 0.0)
            # Every phase stepped, in every precision (float16 too: no loss scaler skips a
            # step, as the official nan_to_num): G 3 main + 1 Greg, D 3 main + 1 Dreg.
            self.assertEqual(int(state.model.g_optimizer.iterations.numpy()), 4)
            self.assertEqual(int(state.model.d_optimizer.iterations.numpy()), 4)
        self.assertIn("aug_p", first)
        if "ada" in augment:
            self.assertIn("p", state.augment_state())
        if augment == "rot90":
            # The leak arm: quarter turns of the reals only, at the fixed p (default 1),
            # restored from the checkpoint as trained.
            self.assertTrue(state.model.augment_reals_only)
            self.assertEqual(state.augment_state()["p"], 1.0)
            self.assertEqual([line["aug_p"] for line in lines], [1.0, 1.0, 1.0])


class AdaPipelineTest(tf.test.TestCase):
    def test_a_chosen_pipeline_trains_stylegan2_and_is_restored(self):
        # --ada_pipeline=bg (stylegan2-ada's --augpipe: geometry without colour, the study's
        # ablation of ADA's colour transforms) on the main model's defaults, R1 on.
        config = tiny_config("stylegan2", self.get_temp_dir(), augment="ada",
                             ada_pipeline="bg", aug_p=0.5, steps=2)
        run_dir = training.run(config, verbose=False)
        lines = read_log(run_dir)
        self.assertGreater(lines[0]["r1"], 0.0)
        self.assertEqual([line["aug_p"] for line in lines], [0.5, 0.5])
        state = RunState(run_dir, config)
        augment = state.model.augment
        self.assertEqual(augment.pipeline, "bg")
        self.assertIn("rotate", augment._names)
        self.assertNotIn("brightness", augment._names)  # no colour transform
        start = initial_weights(config)
        self.assertNotEmpty(changed(state.weights(), start, "generator/", atol=1e-7))
        with open(os.path.join(run_dir, "config.json")) as handle:
            self.assertEqual(json.load(handle)["ada_pipeline"], "bg")
        # A resume may not change it; an unknown pipeline names the flag.
        with self.assertRaisesRegex(training.ConfigError, "ada_pipeline"):
            training.run(dataclasses.replace(config, resume=run_dir, ada_pipeline="bgc",
                                             steps=3), verbose=False)
        with self.assertRaisesRegex(training.ConfigError, "--ada_pipeline: .*sepia"):
            bad = dataclasses.replace(config, ada_pipeline="sepia")
            training.validate(bad, describe(bad.data))


if __name__ == "__main__":
    tf.test.main()
