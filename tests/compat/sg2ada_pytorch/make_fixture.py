"""Writes the stylegan2-ada-pytorch pickle fixture and the official code's own outputs.

Run outside the test suite, with torch and a source tree of NVlabs/stylegan2-ada-pytorch
(the files committed beside this script were made from commit
d72cc7d041b42ec8e806021a205ed9349f87c6a4 with torch 2.14.1 on a CPU):

    python -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch numpy
    SG2ADA_ROOT=/path/to/stylegan2-ada-pytorch /tmp/torchenv/bin/python \
        tests/compat/sg2ada_pytorch/make_fixture.py

It builds a small conditional G and D with the official classes (16 px, 3 classes, z = w =
16, 2 mapping layers, channel_base 256, channel_max 32, mbstd groups of 2), gives every
parameter and buffer a seeded value away from its initialisation (noise strengths, biases,
w_avg, the constant noise; ToRGB scaled so images stay mostly inside [-1, 1]), makes G_ema
differ from G, and pickles them exactly as the
official training loop writes network-snapshot-*.pkl: ``pickle.dump`` of
``dict(training_set_kwargs, G, D, G_ema, augment_pipe)`` with each module deep-copied, in
eval mode, without gradients, on the CPU. The augment pipe is the official 'bgc' one.

expected.npz holds the official outputs for the same inputs: ``z`` [4, 16], ``c`` one-hot
[4, 3], ``img_ema`` = ``G_ema(z, c, truncation_psi=1, noise_mode='const')`` and
``img_ema_psi07`` (psi 0.7) as float32 NCHW in [-1, 1]; ``img_g`` = ``G(...)`` likewise;
``d_logits`` = ``D(img_ema, c)``; ``ws`` = ``G_ema.mapping(z, c)``.
"""

import copy
import os
import pickle
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    sys.path.insert(0, os.environ["SG2ADA_ROOT"])
    import dnnlib
    from training import augment, networks

    torch.manual_seed(0)
    common = dict(c_dim=3, img_resolution=16, img_channels=3)
    G = networks.Generator(
        z_dim=16, w_dim=16, mapping_kwargs=dnnlib.EasyDict(num_layers=2),
        synthesis_kwargs=dnnlib.EasyDict(channel_base=256, channel_max=32, num_fp16_res=0,
                                         conv_clamp=256), **common)
    D = networks.Discriminator(
        channel_base=256, channel_max=32, num_fp16_res=0, conv_clamp=256,
        block_kwargs=dnnlib.EasyDict(), mapping_kwargs=dnnlib.EasyDict(),
        epilogue_kwargs=dnnlib.EasyDict(mbstd_group_size=2), **common)
    rng = np.random.RandomState(0)

    def move(module, scale):
        with torch.no_grad():
            for name, tensor in list(module.named_parameters()) + list(module.named_buffers()):
                if name.endswith("resample_filter"):
                    continue
                noise = torch.from_numpy(rng.standard_normal(tuple(tensor.shape))
                                         .astype(np.float32))
                if name.endswith("noise_strength"):
                    tensor.copy_(0.2 + 0.3 * noise.abs())
                elif name.endswith(("bias", "w_avg", "noise_const")):
                    tensor.add_(scale * noise)
                else:
                    tensor.add_(0.1 * scale * noise * tensor.abs().mean().clamp(min=1e-3))

    move(G, 0.3)
    move(D, 0.3)
    with torch.no_grad():  # images mostly inside [-1, 1], so uint8 levels compare values
        for name, tensor in G.named_parameters():
            if ".torgb." in name:
                tensor.mul_(0.25)
    G_ema = copy.deepcopy(G)
    move(G_ema, 0.05)
    pipe = augment.AugmentPipe(xflip=1, rotate90=1, xint=1, scale=1, rotate=1, aniso=1,
                               xfrac=1, brightness=1, contrast=1, lumaflip=1, hue=1,
                               saturation=1)
    pipe.p.copy_(torch.as_tensor(0.25))

    snapshot = dict(training_set_kwargs=dict(dnnlib.EasyDict(
        class_name="training.dataset.ImageFolderDataset", path="fixture.zip",
        use_labels=True, max_size=None, xflip=False, resolution=16)))
    for name, module in [("G", G), ("D", D), ("G_ema", G_ema), ("augment_pipe", pipe)]:
        snapshot[name] = copy.deepcopy(module).eval().requires_grad_(False).cpu()
    with open(os.path.join(HERE, "tiny-cond16.pkl"), "wb") as handle:
        pickle.dump(snapshot, handle)

    z = torch.from_numpy(np.random.RandomState(1).standard_normal([4, 16]).astype(np.float32))
    c = torch.nn.functional.one_hot(torch.tensor([0, 1, 2, 0]), 3).float()
    G_ema, G, D = snapshot["G_ema"], snapshot["G"], snapshot["D"]
    with torch.no_grad():
        img_ema = G_ema(z, c, truncation_psi=1, noise_mode="const")
        outputs = dict(
            z=z.numpy(), c=c.numpy(), img_ema=img_ema.numpy(),
            img_ema_psi07=G_ema(z, c, truncation_psi=0.7, noise_mode="const").numpy(),
            img_g=G(z, c, truncation_psi=1, noise_mode="const").numpy(),
            d_logits=D(img_ema, c).numpy(), ws=G_ema.mapping(z, c).numpy())
    np.savez(os.path.join(HERE, "expected.npz"), **outputs)
    print({k: v.shape for k, v in outputs.items()}, "torch", torch.__version__)


if __name__ == "__main__":
    main()
