"""`GeneratorView`: one uniform view of a generator (a trained model or a SavedModel),
with the seed, class and truncation helpers every user of a network shares."""

import re

import numpy as np
import tensorflow as tf

from tfdisgan._validate import check_psi
from tfdisgan.classes import (  # noqa: F401 - re-exported by tfdisgan.mixing
    check_class_names,
    describe_classes,
    normalize_class_name,
    resolve_class,
)
from tfdisgan.images import to_uint8
from tfdisgan.models.gan import GAN
from tfdisgan.models.seeds import MAX_SEED, seeds_to_z

# The package's one truncation and style crossover, under the names the views and the
# mixing API have always used.
from tfdisgan.models.stylegan2.style_layers import crossover as crossover_ws  # noqa: F401
from tfdisgan.models.stylegan2.style_layers import truncate as truncate_ws

NOISE_MODES = ("const", "random", "none")
SPACES = ("z", "w")
NEEDS_STYLEGAN2 = "style mixing needs StyleGAN2"


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
        self.class_names = check_class_names(class_names, self.num_classes)

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
                f"{describe_classes(self.num_classes, self.class_names)}): give a class."
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
        ws = self.check_ws(ws)
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
                f"{what.capitalize()}: {NEEDS_STYLEGAN2} (a style-based generator with "
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

    def check_ws(self, ws):
        """``ws`` as float32 ``[N, num_ws, w_dim]``; ValueError naming the shape otherwise."""
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
