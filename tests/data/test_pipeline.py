"""Tests of tfdisgan.data.load_dataset: shapes, ranges, order, resume, distribution, errors."""

import os
import tempfile

import numpy as np
import tensorflow as tf

from tests.data import fixtures
from tests.fixtures import two_replicas
from tfdisgan.data import pipeline, tfrecords


def _take(ds, n):
    return [(x.numpy(), y.numpy()) for x, y in ds.take(n)]


class LoadDatasetTest(tf.test.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp()
        cls.data = os.path.join(cls.tmp, "data")
        tfrecords.build_dataset("procedural:24", cls.data, resolution=16, shards=3, verbose=False)

    def test_shapes_dtypes_and_range(self):
        for spec in (self.data, "procedural:24"):
            with self.subTest(spec=spec):
                ds = pipeline.load_dataset(spec, batch_size=8, resolution=16, mirror=True)
                images, labels = next(iter(ds))
                self.assertEqual(images.shape, (8, 16, 16, 3))
                self.assertEqual(images.dtype, tf.float32)
                self.assertEqual(labels.dtype, tf.int32)
                self.assertGreaterEqual(float(tf.reduce_min(images)), -1.0)
                self.assertLessEqual(float(tf.reduce_max(images)), 1.0)
                self.assertGreater(float(tf.reduce_max(images) - tf.reduce_min(images)), 1.0)

    def test_one_epoch_without_shuffle_is_the_dataset_in_order(self):
        manifest = tfrecords.read_manifest(self.data)
        raw, raw_labels = tfrecords.read_all(self.data, manifest)
        ds = pipeline.load_dataset(self.data, batch_size=8, shuffle=False, repeat=False)
        batches = _take(ds, 100)
        self.assertLen(batches, 3)
        images = np.concatenate([b[0] for b in batches])
        self.assertAllClose(images, raw.astype(np.float32) / 127.5 - 1.0)
        self.assertAllEqual(np.concatenate([b[1] for b in batches]), raw_labels)

    def test_label_ids_match_manifest_and_class_filter(self):
        info = pipeline.describe(self.data)
        self.assertEqual(info.class_names[0], "building_fire")
        ds = pipeline.load_dataset(self.data, 4, classes=["flood", 1])
        labels = np.concatenate([b[1] for b in _take(ds, 10)])
        self.assertEqual(set(labels.tolist()), {1, 3})

    def test_epoch_is_a_permutation_and_epochs_differ(self):
        ds = pipeline.load_dataset("procedural:24", 8, resolution=16, seed=3)
        batches = _take(ds, 6)
        first = np.concatenate([b[0] for b in batches[:3]]).reshape(24, -1)
        second = np.concatenate([b[0] for b in batches[3:]]).reshape(24, -1)
        self.assertLen({row.tobytes() for row in first}, 24)  # every image once
        self.assertEqual({r.tobytes() for r in first}, {r.tobytes() for r in second})
        self.assertNotAllClose(first, second)  # reshuffled

    def test_same_seed_same_order_and_start_step_resumes_exactly(self):
        full = _take(pipeline.load_dataset("procedural:24", 8, resolution=16, seed=5,
                                           mirror=True), 7)
        again = _take(pipeline.load_dataset("procedural:24", 8, resolution=16, seed=5,
                                            mirror=True), 7)
        resumed = _take(pipeline.load_dataset("procedural:24", 8, resolution=16, seed=5,
                                              mirror=True, start_step=4), 3)
        for (a, la), (b, lb) in zip(full, again, strict=False):
            self.assertAllEqual(a, b)
            self.assertAllEqual(la, lb)
        for (a, la), (b, lb) in zip(full[4:], resumed, strict=False):
            self.assertAllEqual(a, b)
            self.assertAllEqual(la, lb)
        other = _take(pipeline.load_dataset("procedural:24", 8, resolution=16, seed=6), 1)
        self.assertNotAllClose(full[0][0], other[0][0])

    def test_mirror_flips_some_images(self):
        plain = _take(pipeline.load_dataset("procedural:24", 24, resolution=16, seed=1), 1)[0]
        flipped = _take(pipeline.load_dataset("procedural:24", 24, resolution=16, seed=1,
                                              mirror=True), 1)[0]
        same = [np.array_equal(a, b) for a, b in zip(plain[0], flipped[0], strict=False)]
        pairs = list(zip(plain[0], flipped[0], strict=True))
        mirrored = [np.array_equal(a[:, ::-1], b) for a, b in pairs]
        self.assertTrue(all(s or m for s, m in zip(same, mirrored, strict=False)))
        self.assertGreater(sum(mirrored), 3)
        self.assertGreater(sum(same), 3)

    def test_streaming_mode_matches_contents(self):
        ds = pipeline.load_dataset(self.data, 8, in_memory=False, seed=2, mirror=True)
        batches = _take(ds, 3)
        self.assertEqual(batches[0][0].shape, (8, 16, 16, 3))
        manifest = tfrecords.read_manifest(self.data)
        raw, _ = tfrecords.read_all(self.data, manifest)
        stored = {r.tobytes() for r in raw} | {r[:, ::-1].tobytes() for r in raw}
        for images, _ in batches:
            for image in images:
                self.assertIn(np.round((image + 1) * 127.5).astype(np.uint8).tobytes(), stored)

    def test_raw_image_folder_spec(self):
        source = os.path.join(self.tmp, "folder_spec")
        fixtures.make_source(source)
        ds = pipeline.load_dataset(source, 4, resolution=16)  # num_workers None: all cores
        images, labels = next(iter(ds))
        self.assertEqual(images.shape, (4, 16, 16, 3))
        self.assertEqual(pipeline.describe(source).class_names, (fixtures.FIRE, fixtures.FLOOD))

    def test_errors_name_the_problem(self):
        with self.assertRaisesRegex(tfrecords.DatasetError, "stores 16 px"):
            pipeline.load_dataset(self.data, 8, resolution=32)
        with self.assertRaisesRegex(tfrecords.DatasetError, "neither"):
            pipeline.load_dataset("/no/such/dataset", 8)
        with self.assertRaisesRegex(ValueError, "procedural"):
            pipeline.load_dataset("procedural:abc", 8, resolution=16)
        with self.assertRaisesRegex(ValueError, "resolution is required"):
            pipeline.load_dataset("procedural:8", 8)
        with self.assertRaisesRegex(ValueError, "batch_size=0"):
            pipeline.load_dataset("procedural:8", 0, resolution=16)
        with self.assertRaisesRegex(ValueError, "Unknown class 'volcano'.*0=building_fire"):
            pipeline.load_dataset(self.data, 8, classes=["volcano"])

    def test_corrupt_shard_detected_when_loading(self):
        dest = os.path.join(self.tmp, "corrupt")
        tfrecords.build_dataset("procedural:8", dest, resolution=16, verbose=False)
        name = tfrecords.read_manifest(dest)["shards"][0]["file"]
        with open(os.path.join(dest, name), "ab") as handle:
            handle.write(b"junk")
        with self.assertRaisesRegex(tfrecords.DatasetError, name):
            pipeline.load_dataset(dest, 4)


class DistributedInputTest(tf.test.TestCase):
    """Two logical CPU replicas (tests/conftest.py) see the same global batch as one."""

    def _per_step(self, strategy, spec, **kwargs):
        def dataset_fn(context):
            return pipeline.load_dataset(spec, 8, resolution=16, input_context=context, **kwargs)

        dist = strategy.distribute_datasets_from_function(dataset_fn)
        steps = []
        for step, (images, labels) in enumerate(dist):
            if step == 3:
                break
            parts = strategy.experimental_local_results(labels)
            image_parts = strategy.experimental_local_results(images)
            steps.append((np.concatenate([p.numpy() for p in image_parts]),
                          np.concatenate([p.numpy() for p in parts])))
        return steps

    def test_two_replicas_get_the_single_replica_batch_split(self):
        one = tf.distribute.OneDeviceStrategy("/cpu:0")
        two = two_replicas()
        single = self._per_step(one, "procedural:24", seed=4, mirror=True)
        double = self._per_step(two, "procedural:24", seed=4, mirror=True)
        self.assertLen(double, 3)
        for (a, la), (b, lb) in zip(single, double, strict=False):
            self.assertEqual(b.shape, (8, 16, 16, 3))
            self.assertAllEqual(la, lb)
            self.assertAllEqual(a, b)

    def test_streaming_shards_across_replicas(self):
        data = os.path.join(tempfile.mkdtemp(dir=self.get_temp_dir()), "d")
        tfrecords.build_dataset("procedural:32", data, resolution=16, shards=4, verbose=False)
        two = two_replicas()
        steps = self._per_step(two, data, in_memory=False)
        self.assertLen(steps, 3)
        self.assertEqual(steps[0][0].shape, (8, 16, 16, 3))

    def test_indivisible_batch_is_an_error(self):
        context = tf.distribute.InputContext(num_input_pipelines=1, input_pipeline_id=0,
                                             num_replicas_in_sync=3)
        with self.assertRaisesRegex(ValueError, "batch_size=8.*3 replicas"):
            pipeline.load_dataset("procedural:24", 8, resolution=16, input_context=context)

    def test_two_workers_split_each_global_batch(self):
        whole = _take(pipeline.load_dataset("procedural:24", 8, resolution=16, seed=9), 2)
        halves = []
        for worker in range(2):
            context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=worker,
                                                 num_replicas_in_sync=2)
            halves.append(_take(pipeline.load_dataset("procedural:24", 8, resolution=16, seed=9,
                                                      input_context=context), 2))
        for step in range(2):
            joined = np.concatenate([halves[0][step][0], halves[1][step][0]])
            self.assertAllEqual(joined, whole[step][0])


if __name__ == "__main__":
    tf.test.main()
