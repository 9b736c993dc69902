"""Adaptive discriminator augmentation (ADA): the stylegan2-ada ``bgc`` pipeline.

Every image the discriminator sees, real or generated, goes through the same random,
differentiable pipeline; each transformation is applied to each image with probability
``p`` (times its multiplier, 1 for the transformations the pipeline names). Because the
pipeline is applied to both distributions and is (almost surely) invertible as a
distribution transform at ``p < 0.8``, the generator is not pushed to produce augmented
images: the augmentations do not "leak". ``p`` is adapted during training from the
discriminator's overfitting heuristic ``r_t = E[sign(D(reals))]`` (``update``).

The maths follows stylegan2-ada-pytorch ``training/augment.py`` (``AugmentPipe``) and
``training/training_loop.py`` (the ADA heuristic); the code is our own, NHWC and TensorFlow:

- Geometric transformations, all composed into one inverse 3x3 matrix ``G_inv`` per image
  (output pixel -> input pixel, pixel units, origin at the image centre), in this order:
  x-flip, rotation by a multiple of 90 degrees, integer translation (``U(-0.125, 0.125)`` of
  the size, rounded to whole pixels), isotropic scale (``2 ** N(0, 0.2)``), pre-rotation
  (``U(-pi, pi)``), anisotropic scale (``2 ** N(0, 0.2)`` on x, its inverse on y),
  post-rotation and fractional translation (``N(0, 0.125)`` of the size). The two rotations
  each fire with ``1 - sqrt(1 - p)`` so that "pre or post" fires with ``p``.
- They are executed as in the official code: reflect padding just large enough for the
  transformed corners (plus the filter support), 2x upsampling with the ``sym6`` wavelet
  low-pass filter, bilinear sampling with zero fill (``grid_sample``, ``align_corners=False``),
  and 2x downsampling with the same filter, which suppresses the aliasing that would
  otherwise leak.
- Colour transformations, composed into one 4x4 matrix ``C`` per image acting on
  homogeneous RGB: brightness (``+N(0, 0.2)``), contrast (``x 2 ** N(0, 0.5)``), luma flip
  (Householder reflection about the luma axis ``(1, 1, 1) / sqrt(3)``), hue rotation about
  the luma axis (``U(-pi, pi)``) and saturation (``2 ** N(0, 1)`` off the luma axis). Hue and
  saturation need colour images; a 1-channel image gets the mean of the RGB rows.

Implementation notes (where this differs from a line-by-line port): the random draws come
from a stateless generator, one stream per draw, so enabling or disabling a transformation
does not change the others' parameters; the bilinear sampler is written with gathers in
pixel coordinates (exact gradient w.r.t. the image; ``tf.raw_ops.ImageProjectiveTransformV3``
has no exact gradient) and is equal to ``affine_grid`` + ``grid_sample`` on the normalised
matrix of the official code. As in the official code, the geometric stage runs whenever the
pipeline has a geometric transformation, whatever ``p``: at ``p = 0`` every image still goes
through the padding, ``sym6`` up/down-sampling and bilinear resampling (a slight low-pass,
the same for reals and fakes). An earlier version skipped the stage with a ``tf.cond`` when
no image drew a transformation; TensorFlow cannot take the second-order gradient of a
``tf.cond`` inside a ``tf.function`` (cond_v2 ``_resolve_grad_inputs`` asserts), which R1
through the pipeline needs, so the stage is unconditional.
The padding depends on the batch's transformations, so the geometric stage has dynamic
intermediate shapes: it runs eagerly and in ``tf.function`` but not under XLA (or on TPUs).

A property of the official method, reproduced here (tests compare against a NumPy port of
the official execution): the half-pixel shift ``translate2d(-0.5, -0.5)`` in the 2x domain
compensates the ``sym6`` filter's delay, which is 0.402 px there rather than 0.5, so
mirroring transforms (x-flip, rotations) land about 0.1 px off an exact flip / rot90, and
band-limited content is otherwise reproduced to ~1e-2.

Cost, measured on the 2-core development CPU (shared, so noisy; batch 8, ``tf.function``,
forward + backward): 32 px: ``p = 0.2`` ~50 ms, ``p = 0.6`` ~55 ms; 64 px: ``p = 0.6``
~90-140 ms (``p = 0`` costs about as much as a small ``p``: the geometric stage always
runs); DiffAugment 5-9 ms.

Reference:
    Karras, Aittala, Hellsten, Laine, Lehtinen, Aila. "Training Generative Adversarial
    Networks with Limited Data", NeurIPS 2020, https://arxiv.org/abs/2006.06676
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from tfdisgan.augment.diffaugment import diff_augment, parse_policy
from tfdisgan.layers.resample import downsample2d, setup_filter, upsample2d

# Low-pass filter of the symlet-6 wavelet (stylegan2-ada-pytorch `wavelets['sym6']`).
SYM6 = (
    0.015404109327027373, 0.0034907120842174702, -0.11799011114819057, -0.048311742585633,
    0.4910559419267466, 0.787641141030194, 0.3379294217276218, -0.07263752278646252,
    -0.021060292512300564, 0.04472490177066578, 0.0017677118642428036, -0.007800708325034148,
)

GEOMETRIC = ("xflip", "rotate90", "xint", "scale", "rotate", "aniso", "xfrac")
COLOR = ("brightness", "contrast", "lumaflip", "hue", "saturation")
TRANSFORMS = GEOMETRIC + COLOR

# The official `augpipe_specs` (train.py) restricted to what is implemented here.
PIPELINES = {
    "blit": ("xflip", "rotate90", "xint"),
    "geom": ("scale", "rotate", "aniso", "xfrac"),
    "color": COLOR,
    "bg": GEOMETRIC,
    "bgc": TRANSFORMS,
}

# Official default strengths (`AugmentPipe.__init__`).
DEFAULT_STRENGTHS = dict(
    xint_max=0.125,
    scale_std=0.2,
    rotate_max=1.0,
    aniso_std=0.2,
    xfrac_std=0.125,
    brightness_std=0.2,
    contrast_std=0.5,
    hue_max=1.0,
    saturation_std=1.0,
)

# One independent random stream per draw (value, gate), in pipeline order.
_STREAMS = {name: (2 * i, 2 * i + 1) for i, name in enumerate(
    ("xflip", "rotate90", "xint", "scale", "pre_rotate", "aniso", "post_rotate", "xfrac")
    + COLOR
)}
_NUM_STREAMS = 2 * len(_STREAMS)


def parse_pipeline(pipeline) -> tuple[str, ...]:
    """Turns a pipeline spec into the tuple of transformation names it enables.

    Args:
        pipeline: str, a preset (``"blit"``, ``"geom"``, ``"color"``, ``"bg"``, ``"bgc"``) or
            comma-separated transformation names from ``TRANSFORMS``; or a list/tuple of
            names. ``""`` enables nothing (identity).

    Returns:
        Tuple of names from ``TRANSFORMS``, in pipeline order, without duplicates.

    Raises:
        ValueError: on a wrong type or an unknown name (the message lists the valid ones).
    """
    if isinstance(pipeline, str):
        key = pipeline.strip().lower()
        names = PIPELINES[key] if key in PIPELINES else key.split(",")
    elif isinstance(pipeline, (list, tuple)) and all(isinstance(n, str) for n in pipeline):
        names = pipeline
    else:
        raise ValueError(
            "Argument `pipeline` must be a preset name, a comma-separated string or a list of "
            f"transformation names. Received: pipeline={pipeline!r}"
        )
    names = {n.strip().lower() for n in names if n.strip()}
    unknown = sorted(names - set(TRANSFORMS))
    if unknown:
        raise ValueError(
            f"Unknown ADA transformation {unknown} in pipeline={pipeline!r}. Valid presets: "
            f"{list(PIPELINES)}; valid names: {list(TRANSFORMS)}."
        )
    return tuple(n for n in TRANSFORMS if n in names)


# ------------------------------------------------------------------------------------------
# Batched homogeneous matrices (stylegan2-ada `matrix`, `translate2d`, ...), [B, n, n].
# ------------------------------------------------------------------------------------------


def _matrix(rows, batch):
    """Stacks rows of scalars or ``[B]`` tensors into a float32 ``[B, n, m]`` tensor."""
    elems = [
        tf.broadcast_to(tf.cast(e, tf.float32), tf.reshape(batch, [1]))
        for row in rows
        for e in row
    ]
    return tf.reshape(tf.stack(elems, axis=-1), tf.stack([batch, len(rows), len(rows[0])]))


def translate2d(tx, ty, batch):
    return _matrix([[1, 0, tx], [0, 1, ty], [0, 0, 1]], batch)


def scale2d(sx, sy, batch):
    return _matrix([[sx, 0, 0], [0, sy, 0], [0, 0, 1]], batch)


def _cos_sin(theta):
    """cos and sin, exact at 0: TensorFlow's vectorised kernels give cos(0) = 1 - 2e-7 in
    graphs, which would turn "no rotation" into a (costly) non-identity transform."""
    theta = tf.cast(theta, tf.float32)
    zero = tf.equal(theta, 0.0)
    return tf.where(zero, 1.0, tf.cos(theta)), tf.where(zero, 0.0, tf.sin(theta))


def rotate2d(theta, batch):
    c, s = _cos_sin(theta)
    return _matrix([[c, -s, 0], [s, c, 0], [0, 0, 1]], batch)


def _rotate90(quarter_turns, batch):
    """``rotate2d(pi / 2 * k)`` with exact entries, for ``k`` in {0, 1, 2, 3} ``[B]``."""
    k = tf.cast(quarter_turns, tf.int32)
    c = tf.gather([1.0, 0.0, -1.0, 0.0], k)
    s = tf.gather([0.0, 1.0, 0.0, -1.0], k)
    return _matrix([[c, -s, 0], [s, c, 0], [0, 0, 1]], batch)


def translate3d(tx, ty, tz, batch):
    return _matrix([[1, 0, 0, tx], [0, 1, 0, ty], [0, 0, 1, tz], [0, 0, 0, 1]], batch)


def scale3d(sx, sy, sz, batch):
    return _matrix([[sx, 0, 0, 0], [0, sy, 0, 0], [0, 0, sz, 0], [0, 0, 0, 1]], batch)


def rotate3d(v, theta, batch):
    """Rotation by ``theta [B]`` about the unit axis ``v`` (3 floats), homogeneous 4x4."""
    vx, vy, vz = (float(a) for a in v[:3])
    c, s = _cos_sin(theta)
    cc = 1 - c
    return _matrix(
        [
            [vx * vx * cc + c, vx * vy * cc - vz * s, vx * vz * cc + vy * s, 0],
            [vy * vx * cc + vz * s, vy * vy * cc + c, vy * vz * cc - vx * s, 0],
            [vz * vx * cc - vy * s, vz * vy * cc + vx * s, vz * vz * cc + c, 0],
            [0, 0, 0, 1],
        ],
        batch,
    )


# The luma axis of homogeneous RGB and its outer product.
_LUMA = np.asarray([1, 1, 1, 0], np.float32) / np.sqrt(3)
_LUMA_OUTER = np.outer(_LUMA, _LUMA).astype(np.float32)


# ------------------------------------------------------------------------------------------
# Random parameters -> matrices
# ------------------------------------------------------------------------------------------


def sample_matrices(batch, height, width, channels, p, seed, multipliers, strengths=None):
    """Draws the per-image geometric and colour matrices of the pipeline.

    Args:
        batch: int or scalar int32 tensor, number of images.
        height: int, image height (integer and fractional translations are relative to it).
        width: int, image width.
        channels: int, 1 or 3 (hue and saturation apply to 3 channels only).
        p: float or scalar float32 tensor, the augmentation probability.
        seed: int32 tensor ``[2]``, a stateless seed.
        multipliers: dict ``{transformation name: probability multiplier}``; missing or 0
            names are disabled.
        strengths: dict overriding ``DEFAULT_STRENGTHS``. Default None.

    Returns:
        ``(G_inv, C)``: float32 ``[B, 3, 3]`` (output pixel -> input pixel, pixel units,
        origin at the image centre) and ``[B, 4, 4]`` (homogeneous RGB in -> out); either is
        None when none of its transformations is enabled.
    """
    st = dict(DEFAULT_STRENGTHS, **(strengths or {}))
    mult = {n: float(multipliers.get(n, 0.0)) for n in TRANSFORMS}
    p = tf.cast(p, tf.float32)
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int32), _NUM_STREAMS)
    shape = tf.reshape(batch, [1])

    def uniform(stream, extra=()):
        return tf.random.stateless_uniform(tf.concat([shape, extra], 0), seeds[stream])

    def normal(stream, extra=()):
        return tf.random.stateless_normal(tf.concat([shape, extra], 0), seeds[stream])

    def gate(name, prob, extra=()):
        """Per-image Bernoulli(prob) draw from the gate stream of `name`."""
        return uniform(_STREAMS[name][1], extra) < prob

    def value(name):
        return _STREAMS[name][0]

    # --- Pixel blitting and general geometric transformations: G_inv @ out ==> in. ---
    g_inv = None
    if any(mult[n] > 0 for n in GEOMETRIC):
        g_inv = tf.eye(3, batch_shape=shape)

        if mult["xflip"] > 0:
            i = tf.floor(uniform(value("xflip")) * 2)
            i = tf.where(gate("xflip", mult["xflip"] * p), i, tf.zeros_like(i))
            g_inv = g_inv @ scale2d(1 - 2 * i, 1, batch)  # scale2d_inv(1 - 2i, 1): +-1

        if mult["rotate90"] > 0:
            i = tf.floor(uniform(value("rotate90")) * 4)
            i = tf.where(gate("rotate90", mult["rotate90"] * p), i, tf.zeros_like(i))
            g_inv = g_inv @ _rotate90(i, batch)  # rotate2d_inv(-pi / 2 * i)

        if mult["xint"] > 0:
            t = (uniform(value("xint"), [2]) * 2 - 1) * st["xint_max"]
            t = tf.where(gate("xint", mult["xint"] * p, [1]), t, tf.zeros_like(t))
            # tf.round, like torch.round, rounds half to even.
            g_inv = g_inv @ translate2d(
                -tf.round(t[:, 0] * width), -tf.round(t[:, 1] * height), batch
            )

        if mult["scale"] > 0:
            # scale2d_inv(s, s) with 1 / s = 2 ** -log2(s): graph-mode reciprocals are
            # approximate (1 / 1 = 1 - 6e-8), which would make "no scaling" non-identity.
            log_s = normal(value("scale")) * st["scale_std"]
            s_inv = tf.where(gate("scale", mult["scale"] * p), tf.pow(2.0, -log_s), 1.0)
            g_inv = g_inv @ scale2d(s_inv, s_inv, batch)

        # Pre- and post-rotation each with p_rot, so that P(pre or post) = p.
        p_rot = 1 - tf.sqrt(tf.clip_by_value(1 - mult["rotate"] * p, 0.0, 1.0))
        if mult["rotate"] > 0:
            theta = (uniform(value("pre_rotate")) * 2 - 1) * np.pi * st["rotate_max"]
            theta = tf.where(gate("pre_rotate", p_rot), theta, tf.zeros_like(theta))
            g_inv = g_inv @ rotate2d(theta, batch)  # rotate2d_inv(-theta)

        if mult["aniso"] > 0:
            log_s = normal(value("aniso")) * st["aniso_std"]
            apply = gate("aniso", mult["aniso"] * p)
            s, s_inv = (tf.where(apply, tf.pow(2.0, e), 1.0) for e in (log_s, -log_s))
            g_inv = g_inv @ scale2d(s_inv, s, batch)  # scale2d_inv(s, 1 / s)

        if mult["rotate"] > 0:
            theta = (uniform(value("post_rotate")) * 2 - 1) * np.pi * st["rotate_max"]
            theta = tf.where(gate("post_rotate", p_rot), theta, tf.zeros_like(theta))
            g_inv = g_inv @ rotate2d(theta, batch)

        if mult["xfrac"] > 0:
            t = normal(value("xfrac"), [2]) * st["xfrac_std"]
            t = tf.where(gate("xfrac", mult["xfrac"] * p, [1]), t, tf.zeros_like(t))
            g_inv = g_inv @ translate2d(-t[:, 0] * width, -t[:, 1] * height, batch)

    # --- Colour transformations: C @ colour_in ==> colour_out. ---
    color = None
    color_names = [n for n in COLOR if n not in ("hue", "saturation") or channels > 1]
    if any(mult[n] > 0 for n in color_names):
        color = tf.eye(4, batch_shape=shape)
        eye = tf.eye(4)

        if mult["brightness"] > 0:
            b = normal(value("brightness")) * st["brightness_std"]
            b = tf.where(gate("brightness", mult["brightness"] * p), b, tf.zeros_like(b))
            color = translate3d(b, b, b, batch) @ color

        if mult["contrast"] > 0:
            c = tf.pow(2.0, normal(value("contrast")) * st["contrast_std"])
            c = tf.where(gate("contrast", mult["contrast"] * p), c, tf.ones_like(c))
            color = scale3d(c, c, c, batch) @ color

        if mult["lumaflip"] > 0:
            i = tf.floor(uniform(value("lumaflip")) * 2)
            i = tf.where(gate("lumaflip", mult["lumaflip"] * p), i, tf.zeros_like(i))
            color = (eye - 2 * _LUMA_OUTER * i[:, None, None]) @ color  # Householder

        if mult["hue"] > 0 and channels > 1:
            theta = (uniform(value("hue")) * 2 - 1) * np.pi * st["hue_max"]
            theta = tf.where(gate("hue", mult["hue"] * p), theta, tf.zeros_like(theta))
            color = rotate3d(_LUMA, theta, batch) @ color

        if mult["saturation"] > 0 and channels > 1:
            s = tf.pow(2.0, normal(value("saturation")) * st["saturation_std"])
            s = tf.where(gate("saturation", mult["saturation"] * p), s, tf.ones_like(s))
            # vv^T + (I - vv^T) s, written to be exactly I at s = 1.
            color = (eye + (eye - _LUMA_OUTER) * (s - 1)[:, None, None]) @ color

    return g_inv, color


# ------------------------------------------------------------------------------------------
# Execution
# ------------------------------------------------------------------------------------------


def bilinear_sample(images, g_inv, out_height, out_width):
    """Samples ``images`` bilinearly at ``G_inv`` applied to each output pixel, zero outside.

    Equal to PyTorch's ``affine_grid`` + ``grid_sample(mode="bilinear",
    padding_mode="zeros", align_corners=False)`` with the matrix normalised as in
    stylegan2-ada, written in pixel units: output pixel ``(i, j)`` has centred coordinates
    ``(j - (W_out - 1) / 2, i - (H_out - 1) / 2)``; ``G_inv`` maps them to centred input
    coordinates, read at index ``x + (W_in - 1) / 2``. The gradient w.r.t. ``images`` is
    exact (gathers); none flows to ``G_inv``.

    Args:
        images: float32 ``[B, H_in, W_in, C]``; ``H_in``, ``W_in`` may be dynamic.
        g_inv: float32 ``[B, 3, 3]``.
        out_height: int, ``H_out``.
        out_width: int, ``W_out``.

    Returns:
        float32 ``[B, H_out, W_out, C]``.
    """
    g_inv = tf.stop_gradient(g_inv)
    dims = tf.shape(images)
    batch, in_h, in_w = dims[0], dims[1], dims[2]
    channels = images.shape[-1]
    ys = tf.range(out_height, dtype=tf.float32) - (out_height - 1) / 2
    xs = tf.range(out_width, dtype=tf.float32) - (out_width - 1) / 2
    grid_y, grid_x = tf.meshgrid(ys, xs, indexing="ij")
    coords = tf.stack(
        [tf.reshape(grid_x, [-1]), tf.reshape(grid_y, [-1]), tf.ones([out_height * out_width])]
    )  # [3, P]
    src = tf.einsum("bij,jp->bip", g_inv[:, :2, :], coords)  # [B, 2, P]
    ix = src[:, 0] + (tf.cast(in_w, tf.float32) - 1) / 2
    iy = src[:, 1] + (tf.cast(in_h, tf.float32) - 1) / 2
    x0, y0 = tf.floor(ix), tf.floor(iy)
    wx, wy = ix - x0, iy - y0
    x0, y0 = tf.cast(x0, tf.int32), tf.cast(y0, tf.int32)
    flat = tf.reshape(images, tf.stack([batch, in_h * in_w, -1]))

    def tap(y, x, weight):
        inside = (x >= 0) & (x < in_w) & (y >= 0) & (y < in_h)
        index = tf.clip_by_value(y, 0, in_h - 1) * in_w + tf.clip_by_value(x, 0, in_w - 1)
        weight = weight * tf.cast(inside, tf.float32)
        return tf.gather(flat, index, batch_dims=1) * weight[..., tf.newaxis]

    out = (
        tap(y0, x0, (1 - wx) * (1 - wy))
        + tap(y0, x0 + 1, wx * (1 - wy))
        + tap(y0 + 1, x0, (1 - wx) * wy)
        + tap(y0 + 1, x0 + 1, wx * wy)
    )
    return tf.reshape(out, tf.stack([batch, out_height, out_width, channels]))


def apply_geometric(images, g_inv, filter_taps=SYM6):
    """Executes per-image geometric transforms the way stylegan2-ada does, against aliasing.

    Pads with reflection just enough for the transformed corners plus the filter support
    (the same padding for the whole batch), upsamples 2x with the wavelet filter, samples
    bilinearly (`bilinear_sample`) on a grid covering the image plus ``len(filter) // 4``
    pixels each side, and downsamples 2x with the same filter, cropping that border.

    Args:
        images: float32 ``[B, H, W, C]`` with static ``H``, ``W`` (each >= 2).
        g_inv: float32 ``[B, 3, 3]``, output pixel -> input pixel, pixel units, origin at
            the image centre (``sample_matrices``).
        filter_taps: 1-D low-pass filter. Default ``SYM6`` (official).

    Returns:
        float32 ``[B, H, W, C]``, differentiable w.r.t. ``images``.
    """
    images = tf.cast(images, tf.float32)
    g_inv = tf.cast(g_inv, tf.float32)
    height, width = int(images.shape[1]), int(images.shape[2])
    batch = tf.shape(images)[0]
    hz = setup_filter(np.asarray(filter_taps, np.float32))
    hz_pad = len(filter_taps) // 4
    cx, cy = (width - 1) / 2, (height - 1) / 2

    # Padding: the transformed corners' extent beyond the image, plus the filter support,
    # at most one reflection (size - 1).
    corners = tf.constant([[-cx, -cy, 1], [cx, -cy, 1], [cx, cy, 1], [-cx, cy, 1]], tf.float32)
    cp = tf.einsum("bij,kj->bik", g_inv, corners)[:, :2, :]  # [B, xy, corner]
    cp = tf.reshape(tf.transpose(cp, [1, 0, 2]), [2, -1])  # [xy, B * corner]
    margin = tf.reduce_max(tf.concat([-cp, cp], axis=0), axis=1)  # [x0, y0, x1, y1]
    margin = margin + tf.constant([hz_pad * 2 - cx, hz_pad * 2 - cy] * 2, tf.float32)
    margin = tf.clip_by_value(margin, 0.0, tf.constant([width - 1, height - 1] * 2, tf.float32))
    mx0, my0, mx1, my1 = tf.unstack(tf.cast(tf.math.ceil(margin), tf.int32))

    x = tf.pad(images, [[0, 0], [my0, my1], [mx0, mx1], [0, 0]], mode="REFLECT")
    g = translate2d(tf.cast(mx0 - mx1, tf.float32) / 2, tf.cast(my0 - my1, tf.float32) / 2,
                    batch) @ g_inv

    # Upsample; the half-pixel shifts match the filter's phase (official code).
    x = upsample2d(x, hz, up=2)
    g = scale2d(2, 2, batch) @ g @ scale2d(0.5, 0.5, batch)
    g = translate2d(-0.5, -0.5, batch) @ g @ translate2d(0.5, 0.5, batch)

    x = bilinear_sample(x, g, (height + hz_pad * 2) * 2, (width + hz_pad * 2) * 2)
    return downsample2d(x, hz, down=2, padding=-hz_pad * 2, flip_filter=True)


def apply_color(images, color):
    """Applies per-image homogeneous colour matrices ``[B, 4, 4]`` to RGB or L images.

    Raises:
        ValueError: if the images have neither 1 nor 3 channels.
    """
    channels = images.shape[-1]
    if channels == 3:
        out = tf.einsum("bij,bhwj->bhwi", color[:, :3, :3], images)
        return out + color[:, tf.newaxis, tf.newaxis, :3, 3]
    if channels == 1:
        mean = tf.reduce_mean(color[:, :3, :], axis=1)  # [B, 4]
        gain = tf.reduce_sum(mean[:, :3], axis=1)[:, None, None, None]
        return images * gain + mean[:, 3][:, None, None, None]
    raise ValueError(f"ADA colour transforms need 1 or 3 channels. Received: {images.shape}")


def ada_augment(images, p, seed, pipeline="bgc", strengths=None, diffaugment=""):
    """Stateless functional ADA pipeline: the same seed and ``p`` give the same result.

    Args:
        images: float tensor ``[B, H, W, C]``, nominally in ``[-1, 1]``, static ``H``,
            ``W`` (>= 2) and ``C`` (1 or 3 when colour transforms are on); dynamic batch.
        p: float or scalar tensor in [0, 1], the probability of each transformation.
        seed: int, or int tensor ``[2]`` (a stateless seed).
        pipeline: preset or names (see `parse_pipeline`). Default ``"bgc"``.
        strengths: dict overriding ``DEFAULT_STRENGTHS``. Default None.
        diffaugment: DiffAugment policy applied after the ADA pipeline (always, not with
            probability ``p``). Default ``""`` (none).

    Returns:
        Tensor ``[B, H, W, C]`` of the input dtype, differentiable w.r.t. ``images``.

    Raises:
        ValueError: an unknown pipeline or policy name, bad channel count or dynamic size.

    Example:
        >>> y = ada_augment(tf.random.uniform([4, 32, 32, 3], -1, 1), p=0.5, seed=[1, 2])
    """
    names = parse_pipeline(pipeline)
    policy = parse_policy(diffaugment)
    images = tf.convert_to_tensor(images)
    if images.shape.rank != 4 or None in images.shape[1:]:
        raise ValueError(
            f"ADA needs NHWC images with static height, width and channels. Received: "
            f"shape {images.shape}"
        )
    height, width, channels = (int(d) for d in images.shape[1:])
    if isinstance(seed, int):
        seed = [seed, 0]
    seed = tf.cast(seed, tf.int32)
    ada_seed, diff_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    dtype = images.dtype
    x = tf.cast(images, tf.float32)
    g_inv, color = sample_matrices(
        tf.shape(x)[0], height, width, channels, p, ada_seed,
        {n: 1.0 for n in names}, strengths,
    )
    if g_inv is not None:
        if min(height, width) < 2:
            raise ValueError(f"ADA geometric transforms need images of at least 2x2. "
                             f"Received: shape {images.shape}")
        # Unconditional, as the official code (module docstring: no tf.cond, for R1).
        x = apply_geometric(x, g_inv)
        x = tf.ensure_shape(x, [None, height, width, channels])
    if color is not None:
        if channels not in (1, 3):
            raise ValueError(f"ADA colour transforms need 1 or 3 channels. Received: shape "
                             f"{images.shape}")
        x = apply_color(x, color)
    if policy:
        x = diff_augment(x, policy, seed=diff_seed)
    return tf.cast(x, dtype)


# ------------------------------------------------------------------------------------------
# Layer
# ------------------------------------------------------------------------------------------


def _is_number(value):
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _check_range(name, value, low, high, allow_none=False, low_open=False):
    if allow_none and value is None:
        return
    ok = _is_number(value) and math.isfinite(value) and value <= high
    ok = ok and (value > low if low_open else value >= low)
    if not ok:
        bracket = "(" if low_open else "["
        raise ValueError(
            f"Argument `{name}` must be a number in {bracket}{low}, {high}]"
            f"{' or None' if allow_none else ''}. Received: {name}={value!r}"
        )


@keras.saving.register_keras_serializable(package="tfdisgan")
class AdaptiveAugment(keras.layers.Layer):
    """ADA: the stylegan2-ada augmentation pipeline with an adaptive probability ``p``.

    Applied to real and generated images alike (``reals_only = False``), differentiable
    w.r.t. the images. ``p`` is a non-trainable float32 variable; the GAN calls
    ``accumulate(real_logits)`` with D's logits on every pass over augmented reals (main D
    step and R1 step) and ``adjust(batch)`` once at the end of each step, which every
    ``interval`` steps moves ``p`` by
    ``sign(r_t - target) * (batch * interval) / (ada_kimg * 1000)``, clipped to [0, 1],
    where ``r_t`` is the mean sign since the last adjustment (stylegan2-ada
    ``training_loop.py``; the official code only clips at 0, but ``p > 1`` behaves as
    ``p = 1``). Under a ``tf.distribute`` strategy the signs and counts are summed over the
    replicas, so every replica sees the global ``r_t`` and sets the same ``p``. ``p``, the
    accumulators and the random state are variables, saved by ``tf.train.Checkpoint``
    (the random state through the GAN model, see ``models/gan.py``).

    Args:
        pipeline: str or list of str, a preset (``"blit"``, ``"geom"``, ``"color"``,
            ``"bg"``, ``"bgc"``) or transformation names from ``TRANSFORMS``.
            Default ``"bgc"`` (official default).
        p: float in [0, 1], initial probability. Default 0.0.
        target: float in [0, 1] or None, the ``r_t`` target; None keeps ``p`` fixed.
            Default 0.6.
        ada_kimg: float > 0, thousands of images for ``p`` to move by 1. Default 500.
        interval: int >= 1, steps between adjustments (``ada_interval``). Default 4.
        xint_max, scale_std, rotate_max, aniso_std, xfrac_std, brightness_std,
            contrast_std, hue_max, saturation_std: floats >= 0, strengths (official
            defaults 0.125, 0.2, 1, 0.2, 0.125, 0.2, 0.5, 1, 1).
        diffaugment: str, DiffAugment policy applied after the pipeline to every image
            ("DiffAugment + ADA"). Default ``""`` (none).
        seed: int or None, initial state of the seed generator. Default None (random).
        **kwargs: standard ``keras.layers.Layer`` arguments.

    Input shape:
        ``[B, H, W, C]`` float images, nominally in ``[-1, 1]``; static ``H``, ``W``;
        ``C`` is 3 or 1 when colour transformations are enabled.

    Output shape:
        Same as the input; same dtype. Identity when ``training=False``.

    Raises:
        ValueError: on a bad argument, naming the received value.

    Example:
        >>> ada = AdaptiveAugment(p=0.0, target=0.6, seed=0)
        >>> gan.compile(g_opt, d_opt, augment=ada)  # the GAN calls accumulate and adjust

    Reference:
        Karras et al., "Training Generative Adversarial Networks with Limited Data",
        NeurIPS 2020, https://arxiv.org/abs/2006.06676
    """

    # The GAN model applies the layer to generated images as well.
    reals_only = False

    def __init__(
        self,
        pipeline="bgc",
        p=0.0,
        target=0.6,
        ada_kimg=500.0,
        interval=4,
        xint_max=0.125,
        scale_std=0.2,
        rotate_max=1.0,
        aniso_std=0.2,
        xfrac_std=0.125,
        brightness_std=0.2,
        contrast_std=0.5,
        hue_max=1.0,
        saturation_std=1.0,
        diffaugment="",
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self._names = parse_pipeline(pipeline)
        self._policy = parse_policy(diffaugment)
        _check_range("p", p, 0, 1)
        _check_range("target", target, 0, 1, allow_none=True)
        _check_range("ada_kimg", ada_kimg, 0, math.inf, low_open=True)
        if isinstance(interval, bool) or not isinstance(interval, (int, np.integer)) or (
            interval < 1
        ):
            raise ValueError(f"Argument `interval` must be an int >= 1. Received: "
                             f"interval={interval!r}")
        strengths = dict(
            xint_max=xint_max, scale_std=scale_std, rotate_max=rotate_max,
            aniso_std=aniso_std, xfrac_std=xfrac_std, brightness_std=brightness_std,
            contrast_std=contrast_std, hue_max=hue_max, saturation_std=saturation_std,
        )
        for name, value in strengths.items():
            _check_range(name, value, 0, math.inf)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(f"Argument `seed` must be an int or None. Received: seed={seed!r}")

        # === Config ===
        self.pipeline = list(pipeline) if isinstance(pipeline, tuple) else pipeline
        self.initial_p = float(p)
        self.target = None if target is None else float(target)
        self.ada_kimg = float(ada_kimg)
        self.interval = int(interval)
        self.strengths = {k: float(v) for k, v in strengths.items()}
        self.diffaugment = diffaugment
        self.seed = seed

        # === State ===
        self.seed_generator = keras.random.SeedGenerator(seed)
        # Every replica computes the same values (all-reduced statistics), so the first
        # replica's write is the right one; "only_first_replica" also allows the writes
        # from replica context without a merge call.
        state = dict(trainable=False, autocast=False, aggregation="only_first_replica")
        self.p = self.add_weight(
            shape=(), initializer=keras.initializers.Constant(self.initial_p),
            dtype="float32", name="p", **state,
        )
        self.sign_sum = self.add_weight(
            shape=(), initializer="zeros", dtype="float32", name="sign_sum", **state
        )
        self.sign_count = self.add_weight(
            shape=(), initializer="zeros", dtype="float32", name="sign_count", **state
        )
        self.rt = self.add_weight(shape=(), initializer="zeros", dtype="float32", name="rt",
                                  **state)
        self.ada_step = self.add_weight(shape=(), initializer="zeros", dtype="int64",
                                        name="ada_step", **state)
        self.built = True

    @property
    def adaptive(self):
        """Whether ``update`` adapts ``p`` (``target`` is not None)."""
        return self.target is not None

    def _draw_seed(self):
        state = self.seed_generator.next()
        # Same reduction Keras applies before its own stateless ops (int64 state -> int32).
        seed = tf.cast(tf.math.floormod(state, tf.int32.max - 1), tf.int32)
        replica = tf.distribute.get_replica_context()
        if replica is not None and replica.num_replicas_in_sync > 1:
            seed = tf.random.experimental.stateless_fold_in(
                seed, tf.cast(replica.replica_id_in_sync_group, tf.int32)
            )
        return seed

    def call(self, images, training=True):
        if not training or (not self._names and not self._policy):
            return images
        return ada_augment(
            images,
            tf.convert_to_tensor(self.p),
            self._draw_seed(),
            self._names,
            self.strengths,
            self._policy,
        )

    def accumulate(self, real_logits, weight=None):
        """Adds the signs of D's logits on augmented reals to the running ``r_t`` sums.

        Call it for every D pass over reals: the main D step and the R1 step alike, as
        stylegan2-ada's ``Loss/signs/real`` collects both (``loss.py``, Dmain and Dr1). In
        replica context (or without a strategy) the sums are reduced over the replicas.
        No-op when ``target`` is None.

        Args:
            real_logits: float tensor ``[B]`` or ``[B, 1]`` (this replica's rows).
            weight: None or a float scalar tensor (0 or 1) multiplying the contribution,
                for a pass that runs only on some steps.
        """
        if not self.adaptive:
            return
        logits = tf.reshape(tf.cast(real_logits, tf.float32), [-1])
        stats = tf.stack([tf.reduce_sum(tf.sign(logits)), tf.cast(tf.size(logits), tf.float32)])
        if weight is not None:
            stats = stats * tf.cast(weight, tf.float32)
        ctx = tf.distribute.get_replica_context()
        if ctx is not None and ctx.num_replicas_in_sync > 1:
            stats = ctx.all_reduce(tf.distribute.ReduceOp.SUM, stats)
        self.sign_sum.assign_add(stats[0])
        self.sign_count.assign_add(stats[1])

    def adjust(self, batch_size):
        """Ends a training step: every ``interval``-th call moves ``p`` from the signs
        accumulated since the last adjustment (stylegan2-ada ``training_loop.py``: after
        the step's phases, ``batch_idx % ada_interval == 0``; the first call adjusts).

        Args:
            batch_size: the global batch (int or scalar tensor); ``p`` moves by
                ``sign(r_t - target) * batch_size * interval / (ada_kimg * 1000)``.

        Returns:
            The new ``p`` (float32 scalar tensor).
        """
        if not self.adaptive:
            return tf.convert_to_tensor(self.p)
        signs = tf.convert_to_tensor(self.sign_sum)
        count = tf.convert_to_tensor(self.sign_count)
        adjust_now = tf.equal(tf.math.floormod(tf.convert_to_tensor(self.ada_step),
                                               self.interval), 0)
        rt = signs / tf.maximum(count, 1.0)
        batch = tf.cast(batch_size, tf.float32)
        adjust = tf.sign(rt - self.target) * batch * self.interval / (self.ada_kimg * 1000)
        p_old = tf.convert_to_tensor(self.p)
        p_new = tf.where(adjust_now, tf.clip_by_value(p_old + adjust, 0.0, 1.0), p_old)
        # Unconditional writes (tf.where, not tf.cond): a replica-context cond may not hold
        # writes to distributed variables.
        self.p.assign(p_new)
        self.rt.assign(tf.where(adjust_now, rt, tf.convert_to_tensor(self.rt)))
        self.sign_sum.assign(tf.where(adjust_now, 0.0, signs))
        self.sign_count.assign(tf.where(adjust_now, 0.0, count))
        self.ada_step.assign_add(1)
        return p_new

    def update(self, real_logits):
        """``accumulate(real_logits)`` then ``adjust`` with these logits' global count as
        the batch: one D pass over reals per step (the GAN models call ``accumulate`` per
        pass and ``adjust`` once per step instead).

        Returns:
            The new ``p`` (float32 scalar tensor).
        """
        if not self.adaptive:
            return tf.convert_to_tensor(self.p)
        count = tf.cast(tf.size(real_logits), tf.float32)
        ctx = tf.distribute.get_replica_context()
        if ctx is not None and ctx.num_replicas_in_sync > 1:
            count = count * ctx.num_replicas_in_sync
        self.accumulate(real_logits)
        return self.adjust(count)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            pipeline=self.pipeline,
            p=self.initial_p,
            target=self.target,
            ada_kimg=self.ada_kimg,
            interval=self.interval,
            diffaugment=self.diffaugment,
            seed=self.seed,
            **self.strengths,
        )
        return config
