"""Generators -> SavedModels for TF Serving, and loading any network as a view.

``export_saved_model`` writes the EMA generator of a trained ``DCGAN`` / ``StyleGAN2`` in
TF Serving's layout (``MODEL_NAME/VERSION/saved_model.pb``) with batched signatures that
TF Serving's REST API ("instances" rows or "inputs" columns) and gRPC ``Predict`` accept:

==================  =========================================================  ===========
signature           inputs (every one batched, ``N <= max_batch``)              outputs
==================  =========================================================  ===========
serving_default     seeds int64 [N], psi float32 [N], class_id int32 [N]        images
generate_from_z     z float32 [N, z_dim], psi [N], class_id [N]                 images
mapping             z float32 [N, z_dim], psi [N], class_id [N]  (StyleGAN2)    ws
generate_from_w     ws float32 [N, num_ws, w_dim]                (StyleGAN2)    images
mix                 coarse_seeds, fine_seeds int64 [N], crossover int32 [N],    images
                    psi [N], class_id [N]                        (StyleGAN2)
==================  =========================================================  ===========

``images`` are uint8 ``[N, H, W, 3]``; ``ws`` float32 ``[N, num_ws, w_dim]``. A seed gives
the same image as ``model.generate(seeds=...)``: the latent is drawn in-graph with the same
stateless Philox op (``tfdisgan.models.seeds.seeds_to_z``). StyleGAN2 noise is "const".
``psi`` is the truncation (``GAN.synthesize``); ``class_id`` must be 0 for unconditional
models. In ``mix``, style layers ``[0, crossover)`` come from ``coarse_seeds`` and the rest
from ``fine_seeds`` (``crossover`` in ``[0, num_ws]``). Inputs are checked in-graph: a seed
outside ``[0, 2**32)``, ``psi`` outside ``[-1, 2]``, an unknown class, a crossover out of
range, rows of different lengths or more than ``max_batch`` rows fail with
``InvalidArgumentError`` (HTTP 400 in TF Serving) whose message names the input.

The SavedModel holds only TensorFlow ops and variables: ``tf.saved_model.load`` runs it in a
process without tfdisgan or Keras. ``assets.extra/tfdisgan.json`` describes it (sizes, class
names, signatures, the model config); TF Serving ignores it.

``load_network`` opens what the scripts' ``--network`` names: a run folder (its latest
checkpoint and ``config.json``), a checkpoint, or an exported SavedModel. Anything else fails
with a one-line ``NetworkError`` naming the flag and the file: a truncated or damaged
checkpoint (found by restoring it, never by its size; the readable checkpoints beside it are
listed, none is loaded in its place), a pickle, a text file (``tfdisgan.runs``).

Example:
    >>> export_saved_model(model, "exported/fire/1", class_names=["건물화재"])
    >>> view = load_network("exported/fire/1")        # or a run folder, or a checkpoint
    >>> view.images_from_seeds([0, 1, 2], labels=0, psi=0.7).shape
    (3, 256, 256, 3)
"""

import json
import logging
import os
import shutil
import tempfile

import numpy as np
import tensorflow as tf

from tfdisgan import checkpoint_files, views
from tfdisgan._validate import PSI_RANGE
from tfdisgan.images import to_uint8_tensor
from tfdisgan.models.gan import GAN
from tfdisgan.models.seeds import MAX_SEED, seeds_to_z
from tfdisgan.runs import (  # noqa: F401 - the loaders' names, as before
    NetworkError,
    is_saved_model,
    load_model,
    resolve_network,
)
from tfdisgan.version import __version__

DEFAULT_MAX_BATCH = 256
METADATA = os.path.join("assets.extra", "tfdisgan.json")
SIGNATURES_ALL = ("serving_default", "generate_from_z", "mapping", "generate_from_w", "mix")
SIGNATURES_DCGAN = ("serving_default", "generate_from_z")


class _GeneratorModule(tf.Module):
    """The exported object: the EMA generator's variables and the serving functions."""

    def __init__(self, view, max_batch):
        super().__init__(name="tfdisgan_generator")
        self._view = view
        net = view.net
        # Keras 3 variables are trackable: a list attribute saves them (as ExportArchive).
        self.generator_variables = list(net.variables)
        self.max_batch = int(max_batch)
        n, vec = [None], tf.TensorSpec
        seeds, psi, cls = (vec(n, tf.int64, "seeds"), vec(n, tf.float32, "psi"),
                           vec(n, tf.int32, "class_id"))
        z = vec([None, view.z_dim], tf.float32, "z")
        self.serving_default = tf.function(self._from_seeds, input_signature=[seeds, psi, cls],
                                           autograph=False)
        self.generate_from_z = tf.function(self._from_z, input_signature=[z, psi, cls],
                                           autograph=False)
        if view.style_based:
            ws = vec([None, view.num_ws, view.w_dim], tf.float32, "ws")
            self.mapping = tf.function(self._mapping, input_signature=[z, psi, cls],
                                       autograph=False)
            self.generate_from_w = tf.function(self._from_ws, input_signature=[ws],
                                               autograph=False)
            self.mix = tf.function(
                self._mix,
                input_signature=[vec(n, tf.int64, "coarse_seeds"), vec(n, tf.int64, "fine_seeds"),
                                 vec(n, tf.int32, "crossover"), psi, cls],
                autograph=False,
            )

    def signatures(self):
        names = SIGNATURES_ALL if self._view.style_based else SIGNATURES_DCGAN
        return {name: getattr(self, name).get_concrete_function() for name in names}

    # --- checks ---------------------------------------------------------------------------

    def _checks(self, named, psi=None, class_id=None, seeds=()):
        """Assertions on the inputs; the computation runs under them (control deps)."""
        first_name, first = named[0]
        n = tf.shape(first)[0]
        checks = [tf.debugging.assert_less_equal(
            n, self.max_batch,
            message=f"Too many rows in `{first_name}`: this model serves at most "
                    f"{self.max_batch} per request (max_batch); split the request.")]
        for name, tensor in named[1:]:
            checks.append(tf.debugging.assert_equal(
                tf.shape(tensor)[0], n,
                message=f"`{name}` must have as many rows as `{first_name}` (every input is "
                        "batched: one value per image)."))
        if psi is not None:
            low, high = PSI_RANGE
            checks.append(tf.debugging.assert_greater_equal(
                psi, low, message=f"`psi` (truncation) must be in [{low}, {high}]."))
            checks.append(tf.debugging.assert_less_equal(
                psi, high, message=f"`psi` (truncation) must be in [{low}, {high}]."))
        if class_id is not None:
            view = self._view
            if view.num_classes:
                valid = views.describe_classes(view.num_classes, view.class_names)
                message = f"`class_id` must be in [0, {view.num_classes}): {valid}."
                high = view.num_classes
            else:
                message = "`class_id` must be 0: this model is unconditional."
                high = 1
            checks.append(tf.debugging.assert_non_negative(class_id, message=message))
            checks.append(tf.debugging.assert_less(class_id, high, message=message))
        for name, tensor in seeds:
            checks.append(tf.debugging.assert_non_negative(
                tensor, message=f"`{name}` must be in [0, 2**32)."))
            checks.append(tf.debugging.assert_less(
                tensor, tf.constant(MAX_SEED, tf.int64),
                message=f"`{name}` must be in [0, 2**32)."))
        return checks

    # --- computation ----------------------------------------------------------------------

    def _labels(self, class_id):
        return class_id if self._view.num_classes else None

    def _ws(self, z, psi, class_id):
        view = self._view
        mapping = view.net.mapping
        ws = mapping(z, self._labels(class_id), training=False)
        if mapping.w_avg is not None:
            ws = views.truncate_ws(ws, mapping.w_avg, psi, view.truncation_cutoff)
        return ws

    def _images(self, z, psi, class_id):
        view = self._view
        if view.style_based:
            ws = self._ws(z, psi, class_id)
            images = view.net.synthesis(ws, noise_mode="const", training=False)
        else:
            z = z * psi[:, None]
            labels = self._labels(class_id)
            images = view.net(z if labels is None else [z, labels], training=False)
        return {"images": to_uint8_tensor(images)}

    def _from_seeds(self, seeds, psi, class_id):
        checks = self._checks([("seeds", seeds), ("psi", psi), ("class_id", class_id)],
                              psi=psi, class_id=class_id, seeds=[("seeds", seeds)])
        with tf.control_dependencies(checks):
            z = seeds_to_z(tf.identity(seeds), self._view.z_dim)
            return self._images(z, tf.identity(psi), tf.identity(class_id))

    def _from_z(self, z, psi, class_id):
        checks = self._checks([("z", z), ("psi", psi), ("class_id", class_id)],
                              psi=psi, class_id=class_id)
        checks.append(tf.debugging.assert_all_finite(z, "`z` must be finite."))
        with tf.control_dependencies(checks):
            return self._images(tf.identity(z), tf.identity(psi), tf.identity(class_id))

    def _mapping(self, z, psi, class_id):
        checks = self._checks([("z", z), ("psi", psi), ("class_id", class_id)],
                              psi=psi, class_id=class_id)
        checks.append(tf.debugging.assert_all_finite(z, "`z` must be finite."))
        with tf.control_dependencies(checks):
            return {"ws": self._ws(tf.identity(z), tf.identity(psi), tf.identity(class_id))}

    def _from_ws(self, ws):
        checks = self._checks([("ws", ws)])
        checks.append(tf.debugging.assert_all_finite(ws, "`ws` must be finite."))
        with tf.control_dependencies(checks):
            images = self._view.net.synthesis(tf.identity(ws), noise_mode="const",
                                              training=False)
            return {"images": to_uint8_tensor(images)}

    def _mix(self, coarse_seeds, fine_seeds, crossover, psi, class_id):
        num_ws = self._view.num_ws
        named = [("coarse_seeds", coarse_seeds), ("fine_seeds", fine_seeds),
                 ("crossover", crossover), ("psi", psi), ("class_id", class_id)]
        checks = self._checks(named, psi=psi, class_id=class_id, seeds=named[:2])
        message = f"`crossover` must be in [0, {num_ws}] (the number of style layers)."
        checks.append(tf.debugging.assert_non_negative(crossover, message=message))
        checks.append(tf.debugging.assert_less_equal(crossover, num_ws, message=message))
        with tf.control_dependencies(checks):
            z_dim = self._view.z_dim
            psi, class_id = tf.identity(psi), tf.identity(class_id)
            coarse = self._ws(seeds_to_z(tf.identity(coarse_seeds), z_dim), psi, class_id)
            fine = self._ws(seeds_to_z(tf.identity(fine_seeds), z_dim), psi, class_id)
            ws = views.crossover_ws(coarse, fine, tf.identity(crossover))
            images = self._view.net.synthesis(ws, noise_mode="const", training=False)
            return {"images": to_uint8_tensor(images)}


def check_export_dir(export_dir):
    """``ValueError`` unless ``export_dir`` ends in a numeric version folder (TF Serving)."""
    version = os.path.basename(os.path.normpath(os.fspath(export_dir)))
    if not version.isdigit():
        raise ValueError(
            "The export folder must end in a numeric version folder, TF Serving's "
            f"MODEL_NAME/VERSION layout (e.g. exported/fire/1). Received: {export_dir!r}"
        )
    return os.path.normpath(os.fspath(export_dir))


def metadata(view, max_batch):
    """The JSON description written to ``assets.extra/tfdisgan.json``."""
    names = SIGNATURES_ALL if view.style_based else SIGNATURES_DCGAN
    config = view.model.get_config() if hasattr(view.model, "get_config") else {}
    return {
        "format": "tfdisgan-generator",
        "tfdisgan_version": __version__,
        "kind": view.kind,
        "resolution": view.resolution,
        "z_dim": view.z_dim,
        "w_dim": view.w_dim,
        "num_ws": view.num_ws,
        "num_classes": view.num_classes,
        "class_names": list(view.class_names) if view.class_names else None,
        "max_batch": int(max_batch),
        "psi_range": list(PSI_RANGE),
        "truncation_cutoff": view.truncation_cutoff,
        "noise_mode": "const",
        "seed_to_z": "tf.random.stateless_normal([z_dim], seed=[seed, 0], alg='philox')",
        "signatures": list(names),
        "model_config": json.loads(json.dumps(config, default=str)),
    }


def export_saved_model(network, export_dir, max_batch=DEFAULT_MAX_BATCH, class_names=None,
                       overwrite=False):
    """Writes the EMA generator of ``network`` as a TF Serving SavedModel.

    The folder appears complete or not at all: the model is written beside it and renamed
    (TF Serving ignores non-numeric folders such as the temporary one).

    Args:
        network: a trained ``GAN`` (``DCGAN`` / ``StyleGAN2``) or a ``GeneratorView`` of one.
        export_dir: str, ``.../MODEL_NAME/VERSION`` with a numeric ``VERSION``.
        max_batch: int >= 1, most rows per request (checked in-graph). Default 256.
        class_names: None or the class names by id (stored in the metadata, used in errors).
        overwrite: bool, replace an existing ``export_dir``. Default False.

    Returns:
        str, ``export_dir``.

    Raises:
        ValueError: bad folder, existing folder without ``overwrite``, bad ``max_batch``,
            or ``network`` not a tfdisgan GAN (an exported SavedModel cannot be re-exported).
    """
    export_dir = check_export_dir(export_dir)
    if not isinstance(max_batch, (int, np.integer)) or isinstance(max_batch, bool) or (
            max_batch < 1):
        raise ValueError(f"`max_batch` must be an int >= 1. Received: max_batch={max_batch}")
    if isinstance(network, SavedModelView):
        raise ValueError(
            f"{network.path!r} is already an exported SavedModel: copy its folder instead."
        )
    if isinstance(network, GAN):
        view = views.GeneratorView(network, class_names=class_names)
    else:
        view = views.as_view(network)
        if class_names is not None:
            view = views.GeneratorView(view.model, view.use_ema, class_names)
    if os.path.exists(export_dir) and not overwrite:
        raise ValueError(f"{export_dir!r} exists; pass overwrite=True (--overwrite) to replace.")
    parent = os.path.dirname(export_dir) or "."
    os.makedirs(parent, exist_ok=True)
    version = os.path.basename(export_dir)
    tmp = tempfile.mkdtemp(prefix=f".{version}.tmp-", dir=parent)
    try:
        module = _GeneratorModule(view, int(max_batch))
        # Custom gradients are left out: the signatures serve inference only, and TensorFlow
        # warns at load time about the gradient functions it could not save anyway.
        options = tf.saved_model.SaveOptions(experimental_custom_gradients=False)
        tf.saved_model.save(module, tmp, signatures=module.signatures(), options=options)
        os.makedirs(os.path.join(tmp, "assets.extra"), exist_ok=True)
        with open(os.path.join(tmp, METADATA), "w", encoding="utf-8") as handle:
            json.dump(metadata(view, max_batch), handle, indent=2, ensure_ascii=False)
        old = None
        if os.path.exists(export_dir):
            old = tempfile.mkdtemp(prefix=f".{version}.old-", dir=parent)
            os.rmdir(old)
            os.replace(export_dir, old)
        os.replace(tmp, export_dir)
        if old:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return export_dir


# ------------------------------------------------------------------------------------------
# Loading networks
# ------------------------------------------------------------------------------------------


class SavedModelView(views.GeneratorView):
    """A ``GeneratorView`` of an exported SavedModel (runs its signatures).

    Noise is always "const" (what was exported). ``images_from_seeds`` runs
    ``serving_default``, i.e. exactly what TF Serving answers.

    Args:
        path: str, the version folder (``.../MODEL_NAME/VERSION``).
        batch_size: int >= 1, rows per call (capped at the model's ``max_batch``).
    """

    def __init__(self, path, batch_size=16):  # noqa: D107 - no GAN behind it
        self.path = os.fspath(path)
        # TensorFlow warns once per function that the (inference-only) SavedModel has no
        # gradient for the custom-gradient FIR op; nobody asks it for gradients here.
        logger = logging.getLogger("absl")  # function_deserialization logs through absl
        level = logger.level
        logger.setLevel(logging.ERROR)
        try:
            self.loaded = tf.saved_model.load(self.path)
        except (OSError, IndexError, ValueError, tf.errors.OpError) as error:
            # OSError: an unparsable saved_model.pb; the others: its variables (a checkpoint).
            raise NetworkError(f"The SavedModel {self.path!r} cannot be loaded (damaged or "
                               f"truncated?): {checkpoint_files.one_line(error)}") from None
        finally:
            logger.setLevel(level)
        sigs = self.loaded.signatures
        if "generate_from_z" not in sigs:
            raise NetworkError(f"The SavedModel {self.path!r} has no generate_from_z "
                               f"signature: tfdisgan did not export it (signatures: "
                               f"{sorted(sigs)}).")
        meta = {}
        meta_path = os.path.join(self.path, METADATA)
        if os.path.isfile(meta_path):
            try:
                with open(meta_path, encoding="utf-8") as handle:
                    meta = json.load(handle)
            except (OSError, ValueError) as error:
                raise NetworkError(f"The SavedModel {self.path!r}: {meta_path} is "
                                   f"unreadable ({checkpoint_files.one_line(error)})") from None
        z_spec = sigs["generate_from_z"].structured_input_signature[1]["z"]
        self.model = None
        self.net = None
        self.use_ema = True
        self.z_dim = int(z_spec.shape[1])
        self.style_based = "generate_from_w" in sigs
        self.kind = meta.get("kind", "stylegan2" if self.style_based else "dcgan")
        out = sigs["generate_from_z"].structured_outputs["images"]
        self.resolution = int(meta.get("resolution") or out.shape[1] or 0)
        if self.style_based:
            ws_spec = sigs["generate_from_w"].structured_input_signature[1]["ws"]
            self.num_ws, self.w_dim = int(ws_spec.shape[1]), int(ws_spec.shape[2])
        else:
            self.num_ws = self.w_dim = None
        self.num_classes = int(meta.get("num_classes", 0))
        self.truncation_cutoff = meta.get("truncation_cutoff")
        self.max_batch = int(meta.get("max_batch", DEFAULT_MAX_BATCH))
        self.batch_size = max(1, min(int(batch_size), self.max_batch))
        self.noise_modes = ("const",)
        self.class_names = views.check_class_names(meta.get("class_names"), self.num_classes)
        self.metadata = meta

    def _cls(self, labels, n):
        labels = self.labels(labels, n)
        return np.zeros([n], np.int32) if labels is None else labels

    def _run(self, name, key, **columns):
        n = len(next(iter(columns.values())))
        out = []
        for start in range(0, n, self.batch_size):
            batch = {k: tf.constant(v[start : start + self.batch_size]) for k, v in
                     columns.items()}
            out.append(self.loaded.signatures[name](**batch)[key].numpy())
        return np.concatenate(out)

    def ws_from_z(self, z, labels=None, psi=1.0):
        self.require_styles("latents in w")
        z = self._check_z(z)
        return self._run("mapping", "ws", z=z, psi=views.psi_per_row(psi, len(z)),
                         class_id=self._cls(labels, len(z)))

    def images_from_z(self, z, labels=None, psi=1.0, noise_mode="const"):
        self._check_noise(noise_mode)
        z = self._check_z(z)
        return self._run("generate_from_z", "images", z=z, psi=views.psi_per_row(psi, len(z)),
                         class_id=self._cls(labels, len(z)))

    def images_from_seeds(self, seeds, labels=None, psi=1.0, noise_mode="const"):
        self._check_noise(noise_mode)
        seeds = views.check_seeds(seeds)
        return self._run("serving_default", "images", seeds=seeds,
                         psi=views.psi_per_row(psi, len(seeds)),
                         class_id=self._cls(labels, len(seeds)))

    def images_from_ws(self, ws, noise_mode="const"):
        self.require_styles("synthesis from ws")
        self._check_noise(noise_mode)
        return self._run("generate_from_w", "images", ws=self.check_ws(ws))


def load_network(path, use_ema=True, batch_size=16, flag="--network"):
    """A ``GeneratorView`` of what ``--network`` names: run folder, checkpoint or SavedModel.

    Args:
        path: str, see `resolve_network`.
        use_ema: bool, the EMA generator (a SavedModel holds only that one).
        batch_size: int >= 1, rows per generator call.
        flag: str, the flag ``path`` came from, named in the messages.

    Raises:
        NetworkError: nothing loadable, or a damaged checkpoint or SavedModel (the message
            names the path and the file).
    """
    kind = resolve_network(path, flag)
    if kind[0] == "saved_model":
        if not use_ema:
            raise NetworkError("An exported SavedModel holds only the EMA generator.")
        return SavedModelView(kind[1], batch_size=batch_size)
    model, class_names, _ = load_model(path, flag)
    return views.GeneratorView(model, use_ema=use_ema, class_names=class_names,
                                batch_size=batch_size)


__all__ = [
    "DEFAULT_MAX_BATCH",
    "NetworkError",
    "SavedModelView",
    "check_export_dir",
    "export_saved_model",
    "load_model",
    "load_network",
    "resolve_network",
]
