"""Import NVIDIA's official StyleGAN2 TensorFlow 1 network pickles into our StyleGAN2.

The official pickles (``stylegan2-church-config-f.pkl`` and the other NVlabs/stylegan2
networks, and the TF stylegan2-ada ones) hold the tuple ``(G, D, Gs)`` of
``dnnlib.tflib.network.Network`` objects. A ``Network`` pickles its ``__getstate__``
dict: ``version``, ``name``, ``static_kwargs`` (the build arguments), ``components``
(sub-networks: G's ``mapping`` and ``synthesis``), ``build_module_src`` /
``build_func_name`` (Python source that the official ``__setstate__`` *executes*) and
``variables``, a list of ``(name, ndarray)``.

Nothing from the file is executed here: `SafeUnpickler` resolves only a whitelist of
globals (numpy's array, dtype and scalar reconstruction, and ``Network`` mapped to
`TFNetwork`, a placeholder that stores the state dict); any other global, such as
``os.system`` or a torch class, raises ``pickle.UnpicklingError`` naming it. The build
source is never run: the architecture is rebuilt from ``static_kwargs``.

Variable mapping (the facts of stylegan2-ada-pytorch ``legacy.py``, which converts the
same pickles to PyTorch, combined with our NHWC / HWIO layouts, in which TF1's conv
``[k, k, in, out]`` and dense ``[in, out]`` weights are already ours):

=================================================  ============================================
official (TF1)                                     ours (``generator/``, ``discriminator/``)
=================================================  ============================================
``dlatent_avg``                                    ``mapping/w_avg``
``mapping/Dense{i}/weight``, ``bias``              ``mapping/fc{i}/weight``, ``bias``
``synthesis/4x4/Const/const`` ``[1, C, 4, 4]``     ``synthesis/b4/const`` ``[4, 4, C]``
``synthesis/4x4/Conv/*``                           ``synthesis/b4/conv1/*``
``synthesis/{r}x{r}/Conv0_up/weight``              ``synthesis/b{r}/conv0/weight`` flipped in
                                                   both spatial axes (TF1's transposed conv)
``synthesis/{r}x{r}/Conv1/*``                      ``synthesis/b{r}/conv1/*``
``synthesis/{r}x{r}/ToRGB/*``                      ``synthesis/b{r}/torgb/*``
``.../mod_weight``                                 ``.../affine/weight``
``.../mod_bias``                                   ``.../affine/bias`` **plus 1** (TF1 adds the
                                                   1 at run time, ours stores it in the bias)
``.../noise_strength``                             ``.../noise/noise_strength``
``synthesis/noise{i}`` ``[1, 1, r, r]``            ``.../noise/noise_const`` ``[r, r]``: b4 conv1
                                                   i = 0, conv0 2 log2 r - 5, conv1 2 log2 r - 4
``{r}x{r}/FromRGB``, ``Conv0``, ``Conv1_down``,    ``b{r}/fromrgb``, ``conv0``, ``conv1``,
``Skip``                                           ``skip`` (no flip: down-sampling convs)
``4x4/Conv``, ``4x4/Dense0``, ``Output``           ``b4/conv``, ``b4/fc``, ``b4/out``
``lod`` (progressive-growing level, always 0)      ignored
=================================================  ============================================

Learning-rate multipliers need no rescaling: TF1 and ours both store the mapping weights
as ``N(0, 1) / lr_multiplier`` and the biases unscaled, multiplying by the runtime
coefficient in the forward pass. ``G`` goes to ``generator``, ``D`` to ``discriminator``
and ``Gs`` (the EMA) to ``generator_ema``.

Limitations: unconditional networks only (the TF1 StyleGAN2 label embedding
``LabelConcat`` is concatenated before the normalisation, not after as ours); config E/F
architectures (G "skip", D "resnet", 3 colour channels). stylegan2-ada-pytorch pickles are
read by `tfdisgan.torch_pickle` and mapped by `tfdisgan.pytorch_import` (`import_network`
tells the kinds apart). Official TF1 networks have no
``conv_clamp``; our StyleGAN2 clamps conv outputs at 256, which only matters for
activations above 256.

Reference:
    NVlabs/stylegan2 ``training/networks_stylegan2.py``, ``dnnlib/tflib/network.py``;
    NVlabs/stylegan2-ada-pytorch ``legacy.py``.
"""

import math
import os
import pickle
import re

import numpy as np

from tfdisgan import pytorch_import, torch_pickle

KINDS = {"tensorflow": "a TensorFlow StyleGAN2 pickle (NVlabs/stylegan2, TF stylegan2-ada)",
         "pytorch": "a stylegan2-ada-pytorch pickle"}

IGNORED_VARIABLES = ("lod",)


class NvidiaImportError(ValueError):
    """The file is not an importable official network; the message says why."""


class TFNetwork:
    """Placeholder for ``dnnlib.tflib.network.Network``: keeps the pickled state dict.

    Attributes:
        state: the dict the official ``Network.__getstate__`` wrote (``name``,
            ``static_kwargs``, ``components``, ``variables``, ...). Its ``build_module_src``
            is kept as a string and never executed.
    """

    def __init__(self, *args, **kwargs):
        del args, kwargs
        self.state = {}

    def __setstate__(self, state):
        if not isinstance(state, dict):
            raise pickle.UnpicklingError(
                f"dnnlib.tflib.network.Network state must be a dict, got {type(state).__name__}")
        self.state = state

    @property
    def name(self):
        return self.state.get("name", "?")

    @property
    def version(self):
        return self.state.get("version", 0)

    @property
    def static_kwargs(self):
        return dict(self.state.get("static_kwargs") or {})

    @property
    def components(self):
        return dict(self.state.get("components") or {})

    @property
    def variables(self):
        return list(self.state.get("variables") or [])


_ALLOWED_GLOBALS = {
    **torch_pickle.NUMPY_GLOBALS,
    ("dnnlib.tflib.network", "Network"): TFNetwork,
    ("dnnlib.util", "EasyDict"): torch_pickle.EasyDict,
}


class SafeUnpickler(pickle.Unpickler):
    """An unpickler that resolves only numpy arrays and the official ``Network`` class.

    Raises:
        pickle.UnpicklingError: for any other global, naming it (``posix.system``,
            ``torch._utils._rebuild_tensor_v2``, ...), and for persistent ids.
    """

    def find_class(self, module, name):
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            hint = ""
            if module.split(".")[0] in ("torch", "torch_utils"):
                from tfdisgan.checkpoint_files import PYTORCH_PICKLE

                hint = f" ({PYTORCH_PICKLE})"
            raise pickle.UnpicklingError(
                f"Refusing the global {module}.{name}: only numpy arrays and "
                f"dnnlib.tflib.network.Network are allowed in a network pickle{hint}."
            ) from None

    def persistent_load(self, pid):
        raise pickle.UnpicklingError(f"Refusing the persistent id {pid!r} in a network pickle.")


def load_pickle(path):
    """Reads an official network pickle without executing anything from it.

    Args:
        path: the ``.pkl`` file (or a file object opened in binary mode).

    Returns:
        ``(G, D, Gs)``: three `TFNetwork`.

    Raises:
        pickle.UnpicklingError: a refused global (named).
        NvidiaImportError: not the ``(G, D, Gs)`` tuple of the official TF pickles.
    """
    label = getattr(path, "name", path)
    if hasattr(path, "read"):
        data = SafeUnpickler(path).load()
    else:
        with open(path, "rb") as handle:
            try:
                data = SafeUnpickler(handle).load()
            except pickle.UnpicklingError as error:
                raise pickle.UnpicklingError(f"{path}: {error}") from None
    if not (isinstance(data, tuple) and len(data) == 3
            and all(isinstance(net, TFNetwork) for net in data)):
        raise NvidiaImportError(f"{label}: expected the official (G, D, Gs) tuple of "
                           f"dnnlib.tflib.network.Network, found {type(data).__name__}.")
    for net in data:
        if net.version < 4:
            raise NvidiaImportError(f"{label}: network {net.name!r} has pickle version "
                               f"{net.version}; StyleGAN2 networks are version 4 (StyleGAN1 "
                               "pickles are not supported).")
    return data


def collect_variables(net, prefix=""):
    """``{"mapping/Dense0/weight": ndarray, ...}`` of a `TFNetwork` and its components."""
    params = {}
    for name, value in net.variables:
        params[prefix + name] = np.asarray(value)
    for name, component in net.components.items():
        if not isinstance(component, TFNetwork):
            raise NvidiaImportError(f"Component {name!r} of {net.name!r} is not a Network.")
        params.update(collect_variables(component, prefix + name + "/"))
    return params


def _kwargs(net):
    """The network's static kwargs, its components' filling the gaps."""
    merged = {}
    for component in net.components.values():
        merged.update(component.static_kwargs)
    merged.update(net.static_kwargs)
    return merged


def architecture(G, D):
    """Our StyleGAN2 settings for the official networks, from their static kwargs.

    Returns:
        dict: ``resolution``, ``z_dim``, ``w_dim``, ``channel_base``, ``channel_max``,
        ``mapping_layers``, ``mbstd_group``.

    Raises:
        NvidiaImportError: a setting our StyleGAN2 does not have, naming the kwarg.
    """
    g, d = _kwargs(G), _kwargs(D)

    def require(kwargs, key, expected, default):
        value = kwargs.get(key, default)
        if value is not None and value != expected and not (
                isinstance(expected, list) and list(value) == expected):
            raise NvidiaImportError(f"Unsupported official setting {key}={value!r} (ours: "
                               f"{expected!r}).")

    for kwargs in (g, d):
        require(kwargs, "num_channels", 3, 3)
        require(kwargs, "label_size", 0, 0)
        require(kwargs, "fmap_decay", 1.0, 1.0)
        require(kwargs, "fmap_min", 1, 1)
        require(kwargs, "nonlinearity", "lrelu", "lrelu")
        require(kwargs, "resample_kernel", [1, 3, 3, 1], [1, 3, 3, 1])
    require(g, "architecture", "skip", "skip")
    require(d, "architecture", "resnet", "resnet")
    require(g, "mapping_lrmul", 0.01, 0.01)
    require(g, "mapping_nonlinearity", "lrelu", "lrelu")
    require(g, "normalize_latents", True, True)
    require(d, "mbstd_num_features", 1, 1)
    w_dim = int(g.get("dlatent_size", 512))
    require(g, "mapping_fmaps", w_dim, w_dim)
    resolution = int(g.get("resolution", 1024))
    if d.get("resolution", resolution) != resolution:
        raise NvidiaImportError(f"G is {resolution} px but D {d['resolution']} px.")
    for key in ("fmap_base", "fmap_max"):
        if g.get(key) != d.get(key):
            raise NvidiaImportError(f"G and D differ in {key} ({g.get(key)} vs {d.get(key)}); our "
                               "StyleGAN2 shares one channel schedule.")
    return {
        "resolution": resolution,
        "z_dim": int(g.get("latent_size", 512)),
        "w_dim": w_dim,
        "channel_base": int(g.get("fmap_base", 16 << 10)) * 2,
        "channel_max": int(g.get("fmap_max", 512)),
        "mapping_layers": int(g.get("mapping_layers", 8)),
        "mbstd_group": int(d.get("mbstd_group_size", 4)),
    }


# ------------------------------------------------------------------------------------------
# Name mapping
# ------------------------------------------------------------------------------------------


def _identity(x):
    return x


def _flip(x):
    # TF1 runs the up-sampling conv as a transposed convolution; ours (and stylegan2-ada-
    # pytorch's) correlates with the kernel flipped in both spatial axes.
    return x[::-1, ::-1]


def _plus_one(x):
    return x + 1


def _const(x):
    return np.transpose(x[0], (1, 2, 0))


def _noise(x):
    return x[0, 0]


_G_SUFFIX = {"weight": "weight", "bias": "bias", "affine/weight": "mod_weight",
             "affine/bias": "mod_bias", "noise/noise_strength": "noise_strength"}


def official_generator_name(path):
    """Our generator path (``synthesis/b8/conv0/weight``) -> ``(official name, transform)``.

    Raises:
        NvidiaImportError: a path with no official counterpart.
    """
    if path == "mapping/w_avg":
        return "dlatent_avg", _identity
    match = re.fullmatch(r"mapping/fc(\d+)/(weight|bias)", path)
    if match:
        return f"mapping/Dense{match.group(1)}/{match.group(2)}", _identity
    if path == "synthesis/b4/const":
        return "synthesis/4x4/Const/const", _const
    match = re.fullmatch(r"synthesis/b(\d+)/(conv0|conv1|torgb)/(.+)", path)
    if match:
        res, layer, suffix = int(match.group(1)), match.group(2), match.group(3)
        log2 = int(math.log2(res))
        if suffix == "noise/noise_const":
            index = 0 if res == 4 else 2 * log2 - (5 if layer == "conv0" else 4)
            return f"synthesis/noise{index}", _noise
        if suffix in _G_SUFFIX:
            scope = {"conv0": "Conv0_up", "conv1": "Conv" if res == 4 else "Conv1",
                     "torgb": "ToRGB"}[layer]
            name = f"synthesis/{res}x{res}/{scope}/{_G_SUFFIX[suffix]}"
            if suffix == "affine/bias":
                return name, _plus_one
            if suffix == "weight" and layer == "conv0":
                return name, _flip
            return name, _identity
    raise NvidiaImportError(f"Our generator variable {path!r} has no official counterpart.")


def official_discriminator_name(path):
    """Our discriminator path (``b32/conv1/bias``) -> ``(official name, transform)``.

    Raises:
        NvidiaImportError: a path with no official counterpart.
    """
    match = re.fullmatch(r"b4/(conv|fc|out)/(weight|bias)", path)
    if match:
        scope = {"conv": "4x4/Conv", "fc": "4x4/Dense0", "out": "Output"}[match.group(1)]
        return f"{scope}/{match.group(2)}", _identity
    match = re.fullmatch(r"b(\d+)/(fromrgb|conv0|conv1|skip)/(weight|bias)", path)
    if match:
        res = int(match.group(1))
        scope = {"fromrgb": "FromRGB", "conv0": "Conv0", "conv1": "Conv1_down",
                 "skip": "Skip"}[match.group(2)]
        return f"{res}x{res}/{scope}/{match.group(3)}", _identity
    raise NvidiaImportError(f"Our discriminator variable {path!r} has no official counterpart.")


def convert(G, D, Gs, model):
    """Our weights for the official networks, in `model`'s variable names.

    Args:
        G, D, Gs: `TFNetwork` (`load_pickle`).
        model: a built `StyleGAN2` of the matching `architecture`.

    Returns:
        ``(weights, rows)``: ``{"generator/...": float32 ndarray}`` for every variable of
        `model` (G, D, G EMA), and the report rows ``{"name", "official", "shape"}``.

    Raises:
        NvidiaImportError: an official variable is missing, has another shape, or is not
            mapped to any of ours (naming it).
    """
    from tfdisgan.transfer import named_variables

    sources = {"generator": ("G", collect_variables(G)),
               "discriminator": ("D", collect_variables(D)),
               "generator_ema": ("Gs", collect_variables(Gs))}
    used = {attr: set() for attr in sources}
    weights, rows = {}, []
    for key, variable in named_variables(model).items():
        attr, path = key.split("/", 1)
        net_name, params = sources[attr]
        rule = official_discriminator_name if attr == "discriminator" else \
            official_generator_name
        official, transform = rule(path)
        if official not in params:
            raise NvidiaImportError(f"The official {net_name} has no variable {official!r} (for "
                               f"our {key}); is it a StyleGAN2 config E/F network?")
        value = np.asarray(transform(params[official]), dtype=np.float32)
        if tuple(value.shape) != tuple(variable.shape):
            raise NvidiaImportError(f"{net_name} {official!r} {tuple(params[official].shape)} does "
                               f"not fit our {key} {tuple(variable.shape)}.")
        weights[key] = value.copy()  # (np.ascontiguousarray would make scalars 1-d)
        used[attr].add(official)
        rows.append({"name": key, "official": f"{net_name}/{official}",
                     "shape": list(value.shape)})
    for attr, (net_name, params) in sources.items():
        left = [n for n in params if n not in used[attr]
                and n.rsplit("/", 1)[-1] not in IGNORED_VARIABLES]
        if left:
            raise NvidiaImportError(f"The official {net_name} variable {left[0]!r} "
                               f"{tuple(params[left[0]].shape)} maps to none of ours.")
    return weights, rows


# ------------------------------------------------------------------------------------------
# Output
# ------------------------------------------------------------------------------------------


def train_config(arch, source_name):
    """The resolved `TrainConfig` of an imported network (what its config.json records)."""
    from tfdisgan import config as config_lib

    config = config_lib.TrainConfig(
        data=f"imported:{source_name}", model="stylegan2", cfg="stylegan2",
        resolution=arch["resolution"], z_dim=arch["z_dim"], w_dim=arch["w_dim"],
        channel_base=arch["channel_base"], channel_max=arch["channel_max"],
        mapping_layers=arch["mapping_layers"], mbstd_group=arch["mbstd_group"],
        conditional=bool(arch.get("num_classes")),
        num_fp16_res=0, augment="none", showcase=False, steps=1,
    )
    return config_lib.fill_defaults(config, arch["resolution"], 1)


def build_model(arch, source_name="official"):
    """``(model, step, config)``: our StyleGAN2 for `arch`, built as training does."""
    import tensorflow as tf

    from tfdisgan import runs

    config = train_config(arch, source_name)
    model, step = runs.build_model(config, arch.get("num_classes", 0),
                                   tf.distribute.get_strategy())
    return model, step, config


def pickle_kind(path):
    """``"tensorflow"`` (NVlabs/stylegan2, TF stylegan2-ada) or ``"pytorch"``
    (stylegan2-ada-pytorch) from the class names a network pickle spells out near its start
    (pickles store global names as plain text; nothing is unpickled).

    Raises:
        NvidiaImportError: neither kind's classes appear.
    """
    with open(path, "rb") as handle:
        head = handle.read(1 << 20)
    found = {kind: head.find(marker) for kind, marker in (
        ("tensorflow", b"dnnlib.tflib.network"), ("pytorch", b"torch_utils.persistence"))}
    found = {kind: at for kind, at in found.items() if at >= 0}
    if not found:
        raise NvidiaImportError(f"{path}: not an official StyleGAN2 network pickle (neither "
                                "dnnlib.tflib.network nor torch_utils.persistence classes).")
    return min(found, key=found.get)


def import_network(source, out, fmt="run", overwrite=False, verbose=True):
    """Converts an official pickle into a run-style folder or a ``.npz``.

    Both kinds are taken, each told apart by the classes it names (`pickle_kind`) and read
    without running anything from it: NVIDIA's TensorFlow pickles (this module) and
    stylegan2-ada-pytorch snapshots (`tfdisgan.pytorch_import`, its G, D and G_ema;
    conditional ones too).

    Args:
        source: path of the official pickle.
        out: output folder (``fmt="run"``: ``config.json``, ``checkpoints/ckpt-0``,
            ``import_report.json``; usable as ``--network`` of scripts/generate.py,
            style_mix.py, export.py and as ``--transfer_from``) or ``.npz`` file
            (``fmt="npz"``: ``--transfer_from`` only).
        fmt: ``"run"`` or ``"npz"``.
        overwrite: replace an existing `out`.
        verbose: print a summary.

    Returns:
        `out`.

    Raises:
        pickle.UnpicklingError, NvidiaImportError, FileExistsError: see `load_pickle` and
            `convert`; `out` exists without `overwrite`.
        pytorch_import.PytorchImportError: a stylegan2-ada-pytorch setting ours lacks.
    """
    if fmt not in ("run", "npz"):
        raise ValueError(f"fmt must be 'run' or 'npz'. Received: fmt={fmt!r}")
    if os.path.exists(out) and not overwrite:
        raise FileExistsError(f"{out} exists; pass --overwrite to replace it.")
    kind = pickle_kind(source)
    if kind == "pytorch":
        nets = pytorch_import.load_pickle(source)
        arch = pytorch_import.architecture(nets["G"], nets["D"])
        names = ["G", "D", "G_ema"]
    else:
        G, D, Gs = load_pickle(source)
        arch = architecture(G, D)
        names = [G.name, D.name, Gs.name]

    from tfdisgan import runs, transfer

    name = os.path.basename(os.fspath(source))
    model, step, config = build_model(arch, name)
    if kind == "pytorch":
        weights, rows = pytorch_import.convert(nets, model)
    else:
        weights, rows = convert(G, D, Gs, model)
    named = transfer.named_variables(model)
    for key, value in weights.items():
        named[key].assign(value)
    info = {"source": os.path.abspath(source), "kind": KINDS[kind],
            "official_networks": names, "variables": rows,
            "architecture": {k: v for k, v in arch.items() if k != "official"}}
    if kind == "pytorch":
        info.update(official_kwargs=arch["official"], **pytorch_import.describe_extras(nets))
    if fmt == "npz":
        transfer.write_npz(out, weights, {**transfer.describe_model(model),
                                          "imported_from": info["source"]})
    else:
        runs.write_run(out, model, step, config, arch.get("num_classes", 0),
                       extra={"import_report.json": info}, overwrite=True)
    if verbose:
        classes = f", {arch['num_classes']} classes" if arch.get("num_classes") else ""
        print(f"Found {KINDS[kind]}. Imported {len(rows)} variables of {'/'.join(names)} "
              f"({arch['resolution']} px, z {arch['z_dim']}, w {arch['w_dim']}, channel_base "
              f"{arch['channel_base']}, {arch['mapping_layers']} mapping layers{classes}) "
              f"-> {out}")
    return out


__all__ = ["NvidiaImportError", "SafeUnpickler", "TFNetwork", "architecture",
           "collect_variables", "convert", "import_network", "load_pickle",
           "official_discriminator_name", "official_generator_name"]
