"""Tests for the built-in procedural dataset (tfdisgan/data/procedural/)."""

import concurrent.futures
import pathlib
from unittest import mock

import numpy as np
import tensorflow as tf
from absl.testing import parameterized
from PIL import Image

from tfdisgan.data import procedural


def _box_downsample(image, size):
    return np.asarray(Image.fromarray(image).resize((size, size), Image.Resampling.BOX))


def _colour_histograms(images):
    """Joint RGB histograms with 4 levels per channel, normalised: [N, 64]."""
    q = images.astype(np.int64) // 64
    codes = (q[..., 0] * 16 + q[..., 1] * 4 + q[..., 2]).reshape(len(images), -1)
    hist = np.stack([np.bincount(c, minlength=64) for c in codes]).astype(np.float64)
    return hist / hist.sum(axis=1, keepdims=True)


class RenderSceneTest(tf.test.TestCase, parameterized.TestCase):
    @parameterized.parameters(16, 32)
    def test_shape_dtype_and_label(self, resolution):
        for index in range(6):
            image, label = procedural.render_scene(index, resolution)
            self.assertEqual(image.shape, (resolution, resolution, 3))
            self.assertEqual(image.dtype, np.uint8)
            self.assertEqual(label, index % 4)
            self.assertGreater(image.std(), 5.0)  # a scene, not a flat colour

    def test_class_names(self):
        self.assertEqual(
            procedural.CLASS_NAMES, ("building_fire", "wildfire", "earthquake", "flood")
        )
        self.assertEqual((procedural.MIN_RESOLUTION, procedural.MAX_RESOLUTION), (16, 512))

    def test_deterministic_in_index_resolution_and_seed(self):
        image, _ = procedural.render_scene(5, 32, seed=3)
        again, _ = procedural.render_scene(5, 32, seed=3)
        self.assertEqual(image.tobytes(), again.tobytes())
        other_seed, _ = procedural.render_scene(5, 32, seed=4)
        other_index, _ = procedural.render_scene(9, 32, seed=3)  # same class, next scene
        self.assertGreater(np.abs(image.astype(int) - other_seed).mean(), 5.0)
        self.assertGreater(np.abs(image.astype(int) - other_index).mean(), 5.0)

    def test_does_not_use_global_rng(self):
        np.random.seed(0)
        first, _ = procedural.render_scene(2, 16)
        np.random.seed(1)
        second, _ = procedural.render_scene(2, 16)
        self.assertAllEqual(first, second)

    def test_same_layout_across_resolutions(self):
        for index in range(8):
            small, _ = procedural.render_scene(index, 32)
            reference = small.astype(np.float64)
            same = _box_downsample(procedural.render_scene(index, 64)[0], 32)
            other = procedural.render_scene(index + 4, 32)[0]  # another scene, same class
            same_diff = np.abs(same - reference).mean()
            other_diff = np.abs(other - reference).mean()
            self.assertLess(same_diff, 5.0)
            self.assertLess(same_diff, 0.25 * other_diff)
        # 128 px is drawn on a larger canvas than 32 px: still the same picture.
        large = _box_downsample(procedural.render_scene(3, 128)[0], 32)
        self.assertLess(np.abs(large - procedural.render_scene(3, 32)[0].astype(float)).mean(), 6)

    @parameterized.parameters(100, 8, 1024, 0, -16, 48, 32.0, True, "64", None)
    def test_invalid_resolution_raises(self, resolution):
        with self.assertRaisesRegex(ValueError, f"Received resolution={resolution!r}"):
            procedural.render_scene(0, resolution)
        with self.assertRaisesRegex(ValueError, "resolution"):
            procedural.generate(1, resolution)

    def test_invalid_index_and_seed_raise(self):
        with self.assertRaisesRegex(ValueError, "Received index=-1"):
            procedural.render_scene(-1, 16)
        with self.assertRaisesRegex(ValueError, "Received seed=-2"):
            procedural.render_scene(0, 16, seed=-2)

    def test_classes_distinguishable_by_colour(self):
        train, train_labels = procedural.generate(96, 16, seed=0, num_workers=1)
        test, test_labels = procedural.generate(48, 16, seed=1, num_workers=1)
        # Mean colour per class: every pair of classes far apart.
        means = np.stack([train[train_labels == c].reshape(-1, 3).mean(axis=0) for c in range(4)])
        distances = np.linalg.norm(means[:, None] - means[None], axis=-1)
        self.assertGreater(distances[np.triu_indices(4, 1)].min(), 20.0)
        # Nearest class mean on colour histograms, scored on another seed's scenes.
        train_hist, test_hist = _colour_histograms(train), _colour_histograms(test)
        centroids = np.stack([train_hist[train_labels == c].mean(axis=0) for c in range(4)])
        predicted = np.argmin(((test_hist[:, None] - centroids[None]) ** 2).sum(-1), axis=1)
        self.assertGreater((predicted == test_labels).mean(), 0.8)

    def test_variety_within_a_class(self):
        images = np.stack([procedural.render_scene(4 * k + 1, 16)[0] for k in range(6)])
        flat = images.reshape(len(images), -1).astype(np.float64)
        pairwise = np.abs(flat[:, None] - flat[None]).mean(-1)
        self.assertGreater(pairwise[np.triu_indices(len(images), 1)].min(), 4.0)


class GenerateTest(tf.test.TestCase):
    def test_shapes_dtypes_and_labels(self):
        images, labels = procedural.generate(10, 16, num_workers=1)
        self.assertEqual(images.shape, (10, 16, 16, 3))
        self.assertEqual(images.dtype, np.uint8)
        self.assertEqual(labels.dtype, np.int32)
        self.assertAllEqual(labels, np.arange(10) % 4)
        for i in (0, 7):
            self.assertAllEqual(images[i], procedural.render_scene(i, 16)[0])

    def test_seed_changes_images(self):
        first, _ = procedural.generate(4, 16, seed=0, num_workers=1)
        second, _ = procedural.generate(4, 16, seed=1, num_workers=1)
        self.assertGreater(np.abs(first.astype(int) - second).mean(), 5.0)

    def test_class_filter_by_name_and_id(self):
        images, labels = procedural.generate(8, 16, classes=["flood", "wildfire"], num_workers=1)
        self.assertAllEqual(labels, [1, 3, 1, 3, 1, 3, 1, 3])
        # A filtered dataset is a subset of the full one: scenes 1, 3, 5, 7, ...
        for i, index in enumerate([1, 3, 5, 7]):
            self.assertAllEqual(images[i], procedural.render_scene(index, 16)[0])
        _, by_id = procedural.generate(6, 16, classes=[2], num_workers=1)
        self.assertAllEqual(by_id, [2] * 6)
        _, mixed = procedural.generate(9, 16, classes=("earthquake", 0), num_workers=1)
        self.assertAllEqual(np.bincount(mixed, minlength=4), [5, 0, 4, 0])

    def test_unknown_class_raises(self):
        with self.assertRaisesRegex(ValueError, "'tsunami'.*building_fire"):
            procedural.generate(4, 16, classes=["flood", "tsunami"])
        with self.assertRaisesRegex(ValueError, "Unknown class 4"):
            procedural.generate(4, 16, classes=[4])
        with self.assertRaisesRegex(ValueError, "empty"):
            procedural.generate(4, 16, classes=[])

    def test_invalid_counts_raise(self):
        for bad in (0, -3, 2.5, True):
            with self.assertRaisesRegex(ValueError, f"Received num_images={bad!r}"):
                procedural.generate(bad, 16)
        with self.assertRaisesRegex(ValueError, "Received num_workers=0"):
            procedural.generate(4, 16, num_workers=0)
        with self.assertRaisesRegex(ValueError, "Received seed=-1"):
            procedural.generate(64, 16, seed=-1, num_workers=2)

    def test_workers_give_identical_results(self):
        single, single_labels = procedural.generate(
            64, 16, seed=2, classes=["wildfire", "earthquake", "flood"], num_workers=1
        )
        pool_class = concurrent.futures.ProcessPoolExecutor
        spy = mock.patch.object(concurrent.futures, "ProcessPoolExecutor", wraps=pool_class)
        with spy as pool, mock.patch.object(procedural.dataset, "_MIN_IMAGES_PER_SPAWN_WORKER", 8):
            pooled, pooled_labels = procedural.generate(
                64, 16, seed=2, classes=["wildfire", "earthquake", "flood"], num_workers=2
            )
        pool.assert_called_once()  # the pool path really ran
        self.assertEqual(single.tobytes(), pooled.tobytes())
        self.assertAllEqual(single_labels, pooled_labels)


class SpecTest(tf.test.TestCase, parameterized.TestCase):
    @parameterized.parameters(("procedural:1", 1), ("procedural:2000", 2000))
    def test_parse_good_spec(self, spec, count):
        self.assertEqual(procedural.parse_spec(spec), count)
        self.assertTrue(procedural.is_procedural(spec))

    @parameterized.parameters("data/photos", "", "shards/flood", "/data/procedural:5", "flood")
    def test_other_strings_are_not_procedural(self, spec):
        self.assertIsNone(procedural.parse_spec(spec))
        self.assertFalse(procedural.is_procedural(spec))

    @parameterized.parameters(
        "procedural",
        "procedural:",
        "procedural:abc",
        "procedural:0",
        "procedural:-5",
        "procedural:1.5",
        "procedural: 10",
        "procedural:10:20",
    )
    def test_malformed_spec_raises(self, spec):
        self.assertTrue(procedural.is_procedural(spec))
        with self.assertRaisesRegex(ValueError, "procedural:N"):
            procedural.parse_spec(spec)

    def test_non_strings_are_not_procedural(self):
        for spec in (None, 5, pathlib.Path("procedural:3")):
            self.assertFalse(procedural.is_procedural(spec))


if __name__ == "__main__":
    tf.test.main()
