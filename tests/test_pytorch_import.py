"""stylegan2-ada-pytorch pickles, read without torch and without running their code.

The fixture (tests/compat/sg2ada_pytorch/) was written by the official code itself: a small
conditional G, D and G_ema pickled exactly as its training loop writes snapshots, with the
official outputs for fixed inputs (make_fixture.py says how to make them again).
"""

import collections
import io
import json
import os
import pickle
import struct
import tempfile

import numpy as np
import tensorflow as tf

from tests.fixtures import REPO, run_script
from tests.runs.harness import RunState, changed, tiny_config
from tfdisgan import export, nvidia_import, pytorch_import, torch_pickle, training, transfer
from tfdisgan.data import describe

FIXTURE = os.path.join(REPO, "tests", "compat", "sg2ada_pytorch")
PKL = os.path.join(FIXTURE, "tiny-cond16.pkl")
ARCH = dict(resolution=16, z_dim=16, w_dim=16, num_classes=3, channel_base=256,
            channel_max=32, mapping_layers=2, mbstd_group=2)


def _official_uint8(images_nchw):
    """The official conversion of generate.py: ``(img * 127.5 + 128).clamp(0, 255)`` cast
    to uint8 (truncation), NHWC."""
    return np.clip(images_nchw.transpose(0, 2, 3, 1) * 127.5 + 128, 0, 255).astype(np.uint8)


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch evil-was-here",))


class _Eval:
    def __reduce__(self):
        return (eval, ("1 + 1",))


class PytorchImportTest(tf.test.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp()
        cls.out = os.path.join(cls.tmp, "imported")
        # As a user does: the script, which says which kind of pickle it found.
        result = run_script("import_nvidia.py", f"--source={PKL}", f"--out={cls.out}")
        assert result.returncode == 0, result.stderr[-3000:]
        cls.stdout = result.stdout
        cls.expected = np.load(os.path.join(FIXTURE, "expected.npz"))

    def test_the_script_says_which_kind_it_found(self):
        self.assertIn("Found a stylegan2-ada-pytorch pickle", self.stdout)
        self.assertIn("3 classes", self.stdout)
        self.assertEqual(nvidia_import.pickle_kind(PKL), "pytorch")
        with open(os.path.join(self.out, "import_report.json"), encoding="utf-8") as handle:
            report = json.load(handle)
        self.assertEqual(report["kind"], "a stylegan2-ada-pytorch pickle")
        self.assertEqual(report["architecture"], ARCH)
        self.assertEqual(report["augment_pipe"]["class"], "AugmentPipe")
        self.assertAllClose(report["augment_pipe"]["p"], 0.25)
        self.assertEqual(report["official_kwargs"]["D"]["epilogue_kwargs"],
                         {"mbstd_group_size": 2})

    def test_images_equal_the_official_generator(self):
        e = self.expected
        view = export.load_network(self.out)
        labels = e["c"].argmax(1)
        # Mapping (embedding, normalisation, w_avg) and synthesis, G_ema at psi 1 and 0.7.
        self.assertAllClose(view.ws_from_z(e["z"], labels), e["ws"], atol=1e-5, rtol=1e-5)
        model = view.model
        ws = view.ws_from_z(e["z"], labels)
        images = model.generator_ema.synthesis(tf.constant(ws), noise_mode="const",
                                               training=False).numpy()
        self.assertAllClose(images, e["img_ema"].transpose(0, 2, 3, 1), atol=1e-4, rtol=0)
        for psi, key in ((1.0, "img_ema"), (0.7, "img_ema_psi07")):
            ours = view.images_from_z(e["z"], labels, psi=psi).astype(int)
            official = _official_uint8(e[key]).astype(int)
            self.assertLessEqual(np.abs(ours - official).max(), 1, psi)  # rounding vs cut
            self.assertGreater(np.std(official), 10.0)  # values, not clipped flat images
        # G (not the EMA) and D, each from its own official network.
        g = model.generator.synthesis(model.generator.mapping(
            tf.constant(e["z"]), tf.constant(labels), training=False), noise_mode="const",
            training=False).numpy()
        self.assertAllClose(g, e["img_g"].transpose(0, 2, 3, 1), atol=1e-4, rtol=0)
        logits = model.discriminator([tf.constant(e["img_ema"].transpose(0, 2, 3, 1)),
                                      tf.constant(labels)], training=False)
        self.assertAllClose(np.reshape(logits, [-1]), e["d_logits"].reshape(-1), atol=1e-4)

    def test_projection_and_serving_take_the_import(self):
        from tfdisgan import projection

        e = self.expected
        view = export.load_network(self.out)
        target = _official_uint8(e["img_ema"][1:2])[0]  # the official G_ema's class-1 image
        result = projection.project(view, target, steps=30, label=1, w_avg_samples=500,
                                    distance=projection.make_distance("pixel_ssim"))
        self.assertEqual(result.ws.shape, (6, 16))
        first = view.images_from_ws(result.frames[:1])[0]  # after the first step
        self.assertGreater(result.psnr, projection.psnr(first, target))
        self.assertLess(result.losses[-1], result.losses[0])
        saved = export.export_saved_model(view, os.path.join(self.tmp, "serve", "fire", "1"))
        served = export.load_network(saved)
        self.assertAllEqual(served.images_from_z(e["z"][:2], [0, 2]),
                            view.images_from_z(e["z"][:2], [0, 2]))

    def test_transfer_from_the_import_through_training_run(self):
        # The imported folder as --transfer_from of the main model on its defaults (R1 and
        # path length at step 0), fine-tuned on the 4 built-in classes (the official model
        # has 3: --transfer_partial=new_classes), the mapping frozen: it keeps the official
        # values exactly while the synthesis trains on.
        self.assertEqual(describe("procedural:32").num_classes, 4)
        config = tiny_config(
            "stylegan2", self.get_temp_dir(), conditional=True, channel_base=256,
            channel_max=32, mapping_layers=2, transfer_from=self.out,
            transfer_partial="new_classes", freeze_mapping=True, steps=2)
        run_dir = training.run(config, verbose=False)
        state = RunState(run_dir, config)
        self.assertEqual(state.step, 2)
        after = state.weights("generator")
        source, _, _ = export.load_model(self.out)
        imported = {k: v.numpy() for k, v in transfer.named_variables(source).items()
                    if k.startswith("generator/")}
        mapping = [k for k in imported if k.startswith("generator/mapping/fc")]
        self.assertNotEmpty(mapping)
        for key in mapping:
            self.assertAllEqual(after[key], imported[key], msg=key)
        self.assertNotEmpty(changed(after, imported, "generator/synthesis/", atol=1e-7))
        # ... and those values are the official G's (fc0: [out, in] transposed).
        official = pytorch_import.load_pickle(PKL)["G"].tensors()["mapping.fc0.weight"]
        self.assertAllEqual(after["generator/mapping/fc0/weight"], official.T)


class RefusalTest(tf.test.TestCase):
    def setUp(self):
        super().setUp()
        self.tmp = self.get_temp_dir()

    def _write(self, name, obj):
        path = os.path.join(self.tmp, name)
        with open(path, "wb") as handle:
            pickle.dump(obj, handle, protocol=4)
        return path

    def test_other_globals_are_refused_by_name_before_anything_runs(self):
        cwd = os.getcwd()
        os.chdir(self.tmp)
        try:
            for obj, name in ((_Evil(), r"(posix|os)\.system"), (_Eval(), r"builtins\.eval")):
                path = self._write("evil.pkl", {"G": obj})
                with self.assertRaisesRegex(torch_pickle.TorchPickleError,
                                            f"evil.pkl: Refusing the global {name}"):
                    pytorch_import.load_pickle(path)
        finally:
            os.chdir(cwd)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "evil-was-here")))
        # Hidden deep inside the structures a snapshot is made of (an OrderedDict of
        # parameters inside the dataset settings), after allowed globals.
        nested = pickle.dumps({"training_set_kwargs": {"path": "x.zip"}, "G": collections.
                               OrderedDict(weight=[np.float32(1), {"hooks": _Evil()}])},
                              protocol=4)
        with self.assertRaisesRegex(torch_pickle.TorchPickleError, r"global (posix|os)\.system"):
            torch_pickle.load(_bytes_io(nested))
        # A torch global outside the table (a sparse tensor) is refused too.
        sparse = b"\x80\x02ctorch._utils\n_rebuild_sparse_tensor\n."
        with self.assertRaisesRegex(torch_pickle.TorchPickleError,
                                    "torch._utils._rebuild_sparse_tensor"):
            torch_pickle.load(_bytes_io(sparse))

    def test_the_import_script_refuses_in_one_line(self):
        path = self._write("network-snapshot-000000.pkl",
                           {"G": _Evil(), "marker": "torch_utils.persistence"})
        result = run_script("import_nvidia.py", f"--source={path}",
                            f"--out={os.path.join(self.tmp, 'out')}")
        self.assertEqual(result.returncode, 2, result.stderr[-2000:])
        self.assertRegex(result.stderr.strip(), r"^import_nvidia: error: .*Refusing the global "
                                                r"(posix|os)\.system")
        self.assertEqual(len(result.stderr.strip().splitlines()), 1, result.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "out")))

    def test_not_a_snapshot(self):
        path = self._write("dict.pkl", {"G": np.zeros(3), "D": None})
        with self.assertRaisesRegex(pytorch_import.PytorchImportError,
                                    "G should be an official Generator"):
            pytorch_import.load_pickle(path)
        path = self._write("neither.pkl", [1, 2, 3])
        with self.assertRaisesRegex(nvidia_import.NvidiaImportError, "neither"):
            nvidia_import.pickle_kind(path)

    def test_unsupported_settings_and_tensors_are_named(self):
        nets = pytorch_import.load_pickle(PKL)
        G, D = nets["G"], nets["D"]
        G.state["_init_kwargs"] = dict(G.init_kwargs, synthesis_kwargs=dict(
            G.init_kwargs["synthesis_kwargs"], architecture="resnet"))
        with self.assertRaisesRegex(pytorch_import.PytorchImportError,
                                    "G.synthesis_kwargs.architecture='resnet'"):
            pytorch_import.architecture(G, D)
        nets = pytorch_import.load_pickle(PKL)
        arch = pytorch_import.architecture(nets["G"], nets["D"])
        model, _, _ = nvidia_import.build_model(arch)
        nets["D"].children()["b4"].state["_buffers"]["extra"] = np.zeros(2, np.float32)
        with self.assertRaisesRegex(pytorch_import.PytorchImportError,
                                    "D tensor 'b4.extra' .* maps to none of ours"):
            pytorch_import.convert(nets, model)
        nets = pytorch_import.load_pickle(PKL)
        nets["G"].children()["synthesis"].children()["b8"].state["_buffers"][
            "resample_filter"] = np.ones([4, 4], np.float32)
        with self.assertRaisesRegex(pytorch_import.PytorchImportError,
                                    r"G.synthesis.b8.resample_filter is not the \[1, 3, 3, 1\]"):
            pytorch_import.convert(nets, model)

    def test_storages_of_every_dtype_are_read(self):
        # The legacy torch.save layout a storage pickles as, written by hand (bf16 widened).
        for name, values in (("FloatStorage", np.arange(5, dtype=np.float32)),
                             ("HalfStorage", np.arange(5, dtype=np.float16)),
                             ("LongStorage", np.arange(5, dtype=np.int64)),
                             ("BFloat16Storage", np.array([1.0, -2.5, 3.0], np.float32))):
            raw = (values.view(np.uint32) >> 16).astype("<u2").tobytes() if \
                name == "BFloat16Storage" else values.astype(values.dtype.newbyteorder("<"))\
                .tobytes()
            data = _legacy_storage_file(name, len(values), raw)
            storage = torch_pickle._load_from_bytes(data)
            self.assertAllEqual(storage.array, values, msg=name)
        tensor = torch_pickle._rebuild_tensor(
            torch_pickle._load_from_bytes(_legacy_storage_file(
                "FloatStorage", 6, np.arange(6, dtype=np.float32).tobytes())),
            1, (2, 2), (1, 2))
        self.assertAllEqual(tensor, [[1, 3], [2, 4]])  # a strided (transposed) view
        with self.assertRaisesRegex(torch_pickle.TorchPickleError, "reads past"):
            torch_pickle._rebuild_tensor(torch_pickle._load_from_bytes(_legacy_storage_file(
                "FloatStorage", 2, np.zeros(2, np.float32).tobytes())), 0, (3,), (1,))
        with self.assertRaisesRegex(torch_pickle.TorchPickleError, "cut short"):
            torch_pickle._load_from_bytes(_legacy_storage_file(
                "FloatStorage", 4, np.zeros(2, np.float32).tobytes()))


def _bytes_io(data):
    return io.BytesIO(data)


def _legacy_storage_file(storage_name, numel, raw):
    """torch.save's legacy format of one storage (torch/serialization.py `_legacy_save`):
    magic, protocol, system info, the pickle of the storage (a persistent id naming the
    global torch.<storage_name>), the keys, then the count and the little-endian bytes."""
    out = io.BytesIO()
    for header in (torch_pickle.LEGACY_MAGIC, torch_pickle.LEGACY_PROTOCOL,
                   {"protocol_version": 1001, "little_endian": True,
                    "type_sizes": {"short": 2, "int": 4, "long": 4}}):
        pickle.dump(header, out, protocol=2)

    def text(value):
        data = value.encode()
        return b"X" + struct.pack("<I", len(data)) + data

    # PROTO 2, MARK, 'storage', GLOBAL torch.<name>, key, location, BININT numel, None,
    # TUPLE, BINPERSID, STOP: what pickle writes for the tuple persistent_id returns.
    out.write(b"\x80\x02(" + text("storage") + f"ctorch\n{storage_name}\n".encode()
              + text("0") + text("cpu") + b"J" + struct.pack("<i", numel) + b"NtQ.")
    pickle.dump(["0"], out, protocol=2)
    out.write(struct.pack("<q", numel))
    out.write(raw)
    return out.getvalue()


if __name__ == "__main__":
    tf.test.main()
