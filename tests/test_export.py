"""Tests of tfdisgan.export: SavedModels for TF Serving, loading networks.

Tiny StyleGAN2 (conditional) and DCGAN (unconditional) generators are exported once per
class; the SavedModels are checked against ``model.generate``, in this process and in a
clean one that cannot import tfdisgan.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import tensorflow as tf

from tests.test_mixing import CLASS_NAMES, RES, tiny_dcgan, tiny_stylegan2
from tfdisgan import export, mixing

MAX_BATCH = 8
# Run in a fresh interpreter from a folder outside the repository, with every import of
# tfdisgan refused: the SavedModel must need TensorFlow only.
CLEAN_LOADER = """
import json, sys
class RefuseTfdisgan:
    def find_spec(self, name, path=None, target=None):
        if name == "tfdisgan" or name.startswith("tfdisgan."):
            raise ImportError("tfdisgan is not importable in this test")
        return None
sys.meta_path.insert(0, RefuseTfdisgan())
sys.path = [p for p in sys.path if p not in ("", ".")]
import tensorflow as tf
loaded = tf.saved_model.load(sys.argv[1])
out = loaded.signatures["serving_default"](
    seeds=tf.constant([0, 7, 2**32 - 1], tf.int64), psi=tf.constant([1.0, 0.7, 0.5]),
    class_id=tf.constant([0, 1, 2], tf.int32))["images"]
try:
    import tfdisgan  # noqa: F401
    blocked = False
except ImportError:
    blocked = True
print(json.dumps({"images": out.numpy().tolist(), "dtype": out.dtype.name,
                  "signatures": sorted(loaded.signatures), "blocked": blocked,
                  "imported": sorted(m for m in sys.modules if m.startswith("tfdisgan"))}))
"""


def _call(signature, **inputs):
    dtypes = {"seeds": tf.int64, "coarse_seeds": tf.int64, "fine_seeds": tf.int64,
              "class_id": tf.int32, "crossover": tf.int32}
    return signature(**{k: tf.constant(v, dtypes.get(k, tf.float32)) for k, v in
                        inputs.items()})


class ExportTest(tf.test.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.root = tempfile.mkdtemp(prefix="tfdisgan-export-test-")
        cls.sg = tiny_stylegan2()
        cls.sg_dir = export.export_saved_model(cls.sg, os.path.join(cls.root, "sg", "1"),
                                               max_batch=MAX_BATCH, class_names=CLASS_NAMES)
        cls.sg_loaded = tf.saved_model.load(cls.sg_dir)
        cls.dc = tiny_dcgan()
        cls.dc_dir = export.export_saved_model(cls.dc, os.path.join(cls.root, "dc", "3"))
        cls.dc_loaded = tf.saved_model.load(cls.dc_dir)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.root, ignore_errors=True)
        super().tearDownClass()

    def test_signatures(self):
        sigs = self.sg_loaded.signatures
        self.assertCountEqual(sigs, export.SIGNATURES_ALL)
        expected_inputs = {
            "serving_default": {"seeds": ([None], tf.int64), "psi": ([None], tf.float32),
                                "class_id": ([None], tf.int32)},
            "generate_from_z": {"z": ([None, 16], tf.float32), "psi": ([None], tf.float32),
                                "class_id": ([None], tf.int32)},
            "mapping": {"z": ([None, 16], tf.float32), "psi": ([None], tf.float32),
                        "class_id": ([None], tf.int32)},
            "generate_from_w": {"ws": ([None, 6, 16], tf.float32)},
            "mix": {"coarse_seeds": ([None], tf.int64), "fine_seeds": ([None], tf.int64),
                    "crossover": ([None], tf.int32), "psi": ([None], tf.float32),
                    "class_id": ([None], tf.int32)},
        }
        for name, inputs in expected_inputs.items():
            with self.subTest(signature=name):
                specs = sigs[name].structured_input_signature[1]
                self.assertEqual({k: (v.shape.as_list(), v.dtype) for k, v in specs.items()},
                                 inputs)
                outputs = sigs[name].structured_outputs
                key, shape, dtype = (("ws", [None, 6, 16], tf.float32) if name == "mapping"
                                     else ("images", [None, RES, RES, 3], tf.uint8))
                self.assertEqual(list(outputs), [key])
                self.assertEqual(outputs[key].shape.as_list(), shape)
                self.assertEqual(outputs[key].dtype, dtype)
        dc_sigs = self.dc_loaded.signatures
        self.assertCountEqual(dc_sigs, export.SIGNATURES_DCGAN)
        self.assertEqual(dc_sigs["generate_from_z"].structured_input_signature[1]["z"]
                         .shape.as_list(), [None, 16])

    def test_same_images_as_generate(self):
        sigs = self.sg_loaded.signatures
        seeds, classes = [0, 7, 123456789], [0, 1, 2]
        images = _call(sigs["serving_default"], seeds=seeds, psi=[0.7] * 3,
                       class_id=classes)["images"].numpy()
        for i in range(3):
            self.assertAllEqual(images[i], self.sg.generate(seeds=[seeds[i]],
                                                            labels=classes[i], psi=0.7)[0])
        # A row does not depend on the other rows of the request.
        alone = _call(sigs["serving_default"], seeds=[7], psi=[0.7], class_id=[1])["images"]
        self.assertAllEqual(alone[0], images[1])
        view = mixing.GeneratorView(self.sg)
        z = view.z_from_seeds([3, 4])
        from_z = _call(sigs["generate_from_z"], z=z, psi=[1.0, 0.5], class_id=[2, 2])
        self.assertAllEqual(from_z["images"], view.images_from_z(z, 2, [1.0, 0.5]))
        ws = _call(sigs["mapping"], z=z, psi=[1.0, 0.5], class_id=[2, 2])["ws"]
        self.assertAllEqual(ws, view.ws_from_z(z, 2, [1.0, 0.5]))
        self.assertAllEqual(_call(sigs["generate_from_w"], ws=ws)["images"], from_z["images"])
        # mix: layers [0, crossover) from coarse_seeds, the rest from fine_seeds.
        mixed = _call(sigs["mix"], coarse_seeds=[10, 10, 10], fine_seeds=[20, 20, 20],
                      crossover=[0, 2, 6], psi=[1.0] * 3, class_id=[0] * 3)["images"].numpy()
        self.assertAllEqual(mixed[0], self.sg.generate(seeds=[20], labels=0)[0])
        self.assertAllEqual(mixed[2], self.sg.generate(seeds=[10], labels=0)[0])
        grid = mixing.style_mixing_grid(view, [20], [10], "0-1", row_class=0, col_class=0)
        self.assertAllEqual(mixed[1], grid.mixed[0, 0])
        # DCGAN: psi scales z, as GAN.generate.
        dc = _call(self.dc_loaded.signatures["serving_default"], seeds=[1, 2], psi=[1.0, 0.5],
                   class_id=[0, 0])["images"].numpy()
        self.assertAllEqual(dc[0], self.dc.generate(seeds=[1])[0])
        self.assertAllEqual(dc[1], self.dc.generate(seeds=[2], psi=0.5)[0])

    def test_in_graph_validation(self):
        sigs = self.sg_loaded.signatures
        ok = dict(seeds=[1, 2], psi=[1.0, 1.0], class_id=[0, 0])
        cases = [
            ("serving_default", dict(ok, class_id=[0, 3]),
             r"`class_id` must be in \[0, 3\): 0=building_fire, 1=건물화재, 2=flood"),
            ("serving_default", dict(ok, class_id=[-1, 0]), "`class_id` must be in"),
            ("serving_default", dict(ok, psi=[2.5, 1.0]), r"`psi` \(truncation\) must be in"),
            ("serving_default", dict(ok, psi=[1.0, -1.5]), r"`psi` \(truncation\) must be in"),
            ("serving_default", dict(ok, psi=[float("nan"), 1.0]), "`psi`"),
            ("serving_default", dict(ok, seeds=[2**32, 0]), r"`seeds` must be in \[0, 2\*\*32\)"),
            ("serving_default", dict(ok, seeds=[-5, 0]), "`seeds` must be in"),
            ("serving_default", dict(seeds=list(range(MAX_BATCH + 1)),
                                     psi=[1.0] * (MAX_BATCH + 1), class_id=[0] * (MAX_BATCH + 1)),
             f"at most {MAX_BATCH} per request"),
            ("serving_default", dict(ok, psi=[1.0]), "`psi` must have as many rows as `seeds`"),
            ("generate_from_z", dict(z=[[np.inf] * 16], psi=[1.0], class_id=[0]),
             "`z` must be finite"),
            ("mix", dict(coarse_seeds=[1], fine_seeds=[2], crossover=[7], psi=[1.0],
                         class_id=[0]), r"`crossover` must be in \[0, 6\]"),
            ("mix", dict(coarse_seeds=[1], fine_seeds=[2, 3], crossover=[1], psi=[1.0],
                         class_id=[0]), "`fine_seeds` must have as many rows"),
        ]
        for name, inputs, message in cases:
            with self.subTest(message=message), self.assertRaisesRegex(
                    tf.errors.InvalidArgumentError, message):
                _call(sigs[name], **inputs)
        with self.assertRaisesRegex(tf.errors.InvalidArgumentError,
                                    "`class_id` must be 0: this model is unconditional"):
            _call(self.dc_loaded.signatures["serving_default"], seeds=[1], psi=[1.0],
                  class_id=[1])

    def test_loads_in_a_clean_process_without_tfdisgan(self):
        script = os.path.join(self.get_temp_dir(), "clean_loader.py")
        with open(script, "w", encoding="utf-8") as handle:
            handle.write(CLEAN_LOADER)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env["TF_CPP_MIN_LOG_LEVEL"] = "3"
        result = subprocess.run([sys.executable, script, self.sg_dir], capture_output=True,
                                text=True, env=env, cwd=self.get_temp_dir(), timeout=300)
        self.assertEqual(result.returncode, 0, result.stderr[-3000:])
        report = json.loads(result.stdout.strip().splitlines()[-1])
        self.assertTrue(report["blocked"])
        self.assertEqual(report["imported"], [])
        self.assertEqual(report["dtype"], "uint8")
        self.assertCountEqual(report["signatures"], export.SIGNATURES_ALL)
        expected = np.concatenate([
            self.sg.generate(seeds=[0], labels=0, psi=1.0),
            self.sg.generate(seeds=[7], labels=1, psi=0.7),
            self.sg.generate(seeds=[2**32 - 1], labels=2, psi=0.5),
        ])
        self.assertAllEqual(np.asarray(report["images"], np.uint8), expected)

    def test_saved_model_cli_shows_the_signatures(self):
        cli = shutil.which("saved_model_cli")
        command = ([cli] if cli else [sys.executable, "-m",
                                      "tensorflow.python.tools.saved_model_cli"])
        result = subprocess.run([*command, "show", "--all", "--dir", self.dc_dir],
                                capture_output=True, text=True, timeout=300,
                                env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
        self.assertEqual(result.returncode, 0, result.stderr[-3000:])
        out = result.stdout
        for text in ("signature_def['serving_default']", "signature_def['generate_from_z']",
                     "inputs['seeds'] tensor_info:\n        dtype: DT_INT64\n        shape: (-1)",
                     "inputs['z'] tensor_info:\n        dtype: DT_FLOAT\n        shape: (-1, 16)",
                     "outputs['images'] tensor_info:\n        dtype: DT_UINT8\n"
                     f"        shape: (-1, {RES}, {RES}, 3)",
                     "Method name is: tensorflow/serving/predict"):
            self.assertIn(text, out)
        self.assertNotIn("generate_from_w", out)

    def test_metadata_and_folder_rules(self):
        with open(os.path.join(self.sg_dir, export.METADATA), encoding="utf-8") as handle:
            meta = json.load(handle)
        self.assertEqual(meta["class_names"], list(CLASS_NAMES))
        self.assertEqual((meta["kind"], meta["num_ws"], meta["max_batch"], meta["z_dim"]),
                         ("stylegan2", 6, MAX_BATCH, 16))
        self.assertEqual(meta["model_config"]["resolution"], RES)
        with self.assertRaisesRegex(ValueError, "numeric version folder"):
            export.export_saved_model(self.dc, os.path.join(self.root, "dc"))
        with self.assertRaisesRegex(ValueError, "exists; pass overwrite=True"):
            export.export_saved_model(self.dc, self.dc_dir)
        with self.assertRaisesRegex(ValueError, "max_batch"):
            export.export_saved_model(self.dc, os.path.join(self.root, "x", "1"), max_batch=0)
        view = export.load_network(os.path.join(self.root, "sg"))  # the model folder
        self.assertIsInstance(view, export.SavedModelView)
        with self.assertRaisesRegex(ValueError, "already an exported SavedModel"):
            export.export_saved_model(view, os.path.join(self.root, "x", "1"))
        self.assertEqual(sorted(os.listdir(os.path.join(self.root, "dc"))), ["3"])

    def test_overwrite_replaces_atomically(self):
        target = os.path.join(self.get_temp_dir(), "models", "dc", "1")
        shutil.copytree(self.dc_dir, target)
        marker = os.path.join(target, "marker")
        open(marker, "w").close()
        export.export_saved_model(self.dc, target, overwrite=True)
        self.assertFalse(os.path.exists(marker))
        self.assertEqual(os.listdir(os.path.dirname(target)), ["1"])  # no temporary left

    def test_saved_model_view(self):
        view = export.load_network(self.sg_dir)
        self.assertEqual((view.kind, view.num_ws, view.w_dim, view.resolution,
                          view.num_classes), ("stylegan2", 6, 16, RES, 3))
        self.assertEqual(view.class_id("건물화재"), 1)
        seeds = list(range(MAX_BATCH + 3))  # more than one request
        self.assertAllEqual(view.images_from_seeds(seeds, 1, 0.7),
                            self.sg.generate(seeds=seeds, labels=1, psi=0.7))
        keras_view = mixing.GeneratorView(self.sg, class_names=CLASS_NAMES)
        for v in (view, keras_view):
            frames = mixing.latent_walk(v, [1, 2], frames=4, space="w", label=2)
            mix = mixing.style_mixing_grid(v, [1, 2], [3], "0-2", row_class=0, col_class=1)
            if v is view:
                first = (frames, mix.image)
        self.assertAllEqual(first[0], frames)
        self.assertAllEqual(first[1], mix.image)
        with self.assertRaisesRegex(ValueError, "noise_mode"):
            view.images_from_seeds([0], 0, noise_mode="random")
        dc_view = export.load_network(self.dc_dir)
        self.assertFalse(dc_view.style_based)
        with self.assertRaisesRegex(ValueError, "style mixing needs StyleGAN2"):
            mixing.style_mixing_grid(dc_view, [0], [1], "0")

    def test_resolve_network_errors(self):
        with self.assertRaisesRegex(export.NetworkError, "does not exist"):
            export.resolve_network(os.path.join(self.root, "nope"))
        empty = os.path.join(self.get_temp_dir(), "empty")
        os.makedirs(empty, exist_ok=True)
        with self.assertRaisesRegex(export.NetworkError, "neither a SavedModel"):
            export.load_network(empty)


if __name__ == "__main__":
    tf.test.main()
