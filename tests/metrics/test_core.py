"""Tests of the metric registry, calc_metrics, the real-feature cache and the training callback."""

import functools
import json
import os

import numpy as np
import tensorflow as tf

from tests.metrics import fixtures
from tfdisgan import training
from tfdisgan.data import tfrecords
from tfdisgan.metrics import core, features


class CountingNetwork(features.FeatureNetwork):
    """A cheap feature network that counts the images it sees (to observe cache hits)."""

    name = "counting"

    def __init__(self, fingerprint="v1"):
        super().__init__(fingerprint, batch_size=16)
        self.seen = 0
        self.dim = 12

    def compute(self, batch):
        self.seen += len(batch)
        x = batch.astype(np.float32) / 255.0
        return np.concatenate([x.mean(axis=(1, 2)), x.std(axis=(1, 2)),
                               x[:, ::4, ::4].mean(axis=(1, 2)), x.max(axis=(1, 2))], axis=1)


class RegistryTest(tf.test.TestCase):
    def test_names_aliases_and_counts(self):
        self.assertEqual(core.resolve_metrics("fid,kid50k_full,pr,swd,msssim,fid"),
                         ["fid50k_full", "kid50k_full", "pr50k3_full", "swd", "msssim"])
        with self.assertRaisesRegex(ValueError, "Unknown metric 'is50k'.*fid50k_full"):
            core.resolve_metrics(["is50k"])
        self.assertEqual(core.metric_name("fid50k_full"), "fid50k_full")
        self.assertEqual(core.metric_name("fid", 2000), "fid2k_full")
        self.assertEqual(core.metric_name("kid", 500), "kid500_full")
        self.assertEqual(core.result_keys("pr", 2000),
                         ["pr2k3_full_precision", "pr2k3_full_recall"])
        self.assertEqual(core.metric_name("swd", 100), "swd")


class CalcMetricsTest(tf.test.TestCase):
    def setUp(self):
        super().setUp()
        self.data = os.path.join(self.get_temp_dir(), "d16")
        if not os.path.isdir(self.data):
            tfrecords.build_dataset("procedural:40", self.data, resolution=16, verbose=False)
        self.cache = os.path.join(self.get_temp_dir(), "cache")

    def test_all_metrics_records_and_jsonl(self):
        run_dir = os.path.join(self.get_temp_dir(), "run")
        network = CountingNetwork()
        records = core.calc_metrics(
            fixtures.FakeGenerator(16), self.data, "fid,kid,pr,swd,msssim", num_gen=24,
            network=network, cache_dir=self.cache, run_dir=run_dir, batch_size=10)
        results = core.flat_results(records)
        self.assertEqual(sorted(results), sorted([
            "fid24_full", "kid24_full", "pr243_full_precision", "pr243_full_recall", "swd",
            "swd_16", "msssim", "msssim_real"]))
        self.assertTrue(core.is_finite_results(records))
        self.assertGreater(results["fid24_full"], 0.0)
        self.assertTrue(0 <= results["pr243_full_recall"] <= 1)
        self.assertEqual(network.seen, 24 + 40)  # one pass over the fakes, all 40 reals
        for record in records:
            path = os.path.join(run_dir, f"metric-{record['metric']}.jsonl")
            with open(path) as handle:
                line = json.loads(handle.readline())
            self.assertEqual(line["results"], record["results"])
            self.assertEqual(line["num_gen"], 24)
        fid = records[0]
        self.assertEqual((fid["num_real"], fid["feature_net"], fid["comparable_with_papers"]),
                         (40, "counting", False))
        self.assertEqual(fid["note"], "not comparable with published FID")
        self.assertEqual(records[3]["num_real"], 24)  # SWD compares equal counts
        # 40 reals / 24 fakes: every metric says it means little, naming the counts; the
        # device count is the real one (this CPU: no GPU).
        for record in records:
            self.assertIn(f"{record['num_real']} reals / 24 fakes, fewer than the",
                          record["warning"])
            self.assertEqual(record["num_gpus"],
                             1 if tf.config.list_logical_devices("GPU") else 0)
        self.assertIn("biased upwards", fid["warning"])
        self.assertEqual(core.few_images_warning("fid", 50000, 50000), "")

    def test_precision_recall_is_never_labelled_comparable(self):
        # Even with the standard FID network: the published pr50k3_full embeds with VGG16.
        network = CountingNetwork()
        network.comparable = True
        records = core.calc_metrics(
            fixtures.FakeGenerator(16), self.data, "fid,pr", num_gen=12, network=network,
            cache_dir=self.cache, batch_size=12)
        by_name = {r["metric"]: r for r in records}
        self.assertTrue(by_name["fid12_full"]["comparable_with_papers"])
        self.assertNotIn("note", by_name["fid12_full"])
        self.assertFalse(by_name["pr123_full"]["comparable_with_papers"])
        self.assertIn("VGG16", by_name["pr123_full"]["note"])

    def test_stylegan2_fakes_use_random_noise_as_the_official_metrics(self):
        # The training callback passes the GAN model, scripts/metrics.py a view: both must
        # sample noise_mode="random", so one checkpoint scores alike during and after.
        from tfdisgan.models import StyleGAN2

        gan = StyleGAN2(resolution=16, z_dim=8, w_dim=8, channel_base=64, channel_max=8,
                        mapping_layers=1)
        seen = []
        original = gan.generate

        @functools.wraps(original)  # keeps generate's signature, which the sampler reads
        def spy(**kwargs):
            seen.append(kwargs.get("noise_mode"))
            return original(**kwargs)

        gan.generate = spy
        batch = next(core.iterate_fakes(gan, 2, batch_size=2))
        self.assertEqual(batch.shape, (2, 16, 16, 3))
        self.assertEqual(seen, ["random"])

    def test_closer_generator_scores_better(self):
        network = CountingNetwork()
        near = core.calc_metrics(fixtures.FakeGenerator(16), self.data, ["fid", "swd"],
                                 num_gen=40, network=network, cache_dir=self.cache)
        far = core.calc_metrics(fixtures.FakeGenerator(16, offset=90), self.data,
                                ["fid", "swd"], num_gen=40, network=network,
                                cache_dir=self.cache)
        self.assertLess(near[0]["results"]["fid40_full"], far[0]["results"]["fid40_full"])

    def test_real_feature_cache_hit_and_invalidation(self):
        network = CountingNetwork()
        first, hit = core.real_features(self.data, network, 16, cache_dir=self.cache)
        self.assertFalse(hit)
        self.assertEqual(network.seen, 40)
        again, hit = core.real_features(self.data, network, 16, cache_dir=self.cache)
        self.assertTrue(hit)
        self.assertEqual(network.seen, 40)  # nothing recomputed
        self.assertAllEqual(first, again)
        # Another metric configuration (number of reals, weights) -> another entry.
        _, hit = core.real_features(self.data, network, 16, max_real=20, cache_dir=self.cache)
        self.assertFalse(hit)
        _, hit = core.real_features(self.data, CountingNetwork("v2"), 16, cache_dir=self.cache)
        self.assertFalse(hit)
        # The dataset rebuilt with other images -> the manifest checksum changes -> miss.
        before = core.dataset_fingerprint(self.data)
        tfrecords.build_dataset("procedural:40", self.data, resolution=16, seed=5,
                                overwrite=True, verbose=False)
        self.assertNotEqual(core.dataset_fingerprint(self.data), before)
        changed, hit = core.real_features(self.data, network, 16, cache_dir=self.cache)
        self.assertFalse(hit)
        self.assertNotAllClose(changed, first)
        _, hit = core.real_features(self.data, network, 16, cache_dir=self.cache)
        self.assertTrue(hit)

    def test_missing_inception_fails_before_generating(self):
        os.environ["KERAS_HOME"] = os.path.join(self.get_temp_dir(), "no_keras")
        generator = fixtures.FakeGenerator(16)
        try:
            with self.assertRaisesRegex(features.InceptionNotFoundError, "inception-2015"):
                core.calc_metrics(generator, self.data, ["fid"], num_gen=8)
        finally:
            del os.environ["KERAS_HOME"]
        self.assertEqual(generator.calls, 0)


class TrainingCallbackTest(tf.test.TestCase):
    def test_metrics_reach_log_jsonl_and_best_checkpoint(self):
        outdir = self.get_temp_dir()
        inception = fixtures.write_synthetic_inception(os.path.join(outdir, "inception"),
                                                       inception_shaped=True)
        _, digest = features.read_graph_def(inception)
        # The main model (StyleGAN2, R1 and path length on, conditional) ending with its
        # showcase, as train.py runs it by default.
        config = training.TrainConfig(
            outdir=outdir, data="procedural:64", resolution=16, model="stylegan2",
            cfg="cpu_tiny", z_dim=16, w_dim=16, channel_base=128, channel_max=16,
            mapping_layers=1, conditional=True, batch=8, tick_kimg=0.016, snapshot_ticks=2,
            grid_seeds=4, steps=4, metrics=("fid", "swd"), metrics_kimg=0.016,
            metrics_num_gen=16, inception=inception, best_metric="fid16_full",
            run_name="sg2", inception_sha256=digest.upper())  # the user checked this file
        os.environ["TFDISGAN_CACHE"] = os.path.join(outdir, "cache")
        try:
            run_dir = training.run(config, verbose=False)
        finally:
            del os.environ["TFDISGAN_CACHE"]
        with open(os.path.join(run_dir, "log.jsonl")) as handle:
            lines = [json.loads(line) for line in handle]
        self.assertEqual([line["step"] for line in lines], [2, 4])
        for line in lines:
            for key in ("fid16_full", "swd", "swd_16", "d_loss"):
                self.assertIn(key, line)
            self.assertTrue(np.isfinite(line["fid16_full"]))
        with open(os.path.join(run_dir, "metric-fid16_full.jsonl")) as handle:
            records = [json.loads(line) for line in handle]
        self.assertEqual([r["step"] for r in records], [2, 4])
        self.assertEqual(records[0]["results"]["fid16_full"], lines[0]["fid16_full"])
        # Comparable because the user vouched for the graph's digest (--inception_sha256);
        # without that (below) the same graph is not.
        self.assertTrue(records[0]["comparable_with_papers"])
        self.assertNotIn("note", records[0])
        best = tf.train.latest_checkpoint(os.path.join(run_dir, "checkpoints", "best"))
        self.assertIsNotNone(best)
        best_step = int(best.rsplit("-", 1)[1])
        best_line = min(lines, key=lambda line: line["fid16_full"])
        self.assertEqual(best_step, best_line["step"])

        # The end-of-run showcase: samples, a walk, a style-mixing figure, a SavedModel
        # whose images equal the checkpoint's.
        from PIL import Image

        from tfdisgan import export

        showcase = os.path.join(run_dir, "showcase")
        with Image.open(os.path.join(showcase, "style_mixing.png")) as image:
            self.assertEqual(image.size, (5 * 128, 4 * 128))  # 4 column + 3 row seeds, 8x
        with Image.open(os.path.join(showcase, "latent_walk.gif")) as gif:
            self.assertGreater(gif.n_frames, 1)
        self.assertTrue(os.path.isfile(os.path.join(showcase, "samples.png")))
        saved = os.path.join(run_dir, "export", "sg2", "1")
        view = export.load_network(run_dir)
        self.assertAllEqual(export.load_network(saved).images_from_seeds([0, 1], "flood", 0.7),
                            view.images_from_seeds([0, 1], "flood", 0.7))

        # The trained run measured afterwards as scripts/metrics.py does (its own data,
        # results appended to its run folder, the checkpoint's kimg recorded).
        from tfdisgan import measure

        records = measure.measure(run_dir, ["swd", "msssim"], num_gen=16, verbose=False)
        self.assertEqual(records[0]["resolution"], 16)
        self.assertAllClose(records[0]["kimg"], 0.032)
        with open(os.path.join(run_dir, "metric-swd.jsonl")) as handle:
            swd_lines = [json.loads(line) for line in handle]
        self.assertLen(swd_lines, 3)  # steps 2 and 4 in training, then this evaluation
        self.assertAllClose(swd_lines[2]["results"]["swd"], swd_lines[1]["results"]["swd"],
                            rtol=1e-5)  # same weights (EMA generator), same seeds
        # Inception-shaped (mixed_10, 2048-d) but no verified digest: labelled, and the note
        # says how to vouch for the file.
        (fid,) = measure.measure(run_dir, ["fid"], num_gen=16, inception=inception,
                                 verbose=False)
        self.assertFalse(fid["comparable_with_papers"])
        self.assertStartsWith(fid["note"], "not comparable with published FID")
        self.assertIn(f"--inception_sha256={digest}", fid["note"])
        self.assertAllClose(fid["results"]["fid16_full"], lines[-1]["fid16_full"], rtol=1e-4)
        wrong = f"--inception_sha256: .*{digest}, not 0+: it is not the file"
        with self.assertRaisesRegex(ValueError, wrong):
            measure.measure(run_dir, ["fid"], num_gen=16, inception=inception,
                            inception_sha256="0" * 64, verbose=False)

    def test_script_reports_missing_inception_before_loading(self):

        outdir = self.get_temp_dir()
        # A run folder's shape (config.json + a checkpoint) is enough: the script checks the
        # feature network before it rebuilds the model.
        run_dir = os.path.join(outdir, "00000-run")
        os.makedirs(run_dir, exist_ok=True)
        with open(os.path.join(run_dir, "config.json"), "w") as handle:
            json.dump({"data": "procedural:16"}, handle)
        tf.train.Checkpoint(step=tf.Variable(1)).save(os.path.join(run_dir, "checkpoints",
                                                                   "ckpt"))
        from tests.fixtures import run_script

        result = run_script("metrics.py", f"--network={run_dir}", "--metrics=swd,fid",
                            "--num_gen=8", timeout=300,
                            KERAS_HOME=os.path.join(outdir, "empty"))
        self.assertEqual(result.returncode, 2, result.stderr[-2000:])
        self.assertIn("metrics: error: The standard FID Inception network", result.stderr)
        self.assertIn(features.INCEPTION_URL, result.stderr)
        self.assertFalse(os.path.exists(os.path.join(run_dir, "metric-swd.jsonl")))

    def test_bad_metric_flags_fail_fast(self):
        info = training.describe("procedural:8")
        for overrides, message in [
            (dict(metrics=("fid", "is50k")), "--metrics: Unknown metric 'is50k'"),
            (dict(metrics=("swd",), metrics_kimg=0.0), "--metrics_kimg: must be > 0"),
            (dict(metrics=("fid",), feature_net="vgg"), "--feature_net: must be one of"),
            (dict(metrics=("swd", "kid"), inception="/nonexistent/inception.tgz"),
             "(?s)--inception: The standard FID Inception network .*download.tensorflow.org"),
        ]:
            with self.subTest(message=message):
                config = training.TrainConfig(resolution=16, steps=1, **overrides)
                with self.assertRaisesRegex(training.ConfigError, message):
                    training.validate(config, info)


class MetricsFlagsTest(tf.test.TestCase):
    def test_flags_are_the_config_fields_and_help_lists_them(self):
        import dataclasses

        from absl import flags as absl_flags

        from tests.fixtures import run_script
        from tfdisgan import flags as tfd_flags
        from tfdisgan.config import MetricsConfig

        values = absl_flags.FlagValues()
        tfd_flags.define_metrics_flags(values)
        names = [f.name for f in dataclasses.fields(MetricsConfig)]
        self.assertContainsSubset(names, list(values))
        values(["metrics.py", "--network=runs/00001-x", "--metrics=fid,swd", "--num_gen=500",
                "--feature_net=keras_inceptionv3"])
        self.assertEqual(tfd_flags.metrics_config_from_flags(values), MetricsConfig(
            network="runs/00001-x", metrics=("fid", "swd"), num_gen=500,
            feature_net="keras_inceptionv3"))
        with self.assertRaises(absl_flags.IllegalFlagValueError):
            values(["metrics.py", "--network=x", "--feature_net=vgg"])
        # The script's --help lists every field (flags defined before app.run, TF-free).
        result = run_script("metrics.py", "--help", timeout=120)  # absl exits 1 after help
        self.assertNotIn("Traceback", result.stderr)
        for name in names:
            self.assertIn(f"  --{name}:", result.stdout)


class PlotRunTest(tf.test.TestCase):
    def _run_dir(self):
        run_dir = os.path.join(self.get_temp_dir(), "00000-x")
        os.makedirs(run_dir, exist_ok=True)
        with open(os.path.join(run_dir, "log.jsonl"), "w") as handle:
            for step in (2, 4):
                handle.write(json.dumps({"step": step, "kimg": step * 0.008, "d_loss": 1.0,
                                         "g_loss": 0.5 + step, "d_real": 0.1}) + "\n")
        records = [{"metric": "swd", "kimg": 0.016, "results": {"swd": 3.0, "swd_16": 3.0}},
                   {"metric": "swd", "kimg": 0.032, "results": {"swd": 2.0, "swd_16": 2.0}},
                   {"metric": "fid2k_full", "kimg": 0.032, "results": {"fid2k_full": 9.0},
                    "note": "not comparable with published FID"}]
        for record in records:
            core.report(record, run_dir, verbose=False)
        return run_dir

    def test_reads_curves_and_draws_png(self):
        from tfdisgan.metrics import plot

        run_dir = self._run_dir()
        series, notes = plot.read_run_logs(run_dir)
        self.assertEqual(series["losses"]["g_loss"], ([0.016, 0.032], [2.5, 4.5]))
        self.assertEqual(series["swd"]["swd_16"], ([0.016, 0.032], [3.0, 2.0]))
        self.assertEqual(notes, ["fid2k_full: not comparable with published FID"])
        path = plot.plot_run(run_dir)
        with open(path, "rb") as handle:
            self.assertEqual(handle.read(8), b"\x89PNG\r\n\x1a\n")
        with self.assertRaisesRegex(FileNotFoundError, "neither log.jsonl"):
            plot.read_run_logs(self.get_temp_dir() + "/nothing")

    def test_clear_error_without_matplotlib(self):
        import sys
        from unittest import mock

        from tfdisgan.metrics import plot

        with mock.patch.dict(sys.modules, {"matplotlib": None, "matplotlib.pyplot": None}):
            with self.assertRaisesRegex(ImportError, r"pip install 'tfdisgan\[plot\]'"):
                plot.plot_run(self._run_dir())
