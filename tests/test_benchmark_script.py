"""scripts/benchmark.py end to end: a suite measured into the JSON report, earlier results
of the same report kept, and flag errors in one line."""

import json
import os
import subprocess
import sys

import tensorflow as tf

from tests.fixtures import REPO, run_script


def _script(*args):
    return run_script("benchmark.py", *args)


class BenchmarkScriptTest(tf.test.TestCase):
    def test_a_suite_writes_the_report_and_keeps_earlier_results(self):
        out = os.path.join(self.get_temp_dir(), "machine.json")
        with open(out, "w", encoding="utf-8") as handle:
            json.dump({"reader": {"images_per_s": 123.0}}, handle)  # an earlier run's suite
        result = _script("--suites=procedural", f"--out={out}")
        self.assertEqual(result.returncode, 0, result.stderr[-3000:])
        with open(out, encoding="utf-8") as handle:
            report = json.load(handle)
        self.assertEqual(report["reader"], {"images_per_s": 123.0})
        self.assertGreater(report["procedural"]["images_per_s"], 0.0)
        for key in ("machine", "tensorflow", "keras"):
            self.assertIn(key, report["environment"])
        self.assertIn(f"wrote {out}", result.stdout)
        self.assertIn("| run | res | batch |", result.stdout)
        self.assertFalse(os.path.exists(out + ".tmp"))  # written atomically

    def test_flag_errors_name_the_flag(self):
        for args, expected in [
            (("--suites=nope",), "--suites: unknown ['nope']"),
            (("--suites=peer",), "--suites=peer needs --peer_root, --peer_python and "
                                 "--peer_bench"),
        ]:
            with self.subTest(args=args):
                out = os.path.join(self.get_temp_dir(), "never.json")
                result = _script(*args, f"--out={out}")
                self.assertNotEqual(result.returncode, 0)
                self.assertIn(expected, result.stderr)
                self.assertNotIn("Traceback", result.stderr)


class OfficialTimerTest(tf.test.TestCase):
    def test_the_peer_timer_ships_and_says_what_it_needs(self):
        # benchmarks/time_official.py runs the official code with torch, outside this suite
        # (no torch here); what is checked is its interface and its one-line errors.
        script = os.path.join(REPO, "benchmarks", "time_official.py")
        help_text = subprocess.run([sys.executable, script, "--help"], capture_output=True,
                                   text=True, timeout=60).stdout
        for flag in ("--configs", "--param-res", "--train-res", "--infer-res", "--batch",
                     "--out"):
            self.assertIn(flag, help_text)  # what throughput.run_peer passes
        env = {k: v for k, v in os.environ.items() if k != "SG2ADA_ROOT"}
        result = subprocess.run([sys.executable, script, "--out", "x.json"],
                                capture_output=True, text=True, env=env, timeout=60)
        self.assertEqual(result.returncode, 2)
        self.assertIn("SG2ADA_ROOT", result.stderr)
        self.assertNotIn("Traceback", result.stderr)
        # Both sizes the suites ask for (peer: paper256; demo32: the CPU demo size) are
        # known; another is refused naming them.
        result = subprocess.run([sys.executable, script, "--configs", "paper256,huge", "--out",
                                 "x.json"], capture_output=True, text=True, env=env, timeout=60)
        self.assertEqual(result.returncode, 2)
        self.assertIn("--configs: unknown ['huge']; valid: paper256, demo32", result.stderr)

    def test_demo32_matches_the_official_timer_and_the_demo_config(self):
        # The official timer's demo32 nets and ours are the same size: the ratio in the
        # benchmark JSON compares like with like.
        import importlib.util

        from tfdisgan.experiments.throughput import DEMO32

        spec = importlib.util.spec_from_file_location(
            "time_official", os.path.join(REPO, "benchmarks", "time_official.py"))
        official = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(official)
        theirs = official.CONFIGS["demo32"]
        self.assertEqual((theirs["cbase"], theirs["cmax"], theirs["map"], theirs["mbstd"],
                          theirs["z"]),
                         (DEMO32["channel_base"], DEMO32["channel_max"],
                          DEMO32["mapping_layers"], DEMO32["mbstd_group"], DEMO32["z_dim"]))
        self.assertEqual(DEMO32["z_dim"], DEMO32["w_dim"])


class Demo32SuiteTest(tf.test.TestCase):
    def test_the_ratio_is_against_the_official_loop_when_it_ran(self):
        # The timer's estimate of the official step is kept but is not the claim: the
        # ratio divides by the official training loop's own rate.
        from unittest import mock

        from tfdisgan.experiments import benchmarks

        loops = {"ours": {"images_per_s": 23.0}, "official": {"images_per_s": 14.6},
                 "ours_over_official": 1.575}
        config = benchmarks.BenchmarkConfig(peer_root="tree", peer_python="py",
                                            peer_bench="timer.py", peer_loop_kimg=1.0)
        with mock.patch.object(benchmarks, "bench_stylegan2_demo",
                               return_value={"images_per_s": 22.2}), \
                mock.patch.object(benchmarks.parity, "loop_speeds",
                                  return_value=loops) as loop_speeds, \
                mock.patch.object(benchmarks, "run_peer_demo",
                                  return_value={"images_per_s": 10.5}):
            result = benchmarks.bench_demo32_suite(["float32"], config, log=lambda *_: None)
        parity_config = loop_speeds.call_args.args[0]
        self.assertEqual((parity_config.kimg, parity_config.eval_kimg), (1.0, 0.25))
        self.assertEqual(result["loops"], loops)
        self.assertEqual(result["over_peer"], {"float32": round(22.2 / 14.6, 2)})
        self.assertEqual(result["over_peer_timer"], {"float32": round(22.2 / 10.5, 2)})

        # Without the loops (--peer_loop_kimg=0) the timer is all there is.
        config = benchmarks.BenchmarkConfig(peer_root="tree", peer_python="py",
                                            peer_bench="timer.py", peer_loop_kimg=0)
        with mock.patch.object(benchmarks, "bench_stylegan2_demo",
                               return_value={"images_per_s": 22.2}), \
                mock.patch.object(benchmarks.parity, "loop_speeds") as loop_speeds, \
                mock.patch.object(benchmarks, "run_peer_demo",
                                  return_value={"images_per_s": 10.5}):
            result = benchmarks.bench_demo32_suite(["float32"], config, log=lambda *_: None)
        loop_speeds.assert_not_called()
        self.assertEqual(result["over_peer"], {"float32": round(22.2 / 10.5, 2)})


if __name__ == "__main__":
    tf.test.main()
