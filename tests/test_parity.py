"""The convergence-parity experiment (`tfdisgan.experiments.parity`, scripts/parity.py).

The official side needs torch and the official tree, which CI lacks, so here it is played by
a stand-in script run the same way (a subprocess given the same command line): it copies a
real stylegan2-ada-pytorch snapshot (tests/compat/sg2ada_pytorch/tiny-cond16.pkl) into its
--outdir as the official loop names them and writes a stats.jsonl. Everything after the
subprocess is the real path: the snapshots are imported into our StyleGAN2 and measured by
the same code as ours. Our side trains for real through `training.run`.
"""

import json
import os
import sys

import numpy as np
import tensorflow as tf
from PIL import Image

from tests.fixtures import REPO
from tfdisgan.experiments import parity

STAND_IN = '''
import json, os, shutil, sys
args = dict(a[2:].split("=", 1) for a in sys.argv[1:] if "=" in a)
flags = [a for a in sys.argv[1:] if "=" not in a]
out = args["outdir"]
os.makedirs(out)
assert os.path.isfile(os.path.join(args["data"], "dataset.json"))
for kimg in (0, 1, 2):
    shutil.copyfile(os.environ["STAND_IN_PKL"],
                    os.path.join(out, f"network-snapshot-{kimg:06d}.pkl"))
with open(os.path.join(out, "stats.jsonl"), "w") as handle:
    for p in (0.0, 0.25):
        handle.write(json.dumps({"Timing/sec_per_kimg": {"mean": 50.0},
                                 "Progress/augment": {"mean": p}}) + "\\n")
with open(os.path.join(out, "argv.json"), "w") as handle:
    json.dump(sys.argv[1:], handle)
'''


def _stand_in(outdir):
    """(the stand-in official script, a fake official tree) written under `outdir`."""
    stand_in = os.path.join(outdir, "stand_in.py")
    with open(stand_in, "w") as handle:
        handle.write(STAND_IN)
    root = os.path.join(outdir, "tree")
    os.makedirs(os.path.join(root, "training"))
    open(os.path.join(root, "training", "training_loop.py"), "w").close()
    os.environ["STAND_IN_PKL"] = os.path.join(REPO, "tests", "compat", "sg2ada_pytorch",
                                              "tiny-cond16.pkl")
    return stand_in, root


def _tiny(outdir, **overrides):
    return parity.ParityConfig(**{**dict(
        outdir=outdir, data="procedural:32", resolution=16, kimg=0.008, eval_kimg=0.004,
        seeds=("0",), arms=("cond",), sides=("ours",), batch=4, channel_base=128,
        channel_max=16, z_dim=16, mapping_layers=1, mbstd_group=2, num_gen=16,
        feature_net="none"), **overrides})


class CheckConfigTest(tf.test.TestCase):
    def test_bad_settings_name_the_flag(self):
        root = self.get_temp_dir()
        cases = {
            "--kimg": dict(kimg=0.0),
            "--eval_kimg": dict(eval_kimg=1.0),
            "--seeds": dict(seeds=("x",)),
            "--arms": dict(arms=("plain", "gan")),
            "--sides": dict(sides=()),
            "--num_gen": dict(num_gen=4),
            "--peer_python": dict(sides=("official",), eval_kimg=1.0, kimg=1.0),
            "--eval_kimg ": dict(sides=("official",), kimg=1.0, eval_kimg=0.5),
            "--peer_root": dict(sides=("official",), eval_kimg=1.0, kimg=1.0,
                                peer_python=sys.executable, peer_root=root),
        }
        for flag, overrides in cases.items():
            with self.subTest(flag=flag):
                with self.assertRaisesRegex(parity.ParityError, "^" + flag.strip()):
                    parity.check_config(_tiny(root, **overrides))

    def test_official_command_matches_our_config(self):
        config = _tiny("out", peer_python="py", arms=("ada",), ada_kimg=4.0)
        command = parity.official_command(config, "ada", 3, "data", "o")
        ours = parity.train_config(config, "ada", 3)
        values = dict(a[2:].split("=", 1) for a in command if "=" in a)
        self.assertEqual(int(values["batch"]), ours.batch)
        self.assertEqual(int(values["cbase"]), ours.channel_base)
        self.assertEqual(int(values["cmax"]), ours.channel_max)
        self.assertEqual(int(values["zdim"]), ours.z_dim)
        self.assertEqual(int(values["map"]), ours.mapping_layers)
        self.assertEqual(int(values["mbstd"]), ours.mbstd_group)
        self.assertEqual(float(values["gamma"]), ours.r1_gamma)
        self.assertEqual(float(values["ema"]), ours.ema_kimg)
        self.assertEqual(float(values["lr"]), ours.g_lr)
        self.assertEqual(float(values["ada_kimg"]), ours.ada_kimg)
        self.assertEqual(int(values["seed"]), ours.seed)
        self.assertIn("--ada", command)
        self.assertEqual(ours.augment, "ada")
        self.assertNotIn("--cond", command)


class ParityRunTest(tf.test.TestCase):
    def test_the_official_side_is_run_imported_evaluated_and_reported(self):
        outdir = self.get_temp_dir()
        stand_in, root = _stand_in(outdir)
        report_dir = os.path.join(outdir, "report")
        config = _tiny(outdir, sides=("official",), kimg=2.0, eval_kimg=1.0,
                       peer_python=sys.executable, peer_root=root, peer_script=stand_in,
                       report_dir=report_dir)
        result = parity.run_parity(config, verbose=False)

        # The reals went out in the official dataset format, with their classes.
        with open(os.path.join(outdir, "data", "dataset.json")) as handle:
            labels = json.load(handle)["labels"]
        self.assertLen(labels, 32)
        self.assertEqual(sorted({label for _, label in labels}), [0, 1, 2, 3])
        first = np.asarray(Image.open(os.path.join(outdir, "data", labels[0][0])))
        self.assertEqual(first.shape, (16, 16, 3))
        with open(os.path.join(outdir, "official", "cond-s0", "argv.json")) as handle:
            self.assertIn("--cond", json.load(handle))

        theirs = result["runs"]["official"]["cond"]["0"]
        # The snapshot after the first minibatch (kimg 0) is not evaluated.
        self.assertEqual([p["kimg"] for p in theirs["points"]], [1, 2])
        for point in theirs["points"]:
            self.assertGreater(point["swd"], 0.0)
            self.assertTrue(0.0 < point["msssim"] < 1.0)
        self.assertAllClose(theirs["img_per_s"], 20.0)  # 1000 / 50 sec per kimg
        self.assertIsNone(theirs["aug_p"])  # not an ADA arm
        self.assertIn("| cond | swd | 1 | - |", result["table"])
        for name in ("parity.md", "parity.json", "parity_curves.png", "parity_cond.png"):
            self.assertTrue(os.path.isfile(os.path.join(report_dir, name)), name)

    def test_our_side_trains_and_every_snapshot_is_evaluated(self):
        outdir = self.get_temp_dir()
        result = parity.run_parity(_tiny(outdir), verbose=False)
        ours = result["runs"]["ours"]["cond"]["0"]
        # A checkpoint every eval_kimg: steps 1 and 2 of batch 4.
        self.assertEqual([p["kimg"] for p in ours["points"]], [0.004, 0.008])
        for point in ours["points"]:
            self.assertGreater(point["swd"], 0.0)
            self.assertTrue(0.0 < point["msssim"] < 1.0)
        self.assertGreater(ours["wall_s"], 0.0)
        self.assertIn("| cond | swd | 0.004 |", result["table"])
        self.assertIn("| cond | msssim | 0.008 |", result["table"])
        grid = np.asarray(Image.open(os.path.join(outdir, "parity_cond.png")))
        self.assertEqual(grid.shape[0], 256)  # a 4 x 4 grid of 16 px, enlarged to 256

    def test_loop_speeds_time_both_whole_loops_without_snapshots_between(self):
        # The benchmark's loop-vs-loop figure (scripts/benchmark.py --suites=demo32): ours
        # trains for real through training.run, the official side is the stand-in.
        outdir = self.get_temp_dir()
        stand_in, root = _stand_in(outdir)
        config = _tiny(outdir, kimg=0.012, eval_kimg=0.004, peer_python=sys.executable,
                       peer_root=root, peer_script=stand_in)
        result = parity.loop_speeds(config, log=lambda *_: None)

        self.assertAllClose(result["official"]["images_per_s"], 20.0)
        ours = result["ours"]["images_per_s"]
        self.assertGreater(ours, 0.0)
        self.assertAllClose(result["ours_over_official"], ours / 20.0, rtol=1e-3)
        # Neither side snapshots between ticks: the official one is told so, and our run
        # keeps only the checkpoint at its end (3 ticks of one step).
        with open(os.path.join(outdir, "official", "plain-s0", "argv.json")) as handle:
            argv = json.load(handle)
        self.assertIn("--snap=1000000", argv)
        self.assertIn("--tick=0.004", argv)
        run_dir = os.path.join(outdir, "ours", "00000-plain-s0")
        with open(os.path.join(run_dir, "log.jsonl")) as handle:
            self.assertLen(handle.readlines(), 3)
        checkpoints = [n for n in os.listdir(os.path.join(run_dir, "checkpoints"))
                       if n.endswith(".index")]
        self.assertLen(checkpoints, 1)
        with self.assertRaisesRegex(parity.ParityError, "at least two ticks"):
            parity.loop_speeds(_tiny(outdir, kimg=0.004, eval_kimg=0.004))


if __name__ == "__main__":
    tf.test.main()
