"""Every script's --help lists the script's own flags (defined in the script or generated
in tfdisgan.flags / the experiments), not only --helpfull."""

import glob
import os
import re

import tensorflow as tf

from tests.fixtures import REPO, run_script

_FLAG = re.compile(r"^\s+--(?:\[no\])?([a-z_0-9]+)[:=]", re.M)


def _sections(text):
    """``{module: [flag names]}`` of a --helpfull text."""
    out, module = {}, None
    for line in text.splitlines():
        if re.match(r"^\S.*:$", line):
            module = line[:-1]
            out[module] = []
        elif module is not None:
            match = _FLAG.match(line)
            if match:
                out[module].append(match.group(1))
    return out


class ScriptHelpTest(tf.test.TestCase):
    def test_help_lists_the_scripts_flags(self):
        scripts = sorted(glob.glob(os.path.join(REPO, "scripts", "*.py")))
        self.assertGreaterEqual(len(scripts), 10)
        for path in scripts:
            name = os.path.basename(path)
            with self.subTest(script=name):
                full = run_script(name, "--helpfull", timeout=120)
                own = [flag for module, names in _sections(full.stdout).items()
                       if not module.startswith(("absl", "tensorflow")) for flag in names]
                self.assertNotEmpty(own, full.stdout[-2000:] + full.stderr[-2000:])
                short = run_script(name, "--help", timeout=120).stdout
                listed = set(_FLAG.findall(short))
                self.assertEqual(sorted(set(own) - listed), [])


class ExitCodeTest(tf.test.TestCase):
    def test_usage_errors_exit_2_naming_the_flag(self):
        cases = (("train.py", ["--no_such_flag=3"], "no_such_flag"),
                 ("generate.py", ["--seeds=0"], "--network"),  # required flag missing
                 ("dataset_tool.py", ["--source=x", "--dest=y", "extra"], "extra"),
                 ("plot_run.py", [], "--run"))
        for script, args, named in cases:
            with self.subTest(script=script):
                result = run_script(script, *args, timeout=120)
                self.assertEqual(result.returncode, 2, result.stderr[-2000:])
                self.assertIn(named, result.stderr)
                self.assertNotIn("Traceback", result.stderr)


class QuietStartTest(tf.test.TestCase):
    def test_no_harmless_tensorflow_noise_on_stderr(self):
        # As a user runs it (no TF_CPP_MIN_LOG_LEVEL): TensorFlow's start-up lines on this
        # GPU-less machine (absl's stderr notice, the CUDA stub and cuInit probes, oneDNN's
        # notice where its kernels are on) are gone.
        import subprocess
        import sys

        env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
        env["PYTHONPATH"] = REPO
        result = subprocess.run(
            [sys.executable, os.path.join(REPO, "scripts", "train.py"), "--dry_run",
             "--data=procedural:8", "--resolution=16", "--kimg=1"],
            capture_output=True, text=True, env=env, timeout=300)
        self.assertEqual(result.returncode, 0, result.stderr[-2000:])
        for noise in ("absl::InitializeLog", "cudart_stub", "cuInit", "cpu_feature_guard",
                      "oneDNN custom operations"):
            self.assertNotIn(noise, result.stderr)
        self.assertIn("--resolution=16", result.stdout)

    def test_a_stylegan2_run_logs_no_grappler_error(self):
        # One step trains every phase (R1 and path length both run at step 0), with
        # grappler on as users run. Its remapper used to fail on the whole step ("remapper
        # failed: ... LeakyReluGrad ... BiasAdd"), an error line in every run and none of its
        # fusions applied (tfdisgan.layers.bias_act._leaky_relu).
        import subprocess
        import sys

        env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
        env["PYTHONPATH"] = REPO
        result = subprocess.run(
            [sys.executable, os.path.join(REPO, "scripts", "train.py"), "--model=stylegan2",
             "--cfg=cpu_tiny", "--data=procedural:8", "--resolution=16", "--batch=4",
             "--steps=1", "--z_dim=16", "--w_dim=16", "--channel_base=128",
             "--channel_max=16", "--mapping_layers=1", "--mbstd_group=2", "--grid_seeds=4",
             "--noshowcase", f"--outdir={self.get_temp_dir()}"],
            capture_output=True, text=True, env=env, timeout=600)
        self.assertEqual(result.returncode, 0, result.stderr[-2000:])
        self.assertNotIn("failed", result.stderr)
        self.assertNotIn("E0000", result.stderr)
        # The step it optimised trained: R1 and path length ran, every value finite.
        import glob
        import json
        import math

        (log,) = glob.glob(os.path.join(self.get_temp_dir(), "*", "log.jsonl"))
        with open(log, encoding="utf-8") as handle:
            line = json.loads(handle.readlines()[-1])
        self.assertGreater(line["r1"], 0.0)
        self.assertGreater(line["pl_penalty"], 0.0)
        self.assertTrue(all(math.isfinite(v) for v in line.values()
                            if isinstance(v, float)), line)


if __name__ == "__main__":
    tf.test.main()
