"""Writes tests/compat/runs-0.1.0 with the code of the working directory.

It was run once in a checkout of commit 473710a (tfdisgan 0.1.0, before the architecture
split of issue 14): ``cd OLD_CHECKOUT && PYTHONPATH=. python NEW/tests/compat/write_fixture.py
OUT``, then the TensorBoard folders and PNG snapshots were deleted. Two 2-step runs: a
conditional StyleGAN2 with ADA and a DCGAN with DiffAugment, each with the images its
G_ema generated then (seeds 0-2; StyleGAN2 at psi 1 and 0.7). tests/compat/test_compat.py
checks that today's code loads, generates and resumes them.
"""
import json
import os
import shutil
import sys

import numpy as np

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
sys.path.insert(0, os.getcwd())
from tests.runs.harness import tiny_config  # noqa: E402
from tfdisgan import export, training  # noqa: E402

out = sys.argv[1]
shutil.rmtree(out, ignore_errors=True)
os.makedirs(out)
runs = {}
RUNS = (("sg2", "stylegan2", dict(augment="ada", conditional=True, data="procedural:32")),
        ("dcgan", "dcgan", dict(augment="diffaugment")))
for name, model, extra in RUNS:
    config = tiny_config(model, out, run_name=name, steps=2, **extra)
    run_dir = training.run(config, verbose=False)
    view = export.load_network(run_dir)
    kw = dict(seeds=[0, 1, 2])
    if model == "stylegan2":
        kw["labels"] = [0, 1, 2]
    images = view.model.generate(**kw) if hasattr(view, "model") else None
    np.save(os.path.join(run_dir, "expected_images.npy"), images)
    if model == "stylegan2":
        np.save(os.path.join(run_dir, "expected_images_psi07.npy"),
                view.model.generate(psi=0.7, **kw))
    runs[name] = os.path.basename(run_dir)
print(json.dumps(runs))
