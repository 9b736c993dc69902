"""Runs one training iteration of the official stylegan2-ada-pytorch and records it.

Run outside the test suite, with torch and a source tree of NVlabs/stylegan2-ada-pytorch
(training_step.npz beside this script was made from commit
d72cc7d041b42ec8e806021a205ed9349f87c6a4 with torch 2.14.1 on a CPU):

    SG2ADA_ROOT=/path/to/stylegan2-ada-pytorch TORCH_PYTHON \
        tests/compat/sg2ada_pytorch/make_training_step.py

What it runs is the official ``training/loss.py`` (``StyleGAN2Loss.accumulate_gradients``)
and the body of ``training/training_loop.py``'s loop for its first iteration (batch_idx 0:
all four phases run): for each of Gmain, Greg (gain 4), Dmain, Dreg (gain 16), in that
order, ``zero_grad``, ``requires_grad`` on the phase's network only, the loss's gradients,
``nan_to_num`` and the phase's Adam step with the lazy-regularisation adjustment
(``lr * mb_ratio``, ``beta ** mb_ratio``); then the G EMA (``ema_rampup`` 0.05: beta 0 at
``cur_nimg`` 0, so G_ema becomes G) with the buffers copied.

Every random draw is made here and saved, so the other side can use the same ones: the
phase latents (the loop's ``all_gen_z``), each ``run_G`` call's style-mixing latents and
crossover layer (loss.py draws them inside; here ``run_G`` is the official one with those
two draws taken from the saved lists), the path-length noise (``torch.randn_like`` inside
Greg), and the noise inputs, which are the layers' ``noise_const`` (``noise_mode='const'``).

Networks: unconditional, 16 px, z = w = 16, 2 mapping layers, channel_base 256,
channel_max 32, conv_clamp 256, mbstd groups of 2, fp32; batch 4; r1_gamma 1, pl_weight 2,
pl_batch_shrink 2, pl_decay 0.01, lr 0.0025, betas (0, 0.99).

training_step.npz: ``init/<net>.<key>`` (G, D and G_ema before the step, official layout),
``after/<net>.<key>`` (after it), ``after/pl_mean``, the inputs ``reals`` (NCHW), ``z_Gmain``,
``z_Greg``, ``z_Dmain``, ``mix_z_<phase>``, ``mix_cutoff_<phase>``, ``pl_noise`` (already
divided by sqrt(H * W), NCHW), and ``grad_<phase>/<net>.<key>``: each phase's gradients as
its optimizer received them (after ``nan_to_num``, gains included).
"""

import copy
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
BATCH, Z, RES = 4, 16, 16
LR, BETAS, R1_GAMMA = 0.0025, (0.0, 0.99), 1.0
G_REG, D_REG = 4, 16


def main():
    sys.path.insert(0, os.environ["SG2ADA_ROOT"])
    import dnnlib
    from training import loss as loss_lib
    from training import networks

    torch.manual_seed(0)
    common = dict(c_dim=0, img_resolution=RES, img_channels=3)
    G = networks.Generator(
        z_dim=Z, w_dim=Z, mapping_kwargs=dnnlib.EasyDict(num_layers=2),
        synthesis_kwargs=dnnlib.EasyDict(channel_base=256, channel_max=32, num_fp16_res=0,
                                         conv_clamp=256), **common).train().requires_grad_(False)
    D = networks.Discriminator(
        channel_base=256, channel_max=32, num_fp16_res=0, conv_clamp=256,
        block_kwargs=dnnlib.EasyDict(), mapping_kwargs=dnnlib.EasyDict(),
        epilogue_kwargs=dnnlib.EasyDict(mbstd_group_size=2), **common).train().requires_grad_(
            False)
    rng = np.random.RandomState(0)
    with torch.no_grad():  # noise strengths and biases away from 0, so they train visibly
        for name, tensor in list(G.named_parameters()) + list(D.named_parameters()):
            if name.endswith("noise_strength"):
                tensor.copy_(torch.as_tensor(0.1 + 0.2 * rng.rand(), dtype=torch.float32))
            elif name.endswith("bias"):
                tensor.add_(torch.from_numpy(0.1 * rng.standard_normal(tuple(tensor.shape))
                                             .astype(np.float32)))
    G_ema = copy.deepcopy(G).eval()
    num_ws = G.num_ws

    def normal(*shape):
        return rng.standard_normal(shape).astype(np.float32)

    saved = {}
    for net_name, net in (("G", G), ("D", D), ("G_ema", G_ema)):
        for key, value in net.state_dict().items():
            saved[f"init/{net_name}.{key}"] = value.numpy().copy()
    reals = np.tanh(normal(BATCH, 3, RES, RES))
    saved["reals"] = reals
    for phase in ("Gmain", "Greg", "Dmain"):
        saved[f"z_{phase}"] = normal(BATCH, Z)
    # run_G calls: Gmain (batch rows), Greg (batch // 2 rows), Dmain (batch rows).
    for phase, rows in (("Gmain", BATCH), ("Greg", BATCH // 2), ("Dmain", BATCH)):
        saved[f"mix_z_{phase}"] = normal(rows, Z)
        saved[f"mix_cutoff_{phase}"] = np.int64(rng.randint(1, num_ws))
    pl_draw = normal(BATCH // 2, 3, RES, RES)  # what torch.randn_like returns in Greg
    saved["pl_noise"] = (pl_draw / np.sqrt(RES * RES)).astype(np.float32)

    class InjectedLoss(loss_lib.StyleGAN2Loss):
        """loss.py's run_G with its two random draws (mixing latent, crossover layer)
        taken from `saved` (mixing always on: style_mixing_prob 0.9 draws it, this run
        fixes that draw to "mix") and the const noise inputs."""

        phase = None

        def run_G(self, z, c, sync):
            ws = self.G_mapping(z, c)
            cutoff = int(saved[f"mix_cutoff_{self.phase}"])
            mix_z = torch.from_numpy(saved[f"mix_z_{self.phase}"])
            ws[:, cutoff:] = self.G_mapping(mix_z, c, skip_w_avg_update=True)[:, cutoff:]
            img = self.G_synthesis(ws, noise_mode="const")
            return img, ws

    device = torch.device("cpu")
    loss = InjectedLoss(device=device, G_mapping=G.mapping, G_synthesis=G.synthesis, D=D,
                        style_mixing_prob=0.9, r1_gamma=R1_GAMMA, pl_weight=2,
                        pl_batch_shrink=2, pl_decay=0.01)

    def lazy_adam(params, interval):
        ratio = interval / (interval + 1)
        return torch.optim.Adam(params, lr=LR * ratio, betas=[b ** ratio for b in BETAS],
                                eps=1e-8)

    opt_g, opt_d = lazy_adam(G.parameters(), G_REG), lazy_adam(D.parameters(), D_REG)
    real_img = torch.from_numpy(reals)
    c = torch.zeros([BATCH, 0])
    pl_noise = torch.from_numpy(pl_draw)
    original_randn_like = torch.randn_like
    torch.randn_like = lambda t: pl_noise  # Greg's only draw (run_G's are replaced)
    try:
        for name, module, opt, gain in (("Gmain", G, opt_g, 1), ("Greg", G, opt_g, G_REG),
                                        ("Dmain", D, opt_d, 1), ("Dreg", D, opt_d, D_REG)):
            opt.zero_grad(set_to_none=True)
            module.requires_grad_(True)
            loss.phase = name
            z = torch.from_numpy(saved.get(f"z_{name}", np.zeros([BATCH, Z], np.float32)))
            loss.accumulate_gradients(phase=name, real_img=real_img, real_c=c, gen_z=z,
                                      gen_c=c, sync=True, gain=gain)
            module.requires_grad_(False)
            net_name = "G" if module is G else "D"
            for key, param in module.named_parameters():
                if param.grad is not None:
                    torch.nan_to_num(param.grad, nan=0, posinf=1e5, neginf=-1e5,
                                     out=param.grad)
                    saved[f"grad_{name}/{net_name}.{key}"] = param.grad.numpy().copy()
            opt.step()
    finally:
        torch.randn_like = original_randn_like
    # training_loop.py's EMA at cur_nimg 0 with ema_rampup 0.05: beta = 0.5 ** (4 / 1e-8).
    ema_nimg = min(10 * 1000, 0 * 0.05)
    beta = 0.5 ** (BATCH / max(ema_nimg, 1e-8))
    with torch.no_grad():
        for p_ema, p in zip(G_ema.parameters(), G.parameters(), strict=True):
            p_ema.copy_(p.lerp(p_ema, beta))
        for b_ema, b in zip(G_ema.buffers(), G.buffers(), strict=True):
            b_ema.copy_(b)
    for net_name, net in (("G", G), ("D", D), ("G_ema", G_ema)):
        for key, value in net.state_dict().items():
            saved[f"after/{net_name}.{key}"] = value.numpy().copy()
    saved["after/pl_mean"] = loss.pl_mean.numpy().copy()
    np.savez_compressed(os.path.join(HERE, "training_step.npz"), **saved)
    moved = max(float(np.abs(saved[f"after/{k[5:]}"] - v).max()) for k, v in saved.items()
                if k.startswith("init/G."))
    print("torch", torch.__version__, "num_ws", num_ws, "largest G change", moved,
          "pl_mean", float(loss.pl_mean))


if __name__ == "__main__":
    main()
