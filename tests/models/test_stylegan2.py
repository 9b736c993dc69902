"""Tests for the StyleGAN2 networks and presets (tfdisgan.models.stylegan2).

Shapes, the official parameter counts, numerical agreement with the official PyTorch code,
the mapping network (normalisation, w_avg, truncation), noise modes, configs, presets.
"""

import zlib

import keras
import numpy as np
import tensorflow as tf

from tfdisgan.models.stylegan2 import (
    PRESETS,
    Discriminator,
    Generator,
    MappingNetwork,
    StyleGAN2,
    SynthesisNetwork,
    normalize_2nd_moment,
    path_lengths,
    resolve_preset,
    split_preset,
)

TINY = dict(channel_base=256, channel_max=32)


def trainable_count(layer):
    return int(sum(np.prod(v.shape) for v in layer.trainable_weights))


def tiny_generator(res=16, c_dim=0, **synthesis):
    g = Generator(
        32, c_dim, 32, res, mapping_kwargs={"num_layers": 2},
        synthesis_kwargs={**TINY, **synthesis},
    )
    g.build()
    return g


def tiny_discriminator(res=16, c_dim=0, **kwargs):
    d = Discriminator(c_dim, res, **{**TINY, "mbstd_group_size": 2, **kwargs})
    d.build()
    return d


class ShapesTest(tf.test.TestCase):
    def setUp(self):
        super().setUp()
        keras.utils.set_random_seed(0)

    def test_shapes_and_num_ws(self):
        for res, num_ws in ((16, 6), (32, 8)):
            for c_dim in (0, 3):
                with self.subTest(res=res, c_dim=c_dim):
                    g = tiny_generator(res, c_dim)
                    d = tiny_discriminator(res, c_dim)
                    self.assertEqual(g.num_ws, num_ws)  # 2 * log2(res) - 2
                    z = tf.random.normal([4, 32])
                    labels = tf.constant([0, 1, 2, 1])
                    ws = g.mapping(z, labels if c_dim else None)
                    self.assertEqual(ws.shape, (4, num_ws, 32))
                    images = g([z, labels] if c_dim else z)
                    self.assertEqual(images.shape, (4, res, res, 3))
                    self.assertEqual(images.dtype, tf.float32)
                    logits = d([images, labels] if c_dim else images)
                    self.assertEqual(logits.shape, (4, 1))
                    self.assertTrue(np.isfinite(logits.numpy()).all())

    def test_every_w_is_read(self):
        # The ws bookkeeping: block b reads num_conv + num_torgb ws from the sum of the
        # num_conv before it, so ToRGB shares its w with the next conv0 and the last ToRGB
        # reads the last w. Perturbing any single w must change the image.
        g = tiny_generator(16)
        ws = g.mapping(tf.random.normal([2, 32])).numpy()
        base = g.synthesis(ws, noise_mode="const").numpy()
        for k in range(g.num_ws):
            bumped = ws.copy()
            bumped[:, k] += 1.0
            out = g.synthesis(bumped, noise_mode="const").numpy()
            self.assertGreater(np.abs(out - base).max(), 1e-4, msg=f"w {k} unused")

    def test_architectures_num_ws(self):
        for arch in ("orig", "skip", "resnet"):
            synthesis = SynthesisNetwork(32, 32, architecture=arch, **TINY)
            self.assertEqual(synthesis.num_ws, 8, msg=arch)
            self.assertEqual(
                [b.num_torgb for b in synthesis.blocks],
                [1, 1, 1, 1] if arch == "skip" else [0, 0, 0, 1],
            )

    def test_fp16_blocks(self):
        g = tiny_generator(16, num_fp16_res=2, conv_clamp=256)
        d = tiny_discriminator(16, num_fp16_res=2, conv_clamp=256)
        images = g(tf.random.normal([2, 32]), training=True)
        self.assertEqual(images.dtype, tf.float32)
        self.assertEqual(d(images).dtype, tf.float32)
        self.assertTrue(np.isfinite(images.numpy()).all())
        self.assertEqual(g.synthesis.blocks[-1].conv1.compute_dtype, "float16")
        self.assertEqual(g.synthesis.blocks[0].conv1.compute_dtype, "float32")


class ParameterCountTest(tf.test.TestCase):
    """Trainable counts equal the official ones (noise_strength in, buffers out)."""

    def _counts(self, g, d):
        return (
            trainable_count(g.mapping),
            trainable_count(g.synthesis),
            trainable_count(g),
            trainable_count(d),
        )

    def test_paper256_and_config_f(self):
        # Counted from the official code (stylegan2-ada-pytorch networks.py): paper256 at 256 px
        # (G mapping 2.101 M, total 24.767 M, D 24.001 M) and config F at 1024 px
        # (G 30.370 M, D 29.013 M). Built symbolically: no forward pass.
        cases = [
            (256, 16384, (2_101_248, 22_666_210, 24_767_458, 24_001_089), 14),
            (1024, 32768, (2_101_248, 28_268_812, 30_370_060, 29_012_513), 18),
        ]
        for res, base, expected, num_ws in cases:
            with self.subTest(res=res):
                g = Generator(512, 0, 512, res, synthesis_kwargs={"channel_base": base})
                g.build()
                d = Discriminator(0, res, channel_base=base)
                d.build()
                self.assertEqual(self._counts(g, d), expected)
                self.assertEqual(g.num_ws, num_ws)
                # The non-trainable weights are exactly the official buffers: w_avg and
                # one noise_const per synthesis layer (no trainable copies).
                noise = sum(
                    b.resolution**2 * b.num_conv for b in g.synthesis.blocks
                )
                self.assertEqual(
                    int(sum(np.prod(v.shape) for v in g.non_trainable_weights)), 512 + noise
                )
                self.assertEqual(d.non_trainable_weights, [])

    def test_auto_mapping(self):
        # cfg=auto (map=2): G mapping 0.525 M (official count): 2 * (512 * 512 + 512).
        mapping = MappingNetwork(512, 0, 512, 14, num_layers=2)
        mapping.build()
        self.assertEqual(trainable_count(mapping), 525_312)

    def test_conditional_64px_by_hand(self):
        # Derived from training/networks.py (and confirmed by running it):
        # z = w = 32, c_dim = 4, 64 px, channel_base 1024, channel_max 64, G mapping 2 layers,
        # channels {4: 64, 8: 64, 16: 64, 32: 32, 64: 16}; dense = in*out + out.
        # G mapping: embed 4*32+32 = 160, fc0 (32+32)*32+32 = 2080, fc1 32*32+32 = 1056
        #   -> 3296.
        # Synthesis layer(in, out) = affine 32*in+in + 9*in*out + noise_strength 1 + out;
        # ToRGB(in) = 32*in+in + 3*in + 3.
        #   b4:  const 64*16 = 1024, conv1(64,64) 39041, torgb(64) 2307 -> 42372
        #   b8, b16: conv0(64,64) 39041 + conv1(64,64) 39041 + torgb 2307 -> 80389 each
        #   b32: conv0(64,32) 20577 + conv1(32,32) 10305 + torgb(32) 1155 -> 32037
        #   b64: conv0(32,16) 5681 + conv1(16,16) 2849 + torgb(16) 579 -> 9109
        #   synthesis 42372 + 2*80389 + 32037 + 9109 = 244296; G = 247592; num_ws = 10.
        # D (resnet): conv(in, out, k) = k*k*in*out + out; skip 1x1 without bias.
        #   b64: fromrgb 3*16+16 = 64, conv0 2320, conv1(16->32) 4640, skip 512 -> 7536
        #   b32: conv0 9248, conv1(32->64) 18496, skip 2048 -> 29792
        #   b16, b8: conv0 36928, conv1 36928, skip 4096 -> 77952 each
        #   epilogue: conv (64+1)*64*9+64 = 37504, fc 1024*64+64 = 65600,
        #     out 64*cmap(64)+64 = 4160 -> 107264
        #   label mapping (8 layers, cmap 64): embed 4*64+64 = 320, 8 * (64*64+64) = 33280
        #   D = 7536 + 29792 + 2*77952 + 107264 + 33600 = 334096.
        g = Generator(
            32, 4, 32, 64, mapping_kwargs={"num_layers": 2},
            synthesis_kwargs={"channel_base": 1024, "channel_max": 64},
        )
        g.build()
        d = Discriminator(4, 64, channel_base=1024, channel_max=64)
        d.build()
        self.assertEqual(self._counts(g, d), (3296, 244_296, 247_592, 334_096))
        self.assertEqual(g.num_ws, 10)
        self.assertEqual(
            [trainable_count(b) for b in g.synthesis.blocks], [42372, 80389, 80389, 32037, 9109]
        )
        self.assertEqual(trainable_count(d.epilogue), 107_264)
        self.assertEqual(trainable_count(d.mapping), 33_600)


def _official_key(prefix, path):
    """Our weight path -> the official state_dict key (`G.synthesis.b4.conv1.weight`)."""
    parts = path.split("/")[1:]
    if len(parts) >= 2 and parts[-2] == "noise":  # NoiseInjection is inline in the official
        parts = parts[:-2] + parts[-1:]
    return prefix + "." + ".".join(parts)


def _load_official_layout(net, prefix):
    """Fills every weight with N(0, 1) seeded by its official key, in the official layout
    (OIkk convs, [out, in] dense, CHW const), and converts to ours."""
    for w in net.weights:
        key = _official_key(prefix, w.path)
        shape = tuple(w.shape)
        if len(shape) == 4:
            official = (shape[3], shape[2], shape[0], shape[1])
        elif len(shape) == 3:
            official = (shape[2], shape[0], shape[1])
        elif len(shape) == 2 and not key.endswith("noise_const"):
            official = (shape[1], shape[0])
        else:
            official = shape
        x = np.random.RandomState(zlib.crc32(key.encode())).standard_normal(official)
        if ".mapping.fc" in key and key.endswith("weight"):
            x = x * 100.0  # stored N(0, 1) / lr_multiplier, as the official initialisation
        if len(shape) == 4:
            x = x.transpose(2, 3, 1, 0)
        elif len(shape) == 3:
            x = x.transpose(1, 2, 0)
        elif len(shape) == 2 and not key.endswith("noise_const"):
            x = x.T
        w.assign(x.astype(np.float32))


class OfficialAgreementTest(tf.test.TestCase):
    """Outputs of stylegan2-ada-pytorch (HEAD d72cc7d, torch 2.13 CPU, float32) for the same
    weights: G(z, c, truncation_psi=0.7, truncation_cutoff=4, noise_mode='const',
    fused_modconv=False) with z_dim = w_dim = 16, c_dim = 3, 16 px, channel_base 128,
    channel_max 16, conv_clamp 256, 2 mapping layers; D with mbstd group 2; every tensor
    of both state_dicts (buffers too) N(0, 1) from RandomState(crc32(key))."""

    def test_matches_official_outputs(self):
        g = Generator(
            16, 3, 16, 16, mapping_kwargs={"num_layers": 2},
            synthesis_kwargs={"channel_base": 128, "channel_max": 16, "conv_clamp": 256},
            name="G",
        )
        g.build()
        d = Discriminator(
            3, 16, channel_base=128, channel_max=16, conv_clamp=256, mbstd_group_size=2,
            name="D",
        )
        d.build()
        _load_official_layout(g, "G")
        _load_official_layout(d, "D")
        z = np.random.RandomState(7).standard_normal([4, 16]).astype(np.float32)
        labels = np.array([0, 1, 2, 1], np.int32)
        images = g([z, labels], psi=0.7, truncation_cutoff=4, noise_mode="const")
        self.assertAllClose(
            images[:, 5, 7, :],
            [
                [1.2732244, 1.5341463, 0.21011055],
                [-0.42739916, 1.8488696, 0.10596013],
                [0.60423636, -3.0342667, 2.7509203],
                [-2.146763, -1.0123329, -0.51413536],
            ],
            rtol=1e-4,
            atol=1e-5,
        )
        self.assertAllClose(
            tf.reduce_mean(images, axis=[1, 2, 3]),
            [1.3732982, -0.27934358, 0.02650001, -0.36065948],
            rtol=1e-4,
            atol=1e-5,
        )
        logits = d([images, labels])
        self.assertAllClose(
            logits[:, 0], [0.36376014, 0.6739288, -0.33169758, 0.91507816], rtol=1e-4, atol=1e-5
        )
        # Path lengths (loss.py) of the untruncated ws, and R1 of D on the images.
        ws = g.mapping(z, labels)
        pl_noise = np.random.RandomState(11).standard_normal([4, 16, 16, 3]) / 16.0
        lengths = path_lengths(
            lambda w: g.synthesis(w, noise_mode="const"), ws, tf.constant(pl_noise, tf.float32)
        )
        self.assertAllClose(lengths, [4.72008, 2.2459152, 3.0384583, 1.5070133], rtol=1e-4)
        with tf.GradientTape() as tape:
            tape.watch(images)
            total = tf.reduce_sum(d([images, labels]))
        r1 = tf.reduce_sum(tf.square(tape.gradient(total, images)), axis=[1, 2, 3])
        self.assertAllClose(
            r1, [1.2226088e-04, 2.3015612e-03, 3.5508092e-05, 2.3201595e-03], rtol=1e-3
        )


class MappingTest(tf.test.TestCase):
    def setUp(self):
        super().setUp()
        keras.utils.set_random_seed(0)
        self.mapping = MappingNetwork(8, 0, 8, 4, num_layers=2)
        self.mapping.build()

    def test_normalize_2nd_moment(self):
        x = np.random.default_rng(0).normal(size=[3, 5]).astype(np.float32)
        expected = x / np.sqrt(np.mean(x**2, axis=1, keepdims=True) + 1e-8)
        self.assertAllClose(normalize_2nd_moment(x), expected, rtol=1e-5)
        z = tf.random.normal([2, 8])
        # z is normalised first, so its scale does not matter.
        self.assertAllClose(self.mapping(z), self.mapping(3.0 * z), rtol=1e-4, atol=1e-5)

    def test_label_embedding(self):
        mapping = MappingNetwork(8, 3, 8, None, num_layers=1)
        mapping.build()
        z = tf.random.normal([3, 8])
        one_hot = tf.one_hot([0, 2, 1], 3)
        labels = np.array([0, 2, 1])
        self.assertAllClose(mapping(z, labels), mapping(z, one_hot))
        self.assertNotAllClose(mapping(z, labels), mapping(z, np.array([1, 1, 1])))
        # Label-only mapping (the discriminator's): z_dim = 0.
        label_only = MappingNetwork(0, 3, 8, None, w_avg_beta=None)
        self.assertEqual(label_only(None, np.array([0, 2])).shape, (2, 8))

    def test_w_avg_update(self):
        z = tf.random.normal([4, 8])
        self.mapping(z, training=False)
        self.assertAllEqual(self.mapping.w_avg, np.zeros(8))
        self.mapping(z, skip_w_avg_update=True, training=True)
        self.assertAllEqual(self.mapping.w_avg, np.zeros(8))
        ws = self.mapping(z, training=True).numpy()
        # lerp(mean(w), w_avg = 0, 0.995) = 0.005 * mean(w).
        self.assertAllClose(self.mapping.w_avg, 0.005 * ws[:, 0].mean(axis=0), rtol=1e-5)
        before = self.mapping.w_avg.numpy()
        self.mapping(z, training=True)
        mean = ws[:, 0].mean(axis=0)
        self.assertAllClose(self.mapping.w_avg, mean + (before - mean) * 0.995, rtol=1e-5)

    def test_truncation(self):
        self.mapping.w_avg.assign(np.arange(8, dtype=np.float32))
        z = tf.random.normal([3, 8])
        ws = self.mapping(z).numpy()
        self.assertAllClose(self.mapping(z, psi=1.0), ws)
        zero = self.mapping(z, psi=0.0).numpy()
        self.assertAllClose(zero, np.broadcast_to(np.arange(8.0), (3, 4, 8)))
        half = self.mapping(z, psi=0.5, truncation_cutoff=2).numpy()
        self.assertAllClose(half[:, :2], 0.5 * (ws[:, :2] + np.arange(8.0)), rtol=1e-5)
        self.assertAllClose(half[:, 2:], ws[:, 2:])  # only the first `cutoff` ws move

    def test_bad_arguments(self):
        with self.assertRaisesRegex(ValueError, "w_dim"):
            MappingNetwork(8, 0, 0, 4)
        with self.assertRaisesRegex(ValueError, "both be 0"):
            MappingNetwork(0, 0, 8, 4)
        no_avg = MappingNetwork(8, 0, 8, 4, w_avg_beta=None)
        with self.assertRaisesRegex(ValueError, "Truncation needs"):
            no_avg(tf.zeros([1, 8]), psi=0.5)
        with self.assertRaisesRegex(ValueError, "architecture"):
            SynthesisNetwork(32, 16, architecture="unet")
        with self.assertRaisesRegex(ValueError, "img_resolution"):
            SynthesisNetwork(32, 24)
        with self.assertRaisesRegex(ValueError, "conditional"):
            tiny_generator(16, c_dim=3)(tf.zeros([1, 32]))


class NoiseAndConfigTest(tf.test.TestCase):
    def setUp(self):
        super().setUp()
        keras.utils.set_random_seed(0)

    def test_noise_modes(self):
        g = tiny_generator(16)
        for w in g.weights:
            if w.path.endswith("noise_strength"):
                w.assign(1.0)
        z = tf.random.normal([2, 32])
        const_a = g(z, noise_mode="const").numpy()
        self.assertAllEqual(const_a, g(z, noise_mode="const").numpy())
        random_a = g(z, noise_mode="random").numpy()
        self.assertGreater(np.abs(random_a - g(z, noise_mode="random").numpy()).max(), 1e-3)
        self.assertGreater(np.abs(const_a - g(z, noise_mode="none").numpy()).max(), 1e-3)
        with self.assertRaisesRegex(ValueError, "noise_mode"):
            g(z, noise_mode="fixed")

    def test_config_round_trips(self):
        g = tiny_generator(16, c_dim=3)
        g2 = Generator.from_config(g.get_config())
        g2.build()
        self.assertEqual(trainable_count(g2), trainable_count(g))
        d = tiny_discriminator(16, c_dim=3, cmap_dim=8)
        d2 = Discriminator.from_config(d.get_config())
        d2.build()
        self.assertEqual(trainable_count(d2), trainable_count(d))
        mapping = g.mapping
        self.assertEqual(
            MappingNetwork.from_config(mapping.get_config()).get_config(), mapping.get_config()
        )
        gan = StyleGAN2(
            resolution=16, z_dim=16, w_dim=16, num_classes=2, mapping_layers=1,
            truncation_cutoff=3, seed=5, **TINY,
        )
        self.assertEqual(StyleGAN2.from_config(gan.get_config()).get_config(), gan.get_config())


class PresetTest(tf.test.TestCase):
    def test_auto_formulas(self):
        # train.py: mb = max(min(gpus * min(4096 // res, 32), 64), gpus), mbstd =
        # min(mb // gpus, 4), fmaps = 1 if res >= 512 else 0.5, lrate = 0.002 if res >= 1024
        # else 0.0025, gamma = 0.0002 * res**2 / mb, ema = mb * 10 / 32, map 2, ramp 0.05.
        p = resolve_preset("auto", 256)
        self.assertEqual(
            (p["batch"], p["mbstd_group_size"], p["channel_base"], p["mapping_layers"]),
            (16, 4, 16384, 2),
        )
        self.assertAllClose([p["lrate"], p["r1_gamma"], p["ema_kimg"]], [0.0025, 0.8192, 5.0])
        self.assertEqual(p["ema_rampup"], 0.05)
        p = resolve_preset("auto", 1024, num_gpus=4)
        self.assertEqual((p["batch"], p["mbstd_group_size"], p["channel_base"]), (16, 4, 32768))
        self.assertAllClose([p["lrate"], p["r1_gamma"], p["ema_kimg"]], [0.002, 13.1072, 5.0])
        p = resolve_preset("auto", 32, num_gpus=8)  # min(8 * 32, 64) = 64
        self.assertEqual((p["batch"], p["mbstd_group_size"]), (64, 4))
        self.assertAllClose(p["r1_gamma"], 0.0002 * 32**2 / 64)

    def test_fixed_presets(self):
        expected = {
            "stylegan2": (32, 4, 32768, 0.002, 10.0, 10.0, None, 8),
            "paper256": (64, 8, 16384, 0.0025, 1.0, 20.0, None, 8),
            "paper512": (64, 8, 32768, 0.0025, 0.5, 20.0, None, 8),
            "paper1024": (32, 4, 32768, 0.002, 2.0, 10.0, None, 8),
        }
        for name, values in expected.items():
            p = resolve_preset(name, 256)
            got = tuple(
                p[k] for k in (
                    "batch", "mbstd_group_size", "channel_base", "lrate", "r1_gamma",
                    "ema_kimg", "ema_rampup", "mapping_layers",
                )
            )
            self.assertEqual(got, values, msg=name)
            self.assertEqual(
                (p["betas"], p["conv_clamp"], p["channel_max"]), ((0.0, 0.99), 256, 512)
            )
            self.assertEqual((p["r1_interval"], p["pl_interval"], p["pl_weight"]), (16, 4, 2.0))
        self.assertIn("cpu_tiny", PRESETS)
        tiny = resolve_preset("cpu_tiny", 64)
        self.assertEqual((tiny["channel_base"], tiny["channel_max"], tiny["mapping_layers"]),
                         (4096, 128, 2))
        model_kwargs, compile_kwargs = split_preset(tiny)
        self.assertEqual(set(compile_kwargs), {"r1_gamma", "r1_interval", "pl_weight",
                                               "pl_interval"})
        self.assertEqual(model_kwargs["resolution"], 64)

    def test_batch_override_and_errors(self):
        p = resolve_preset("paper256", 256, batch=16, num_gpus=2)
        self.assertEqual(p["batch"], 16)
        self.assertEqual(p["r1_gamma"], 1.0)  # gamma and ema keep the preset's mb
        with self.assertRaisesRegex(ValueError, "divisible by num_gpus"):
            resolve_preset("paper256", 256, batch=9, num_gpus=2)
        with self.assertRaisesRegex(ValueError, "minibatch-stddev"):
            resolve_preset("paper256", 256, batch=12)  # group 8 does not divide 12
        with self.assertRaisesRegex(ValueError, "name"):
            resolve_preset("paper2048", 256)
        with self.assertRaisesRegex(ValueError, "resolution"):
            resolve_preset("auto", 100)


if __name__ == "__main__":
    tf.test.main()
