"""Latent walks, style mixing, image grids and GIFs for trained generators.

Everything here works on a ``GeneratorView``: one uniform view of a generator, whichever
object holds it -- a trained ``DCGAN`` / ``StyleGAN2`` model (its EMA generator), or an
exported SavedModel (``tfdisgan.export.SavedModelView``). A view maps seeds to latents
(``seeds_to_z``), latents to images, and, for style-based generators (StyleGAN2), latents
to per-layer styles ``ws [N, num_ws, w_dim]`` and ``ws`` to images. Functions that mix take
the source of the row styles, of the column styles and the synthesis network as separate
views, so styles of two *different* generators with the same ``num_ws`` and ``w_dim`` can
be mixed too (cross-domain mixing, layer swapping).

* ``latent_walk``: a looping walk through the latents of some seeds, spherical in ``z`` or
  linear in ``w`` (StyleGAN2), as frames for ``write_gif``.
* ``style_mixing_grid``: the figure of the StyleGAN papers: column seeds give the styles of
  the layers ``styles`` (coarse ``0-3``, middle ``4-7``, fine ``8-`` at 1024 px) to the row
  seeds, with the row and column source images along the edges.
* ``crossover_sweep``: the same grid as GIF frames, sweeping the crossover layer.
* ``interpolation_grid``: rows of straight walks between seeds (what DCGAN can show).
* ``cross_domain_mix`` / ``cross_domain_sweeps``: two generators (or two classes) split by
  *resolution* (``parse_split``: ``"8"`` = A gives 4-8 px, B 16 px and up), both directions
  at once; ``paired_mix`` / ``class_mix``: the same per seed, one ``z`` for both sources.
* ``swap_layers``: layer swapping (Pinkney & Adler 2020), a new StyleGAN2 whose synthesis
  blocks come from A up to a resolution and from B above (hard, or blended); ``write_run``
  stores any model as a run folder for ``--network``.
* ``CrossMixTraining`` (``--cross_mix``): the same mixing of two classes inside training.

Style mixing needs a style-based generator: on a DCGAN these raise ``ValueError`` ("style
mixing needs StyleGAN2"); latent walks in ``z`` work for both.

Example:
    >>> view = GeneratorView(model)                       # a trained StyleGAN2
    >>> write_gif(latent_walk(view, [0, 1, 2], frames=48), "walk.gif", fps=24)
    >>> grid = style_mixing_grid(view, [0, 1, 2], [10, 11], styles=range(0, 4))
    >>> save_png(grid.image, "style_mixing.png")

Reference:
    Karras et al., "A Style-Based Generator Architecture for Generative Adversarial
    Networks", CVPR 2019 (figure 3, style mixing); stylegan2-ada-pytorch ``style_mixing.py``.
    Pinkney & Adler, "Resolution Dependent GAN Interpolation for Controllable Image
    Synthesis Between Domains", 2020 (layer swapping).
"""

import dataclasses
import math
import os
import re
import unicodedata

import numpy as np
import tensorflow as tf
from PIL import Image

from tfdisgan._validate import PSI_RANGE, check_psi
from tfdisgan.callbacks import image_grid, save_png
from tfdisgan.models.gan import GAN, MAX_SEED, seeds_to_z

NOISE_MODES = ("const", "random", "none")
SPACES = ("z", "w")
_NEEDS_STYLEGAN2 = "style mixing needs StyleGAN2"


# ------------------------------------------------------------------------------------------
# Parsing helpers shared by the scripts
# ------------------------------------------------------------------------------------------


def parse_range(text, name="range"):
    """Parses ``"0-3,7,10-11"`` into ``[0, 1, 2, 3, 7, 10, 11]`` (stylegan2-ada's
    ``num_range``; ranges are inclusive).

    Args:
        text: str, or an iterable of ints (returned as a list), or an int.
        name: str, what the value is (for the error message: a flag name).

    Returns:
        list of int, in the given order.

    Raises:
        ValueError: not a list of non-negative ints or ``a-b`` ranges with ``a <= b``.
    """
    if isinstance(text, (int, np.integer)):
        return [int(text)]
    if not isinstance(text, str):
        return [int(v) for v in text]
    values = []
    for part in (p.strip() for p in text.split(",")):
        match = re.fullmatch(r"(\d+)(?:\s*-\s*(\d+))?", part)
        if not match:
            raise ValueError(
                f"{name}: expected comma-separated ints or ranges like 0-7. Received: {text!r}"
            )
        start = int(match.group(1))
        stop = int(match.group(2)) if match.group(2) is not None else start
        if stop < start:
            raise ValueError(f"{name}: range {part!r} ends before it starts.")
        values.extend(range(start, stop + 1))
    return values


def check_seeds(seeds, name="seeds"):
    """Returns ``seeds`` as int64 ``[N]``; ``ValueError`` outside ``[0, 2**32)`` or empty."""
    arr = np.asarray(list(seeds) if not isinstance(seeds, np.ndarray) else seeds)
    if arr.ndim != 1 or arr.size == 0 or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"`{name}` must be a non-empty list of ints. Received: {name}={seeds}")
    bad = arr[(arr < 0) | (arr >= MAX_SEED)]
    if bad.size:
        raise ValueError(f"Seeds must be in [0, 2**32). Received: {name} holds {int(bad[0])}")
    return arr.astype(np.int64)


# ------------------------------------------------------------------------------------------
# Interpolation
# ------------------------------------------------------------------------------------------


def slerp(a, b, t):
    """Spherical interpolation between latents ``a`` and ``b`` (rows), ``t`` in [0, 1].

    Walks the great circle between the directions of ``a`` and ``b`` with the norm
    interpolated linearly, so intermediate latents keep a typical Gaussian norm (a straight
    line through ``z`` passes near the low-density origin). Falls back to ``lerp`` for
    (anti)parallel rows.

    Args:
        a, b: float arrays ``[..., D]``.
        t: float or array broadcastable to ``[...]``.

    Returns:
        float32 ``[..., D]``.
    """
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    t = np.asarray(t, np.float64)[..., None]
    na = np.linalg.norm(a, axis=-1, keepdims=True)
    nb = np.linalg.norm(b, axis=-1, keepdims=True)
    ua = a / np.maximum(na, 1e-12)
    ub = b / np.maximum(nb, 1e-12)
    dot = np.clip(np.sum(ua * ub, axis=-1, keepdims=True), -1.0, 1.0)
    omega = np.arccos(dot)
    sin = np.sin(omega)
    safe = sin > 1e-6
    wa = np.where(safe, np.sin((1 - t) * omega) / np.where(safe, sin, 1), 1 - t)
    wb = np.where(safe, np.sin(t * omega) / np.where(safe, sin, 1), t)
    direction = wa * ua + wb * ub
    norm = (1 - t) * na + t * nb
    # Renormalise the direction (exact on the great circle; needed for the lerp fallback).
    direction = direction / np.maximum(np.linalg.norm(direction, axis=-1, keepdims=True), 1e-12)
    return (direction * norm).astype(np.float32)


def lerp(a, b, t):
    """``a + (b - a) * t`` in float32 (``t`` broadcast over the trailing axes of ``a``)."""
    a = np.asarray(a, np.float32)
    b = np.asarray(b, np.float32)
    t = np.asarray(t, np.float32).reshape(np.shape(t) + (1,) * (a.ndim - np.ndim(t)))
    return a + (b - a) * t


def loop_positions(num_keys, frames):
    """``(segment [F], t [F])``: frame ``f`` of a closed loop through ``num_keys`` keys lies
    between key ``segment`` and key ``(segment + 1) % num_keys`` at fraction ``t``."""
    u = np.arange(frames, dtype=np.float64) * num_keys / frames
    segment = np.floor(u).astype(np.int64)
    return segment, u - segment


# ------------------------------------------------------------------------------------------
# Generator views
# ------------------------------------------------------------------------------------------


def to_uint8(images):
    """Images in ``[-1, 1]`` -> uint8, as ``GAN.generate``: ``(x * 127.5 + 128).clip(0, 255)``."""
    images = np.asarray(images)
    return (images * 127.5 + 128).clip(0, 255).astype(np.uint8)


def truncate_ws(ws, w_avg, psi, cutoff=None):
    """Truncation toward ``w_avg`` with a per-example ``psi`` (TensorFlow ops, in-graph too).

    ``ws <- w_avg + psi * (ws - w_avg)`` for the first ``cutoff`` layers (all when None),
    exactly as ``MappingNetwork``; rows with ``psi == 1`` are returned unchanged (the mapping
    network skips truncation then, and ``w_avg + 1 * (w - w_avg)`` may differ in the last bit).

    Args:
        ws: float32 ``[N, num_ws, w_dim]``.
        w_avg: float32 ``[w_dim]``.
        psi: float or float32 ``[N]``.
        cutoff: int or None.

    Returns:
        float32 ``[N, num_ws, w_dim]``.
    """
    ws = tf.convert_to_tensor(ws, tf.float32)
    psi = tf.cast(tf.convert_to_tensor(psi), tf.float32)
    psi = tf.broadcast_to(tf.reshape(psi, [-1]), tf.shape(ws)[:1])
    psi3 = tf.reshape(psi, [-1, 1, 1])
    w_avg = tf.convert_to_tensor(w_avg, tf.float32)
    truncated = w_avg + psi3 * (ws - w_avg)
    if cutoff is not None:
        keep = tf.reshape(tf.range(tf.shape(ws)[1]) < cutoff, [1, -1, 1])
        truncated = tf.where(keep, truncated, ws)
    return tf.where(tf.reshape(tf.equal(psi, 1.0), [-1, 1, 1]), ws, truncated)


def crossover_ws(coarse_ws, fine_ws, crossover):
    """Style mixing at a crossover layer (TensorFlow ops, in-graph too).

    Layers ``[0, crossover)`` come from ``coarse_ws`` and ``[crossover, num_ws)`` from
    ``fine_ws``, as the style-mixing regulariser of training (``StyleGAN2.mix_styles``).

    Args:
        coarse_ws, fine_ws: float32 ``[N, num_ws, w_dim]``.
        crossover: int or int ``[N]`` in ``[0, num_ws]``.

    Returns:
        float32 ``[N, num_ws, w_dim]``.
    """
    coarse_ws = tf.convert_to_tensor(coarse_ws, tf.float32)
    fine_ws = tf.convert_to_tensor(fine_ws, tf.float32)
    crossover = tf.cast(tf.reshape(tf.convert_to_tensor(crossover), [-1, 1]), tf.int32)
    layer = tf.range(tf.shape(coarse_ws)[1])[None, :]
    return tf.where((layer < crossover)[:, :, None], coarse_ws, fine_ws)


def normalize_class_name(name):
    """NFC and stripped: macOS (NFD) and Linux spellings of 건물화재 compare equal."""
    return unicodedata.normalize("NFC", str(name).strip())


class GeneratorView:
    """A uniform view of one generator for sampling, walks and style mixing.

    Args:
        model: a trained ``GAN`` (``DCGAN`` or ``StyleGAN2``).
        use_ema: bool, use the EMA generator (what the papers show). Default True.
        class_names: None or sequence of str, the class names by id (from the dataset).
        batch_size: int >= 1, images per forward pass. Default 16.

    Attributes:
        kind: ``"stylegan2"`` or ``"dcgan"`` (any other non style-based GAN).
        z_dim, num_classes, resolution: ints.
        num_ws, w_dim: ints for StyleGAN2, None otherwise.
        style_based: bool, whether ``ws`` exist (style mixing, walks in ``w``).
        class_names: tuple of str or None.
        noise_modes: the noise modes ``images_from_*`` accept.

    Raises:
        ValueError: ``model`` is not a ``GAN``; bad ``batch_size`` or ``class_names``.
    """

    def __init__(self, model, use_ema=True, class_names=None, batch_size=16):
        if not isinstance(model, GAN):
            raise ValueError(
                f"GeneratorView needs a tfdisgan GAN model (DCGAN, StyleGAN2). "
                f"Received: model={model!r}"
            )
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"`batch_size` must be an int >= 1. Received: batch_size={batch_size}")
        self.model = model
        self.net = model.generator_ema if use_ema else model.generator
        self.use_ema = bool(use_ema)
        self.batch_size = batch_size
        self.z_dim = int(model.z_dim)
        self.num_classes = int(model.num_classes)
        self.style_based = hasattr(self.net, "mapping") and hasattr(self.net, "synthesis")
        self.kind = "stylegan2" if self.style_based else "dcgan"
        shape = model._image_shape()
        self.resolution = int(shape[1])
        self.num_ws = int(self.net.num_ws) if self.style_based else None
        self.w_dim = int(self.net.w_dim) if self.style_based else None
        self.truncation_cutoff = getattr(model, "truncation_cutoff", None)
        self.noise_modes = NOISE_MODES if self.style_based else ("const",)
        self.class_names = _check_class_names(class_names, self.num_classes)

    # --- classes -------------------------------------------------------------------------

    def class_id(self, value):
        """Resolves a class given by id or name (any Unicode, NFC-normalised).

        Args:
            value: None, int, or str (a name, or digits for an id).

        Returns:
            int class id, or None for an unconditional generator given None.

        Raises:
            ValueError: conditional generator without a class, unconditional with one, or
                an unknown name / id out of range (the message lists the valid classes).
        """
        return resolve_class(value, self.num_classes, self.class_names)

    def labels(self, labels, n):
        """``labels`` (None, a class id or name, or ``n`` ids) as int32 ``[n]`` or None."""
        if isinstance(labels, str):
            labels = self.class_id(labels)
        if self.num_classes == 0:
            if labels is not None:
                raise ValueError(
                    f"This generator is unconditional; labels must be None. Received: {labels}"
                )
            return None
        if labels is None:
            raise ValueError(
                f"This generator is conditional ({self.num_classes} classes: "
                f"{_describe_classes(self.num_classes, self.class_names)}): give a class."
            )
        arr = np.asarray(labels)
        if arr.ndim == 0:
            arr = np.full([n], arr)
        if arr.shape != (n,) or not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"`labels` must be an int or {n} ints. Received: labels={labels}")
        bad = arr[(arr < 0) | (arr >= self.num_classes)]
        if bad.size:
            raise ValueError(f"Class ids must be in [0, {self.num_classes}). Received: {bad[0]}")
        return arr.astype(np.int32)

    # --- latents -------------------------------------------------------------------------

    def z_from_seeds(self, seeds):
        """float32 ``[N, z_dim]`` for seeds (``seeds_to_z``, as ``GAN.generate``)."""
        return seeds_to_z(check_seeds(seeds), self.z_dim).numpy()

    def ws_from_z(self, z, labels=None, psi=1.0):
        """Styles ``[N, num_ws, w_dim]`` (truncated toward ``w_avg`` by ``psi``).

        Raises:
            ValueError: the generator is not style-based (DCGAN).
        """
        self.require_styles("latents in w")
        z = self._check_z(z)
        labels = self.labels(labels, len(z))
        psi = psi_per_row(psi, len(z))
        mapping = self.net.mapping
        out = []
        for start in range(0, len(z), self.batch_size):
            rows = slice(start, start + self.batch_size)
            c = None if labels is None else tf.constant(labels[rows])
            ws = mapping(tf.constant(z[rows]), c, training=False)
            if mapping.w_avg is not None:
                ws = truncate_ws(ws, mapping.w_avg, psi[rows], self.truncation_cutoff)
            out.append(np.asarray(ws))
        return np.concatenate(out)

    # --- images --------------------------------------------------------------------------

    def images_from_z(self, z, labels=None, psi=1.0, noise_mode="const"):
        """uint8 ``[N, H, W, 3]`` for latents ``z`` (per-row ``psi`` allowed).

        For StyleGAN2 ``psi`` truncates in ``w``; for DCGAN it scales ``z`` (``GAN``)."""
        z = self._check_z(z)
        labels = self.labels(labels, len(z))
        if self.style_based:
            return self.images_from_ws(self.ws_from_z(z, labels, psi), noise_mode)
        self._check_noise(noise_mode)
        psi = psi_per_row(psi, len(z))
        out = []
        for start in range(0, len(z), self.batch_size):
            rows = slice(start, start + self.batch_size)
            zb = tf.constant(z[rows]) * tf.constant(psi[rows])[:, None]
            inputs = zb if labels is None else [zb, tf.constant(labels[rows])]
            out.append(to_uint8(self.net(inputs, training=False)))
        return np.concatenate(out)

    def images_from_seeds(self, seeds, labels=None, psi=1.0, noise_mode="const"):
        """uint8 ``[N, H, W, 3]``; the same images as ``model.generate(seeds=...)``."""
        return self.images_from_z(self.z_from_seeds(seeds), labels, psi, noise_mode)

    def images_from_ws(self, ws, noise_mode="const"):
        """uint8 ``[N, H, W, 3]`` for styles ``ws [N, num_ws, w_dim]``.

        Raises:
            ValueError: not style-based, or ``ws`` of the wrong shape.
        """
        self.require_styles("synthesis from ws")
        self._check_noise(noise_mode)
        ws = self._check_ws(ws)
        out = []
        for start in range(0, len(ws), self.batch_size):
            batch = tf.constant(ws[start : start + self.batch_size])
            out.append(to_uint8(self.net.synthesis(batch, noise_mode=noise_mode,
                                                   training=False)))
        return np.concatenate(out)

    # --- checks --------------------------------------------------------------------------

    def require_styles(self, what="style mixing"):
        """Raises ``ValueError`` unless the generator is style-based."""
        if not self.style_based:
            raise ValueError(
                f"{what.capitalize()}: {_NEEDS_STYLEGAN2} (a style-based generator with "
                f"per-layer ws); this is a {self.kind.upper()} generator. Latent walks in z "
                "(--interp_space=z) and interpolation grids work for it."
            )

    def _check_noise(self, noise_mode):
        if noise_mode not in self.noise_modes:
            raise ValueError(
                f"`noise_mode` must be one of {self.noise_modes} for this generator. "
                f"Received: noise_mode={noise_mode!r}"
            )

    def _check_z(self, z):
        z = np.asarray(z, np.float32)
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"`z` must have shape [N, {self.z_dim}]. Received: {z.shape}")
        return z

    def _check_ws(self, ws):
        ws = np.asarray(ws, np.float32)
        if ws.ndim != 3 or ws.shape[1:] != (self.num_ws, self.w_dim):
            raise ValueError(
                f"`ws` must have shape [N, {self.num_ws}, {self.w_dim}]. Received: {ws.shape}"
            )
        return ws


def psi_per_row(psi, n):
    """Truncation ``psi`` (a number or ``n`` numbers) as float32 ``[n]``.

    The one check of ``psi`` behind every ``GeneratorView`` (run folders, checkpoints,
    imported networks, SavedModels) and what the scripts' ``--psi`` reaches.

    Raises:
        ValueError: ``psi`` outside ``[-1, 2]``, not finite, or not 1 or ``n`` numbers.
    """
    check_psi(psi)
    psi = np.asarray(psi, np.float32)
    if psi.ndim == 0:
        return np.full([n], psi, np.float32)
    if psi.shape != (n,):
        raise ValueError(f"`psi` must be a number or {n} numbers. Received: psi.shape={psi.shape}")
    return psi


def _check_class_names(class_names, num_classes):
    if class_names is None:
        return None
    names = tuple(normalize_class_name(n) for n in class_names)
    if num_classes and len(names) != num_classes:
        raise ValueError(
            f"`class_names` has {len(names)} names but the model has {num_classes} classes."
        )
    return names


def _describe_classes(num_classes, class_names):
    if class_names and len(class_names) == num_classes:
        return ", ".join(f"{i}={n}" for i, n in enumerate(class_names))
    return f"ids 0-{num_classes - 1}"


def resolve_class(value, num_classes, class_names=None):
    """A class given by id or name -> int id (None for unconditional generators).

    Args:
        value: None, int, or str (a class name in any Unicode normalisation, or an id).
        num_classes: int >= 0, the model's number of classes.
        class_names: None or sequence of str, names by id.

    Returns:
        int in ``[0, num_classes)``, or None when ``num_classes == 0`` and ``value`` is None.

    Raises:
        ValueError: missing, unexpected, unknown or out-of-range class; lists the valid ones.
    """
    if num_classes == 0:
        if value not in (None, ""):
            raise ValueError(
                f"This generator is unconditional: it takes no class. Received: class={value!r}"
            )
        return None
    valid = _describe_classes(num_classes, class_names)
    if value is None or value == "":
        raise ValueError(f"This generator is conditional: give a class, one of {valid}.")
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        if 0 <= value < num_classes:
            return int(value)
        raise ValueError(f"Class id {value} is out of range; valid: {valid}.")
    text = normalize_class_name(value)
    if class_names:
        names = [normalize_class_name(n) for n in class_names]
        if text in names:
            return names.index(text)
    if text.isdigit():
        if int(text) < num_classes:
            return int(text)
        raise ValueError(f"Class id {text} is out of range; valid: {valid}.")
    raise ValueError(f"Unknown class {value!r}; valid: {valid}.")


def as_view(network, **kwargs):
    """A ``GeneratorView`` of ``network``: a view (returned as is), an exported-SavedModel
    view, or a ``GAN`` model (wrapped with ``kwargs``).

    Raises:
        ValueError: anything else.
    """
    if isinstance(network, GAN):
        return GeneratorView(network, **kwargs)
    if all(hasattr(network, a) for a in ("z_from_seeds", "images_from_z", "style_based")):
        return network
    raise ValueError(
        "Expected a tfdisgan GAN model, a GeneratorView or an exported SavedModel view "
        f"(tfdisgan.export.load_network). Received: {network!r}"
    )


# ------------------------------------------------------------------------------------------
# Walks and grids
# ------------------------------------------------------------------------------------------


def latent_walk(network, seeds, frames=60, space="z", psi=1.0, label=None, noise_mode="const"):
    """Frames of a closed loop through the latents of ``seeds``.

    ``space="z"`` walks great circles between the seeds' ``z`` (``slerp``); ``space="w"``
    walks straight lines between their (truncated) ``w`` (StyleGAN2 only), where
    interpolation is perceptually linear.

    Args:
        network: a ``GeneratorView`` or anything ``as_view`` takes.
        seeds: >= 2 ints in ``[0, 2**32)``, the key frames (the loop returns to the first).
        frames: int >= len(seeds), frames in the whole loop. Default 60.
        space: ``"z"`` or ``"w"``. Default ``"z"``.
        psi: float, truncation. Default 1.
        label: class id (or name) for conditional generators, else None.
        noise_mode: ``"const"`` (default), ``"random"`` or ``"none"`` (StyleGAN2).

    Returns:
        uint8 ``[frames, H, W, 3]``; frame 0 is the first seed's image.

    Raises:
        ValueError: fewer than 2 seeds, too few frames, unknown space, ``"w"`` on DCGAN.
    """
    view = as_view(network)
    seeds = check_seeds(seeds)
    if len(seeds) < 2:
        raise ValueError(f"A latent walk needs >= 2 seeds. Received: seeds={list(seeds)}")
    if not isinstance(frames, (int, np.integer)) or frames < len(seeds):
        raise ValueError(
            f"`frames` must be an int >= the number of seeds ({len(seeds)}). "
            f"Received: frames={frames}"
        )
    if space not in SPACES:
        raise ValueError(f"`space` must be one of {SPACES}. Received: space={space!r}")
    label = view.class_id(label)
    keys_z = view.z_from_seeds(seeds)
    segment, t = loop_positions(len(seeds), int(frames))
    a, b = segment, (segment + 1) % len(seeds)
    if space == "z":
        z = slerp(keys_z[a], keys_z[b], t)
        return view.images_from_z(z, label, psi, noise_mode)
    view.require_styles("a latent walk in w")
    keys_w = view.ws_from_z(keys_z, label, psi)
    return view.images_from_ws(lerp(keys_w[a], keys_w[b], t), noise_mode)


def interpolation_grid(network, seeds, steps=8, space="z", psi=1.0, label=None,
                       noise_mode="const"):
    """Rows of straight interpolations: row ``i`` goes from ``seeds[i]`` to ``seeds[i + 1]``.

    Args:
        network: a ``GeneratorView`` or anything ``as_view`` takes.
        seeds: >= 2 ints.
        steps: int >= 2, images per row (both ends included). Default 8.
        space, psi, label, noise_mode: as ``latent_walk``.

    Returns:
        ``(grid uint8 [(len(seeds) - 1) * H, steps * W, 3], images [rows, steps, H, W, 3])``.
    """
    view = as_view(network)
    seeds = check_seeds(seeds)
    if len(seeds) < 2:
        raise ValueError(f"An interpolation grid needs >= 2 seeds. Received: {list(seeds)}")
    if not isinstance(steps, (int, np.integer)) or steps < 2:
        raise ValueError(f"`steps` must be an int >= 2. Received: steps={steps}")
    if space not in SPACES:
        raise ValueError(f"`space` must be one of {SPACES}. Received: space={space!r}")
    label = view.class_id(label)
    rows = len(seeds) - 1
    t = np.tile(np.linspace(0.0, 1.0, steps), rows)
    a = np.repeat(np.arange(rows), steps)
    keys_z = view.z_from_seeds(seeds)
    if space == "z":
        images = view.images_from_z(slerp(keys_z[a], keys_z[a + 1], t), label, psi, noise_mode)
    else:
        view.require_styles("interpolation in w")
        keys_w = view.ws_from_z(keys_z, label, psi)
        images = view.images_from_ws(lerp(keys_w[a], keys_w[a + 1], t), noise_mode)
    return image_grid(images, columns=steps), images.reshape(rows, steps, *images.shape[1:])


@dataclasses.dataclass
class StyleMix:
    """A style-mixing result.

    Attributes:
        image: uint8 ``[(R + 1) * H, (C + 1) * W, 3]``: the figure. Top row: the column
            sources; left column: the row sources; cell ``(r, c)``: row ``r``'s image with
            the ``styles`` layers of column ``c``; the top-left cell is blank.
        mixed: uint8 ``[R, C, H, W, 3]``.
        row_images: uint8 ``[R, H, W, 3]``.
        col_images: uint8 ``[C, H, W, 3]``.
        mixed_ws: float32 ``[R, C, num_ws, w_dim]``.
        row_ws, col_ws: float32 ``[R or C, num_ws, w_dim]``.
    """

    image: np.ndarray
    mixed: np.ndarray
    row_images: np.ndarray
    col_images: np.ndarray
    mixed_ws: np.ndarray
    row_ws: np.ndarray
    col_ws: np.ndarray


def parse_styles(styles, num_ws, name="styles"):
    """``styles`` ("0-6", an int, or ints) -> sorted unique layer ids in ``[0, num_ws)``.

    Raises:
        ValueError: empty, or a layer outside ``[0, num_ws)``.
    """
    layers = sorted(set(parse_range(styles, name)))
    if not layers:
        raise ValueError(f"`{name}` selects no layer.")
    bad = [s for s in layers if not 0 <= s < num_ws]
    if bad:
        raise ValueError(
            f"`{name}`: layer {bad[0]} is out of range; this generator has {num_ws} style "
            f"layers (0-{num_ws - 1}: coarse first, fine last)."
        )
    return layers


def style_mix_ws(row_ws, col_ws, styles):
    """``[R, C, num_ws, w_dim]``: row ``r``'s ws with the ``styles`` layers of column ``c``.

    Args:
        row_ws: ``[R, num_ws, w_dim]``; col_ws: ``[C, num_ws, w_dim]``.
        styles: iterable of layer ids.
    """
    row_ws = np.asarray(row_ws, np.float32)
    col_ws = np.asarray(col_ws, np.float32)
    if row_ws.shape[1:] != col_ws.shape[1:]:
        raise ValueError(
            f"Row and column styles differ in shape: {row_ws.shape[1:]} vs {col_ws.shape[1:]}; "
            "mixing needs generators with the same num_ws and w_dim."
        )
    mixed = np.repeat(row_ws[:, None], len(col_ws), axis=1)
    styles = list(styles)
    mixed[:, :, styles] = col_ws[None, :, styles]
    return mixed


def _views(network, col_network, synthesis):
    rows = as_view(network)
    cols = rows if col_network is None else as_view(col_network)
    synth = rows if synthesis is None else as_view(synthesis)
    for view in (rows, cols, synth):
        view.require_styles()
    if not (rows.num_ws == cols.num_ws == synth.num_ws and
            rows.w_dim == cols.w_dim == synth.w_dim):
        raise ValueError(
            "Style mixing across generators needs the same num_ws and w_dim: rows "
            f"({rows.num_ws}, {rows.w_dim}), columns ({cols.num_ws}, {cols.w_dim}), "
            f"synthesis ({synth.num_ws}, {synth.w_dim})."
        )
    return rows, cols, synth


def _figure(row_images, col_images, cells):
    """The paper's layout: blank corner, column sources on top, row sources on the left."""
    rows, cols = cells.shape[:2]
    h, w, ch = row_images.shape[1:]
    tiles = np.zeros((rows + 1, cols + 1, h, w, ch), np.uint8)
    tiles[0, 1:] = col_images
    tiles[1:, 0] = row_images
    tiles[1:, 1:] = cells
    return image_grid(tiles.reshape(-1, h, w, ch), columns=cols + 1)


def style_mixing_grid(network, row_seeds, col_seeds, styles, psi=1.0, row_class=None,
                      col_class=None, noise_mode="const", col_network=None, synthesis=None):
    """The style-mixing figure: column seeds give the layers ``styles`` to the row seeds.

    With coarse layers (e.g. ``0-3``) the columns set pose and layout and the rows keep
    their colours and details; with fine layers the reverse.

    Args:
        network: the generator of the row styles (a ``GeneratorView`` or a GAN model).
        row_seeds, col_seeds: non-empty lists of ints.
        styles: layers taken from the columns: ``"0-6"``, an int or ints.
        psi: float, truncation of both. Default 1.
        row_class, col_class: class id or name for conditional generators.
        noise_mode: ``"const"`` (default), ``"random"`` or ``"none"``.
        col_network: None (``network``) or another generator for the column styles, with
            the same ``num_ws`` and ``w_dim``.
        synthesis: None (``network``) or the generator whose synthesis renders every cell.

    Returns:
        ``StyleMix``.

    Raises:
        ValueError: DCGAN ("style mixing needs StyleGAN2"), bad seeds, styles or classes.
    """
    rows, cols, synth = _views(network, col_network, synthesis)
    layers = parse_styles(styles, synth.num_ws)
    row_ws = rows.ws_from_z(rows.z_from_seeds(row_seeds), rows.class_id(row_class), psi)
    col_ws = cols.ws_from_z(cols.z_from_seeds(col_seeds), cols.class_id(col_class), psi)
    mixed_ws = style_mix_ws(row_ws, col_ws, layers)
    r, c = len(row_ws), len(col_ws)
    images = synth.images_from_ws(
        np.concatenate([row_ws, col_ws, mixed_ws.reshape(r * c, *row_ws.shape[1:])]),
        noise_mode,
    )
    row_images, col_images = images[:r], images[r : r + c]
    mixed = images[r + c :].reshape(r, c, *images.shape[1:])
    return StyleMix(_figure(row_images, col_images, mixed), mixed, row_images, col_images,
                    mixed_ws, row_ws, col_ws)


def crossover_sweep(network, row_seeds, col_seeds, psi=1.0, row_class=None, col_class=None,
                    noise_mode="const", col_network=None, synthesis=None):
    """GIF frames of the style-mixing figure sweeping the crossover layer.

    Frame ``k`` (``0 <= k <= num_ws``) gives the columns' layers ``[0, k)`` to the rows:
    frame 0 shows the row images in every cell, the last frame the column images, and the
    frames between move the split from coarse to fine.

    Args:
        As ``style_mixing_grid`` (no ``styles``).

    Returns:
        uint8 ``[num_ws + 1, (R + 1) * H, (C + 1) * W, 3]``.
    """
    rows, cols, synth = _views(network, col_network, synthesis)
    row_ws = rows.ws_from_z(rows.z_from_seeds(row_seeds), rows.class_id(row_class), psi)
    col_ws = cols.ws_from_z(cols.z_from_seeds(col_seeds), cols.class_id(col_class), psi)
    r, c, num_ws = len(row_ws), len(col_ws), synth.num_ws
    sources = synth.images_from_ws(np.concatenate([row_ws, col_ws]), noise_mode)
    # Every (crossover, row, col) cell in one batched pass: coarse from the column.
    coarse = np.tile(np.repeat(col_ws[None], r, 0).reshape(r * c, num_ws, -1), (num_ws + 1, 1, 1))
    fine = np.tile(np.repeat(row_ws, c, 0), (num_ws + 1, 1, 1))
    crossover = np.repeat(np.arange(num_ws + 1), r * c)
    cells = synth.images_from_ws(np.asarray(crossover_ws(coarse, fine, crossover)), noise_mode)
    cells = cells.reshape(num_ws + 1, r, c, *cells.shape[1:])
    return np.stack([_figure(sources[:r], sources[r:], frame) for frame in cells])


# ------------------------------------------------------------------------------------------
# Resolutions <-> style layers
# ------------------------------------------------------------------------------------------


def synthesis_resolutions(img_resolution):
    """``[4, 8, ..., img_resolution]``: the blocks of a StyleGAN2 synthesis network.

    Raises:
        ValueError: not a power of two >= 4.
    """
    if (not isinstance(img_resolution, (int, np.integer)) or img_resolution < 4
            or img_resolution & (img_resolution - 1)):
        raise ValueError(
            f"`img_resolution` must be a power of two >= 4. Received: {img_resolution!r}"
        )
    return [2**i for i in range(2, int(img_resolution).bit_length())]


def resolution_layers(resolution, img_resolution):
    """The two ws indices that belong to ``resolution`` px: ``[2 log2(r) - 4, 2 log2(r) - 3]``.

    The synthesis network (``SynthesisNetwork.call``) gives block ``b`` the ws starting at
    the sum of the earlier blocks' ``num_conv``, so: index 0 drives the 4 px ``conv1``;
    index ``2 log2(r) - 4`` (r >= 8) the ``conv1`` of the r px block; index
    ``2 log2(r) - 3`` the r px ToRGB *and* the up-sampling ``conv0`` of the next block
    (the last index only the top ToRGB). Owning the pair ``(2 log2(r) - 4, 2 log2(r) - 3)``
    per resolution is the StyleGAN papers' convention (4-8 px = layers 0-3 "coarse"), with
    ``num_ws = 2 log2(R) - 2`` layers in all.

    Args:
        resolution: int, a block resolution in ``[4, img_resolution]``.
        img_resolution: int, the generator's output resolution.

    Returns:
        list of 2 ints.

    Raises:
        ValueError: ``resolution`` is not a block of this generator.
    """
    blocks = synthesis_resolutions(img_resolution)
    if resolution not in blocks:
        raise ValueError(
            f"{resolution} px is not a block of a {img_resolution} px generator "
            f"({_describe_res(blocks)})."
        )
    log2 = int(resolution).bit_length() - 1
    return [2 * log2 - 4, 2 * log2 - 3]


def layers_of(resolutions, img_resolution):
    """Sorted ws indices of the given block resolutions (``resolution_layers`` of each)."""
    return sorted({i for r in resolutions for i in resolution_layers(r, img_resolution)})


def _describe_res(resolutions):
    resolutions = sorted(resolutions)
    if not resolutions:
        return "none"
    if len(resolutions) == 1:
        return f"{resolutions[0]} px"
    return f"{resolutions[0]}-{resolutions[-1]} px"


def parse_resolution_range(text, img_resolution, name="range"):
    """``"16-32"`` (or ``"16"``) -> the block resolutions in that inclusive range.

    The upper end may exceed the generator (``16-512`` on a 256 px model means 16-256 px);
    both ends must be powers of two >= 4 and the range must hold a block of this generator.

    Args:
        text: str ``"LO-HI"`` or ``"R"``.
        img_resolution: int, the generator's output resolution.
        name: str, the flag or argument (for the message).

    Returns:
        tuple of ints, lowest first.

    Raises:
        ValueError: not a range of powers of two, reversed, or outside the generator.
    """
    match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", str(text))
    if not match:
        raise ValueError(
            f"{name}: expected a resolution range in pixels such as 16-32 (or 8). "
            f"Received: {text!r}"
        )
    lo = int(match.group(1))
    hi = int(match.group(2)) if match.group(2) is not None else lo
    for value in (lo, hi):
        if value < 4 or value & (value - 1):
            raise ValueError(
                f"{name}: resolutions are powers of two >= 4 (4, 8, 16, ...). Received {value} "
                f"in {text!r}."
            )
    if hi < lo:
        raise ValueError(f"{name}: the range {text!r} ends before it starts.")
    blocks = synthesis_resolutions(img_resolution)
    selected = tuple(r for r in blocks if lo <= r <= hi)
    if not selected:
        raise ValueError(
            f"{name}: {text!r} holds no block of this {img_resolution} px generator "
            f"({_describe_res(blocks)})."
        )
    return selected


@dataclasses.dataclass(frozen=True)
class ResolutionSplit:
    """Which generator gives the styles of which block resolutions.

    Attributes:
        a: tuple of int, the resolutions whose styles come from source A (the split's first
            range; the coarse ones in ``--split=8``).
        b: tuple of int, those from source B (the rest).
        img_resolution: int.
    """

    a: tuple
    b: tuple
    img_resolution: int

    @property
    def a_layers(self):
        """ws indices from A (``layers_of(a)``)."""
        return layers_of(self.a, self.img_resolution)

    @property
    def b_layers(self):
        """ws indices from B."""
        return layers_of(self.b, self.img_resolution)

    def describe(self, first="A", second="B"):
        """``"A 4-8 px + B 16-32 px"``."""
        return f"{first} {_describe_res(self.a)} + {second} {_describe_res(self.b)}"

    def stem(self, first="a", second="b"):
        """A file-name stem: ``"a4-8_b16-32"``."""
        def span(res):
            return f"{min(res)}-{max(res)}" if len(res) > 1 else f"{res[0]}"

        return f"{first}{span(self.a)}_{second}{span(self.b)}"


def parse_split(text, img_resolution, name="--split"):
    """A ``--split`` by resolution -> ``ResolutionSplit``.

    Forms:
        * ``"8"``: A gives the 4-8 px styles, B 16 px and up (the seed's "church coarse
          4-8 px, fire 16 px and finer").
        * ``"4-8,16-512"``: A the first range, B the second; the upper end may exceed the
          generator; together the two ranges must cover every block, without overlap.
        * ``"16-32"`` (one range): A that range, B every other block.

    Args:
        text: str or int.
        img_resolution: int, the generators' output resolution.
        name: str, the flag (for the message).

    Returns:
        ``ResolutionSplit`` (``a_layers`` / ``b_layers`` give the ws indices).

    Raises:
        ValueError: a malformed range, overlapping ranges, a block in neither range, or a
            split that leaves one side without a block.
    """
    blocks = synthesis_resolutions(img_resolution)
    text = str(text).strip()
    parts = [p for p in text.split(",")]
    if len(parts) > 2 or not text:
        raise ValueError(
            f"{name}: expected R (A gives 4..R px), LO-HI (A gives that range) or "
            f"LO-HI,LO-HI (A the first, B the second). Received: {text!r}"
        )
    if len(parts) == 1 and "-" not in parts[0]:
        top = parse_resolution_range(parts[0], img_resolution, name)[0]
        a = tuple(r for r in blocks if r <= top)
        b = tuple(r for r in blocks if r > top)
    elif len(parts) == 1:
        a = parse_resolution_range(parts[0], img_resolution, name)
        b = tuple(r for r in blocks if r not in a)
    else:
        a = parse_resolution_range(parts[0], img_resolution, name)
        b = parse_resolution_range(parts[1], img_resolution, name)
        overlap = sorted(set(a) & set(b))
        if overlap:
            raise ValueError(f"{name}: {overlap[0]} px is in both ranges of {text!r}.")
        missing = [r for r in blocks if r not in a and r not in b]
        if missing:
            raise ValueError(
                f"{name}: {missing[0]} px is in neither range of {text!r}; the two ranges "
                f"must cover every block of the {img_resolution} px generator "
                f"({_describe_res(blocks)})."
            )
    if not b:
        raise ValueError(
            f"{name}: {text!r} leaves no resolution to B on a {img_resolution} px generator "
            f"({_describe_res(blocks)}); split below {img_resolution}."
        )
    return ResolutionSplit(tuple(a), tuple(b), int(img_resolution))


# ------------------------------------------------------------------------------------------
# Mixing two generators (or two classes of one)
# ------------------------------------------------------------------------------------------

RENDERS = ("a", "b", "fine")


@dataclasses.dataclass
class CrossMix:
    """Both directions of a mix of two sources split by resolution.

    Attributes:
        split: the ``ResolutionSplit``.
        forward: ``StyleMix``: A gives the ``split.a`` styles (columns), B the rest (rows).
        reverse: ``StyleMix``: B gives the ``split.a`` styles (columns), A the rest (rows).
        image: uint8, the two figures side by side (forward left), separated by a gap.
        labels: ``(forward, reverse)`` descriptions, e.g. ``"A 4-8 px + B 16-32 px"``.
        stems: ``(forward, reverse)`` file-name stems, e.g. ``"a4-8_b16-32"``.
    """

    split: ResolutionSplit
    forward: StyleMix
    reverse: StyleMix
    image: np.ndarray
    labels: tuple
    stems: tuple


def side_by_side(images, gap=None):
    """uint8 images ``[H_i, W_i, 3]`` in one row, top-aligned, separated by ``gap`` px of
    white (default: 1/16 of the tallest image, at least 2)."""
    height = max(i.shape[0] for i in images)
    gap = max(2, height // 16) if gap is None else gap
    width = sum(i.shape[1] for i in images) + gap * (len(images) - 1)
    out = np.full((height, width, 3), 255, np.uint8)
    x = 0
    for image in images:
        out[: image.shape[0], x : x + image.shape[1]] = image
        x += image.shape[1] + gap
    return out


def _pair_views(network_a, network_b, render):
    view_a = as_view(network_a)
    view_b = view_a if network_b is None else as_view(network_b)
    for view, which in ((view_a, "A"), (view_b, "B")):
        view.require_styles(f"mixing network {which}")
    if view_a.resolution != view_b.resolution:
        raise ValueError(
            f"Networks A and B have different resolutions ({view_a.resolution} vs "
            f"{view_b.resolution} px): mixing by resolution needs the same one."
        )
    if render not in RENDERS:
        raise ValueError(f"`render` must be one of {RENDERS}. Received: render={render!r}")
    return view_a, view_b


def _renderers(view_a, view_b, render):
    """The synthesis of the forward (B rows) and reverse (A rows) figures."""
    if render == "a":
        return view_a, view_a
    if render == "b":
        return view_b, view_b
    return view_b, view_a  # "fine": the network that gives the split's second range


def cross_domain_mix(network_a, network_b, row_seeds, col_seeds, split, render="b", psi=1.0,
                     class_a=None, class_b=None, noise_mode="const"):
    """Style mixing between two generators (or two classes), split by resolution, both ways.

    ``forward``: the rows are B's images, the columns give them A's styles at the
    ``split.a`` resolutions (``--split=8``: A's 4-8 px layout under B's 16 px and finer
    texture, the seed's "church on fire" with A = church, B = fire). ``reverse``: the
    rows are A's images, the columns give B's styles at the same resolutions. Showing both
    tells which direction works for a pair of models, as in the seed where only one did.

    With ``network_b`` None (or the same model) and two classes, this mixes classes inside
    one conditional model: ``class_a``'s mapping gives the ``split.a`` styles.

    Args:
        network_a, network_b: generators (``GeneratorView``, GAN model or exported view)
            with the same resolution, ``num_ws`` and ``w_dim``; ``network_b`` None: A.
        row_seeds, col_seeds: non-empty lists of ints (the same seeds serve both figures).
        split: ``ResolutionSplit`` or a ``--split`` text (``"8"``, ``"4-8,16-512"``).
        render: whose synthesis renders the mixes: ``"a"``, ``"b"`` (default) or
            ``"fine"`` (the rows' network: B forward, A reverse). The source images of
            each figure are rendered by the same synthesis as its mixes.
        psi: float, truncation of both.
        class_a, class_b: classes (id or name) of conditional sources, else None.
        noise_mode: ``"const"`` (default), ``"random"`` or ``"none"``.

    Returns:
        ``CrossMix``.

    Raises:
        ValueError: a DCGAN, different resolutions / ``num_ws`` / ``w_dim``, a bad split,
            render, seeds or class.
    """
    view_a, view_b = _pair_views(network_a, network_b, render)
    if not isinstance(split, ResolutionSplit):
        split = parse_split(split, view_a.resolution)
    synth_forward, synth_reverse = _renderers(view_a, view_b, render)
    common = dict(psi=psi, noise_mode=noise_mode)
    forward = style_mixing_grid(view_b, row_seeds, col_seeds, split.a_layers,
                                row_class=class_b, col_class=class_a, col_network=view_a,
                                synthesis=synth_forward, **common)
    reverse = style_mixing_grid(view_a, row_seeds, col_seeds, split.a_layers,
                                row_class=class_a, col_class=class_b, col_network=view_b,
                                synthesis=synth_reverse, **common)
    labels = (split.describe("A", "B"), split.describe("B", "A"))
    stems = (split.stem("a", "b"), split.stem("b", "a"))
    return CrossMix(split, forward, reverse, side_by_side([forward.image, reverse.image]),
                    labels, stems)


def cross_domain_sweeps(network_a, network_b, row_seeds, col_seeds, render="b", psi=1.0,
                        class_a=None, class_b=None, noise_mode="const"):
    """GIF frames of both directions of ``cross_domain_mix``, sweeping the crossover layer.

    Returns:
        ``(forward_frames, reverse_frames)``: uint8 ``[num_ws + 1, ...]`` each
        (``crossover_sweep``: frame k gives the columns' layers ``[0, k)``); forward's
        columns are A's, reverse's B's.
    """
    view_a, view_b = _pair_views(network_a, network_b, render)
    synth_forward, synth_reverse = _renderers(view_a, view_b, render)
    common = dict(psi=psi, noise_mode=noise_mode)
    forward = crossover_sweep(view_b, row_seeds, col_seeds, row_class=class_b,
                              col_class=class_a, col_network=view_a, synthesis=synth_forward,
                              **common)
    reverse = crossover_sweep(view_a, row_seeds, col_seeds, row_class=class_a,
                              col_class=class_b, col_network=view_b, synthesis=synth_reverse,
                              **common)
    return forward, reverse


@dataclasses.dataclass
class PairedMix:
    """Same-seed mixing of two sources, both directions.

    Attributes:
        image: uint8 ``[4 * H, N * W, 3]``: rows A, B, forward (A's ``split.a`` styles +
            B's rest), reverse (B's ``split.a`` styles + A's rest); one column per seed.
        a_images, b_images, forward, reverse: uint8 ``[N, H, W, 3]``.
        forward_ws, reverse_ws: float32 ``[N, num_ws, w_dim]``.
        split: the ``ResolutionSplit``.
    """

    image: np.ndarray
    a_images: np.ndarray
    b_images: np.ndarray
    forward: np.ndarray
    reverse: np.ndarray
    forward_ws: np.ndarray
    reverse_ws: np.ndarray
    split: ResolutionSplit


def paired_mix(network_a, network_b, seeds, split, render="b", psi=1.0, class_a=None,
               class_b=None, noise_mode="const"):
    """Mixes two sources at the same latent ``z`` per seed, both directions.

    For class mixing inside one conditional model (``network_b`` None) this is "coarse ws
    from class A's mapping, the rest from class B's, same z": both sources share one latent
    space. For two generators it needs the same ``z_dim`` (each maps ``z`` its own way).

    Args:
        network_a, network_b, split, render, psi, class_a, class_b, noise_mode: as
            ``cross_domain_mix`` (render ``"fine"``: B forward, A reverse).
        seeds: non-empty list of ints.

    Returns:
        ``PairedMix``.

    Raises:
        ValueError: as ``cross_domain_mix``; different ``z_dim``.
    """
    view_a, view_b = _pair_views(network_a, network_b, render)
    if view_a.z_dim != view_b.z_dim:
        raise ValueError(
            f"Same-z mixing needs the same z_dim: A has {view_a.z_dim}, B {view_b.z_dim}."
        )
    if not isinstance(split, ResolutionSplit):
        split = parse_split(split, view_a.resolution)
    _views(view_a, view_b, None)  # the same num_ws and w_dim
    synth_forward, synth_reverse = _renderers(view_a, view_b, render)
    z = view_a.z_from_seeds(seeds)
    ws_a = view_a.ws_from_z(z, view_a.class_id(class_a), psi)
    ws_b = view_b.ws_from_z(z, view_b.class_id(class_b), psi)
    layers = split.a_layers
    forward_ws, reverse_ws = ws_b.copy(), ws_a.copy()
    forward_ws[:, layers] = ws_a[:, layers]
    reverse_ws[:, layers] = ws_b[:, layers]
    a_images = view_a.images_from_ws(ws_a, noise_mode)
    b_images = view_b.images_from_ws(ws_b, noise_mode)
    forward = synth_forward.images_from_ws(forward_ws, noise_mode)
    reverse = synth_reverse.images_from_ws(reverse_ws, noise_mode)
    grid = image_grid(np.concatenate([a_images, b_images, forward, reverse]), columns=len(z))
    return PairedMix(grid, a_images, b_images, forward, reverse, forward_ws, reverse_ws, split)


def class_mix(network, seeds, class_a, class_b, split, psi=1.0, noise_mode="const"):
    """Class mixing inside one conditional model: ``paired_mix(network, None, ...)``.

    Coarse ws (``split.a``) from ``class_a``'s mapping, the rest from ``class_b``'s, for the
    same ``z``; and the reverse.

    Example:
        >>> mix = class_mix(view, range(6), "earthquake", "building_fire", "8")
        >>> save_png(mix.image, "earthquake_x_fire.png")
    """
    view = as_view(network)
    if view.num_classes == 0:
        raise ValueError("Class mixing needs a conditional generator; this one has no classes.")
    return paired_mix(view, None, seeds, split, render="b", psi=psi, class_a=class_a,
                      class_b=class_b, noise_mode=noise_mode)


# ------------------------------------------------------------------------------------------
# Layer swapping
# ------------------------------------------------------------------------------------------

SWAP_MODES = ("hard", "smooth", "linear")
MAPPING_SOURCES = ("a", "b")


def swap_blend(img_resolution, resolution, mode="hard", width=1.0):
    """B's share ``alpha`` per block resolution: weights ``(1 - alpha) * A + alpha * B``.

    ``hard``: 0 up to ``resolution``, 1 above. ``smooth``: a sigmoid of ``log2(res)``
    centred between ``resolution`` and the next block, ``width`` octaves per unit (Pinkney
    & Adler's ``blend_width``). ``linear``: a ramp over ``width`` octaves with the same
    centre (width 1 equals hard). All are non-decreasing with the resolution.

    Args:
        img_resolution: int, the generators' output resolution.
        resolution: int, the last block resolution that is (mostly) A's.
        mode: ``"hard"``, ``"smooth"`` or ``"linear"``. Default ``"hard"``.
        width: float > 0, the transition width in octaves (smooth, linear). Default 1.

    Returns:
        dict ``{res: alpha}`` over ``synthesis_resolutions(img_resolution)``.

    Raises:
        ValueError: a bad mode, width or resolution.

    Reference:
        Pinkney & Adler, "Resolution Dependent GAN Interpolation for Controllable Image
        Synthesis Between Domains", 2020 (layer swapping, ``blend_models.py``).
    """
    blocks = synthesis_resolutions(img_resolution)
    if mode not in SWAP_MODES:
        raise ValueError(f"`mode` must be one of {SWAP_MODES}. Received: mode={mode!r}")
    if (not isinstance(width, (int, float)) or isinstance(width, bool) or not width > 0
            or not math.isfinite(width)):
        raise ValueError(f"`width` must be a number > 0. Received: width={width!r}")
    if resolution not in blocks[:-1]:
        raise ValueError(
            f"The swap resolution must be a block below the top of the {img_resolution} px "
            f"generator ({_describe_res(blocks[:-1])}), so that both get a share. Received: "
            f"resolution={resolution!r}"
        )
    centre = math.log2(resolution) + 0.5
    alphas = {}
    for res in blocks:
        x = math.log2(res) - centre
        if mode == "hard":
            alphas[res] = 0.0 if res <= resolution else 1.0
        elif mode == "smooth":
            alphas[res] = 1.0 / (1.0 + math.exp(-x / width))
        else:
            alphas[res] = min(1.0, max(0.0, x / width + 0.5))
    return alphas


def _check_swap_models(model_a, model_b):
    for model, which in ((model_a, "model_a"), (model_b, "model_b")):
        if not (isinstance(model, GAN) and hasattr(model.generator, "synthesis")):
            raise ValueError(
                f"Layer swapping needs two StyleGAN2 models (run folders or checkpoints, not "
                f"exported SavedModels or DCGANs). Received: {which}={model!r}"
            )
    syn_a, syn_b = model_a.generator.synthesis, model_b.generator.synthesis
    if syn_a.img_resolution != syn_b.img_resolution:
        raise ValueError(
            f"Layer swapping needs the same resolution: A {syn_a.img_resolution} px, B "
            f"{syn_b.img_resolution} px."
        )
    for wa, wb in zip(syn_a.weights, syn_b.weights, strict=False):
        if wa.path.split("/", 1)[-1] != wb.path.split("/", 1)[-1] or wa.shape != wb.shape:
            raise ValueError(
                "Layer swapping needs the same synthesis architecture; the first difference: "
                f"A {wa.path} {tuple(wa.shape)} vs B {wb.path} {tuple(wb.shape)}."
            )
    if len(syn_a.weights) != len(syn_b.weights):
        raise ValueError(
            f"Layer swapping needs the same synthesis architecture: A has "
            f"{len(syn_a.weights)} variables, B {len(syn_b.weights)}."
        )


def swap_layers(model_a, model_b, resolution, mode="hard", width=1.0, mapping="a", name=None):
    """A new StyleGAN2 whose synthesis blends A's blocks (low resolutions) and B's (high).

    Every weight of the block at ``res`` px (the 4x4 constant, both modulated convs with
    their style affines, noise strengths, and the ToRGB) becomes ``(1 - alpha) * A + alpha
    * B`` with ``alpha = swap_blend(...)[res]``; ``hard`` copies them exactly. The fixed
    noise buffers (``noise_const``) are copied from the source with the larger share (an
    average of two noise images would no longer be unit Gaussian). The mapping network
    (with its ``w_avg``), the discriminator and every other setting come from the model
    named by ``mapping``. Both the trained generator and the EMA generator are blended.
    The result is a normal ``StyleGAN2``: ``GeneratorView``, ``export_saved_model`` and
    ``write_run`` (a run folder for ``--network``) take it.

    Args:
        model_a: StyleGAN2, source of the low resolutions (structure, layout).
        model_b: StyleGAN2 of the same synthesis architecture, source of the high ones.
        resolution: int, the last block that is A's (``hard``); the blend's centre lies
            between it and the next block.
        mode: ``"hard"`` (default), ``"smooth"`` (sigmoid) or ``"linear"``.
        width: float > 0, octaves of the smooth / linear transition. Default 1.
        mapping: ``"a"`` (default) or ``"b"``: whose mapping network (and class count,
            discriminator) the new model has.
        name: str or None, the new model's name.

    Returns:
        ``StyleGAN2`` (not compiled).

    Raises:
        ValueError: not two StyleGAN2 models of the same synthesis architecture, or a bad
            resolution, mode, width or mapping.

    Example:
        >>> swapped = swap_layers(church, fire, 8)     # church 4-8 px, fire 16 px and up
        >>> export.export_saved_model(swapped, "exported/church_on_fire/1")

    Reference:
        Pinkney & Adler, "Resolution Dependent GAN Interpolation for Controllable Image
        Synthesis Between Domains", 2020.
    """
    _check_swap_models(model_a, model_b)
    if mapping not in MAPPING_SOURCES:
        raise ValueError(
            f"`mapping` must be one of {MAPPING_SOURCES}. Received: mapping={mapping!r}"
        )
    alphas = swap_blend(model_a.generator.synthesis.img_resolution, resolution, mode, width)
    base = model_a if mapping == "a" else model_b
    config = base.get_config()
    if name is not None:
        config["name"] = name
    swapped = type(base).from_config(config)
    for attr in ("generator", "generator_ema", "discriminator"):
        src, dst = getattr(base, attr), getattr(swapped, attr)
        for a, b in zip(src.weights, dst.weights, strict=True):
            b.assign(a)
    for attr in ("generator", "generator_ema"):
        syn_a = getattr(model_a, attr).synthesis
        syn_b = getattr(model_b, attr).synthesis
        syn_d = getattr(swapped, attr).synthesis
        for res, alpha in alphas.items():
            blocks = [getattr(s, f"b{res}") for s in (syn_a, syn_b, syn_d)]
            for wa, wb, wd in zip(*(b.weights for b in blocks), strict=True):
                if alpha == 0.0 or (not wd.trainable and alpha < 0.5):
                    wd.assign(wa)
                elif alpha == 1.0 or not wd.trainable:
                    wd.assign(wb)
                else:
                    wd.assign(np.asarray(wa) * np.float32(1.0 - alpha)
                              + np.asarray(wb) * np.float32(alpha))
    swapped.swap_info = {"resolution": int(resolution), "mode": mode, "width": float(width),
                         "mapping": mapping,
                         "alpha": {str(r): float(a) for r, a in alphas.items()}}
    return swapped


def write_run(model, out, run_config, class_names=None, info=None, overwrite=False):
    """Writes ``model`` as a run folder (``config.json`` + ``checkpoints/ckpt-0``), atomically,
    so that ``--network=out`` (generate, style_mix, export) and ``--transfer_from`` load it.

    Args:
        model: a ``StyleGAN2`` (e.g. from ``swap_layers``) of the architecture ``run_config``
            describes.
        out: str, the folder to create.
        run_config: dict, a run's ``config.json`` (the source run's): the architecture
            fields must match ``model``.
        class_names: class names by id, or None.
        info: dict or None, written to ``out/swap.json`` (what was made, from what).
        overwrite: bool, replace an existing ``out``.

    Returns:
        ``out``.

    Raises:
        FileExistsError: ``out`` exists without ``overwrite``.
        ValueError: the config does not rebuild a model with ``model``'s weights.
    """
    import json
    import shutil

    from tfdisgan import training

    if os.path.exists(out) and not overwrite:
        raise FileExistsError(f"{out} exists; pass --overwrite to replace it.")
    fields = {f.name for f in dataclasses.fields(training.TrainConfig)}
    values = {k: (tuple(v) if isinstance(v, list) else v) for k, v in run_config.items()
              if k in fields}
    config = dataclasses.replace(training.TrainConfig(**values), transfer_from="", resume="",
                                 showcase=False)
    target, step = training.build_model(config, int(model.num_classes),
                                        tf.distribute.get_strategy())
    for attr in ("generator", "generator_ema", "discriminator"):
        src, dst = getattr(model, attr).weights, getattr(target, attr).weights
        if len(src) != len(dst) or any(a.shape != b.shape for a, b in zip(src, dst,
                                                                          strict=True)):
            raise ValueError(
                f"The run config does not describe this model: its {attr} differs "
                f"({len(dst)} vs {len(src)} variables or their shapes)."
            )
        for a, b in zip(src, dst, strict=True):
            b.assign(a)
    stored = dataclasses.asdict(config)
    stored.update(classes=list(config.classes), devices=list(config.devices),
                  metrics=list(config.metrics), num_classes=int(model.num_classes),
                  class_names=list(class_names or []))
    tmp = f"{os.path.normpath(out)}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    training._write_atomic(os.path.join(tmp, "config.json"),
                           json.dumps(stored, indent=2, ensure_ascii=False))
    training._write_atomic(os.path.join(tmp, "flags.txt"), config.to_flags())
    if info is not None:
        training._write_atomic(os.path.join(tmp, "swap.json"),
                               json.dumps(info, indent=2, ensure_ascii=False))
    manager = tf.train.CheckpointManager(training.make_checkpoint(target, step),
                                         os.path.join(tmp, "checkpoints"), max_to_keep=1)
    manager.save(checkpoint_number=0)
    if os.path.exists(out):
        shutil.rmtree(out)
    os.replace(tmp, out)  # the checkpoint state file holds relative paths
    return out


# ------------------------------------------------------------------------------------------
# Cross-class mixing during training (--cross_mix)
# ------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class CrossMixTraining:
    """``--cross_mix=CLASS_A:CLASS_B@LO-HI`` of a conditional StyleGAN2.

    In each G step a share ``prob`` of the fakes (rows drawn independently) are rendered
    from ws whose ``b_layers`` (the ``LO-HI`` px styles) come from class B's mapping of the
    row's ``z`` and every other layer from class A's mapping of the same ``z``; the
    discriminator judges those rows as class B. The other rows are the usual fakes (with
    style mixing). So the generator learns to render A's coarse structure with B's
    textures as a plausible B, the seed's swap "while training" at 16-32 px.

    Attributes:
        class_a, class_b: int class ids.
        b_layers: tuple of int, ws indices from B.
        prob: float in [0, 1], the share of mixed rows.
        text: str, the flag value.
    """

    class_a: int
    class_b: int
    b_layers: tuple
    prob: float
    text: str = ""

    def layer_mask(self, num_ws):
        """bool ``[num_ws]``: True where the ws come from class B."""
        return np.isin(np.arange(num_ws), self.b_layers)

    def sample_rows(self, model, batch):
        """bool ``[batch]``: the mixed rows, drawn for the global batch (replica-count
        invariant, from the model's seed state)."""
        prob = self.prob
        if prob == 0:
            # No draw: the model's seed stream (latents, noise, style mixing) then stays
            # exactly that of a run without --cross_mix.
            return tf.zeros(tf.reshape(batch, [1]), tf.bool)

        def draw(rows):
            seed = tf.cast(model.seed_generator.next(), tf.int64)
            return tf.random.stateless_uniform(tf.reshape(rows, [1]), seed) < prob

        return model.replica_rows(draw, batch)

    def g_loss(self, model, z, labels):
        """The per-example non-saturating G loss with the mixed rows (inside the G tape).

        Args:
            model: the ``StyleGAN2`` being trained.
            z: ``[B, z_dim]``; labels: int ``[B]``.

        Returns:
            float32 ``[B]``.
        """
        from tfdisgan import losses

        ws, d_labels = self.mixed_ws(model, z, labels, self.sample_rows(model, tf.shape(z)[0]))
        fakes = model.generator.synthesis(ws, noise_mode=model.train_noise_mode,
                                          training=True)
        logits = model.run_discriminator(model.augment_images(fakes, real=False), d_labels,
                                         training=True)
        return losses.g_nonsaturating_loss(logits)

    def mixed_ws(self, model, z, labels, rows):
        """The G step's ws and discriminator labels for given mixed ``rows``.

        Args:
            model: the ``StyleGAN2``.
            z: ``[B, z_dim]``; labels: int ``[B]``; rows: bool ``[B]``.

        Returns:
            ``(ws [B, num_ws, w_dim], d_labels [B])``: mixed rows take
            ``cross_mix_ws``, the others ``model.generator_ws`` (mapping, ``w_avg``
            update, style mixing); ``d_labels`` is ``class_b`` on mixed rows.
        """
        ws = model.generator_ws(z, labels, training=True)
        batch = tf.shape(z)[0]
        mapping = model.generator.mapping
        ws_a = mapping(z, tf.fill([batch], self.class_a), skip_w_avg_update=True, training=True)
        ws_b = mapping(z, tf.fill([batch], self.class_b), skip_w_avg_update=True, training=True)
        mixed = cross_mix_ws(ws_a, ws_b, self.layer_mask(model.num_ws))
        rows = tf.convert_to_tensor(rows, tf.bool)
        ws = tf.where(rows[:, None, None], mixed, ws)
        d_labels = tf.where(rows, tf.constant(self.class_b, tf.int32),
                            tf.cast(labels, tf.int32))
        return ws, d_labels


def cross_mix_ws(ws_a, ws_b, b_mask):
    """``ws_b`` at the layers where ``b_mask`` is True, ``ws_a`` elsewhere (TF ops).

    Args:
        ws_a, ws_b: float32 ``[N, num_ws, w_dim]``.
        b_mask: bool ``[num_ws]``.

    Returns:
        float32 ``[N, num_ws, w_dim]``.
    """
    b_mask = tf.reshape(tf.convert_to_tensor(b_mask, tf.bool), [1, -1, 1])
    return tf.where(b_mask, tf.convert_to_tensor(ws_b, tf.float32),
                    tf.convert_to_tensor(ws_a, tf.float32))


def parse_cross_mix(text, img_resolution, num_classes, class_names=None, prob=0.5,
                    allowed=None):
    """``"CLASS_A:CLASS_B@LO-HI"`` -> ``CrossMixTraining``.

    Classes by name (any Unicode normalisation) or id; ``LO-HI`` (or one resolution) are
    the block resolutions whose styles come from class B, every other layer from A.

    Args:
        text: str, the flag value.
        img_resolution: int, the model's resolution.
        num_classes: int, the model's class count (must be >= 2).
        class_names: class names by id, or None.
        prob: float in [0, 1], the share of mixed fakes.
        allowed: None, or the class ids trained on (``--classes``): both must be in it.

    Returns:
        ``CrossMixTraining``.

    Raises:
        ValueError: malformed, unknown or equal classes, an unconditional model, a bad
            resolution range or probability.
    """
    match = re.fullmatch(r"\s*([^:@]+?)\s*:\s*([^:@]+?)\s*@\s*([\d\s-]+)", str(text))
    if not match:
        raise ValueError(
            f"expected CLASS_A:CLASS_B@LO-HI, e.g. earthquake:building_fire@16-32. "
            f"Received: {text!r}"
        )
    if num_classes < 2:
        raise ValueError("needs a conditional model (--conditional) with >= 2 classes.")
    if (not isinstance(prob, (int, float)) or isinstance(prob, bool)
            or not 0 <= prob <= 1):
        raise ValueError(f"the share of mixed fakes must be in [0, 1]. Received: {prob!r}")
    ids = [resolve_class(match.group(i), num_classes, class_names) for i in (1, 2)]
    if ids[0] == ids[1]:
        raise ValueError(f"classes A and B are the same class ({ids[0]}).")
    if allowed:
        for cid, which in zip(ids, "AB", strict=True):
            if cid not in allowed:
                raise ValueError(
                    f"class {which} ({match.group(1 if which == 'A' else 2)}) is not among "
                    "the trained --classes."
                )
    res = parse_resolution_range(match.group(3).strip(), img_resolution, "resolutions")
    layers = tuple(layers_of(res, img_resolution))
    if set(res) == set(synthesis_resolutions(img_resolution)):
        raise ValueError(
            f"{_describe_res(res)} is every block of the {img_resolution} px generator: "
            "nothing would come from class A."
        )
    return CrossMixTraining(ids[0], ids[1], layers, float(prob), str(text))


def cross_mix_from_config(config, num_classes, class_names=None, class_ids=()):
    """The ``CrossMixTraining`` of a ``TrainConfig`` (None when ``--cross_mix`` is off).

    Args:
        config: a resolved ``tfdisgan.training.TrainConfig``.
        num_classes: int, the model's classes (0: unconditional).
        class_names: the dataset's class names by id.
        class_ids: the ``--classes`` ids trained on (empty: all).

    Raises:
        tfdisgan.training.ConfigError: naming ``--cross_mix`` or ``--cross_mix_prob``.
    """
    from tfdisgan.training import ConfigError

    prob = config.cross_mix_prob
    if (not isinstance(prob, (int, float)) or isinstance(prob, bool)
            or not 0 <= prob <= 1):
        raise ConfigError(f"--cross_mix_prob: must be in [0, 1], got {prob!r}")
    if not config.cross_mix:
        return None
    if config.model != "stylegan2":
        raise ConfigError(f"--cross_mix: needs --model=stylegan2 (style mixing), got "
                          f"--model={config.model}")
    if not config.conditional:
        raise ConfigError("--cross_mix: needs --conditional (it mixes two classes' styles)")
    try:
        return parse_cross_mix(config.cross_mix, config.resolution, num_classes, class_names,
                               float(prob), allowed=tuple(class_ids))
    except ValueError as error:
        raise ConfigError(f"--cross_mix: {error}") from None


# ------------------------------------------------------------------------------------------
# Files
# ------------------------------------------------------------------------------------------


def write_gif(frames, path, fps=24, loop=True):
    """Writes uint8 frames ``[F, H, W, 3]`` as an animated GIF, atomically.

    Each frame is quantised to its own adaptive 256-colour palette. Pillow merges
    identical consecutive frames into one longer frame (the duration is kept).

    Args:
        frames: uint8 ``[F, H, W, 3]`` (or ``[F, H, W]``), F >= 1.
        path: str, output file.
        fps: float > 0, frames per second (GIF stores centiseconds: rounded). Default 24.
        loop: bool, loop forever (True) or play once. Default True.

    Returns:
        ``path``.

    Raises:
        ValueError: bad frames or fps.
    """
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim not in (3, 4) or len(frames) == 0:
        raise ValueError(
            f"`frames` must be uint8 [F, H, W, 3] with F >= 1. Received: {frames.dtype} "
            f"{frames.shape}"
        )
    if not isinstance(fps, (int, float)) or isinstance(fps, bool) or not fps > 0:
        raise ValueError(f"`fps` must be a number > 0. Received: fps={fps}")
    images = [Image.fromarray(f) for f in frames]
    duration = max(10, int(round(100.0 / fps)) * 10)  # centisecond resolution
    tmp = f"{path}.tmp.gif"
    extra = {"loop": 0} if loop else {}
    images[0].save(tmp, save_all=True, append_images=images[1:], duration=duration,
                   disposal=1, **extra)
    os.replace(tmp, path)
    return path


def save_grid(images, path, columns=None):
    """Tiles uint8 ``[N, H, W, 3]`` into a grid PNG (``columns`` default ~sqrt(N))."""
    images = np.asarray(images)
    columns = columns or int(math.ceil(math.sqrt(len(images))))
    save_png(image_grid(images, columns), path)
    return path


__all__ = [
    "PSI_RANGE",
    "CrossMix",
    "CrossMixTraining",
    "GeneratorView",
    "PairedMix",
    "ResolutionSplit",
    "StyleMix",
    "as_view",
    "check_psi",
    "check_seeds",
    "class_mix",
    "cross_domain_mix",
    "cross_domain_sweeps",
    "cross_mix_from_config",
    "cross_mix_ws",
    "crossover_sweep",
    "crossover_ws",
    "image_grid",
    "interpolation_grid",
    "latent_walk",
    "layers_of",
    "lerp",
    "loop_positions",
    "paired_mix",
    "parse_cross_mix",
    "parse_range",
    "parse_resolution_range",
    "parse_split",
    "parse_styles",
    "psi_per_row",
    "resolution_layers",
    "resolve_class",
    "save_grid",
    "save_png",
    "side_by_side",
    "slerp",
    "style_mix_ws",
    "style_mixing_grid",
    "swap_blend",
    "swap_layers",
    "synthesis_resolutions",
    "to_uint8",
    "truncate_ws",
    "write_gif",
    "write_run",
]
