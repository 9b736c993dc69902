"""Run folders written by tfdisgan 0.1.0 (before the architecture split of issue 14) still
load, generate the same images and resume with today's code: the serialization keys and
attribute paths of the checkpoints did not change. The fixture is
tests/compat/runs-0.1.0 (tests/compat/write_fixture.py says how it was made)."""

import dataclasses
import os
import shutil

import numpy as np
import tensorflow as tf

from tests.runs.harness import RunState, read_log
from tfdisgan import config as config_lib
from tfdisgan import export, runs, training

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "runs-0.1.0")
SG2, DCGAN = os.path.join(FIXTURE, "00000-sg2"), os.path.join(FIXTURE, "00001-dcgan")


def _config(run_dir, **overrides):
    return dataclasses.replace(config_lib.from_record(runs.read_run_config(run_dir)),
                               **overrides)


class OldRunsTest(tf.test.TestCase):
    def test_checkpoints_restore_every_object(self):
        # RunState restores with assert_existing_objects_matched: every object of today's
        # model (G, D, G_ema, both optimizers, ADA's state, the step) found in the old file.
        sg2 = RunState(SG2, _config(SG2))
        self.assertEqual(sg2.step, 2)
        self.assertEqual(sg2.augment_state()["ada_step"], 2.0)
        self.assertEqual(int(sg2.model.g_optimizer.iterations.numpy()), 3)  # 2 + Greg
        dcgan = RunState(DCGAN, _config(DCGAN))
        self.assertEqual(dcgan.step, 2)

    def test_old_runs_generate_the_same_images(self):
        # Today's code on yesterday's weights: the images 0.1.0 generated, to the bit.
        for run_dir, labels in ((SG2, [0, 1, 2]), (DCGAN, None)):
            view = export.load_network(run_dir)
            kwargs = dict(seeds=[0, 1, 2], labels=labels)
            expected = np.load(os.path.join(run_dir, "expected_images.npy"))
            images = view.model.generate(**kwargs)
            with self.subTest(run=os.path.basename(run_dir)):
                self.assertAllEqual(images, expected)
        model = export.load_network(SG2).model
        truncated = model.generate(seeds=[0, 1, 2], labels=[0, 1, 2], psi=0.7)
        # The run's class names come with the loaded model (config.json).
        self.assertEqual(model.class_names[:2], ("building_fire", "wildfire"))
        self.assertAllEqual(model.generate(seeds=[0, 1, 2], labels="wildfire"),
                            model.generate(seeds=[0, 1, 2], labels=1))
        expected = np.load(os.path.join(SG2, "expected_images_psi07.npy"))
        self.assertAllEqual(truncated, expected)

    def test_an_old_run_resumes(self):
        outdir = self.get_temp_dir()
        run_dir = os.path.join(outdir, "00000-sg2")
        shutil.copytree(SG2, run_dir)
        before = RunState(run_dir, _config(run_dir))
        resumed = training.run(_config(run_dir, outdir=outdir, resume=run_dir, steps=3),
                               verbose=False)
        self.assertEqual(resumed, run_dir)
        after = RunState(run_dir, _config(run_dir))
        self.assertEqual(after.step, 3)
        self.assertEqual(after.augment_state()["ada_step"], 3.0)
        self.assertEqual([line["step"] for line in read_log(run_dir)], [1, 2, 3])
        moved = [k for k, v in after.weights("generator").items()
                 if not np.array_equal(v, before.weights("generator")[k])]
        self.assertNotEmpty(moved)


if __name__ == "__main__":
    tf.test.main()
