"""``model.save("x.keras")`` then ``keras.models.load_model``: the same generator, compiled
with the same settings, and it trains on (the optimizers' state is not in a .keras file:
a run resumes from its checkpoints)."""

import os

import keras
import numpy as np
import tensorflow as tf

from tests import fixtures
from tfdisgan.augment import DiffAugment
from tfdisgan.models import DCGAN, stylegan2


class KerasFormatTest(tf.test.TestCase):
    def test_round_trip(self):
        preset = stylegan2.resolve_preset("cpu_tiny", 16)
        cases = (("dcgan", fixtures.tiny_dcgan, DCGAN.default_optimizers, {}),
                 ("stylegan2", fixtures.tiny_stylegan2,
                  lambda: stylegan2.preset_optimizers(preset), dict(pl_interval=4)))
        for name, build, optimizers, extra in cases:
            with self.subTest(model=name):
                gan = build()
                gan.compile(**optimizers(), augment=DiffAugment(seed=1), r1_gamma=1.0, **extra)
                path = os.path.join(self.get_temp_dir(), f"{name}.keras")
                gan.save(path)
                loaded = keras.models.load_model(path)
                self.assertIs(type(loaded), type(gan))
                self.assertAllEqual(loaded.generate(seeds=[0, 1]), gan.generate(seeds=[0, 1]))
                self.assertEqual((loaded.r1_gamma, loaded.r1_interval),
                                 (gan.r1_gamma, gan.r1_interval))
                self.assertIsInstance(loaded.augment, DiffAugment)
                for a, b in ((loaded.g_optimizer, gan.g_optimizer),
                             (loaded.d_optimizer, gan.d_optimizer)):
                    self.assertIsNot(a, b)
                    self.assertEqual(type(a), type(b))
                    self.assertAllClose(float(a.learning_rate), float(b.learning_rate))
                    self.assertEqual((a.beta_1, a.beta_2), (b.beta_1, b.beta_2))
                if name == "stylegan2":
                    self.assertEqual((loaded.pl_weight, loaded.pl_interval), (2.0, 4))
                before = [w.numpy() for w in loaded.generator.trainable_weights]
                images = fixtures.toy_images(4)
                loaded.fit(tf.data.Dataset.from_tensors(images), verbose=0)
                after = [w.numpy() for w in loaded.generator.trainable_weights]
                self.assertTrue(any(not np.array_equal(x, y)
                                    for x, y in zip(before, after, strict=True)))


if __name__ == "__main__":
    tf.test.main()
