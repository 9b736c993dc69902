"""Tests of mixing across generators and classes (tfdisgan.mixing): splits by resolution,
cross-domain mixing both ways, class mixing, layer swapping, --cross_mix training and
scripts/style_mix.py with two networks."""

import dataclasses
import json
import math
import os
import shutil
import tempfile

import numpy as np
import tensorflow as tf

from tests.fixtures import run_script
from tests.runs.harness import changed, max_difference, read_log, training_values
from tfdisgan import export, mixing, training
from tfdisgan.data import describe
from tfdisgan.models.stylegan2 import SynthesisNetwork

RES = 32
CLASSES = ("building_fire", "wildfire", "earthquake", "flood")  # procedural, by id
SG2 = dict(data="procedural:64", resolution=RES, model="stylegan2", cfg="cpu_tiny", z_dim=32,
           w_dim=32, channel_base=256, channel_max=32, mapping_layers=2, batch=4,
           conditional=True, augment="none", steps=1, showcase=False)


def _run_config(outdir, **overrides):
    config = training.TrainConfig(outdir=outdir, **{**SG2, **overrides})
    config, _, num_classes = training.validate(config, describe(config.data))
    return config, num_classes


def _model(config, num_classes, seed):
    """A tiny conditional StyleGAN2 (weights from `seed`), trained-looking w_avg."""
    config = dataclasses.replace(config, seed=seed)
    model, _ = training.build_model(config, num_classes, tf.distribute.get_strategy())
    rng = np.random.default_rng(seed)
    for net in (model.generator, model.generator_ema):
        net.mapping.w_avg.assign(rng.normal(size=[32]).astype(np.float32))
    return model


def _copy(model):
    clone = type(model).from_config(model.get_config())
    for attr in ("generator", "generator_ema", "discriminator"):
        for a, b in zip(getattr(model, attr).weights, getattr(clone, attr).weights,
                        strict=True):
            b.assign(a)
    return clone


class SplitTest(tf.test.TestCase):
    def test_parse_split_forms(self):
        for text in ("8", "4-8", "4-8,16-512", " 4-8 , 16-32 "):
            with self.subTest(text=text):
                split = mixing.parse_split(text, RES)
                self.assertEqual((split.a, split.b), ((4, 8), (16, 32)))
                self.assertEqual(split.a_layers, [0, 1, 2, 3])
                self.assertEqual(split.b_layers, [4, 5, 6, 7])
        split = mixing.parse_split("16-512,4-8", RES)  # A fine, B coarse
        self.assertEqual((split.a, split.b), ((16, 32), (4, 8)))
        split = mixing.parse_split("16", 64)  # A 4-16, B 32-64
        self.assertEqual((split.a_layers, split.b_layers), ([0, 1, 2, 3, 4, 5], [6, 7, 8, 9]))
        self.assertEqual(mixing.parse_split(8, 256).stem(), "a4-8_b16-256")
        self.assertEqual(mixing.parse_split(8, 256).describe("B", "A"), "B 4-8 px + A 16-256 px")

    def test_parse_split_errors_name_the_flag(self):
        cases = [("7", RES, "powers of two"), ("8-4", RES, "ends before it starts"),
                 ("32", RES, "leaves no resolution to B"), ("4-8,8-16", RES, "8 px is in both"),
                 ("4-8,32-64", 64, "16 px is in neither range"),
                 ("64-128", RES, "holds no block"), ("abc", RES, "expected"),
                 ("4,8,16", RES, "expected"), ("", RES, "expected"), ("2", RES, "powers")]
        for text, res, message in cases:
            with self.subTest(text=text), self.assertRaisesRegex(ValueError,
                                                                 f"--split.*{message}"):
                mixing.parse_split(text, res)

    def test_resolution_layers_follow_the_synthesis_bookkeeping(self):
        for res in (16, 32, 256):
            synthesis = SynthesisNetwork(w_dim=8, img_resolution=res, channel_base=64 * res,
                                         channel_max=8)
            layers = [mixing.resolution_layers(r, res) for r in synthesis.block_resolutions]
            flat = [i for pair in layers for i in pair]
            self.assertEqual(flat, list(range(synthesis.num_ws)))  # each index once, in order
            # SynthesisNetwork.call: block b reads ws[w_idx : w_idx + num_conv + num_torgb],
            # w_idx the sum of the earlier blocks' num_conv.
            w_idx = 0
            for block, (first, second) in zip(synthesis.blocks, layers, strict=True):
                reads = list(range(w_idx, w_idx + block.num_conv + block.num_torgb))
                self.assertEqual(reads[block.num_conv - 1], first)  # conv1
                self.assertEqual(reads[-1], second)                  # ToRGB
                if block.conv0 is not None:                          # conv0: previous res
                    self.assertEqual(reads[0], first - 1)
                w_idx += block.num_conv
        with self.assertRaisesRegex(ValueError, "12 px is not a block"):
            mixing.resolution_layers(12, RES)


class CrossDomainTest(tf.test.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        config, num_classes = _run_config(tempfile.gettempdir())
        cls.model_a = _model(config, num_classes, seed=1)
        cls.model_b = _model(config, num_classes, seed=2)
        cls.view_a = mixing.GeneratorView(cls.model_a, class_names=CLASSES)
        cls.view_b = mixing.GeneratorView(cls.model_b, class_names=CLASSES)

    def test_b_a_copy_of_a_equals_single_model_style_mixing(self):
        copy = _copy(self.model_a)
        mix = mixing.cross_domain_mix(self.model_a, copy, [0, 1], [5, 6], "8", class_a=0,
                                      class_b=0)
        single = mixing.style_mixing_grid(self.model_a, [0, 1], [5, 6], "0-3", row_class=0,
                                          col_class=0)
        self.assertAllEqual(mix.forward.mixed, single.mixed)
        self.assertAllEqual(mix.forward.image, single.image)
        self.assertAllEqual(mix.reverse.mixed, single.mixed)
        gap = max(2, single.image.shape[0] // 16)
        self.assertEqual(mix.image.shape[1], 2 * single.image.shape[1] + gap)  # side by side
        self.assertAllEqual(mix.image[:, -single.image.shape[1]:], single.image)

    def test_split_takes_a_coarse_and_b_fine_styles_both_ways(self):
        mix = mixing.cross_domain_mix(self.view_a, self.view_b, [0, 1], [5], "4-8,16-512",
                                      class_a="earthquake", class_b="building_fire")
        ws_a_cols = self.view_a.ws_from_z(self.view_a.z_from_seeds([5]), 2)
        ws_b_rows = self.view_b.ws_from_z(self.view_b.z_from_seeds([0, 1]), 0)
        fwd = mix.forward.mixed_ws
        self.assertAllEqual(fwd[:, 0, :4], np.repeat(ws_a_cols[:, :4], 2, 0))
        self.assertAllEqual(fwd[:, 0, 4:], ws_b_rows[:, 4:])
        rev = mix.reverse.mixed_ws
        ws_b_cols = self.view_b.ws_from_z(self.view_b.z_from_seeds([5]), 0)
        ws_a_rows = self.view_a.ws_from_z(self.view_a.z_from_seeds([0, 1]), 2)
        self.assertAllEqual(rev[:, 0, :4], np.repeat(ws_b_cols[:, :4], 2, 0))
        self.assertAllEqual(rev[:, 0, 4:], ws_a_rows[:, 4:])
        # render="b" (default): B's synthesis draws both directions' cells.
        self.assertAllEqual(mix.forward.mixed[:, 0], self.view_b.images_from_ws(fwd[:, 0]))
        self.assertAllEqual(mix.reverse.mixed[:, 0], self.view_b.images_from_ws(rev[:, 0]))
        self.assertEqual(mix.stems, ("a4-8_b16-32", "b4-8_a16-32"))
        self.assertNotAllEqual(mix.forward.mixed, mix.reverse.mixed)

    def test_render_choice(self):
        common = dict(class_a=2, class_b=0)
        for render, fwd_view, rev_view in (("a", self.view_a, self.view_a),
                                           ("fine", self.view_b, self.view_a)):
            with self.subTest(render=render):
                mix = mixing.cross_domain_mix(self.view_a, self.view_b, [3], [4], "8",
                                              render=render, **common)
                # Other batch compositions: Eigen's CPU kernels (no oneDNN) may round a
                # pixel to the next uint8 level.
                self.assertAllClose(
                    np.int32(mix.forward.mixed[:, 0]),
                    np.int32(fwd_view.images_from_ws(mix.forward.mixed_ws[:, 0])), atol=1, rtol=0)
                self.assertAllClose(
                    np.int32(mix.reverse.mixed[:, 0]),
                    np.int32(rev_view.images_from_ws(mix.reverse.mixed_ws[:, 0])), atol=1, rtol=0)
        with self.assertRaisesRegex(ValueError, "render"):
            mixing.cross_domain_mix(self.view_a, self.view_b, [3], [4], "8", render="c",
                                    **common)

    def test_sweeps_both_directions(self):
        fwd, rev = mixing.cross_domain_sweeps(self.view_a, self.view_b, [0], [1], class_a=2,
                                              class_b=0)
        self.assertEqual(fwd.shape, (9, 2 * RES, 2 * RES, 3))
        self.assertEqual(rev.shape, fwd.shape)
        # Last frame: every layer from the columns (A forward): A's column image.
        self.assertAllEqual(fwd[-1, RES:, RES:], fwd[-1, :RES, RES:])

    def test_class_mixing_same_z(self):
        mix = mixing.class_mix(self.view_a, [0, 1, 2], "earthquake", "building_fire", "8")
        z = self.view_a.z_from_seeds([0, 1, 2])
        ws_a = self.view_a.ws_from_z(z, 2)
        ws_b = self.view_a.ws_from_z(z, 0)
        self.assertAllEqual(mix.forward_ws[:, :4], ws_a[:, :4])
        self.assertAllEqual(mix.forward_ws[:, 4:], ws_b[:, 4:])
        self.assertAllEqual(mix.reverse_ws[:, :4], ws_b[:, :4])
        self.assertAllEqual(mix.reverse_ws[:, 4:], ws_a[:, 4:])
        self.assertAllEqual(mix.a_images, self.view_a.images_from_seeds([0, 1, 2], 2))
        self.assertAllEqual(mix.forward, self.view_a.images_from_ws(mix.forward_ws))
        self.assertEqual(mix.image.shape, (4 * RES, 3 * RES, 3))
        self.assertAllEqual(mix.image[2 * RES : 3 * RES, :RES], mix.forward[0])
        with self.assertRaisesRegex(ValueError, "Unknown class 'volcano'"):
            mixing.class_mix(self.view_a, [0], "volcano", 0, "8")

    def test_mismatched_networks_are_refused(self):
        config, num_classes = _run_config(tempfile.gettempdir(), resolution=16)
        small = _model(config, num_classes, seed=3)
        with self.assertRaisesRegex(ValueError, "different resolutions"):
            mixing.cross_domain_mix(self.view_a, small, [0], [1], "8", class_a=0, class_b=0)


class LayerSwapTest(tf.test.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        config, num_classes = _run_config(tempfile.gettempdir())
        cls.model_a = _model(config, num_classes, seed=1)
        cls.model_b = _model(config, num_classes, seed=2)

    def _blocks(self, model, attr="generator_ema"):
        synthesis = getattr(model, attr).synthesis
        return {r: getattr(synthesis, f"b{r}") for r in synthesis.block_resolutions}

    def test_hard_swap_is_a_below_and_b_above_per_layer(self):
        swapped = mixing.swap_layers(self.model_a, self.model_b, 8)
        for attr in ("generator", "generator_ema"):
            a, b, s = (self._blocks(m, attr) for m in (self.model_a, self.model_b, swapped))
            for res in (4, 8, 16, 32):
                source = a if res <= 8 else b
                other = b if res <= 8 else a
                for ws, wsrc, wother in zip(s[res].weights, source[res].weights,
                                            other[res].weights, strict=True):
                    with self.subTest(attr=attr, res=res, weight=ws.path):
                        self.assertAllEqual(ws, wsrc)
                        if wsrc.trainable and np.asarray(wsrc).std() > 0:
                            self.assertNotAllEqual(ws, wother)
        # Mapping (with w_avg) and discriminator from A by default, from B on request.
        for wa, ws in zip(self.model_a.generator_ema.mapping.weights,
                          swapped.generator_ema.mapping.weights, strict=True):
            self.assertAllEqual(ws, wa)
        self.assertAllEqual(swapped.discriminator.weights[0], self.model_a.discriminator.weights[0])
        from_b = mixing.swap_layers(self.model_a, self.model_b, 8, mapping="b")
        self.assertAllEqual(from_b.generator_ema.mapping.w_avg,
                            self.model_b.generator_ema.mapping.w_avg)
        self.assertAllEqual(from_b.generator_ema.synthesis.b4.const,
                            self.model_a.generator_ema.synthesis.b4.const)
        self.assertEqual(swapped.swap_info["alpha"], {"4": 0.0, "8": 0.0, "16": 1.0, "32": 1.0})

    def test_smooth_blend_weights(self):
        for mode in ("smooth", "linear"):
            for width in (0.5, 1.0, 2.5):
                alphas = mixing.swap_blend(64, 16, mode, width)
                values = [alphas[r] for r in (4, 8, 16, 32, 64)]
                with self.subTest(mode=mode, width=width):
                    self.assertEqual(values, sorted(values))  # monotone in the resolution
                    self.assertLess(alphas[16], 0.5)
                    self.assertGreater(alphas[32], 0.5)
                    self.assertTrue(all(0 <= v <= 1 for v in values))
        self.assertEqual(mixing.swap_blend(64, 16, "linear", 1.0),
                         mixing.swap_blend(64, 16, "hard"))
        self.assertAlmostEqual(mixing.swap_blend(64, 16, "smooth", 1.0)[16],
                               1 / (1 + math.exp(0.5)))
        for args, message in (((64, 64), "below the top"), ((64, 12), "below the top"),
                              ((64, 16, "soft"), "mode"), ((64, 16, "smooth", 0), "width")):
            with self.subTest(args=args), self.assertRaisesRegex(ValueError, message):
                mixing.swap_blend(*args)

    def test_smooth_swap_blends_each_weight(self):
        swapped = mixing.swap_layers(self.model_a, self.model_b, 8, mode="smooth", width=1.0)
        alphas = mixing.swap_blend(RES, 8, "smooth", 1.0)
        a, b, s = (self._blocks(m) for m in (self.model_a, self.model_b, swapped))
        for res, alpha in alphas.items():
            for ws, wa, wb in zip(s[res].weights, a[res].weights, b[res].weights, strict=True):
                with self.subTest(res=res, weight=ws.path):
                    if ws.trainable:
                        self.assertAllClose(ws, (1 - alpha) * np.asarray(wa)
                                            + alpha * np.asarray(wb), atol=1e-6)
                    else:  # noise buffers: the larger share's, never averaged
                        self.assertAllEqual(ws, wa if alpha < 0.5 else wb)

    def test_swap_refuses_other_architectures(self):
        config, num_classes = _run_config(tempfile.gettempdir(), channel_base=512)
        wide = _model(config, num_classes, seed=4)
        with self.assertRaisesRegex(ValueError, "same synthesis architecture.*b16"):
            mixing.swap_layers(self.model_a, wide, 8)
        with self.assertRaisesRegex(ValueError, "mapping"):
            mixing.swap_layers(self.model_a, self.model_b, 8, mapping="c")


class ScriptTest(tf.test.TestCase):
    """scripts/style_mix.py with two run folders: both directions and a layer swap."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.root = tempfile.mkdtemp(prefix="tfdisgan-cross-mix-test-")
        config, num_classes = _run_config(cls.root)
        cls.runs = []
        for seed in (1, 2):
            model = _model(config, num_classes, seed)
            stored = dataclasses.asdict(dataclasses.replace(config, seed=seed))
            path = os.path.join(cls.root, f"0000{seed}-sg2")
            mixing.write_run(model, path, stored, class_names=CLASSES)
            cls.runs.append((path, model))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.root, ignore_errors=True)
        super().tearDownClass()

    def _script(self, *args):
        return run_script("style_mix.py", *args, timeout=300)

    def test_write_run_round_trip(self):
        path, model = self.runs[0]
        view = export.load_network(path)
        self.assertEqual(view.class_names, CLASSES)
        expected = mixing.GeneratorView(model).images_from_seeds([0, 1], 2)
        self.assertAllEqual(view.images_from_seeds([0, 1], 2), expected)
        with self.assertRaises(FileExistsError):
            mixing.write_run(model, path, {})

    def test_both_directions_and_swap(self):
        (path_a, model_a), (path_b, model_b) = self.runs
        out = os.path.join(self.root, "out")
        swap = os.path.join(self.root, "swapped")
        result = self._script(f"--network_a={path_a}", f"--network_b={path_b}", "--split=8",
                              "--rows=0,1", "--cols=2", "--class_a=earthquake",
                              "--class_b=building_fire", f"--outdir={out}",
                              f"--swap_out={swap}", "--swap_mode=hard")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("A 4-8 px + B 16-32 px", result.stdout)
        self.assertIn("B 4-8 px + A 16-32 px", result.stdout)
        files = sorted(os.listdir(out))
        self.assertEqual(files, ["both_directions.png", "mix_a4-8_b16-32.gif",
                                 "mix_a4-8_b16-32.png", "mix_b4-8_a16-32.gif",
                                 "mix_b4-8_a16-32.png", "same_z.png"])
        from PIL import Image

        mix = mixing.cross_domain_mix(model_a, model_b, [0, 1], [2], "8", class_a=2,
                                      class_b=0)
        with Image.open(os.path.join(out, "mix_a4-8_b16-32.png")) as image:
            self.assertAllEqual(np.asarray(image), mix.forward.image)
        with Image.open(os.path.join(out, "mix_b4-8_a16-32.png")) as image:
            self.assertAllEqual(np.asarray(image), mix.reverse.image)
        # The swapped generator loads as --network and equals swap_layers'.
        with open(os.path.join(swap, "swap.json"), encoding="utf-8") as handle:
            self.assertEqual(json.load(handle)["alpha"]["16"], 1.0)
        loaded = export.load_network(swap)
        expected = mixing.GeneratorView(mixing.swap_layers(model_a, model_b, 8))
        self.assertAllEqual(loaded.images_from_seeds([0, 1], 1),
                            expected.images_from_seeds([0, 1], 1))

    def test_a_real_photo_on_fire(self):
        # "This real building, on fire": a photo the generators never made (a built-in
        # scene) is projected into A, then mixed with B's seeds both ways, swept, and
        # rendered by the layer-swapped generator, in one command.
        (path_a, model_a), (path_b, model_b) = self.runs
        from PIL import Image

        from tfdisgan.data import procedural

        photo = os.path.join(self.root, "building.png")
        Image.fromarray(procedural.generate(8, 64, seed=7)[0][2]).save(photo)
        out = os.path.join(self.root, "photo_out")
        swap = os.path.join(self.root, "photo_swap")
        result = self._script(f"--network_a={path_a}", f"--network_b={path_b}", "--split=8",
                              f"--photo={photo}", "--project_steps=5", "--rows=0,1",
                              "--cols=2", "--class_a=earthquake", "--class_b=building_fire",
                              f"--outdir={out}", f"--swap_out={swap}")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("Projected", result.stdout)
        self.assertEqual(sorted(os.listdir(out)), [
            "both_directions.png", "mix_a4-8_b16-32.gif", "mix_a4-8_b16-32.png",
            "mix_b4-8_a16-32.gif", "mix_b4-8_a16-32.png", "photo_swapped.png", "projection"])
        self.assertTrue(os.path.isfile(os.path.join(out, "projection", "proj.png")))
        ws = np.load(os.path.join(out, "projection", "projected_w.npz"))["w"]
        self.assertEqual(ws.shape, (1, model_a.generator.num_ws, 32))
        # The figures are the photo's styles mixed with B's seeds: forward, the photo is
        # the one column (B's rows 0 and 1 take its 4-8 px styles); reverse, the one row.
        mix = mixing.cross_domain_mix(model_a, model_b, [0, 1], [2], "8", class_a=2,
                                      class_b=0, ws_a=ws)
        self.assertEqual(mix.forward.mixed.shape[:2], (2, 1))
        self.assertEqual(mix.reverse.mixed.shape[:2], (1, 1))
        for stem, figure in (("a4-8_b16-32", mix.forward), ("b4-8_a16-32", mix.reverse)):
            with Image.open(os.path.join(out, f"mix_{stem}.png")) as image:
                self.assertAllEqual(np.asarray(image), figure.image)
        # (--render=b: B's synthesis draws every cell of both figures, the photo's too)
        self.assertAllEqual(mix.forward.col_images[0],
                            mixing.GeneratorView(model_b).images_from_ws(ws)[0])
        self.assertAllEqual(mix.reverse.row_images[0], mix.forward.col_images[0])
        # The layer-swapped generator renders the photo's styles on the right.
        swapped = mixing.GeneratorView(mixing.swap_layers(model_a, model_b, 8))
        with Image.open(os.path.join(out, "photo_swapped.png")) as image:
            left, right = np.asarray(image)[:, :RES], np.asarray(image)[:, -RES:]
        self.assertAllEqual(left, mixing.GeneratorView(model_a).images_from_ws(ws)[0])
        self.assertAllEqual(right, swapped.images_from_ws(ws)[0])
        result = self._script(f"--network={path_a}", f"--photo={photo}",
                              f"--outdir={self.root}/bad")
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn("--photo/--photo_w mix a real photo across two generators",
                      result.stderr)

    def test_flag_errors(self):
        path_a = self.runs[0][0]
        for args, message in (
            ([f"--network_a={path_a}"], "needs both --network_a and --network_b"),
            ([f"--network={path_a}", "--class_a=0"], "needs both --class_a and --class_b"),
        ):  # (bad --split values: SplitTest; each run here costs a TensorFlow start)
            with self.subTest(args=args):
                result = self._script(*args, f"--outdir={self.root}/bad")
                self.assertEqual(result.returncode, 2, result.stderr)
                self.assertIn(message, result.stderr)


class CrossMixTrainingTest(tf.test.TestCase):
    def test_parse_cross_mix(self):
        spec = mixing.parse_cross_mix("earthquake:building_fire@16-32", RES, 4, CLASSES, 0.25)
        self.assertEqual((spec.class_a, spec.class_b, spec.b_layers, spec.prob),
                         (2, 0, (4, 5, 6, 7), 0.25))
        self.assertEqual(mixing.parse_cross_mix("1:3@8", 64, 4).b_layers, (2, 3))
        cases = [("earthquake-building_fire@16-32", 4, "CLASS_A:CLASS_B@LO-HI"),
                 ("volcano:flood@16-32", 4, "Unknown class 'volcano'"),
                 ("flood:flood@16", 4, "the same class"),
                 ("0:1@16", 0, "conditional"),
                 ("0:1@12-32", 4, "powers of two"),
                 ("0:1@4-32", 4, "nothing would come from class A"),
                 ("0:1@64-128", 4, "holds no block")]
        for text, num_classes, message in cases:
            with self.subTest(text=text), self.assertRaisesRegex(ValueError, message):
                mixing.parse_cross_mix(text, RES, num_classes, CLASSES)
        with self.assertRaisesRegex(ValueError, "not among the trained --classes"):
            mixing.parse_cross_mix("0:1@16", RES, 4, CLASSES, allowed=(0, 2))

    def test_validate_names_the_flag(self):
        outdir = tempfile.gettempdir()
        info = describe("procedural:64")
        cases = [(dict(cross_mix="earthquake:volcano@16"), "--cross_mix: Unknown class"),
                 (dict(cross_mix="2:0@16", conditional=False), "--cross_mix: needs --cond"),
                 (dict(cross_mix="2:0@16", cross_mix_prob=1.5), "--cross_mix_prob"),
                 (dict(cross_mix="2:0@64-128"), "--cross_mix: .*holds no block"),
                 (dict(cross_mix="2:0@16", classes=("earthquake", "flood")),
                  "--cross_mix: class B"),
                 (dict(cross_mix="2:0@16", model="dcgan", cfg=None, z_dim=None, w_dim=None,
                       channel_base=None, channel_max=None, mapping_layers=None),
                  "--cross_mix: needs --model=stylegan2")]
        for overrides, message in cases:
            with self.subTest(overrides=overrides):
                config = training.TrainConfig(outdir=outdir, **{**SG2, **overrides})
                with self.assertRaisesRegex(training.ConfigError, message):
                    training.validate(config, info)
        config = training.TrainConfig(outdir=outdir, **{**SG2, "cross_mix": "2:0@16-32"})
        self.assertEqual(training.validate(config, info)[0].cross_mix, "2:0@16-32")

    def test_g_step_ws_take_a_coarse_and_b_in_the_range(self):
        config, num_classes = _run_config(tempfile.gettempdir())
        model = _model(config, num_classes, seed=1)
        model.style_mixing_prob = 0.0  # unmixed rows: exactly the mapping of their label
        spec = mixing.parse_cross_mix("earthquake:building_fire@16-32", RES, 4, CLASSES)
        z = tf.random.stateless_normal([4, 32], seed=[1, 2])
        labels = tf.constant([3, 1, 3, 2])
        rows = tf.constant([True, False, True, False])
        ws, d_labels = spec.mixed_ws(model, z, labels, rows)
        mapping = model.generator.mapping
        ws_a = mapping(z, tf.fill([4], 2), training=False).numpy()
        ws_b = mapping(z, tf.fill([4], 0), training=False).numpy()
        own = mapping(z, labels, training=False).numpy()
        ws = ws.numpy()
        for row in (0, 2):
            self.assertAllClose(ws[row, :4], ws_a[row, :4], atol=1e-6)
            self.assertAllClose(ws[row, 4:], ws_b[row, 4:], atol=1e-6)
        for row in (1, 3):
            self.assertAllClose(ws[row], own[row], atol=1e-6)
        self.assertAllEqual(d_labels, [0, 1, 0, 2])
        self.assertAllEqual(mixing.cross_mix_ws(ws_a, ws_b, spec.layer_mask(8))[:, 4:],
                            ws_b[:, 4:])
        share = spec.sample_rows(model, 4000).numpy().mean()
        self.assertAllClose(share, 0.5, atol=0.04)


class CrossMixRunTest(tf.test.TestCase):
    """--cross_mix through `training.run`: three runs, same seed and steps, differing only in
    --cross_mix / --cross_mix_prob (R1 and path length off: less to trace)."""

    STEPS = 2
    CROSS_MIX = "earthquake:building_fire@8-16"  # B's styles at 8-16 px, A's at 4 px

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.root = tempfile.mkdtemp(prefix="tfdisgan-cross-mix-run-")
        cls.runs, model = {}, None
        for name, overrides in (("off", dict(cross_mix="")),
                                ("prob0", dict(cross_mix=cls.CROSS_MIX, cross_mix_prob=0.0)),
                                ("prob05", dict(cross_mix=cls.CROSS_MIX, cross_mix_prob=0.5))):
            config = training.TrainConfig(
                outdir=cls.root, run_name=name,
                **{**SG2, "data": "procedural:16", "resolution": 16, "channel_base": 128,
                   "channel_max": 16, "z_dim": 16, "w_dim": 16, "mapping_layers": 1,
                   "steps": cls.STEPS, "batch": 4, "tick_kimg": 0.004, "grid_seeds": 4,
                   "pl_weight": 0.0, "r1_gamma": 0.0, **overrides})
            run_dir = training.run(config, verbose=False)
            if model is None:  # one model for the three checkpoints: same architecture
                resolved, _, num_classes = training.validate(config, describe(config.data))
                model, step = training.build_model(resolved, num_classes,
                                                   tf.distribute.get_strategy())
                checkpoint = training.make_checkpoint(model, step)
            path = tf.train.latest_checkpoint(os.path.join(run_dir, "checkpoints"))
            checkpoint.restore(path).assert_existing_objects_matched()
            weights = {f"{net}/{v.path}": v.numpy() for net in
                       ("generator", "discriminator", "generator_ema")
                       for v in getattr(model, net).weights}
            cls.runs[name] = (run_dir, int(step.numpy()), weights, read_log(run_dir))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.root, True)
        super().tearDownClass()

    def test_mixed_g_steps_train_other_generator_weights(self):
        run_dir, step, mixed, logs = self.runs["prob05"]
        _, unmixed_step, unmixed, _ = self.runs["prob0"]
        self.assertEqual((step, unmixed_step), (self.STEPS, self.STEPS))
        with open(os.path.join(run_dir, "config.json"), encoding="utf-8") as handle:
            stored = json.load(handle)
        self.assertEqual((stored["cross_mix"], stored["cross_mix_prob"]), (self.CROSS_MIX, 0.5))
        self.assertEqual([line["step"] for line in logs], [1, 2])
        for line in logs:
            self.assertTrue(all(math.isfinite(v) for v in line.values()), line)
        # Both runs draw the same random numbers (the mixed-row coins included) and differ
        # only in which G-step fakes are mixed: G's weights differ after the first G step.
        self.assertNotEmpty(changed(mixed, unmixed, "generator/", atol=1e-6))

    def test_prob_zero_trains_as_no_cross_mix(self):
        # No mixed row: the same G-step fakes, labels and losses as without --cross_mix,
        # so the same weights up to float32 reassociation (1e-6; weights ~0.01-1). Found
        # failing (max difference 1.1e-2): `CrossMixTraining.sample_rows` draws its coins
        # from the model's seed generator even at prob 0, which shifts every later draw
        # (noise, style mixing, latents); with no draw at prob 0 the runs are identical.
        _, off_step, off, off_logs = self.runs["off"]
        _, zero_step, zero, zero_logs = self.runs["prob0"]
        self.assertEqual((off_step, zero_step), (self.STEPS, self.STEPS))
        self.assertLessEqual(max_difference(off, zero), 1e-6)
        self.assertEqual(len(off_logs), len(zero_logs))
        for a, b in zip(training_values(off_logs), training_values(zero_logs), strict=True):
            self.assertAllClose([a[k] for k in sorted(a)], [b[k] for k in sorted(b)],
                                atol=1e-6, rtol=1e-5)


if __name__ == "__main__":
    tf.test.main()
