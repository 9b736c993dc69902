#!/usr/bin/env python3
"""Trains NVIDIA's stylegan2-ada-pytorch on a CPU, with explicit network sizes (for
`tfdisgan.experiments.parity`: the same data and configuration as a tfdisgan run).

    SG2ADA_ROOT=path/to/stylegan2-ada-pytorch TORCH_PYTHON benchmarks/train_official.py \
        --data=PNG_FOLDER --outdir=OUT --kimg=3 [--cond] [--ada] ...

It runs the official ``training/training_loop.py`` (and so its ``loss.py``, networks and
augment pipe) with the arguments the official ``train.py`` would build, except the network
sizes, which are given here. Two things in the official tree stop that loop on a CPU with a
current torch; this script works around them without touching the tree: the loop's module
source is read, its CUDA-only calls (the ``cuda`` device, ``torch.cuda.Event`` timing,
``torch.cuda`` memory statistics, ``.pin_memory()``) are replaced in memory and the result
is run as a module of its own; ``torch_utils.misc.InfiniteSampler`` calls
``Sampler.__init__(dataset)``, which newer torch refuses, so the class's ``__init__`` is
wrapped to call it without the argument.

Outputs (in --outdir, the official layout): ``network-snapshot-NNNNNN.pkl`` every
``--snap`` ticks of ``--tick`` kimg and at the end, ``fakes*.png``, ``stats.jsonl``,
``log.txt`` and ``training_options.json``.
"""

import argparse
import json
import os
import sys
import types


def _arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--data", required=True, help="image folder (dataset.json for --cond)")
    add("--outdir", required=True)
    add("--resolution", type=int, default=32)
    add("--cond", action="store_true", help="condition on dataset.json's labels")
    add("--kimg", type=float, default=3.0)
    add("--batch", type=int, default=32)
    add("--gamma", type=float, required=True, help="R1 gamma")
    add("--ema", type=float, default=10.0, help="G EMA half-life, kimg")
    add("--ema_rampup", type=float, default=0.05)
    add("--cbase", type=int, default=4096)
    add("--cmax", type=int, default=128)
    add("--zdim", type=int, default=128, help="z and w dimensions")
    add("--map", type=int, default=2, help="mapping layers")
    add("--mbstd", type=int, default=4, help="minibatch-stddev group size")
    add("--lr", type=float, default=0.0025)
    add("--ada", action="store_true", help="ADA with the bgc pipeline")
    add("--ada_target", type=float, default=0.6)
    add("--ada_kimg", type=float, default=500.0)
    add("--seed", type=int, default=0)
    add("--tick", type=float, default=1.0, help="kimg per tick")
    add("--snap", type=int, default=1, help="ticks per network snapshot")
    add("--threads", type=int, default=2)
    return parser.parse_args()


def _cpu_training_loop(root):
    """The official training_loop module with its CUDA-only calls replaced."""
    path = os.path.join(root, "training", "training_loop.py")
    with open(path, encoding="utf-8-sig") as handle:  # the official files start with a BOM
        source = handle.read()
    replacements = {
        "device = torch.device('cuda', rank)": "device = torch.device('cpu')",
        "torch.cuda.Event(enable_timing=True)": "None",
        "torch.cuda.max_memory_allocated(device)": "0",
        "torch.cuda.reset_peak_memory_stats()": "None",
        ".pin_memory()": "",
    }
    for old, new in replacements.items():
        if old not in source:
            sys.exit(f"{path}: expected {old!r} (another version of the official tree?)")
        source = source.replace(old, new)
    module = types.ModuleType("training.training_loop_cpu")
    module.__file__ = path
    exec(compile(source, path, "exec"), module.__dict__)  # noqa: S102 (the official loop)
    return module


def _patch_sampler():
    import torch
    from torch_utils import misc

    original = misc.InfiniteSampler.__init__

    def init(self, dataset, *args, **kwargs):
        # Sampler.__init__ takes no data source in newer torch; the loop needs none.
        sampler_init = torch.utils.data.Sampler.__init__
        torch.utils.data.Sampler.__init__ = lambda self_, *a: None
        try:
            original(self, dataset, *args, **kwargs)
        finally:
            torch.utils.data.Sampler.__init__ = sampler_init

    misc.InfiniteSampler.__init__ = init


def main():
    args = _arguments()
    root = os.environ.get("SG2ADA_ROOT") or sys.exit("set SG2ADA_ROOT to the official tree")
    sys.path.insert(0, root)
    import dnnlib
    import torch

    torch.set_num_threads(args.threads)
    _patch_sampler()
    loop = _cpu_training_loop(root)
    easy = dnnlib.EasyDict
    sizes = dict(channel_base=args.cbase, channel_max=args.cmax, num_fp16_res=0,
                 conv_clamp=256)
    options = easy(
        training_set_kwargs=easy(class_name="training.dataset.ImageFolderDataset",
                                 path=args.data, use_labels=args.cond, max_size=None,
                                 xflip=False, resolution=args.resolution),
        data_loader_kwargs=easy(pin_memory=False, num_workers=1, prefetch_factor=2),
        G_kwargs=easy(class_name="training.networks.Generator", z_dim=args.zdim,
                      w_dim=args.zdim, mapping_kwargs=easy(num_layers=args.map),
                      synthesis_kwargs=easy(**sizes)),
        D_kwargs=easy(class_name="training.networks.Discriminator", block_kwargs=easy(),
                      mapping_kwargs=easy(), epilogue_kwargs=easy(mbstd_group_size=args.mbstd),
                      **sizes),
        G_opt_kwargs=easy(class_name="torch.optim.Adam", lr=args.lr, betas=[0, 0.99],
                          eps=1e-8),
        D_opt_kwargs=easy(class_name="torch.optim.Adam", lr=args.lr, betas=[0, 0.99],
                          eps=1e-8),
        loss_kwargs=easy(class_name="training.loss.StyleGAN2Loss", r1_gamma=args.gamma),
        total_kimg=args.kimg, batch_size=args.batch, batch_gpu=args.batch,
        ema_kimg=args.ema, ema_rampup=args.ema_rampup, kimg_per_tick=args.tick,
        image_snapshot_ticks=args.snap, network_snapshot_ticks=args.snap, metrics=[],
        random_seed=args.seed, num_gpus=1, rank=0, run_dir=args.outdir)
    if args.ada:
        # train.py's --aug=ada --augpipe=bgc.
        bgc = dict(xflip=1, rotate90=1, xint=1, scale=1, rotate=1, aniso=1, xfrac=1,
                   brightness=1, contrast=1, lumaflip=1, hue=1, saturation=1)
        options.update(augment_kwargs=easy(class_name="training.augment.AugmentPipe", **bgc),
                       ada_target=args.ada_target, ada_kimg=args.ada_kimg)
    os.makedirs(args.outdir, exist_ok=True)
    with open(os.path.join(args.outdir, "training_options.json"), "w") as handle:
        json.dump(options, handle, indent=2)
    loop.training_loop(**options)


if __name__ == "__main__":
    main()
