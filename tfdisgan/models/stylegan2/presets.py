"""StyleGAN2 training presets (stylegan2-ada ``train.py`` ``cfg_specs``) and the
lazy-regularisation Adam of ``training_loop.py``."""


from tfdisgan import optimizers
from tfdisgan._validate import check_choice, check_int, check_number, check_resolution, is_int

# stylegan2-ada train.py `cfg_specs` (None in "auto" = computed from resolution and GPUs, as
# train.py does), plus our own "cpu_tiny". fmaps -> channel_base = int(fmaps * 32768).
PRESETS = {
    "auto": dict(ref_gpus=None, kimg=25000, mb=None, mbstd=None, fmaps=None, lrate=None,
                 gamma=None, ema=None, ramp=0.05, map=2),
    "stylegan2": dict(ref_gpus=8, kimg=25000, mb=32, mbstd=4, fmaps=1, lrate=0.002,
                      gamma=10, ema=10, ramp=None, map=8),
    "paper256": dict(ref_gpus=8, kimg=25000, mb=64, mbstd=8, fmaps=0.5, lrate=0.0025,
                     gamma=1, ema=20, ramp=None, map=8),
    "paper512": dict(ref_gpus=8, kimg=25000, mb=64, mbstd=8, fmaps=1, lrate=0.0025,
                     gamma=0.5, ema=20, ramp=None, map=8),
    "paper1024": dict(ref_gpus=8, kimg=25000, mb=32, mbstd=4, fmaps=1, lrate=0.002,
                      gamma=2, ema=10, ramp=None, map=8),
    # Ours, for CPU demos: 1/8 of config F's channels capped at 128, z = w = 128, a 2-layer
    # mapping; mb, gamma and ema follow the "auto" formulas for one device.
    "cpu_tiny": dict(ref_gpus=1, kimg=500, mb=None, mbstd=4, fmaps=0.125, lrate=0.0025,
                     gamma=None, ema=None, ramp=0.05, map=2, cmax=128, z_dim=128, w_dim=128),
}

# Keys of a resolved preset that are `StyleGAN2` constructor / `compile` arguments.
MODEL_KEYS = (
    "resolution", "z_dim", "w_dim", "channel_base", "channel_max", "mapping_layers",
    "mbstd_group_size", "conv_clamp", "ema_kimg", "ema_rampup",
)
COMPILE_KEYS = ("r1_gamma", "r1_interval", "pl_weight", "pl_interval")


def resolve_preset(name, resolution, batch=None, num_gpus=1):
    """Resolves a training preset exactly as stylegan2-ada ``train.py`` does.

    ``"auto"``: ``mb = max(min(gpus * min(4096 // res, 32), 64), gpus)``, ``mbstd =
    min(mb // gpus, 4)``, ``fmaps = 1 if res >= 512 else 0.5``, ``lrate = 0.002 if res >=
    1024 else 0.0025``, ``gamma = 0.0002 * res**2 / mb``, ``ema = mb * 10 / 32``.
    ``batch`` overrides the batch size only (gamma and ema keep the preset's ``mb``, as in
    train.py). Every preset uses ``conv_clamp=256``, Adam betas ``(0, 0.99)``, R1 every 16
    and path length (weight 2) every 4 steps. The official presets also enable FP16 for the
    top 4 resolutions on CUDA; here that is a separate choice (``num_fp16_res`` /
    ``half_dtype``, scripts/train.py ``--precision``), float32 by default.

    Args:
        name: ``"auto" | "stylegan2" | "paper256" | "paper512" | "paper1024" | "cpu_tiny"``.
        resolution: int, power of two >= 4, the dataset resolution.
        batch: int or None, global batch (None: the preset's ``mb``).
        num_gpus: int >= 1, number of replicas.

    Returns:
        dict with the ``StyleGAN2`` arguments (``MODEL_KEYS``), the ``compile`` arguments
        (``COMPILE_KEYS``), ``batch`` (global), ``lrate``, ``betas``, ``kimg`` and
        ``preset``. Build the optimizers with ``preset_optimizers``.

    Raises:
        ValueError: unknown name, bad resolution / batch / num_gpus, or a per-replica batch
            that the minibatch-stddev group does not divide.

    Example:
        >>> resolve_preset("auto", 256)["channel_base"], resolve_preset("auto", 256)["batch"]
        (16384, 16)
    """
    check_choice("name", name, tuple(PRESETS))
    check_resolution("resolution", resolution)
    check_int("num_gpus", num_gpus, 1)
    check_int("batch", batch, 1, allow_none=True)
    spec = dict(PRESETS[name])
    res = resolution
    if name == "auto":
        spec["ref_gpus"] = num_gpus
        spec["mb"] = max(min(num_gpus * min(4096 // res, 32), 64), num_gpus)
        spec["mbstd"] = min(spec["mb"] // num_gpus, 4)
        spec["fmaps"] = 1 if res >= 512 else 0.5
        spec["lrate"] = 0.002 if res >= 1024 else 0.0025
    if spec["mb"] is None:  # cpu_tiny: the "auto" batch for one device
        spec["mb"] = max(min(num_gpus * min(4096 // res, 32), 64), num_gpus)
    if spec["gamma"] is None:
        spec["gamma"] = 0.0002 * (res**2) / spec["mb"]
    if spec["ema"] is None:
        spec["ema"] = spec["mb"] * 10 / 32
    global_batch = spec["mb"] if batch is None else batch
    if global_batch % num_gpus:
        raise ValueError(
            f"`batch` must be divisible by num_gpus={num_gpus}. Received: batch={global_batch}"
        )
    per_replica = global_batch // num_gpus
    group = min(spec["mbstd"], per_replica)
    if per_replica % group:
        raise ValueError(
            f"The per-replica batch {per_replica} is not divisible by the minibatch-stddev "
            f"group size {group} of preset {name!r}; choose batch as a multiple of "
            f"{group * num_gpus}."
        )
    return {
        "preset": name,
        "resolution": res,
        "z_dim": spec.get("z_dim", 512),
        "w_dim": spec.get("w_dim", 512),
        "channel_base": int(spec["fmaps"] * 32768),
        "channel_max": spec.get("cmax", 512),
        "mapping_layers": spec["map"],
        "mbstd_group_size": spec["mbstd"],
        "conv_clamp": 256,
        "ema_kimg": float(spec["ema"]),
        "ema_rampup": spec["ramp"],
        "r1_gamma": float(spec["gamma"]),
        "r1_interval": 16,
        "pl_weight": 2.0,
        "pl_interval": 4,
        "batch": global_batch,
        "lrate": float(spec["lrate"]),
        "betas": (0.0, 0.99),
        "kimg": spec["kimg"],
    }


def lazy_adam(learning_rate, betas=(0.0, 0.99), interval=None, epsilon=1e-8, **kwargs):
    """Adam adjusted for lazy regularisation (stylegan2-ada ``training_loop.py``).

    When a regularisation term is applied every ``interval`` steps as an extra optimizer
    step, the optimizer takes ``interval + 1`` steps per ``interval`` minibatches; with
    ``mb_ratio = interval / (interval + 1)`` the learning rate becomes ``lr * mb_ratio``
    and the betas ``beta ** mb_ratio``, so the moment decay per minibatch is unchanged.
    ``interval=None`` (or 0) returns plain Adam (the official "both" phases).

    Args:
        learning_rate: float > 0.
        betas: ``(beta_1, beta_2)``. Default ``(0.0, 0.99)`` (the official values).
        interval: int >= 1 or None, the regularisation interval (G: ``pl_interval`` = 4,
            D: ``r1_interval`` = 16).
        epsilon: float, added to the bias-corrected ``sqrt(v)`` as ``torch.optim.Adam``
            does (``torch_epsilon``). Default 1e-8.
        **kwargs: other ``tfdisgan.optimizers.Adam`` arguments.

    Returns:
        `tfdisgan.optimizers.Adam` (``keras.optimizers.Adam``, fewer graph ops) with
        ``torch_epsilon=True``, the official optimizer's update.

    Example:
        >>> opt = lazy_adam(0.0025, interval=16)
        >>> float(opt.learning_rate), opt.beta_2  # 0.0025 * 16/17, 0.99 ** (16/17)
        (0.0023529..., 0.99058...)
    """
    check_number("learning_rate", learning_rate, minimum=0)
    if interval is not None and not is_int(interval):
        raise ValueError(f"`interval` must be None or an int. Received: interval={interval!r}")
    beta_1, beta_2 = betas
    ratio = 1.0 if not interval or interval <= 0 else interval / (interval + 1)
    return optimizers.Adam(
        learning_rate=learning_rate * ratio,
        beta_1=beta_1**ratio,
        beta_2=beta_2**ratio,
        epsilon=epsilon,
        **{"torch_epsilon": True, **kwargs},
    )


def preset_optimizers(preset):
    """``OptimizerPair(g_optimizer, d_optimizer)`` for a resolved preset: ``lazy_adam``
    with the preset's learning rate and betas and its ``pl_interval`` / ``r1_interval``
    (``gan.compile(**preset_optimizers(preset), ...)``)."""
    return optimizers.OptimizerPair(
        g_optimizer=lazy_adam(preset["lrate"], preset["betas"], preset["pl_interval"]),
        d_optimizer=lazy_adam(preset["lrate"], preset["betas"], preset["r1_interval"]),
    )


def split_preset(preset):
    """``(model_kwargs, compile_kwargs)`` of a resolved preset."""
    return (
        {k: preset[k] for k in MODEL_KEYS},
        {k: preset[k] for k in COMPILE_KEYS},
    )


__all__ = [
    "COMPILE_KEYS",
    "MODEL_KEYS",
    "PRESETS",
    "lazy_adam",
    "preset_optimizers",
    "resolve_preset",
    "split_preset",
]
