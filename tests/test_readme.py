"""Every Python block of the README and of docs/*.md runs, as written but for sizes and paths (tiny
fixtures), and does what its comments say. A substitution that no longer matches the README
fails the test, so an edited example cannot silently drop out of it.

The TF Serving gRPC client block runs against a stand-in stub that answers from the
exported SavedModel in this process: what is checked is that the request the README builds
(model and signature names, input names and dtypes, the "images" output) fits our export.
"""

import glob
import json
import os
import re
import shutil
import sys
import tempfile
import types
from collections import defaultdict

import numpy as np
import tensorflow as tf
from PIL import Image

from tests.fixtures import REPO
from tfdisgan import export
from tfdisgan.data import tfrecords

COMPAT = os.path.join(REPO, "tests", "compat", "runs-0.1.0")
KOREAN = ["건물화재", "산불", "지진", "홍수"]

# Per block: a substring that identifies it, and (README text, test text) substitutions.
CASES = {
    'load_dataset("data/fire"': [],
    "model = DCGAN(resolution=64": [
        ("DCGAN(resolution=64, num_classes=4, seed=0)",
         "DCGAN(resolution=16, num_classes=4, base_channels=8, z_dim=16, seed=0)"),
        ('load_dataset("procedural:2000", 32, resolution=64), steps_per_epoch=100, epochs=5',
         'load_dataset("procedural:32", 8, resolution=16), steps_per_epoch=2, epochs=1'),
        ('resolve_preset("auto", 256)', 'resolve_preset("cpu_tiny", 16)'),
    ],
    "prediction_service_pb2_grpc": [],
    'export.load_network("runs/00001-fire")': [],
    'export.load_model("imported/church")': [
        ("randn(4, 512)", "randn(4, 16)"),
        ('"imported/church"', '"runs/00003-dcgan"'),
    ],
}


def python_blocks(path):
    with open(path, encoding="utf-8") as handle:
        return re.findall(r"```python\n(.*?)```", handle.read(), re.S)


def _serving_modules(export_root):
    """Stand-ins for grpc and tensorflow_serving.apis answering from the SavedModels under
    ``export_root/MODEL_NAME/VERSION`` (the newest version, as TF Serving)."""
    class Slot:
        def CopyFrom(self, proto):  # noqa: N802 - protobuf's name
            self.proto = proto

    class PredictRequest:
        def __init__(self):
            self.model_spec = types.SimpleNamespace(name=None, signature_name=None)
            self.inputs = defaultdict(Slot)

    class Stub:
        def __init__(self, channel):
            self.channel = channel

        def Predict(self, request, timeout=None):  # noqa: N802 - the gRPC method's name
            folder = os.path.join(export_root, request.model_spec.name)
            version = max(os.listdir(folder), key=int)
            loaded = tf.saved_model.load(os.path.join(folder, version))
            fn = loaded.signatures[request.model_spec.signature_name]
            out = fn(**{k: tf.constant(tf.make_ndarray(v.proto))
                        for k, v in request.inputs.items()})
            return types.SimpleNamespace(
                outputs={k: tf.make_tensor_proto(v.numpy()) for k, v in out.items()})

    grpc = types.ModuleType("grpc")
    grpc.insecure_channel = lambda address: address
    apis = types.ModuleType("tensorflow_serving.apis")
    apis.predict_pb2 = types.SimpleNamespace(PredictRequest=PredictRequest)
    apis.prediction_service_pb2_grpc = types.SimpleNamespace(PredictionServiceStub=Stub)
    serving = types.ModuleType("tensorflow_serving")
    serving.apis = apis
    return {"grpc": grpc, "tensorflow_serving": serving, "tensorflow_serving.apis": apis}


class ReadmeTest(tf.test.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.root = tempfile.mkdtemp(prefix="tfdisgan-readme-")
        tfrecords.build_dataset("procedural:16", os.path.join(cls.root, "data", "fire"),
                                resolution=16, verbose=False)
        # Runs as the README names them: a conditional StyleGAN2 whose classes are Korean
        # folder names (two copies: the mixing figure takes two networks), and a DCGAN.
        for name, source in (("00001-fire", "00000-sg2"), ("00002-flood", "00000-sg2"),
                             ("00003-dcgan", "00001-dcgan")):
            run = os.path.join(cls.root, "runs", name)
            shutil.copytree(os.path.join(COMPAT, source), run)
            config = os.path.join(run, "config.json")
            with open(config, encoding="utf-8") as handle:
                stored = json.load(handle)
            if stored.get("num_classes"):
                stored["class_names"] = KOREAN
            with open(config, "w", encoding="utf-8") as handle:
                json.dump(stored, handle, ensure_ascii=False)
        view = export.load_network(os.path.join(cls.root, "runs", "00001-fire"))
        export.export_saved_model(view.model, os.path.join(cls.root, "serving", "demo", "1"),
                                  class_names=view.class_names)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.root, ignore_errors=True)
        super().tearDownClass()

    def _run(self, code):
        namespace = {}
        cwd = os.getcwd()
        saved = {k: sys.modules.get(k) for k in _serving_modules("")}
        sys.modules.update(_serving_modules(os.path.join(self.root, "serving")))
        os.chdir(self.root)
        try:
            exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102
        finally:
            os.chdir(cwd)
            for key, module in saved.items():
                if module is None:
                    sys.modules.pop(key, None)
                else:
                    sys.modules[key] = module
        return namespace

    def test_every_python_block_runs(self):
        pages = [os.path.join(REPO, "README.md"),
                 *sorted(glob.glob(os.path.join(REPO, "docs", "*.md")))]
        blocks = [block for page in pages for block in python_blocks(page)]
        self.assertLen(blocks, len(CASES))
        for block in blocks:
            keys = [k for k in CASES if k in block]
            self.assertLen(keys, 1, block[:200])
            code = block
            for old, new in CASES[keys[0]]:
                self.assertIn(old, code, "the docs changed: update tests/test_readme.py")
                code = code.replace(old, new)
            with self.subTest(block=keys[0]):
                ns = self._run(code)
                self.check(keys[0], ns)

    def test_links_point_at_files_of_the_repo(self):
        pages = [os.path.join(REPO, "README.md"),
                 *sorted(glob.glob(os.path.join(REPO, "docs", "*.md")))]
        for page in pages:
            with open(page, encoding="utf-8") as handle:
                links = re.findall(r"\]\(([^)\s]+)\)", handle.read())
            for link in links:
                if link.startswith(("http://", "https://", "#")):
                    continue
                target = os.path.normpath(os.path.join(os.path.dirname(page),
                                                       link.split("#")[0]))
                with self.subTest(page=os.path.basename(page), link=link):
                    self.assertTrue(os.path.exists(target), target)
                    self.assertNotIn("shared", os.path.relpath(target, REPO).split(os.sep)[0])

    def check(self, key, ns):
        root = self.root
        if key.startswith("load_dataset"):
            images, labels = next(iter(ns["ds"]))
            self.assertEqual(tuple(images.shape), (32, 16, 16, 3))
            self.assertEqual(labels.dtype, tf.int32)
        elif key.startswith("model = DCGAN"):
            self.assertEqual(ns["images"].shape, (16, 16, 16, 3))
            self.assertEqual(int(ns["model"].cur_nimg.numpy()), 2 * 8)
            self.assertEqual(ns["gan"].r1_interval, 16)  # compiled from the preset
        elif key == "prediction_service_pb2_grpc":
            for seed in range(16):
                with Image.open(os.path.join(root, f"seed{seed:04d}.png")) as image:
                    self.assertEqual(image.size, (16, 16))
            self.assertEqual(ns["images"].dtype, np.uint8)
        elif key.startswith("export.load_network"):
            self.assertEqual(ns["images"].shape, (8, 16, 16, 3))
            by_id = ns["view"].images_from_seeds(range(8), labels=0, psi=0.7)
            self.assertAllEqual(ns["images"], by_id)  # 건물화재 is class 0
            for name in ("walk.gif", "mix.png"):
                self.assertTrue(os.path.isfile(os.path.join(root, name)), name)
            self.assertTrue(os.path.isfile(os.path.join(root, "exported", "fire", "2",
                                                        "saved_model.pb")))
        else:
            self.assertEqual(ns["ours"].shape, (4, 16, 16, 3))
            self.assertEqual(ns["ours"].dtype, np.uint8)


if __name__ == "__main__":
    tf.test.main()
