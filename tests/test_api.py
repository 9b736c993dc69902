"""The README's Python example, at test size, through the top-level package."""

import numpy as np
import tensorflow as tf

import tfdisgan


class PublicApiTest(tf.test.TestCase):
    def test_readme_fit_and_generate_example(self):
        model = tfdisgan.DCGAN(resolution=16, num_classes=4, base_channels=8, z_dim=16, seed=0)
        g_opt, d_opt = tfdisgan.DCGAN.default_optimizers()
        model.compile(g_optimizer=g_opt, d_optimizer=d_opt, augment=tfdisgan.DiffAugment())
        data = tfdisgan.load_dataset("procedural:64", 8, resolution=16)
        history = model.fit(data, steps_per_epoch=3, epochs=2, verbose=0)
        self.assertLen(history.history["d_loss"], 2)
        self.assertTrue(np.all(np.isfinite(history.history["g_loss"])))
        images = model.generate(seeds=range(4), labels=[2] * 4)
        self.assertEqual(images.shape, (4, 16, 16, 3))
        self.assertEqual(images.dtype, np.uint8)
        self.assertEqual(int(model.cur_nimg.numpy()), 6 * 8)

    def test_exports(self):
        for name in tfdisgan.__all__:
            self.assertTrue(hasattr(tfdisgan, name), name)
        self.assertEqual(tfdisgan.PROCEDURAL_CLASSES[0], "building_fire")


if __name__ == "__main__":
    tf.test.main()
