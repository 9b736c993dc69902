"""Experiments: studies and benchmarks built on the library, the top layer.

* `small_data`: the small-data study, augmentation and transfer arms trained with equal
  budgets (scripts/study.py; results in docs/small_data_study.md).
* `cross_mix`: training-time (`--cross_mix`) vs inference-time (`class_mix`) cross-domain
  mixing, two conditional StyleGAN2 runs (scripts/study.py --cross_mix_study).
* `leak`: the leak test of the small-data study (do fakes look rotated or flipped?).
* `report`: an arm's measurements and the JSON/markdown reports and grids the studies write.
* `benchmarks`: the throughput suites and benchmarks/<machine>.json (scripts/benchmark.py);
  `throughput`: what each suite times.

Submodules are not imported here: ``from tfdisgan.experiments import small_data``.
"""
