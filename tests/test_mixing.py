"""Tests of tfdisgan.mixing: latent walks, style mixing, grids and GIFs on tiny generators."""

import os
import unicodedata

import numpy as np
import tensorflow as tf
from PIL import Image

from tests import fixtures
from tfdisgan import mixing
from tfdisgan.models import StyleGAN2

RES = 16
CLASS_NAMES = ("building_fire", "건물화재", "flood")


def tiny_stylegan2(seed=1, num_classes=3):
    gan = fixtures.tiny_stylegan2(resolution=RES, mapping_layers=2, num_classes=num_classes,
                                  seed=seed)
    # A trained w_avg is not zero: truncation must move toward it.
    w_avg = np.random.default_rng(seed).normal(size=[16]).astype(np.float32)
    gan.generator_ema.mapping.w_avg.assign(w_avg)
    return gan


def tiny_dcgan(num_classes=0):
    return fixtures.tiny_dcgan(resolution=RES, num_classes=num_classes, seed=0)


class ParseTest(tf.test.TestCase):
    def test_parse_range(self):
        self.assertEqual(mixing.parse_range("0-3,7, 10-11"), [0, 1, 2, 3, 7, 10, 11])
        self.assertEqual(mixing.parse_range(5), [5])
        self.assertEqual(mixing.parse_range([2, 1]), [2, 1])
        for bad in ("3-1", "a", "1,,2", "-1"):
            with self.subTest(bad=bad), self.assertRaisesRegex(ValueError, "--seeds"):
                mixing.parse_range(bad, "--seeds")

    def test_parse_styles(self):
        self.assertEqual(mixing.parse_styles("3,0-1", 6), [0, 1, 3])
        with self.assertRaisesRegex(ValueError, "layer 6 is out of range.*6 style layers"):
            mixing.parse_styles("0-6", 6)

    def test_check_seeds(self):
        self.assertAllEqual(mixing.check_seeds([0, 2**32 - 1]), [0, 2**32 - 1])
        with self.assertRaisesRegex(ValueError, r"\[0, 2\*\*32\)"):
            mixing.check_seeds([2**32])
        with self.assertRaisesRegex(ValueError, "non-empty"):
            mixing.check_seeds([])

    def test_resolve_class_by_id_and_unicode_name(self):
        nfd = unicodedata.normalize("NFD", "건물화재")
        self.assertNotEqual(nfd, "건물화재")
        self.assertEqual(mixing.resolve_class(nfd, 3, CLASS_NAMES), 1)
        self.assertEqual(mixing.resolve_class(" flood ", 3, CLASS_NAMES), 2)
        self.assertEqual(mixing.resolve_class("2", 3, CLASS_NAMES), 2)
        self.assertEqual(mixing.resolve_class(0, 3, None), 0)
        self.assertIsNone(mixing.resolve_class(None, 0))
        cases = [("volcano", 3, "Unknown class 'volcano'; valid: 0=building_fire, 1=건물화재"),
                 (3, 3, "Class id 3 is out of range"), ("7", 3, "out of range"),
                 (None, 3, "conditional: give a class"), (1, 0, "unconditional")]
        for value, num, message in cases:
            with self.subTest(value=value), self.assertRaisesRegex(ValueError, message):
                mixing.resolve_class(value, num, CLASS_NAMES if num else None)


class InterpolationTest(tf.test.TestCase):
    def test_slerp(self):
        rng = np.random.default_rng(0)
        a, b = rng.normal(size=[2, 32]), rng.normal(size=[2, 32])
        self.assertAllClose(mixing.slerp(a, b, 0.0), a, atol=1e-5)
        self.assertAllClose(mixing.slerp(a, b, 1.0), b, atol=1e-5)
        mid = mixing.slerp(a, b, 0.5)
        # The norm is interpolated linearly; the direction bisects the angle.
        norms = (np.linalg.norm(a, axis=1) + np.linalg.norm(b, axis=1)) / 2
        self.assertAllClose(np.linalg.norm(mid, axis=1), norms, rtol=1e-5)
        ua = a / np.linalg.norm(a, axis=1, keepdims=True)
        ub = b / np.linalg.norm(b, axis=1, keepdims=True)
        um = mid / np.linalg.norm(mid, axis=1, keepdims=True)
        self.assertAllClose(np.sum(um * ua, 1), np.sum(um * ub, 1), atol=1e-5)
        # Parallel rows fall back to a straight line.
        self.assertAllClose(mixing.slerp(a[:1], 2 * a[:1], 0.5), 1.5 * a[:1], rtol=1e-5)

    def test_loop_positions(self):
        segment, t = mixing.loop_positions(3, 6)
        self.assertAllEqual(segment, [0, 0, 1, 1, 2, 2])
        self.assertAllClose(t, [0, 0.5] * 3)

    def test_truncate_and_crossover(self):
        ws = tf.random.stateless_normal([2, 4, 3], seed=[0, 1])
        w_avg = tf.constant([1.0, 2.0, 3.0])
        self.assertAllClose(mixing.truncate_ws(ws, w_avg, [0.0, 0.0]),
                            tf.broadcast_to(w_avg, [2, 4, 3]))
        self.assertAllEqual(mixing.truncate_ws(ws, w_avg, 1.0), ws)
        half = mixing.truncate_ws(ws, w_avg, [0.5, 1.0], cutoff=2).numpy()
        self.assertAllClose(half[0, :2], (w_avg + 0.5 * (ws[0, :2] - w_avg)).numpy())
        self.assertAllEqual(half[0, 2:], ws[0, 2:])
        self.assertAllEqual(half[1], ws[1])
        # The mapping network truncates with the same function (one copy): equal bits.
        from tfdisgan.models.stylegan2.mapping_network import MappingNetwork

        mapping = MappingNetwork(z_dim=3, c_dim=0, w_dim=3, num_ws=4, num_layers=1)
        z = tf.random.stateless_normal([2, 3], seed=[2, 3])
        mapping(z)
        mapping.w_avg.assign(w_avg)
        plain = mapping(z)
        self.assertAllEqual(mapping(z, psi=0.5, truncation_cutoff=2),
                            mixing.truncate_ws(plain, w_avg, [0.5, 0.5], cutoff=2))
        other = -ws
        mixed = mixing.crossover_ws(ws, other, [0, 3]).numpy()
        self.assertAllEqual(mixed[0], other[0])
        self.assertAllEqual(mixed[1, :3], ws[1, :3])
        self.assertAllEqual(mixed[1, 3:], other[1, 3:])


class FilesTest(tf.test.TestCase):
    def test_gif_frames_fps_and_loop(self):
        frames = np.stack([np.full([8, 12, 3], 20 * i, np.uint8) for i in range(7)])
        path = mixing.write_gif(frames, os.path.join(self.get_temp_dir(), "a.gif"), fps=10)
        with Image.open(path) as gif:
            self.assertEqual(gif.n_frames, 7)
            self.assertEqual(gif.size, (12, 8))
            self.assertEqual(gif.info["loop"], 0)
            self.assertEqual(gif.info["duration"], 100)
        self.assertEqual(os.listdir(self.get_temp_dir()), ["a.gif"])  # no temporary left
        with self.assertRaisesRegex(ValueError, "uint8"):
            mixing.write_gif(frames.astype(np.float32), path)
        with self.assertRaisesRegex(ValueError, "fps"):
            mixing.write_gif(frames, path, fps=0)

    def test_grid(self):
        images = np.random.default_rng(0).integers(0, 255, [5, 4, 6, 3], dtype=np.uint8)
        grid = mixing.image_grid(images, columns=2)
        self.assertEqual(grid.shape, (3 * 4, 2 * 6, 3))
        self.assertAllEqual(grid[4:8, 6:12], images[3])
        self.assertAllEqual(grid[8:12, 6:12], np.zeros([4, 6, 3]))
        path = mixing.save_grid(images, os.path.join(self.get_temp_dir(), "g.png"))
        self.assertEqual(np.asarray(Image.open(path)).shape, (2 * 4, 3 * 6, 3))


class StyleGAN2MixingTest(tf.test.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.gan = tiny_stylegan2()
        cls.view = mixing.GeneratorView(cls.gan, class_names=CLASS_NAMES)

    def test_view_matches_generate(self):
        for psi in (1.0, 0.7):
            with self.subTest(psi=psi):
                expected = self.gan.generate(seeds=[0, 5, 9], labels=1, psi=psi)
                self.assertAllEqual(self.view.images_from_seeds([0, 5, 9], 1, psi), expected)
        per_row = self.view.images_from_seeds([0, 5], 1, [1.0, 0.7])
        self.assertAllEqual(per_row[1], self.gan.generate(seeds=[5], labels=1, psi=0.7)[0])
        self.assertEqual(self.view.num_ws, 6)
        self.assertEqual(self.view.class_id("건물화재"), 1)

    def test_latent_walk(self):
        for space in ("z", "w"):
            with self.subTest(space=space):
                frames = mixing.latent_walk(self.view, [3, 4, 5], frames=9, space=space,
                                            psi=0.8, label="flood")
                self.assertEqual(frames.shape, (9, RES, RES, 3))
                keys = self.gan.generate(seeds=[3, 4, 5], labels=2, psi=0.8)
                # Key frames are the seeds' own images (0, 3, 6 of a 3-key, 9-frame loop).
                self.assertAllEqual(frames[[0, 3, 6]], keys)
                self.assertNotAllClose(frames[1], frames[0])
        with self.assertRaisesRegex(ValueError, ">= 2 seeds"):
            mixing.latent_walk(self.view, [1], frames=4, label=0)
        with self.assertRaisesRegex(ValueError, "frames"):
            mixing.latent_walk(self.view, [1, 2, 3], frames=2, label=0)
        with self.assertRaisesRegex(ValueError, "conditional"):
            mixing.latent_walk(self.view, [1, 2], frames=4)

    def test_style_mixing_semantics(self):
        rows, cols = [0, 1], [7, 8, 9]
        coarse = mixing.style_mixing_grid(self.view, rows, cols, "0-1", psi=0.9, row_class=0,
                                          col_class=2)
        # The styles of the mixed images: column ws at the given layers, row ws elsewhere.
        self.assertEqual(coarse.mixed_ws.shape, (2, 3, 6, 16))
        for r in range(2):
            for c in range(3):
                self.assertAllEqual(coarse.mixed_ws[r, c, :2], coarse.col_ws[c, :2])
                self.assertAllEqual(coarse.mixed_ws[r, c, 2:], coarse.row_ws[r, 2:])
        self.assertAllEqual(coarse.row_ws, self.view.ws_from_z(
            self.view.z_from_seeds(rows), 0, 0.9))
        # The figure: blank corner, column sources on top, row sources on the left.
        self.assertEqual(coarse.image.shape, (3 * RES, 4 * RES, 3))
        self.assertAllEqual(coarse.image[:RES, :RES], np.zeros([RES, RES, 3]))
        self.assertAllEqual(coarse.image[:RES, RES:2 * RES], coarse.col_images[0])
        self.assertAllEqual(coarse.image[2 * RES:, :RES], coarse.row_images[1])
        self.assertAllEqual(coarse.image[2 * RES:, 3 * RES:], coarse.mixed[1, 2])
        self.assertAllEqual(coarse.row_images,
                            self.gan.generate(seeds=rows, labels=0, psi=0.9))
        self.assertAllEqual(coarse.col_images,
                            self.gan.generate(seeds=cols, labels=2, psi=0.9))
        # Every layer from the column: the cell is the column image.
        full = mixing.style_mixing_grid(self.view, rows, cols, "0-5", psi=0.9, row_class=0,
                                        col_class=2)
        self.assertAllEqual(full.mixed[1], full.col_images)
        # Coarse and fine mixes differ from each other and from both sources.
        fine = mixing.style_mixing_grid(self.view, rows, cols, "4-5", psi=0.9, row_class=0,
                                        col_class=2)
        self.assertNotAllClose(coarse.mixed, fine.mixed)
        self.assertNotAllClose(coarse.mixed[0, 0], coarse.row_images[0])

    def test_crossover_sweep(self):
        frames = mixing.crossover_sweep(self.view, [0, 1], [7], row_class=0, col_class=1)
        self.assertEqual(frames.shape, (7, 3 * RES, 2 * RES, 3))
        mix = mixing.style_mixing_grid(self.view, [0, 1], [7], "0-2", row_class=0, col_class=1)
        cells = frames[:, RES:, RES:]
        self.assertAllEqual(cells[0], mixing.image_grid(mix.row_images, 1))  # crossover 0
        self.assertAllEqual(cells[-1], mixing.image_grid(
            np.stack([mix.col_images[0]] * 2), 1))                          # crossover 6
        self.assertAllEqual(cells[3], mixing.image_grid(mix.mixed[:, 0], 1))  # layers 0-2

    def test_mixing_two_generators(self):
        other = mixing.GeneratorView(tiny_stylegan2(seed=2, num_classes=0))
        mix = mixing.style_mixing_grid(self.view, [0], [3, 4], "0-2", row_class=1,
                                       col_network=other, synthesis=other)
        self.assertAllEqual(mix.col_ws, other.ws_from_z(other.z_from_seeds([3, 4])))
        # Different batch compositions: Eigen's CPU kernels (no oneDNN) may round a pixel
        # to the next uint8 level.
        self.assertAllClose(np.int32(mix.col_images), np.int32(other.images_from_seeds([3, 4])),
                            atol=1, rtol=0)
        self.assertAllEqual(mix.mixed[0], other.images_from_ws(mix.mixed_ws[0]))
        wide = StyleGAN2(resolution=32, z_dim=16, w_dim=16, channel_base=128, channel_max=16,
                         mapping_layers=1, mbstd_group_size=2, seed=0)
        with self.assertRaisesRegex(ValueError, "same num_ws and w_dim"):
            mixing.style_mixing_grid(self.view, [0], [1], "0", row_class=1, col_network=wide)


class DCGANMixingTest(tf.test.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.gan = tiny_dcgan()
        cls.view = mixing.as_view(cls.gan)

    def test_walk_and_interpolation_grid(self):
        frames = mixing.latent_walk(self.view, [0, 1], frames=4, psi=0.5)
        self.assertEqual(frames.shape, (4, RES, RES, 3))
        self.assertAllEqual(frames[[0, 2]], self.gan.generate(seeds=[0, 1], psi=0.5))
        grid, images = mixing.interpolation_grid(self.view, [0, 1, 2], steps=5)
        self.assertEqual(grid.shape, (2 * RES, 5 * RES, 3))
        self.assertEqual(images.shape, (2, 5, RES, RES, 3))
        self.assertAllEqual(images[:, 0], self.gan.generate(seeds=[0, 1]))
        self.assertAllEqual(images[:, -1], self.gan.generate(seeds=[1, 2]))

    def test_style_operations_need_stylegan2(self):
        calls = [
            lambda: mixing.style_mixing_grid(self.view, [0], [1], "0"),
            lambda: mixing.crossover_sweep(self.gan, [0], [1]),
            lambda: mixing.latent_walk(self.view, [0, 1], frames=4, space="w"),
            lambda: mixing.interpolation_grid(self.view, [0, 1], space="w"),
            lambda: self.view.ws_from_z(np.zeros([1, 16])),
        ]
        for call in calls:
            with self.assertRaisesRegex(ValueError, "style mixing needs StyleGAN2.*DCGAN"):
                call()
        with self.assertRaisesRegex(ValueError, "noise_mode"):
            self.view.images_from_seeds([0], noise_mode="random")
        with self.assertRaisesRegex(ValueError, "GAN model"):
            mixing.as_view("not a model")


if __name__ == "__main__":
    tf.test.main()
