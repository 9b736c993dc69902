"""The one uint8 conversion (`tfdisgan.images`), in NumPy and in-graph."""

import numpy as np
import tensorflow as tf

from tfdisgan import images


class ToUint8Test(tf.test.TestCase):
    def test_numpy_and_graph_agree_and_invert_the_reader(self):
        # The official arithmetic, (x * 127.5 + 128).clamp(0, 255) truncated, on values
        # across and beyond [-1, 1]; the exported SavedModel runs the tensor version.
        x = np.linspace(-1.2, 1.2, 10001, dtype=np.float32)
        expected = np.floor(np.clip(x.astype(np.float64) * 127.5 + 128, 0, 255))
        self.assertAllEqual(images.to_uint8(x), expected.astype(np.uint8))
        graph = tf.function(images.to_uint8_tensor)(tf.constant(x)).numpy()
        self.assertEqual(graph.dtype, np.uint8)
        self.assertAllEqual(graph, images.to_uint8(x))
        # Reals read by the data pipeline (u / 127.5 - 1) come back as the stored levels.
        levels = np.arange(256)
        read = tf.cast(levels, tf.float32) * (1.0 / 127.5) - 1.0
        self.assertAllEqual(images.to_uint8(read.numpy()), levels)


if __name__ == "__main__":
    tf.test.main()
