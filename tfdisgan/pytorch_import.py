"""Map stylegan2-ada-pytorch networks (read by `tfdisgan.torch_pickle`, without torch) to
our StyleGAN2.

The official ``network-snapshot-*.pkl`` holds ``G``, ``D`` and ``G_ema``; their constructor
arguments (``init_kwargs``) give the architecture and their ``state_dict`` the values. Our
variable names follow the official module tree, so the mapping is by name:
``generator/synthesis/b8/conv0/noise/noise_const`` is ``synthesis.b8.conv0.noise_const``
(the official NoiseInjection is inline in its layer), ``discriminator/b4/fc/weight`` is
``b4.fc.weight``. Layouts differ only by transposes:

=====================================  ======================================
official (PyTorch)                     ours (Keras, NHWC)
=====================================  ======================================
conv ``weight [out, in, k, k]``        ``[k, k, in, out]``
dense ``weight [out, in]``             ``[in, out]`` (mapping, affine, embed, D fc/out)
``synthesis.b4.const [C, 4, 4]``       ``[4, 4, C]``
``noise_const [r, r]``, biases,        as they are (the affine bias holds its 1, as ours)
``noise_strength``, ``w_avg``
=====================================  ======================================

Learning-rate multipliers need no rescaling (both store ``N(0, 1) / lr_multiplier`` and
multiply by the runtime gain). Every official ``resample_filter`` buffer must be the
[1, 3, 3, 1] filter ours has built in (anything else is refused). The augment pipe and the
dataset settings are reported, not imported.

Supported: what the official train.py builds (G "skip", D "resnet", lrelu, 3 colour
channels, 8-layer D label mapping, mbstd with one channel), conditional or not, any
resolution, ``channel_base``, ``channel_max``, mapping depth, ``conv_clamp`` 256 (None is
accepted: ours clamps at 256, which only matters for activations above 256) and any
``num_fp16_res`` (a training choice; the import computes in float32).

Reference:
    NVlabs/stylegan2-ada-pytorch ``training/networks.py`` (the module tree and layouts),
    ``training/training_loop.py`` (the snapshot), ``legacy.py``.
"""

import numpy as np

from tfdisgan import torch_pickle

NETWORKS = {"generator": "G", "discriminator": "D", "generator_ema": "G_ema"}
RESAMPLE_FILTER = np.outer([1, 3, 3, 1], [1, 3, 3, 1]) / 64.0


class PytorchImportError(ValueError):
    """The file is not an importable stylegan2-ada-pytorch network; the message says why."""


def load_pickle(path):
    """Reads a stylegan2-ada-pytorch network pickle without torch or running its code.

    Returns:
        dict with ``G``, ``D``, ``G_ema`` (`torch_pickle.PersistentObject`) and whatever
        else the snapshot holds (``augment_pipe``, ``training_set_kwargs``).

    Raises:
        torch_pickle.TorchPickleError: a refused global, named (nothing was run).
        PytorchImportError: not a snapshot holding G, D and G_ema networks.
    """
    with open(path, "rb") as handle:
        try:
            data = torch_pickle.load(handle)
        except torch_pickle.TorchPickleError as error:
            raise torch_pickle.TorchPickleError(f"{path}: {error}") from None
    if not isinstance(data, dict):
        raise PytorchImportError(f"{path}: expected the dict of a stylegan2-ada-pytorch "
                                 f"snapshot (G, D, G_ema), found a {type(data).__name__}")
    for key, cls in (("G", "Generator"), ("D", "Discriminator"), ("G_ema", "Generator")):
        net = data.get(key)
        if not (isinstance(net, torch_pickle.PersistentObject) and net.class_name == cls):
            found = getattr(net, "class_name", type(net).__name__)
            raise PytorchImportError(f"{path}: {key} should be an official {cls}, found "
                                     f"{found}")
    return data


def _require(name, value, allowed):
    if value not in allowed:
        raise PytorchImportError(f"Unsupported official setting {name}={value!r} (ours: "
                                 f"{' or '.join(repr(a) for a in allowed)}).")


def architecture(G, D):
    """Our StyleGAN2 settings for the official G and D, from their constructor arguments.

    Returns:
        dict: ``resolution``, ``z_dim``, ``w_dim``, ``num_classes``, ``channel_base``,
        ``channel_max``, ``mapping_layers``, ``mbstd_group``, and ``official`` (the
        settings read, for the report).

    Raises:
        PytorchImportError: a setting our StyleGAN2 does not have, naming it.
    """
    g, d = G.init_kwargs, D.init_kwargs
    mapping = dict(g.get("mapping_kwargs") or {})
    synthesis = dict(g.get("synthesis_kwargs") or {})
    epilogue = dict(d.get("epilogue_kwargs") or {})
    block = dict(d.get("block_kwargs") or {})
    d_mapping = dict(d.get("mapping_kwargs") or {})
    _require("G.img_channels", g.get("img_channels"), (3,))
    _require("D.img_channels", d.get("img_channels"), (3,))
    _require("G.synthesis_kwargs.architecture", synthesis.get("architecture", "skip"),
             ("skip",))
    _require("D.architecture", d.get("architecture", "resnet"), ("resnet",))
    for name, kwargs in (("G.mapping_kwargs", mapping), ("D.mapping_kwargs", d_mapping)):
        _require(f"{name}.activation", kwargs.get("activation", "lrelu"), ("lrelu",))
        _require(f"{name}.lr_multiplier", kwargs.get("lr_multiplier", 0.01), (0.01,))
    w_dim = int(g["w_dim"])
    for key in ("embed_features", "layer_features"):
        _require(f"G.mapping_kwargs.{key}", mapping.get(key), (None, w_dim))
    _require("D.mapping_kwargs.num_layers", d_mapping.get("num_layers", 8), (8,))
    for name, kwargs in (("G.synthesis_kwargs", synthesis), ("D.block_kwargs", block),
                         ("D.epilogue_kwargs", epilogue)):
        _require(f"{name}.activation", kwargs.get("activation", "lrelu"), ("lrelu",))
        _require(f"{name}.resample_filter", list(kwargs.get("resample_filter", [1, 3, 3, 1])),
                 ([1, 3, 3, 1],))
    _require("G.synthesis_kwargs.use_noise", synthesis.get("use_noise", True), (True,))
    _require("D.epilogue_kwargs.mbstd_num_channels", epilogue.get("mbstd_num_channels", 1),
             (1,))
    _require("D.block_kwargs.freeze_layers", block.get("freeze_layers", 0), (0,))
    for name, value in (("G.synthesis_kwargs.conv_clamp", synthesis.get("conv_clamp")),
                        ("D.conv_clamp", d.get("conv_clamp"))):
        _require(name, value, (None, 256))
    resolution = int(g["img_resolution"])
    if int(d["img_resolution"]) != resolution:
        raise PytorchImportError(f"G is {resolution} px but D {d['img_resolution']} px.")
    if int(d.get("c_dim", 0)) != int(g.get("c_dim", 0)):
        raise PytorchImportError(f"G has c_dim={g.get('c_dim')} but D c_dim={d.get('c_dim')}.")
    base = int(synthesis.get("channel_base", 32768))
    top = int(synthesis.get("channel_max", 512))
    for key, ours, default in (("channel_base", base, 32768), ("channel_max", top, 512)):
        if int(d.get(key, default)) != ours:
            raise PytorchImportError(f"G and D differ in {key} ({ours} vs {d.get(key)}); our "
                                     "StyleGAN2 shares one channel schedule.")
    cmap = d.get("cmap_dim")
    if cmap is not None and int(g.get("c_dim", 0)) and cmap != min(base // 4, top):
        raise PytorchImportError(f"Unsupported official setting D.cmap_dim={cmap!r} (ours: the "
                                 "4x4 channel count)")
    return {
        "resolution": resolution,
        "z_dim": int(g["z_dim"]),
        "w_dim": w_dim,
        "num_classes": int(g.get("c_dim", 0)),
        "channel_base": base,
        "channel_max": top,
        "mapping_layers": int(mapping.get("num_layers", 8)),
        "mbstd_group": int(epilogue.get("mbstd_group_size", 4)),
        "official": {"G": g, "D": d},
    }


def official_key(path):
    """Our variable path within a network -> the official state_dict key.

    ``synthesis/b8/conv0/noise/noise_const`` -> ``synthesis.b8.conv0.noise_const``.
    """
    parts = path.split("/")
    if len(parts) >= 2 and parts[-2] == "noise":
        parts = parts[:-2] + parts[-1:]
    return ".".join(parts)


def to_ours(key, value):
    """An official tensor in our layout (see the module docstring)."""
    value = np.asarray(value, np.float32)
    if value.ndim == 4:
        return value.transpose(2, 3, 1, 0)
    if value.ndim == 3:
        return value.transpose(1, 2, 0)
    if value.ndim == 2 and not key.endswith("noise_const"):
        return value.T
    return value


def convert(nets, model):
    """Our weights for the official networks, in `model`'s variable names.

    Args:
        nets: the `load_pickle` dict (``G``, ``D``, ``G_ema``).
        model: a built `StyleGAN2` of the matching `architecture`.

    Returns:
        ``(weights, rows)``: ``{"generator/...": float32 ndarray}`` for every variable of
        `model`, and the report rows ``{"name", "official", "shape"}``.

    Raises:
        PytorchImportError: an official tensor is missing, has another shape, is not mapped
            to any of ours, or a resample filter is not [1, 3, 3, 1] (naming it).
    """
    from tfdisgan.transfer import named_variables

    sources = {attr: (name, nets[name].tensors()) for attr, name in NETWORKS.items()}
    used = {attr: set() for attr in sources}
    weights, rows = {}, []
    for key, variable in named_variables(model).items():
        attr, path = key.split("/", 1)
        net_name, tensors = sources[attr]
        official = official_key(path)
        if official not in tensors:
            raise PytorchImportError(f"The official {net_name} has no tensor {official!r} (for "
                                     f"our {key}).")
        value = to_ours(official, tensors[official])
        if tuple(value.shape) != tuple(variable.shape):
            raise PytorchImportError(
                f"{net_name}.{official} {tuple(np.shape(tensors[official]))} does not fit "
                f"our {key} {tuple(variable.shape)}.")
        weights[key] = value.copy()
        used[attr].add(official)
        rows.append({"name": key, "official": f"{net_name}.{official}",
                     "shape": list(value.shape)})
    for attr, (net_name, tensors) in sources.items():
        for name, value in tensors.items():
            if name in used[attr]:
                continue
            if name.endswith("resample_filter"):
                if not np.allclose(np.asarray(value, np.float64), RESAMPLE_FILTER, atol=1e-6):
                    raise PytorchImportError(f"{net_name}.{name} is not the [1, 3, 3, 1] "
                                             "filter our StyleGAN2 uses.")
                continue
            raise PytorchImportError(f"The official {net_name} tensor {name!r} "
                                     f"{tuple(np.shape(value))} maps to none of ours.")
    return weights, rows


def describe_extras(nets):
    """What the snapshot holds besides the networks (for the import report)."""
    extras = {}
    pipe = nets.get("augment_pipe")
    if isinstance(pipe, torch_pickle.PersistentObject):
        p = pipe.tensors().get("p")
        extras["augment_pipe"] = {"class": pipe.class_name, "kwargs": pipe.init_kwargs,
                                  "p": None if p is None else float(np.asarray(p))}
    if isinstance(nets.get("training_set_kwargs"), dict):
        extras["training_set_kwargs"] = {k: v for k, v in nets["training_set_kwargs"].items()
                                         if isinstance(v, (str, int, float, bool, type(None)))}
    return extras


__all__ = ["PytorchImportError", "architecture", "convert", "describe_extras", "load_pickle",
           "official_key", "to_ours"]
