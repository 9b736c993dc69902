"""Import of official NVIDIA StyleGAN2 TF1 pickles (tfdisgan.nvidia_import).

The fixture is a small pickle with the official structure: a tuple (G, D, Gs) of objects of
a class named dnnlib.tflib.network.Network (a fake module put in sys.modules while pickling)
whose state holds the official variable names and layouts. The layouts are written here
from the facts of stylegan2-ada-pytorch legacy.py (NCHW const, transposed-conv weights of
Conv0_up, mod_bias without the +1, noise variables [1, 1, r, r]), independently of the
importer's own table, so a wrong rule there changes the imported generator's images.
"""

import os
import pickle
import sys
import tempfile
import types

import keras
import numpy as np
import tensorflow as tf

from tfdisgan import export, nvidia_import, transfer
from tfdisgan.models.stylegan2 import StyleGAN2

ARCH = dict(resolution=16, z_dim=32, w_dim=32, channel_base=256, channel_max=32,
            mapping_layers=2)
STATIC_KWARGS = dict(num_channels=3, resolution=16, label_size=0, latent_size=32,
                     dlatent_size=32, mapping_fmaps=32, mapping_layers=2, fmap_base=128,
                     fmap_max=32, architecture="skip", randomize_noise=True)


class _FakeNetwork:
    """Stands for dnnlib.tflib.network.Network when pickling the fixture."""

    def __init__(self, state):
        self._state = state

    def __getstate__(self):
        return self._state


def _state(name, static_kwargs, variables, components=None):
    return {"version": 4, "name": name, "static_kwargs": dict(static_kwargs),
            "components": components or {}, "build_module_src": "import os\nos.system('x')",
            "build_func_name": "G_main", "variables": list(variables.items())}


def _official_generator(g, name):
    """Our generator's weights in the official TF1 names and layouts (legacy.py facts)."""
    w = {v.path.split("/", 1)[1]: v.numpy() for v in g.weights}
    mapping = {}
    for i in range(ARCH["mapping_layers"]):
        mapping[f"Dense{i}/weight"] = w[f"mapping/fc{i}/weight"]  # [in, out] as TF1
        mapping[f"Dense{i}/bias"] = w[f"mapping/fc{i}/bias"]
    synthesis = {"4x4/Const/const": w["synthesis/b4/const"].transpose(2, 0, 1)[None]}

    def layer(ours, scope, up=False):
        kernel = w[f"{ours}/weight"]
        synthesis[f"{scope}/weight"] = kernel[::-1, ::-1] if up else kernel
        synthesis[f"{scope}/bias"] = w[f"{ours}/bias"]
        synthesis[f"{scope}/mod_weight"] = w[f"{ours}/affine/weight"]
        synthesis[f"{scope}/mod_bias"] = w[f"{ours}/affine/bias"] - 1.0
        if f"{ours}/noise/noise_strength" in w:
            synthesis[f"{scope}/noise_strength"] = w[f"{ours}/noise/noise_strength"]

    layer("synthesis/b4/conv1", "4x4/Conv")
    layer("synthesis/b4/torgb", "4x4/ToRGB")
    synthesis["noise0"] = w["synthesis/b4/conv1/noise/noise_const"][None, None]
    for log2 in range(3, 5):
        res = 2**log2
        layer(f"synthesis/b{res}/conv0", f"{res}x{res}/Conv0_up", up=True)
        layer(f"synthesis/b{res}/conv1", f"{res}x{res}/Conv1")
        layer(f"synthesis/b{res}/torgb", f"{res}x{res}/ToRGB")
        synthesis[f"noise{2 * log2 - 5}"] = w[f"synthesis/b{res}/conv0/noise/noise_const"][
            None, None]
        synthesis[f"noise{2 * log2 - 4}"] = w[f"synthesis/b{res}/conv1/noise/noise_const"][
            None, None]
    components = {
        "mapping": _FakeNetwork(_state("G_mapping", STATIC_KWARGS, mapping)),
        "synthesis": _FakeNetwork(_state("G_synthesis", STATIC_KWARGS, synthesis)),
    }
    top = {"lod": np.float32(0), "dlatent_avg": w["mapping/w_avg"]}
    return _FakeNetwork(_state(name, STATIC_KWARGS, top, components))


def _official_discriminator(d):
    w = {v.path.split("/", 1)[1]: v.numpy() for v in d.weights}
    official = {"16x16/FromRGB/weight": w["b16/fromrgb/weight"],
                "16x16/FromRGB/bias": w["b16/fromrgb/bias"]}
    for res in (16, 8):
        for ours, scope in (("conv0", "Conv0"), ("conv1", "Conv1_down")):
            official[f"{res}x{res}/{scope}/weight"] = w[f"b{res}/{ours}/weight"]
            official[f"{res}x{res}/{scope}/bias"] = w[f"b{res}/{ours}/bias"]
        official[f"{res}x{res}/Skip/weight"] = w[f"b{res}/skip/weight"]
    for ours, scope in (("conv", "4x4/Conv"), ("fc", "4x4/Dense0"), ("out", "Output")):
        official[f"{scope}/weight"] = w[f"b4/{ours}/weight"]
        official[f"{scope}/bias"] = w[f"b4/{ours}/bias"]
    kwargs = {**STATIC_KWARGS, "architecture": "resnet", "mbstd_group_size": 2}
    return _FakeNetwork(_state("D", kwargs, official))


def _randomize(model, seed):
    """Every variable N(0, 0.5^2) (mapping weights scaled as stored, / lr_multiplier)."""
    rng = np.random.default_rng(seed)
    for key, v in transfer.named_variables(model).items():
        value = rng.normal(0.0, 0.5, size=tuple(v.shape))
        if "/mapping/fc" in key and key.endswith("weight"):
            value = value * 100.0
        v.assign(value.astype(np.float32))


class _FakeDnnlib:
    """Registers dnnlib.tflib.network.Network = _FakeNetwork while pickling."""

    def __enter__(self):
        self.saved = {k: sys.modules.get(k) for k in ("dnnlib", "dnnlib.tflib",
                                                       "dnnlib.tflib.network")}
        network = types.ModuleType("dnnlib.tflib.network")
        network.Network = _FakeNetwork
        sys.modules["dnnlib"] = types.ModuleType("dnnlib")
        sys.modules["dnnlib.tflib"] = types.ModuleType("dnnlib.tflib")
        sys.modules["dnnlib.tflib.network"] = network
        self.qualname = _FakeNetwork.__qualname__, _FakeNetwork.__module__
        _FakeNetwork.__qualname__, _FakeNetwork.__module__ = "Network", "dnnlib.tflib.network"
        return self

    def __exit__(self, *exc):
        _FakeNetwork.__qualname__, _FakeNetwork.__module__ = self.qualname
        for key, module in self.saved.items():
            if module is None:
                sys.modules.pop(key, None)
            else:
                sys.modules[key] = module


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch evil-was-here",))


class NvidiaImportTest(tf.test.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        keras.utils.set_random_seed(3)
        cls.source = StyleGAN2(**ARCH, mbstd_group_size=2, seed=0)
        _randomize(cls.source, 1)
        cls.tmp = tempfile.mkdtemp()
        cls.pkl = os.path.join(cls.tmp, "stylegan2-tiny-config-f.pkl")
        ema = StyleGAN2(**ARCH, mbstd_group_size=2, seed=0)  # Gs differs from G
        _randomize(ema, 2)
        for a, b in zip(cls.source.generator_ema.weights, ema.generator.weights, strict=True):
            a.assign(b)
        with _FakeDnnlib():
            data = (_official_generator(cls.source.generator, "G"),
                    _official_discriminator(cls.source.discriminator),
                    _official_generator(cls.source.generator_ema, "Gs"))
            with open(cls.pkl, "wb") as handle:
                pickle.dump(data, handle, protocol=4)
        cls.out = nvidia_import.import_network(cls.pkl, os.path.join(cls.tmp, "imported"),
                                               verbose=False)

    def test_fixture_names_the_official_class(self):
        with open(self.pkl, "rb") as handle:
            raw = handle.read()
        self.assertIn(b"dnnlib.tflib.network", raw)
        self.assertNotIn(b"_FakeNetwork", raw)

    def test_architecture_from_static_kwargs(self):
        G, D, _ = nvidia_import.load_pickle(self.pkl)
        self.assertEqual(nvidia_import.architecture(G, D),
                         {**ARCH, "mbstd_group": 2})
        self.assertEqual(G.state["build_module_src"], "import os\nos.system('x')")  # not run

    def test_generated_images_match_the_source(self):
        model, _, _ = export.load_model(self.out)
        z = np.random.default_rng(5).normal(size=[3, 32]).astype(np.float32)
        for use_ema in (True, False):
            ours = model.synthesize(z, psi=1.0, use_ema=use_ema, noise_mode="const")
            expected = self.source.synthesize(z, psi=1.0, use_ema=use_ema, noise_mode="const")
            self.assertAllClose(ours, expected, rtol=1e-5, atol=1e-5)
        # Truncation uses the imported dlatent_avg.
        self.assertAllClose(model.synthesize(z, psi=0.5), self.source.synthesize(z, psi=0.5),
                            rtol=1e-5, atol=1e-5)
        images = tf.random.stateless_uniform([2, 16, 16, 3], [1, 2], -1.0, 1.0)
        self.assertAllClose(model.discriminator(images), self.source.discriminator(images),
                            rtol=1e-5, atol=1e-5)

    def test_every_variable_and_rule(self):
        model, _, _ = export.load_model(self.out)
        ours = transfer.named_variables(model)
        source = transfer.named_variables(self.source)
        self.assertEqual(set(ours), set(source))
        for key, variable in ours.items():
            # (affine biases went through -1 and +1: equal to float32 rounding)
            self.assertAllClose(variable.numpy(), source[key].numpy(), rtol=0, atol=1e-6,
                                msg=key)
        self.assertEqual(nvidia_import.official_generator_name("synthesis/b16/conv0/weight")[0],
                         "synthesis/16x16/Conv0_up/weight")
        self.assertEqual(
            nvidia_import.official_generator_name("synthesis/b8/conv1/noise/noise_const")[0],
            "synthesis/noise2")
        self.assertEqual(nvidia_import.official_discriminator_name("b8/conv1/bias")[0],
                         "8x8/Conv1_down/bias")

    def test_transfer_from_imported(self):
        target = StyleGAN2(**ARCH, mbstd_group_size=2, seed=9)
        target.compile(g_optimizer=keras.optimizers.Adam(), d_optimizer=keras.optimizers.Adam())
        report = transfer.transfer(target, self.out, verbose=False)
        self.assertEqual(report["counts"]["loaded"], len(transfer.named_variables(target)))
        npz = os.path.join(self.tmp, "church.npz")
        nvidia_import.import_network(self.pkl, npz, fmt="npz", verbose=False)
        report = transfer.transfer(target, npz, verbose=False)
        self.assertEqual(report["counts"]["new"], 0)

    def test_unmapped_official_variable_is_an_error(self):
        G, D, Gs = nvidia_import.load_pickle(self.pkl)
        D.state["variables"] = D.variables + [("Extra/weight", np.zeros([2], np.float32))]
        with self.assertRaisesRegex(nvidia_import.NvidiaImportError, "Extra/weight"):
            nvidia_import.convert(G, D, Gs, self.source)

    def test_refuses_unknown_globals(self):
        evil = os.path.join(self.tmp, "evil.pkl")
        with open(evil, "wb") as handle:
            pickle.dump(_Evil(), handle)
        cwd = os.getcwd()
        os.chdir(self.tmp)
        try:
            with self.assertRaisesRegex(pickle.UnpicklingError, r"system"):
                nvidia_import.load_pickle(evil)
        finally:
            os.chdir(cwd)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "evil-was-here")))
        # Hidden inside an otherwise official structure.
        with _FakeDnnlib():
            net = _FakeNetwork(_state("G", {"resolution": _Evil()}, {}))
            nested = pickle.dumps((net, net, net), protocol=4)
        with self.assertRaisesRegex(pickle.UnpicklingError, r"posix\.system|os\.system"):
            nvidia_import.SafeUnpickler(_bytes_io(nested)).load()
        # A stylegan2-ada-pytorch pickle names torch globals.
        torch_like = b"ctorch._utils\n_rebuild_tensor_v2\n."
        with self.assertRaisesRegex(pickle.UnpicklingError, "torch._utils._rebuild_tensor_v2"):
            nvidia_import.SafeUnpickler(_bytes_io(torch_like)).load()

    def test_not_the_official_tuple(self):
        path = os.path.join(self.tmp, "array.pkl")
        with open(path, "wb") as handle:
            pickle.dump({"G": np.zeros(3)}, handle)
        with self.assertRaisesRegex(nvidia_import.NvidiaImportError, "expected the official"):
            nvidia_import.load_pickle(path)
        with self.assertRaisesRegex(FileExistsError, "overwrite"):
            nvidia_import.import_network(self.pkl, self.out, verbose=False)


def _bytes_io(data):
    import io

    return io.BytesIO(data)
