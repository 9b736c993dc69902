"""Tests of the feature networks: the Inception GraphDef loader and the missing-weights errors."""

import os
import tarfile

import numpy as np
import tensorflow as tf

from tests.metrics import fixtures
from tfdisgan.metrics import features


class InceptionLoaderTest(tf.test.TestCase):
    def test_synthetic_graph_def_with_inception_tensor_names(self):
        graph_def, weights = fixtures.synthetic_inception_graph_def(size=8)
        net = features.GraphDefFeatureNetwork(graph_def, fingerprint="synthetic", batch_size=3)
        self.assertEqual(net.dim, 2048)
        # Same tensor names but not the Inception-v3 body: labelled not comparable.
        self.assertFalse(net.comparable)
        self.assertEqual(net.describe(), {"feature_net": "inception-2015-12-05",
                                          "comparable_with_papers": False,
                                          "note": "not comparable with published FID"})
        # Inception-v3's node names and 2048-d pool are a shape any graph can copy:
        # comparability is decided by the serialized graph's sha256 alone.
        marked = tf.compat.v1.GraphDef()
        marked.CopyFrom(graph_def)
        marked.node.add(name="mixed_10/join", op="NoOp")
        digest = "ab" * 32
        unverified = features.GraphDefFeatureNetwork(marked, fingerprint=digest)
        self.assertFalse(unverified.comparable)
        self.assertStartsWith(unverified.note, "not comparable with published FID")
        self.assertIn(f"--inception_sha256={digest}", unverified.note)
        self.assertTrue(features.GraphDefFeatureNetwork(
            marked, fingerprint=digest, trusted_sha256=digest.upper()).comparable)
        self.assertFalse(features.GraphDefFeatureNetwork(
            marked, fingerprint=digest, trusted_sha256="cd" * 32).comparable)
        self.assertFalse(features.GraphDefFeatureNetwork(marked, trusted_sha256="").comparable)
        self.assertEqual(features.VERIFIED_INCEPTION_SHA256, frozenset())  # none invented
        images = np.random.RandomState(0).randint(0, 256, (7, 16, 16, 3)).astype(np.uint8)
        # Fed at ExpandDims:0 as float32 in [0, 255], any size and batch; the graph resizes.
        got = net(images)
        self.assertEqual(got.shape, (7, 2048))
        self.assertAllClose(got, fixtures.reference_features(images, weights), atol=1e-4)
        grey = net(images[..., :1])  # one channel is repeated to RGB
        self.assertAllClose(grey, net(np.repeat(images[..., :1], 3, -1)))
        other = tf.compat.v1.GraphDef()
        other.node.extend([node for node in graph_def.node if node.name != "pool_3"])
        with self.assertRaisesRegex(ValueError, "has no tensor 'pool_3:0'"):
            features.GraphDefFeatureNetwork(other)

    def test_pb_tgz_and_folder_paths(self):
        folder = self.get_temp_dir()
        pb = fixtures.write_synthetic_inception(os.path.join(folder, "pb"))
        os.makedirs(os.path.join(folder, "tgz"))
        tgz = os.path.join(folder, "tgz", "inception-2015-12-05.tgz")
        with tarfile.open(tgz, "w:gz") as archive:  # the real archive's layout
            archive.add(pb, arcname="classify_image_graph_def.pb")
        self.assertEqual(features.find_inception(os.path.dirname(pb)), pb)
        self.assertEqual(features.find_inception(os.path.dirname(tgz)), tgz)
        images = np.random.RandomState(1).randint(0, 256, (2, 8, 8, 3)).astype(np.uint8)
        outputs = [features.get_feature_network("inception", path)(images)
                   for path in (pb, tgz)]
        self.assertAllClose(outputs[0], outputs[1])
        _, digest_pb = features.read_graph_def(pb)
        _, digest_tgz = features.read_graph_def(tgz)
        self.assertEqual(digest_pb, digest_tgz)  # the cache key sees the same network
        # The Keras cache is searched when no path is given.
        os.environ["KERAS_HOME"] = os.path.join(folder, "keras_home")
        try:
            fixtures.write_synthetic_inception(os.path.join(folder, "keras_home", "models"),
                                               as_tgz=True)
            self.assertTrue(features.find_inception().endswith("inception-2015-12-05.tgz"))
        finally:
            del os.environ["KERAS_HOME"]

    def test_vouched_digest_must_match_the_file(self):
        pb = fixtures.write_synthetic_inception(os.path.join(self.get_temp_dir(), "vouch"),
                                                inception_shaped=True)
        _, digest = features.read_graph_def(pb)
        net = features.get_feature_network("inception", pb, inception_sha256=digest)
        self.assertTrue(net.comparable)
        self.assertEqual(net.describe(), {"feature_net": "inception-2015-12-05",
                                          "comparable_with_papers": True})
        self.assertFalse(features.get_feature_network("inception", pb).comparable)
        for bad, message in (("0" * 64, f"{pb}.*sha256 {digest}, not 0+: it is not the file"),
                             ("xyz", "--inception_sha256 must be 64 hex digits.*'xyz'")):
            with self.assertRaisesRegex(ValueError, message):
                features.get_feature_network("inception", pb, inception_sha256=bad)
        with self.assertRaisesRegex(ValueError, "does not apply to "
                                                "--feature_net=keras_inceptionv3"):
            features.check_available("keras_inceptionv3", inception_sha256=digest)

    def test_clear_error_when_weights_are_missing(self):
        empty = os.path.join(self.get_temp_dir(), "empty_keras_home")
        os.makedirs(empty, exist_ok=True)
        os.environ["KERAS_HOME"] = empty
        try:
            with self.assertRaises(features.InceptionNotFoundError) as caught:
                features.get_feature_network("inception")
            message = str(caught.exception)
            self.assertIn(features.INCEPTION_URL, message)
            self.assertIn(os.path.join(empty, "models"), message)
            self.assertIn("--inception=PATH", message)
            with self.assertRaisesRegex(features.InceptionNotFoundError,
                                        "not comparable with published FID"):
                features.get_feature_network("keras_inceptionv3")
        finally:
            del os.environ["KERAS_HOME"]
        with self.assertRaisesRegex(features.InceptionNotFoundError, "nope.pb"):
            features.find_inception(os.path.join(empty, "nope.pb"))
        bad = os.path.join(empty, "bad.pb")
        with open(bad, "wb") as handle:
            handle.write(b"\xff\x00 definitely not a graph")
        with self.assertRaisesRegex(ValueError, "bad.pb.*not a TensorFlow GraphDef"):
            features.read_graph_def(bad)
        with self.assertRaisesRegex(ValueError, "feature_net must be one of"):
            features.get_feature_network("vgg")
