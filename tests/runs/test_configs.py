"""Every shipped config resolves to what its header promises.

Each configs/*.cfg states in its header comment, besides the prose, one or more
machine-readable lines::

    # promises: model=stylegan2 resolution=512 augment=diffaugment precision=auto conditional=false
    # promises: cfg=auto batch=8 channel_base=32768

(`TrainConfig` field names; together they must give at least model, resolution, augment,
precision and conditional). The test loads the file as scripts/train.py does (absl
`--flagfile` into the flags of `flags.define_train_flags`, then `train_config_from_flags`),
resolves it with `training.validate` against its data and compares every promised field with
the resolved config. A config whose --data folder is the user's (data/building_fire, ...)
is validated against a tiny shard dataset built as its header's `dataset_tool.py` line says
(same --dest, same --resolution; a flat folder named after --source is one class, a folder
of class sub-folders one class per folder), so the resolution and class checks of
`validate` run for real. The prose must name the promised model, resolution, augmentation,
precision and (un)conditionality, so the two cannot drift apart.
"""

import dataclasses
import glob
import os
import re
import shutil
import tempfile
import types

import numpy as np
import tensorflow as tf
from absl import flags as absl_flags
from absl.testing import parameterized
from PIL import Image

from tests.runs.harness import REPO
from tfdisgan import flags as tfd_flags
from tfdisgan import training
from tfdisgan.data import PROCEDURAL_CLASSES, describe, tfrecords
from tfdisgan.precision import resolve_precision

CONFIGS = sorted(glob.glob(os.path.join(REPO, "configs", "*.cfg")))
REQUIRED = ("model", "resolution", "augment", "precision", "conditional")
# What the prose must say for each promised value (the flag lines are not prose).
PROSE = {
    "model": {"stylegan2": "StyleGAN2", "dcgan": "DCGAN"},
    "augment": {"diffaugment": "DiffAugment", "classic": "classic", "none": "no augmentation",
                "ada": "ADA", "diffaugment+ada": "ADA"},
    "precision": {"auto": "--precision=auto", "float32": "float32",
                  "mixed_float16": "float16", "mixed_bfloat16": "bfloat16"},
}
_DATASET_TOOL = re.compile(r"dataset_tool\.py\s+--source=(\S+)\s+--dest=(\S+)\s+"
                           r"--resolution=(\d+)")


def _comments(path):
    with open(path, encoding="utf-8") as handle:
        return [line.rstrip("\n") for line in handle if line.startswith("#")]


def _parse_value(field, text):
    """A promise's text as the type of `TrainConfig.field`."""
    kind = field.type
    if isinstance(kind, types.UnionType):  # "int | None" and friends
        kind = next(t for t in kind.__args__ if t is not type(None))
    if kind is bool:
        if text not in ("true", "false"):
            raise ValueError(f"{field.name}={text}: expected true or false")
        return text == "true"
    if kind is tuple:
        return tuple(text.split(",")) if text else ()
    return kind(text)


def read_promises(path):
    """`{field: value}` from the file's `# promises:` lines (ValueError on a bad one)."""
    fields = {f.name: f for f in dataclasses.fields(training.TrainConfig)}
    promises = {}
    for line in _comments(path):
        if not line.startswith("# promises:"):
            continue
        for item in line[len("# promises:"):].split():
            key, sep, text = item.partition("=")
            if not sep or key not in fields:
                raise ValueError(f"{item!r} is not FIELD=VALUE of a TrainConfig field")
            if key in promises:
                raise ValueError(f"{key} is promised twice")
            promises[key] = _parse_value(fields[key], text)
    return promises


def load_flagfile(path):
    """The `TrainConfig` scripts/train.py builds from `--flagfile=path` alone."""
    values = absl_flags.FlagValues()
    tfd_flags.define_train_flags(values)
    values(["train.py", f"--flagfile={path}"])
    return tfd_flags.train_config_from_flags(values)


def auto_precisions():
    """What `--precision=auto` may resolve to on this machine, read independently of
    `tfdisgan.precision`: float16 with a GPU, bfloat16 on a CPU with AVX512_BF16 or AMX,
    float32 otherwise."""
    if tf.config.list_physical_devices("GPU"):
        return {"mixed_float16"}
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            flags = {f for line in handle if line.startswith("flags")
                     for f in line.split(":", 1)[1].split()}
    except OSError:
        flags = set()
    return {"mixed_bfloat16"} if flags & {"avx512_bf16", "amx_bf16"} else {"float32"}


class ConfigPromisesTest(tf.test.TestCase, parameterized.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.scratch = tempfile.mkdtemp(prefix="tfdisgan-configs-")
        cls.built = {}  # (dest, resolution) -> tiny shard dataset

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.scratch, True)
        super().tearDownClass()

    def _data_for(self, path, config):
        """`config.data` itself, or the tiny stand-in its header's dataset_tool line builds."""
        if config.data.startswith("procedural:") or os.path.exists(
                os.path.join(REPO, config.data)):
            return config.data if config.data.startswith("procedural:") else os.path.join(
                REPO, config.data)
        builds = [m.groups() for m in map(_DATASET_TOOL.search, _comments(path)) if m]
        builds = [(s, d, int(r)) for s, d, r in builds if d.rstrip("/") == config.data.rstrip("/")]
        self.assertLen(builds, 1, f"the header must say how to build --data={config.data} "
                                  "(one dataset_tool.py line with that --dest)")
        source, dest, resolution = builds[0]
        key = (dest, resolution)
        if key not in self.built:
            name = os.path.basename(source.rstrip("/"))
            root = os.path.join(self.scratch, f"src{len(self.built)}", name)
            # A source named after a class is one flat folder (one class); any other
            # (PHOTOS) holds one sub-folder per class.
            classes = [None] if name in PROCEDURAL_CLASSES else sorted(PROCEDURAL_CLASSES)
            rng = np.random.default_rng(len(self.built))
            for sub in classes:
                folder = os.path.join(root, sub) if sub else root
                os.makedirs(folder)
                for i in range(2):
                    pixels = rng.integers(0, 256, [resolution, resolution, 3], np.uint8)
                    Image.fromarray(pixels).save(os.path.join(folder, f"{i}.png"))
            out = os.path.join(self.scratch, f"data{len(self.built)}",
                               os.path.basename(dest.rstrip("/")))
            tfrecords.build_dataset(root, out, resolution=resolution, num_workers=1,
                                    verbose=False)
            self.built[key] = out
        return self.built[key]

    def test_there_are_configs_and_each_promises(self):
        self.assertGreaterEqual(len(CONFIGS), 17)
        for path in CONFIGS:
            with self.subTest(config=os.path.basename(path)):
                promises = read_promises(path)
                missing = [key for key in REQUIRED if key not in promises]
                self.assertEqual(missing, [], "the '# promises:' lines must give these")

    def test_auto_precision_on_this_machine(self):
        # The test's own reading of the machine agrees with the library's.
        self.assertIn(resolve_precision("auto"), auto_precisions())

    @parameterized.named_parameters(
        *[(os.path.basename(p)[:-4], p) for p in CONFIGS])
    def test_config_resolves_to_its_promises(self, path):
        promises = read_promises(path)
        prose = "\n".join(line for line in _comments(path)
                          if not line.startswith("# promises:"))
        config = load_flagfile(path)
        data = self._data_for(path, config)
        info = describe(data)
        resolved, _, num_classes = training.validate(dataclasses.replace(config, data=data),
                                                     info)
        for key, promised in promises.items():
            with self.subTest(field=key):
                if key == "precision":
                    # The flag as written, then what it resolves to on this machine.
                    self.assertEqual(config.precision, promised)
                    expected = auto_precisions() if promised == "auto" else {promised}
                    self.assertIn(resolved.precision, expected)
                elif isinstance(promised, float):
                    self.assertAlmostEqual(getattr(resolved, key), promised, places=6)
                else:
                    self.assertEqual(getattr(resolved, key), promised)
        self.assertEqual(num_classes >= 2, promises["conditional"])
        # The prose says the same as the promises.
        for key, words in PROSE.items():
            self.assertIn(words[promises[key]], prose, f"prose vs {key}={promises[key]}")
        self.assertIn(f"{promises['resolution']} px", prose)
        self.assertEqual(bool(re.search(r"\bconditional\b", prose)), promises["conditional"],
                         "the prose says 'conditional' exactly when the config is")


if __name__ == "__main__":
    tf.test.main()
