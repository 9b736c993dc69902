#!/usr/bin/env python3
"""Times NVIDIA's stylegan2-ada-pytorch on this machine: the peer of `scripts/benchmark.py
--suites=peer` (``--peer_bench=benchmarks/time_official.py``).

    SG2ADA_ROOT=path/to/stylegan2-ada-pytorch TORCH_PYTHON benchmarks/time_official.py \\
        --configs paper256 --param-res 32,64 --train-res 32,64 --infer-res 32,64 \\
        --batch 8 --out peer.json

It needs torch (a CPU wheel is enough; install it in its own environment, never into
tfdisgan's) and a source tree of the official code (any checkout of
NVlabs/stylegan2-ada-pytorch). It builds the official ``training.networks`` Generator and
Discriminator with the paper256 settings of the official train.py (channel_base 16384,
channel_max 512, 8 mapping layers, z = w = 512, mbstd group 8, conv_clamp 256, fp32: the
half-precision blocks are CUDA-only) or, with ``--configs demo32``, tfdisgan's CPU demo size
(channel_base 4096, channel_max 128, 2 mapping layers, z = w = 128, mbstd group 4, gamma
0.0064, EMA 10 kimg; time it at ``--train-res 32 --batch 32``), unconditional, and times on
this device:

* a training step as ``training/training_loop.py`` runs it with ``training/loss.py``'s
  ``StyleGAN2Loss``: the phases Gmain, Greg, Dmain, Dreg, each ``zero_grad``, the loss's
  ``accumulate_gradients``, then its Adam step (lr 0.0025, betas (0, 0.99), the lazy
  adjustment of training_loop.py), ``nan_to_num`` on the gradients as the loop does, then
  the G EMA. ``img_per_s_every_step_r1``: R1 and path
  length every step; ``img_per_s_lazy_r1_est``: the official schedule (Dreg every 16,
  Greg every 4 steps) estimated from the timed phases;
* G_ema inference (const noise) at ``--batch`` 16.

Output: ``{"meta": {...}, "configs": {CONFIG: {RES: {"params": {...}, "train": {...},
"infer": {...}}}}}``, what ``tfdisgan.experiments.throughput.run_peer`` reads.
"""

import argparse
import json
import os
import platform
import sys
import time

# train.py's cfg_specs["paper256"]: fmaps 0.5 (channel_base 16384), map 8, mbstd 8, gamma 1,
# ema 20 kimg, lrate 0.0025.
PAPER256 = dict(cbase=16384, cmax=512, map=8, mbstd=8, z=512, gamma=1.0, ema_kimg=20.0)
# The CPU demo size (tfdisgan's issue 19): small nets, train.py's "auto" gamma at 32 px and
# batch 32 (0.0002 * 32^2 / 32), ema 10 kimg.
DEMO32 = dict(cbase=4096, cmax=128, map=2, mbstd=4, z=128, gamma=0.0064, ema_kimg=10.0)
CONFIGS = {"paper256": PAPER256, "demo32": DEMO32}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", default="paper256",
                        help=f"comma-separated, of {', '.join(CONFIGS)}")
    parser.add_argument("--param-res", default="", help="resolutions to count parameters at")
    parser.add_argument("--train-res", default="32", help="resolutions to time training at")
    parser.add_argument("--infer-res", default="32", help="resolutions to time G_ema at")
    parser.add_argument("--batch", type=int, default=8, help="training batch")
    parser.add_argument("--infer-batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=5, help="timed steps (median)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", required=True, help="JSON file to write")
    return parser.parse_args(argv)


def _resolutions(text):
    return [int(r) for r in text.split(",") if r.strip()]


def _fail(message):
    print(f"time_official: error: {message}", file=sys.stderr)
    sys.exit(2)


def _load_official():
    root = os.environ.get("SG2ADA_ROOT")
    if not root or not os.path.isdir(os.path.join(root, "training")):
        _fail("set SG2ADA_ROOT to a stylegan2-ada-pytorch source tree")
    try:
        import torch
    except ImportError:
        _fail("torch is not installed in this Python (pip install torch in a separate "
              "environment)")
    sys.path.insert(0, root)
    from training import loss as loss_lib
    from training import networks

    return torch, networks, loss_lib


def build(torch, networks, resolution, seed=0, cfg=PAPER256):
    """The official G and D as train.py builds them with `cfg`'s sizes (fp32)."""
    torch.manual_seed(seed)
    common = dict(channel_base=cfg["cbase"], channel_max=cfg["cmax"],
                  num_fp16_res=0, conv_clamp=256)
    G = networks.Generator(z_dim=cfg["z"], c_dim=0, w_dim=cfg["z"],
                           img_resolution=resolution, img_channels=3,
                           mapping_kwargs=dict(num_layers=cfg["map"]),
                           synthesis_kwargs=common)
    D = networks.Discriminator(c_dim=0, img_resolution=resolution, img_channels=3,
                               architecture="resnet",
                               epilogue_kwargs=dict(mbstd_group_size=cfg["mbstd"]),
                               **common)
    return G, D


def count_params(module):
    return sum(p.numel() for p in module.parameters())


def lazy_adam(torch, params, interval):
    """training_loop.py's optimizer for a lazily regularised phase pair."""
    ratio = interval / (interval + 1) if interval else 1.0
    return torch.optim.Adam(params, lr=0.0025 * ratio, betas=(0.0, 0.99 ** ratio), eps=1e-8)


def time_training(torch, networks, loss_lib, resolution, batch, steps, warmup, cfg=PAPER256):
    import copy

    G, D = build(torch, networks, resolution, cfg=cfg)
    G_ema = copy.deepcopy(G).eval()
    device = torch.device("cpu")
    gamma = cfg["gamma"]
    loss = loss_lib.StyleGAN2Loss(device=device, G_mapping=G.mapping,
                                  G_synthesis=G.synthesis, D=D, r1_gamma=gamma)
    opt_g = lazy_adam(torch, G.parameters(), 4)
    opt_d = lazy_adam(torch, D.parameters(), 16)
    reals = torch.randn([batch, 3, resolution, resolution])
    cond = torch.zeros([batch, 0])

    def phase(name, module, opt, gain):
        start = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        module.requires_grad_(True)
        z = torch.randn([batch, G.z_dim])
        loss.accumulate_gradients(phase=name, real_img=reals, real_c=cond, gen_z=z,
                                  gen_c=cond, sync=True, gain=gain)
        module.requires_grad_(False)
        for param in module.parameters():
            if param.grad is not None:
                torch.nan_to_num(param.grad, nan=0, posinf=1e5, neginf=-1e5,
                                 out=param.grad)
        opt.step()
        return time.perf_counter() - start

    def ema():
        start = time.perf_counter()
        beta = 0.5 ** (batch / (cfg["ema_kimg"] * 1000))
        with torch.no_grad():
            for p_ema, p in zip(G_ema.parameters(), G.parameters(), strict=True):
                p_ema.copy_(p.lerp(p_ema, beta))
            for b_ema, b in zip(G_ema.buffers(), G.buffers(), strict=True):
                b_ema.copy_(b)
        return time.perf_counter() - start

    times = {name: [] for name in ("Gmain", "Greg", "Dmain", "Dreg", "ema")}
    for step in range(warmup + steps):
        spent = {"Gmain": phase("Gmain", G, opt_g, 1), "Greg": phase("Greg", G, opt_g, 4),
                 "Dmain": phase("Dmain", D, opt_d, 1), "Dreg": phase("Dreg", D, opt_d, 16),
                 "ema": ema()}
        if step >= warmup:
            for name, seconds in spent.items():
                times[name].append(seconds)

    def median(values):
        return sorted(values)[len(values) // 2]

    med = {name: median(values) for name, values in times.items()}
    every_step = sum(med.values())
    lazy = med["Gmain"] + med["Dmain"] + med["ema"] + med["Greg"] / 4 + med["Dreg"] / 16
    return {"img_per_s_every_step_r1": round(batch / every_step, 3),
            "img_per_s_lazy_r1_est": round(batch / lazy, 3),
            "phase_seconds": {k: round(v, 4) for k, v in med.items()},
            "batch": batch, "r1_gamma": gamma}


def time_inference(torch, networks, resolution, batch, steps, warmup, cfg=PAPER256):
    G, _ = build(torch, networks, resolution, cfg=cfg)
    G.eval()
    z = torch.randn([batch, G.z_dim])
    cond = torch.zeros([batch, 0])
    times = []
    with torch.no_grad():
        for step in range(warmup + steps):
            start = time.perf_counter()
            G(z, cond, noise_mode="const")
            if step >= warmup:
                times.append(time.perf_counter() - start)
    seconds = sorted(times)[len(times) // 2]
    return {"img_per_s": round(batch / seconds, 3), "batch": batch}


def main(argv=None):
    args = parse_args(argv)
    names = [name for name in args.configs.split(",") if name]
    unknown = [name for name in names if name not in CONFIGS]
    if unknown or not names:
        _fail(f"--configs: unknown {unknown or args.configs!r}; valid: {', '.join(CONFIGS)}")
    torch, networks, loss_lib = _load_official()
    torch.set_num_threads(args.threads)
    configs = {}
    for name in names:
        cfg = CONFIGS[name]
        by_res = {}
        for res in sorted(set(_resolutions(args.param_res) + _resolutions(args.train_res)
                              + _resolutions(args.infer_res))):
            entry = {}
            G, D = build(torch, networks, res, cfg=cfg)
            entry["params"] = {"G": count_params(G), "D": count_params(D)}
            if res in _resolutions(args.train_res):
                entry["train"] = time_training(torch, networks, loss_lib, res, args.batch,
                                               args.steps, args.warmup, cfg=cfg)
            if res in _resolutions(args.infer_res):
                entry["infer"] = time_inference(torch, networks, res, args.infer_batch,
                                                args.steps, args.warmup, cfg=cfg)
            by_res[str(res)] = entry
        configs[name] = by_res
    report = {"meta": {"torch": torch.__version__, "threads": args.threads,
                       "machine": platform.processor() or platform.machine(),
                       "official_root": os.environ["SG2ADA_ROOT"]},
              "configs": configs}
    with open(args.out, "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
