"""--xla through `training.run`: the compiled train step trains as the plain one, and the
augmentations it cannot compile are refused before anything is written.

TensorFlow's stateless random ops give other numbers under XLA for the same seed
(tests/xla_random.py), so an XLA run never repeats a non-XLA run's latents or DiffAugment
draws; the comparison runs both on XLA-invariant draws and checks what XLA computes.
"""

import os
import re

import numpy as np
import tensorflow as tf

from tests.runs.harness import RunState, max_difference, read_log, tiny_config, training_values
from tests.xla_random import consistent_stateless_random
from tfdisgan import training

# XLA fuses and reorders float32 ops (and batch norm's reductions): observed max weight
# difference 1.6e-7 after 3 steps (DCGAN 16 px, batch norm; 1.2e-7 with DiffAugment); 1e-4
# absolute leaves room for Adam, whose first steps move a weight by ~lr = 2e-4 whatever the
# size of its gradient, to amplify a reordered near-zero gradient. With TF's own draws the
# runs differ by 4.5e-3 (other latents and augmentations), far outside it.
ATOL = 1e-4


class XlaRunTest(tf.test.TestCase):
    def test_dcgan_xla_run_equals_the_plain_run(self):
        outdir = self.get_temp_dir()
        states, logs = {}, {}
        with consistent_stateless_random():
            for xla in (False, True):
                # No augmentation: DiffAugment doubles the XLA compile here (~25 s), and
                # tests/augment/test_diffaugment.py compares it under XLA already.
                config = tiny_config("dcgan", outdir, steps=3, xla=xla, augment="none",
                                     run_name=f"xla{xla}")
                run_dir = training.run(config, verbose=False)
                states[xla] = RunState(run_dir, config)
                logs[xla] = read_log(run_dir)
                with open(os.path.join(run_dir, "flags.txt"), encoding="utf-8") as handle:
                    self.assertIn("--xla" if xla else "--noxla", handle.read().split())
        plain, compiled = states[False], states[True]
        self.assertEqual((plain.step, compiled.step), (3, 3))
        self.assertTrue(compiled.model.jit_compile)  # the run compiled its step with XLA
        difference = max_difference(plain.weights(), compiled.weights())
        self.assertLessEqual(difference, ATOL)
        for a, b in zip(plain.optimizer_state(), compiled.optimizer_state(), strict=True):
            self.assertAllClose(a, b, atol=ATOL, rtol=1e-3)
        plain_log, xla_log = training_values(logs[False]), training_values(logs[True])
        self.assertEqual([line["step"] for line in xla_log], [1, 2, 3])
        for a, b in zip(plain_log, xla_log, strict=True):
            self.assertEqual(set(a), set(b))
            self.assertAllClose([a[k] for k in sorted(a)], [b[k] for k in sorted(b)],
                                atol=ATOL, rtol=1e-3)
        self.assertTrue(all(np.all(np.isfinite(w)) for w in compiled.weights().values()))

    def test_stylegan2_ada_with_xla_is_refused_before_the_run_starts(self):
        # ADA pads by the transformed corners: data-dependent shapes XLA cannot compile.
        for augment in ("ada", "diffaugment+ada"):
            with self.subTest(augment=augment):
                outdir = os.path.join(self.get_temp_dir(), augment)
                config = tiny_config("stylegan2", outdir, steps=1, augment=augment, xla=True)
                message = "^--xla: cannot compile --augment=" + re.escape(augment)
                with self.assertRaisesRegex(training.ConfigError, message):
                    training.run(config, verbose=False)
                self.assertFalse(os.path.exists(outdir))  # no run folder left behind


if __name__ == "__main__":
    tf.test.main()
