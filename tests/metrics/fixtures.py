"""Helpers of the metric tests: a tiny stand-in for the Inception GraphDef, a fake generator."""

import os
import tarfile

import numpy as np
import tensorflow as tf

FEATURE_DIM = 2048


def synthetic_inception_graph_def(size=8, seed=0):
    """A GraphDef with the tensor names of inception-2015-12-05's classify_image_graph_def.pb.

    DecodeJpeg/contents -> DecodeJpeg -> Cast -> ExpandDims -> ResizeBilinear -> Sub -> Mul
    -> a 1x1 convolution to 2048 channels -> pool_3 (average over the image), [N,1,1,2048].
    The real graph resizes to 299; this one to `size`, which keeps tests fast.

    Returns:
        `(graph_def, weights)`: weights [3, 2048] of the 1x1 convolution (for a reference).
    """
    weights = np.random.RandomState(seed).randn(1, 1, 3, FEATURE_DIM).astype(np.float32)
    graph = tf.Graph()
    with graph.as_default():
        contents = tf.compat.v1.placeholder(tf.string, [], name="DecodeJpeg/contents")
        image = tf.io.decode_jpeg(contents, channels=3, name="DecodeJpeg")
        cast = tf.cast(image, tf.float32, name="Cast")
        batch = tf.expand_dims(cast, 0, name="ExpandDims")
        resized = tf.raw_ops.ResizeBilinear(images=batch, size=[size, size],
                                            name="ResizeBilinear")
        scaled = tf.multiply(tf.subtract(resized, 128.0, name="Sub"), 1.0 / 128.0, name="Mul")
        conv = tf.nn.conv2d(scaled, tf.constant(weights), 1, "VALID", name="conv")
        tf.nn.avg_pool2d(conv, size, 1, "VALID", name="pool_3")
    return graph.as_graph_def(), weights[0, 0]


def reference_features(images, weights, size=8):
    """What the synthetic graph computes, in NumPy-friendly TF ops (resize + 1x1 + mean)."""
    resized = tf.raw_ops.ResizeBilinear(images=tf.constant(images, tf.float32),
                                        size=[size, size]).numpy()
    scaled = (resized - 128.0) / 128.0
    return np.einsum("nhwc,cd->nd", scaled, weights) / (size * size)


def write_synthetic_inception(folder, as_tgz=False, size=8, inception_shaped=False):
    """Writes the synthetic graph as classify_image_graph_def.pb (or inside a .tgz);
    `inception_shaped` adds a node named as Inception-v3's last block (``mixed_10/join``),
    the shape a copy can have without being the network."""
    os.makedirs(folder, exist_ok=True)
    graph_def, _ = synthetic_inception_graph_def(size)
    if inception_shaped:
        graph_def.node.add(name="mixed_10/join", op="NoOp")
    pb = os.path.join(folder, "classify_image_graph_def.pb")
    with open(pb, "wb") as handle:
        handle.write(graph_def.SerializeToString())
    if not as_tgz:
        return pb
    tgz = os.path.join(folder, "inception-2015-12-05.tgz")
    with tarfile.open(tgz, "w:gz") as archive:
        archive.add(pb, arcname="classify_image_graph_def.pb")
    os.remove(pb)
    return tgz


class FakeGenerator:
    """Stands in for a GAN: `generate(z=...)` returns images that depend on z only.

    `offset` shifts every pixel, so two fake generators differ in a controlled way.
    """

    def __init__(self, resolution=16, z_dim=8, offset=0, num_classes=0):
        self.resolution, self.z_dim, self.offset = resolution, z_dim, offset
        self.num_classes = num_classes
        self.calls = 0
        rng = np.random.RandomState(123)
        self.basis = rng.randn(z_dim, resolution * resolution * 3).astype(np.float32)

    def generate(self, z=None, labels=None, psi=1.0, batch_size=32):
        self.calls += 1
        z = np.asarray(z, np.float32)
        x = np.tanh(z @ self.basis / np.sqrt(self.z_dim))
        images = x.reshape(-1, self.resolution, self.resolution, 3) * 100 + 128 + self.offset
        return images.clip(0, 255).astype(np.uint8)
