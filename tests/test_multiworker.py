"""Multi-worker training: two local worker processes under MultiWorkerMirroredStrategy.

Each worker runs `training.run` with `--strategy=multiworker` and its own `TF_CONFIG`
(ports found free by binding port 0), one CPU replica each. The test checks that both
finish, that only the chief wrote the run folder (its checkpoint, log and samples exist;
the other worker's temporary folder is gone), that the workers end with the same weights
and ADA p (StyleGAN2 + ADA with lazy R1 and path length, the main model's defaults),
and that an indivisible global batch is rejected naming --batch with the cluster's replica
count.
"""

import json
import os
import socket
import subprocess
import sys
import time

import numpy as np
import tensorflow as tf

from tests.fixtures import REPO

TIMEOUT_S = 300  # two TensorFlow processes on a busy 2-core machine; ~30 s when idle

# The worker: trains, then writes a digest of its final weights (npz) and a record (json)
# under the path prefix it is given. Monkeypatches only observe (the model, the folder).
WORKER = r"""
import dataclasses, json, os, sys
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np
from tfdisgan import distribute, training
from tfdisgan.data import describe

prefix, outdir = sys.argv[1], sys.argv[2]
config = training.TrainConfig(  # the main model with ADA, R1 and path length (lazy) on
    data="procedural:32", outdir=outdir, resolution=16, model="stylegan2", cfg="cpu_tiny",
    z_dim=16, w_dim=16, channel_base=128, channel_max=16, mapping_layers=1, mbstd_group=2,
    augment="ada", ada_kimg=0.01, batch=4, steps=3, tick_kimg=0.008, snapshot_ticks=2,
    grid_seeds=4, showcase=False, strategy="multiworker", run_name="mw")
strategy = training.make_strategy(config)
record = {"replicas": strategy.num_replicas_in_sync, "chief": distribute.is_chief(strategy)}
try:
    training.validate(dataclasses.replace(config, batch=3), describe(config.data),
                      strategy.num_replicas_in_sync)
except training.ConfigError as error:
    record["batch_error"] = str(error)
models, dirs = [], []
make_checkpoint, worker_dir = training.make_checkpoint, distribute.worker_dir
training.make_checkpoint = lambda model, step: models.append(model) or make_checkpoint(
    model, step)
distribute.worker_dir = lambda run_dir, s=None: dirs.append(worker_dir(run_dir, s)) or dirs[-1]
record["run_dir"] = training.run(config, strategy=strategy, verbose=False)
model = models[0]
nets = (model.generator, model.discriminator, model.generator_ema)
weights = [v.numpy() for net in nets for v in net.weights]
np.savez(prefix + ".tmp.npz", *weights)
os.replace(prefix + ".tmp.npz", prefix + ".npz")
record.update(out_dir=dirs[0], out_dir_left=os.path.exists(dirs[0]),
              d_steps=int(model.d_optimizer.iterations.numpy()),
              aug_p=float(model.augment.p.numpy()),
              cur_nimg=int(model.cur_nimg.numpy()))
with open(prefix + ".json", "w") as handle:
    json.dump(record, handle)
"""


def _free_ports(count):
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("localhost", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


class MultiWorkerTest(tf.test.TestCase):
    def test_two_workers_train_and_agree(self):
        tmp = self.get_temp_dir()
        outdir = os.path.join(tmp, "runs")
        ports = _free_ports(2)
        cluster = {"worker": [f"localhost:{port}" for port in ports]}
        processes, logs = [], []
        try:
            for index in range(2):
                env = dict(os.environ, PYTHONPATH=REPO, CUDA_VISIBLE_DEVICES="",
                           TF_CONFIG=json.dumps({"cluster": cluster,
                                                 "task": {"type": "worker", "index": index}}))
                log = open(os.path.join(tmp, f"worker{index}.log"), "w+")
                logs.append(log)
                processes.append(subprocess.Popen(
                    [sys.executable, "-c", WORKER, os.path.join(tmp, f"worker{index}"),
                     outdir], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT))
            deadline = time.monotonic() + TIMEOUT_S
            while time.monotonic() < deadline and any(p.poll() is None for p in processes):
                if any(p.poll() not in (None, 0) for p in processes):
                    break  # one failed: the other would wait for it forever
                time.sleep(0.5)
            codes = [p.poll() for p in processes]
        finally:
            for process in processes:
                if process.poll() is None:
                    process.kill()
                    process.wait()
        tails = []
        for index, log in enumerate(logs):
            log.seek(0)
            tails.append(f"--- worker {index} ---\n" + log.read()[-6000:])
            log.close()
        self.assertEqual(codes, [0, 0], "\n".join(tails))

        records = []
        for index in range(2):
            with open(os.path.join(tmp, f"worker{index}.json")) as handle:
                records.append(json.load(handle))
        chief, worker = records
        self.assertEqual([r["replicas"] for r in records], [2, 2])
        self.assertEqual([r["chief"] for r in records], [True, False])
        for record in records:
            self.assertIn("--batch: 3 is not divisible by the 2 replicas", record["batch_error"])
            # 3 Dmain steps + the lazy Dreg of step 0; 3 steps of 4 images.
            self.assertEqual((record["d_steps"], record["cur_nimg"]), (4, 12))
        self.assertEqual(chief["aug_p"], worker["aug_p"])  # ADA's p is one value everywhere
        # Only the chief's run folder exists; the worker's temporary folder is removed.
        self.assertEqual(os.listdir(outdir), [os.path.basename(chief["run_dir"])])
        self.assertEqual(chief["out_dir"], chief["run_dir"])
        self.assertNotEqual(worker["out_dir"], chief["run_dir"])
        self.assertFalse(worker["out_dir_left"])
        self.assertFalse(os.path.exists(worker["out_dir"]))
        run_dir = chief["run_dir"]
        checkpoint = tf.train.latest_checkpoint(os.path.join(run_dir, "checkpoints"))
        self.assertIsNotNone(checkpoint)
        self.assertTrue(checkpoint.endswith("-3"), checkpoint)
        names = os.listdir(run_dir)
        for name in ("flags.txt", "config.json", "log.jsonl", "tensorboard"):
            self.assertIn(name, names)
        self.assertTrue(any(n.startswith("fakes") for n in names))
        self.assertIn("--strategy=multiworker", open(os.path.join(run_dir, "flags.txt")).read())
        # Mirrored variables: the same values on every worker after the last step.
        digests = [np.load(os.path.join(tmp, f"worker{index}.npz")) for index in range(2)]
        self.assertEqual(len(digests[0].files), len(digests[1].files))
        self.assertGreater(len(digests[0].files), 10)
        for key in digests[0].files:
            self.assertAllClose(digests[0][key], digests[1][key], atol=1e-6, rtol=1e-6,
                                msg=key)


if __name__ == "__main__":
    tf.test.main()
