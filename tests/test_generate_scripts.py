"""Tests of the end-of-training showcase, loading networks from run folders and checkpoints,
and scripts/generate.py, scripts/style_mix.py and scripts/export.py."""

import dataclasses
import json
import os
import shutil
import tempfile

import numpy as np
import tensorflow as tf
from PIL import Image

from tests.fixtures import run_script
from tfdisgan import export, gallery, mixing, training
from tfdisgan.data import describe

RES = 16
DCGAN_RUN = dict(data="procedural:64", resolution=RES, base_channels=8, max_channels=16,
                 z_dim=16, batch=8, tick_kimg=0.008, snapshot_ticks=1, grid_seeds=4,
                 ema_kimg=0.05, conditional=True, augment="none", run_name="demo")
SG2_RUN = dict(data="procedural:64", resolution=RES, model="stylegan2", cfg="cpu_tiny",
               z_dim=16, w_dim=16, channel_base=128, channel_max=16, mapping_layers=2,
               batch=4, conditional=True, augment="none", steps=1)


def _sg2_run_dir(outdir):
    """A StyleGAN2 run folder with a checkpoint but no training (fast): its config.json
    lacks num_classes/class_names, as runs written before they were recorded."""
    config = training.TrainConfig(outdir=outdir, **SG2_RUN)
    config, _, num_classes = training.validate(config, describe(config.data))
    run_dir = os.path.join(outdir, "00000-sg2")
    os.makedirs(run_dir)
    stored = dataclasses.asdict(config)
    stored["classes"] = list(config.classes)
    with open(os.path.join(run_dir, "config.json"), "w", encoding="utf-8") as handle:
        json.dump(stored, handle)
    model, step = training.build_model(config, num_classes, tf.distribute.get_strategy())
    rng = np.random.default_rng(3)
    model.generator_ema.mapping.w_avg.assign(rng.normal(size=[16]).astype(np.float32))
    step.assign(5)
    manager = tf.train.CheckpointManager(training.make_checkpoint(model, step),
                                         os.path.join(run_dir, "checkpoints"), max_to_keep=2)
    manager.save(checkpoint_number=5)
    return run_dir, model


class ShowcaseAndScriptsTest(tf.test.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.root = tempfile.mkdtemp(prefix="tfdisgan-generate-test-")
        cls.dc_run = training.run(
            training.TrainConfig(outdir=os.path.join(cls.root, "runs"), steps=2, **DCGAN_RUN),
            verbose=False)
        cls.sg_run, cls.sg_model = _sg2_run_dir(os.path.join(cls.root, "sg"))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.root, ignore_errors=True)
        super().tearDownClass()

    def _script(self, name, *args):
        return run_script(name, *args, timeout=300)

    def test_training_ends_with_the_showcase(self):
        out = os.path.join(self.dc_run, "showcase")
        big = 128  # 16 px enlarged 8x (nearest neighbour) for viewing
        with Image.open(os.path.join(out, "samples.png")) as image:
            self.assertEqual(image.size, (4 * big, 4 * big))
            cells = np.asarray(image.convert("RGB"))
        self.assertAllEqual(cells[::8, ::8].repeat(8, 0).repeat(8, 1), cells)  # 8x8 blocks
        with Image.open(os.path.join(out, "latent_walk.gif")) as gif:
            self.assertEqual(gif.n_frames, 32)
            self.assertEqual(gif.size, (big, big))
        with Image.open(os.path.join(out, "interpolation.png")) as image:
            self.assertEqual(image.size, (8 * big, 3 * big))
        self.assertFalse(os.path.exists(os.path.join(out, "style_mixing.png")))
        saved = os.path.join(self.dc_run, "export", "demo", "1")
        self.assertTrue(os.path.isfile(os.path.join(saved, "saved_model.pb")))
        with open(os.path.join(self.dc_run, "config.json"), encoding="utf-8") as handle:
            stored = json.load(handle)
        self.assertEqual(stored["num_classes"], 4)
        self.assertTrue(stored["showcase"])
        # The run folder (checkpoint) and its export give the same images.
        from_checkpoint = export.load_network(self.dc_run)
        from_export = export.load_network(saved)
        self.assertEqual(from_export.class_names, from_checkpoint.class_names)
        self.assertEqual(from_checkpoint.class_id("flood"), 3)
        self.assertAllEqual(from_checkpoint.images_from_seeds([0, 1, 2], 3, 0.7),
                            from_export.images_from_seeds([0, 1, 2], 3, 0.7))

    def test_stylegan2_showcase_and_network_forms(self):
        expected = self.sg_model.generate(seeds=[0, 1], labels=2, psi=0.7)
        checkpoints = os.path.join(self.sg_run, "checkpoints")
        prefix = tf.train.latest_checkpoint(checkpoints)
        self.assertEqual(export.resolve_network(checkpoints),
                         ("checkpoint", prefix, self.sg_run))
        view = export.load_network(prefix)
        # Class names come from the dataset when config.json does not record them.
        self.assertEqual(view.class_names, ("building_fire", "wildfire", "earthquake", "flood"))
        self.assertAllEqual(view.images_from_seeds([0, 1], 2, 0.7), expected)
        paths = gallery.showcase(self.sg_run, model=view.model, class_names=view.class_names,
                                verbose=False)
        with Image.open(paths["style_mixing"]) as image:
            self.assertEqual(image.size, (5 * 128, 4 * 128))  # 4 column + 3 row seeds, 8x
        self.assertNotIn("interpolation", paths)
        self.assertEqual(paths["saved_model"], os.path.join(self.sg_run, "export", "sg2", "1"))
        served = export.load_network(paths["saved_model"])
        self.assertAllEqual(served.images_from_seeds([0, 1], "earthquake", 0.7),
                            self.sg_model.generate(seeds=[0, 1], labels=2, psi=0.7))

    def test_generate_script(self):
        outdir = os.path.join(self.get_temp_dir(), "gen")
        result = self._script("generate.py", f"--network={self.dc_run}", "--seeds=0-2",
                              "--class=flood", "--psi=0.7", "--interpolate=0,5",
                              "--frames=4", "--fps=8", f"--outdir={outdir}")
        self.assertEqual(result.returncode, 0, result.stderr[-3000:])
        self.assertCountEqual(os.listdir(outdir), [
            "seed0000-class3.png", "seed0001-class3.png", "seed0002-class3.png", "grid.png",
            "latent_walk.gif"])
        view = export.load_network(self.dc_run)
        expected = view.images_from_seeds([0, 1, 2], 3, 0.7)
        self.assertAllEqual(np.asarray(Image.open(os.path.join(outdir, "seed0001-class3.png"))),
                            expected[1])
        self.assertAllEqual(np.asarray(Image.open(os.path.join(outdir, "grid.png"))),
                            mixing.image_grid(expected, 2))
        with Image.open(os.path.join(outdir, "latent_walk.gif")) as gif:
            self.assertEqual(gif.n_frames, 4)
        result = self._script("generate.py", f"--network={self.dc_run}", "--seeds=",
                              f"--outdir={outdir}")
        self.assertEqual(result.returncode, 2)
        self.assertIn("generate: error: --seeds and --interpolate are both empty",
                      result.stderr)

    def test_export_script(self):
        saved = os.path.join(self.get_temp_dir(), "exported", "dc", "7")
        prefix = tf.train.latest_checkpoint(os.path.join(self.dc_run, "checkpoints"))
        result = self._script("export.py", f"--network={prefix}", f"--out={saved}",
                              "--max_batch=16")
        self.assertEqual(result.returncode, 0, result.stderr[-3000:])
        self.assertIn(f"to {saved}", result.stdout)
        served = export.load_network(os.path.dirname(saved))
        self.assertEqual(served.max_batch, 16)
        self.assertAllEqual(served.images_from_seeds([4, 5], "wildfire"),
                            export.load_network(self.dc_run).images_from_seeds([4, 5], 1))

    def test_style_mix_script(self):
        outdir = os.path.join(self.get_temp_dir(), "mix")
        result = self._script("style_mix.py", f"--network={self.sg_run}", "--rows=0,1",
                              "--cols=2", "--styles=0-1", "--class=wildfire",
                              f"--outdir={outdir}")
        self.assertEqual(result.returncode, 0, result.stderr[-3000:])
        grid = np.asarray(Image.open(os.path.join(outdir, "style_mixing.png")))
        mix = mixing.style_mixing_grid(mixing.GeneratorView(self.sg_model), [0, 1], [2],
                                       "0-1", row_class=1, col_class=1)
        self.assertAllEqual(grid, mix.image)
        with Image.open(os.path.join(outdir, "crossover.gif")) as gif:
            self.assertEqual(gif.n_frames, self.sg_model.num_ws + 1)


if __name__ == "__main__":
    tf.test.main()
