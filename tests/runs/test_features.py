"""Run-level checks of StyleGAN2 features reached through scripts/train.py flags.

--transfer_from (a checkpoint of another run; a layer-swapped run folder), --freeze_d and
--freeze_mapping, the NaN guard on a real divergence, few-shot classes (a batch larger
than the selected images) and a bad dataset that must leave no run folder behind.
"""

import dataclasses
import json
import os
import tempfile

import numpy as np
import tensorflow as tf

from tests.runs.harness import RunState, changed, read_log, tiny_config
from tfdisgan import callbacks, mixing, training, transfer
from tfdisgan.data import tfrecords


def _report(run_dir):
    with open(os.path.join(run_dir, "transfer_report.json"), encoding="utf-8") as handle:
        return json.load(handle)


class TransferFreezeTest(tf.test.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.outdir = tempfile.mkdtemp()
        cls.source_config = tiny_config("stylegan2", cls.outdir, run_name="source", steps=4)
        cls.source = training.run(cls.source_config, verbose=False)

    def test_finetune_from_a_checkpoint_with_freeze_d_and_mapping(self):
        ckpt = os.path.join(self.source, "checkpoints", "ckpt-4")
        config = tiny_config("stylegan2", self.outdir, run_name="finetune", steps=3,
                             transfer_from=ckpt, freeze_d=1, freeze_mapping=True)
        run_dir = training.run(config, verbose=False)
        report = _report(run_dir)
        self.assertEqual(report["counts"]["loaded"], len(report["variables"]))
        frozen = set(report["frozen"])
        self.assertTrue(any(k.startswith("generator/mapping") for k in frozen), frozen)
        self.assertTrue(any(k.startswith("discriminator/") for k in frozen), frozen)
        source = RunState(self.source, self.source_config).weights("generator", "discriminator")
        tuned = RunState(run_dir, config).weights("generator", "discriminator")
        for key in frozen:
            self.assertAllEqual(tuned[key], source[key], msg=key)  # bit-identical
        trained = [k for k in changed(tuned, source, "") if k not in frozen]
        self.assertTrue(any(k.startswith("discriminator/") for k in trained), trained)
        self.assertTrue(any(k.startswith("generator/synthesis") for k in trained), trained)
        self.assertEqual([line["step"] for line in read_log(run_dir)], [1, 2, 3])

    def test_finetune_from_a_layer_swapped_run(self):
        other_config = dataclasses.replace(self.source_config, run_name="other", seed=7)
        other = training.run(other_config, verbose=False)
        model_a = RunState(self.source, self.source_config).model
        model_b = RunState(other, other_config).model
        swapped = mixing.swap_layers(model_a, model_b, 8)
        with open(os.path.join(self.source, "config.json"), encoding="utf-8") as handle:
            run_config = json.load(handle)
        folder = mixing.write_run(swapped, os.path.join(self.outdir, "swapped"), run_config)
        config = tiny_config("stylegan2", self.outdir, run_name="from_swap", steps=2,
                             transfer_from=folder, freeze_mapping=True)
        run_dir = training.run(config, verbose=False)
        report = _report(run_dir)
        self.assertEqual(report["counts"]["loaded"], len(report["variables"]))
        tuned = RunState(run_dir, config).weights("generator")
        swap = {k: v.numpy() for k, v in transfer.named_variables(swapped).items()}
        # Trainable mapping weights; w_avg is a statistic of w that training keeps updating.
        mapping = [k for k in swap if k.startswith("generator/mapping") and "w_avg" not in k]
        self.assertNotEmpty(mapping)
        for key in mapping:
            self.assertAllEqual(tuned[key], swap[key], msg=key)  # frozen: still the swap's
        # The swap took the 16 px block from B: the fine-tune started there, not from A.
        b16 = {k: v.numpy() for k, v in transfer.named_variables(model_b).items()
               if k.startswith("generator/synthesis/b16/")}
        a16 = {k: v.numpy() for k, v in transfer.named_variables(model_a).items()
               if k in b16}
        self.assertNotEmpty(b16)
        dist_b = sum(float(np.abs(tuned[k] - b16[k]).sum()) for k in b16)
        dist_a = sum(float(np.abs(tuned[k] - a16[k]).sum()) for k in a16)
        self.assertLess(dist_b, dist_a)


class DivergenceTest(tf.test.TestCase):
    def test_a_real_divergence_stops_and_keeps_the_last_finite_checkpoint(self):
        outdir = self.get_temp_dir()
        config = tiny_config("stylegan2", outdir, steps=3, snapshot_ticks=1)
        run_dir = training.run(config, verbose=False)
        good = RunState(run_dir, config).weights()
        # Resume with learning rates no network survives: weights overflow within a step.
        diverging = dataclasses.replace(config, steps=8, g_lr=1e30, d_lr=1e30, resume=run_dir)
        with self.assertRaisesRegex(callbacks.TrainingDiverged, "Non-finite .* at step 4"):
            training.run(diverging, verbose=False)
        state = RunState(run_dir, config)
        self.assertEqual(state.step, 3)  # no checkpoint of the diverged steps
        after = state.weights()
        self.assertTrue(all(np.all(np.isfinite(w)) for w in after.values()))
        for key, value in good.items():
            self.assertAllEqual(after[key], value, msg=key)
        self.assertEqual([line["step"] for line in read_log(run_dir)], [1, 2, 3])


class DataEdgeCasesTest(tf.test.TestCase):
    def test_a_class_with_fewer_images_than_the_batch_trains(self):
        # procedural:16 has 4 scenes per class; batch 16 draws each about 4 times a step,
        # as the official InfiniteSampler's endless stream does.
        config = tiny_config("stylegan2", self.get_temp_dir(), data="procedural:16",
                             classes=("flood",), batch=16, steps=2)
        run_dir = training.run(config, verbose=False)
        self.assertEqual([line["step"] for line in read_log(run_dir)], [1, 2])
        self.assertEqual(RunState(run_dir, config).step, 2)

    def test_a_dataset_that_fails_to_open_leaves_no_run_folder(self):
        data = os.path.join(self.get_temp_dir(), "shards")
        tfrecords.build_dataset("procedural:8", data, resolution=16, verbose=False)
        shard = sorted(n for n in os.listdir(data) if n.endswith(".tfrecord"))[0]
        with open(os.path.join(data, shard), "r+b") as handle:  # flip bytes mid-file
            handle.seek(os.path.getsize(os.path.join(data, shard)) // 2)
            handle.write(b"\xff" * 64)
        outdir = os.path.join(self.get_temp_dir(), "runs")
        config = tiny_config("dcgan", outdir, data=data, steps=2)
        with self.assertRaisesRegex(Exception, shard):
            training.run(config, verbose=False)
        self.assertFalse(os.path.exists(outdir) and os.listdir(outdir), os.listdir(outdir)
                         if os.path.exists(outdir) else None)


if __name__ == "__main__":
    tf.test.main()
