"""`run_layer_test` (config round trip, serialization, eager = graph, gradients reach every
weight) for the StyleGAN2 network blocks and the augmentation layers, like the layers in
tests/layers/."""

import numpy as np
import tensorflow as tf

from tests.layers.layer_test_util import run_layer_test
from tfdisgan.augment import AdaptiveAugment, ClassicAugment, DiffAugment
from tfdisgan.models.stylegan2.discriminator import DiscriminatorBlock, DiscriminatorEpilogue
from tfdisgan.models.stylegan2.mapping_network import MappingNetwork
from tfdisgan.models.stylegan2.synthesis_network import SynthesisBlock


def _normal(shape, seed=0):
    return tf.random.stateless_normal(shape, seed=[seed, 1])


class NetworkBlockTest(tf.test.TestCase):
    def test_mapping_network(self):
        run_layer_test(
            self, MappingNetwork,
            dict(z_dim=8, c_dim=3, w_dim=8, num_ws=4, num_layers=2),
            (_normal([2, 8]), tf.constant([0, 2])),
            expected_output_shape=(2, 4, 8),
            # embed FC (2) + 2 FC layers (2 each); w_avg is a buffer
            expected_num_trainable_weights=6, expected_num_non_trainable_weights=1,
            check_output_shape=False,
        )

    def test_synthesis_blocks(self):
        # The first block (constant input, conv1, ToRGB) and an upsampling block (conv0 up,
        # conv1, ToRGB, image skip), both with const noise (deterministic).
        first = run_layer_test(
            self, SynthesisBlock,
            dict(in_channels=0, out_channels=8, w_dim=8, resolution=4, img_channels=3,
                 is_last=False),
            (_normal([2, 2, 8]),), call_kwargs=dict(noise_mode="const"),
            expected_output_shape=((2, 4, 4, 8), (2, 4, 4, 3)), check_output_shape=False,
        )
        self.assertEqual(first.num_conv + first.num_torgb, 2)
        run_layer_test(
            self, SynthesisBlock,
            dict(in_channels=8, out_channels=4, w_dim=8, resolution=8, img_channels=3,
                 is_last=True),
            (_normal([2, 3, 8]), _normal([2, 4, 4, 8], 1), _normal([2, 4, 4, 3], 2)),
            call_kwargs=dict(noise_mode="const"),
            expected_output_shape=((2, 8, 8, 4), (2, 8, 8, 3)), check_output_shape=False,
        )

    def test_discriminator_blocks_and_epilogue(self):
        # The top block (FromRGB, residual convs, downsampling), an inner block, and the
        # epilogue with minibatch stddev and projection conditioning.
        run_layer_test(
            self, DiscriminatorBlock,
            dict(in_channels=0, tmp_channels=4, out_channels=8, resolution=8, img_channels=3),
            (None, _normal([2, 8, 8, 3])),
            expected_output_shape=(2, 4, 4, 8), check_output_shape=False,
        )
        run_layer_test(
            self, DiscriminatorBlock,
            dict(in_channels=8, tmp_channels=8, out_channels=8, resolution=8, img_channels=3),
            (_normal([2, 8, 8, 8]),),
            expected_output_shape=(2, 4, 4, 8), check_output_shape=False,
        )
        run_layer_test(
            self, DiscriminatorEpilogue,
            dict(in_channels=8, cmap_dim=4, resolution=4, img_channels=3, mbstd_group_size=2),
            (_normal([2, 4, 4, 8]), None, _normal([2, 4], 3)),
            expected_output_shape=(2, 1), check_output_shape=False,
        )


class AugmentLayerTest(tf.test.TestCase):
    def test_augment_layers(self):
        # Random by design, so the shared checks run at training=False, where every
        # augmentation is the identity (what G_ema sampling and metrics rely on).
        images = tf.random.stateless_uniform([2, 16, 16, 3], seed=[3, 4], minval=-1.0)
        for cls, kwargs in ((DiffAugment, dict(policy="color,translation", seed=2)),
                            (ClassicAugment, dict(rotation=10.0, seed=2)),
                            (AdaptiveAugment, dict(pipeline="bgc", p=0.5, seed=2))):
            with self.subTest(cls=cls.__name__):
                layer = run_layer_test(self, cls, kwargs, (images,),
                                       call_kwargs=dict(training=False),
                                       expected_output_shape=(2, 16, 16, 3))
                self.assertAllEqual(layer(images, training=False), images)
                # ...and training=True really augments.
                self.assertGreater(
                    float(np.abs(layer(images, training=True) - images).max()), 1e-3)


if __name__ == "__main__":
    tf.test.main()
