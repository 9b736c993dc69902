"""Runs the first 16 training iterations of the official stylegan2-ada-pytorch and records
them.

Run outside the test suite, with torch, a source tree of NVlabs/stylegan2-ada-pytorch and
one of mit-han-lab/data-efficient-gans' DiffAugment-stylegan2-pytorch (the training_step*.npz
beside this script were made from commits d72cc7d041b42ec8e806021a205ed9349f87c6a4 and
0b6339510be1e3859d360cbf464d0a425514a6b4 with torch 2.14.1 on a CPU; name files to write
only those):

    SG2ADA_ROOT=/path/to/stylegan2-ada-pytorch \
    DIFFAUGMENT_ROOT=/path/to/data-efficient-gans/DiffAugment-stylegan2-pytorch TORCH_PYTHON \
        tests/compat/sg2ada_pytorch/make_training_step.py [training_step_ada.npz ...]

What it runs is the official ``training/loss.py`` (``StyleGAN2Loss.accumulate_gradients``)
and the body of ``training/training_loop.py``'s loop for iterations 0..15: for each phase
due at that iteration (Gmain; Greg with gain 4 when ``batch_idx % 4 == 0``; Dmain; Dreg
with gain 16 when ``batch_idx % 16 == 0``), in that order, ``zero_grad``,
``requires_grad`` on the phase's network only, the loss's gradients, ``nan_to_num`` and
the phase's Adam step with the lazy-regularisation adjustment (``lr * mb_ratio``,
``beta ** mb_ratio``); then the G EMA with the ramp-up (``ema_kimg`` 10, ``ema_rampup``
0.05: ``beta = 0.5 ** (batch / max(min(10000, cur_nimg * 0.05), 1e-8))``) with the buffers
copied, and ``cur_nimg += batch``. So R1 runs at iteration 0 and path length at 0, 4, 8
and 12, and the EMA's beta moves from 0 towards 0.5 ** (4 / 3).

Every random draw is made here and saved, so the other side can use the same ones: each
iteration's reals (and labels), the phase latents (the loop's ``all_gen_z``), each
``run_G`` call's style-mixing latent and crossover layer (``num_ws`` where the 0.9 draw says
"no mixing"; loss.py draws them inside, here ``run_G`` is the official one with those two
draws taken from the saved arrays), the path-length noise (``torch.randn_like`` inside
Greg), and the noise inputs, which are the layers' ``noise_const`` (``noise_mode='const'``).
Labels of the generated images: the official loop draws them from the dataset's labels
(``all_gen_c``); tfdisgan gives the fakes the batch's real labels and the path-length rows
every second one, so here each phase's ``gen_c`` is that (a draw like any other).

Networks: 16 px, z = w = 16, 2 mapping layers, channel_base 256, channel_max 32,
conv_clamp 256, mbstd groups of 2, fp32; batch 4; r1_gamma 1, pl_weight 2,
pl_batch_shrink 2, pl_decay 0.01, lr 0.0025, betas (0, 0.99). training_step.npz is
unconditional; training_step_cond.npz has 4 classes (as the procedural dataset; one-hot ``c``
officially, class ids in tfdisgan). training_step_ada.npz (unconditional) runs the official
AugmentPipe with the "bgc" pipeline at a fixed p = 0.5 in every D call, and
training_step_diffaugment.npz (unconditional) DiffAugment "color,translation,cutout" as the
DiffAugment fork's run_D; every augmentation draw of D call k of a phase at an iteration is
saved as ``aug/<phase><k>/<j>_<rand|randn|randint>`` (Gmain0 and Dmain0 the fakes, Dmain1
and Dreg0 the reals), and the perturbed run replays them.

Each file: ``init/<net>.<key>`` (G, D and G_ema before iteration 0, official layout),
``after/<net>.<key>`` and ``after/pl_mean`` after iteration 0, ``final/<net>.<key>`` and
``final/pl_mean`` after iteration 15, ``before4/<net>.<key>``, ``before4/pl_mean``,
``before4/adam_<m|v>/<net>.<key>`` and ``before4/adam_step/<net>`` (the state iteration 4
starts from: weights, buffers, both Adams) with ``after4/<net>.<key>`` and
``after4/pl_mean`` (after it), ``perturbed/<net>.<key>`` and ``perturbed/pl_mean`` after
iteration 15 of the same run from every weight of G and D multiplied by 1 + 1e-5 (how far a
rounding-sized difference carries the official training from itself),
``grad_<phase>/<net>.<key>`` (iteration 0's gradients as each optimizer received them,
after ``nan_to_num``, gains included), and the draws,
stacked over iterations (rows of iterations without that phase are zeros): ``reals``
[16, B, 3, H, W], ``labels`` [16, B] (class ids; cond only), ``z_<phase>`` [16, B, z],
``mix_z_<phase>`` [16, rows, z], ``mix_cutoff_<phase>`` [16], ``pl_noise`` [16, B / 2, 3,
H, W] (already divided by sqrt(H * W), NCHW).
"""

import contextlib
import copy
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
BATCH, Z, RES, STEPS = 4, 16, 16, 16
LR, BETAS, R1_GAMMA = 0.0025, (0.0, 0.99), 1.0
G_REG, D_REG = 4, 16
EMA_KIMG, EMA_RAMPUP, MIXING = 10, 0.05, 0.9
# The iteration also saved with the state it starts from (weights, buffers, pl_mean, both
# Adams' moments and step counts), so the other side can run it from the official state:
# 4 has Gmain, Greg with pl_mean from iteration 0, Dmain, Adam five steps in, EMA beta 0.03.
TEACHER = 4
# The reference run's weights: all of G and D times 1 + PERTURB (float32 rounding leaves
# differences of this size after iteration 0: 1.5e-5 between the official code with torch's
# mkldnn convolutions on and off; 1.6e-5 between tfdisgan and the official code).
PERTURB = 1e-5


# The augmented runs: ADA's "bgc" pipeline at a fixed p (training/augment.py, as train.py
# builds it for --aug=fixed --p=0.5 --augpipe=bgc), and DiffAugment as
# mit-han-lab/data-efficient-gans' DiffAugment-stylegan2-pytorch applies it (its loss.py
# run_D: DiffAugment(img, policy), then the augment pipe, then D).
ADA_P = 0.5
BGC = dict(xflip=1, rotate90=1, xint=1, scale=1, rotate=1, aniso=1, xfrac=1, brightness=1,
           contrast=1, lumaflip=1, hue=1, saturation=1)
POLICY = "color,translation,cutout"
DRAWS = ("rand", "randn", "randint")


@contextlib.contextmanager
def augment_draws(saved, call, step, replay=None):
    """Records every ``torch.rand`` / ``randn`` / ``randint`` made inside the block as
    ``aug/<call>/<j>_<kind>`` [STEPS, ...] (the j-th draw of that D call at ``step``); with
    `replay`, the recorded draws are returned instead (each still drawn first, so torch's
    generator advances as in the recording run)."""
    originals = {kind: getattr(torch, kind) for kind in DRAWS}
    count = [0]

    def drawing(kind):
        def draw(*args, **kwargs):
            out = originals[kind](*args, **kwargs)
            key = f"aug/{call}/{count[0]}_{kind}"
            count[0] += 1
            if replay is not None:
                value = torch.from_numpy(replay[key][step])
                assert value.shape == out.shape, (key, value.shape, out.shape)
                return value.to(out.dtype)
            if key not in saved:
                saved[key] = np.zeros([STEPS, *out.shape], out.numpy().dtype)
            saved[key][step] = out.numpy()
            return out
        return draw

    try:
        for kind in DRAWS:
            setattr(torch, kind, drawing(kind))
        yield
    finally:
        for kind, original in originals.items():
            setattr(torch, kind, original)


def record(c_dim, seed, scale_weights=1.0, augment="none", replay=None):
    """The official networks trained for STEPS iterations; returns the saved arrays.
    `scale_weights`: every weight of G and D multiplied by it after initialisation (the
    reference run that shows how far a rounding-sized difference carries the training).
    `augment`: "none", "ada" (bgc at ADA_P) or "diffaugment" (POLICY). `replay`: the arrays
    of an earlier run whose augmentation draws are used again."""
    import dnnlib
    from training import loss as loss_lib
    from training import networks
    from training.augment import AugmentPipe

    diff_augment = None
    if augment == "diffaugment":
        sys.path.insert(0, os.environ["DIFFAUGMENT_ROOT"])
        from DiffAugment_pytorch import DiffAugment

        def diff_augment(img):
            return DiffAugment(img, policy=POLICY)

    torch.manual_seed(seed)
    common = dict(c_dim=c_dim, img_resolution=RES, img_channels=3)
    G = networks.Generator(
        z_dim=Z, w_dim=Z, mapping_kwargs=dnnlib.EasyDict(num_layers=2),
        synthesis_kwargs=dnnlib.EasyDict(channel_base=256, channel_max=32, num_fp16_res=0,
                                         conv_clamp=256), **common).train().requires_grad_(False)
    D = networks.Discriminator(
        channel_base=256, channel_max=32, num_fp16_res=0, conv_clamp=256,
        block_kwargs=dnnlib.EasyDict(), mapping_kwargs=dnnlib.EasyDict(),
        epilogue_kwargs=dnnlib.EasyDict(mbstd_group_size=2), **common).train().requires_grad_(
            False)
    rng = np.random.RandomState(seed)
    with torch.no_grad():  # noise strengths and biases away from 0, so they train visibly
        for name, tensor in list(G.named_parameters()) + list(D.named_parameters()):
            if name.endswith("noise_strength"):
                tensor.copy_(torch.as_tensor(0.1 + 0.2 * rng.rand(), dtype=torch.float32))
            elif name.endswith("bias"):
                tensor.add_(torch.from_numpy(0.1 * rng.standard_normal(tuple(tensor.shape))
                                             .astype(np.float32)))
    if scale_weights != 1.0:
        with torch.no_grad():
            for _, tensor in list(G.named_parameters()) + list(D.named_parameters()):
                tensor.mul_(scale_weights)
    G_ema = copy.deepcopy(G).eval()
    num_ws = G.num_ws
    augment_pipe = None
    if augment == "ada":
        augment_pipe = AugmentPipe(**BGC).train().requires_grad_(False)
        augment_pipe.p.copy_(torch.as_tensor(ADA_P))

    def normal(*shape):
        return rng.standard_normal(shape).astype(np.float32)

    saved = {}

    def snapshot(stage):
        for net_name, net in (("G", G), ("D", D), ("G_ema", G_ema)):
            for key, value in net.state_dict().items():
                saved[f"{stage}/{net_name}.{key}"] = value.numpy().copy()

    snapshot("init")
    half = BATCH // 2
    # Greg's run_G takes the first batch // pl_batch_shrink rows.
    rows = {"Gmain": BATCH, "Greg": half, "Dmain": BATCH}
    draws = {"reals": np.zeros([STEPS, BATCH, 3, RES, RES], np.float32),
             "pl_noise": np.zeros([STEPS, half, 3, RES, RES], np.float32)}
    if c_dim:
        draws["labels"] = np.zeros([STEPS, BATCH], np.int64)
    for phase, n in rows.items():
        draws[f"z_{phase}"] = np.zeros([STEPS, BATCH, Z], np.float32)
        draws[f"mix_z_{phase}"] = np.zeros([STEPS, n, Z], np.float32)
        draws[f"mix_cutoff_{phase}"] = np.full([STEPS], num_ws, np.int64)
    for step in range(STEPS):
        draws["reals"][step] = np.tanh(normal(BATCH, 3, RES, RES))
        if c_dim:
            draws["labels"][step] = rng.randint(c_dim, size=BATCH)
        for phase, n in rows.items():
            if phase == "Greg" and step % G_REG:
                continue
            draws[f"z_{phase}"][step] = normal(BATCH, Z)
            draws[f"mix_z_{phase}"][step] = normal(n, Z)
            cutoff = rng.randint(1, num_ws)
            draws[f"mix_cutoff_{phase}"][step] = cutoff if rng.rand() < MIXING else num_ws
        if step % G_REG == 0:
            draws["pl_noise"][step] = normal(half, 3, RES, RES)  # torch.randn_like in Greg
    saved.update(draws)
    saved["pl_noise"] = (draws["pl_noise"] / np.sqrt(RES * RES)).astype(np.float32)

    state = {"phase": None, "step": 0, "d_calls": 0}

    class InjectedLoss(loss_lib.StyleGAN2Loss):
        """loss.py's run_G with its two random draws (mixing latent, crossover layer)
        taken from the saved arrays, and the const noise inputs; run_D as the DiffAugment
        fork's, its augmentation draws recorded per D call (``<phase><k>``: Gmain0 the
        fakes, Dmain0 the fakes, Dmain1 the reals, Dreg0 the reals)."""

        def run_G(self, z, c, sync):
            phase, step = state["phase"], state["step"]
            ws = self.G_mapping(z, c)
            cutoff = int(draws[f"mix_cutoff_{phase}"][step])
            mix_z = torch.from_numpy(draws[f"mix_z_{phase}"][step])
            ws[:, cutoff:] = self.G_mapping(mix_z, c, skip_w_avg_update=True)[:, cutoff:]
            img = self.G_synthesis(ws, noise_mode="const")
            return img, ws

        def run_D(self, img, c, sync):
            call = f"{state['phase']}{state['d_calls']}"
            state["d_calls"] += 1
            with augment_draws(saved, call, state["step"], replay):
                if diff_augment is not None:
                    img = diff_augment(img)
                if self.augment_pipe is not None:
                    img = self.augment_pipe(img)
            return self.D(img, c)

    device = torch.device("cpu")
    loss = InjectedLoss(device=device, G_mapping=G.mapping, G_synthesis=G.synthesis, D=D,
                        augment_pipe=augment_pipe, style_mixing_prob=MIXING,
                        r1_gamma=R1_GAMMA, pl_weight=2, pl_batch_shrink=2, pl_decay=0.01)

    def lazy_adam(params, interval):
        ratio = interval / (interval + 1)
        return torch.optim.Adam(params, lr=LR * ratio, betas=[b ** ratio for b in BETAS],
                                eps=1e-8)

    def one_hot(ids):
        if not c_dim:
            return torch.zeros([len(ids), 0])
        return torch.nn.functional.one_hot(torch.from_numpy(ids), c_dim).to(torch.float32)

    opt_g, opt_d = lazy_adam(G.parameters(), G_REG), lazy_adam(D.parameters(), D_REG)
    phases = (("Gmain", G, opt_g, 1, 1), ("Greg", G, opt_g, G_REG, G_REG),
              ("Dmain", D, opt_d, 1, 1), ("Dreg", D, opt_d, D_REG, D_REG))
    original_randn_like = torch.randn_like
    cur_nimg = 0
    try:
        for step in range(STEPS):
            state["step"] = step
            real_img = torch.from_numpy(draws["reals"][step])
            ids = draws["labels"][step] if c_dim else np.zeros([BATCH], np.int64)
            real_c = one_hot(ids)
            # tfdisgan's label draws: the fakes take the reals' labels, path length every
            # second one (its first batch // 2 rows are what Greg reads).
            pl_c = one_hot(np.concatenate([ids[::2], ids[1::2]]))
            pl_noise = torch.from_numpy(draws["pl_noise"][step])
            torch.randn_like = lambda t, noise=pl_noise: noise  # Greg's only other draw
            for name, module, opt, interval, gain in phases:
                if step % interval:
                    continue
                opt.zero_grad(set_to_none=True)
                module.requires_grad_(True)
                state["phase"] = name
                state["d_calls"] = 0
                z = torch.from_numpy(draws.get(f"z_{name}", np.zeros([STEPS, BATCH, Z],
                                                                    np.float32))[step])
                loss.accumulate_gradients(phase=name, real_img=real_img, real_c=real_c,
                                          gen_z=z, gen_c=pl_c if name == "Greg" else real_c,
                                          sync=True, gain=gain)
                module.requires_grad_(False)
                net_name = "G" if module is G else "D"
                for key, param in module.named_parameters():
                    if param.grad is not None:
                        torch.nan_to_num(param.grad, nan=0, posinf=1e5, neginf=-1e5,
                                         out=param.grad)
                        if step == 0:
                            saved[f"grad_{name}/{net_name}.{key}"] = param.grad.numpy().copy()
                opt.step()
            ema_nimg = min(EMA_KIMG * 1000, cur_nimg * EMA_RAMPUP)
            beta = 0.5 ** (BATCH / max(ema_nimg, 1e-8))
            with torch.no_grad():
                for p_ema, p in zip(G_ema.parameters(), G.parameters(), strict=True):
                    p_ema.copy_(p.lerp(p_ema, beta))
                for b_ema, b in zip(G_ema.buffers(), G.buffers(), strict=True):
                    b_ema.copy_(b)
            cur_nimg += BATCH
            if step == TEACHER - 1:  # the state that iteration TEACHER starts from
                snapshot(f"before{TEACHER}")
                saved[f"before{TEACHER}/pl_mean"] = loss.pl_mean.numpy().copy()
                for net_name, net, opt in (("G", G, opt_g), ("D", D, opt_d)):
                    for key, param in net.named_parameters():
                        moments = opt.state[param]
                        saved[f"before{TEACHER}/adam_v/{net_name}.{key}"] = (
                            moments["exp_avg_sq"].numpy().copy())
                        saved[f"before{TEACHER}/adam_m/{net_name}.{key}"] = (
                            moments["exp_avg"].numpy().copy())
                        saved[f"before{TEACHER}/adam_step/{net_name}"] = np.int64(
                            moments["step"])
            if step in (0, TEACHER, STEPS - 1):
                stage = {0: "after", TEACHER: f"after{TEACHER}"}.get(step, "final")
                snapshot(stage)
                saved[f"{stage}/pl_mean"] = loss.pl_mean.numpy().copy()
    finally:
        torch.randn_like = original_randn_like
    moved = max(float(np.abs(saved[f"final/{k[5:]}"] - v).max()) for k, v in saved.items()
                if k.startswith("init/G."))
    print("c_dim", c_dim, "num_ws", num_ws, "largest G change", moved, "pl_mean",
          float(loss.pl_mean), "last ema beta", beta)
    return saved


# file name: (c_dim, seed, augment)
RUNS = {
    "training_step.npz": (0, 0, "none"),
    "training_step_cond.npz": (4, 1, "none"),
    "training_step_ada.npz": (0, 2, "ada"),
    "training_step_diffaugment.npz": (0, 3, "diffaugment"),
}


def main():
    """Writes the files named on the command line (default: all of RUNS)."""
    sys.path.insert(0, os.environ["SG2ADA_ROOT"])
    print("torch", torch.__version__)
    for name in sys.argv[1:] or RUNS:
        c_dim, seed, augment = RUNS[name]
        saved = record(c_dim, seed, augment=augment)
        # The same 16 iterations from weights changed by PERTURB (relative), with the same
        # draws: how far a rounding-sized difference carries the official training from
        # itself by iteration 15 (the minibatch-stddev's |a - b| and lrelu have kinks, so
        # the trajectory is chaotic).
        perturbed = record(c_dim, seed, scale_weights=1 + PERTURB, augment=augment,
                           replay=saved)
        saved.update({"perturbed/" + k[len("final/"):]: v for k, v in perturbed.items()
                      if k.startswith("final/")})
        np.savez_compressed(os.path.join(HERE, name), **saved)


if __name__ == "__main__":
    main()
