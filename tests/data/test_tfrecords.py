"""Tests of the dataset tool: build_dataset, manifest, atomicity, scripts/dataset_tool.py."""

import json
import os
import subprocess
import sys
import tempfile
from unittest import mock

import numpy as np
import tensorflow as tf

from tests.data import fixtures
from tests.fixtures import REPO
from tfdisgan.data import tfrecords


class BuildDatasetTest(tf.test.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp()
        cls.source = os.path.join(cls.tmp, "photos")
        cls.expected = fixtures.make_source(cls.source)
        cls.dest = os.path.join(cls.tmp, "data")
        cls.manifest = tfrecords.build_dataset(
            cls.source, cls.dest, resolution=32, shards=3, num_workers=2, verbose=False
        )

    def test_counts_per_class_and_ids_in_sorted_name_order(self):
        names = sorted(self.expected["kept"])
        self.assertEqual([c["name"] for c in self.manifest["classes"]], names)
        self.assertEqual([c["id"] for c in self.manifest["classes"]], [0, 1])
        for entry in self.manifest["classes"]:
            self.assertEqual(entry["num_images"], self.expected["kept"][entry["name"]])
        self.assertEqual(self.manifest["num_images"], sum(self.expected["kept"].values()))

    def test_every_reject_named_with_reason(self):
        rejected = {os.path.basename(r["path"]): r["reason"] for r in self.manifest["rejected"]}
        self.assertEqual(set(rejected), set(self.expected["rejected"]))
        for name, reason in self.expected["rejected"].items():
            self.assertIn(reason, rejected[name])
        self.assertIn("사진1.jpg", rejected["사진1_copy.jpg"])

    def test_manifest_on_disk_with_shards_and_checksums(self):
        with open(os.path.join(self.dest, "manifest.json"), encoding="utf-8") as handle:
            on_disk = json.load(handle)
        self.assertEqual(on_disk["classes"], self.manifest["classes"])
        self.assertIn(fixtures.FIRE, open(os.path.join(self.dest, "manifest.json"),
                                          encoding="utf-8").read())  # not \u-escaped
        for key in ("resolution", "channels", "num_images", "tool", "source", "shards"):
            self.assertIn(key, on_disk)
        self.assertEqual(on_disk["resolution"], 32)
        self.assertEqual(len(on_disk["shards"]), 3)
        self.assertEqual(sum(s["num_images"] for s in on_disk["shards"]), on_disk["num_images"])
        for shard in on_disk["shards"]:
            path = os.path.join(self.dest, shard["file"])
            self.assertEqual(tfrecords._sha256(path), shard["sha256"])
        leftovers = [n for n in os.listdir(self.tmp) if n.startswith(".")]
        self.assertEqual(leftovers, [])

    def test_records_hold_the_decoded_images(self):
        manifest = tfrecords.read_manifest(self.dest)
        images, labels = tfrecords.read_all(self.dest, manifest)
        self.assertEqual(images.shape, (14, 32, 32, 3))
        self.assertEqual(images.dtype, np.uint8)
        self.assertAllEqual(np.bincount(labels), [8, 6])
        # Every shard mixes classes (round-robin over a seeded permutation).
        first = tfrecords.read_records(self.dest, {**manifest, "shards": manifest["shards"][:1]})
        shard_labels = [int(label) for _, label in first]
        self.assertLen(set(shard_labels), 2)

    def test_spawned_decoder_pool_gives_the_same_dataset(self):
        dest = os.path.join(self.tmp, "pooled")
        with mock.patch.object(tfrecords, "_MIN_FILES_FOR_POOL", 1):
            pooled = tfrecords.build_dataset(self.source, dest, resolution=32, shards=3,
                                             num_workers=2, verbose=False)
        self.assertEqual(pooled["shards"], self.manifest["shards"])  # same bytes (sha256)
        self.assertEqual(len(pooled["rejected"]), len(self.manifest["rejected"]))

    def test_dest_exists_needs_overwrite(self):
        with self.assertRaisesRegex(FileExistsError, "overwrite"):
            tfrecords.build_dataset(self.source, self.dest, resolution=32, verbose=False)

    def test_overwrite_replaces(self):
        dest = os.path.join(self.tmp, "replaced")
        tfrecords.build_dataset("procedural:8", dest, resolution=16, verbose=False)
        tfrecords.build_dataset(
            "procedural:12", dest, resolution=16, overwrite=True, verbose=False
        )
        self.assertEqual(tfrecords.read_manifest(dest)["num_images"], 12)

    def test_png_encoding_round_trips(self):
        dest = os.path.join(self.tmp, "png")
        tfrecords.build_dataset("procedural:6", dest, resolution=16, encoding="png", verbose=False)
        raw_dest = os.path.join(self.tmp, "raw")
        tfrecords.build_dataset("procedural:6", raw_dest, resolution=16, verbose=False)
        png, _ = tfrecords.read_all(dest, tfrecords.read_manifest(dest))
        raw, _ = tfrecords.read_all(raw_dest, tfrecords.read_manifest(raw_dest))
        self.assertAllEqual(np.sort(png.reshape(6, -1), 0), np.sort(raw.reshape(6, -1), 0))


class AtomicityTest(tf.test.TestCase):
    def test_failure_midway_leaves_no_dataset(self):
        root = self.get_temp_dir()
        dest = os.path.join(root, "never")
        calls = {"n": 0}
        real = tfrecords._example

        def failing(*args):
            calls["n"] += 1
            if calls["n"] == 3:
                raise KeyboardInterrupt  # what Ctrl-C raises in the middle of writing
            return real(*args)

        with mock.patch.object(tfrecords, "_example", failing):
            with self.assertRaises(KeyboardInterrupt):
                tfrecords.build_dataset("procedural:8", dest, resolution=16, verbose=False)
        self.assertFalse(os.path.exists(dest))
        self.assertEqual([n for n in os.listdir(root) if "never" in n], [])

    def test_failed_overwrite_keeps_the_old_dataset(self):
        dest = os.path.join(self.get_temp_dir(), "keep")
        tfrecords.build_dataset("procedural:4", dest, resolution=16, verbose=False)
        with mock.patch.object(tfrecords, "_sha256", side_effect=OSError("disk full")):
            with self.assertRaisesRegex(OSError, "disk full"):
                tfrecords.build_dataset(
                    "procedural:8", dest, resolution=16, overwrite=True, verbose=False
                )
        self.assertEqual(tfrecords.read_manifest(dest)["num_images"], 4)

    def test_no_usable_image_is_an_error(self):
        root = os.path.join(self.get_temp_dir(), "empty_src")
        os.makedirs(os.path.join(root, "a"))
        with open(os.path.join(root, "a", "x.txt"), "w") as handle:
            handle.write("x")
        dest = os.path.join(self.get_temp_dir(), "empty_dest")
        with self.assertRaisesRegex(tfrecords.DatasetError, "No usable image"):
            tfrecords.build_dataset(root, dest, resolution=16, verbose=False)
        self.assertFalse(os.path.exists(dest))


class ReadManifestTest(tf.test.TestCase):
    def setUp(self):
        super().setUp()
        self.dest = os.path.join(tempfile.mkdtemp(dir=self.get_temp_dir()), "d")
        tfrecords.build_dataset("procedural:8", self.dest, resolution=16, shards=2, verbose=False)

    def test_missing_shard_named(self):
        name = tfrecords.read_manifest(self.dest)["shards"][1]["file"]
        os.remove(os.path.join(self.dest, name))
        with self.assertRaisesRegex(tfrecords.DatasetError, f"missing.*{name}"):
            tfrecords.read_manifest(self.dest)

    def test_checksum_mismatch_named(self):
        name = tfrecords.read_manifest(self.dest)["shards"][0]["file"]
        with open(os.path.join(self.dest, name), "r+b") as handle:
            handle.seek(40)
            handle.write(b"\xff\xff")
        with self.assertRaisesRegex(tfrecords.DatasetError, f"Checksum mismatch.*{name}"):
            tfrecords.read_manifest(self.dest)
        tfrecords.read_manifest(self.dest, verify_checksums=False)  # opt-out works

    def test_not_a_dataset(self):
        with self.assertRaisesRegex(tfrecords.DatasetError, "manifest.json"):
            tfrecords.read_manifest(self.get_temp_dir())


class DatasetToolScriptTest(tf.test.TestCase):
    def _run(self, *args):
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=REPO)
        return subprocess.run(
            [sys.executable, os.path.join(REPO, "scripts", "dataset_tool.py"), *args],
            capture_output=True, text=True, env=env, timeout=300,
        )

    def test_folder_to_shards_with_summary(self):
        tmp = tempfile.mkdtemp(dir=self.get_temp_dir())
        source = os.path.join(tmp, "src")
        fixtures.make_source(source)
        dest = os.path.join(tmp, "out")
        result = self._run(f"--source={source}", f"--dest={dest}", "--resolution=32")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn(fixtures.FIRE, result.stdout)
        self.assertIn("rejected:", result.stdout)
        self.assertIn("truncated.jpg", result.stdout)
        self.assertEqual(tfrecords.read_manifest(dest)["num_images"], 14)
        again = self._run(f"--source={source}", f"--dest={dest}", "--resolution=32")
        self.assertNotEqual(again.returncode, 0)
        self.assertIn("--overwrite", again.stderr)

    def test_missing_source_fails_naming_it(self):
        dest = os.path.join(self.get_temp_dir(), "o")
        result = self._run("--source=/no/such/folder", f"--dest={dest}")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("/no/such/folder", result.stderr)


if __name__ == "__main__":
    tf.test.main()
