"""Projection (GAN inversion): the latent ``w`` of a real photo in a trained StyleGAN2.

As stylegan2-ada-pytorch's ``projector.py``: ``w`` starts at the mean of 10,000 mapped
latents (``np.random.RandomState(123)``, as there), and ``w`` and the synthesis network's
noise buffers are optimised together with Adam (betas 0.9/0.999, lr 0.1 with a 5 % cosine
ramp-up and 25 % ramp-down), a noise on ``w`` shrinking over the first 75 % of the steps, and
the noise regularisation (autocorrelation of the buffers at every scale down to 8 px,
weight 1e5), the buffers renormalised after each step. The result is rendered as the
official one is: from ``w`` with the model's own const noise (the optimised noise is only a
helper), so ``scripts/generate.py --projected_w`` gives back ``proj.png``'s image exactly.

One ``w`` for every layer (W, the official default) or one per layer (``w_plus``: W+, closer
fits, less editable). Conditional models project into a chosen class.

The distance (`make_distance`):
* ``vgg16``: VGG16 features at LPIPS' five layers (relu1_2 ... relu5_3), unit-normalised
  over channels, squared differences averaged over positions and summed over layers. The
  official one is LPIPS with learned per-channel weights in NVIDIA's ``vgg16.pt``; Keras'
  ImageNet VGG16 has no such weights, so these distances are not comparable with theirs.
  It needs the weights on the machine: ``vgg16=PATH`` or the Keras cache
  (``~/.keras/models/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5``); nothing is
  downloaded.
* ``pixel_ssim``: needs nothing: mean squared error plus 1 - SSIM at every scale of an image
  pyramid down to 8 px. Blurrier fits than a perceptual distance.
* ``auto``: ``vgg16`` when its weights are found, else ``pixel_ssim``. Every output names
  the distance used (``Projection.distance_label``); nothing is substituted silently.

Example:
    >>> view = export.load_network("runs/00003-fire-sg2-256-diffaugment")
    >>> result = project(view, load_target("church.jpg", view.resolution), steps=1000)
    >>> write_projection("out/church", result, view)
"""

import abc
import dataclasses
import os

import keras
import numpy as np
import tensorflow as tf

from tfdisgan.files import write_json
from tfdisgan.images import save_png, side_by_side, write_gif

DISTANCES = ("auto", "vgg16", "pixel_ssim")
KERAS_VGG16 = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
# LPIPS' VGG16 layers (relu1_2, relu2_2, relu3_3, relu4_3, relu5_3): Keras' conv layers
# carry their ReLU.
VGG16_LAYERS = ("block1_conv2", "block2_conv2", "block3_conv3", "block4_conv3",
                "block5_conv3")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif")


class ProjectionError(ValueError):
    """A projection that cannot start (bad network, target or distance); names the flag."""


# ------------------------------------------------------------------------------------------
# Distances
# ------------------------------------------------------------------------------------------


class Distance(abc.ABC):
    """A distance between images ``[N, H, W, 3]`` in [-1, 1]: ``features`` of the target
    once, then ``between(target_features, images)``, a float32 scalar per call.

    Attributes:
        name: ``"vgg16"`` or ``"pixel_ssim"``.
        label: one line saying what the distance is (written in every output).
    """

    name = ""
    label = ""

    @abc.abstractmethod
    def features(self, images):
        """The target-independent features of ``images`` (computed once for the target)."""

    @abc.abstractmethod
    def between(self, target_features, images):
        """float32 scalar: the distance of ``images`` to the target's features."""


class VGG16Distance(Distance):
    """VGG16 features at LPIPS' layers, unit-normalised, with equal weights (module doc).

    Args:
        weights: path of Keras' VGG16 ``include_top=False`` weights (``.h5``).
    """

    name = "vgg16"

    def __init__(self, weights):
        base = keras.applications.VGG16(include_top=False, weights=None,
                                        input_shape=(None, None, 3))
        base.load_weights(weights)
        self.net = keras.Model(base.input, [base.get_layer(n).output for n in VGG16_LAYERS])
        self.weights = weights
        self.label = (f"VGG16 features ({weights}): LPIPS' layers with equal weights, not the "
                      "official learned LPIPS (distances not comparable with "
                      "stylegan2-ada-pytorch's)")

    def features(self, images):
        x = (tf.cast(images, tf.float32) + 1.0) * 127.5
        if x.shape[1] is not None and x.shape[1] > 256:  # as the official: VGG is a 224 px net
            x = tf.image.resize(x, (256, 256), method="area")
        # Keras' VGG16 input: BGR, ImageNet channel means subtracted.
        x = x[..., ::-1] - tf.constant([103.939, 116.779, 123.68])
        outs = self.net(x, training=False)
        return [f * tf.math.rsqrt(tf.reduce_sum(tf.square(f), -1, keepdims=True) + 1e-10)
                for f in outs]

    def between(self, target_features, images):
        return tf.add_n([tf.reduce_sum(tf.reduce_mean(tf.square(a - b), [1, 2]))
                         for a, b in zip(target_features, self.features(images), strict=True)])


class PixelSSIMDistance(Distance):
    """Mean squared error plus 1 - SSIM, summed over an image pyramid down to 8 px."""

    name = "pixel_ssim"

    def __init__(self, reason="no VGG16 weights found"):
        self.label = (f"pixel + SSIM at every scale down to 8 px ({reason}; give --vgg16=PATH "
                      f"to {KERAS_VGG16} for the perceptual distance)")

    def features(self, images):
        x = (tf.cast(images, tf.float32) + 1.0) * 0.5
        levels = [x]
        while levels[-1].shape[1] > 8:
            levels.append(tf.nn.avg_pool2d(levels[-1], 2, 2, "VALID"))
        return levels

    def between(self, target_features, images):
        total = 0.0
        for a, b in zip(target_features, self.features(images), strict=True):
            size = min(11, int(a.shape[1]))
            ssim = tf.image.ssim(a, b, max_val=1.0, filter_size=size,
                                 filter_sigma=1.5 * size / 11.0)
            total += tf.reduce_sum(tf.reduce_mean(tf.square(a - b), [1, 2, 3]) + 1.0 - ssim)
        return total


def keras_vgg16_path():
    """Where Keras caches its VGG16 weights (``$KERAS_HOME`` or ``~/.keras``)."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return os.path.join(home, "models", KERAS_VGG16)


def make_distance(kind="auto", vgg16=None):
    """The `Distance` of ``--distance`` (`DISTANCES`) with ``--vgg16`` (a weights file).

    Raises:
        ProjectionError: unknown kind, a ``vgg16`` path that does not exist, or
            ``kind="vgg16"`` with no weights found (naming where they are looked for).
    """
    if kind not in DISTANCES:
        raise ProjectionError(f"--distance: must be one of {DISTANCES}, got {kind!r}")
    if vgg16 and not os.path.isfile(vgg16):
        raise ProjectionError(f"--vgg16: {vgg16} does not exist (Keras' VGG16 weights, "
                              f"{KERAS_VGG16})")
    if kind == "pixel_ssim":
        return PixelSSIMDistance("--distance=pixel_ssim")
    path = vgg16 or (keras_vgg16_path() if os.path.isfile(keras_vgg16_path()) else None)
    if path is None:
        if kind == "vgg16":
            raise ProjectionError(
                f"--distance=vgg16: no VGG16 weights: give --vgg16=PATH to {KERAS_VGG16} or "
                f"put it at {keras_vgg16_path()} (nothing is downloaded)")
        return PixelSSIMDistance(f"no VGG16 weights at {keras_vgg16_path()}")
    try:
        return VGG16Distance(path)
    except (OSError, ValueError) as error:
        raise ProjectionError(f"--vgg16: {path} is not Keras' VGG16 weights "
                              f"({' '.join(str(error).split())[:160]})") from None


# ------------------------------------------------------------------------------------------
# Projection
# ------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Projection:
    """The result of `project`.

    Attributes:
        ws: float32 ``[num_ws, w_dim]``, the projected styles (W: one w repeated).
        frames: float32 ``[K, num_ws, w_dim]``, ``ws`` at `frame_steps` (for the GIF).
        frame_steps: the steps (1-based) of `frames`, the last one ``steps``.
        target, image: uint8 ``[R, R, 3]``: the target and the render of ``ws``.
        distance: float, the distance between them (`distance_label` says which).
        psnr: float, dB between the uint8 images.
        distance_name, distance_label: str.
        label: int class id, or None (unconditional).
        w_plus: bool.
        steps: int.
        losses: ``[steps]`` float, the optimisation's distance at each step.
    """

    ws: np.ndarray
    frames: np.ndarray
    frame_steps: list
    target: np.ndarray
    image: np.ndarray
    distance: float
    psnr: float
    distance_name: str
    distance_label: str
    label: int | None
    w_plus: bool
    steps: int
    losses: list


def psnr(a, b):
    """PSNR in dB between two uint8 images (inf when equal)."""
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return float("inf") if mse == 0 else float(10.0 * np.log10(255.0 ** 2 / mse))


def load_target(path, resolution):
    """A photo as the official projector reads it: RGB, centre square crop, Lanczos resize to
    ``resolution``; uint8 ``[R, R, 3]``.

    Raises:
        ProjectionError: not a readable image (naming the file).
    """
    from tfdisgan.data.folder import RejectedImage, decode_image

    try:
        return decode_image(path, resolution, crop="center", min_size=1)
    except (RejectedImage, OSError) as error:
        raise ProjectionError(f"--target: {path}: {error}") from None


def noise_buffers(view):
    """The synthesis network's ``noise_const`` variables (``[H, W]`` each, the backend's
    ``tf.Variable`` behind each Keras variable), coarse first."""
    return [v.value for v in view.net.synthesis.weights if v.path.endswith("noise_const")]


def _noise_regularization(buffers):
    """The official noise regulariser: squared autocorrelation (one pixel right and down)
    of each buffer, at every scale of its 2x2 average pyramid down to 8 px."""
    total = 0.0
    for buffer in buffers:
        noise = buffer[tf.newaxis, :, :, tf.newaxis]
        while True:
            total += tf.square(tf.reduce_mean(noise * tf.roll(noise, 1, axis=2)))
            total += tf.square(tf.reduce_mean(noise * tf.roll(noise, 1, axis=1)))
            if noise.shape[1] <= 8:
                break
            noise = tf.nn.avg_pool2d(noise, 2, 2, "VALID")
    return total


def w_statistics(view, label=None, samples=10000, batch=1000):
    """``(w_avg [w_dim], w_std)`` of ``samples`` mapped latents from
    ``np.random.RandomState(123)`` (the official draw), untruncated."""
    z = np.random.RandomState(123).randn(samples, view.z_dim).astype(np.float32)
    labels = view.labels(label, samples)
    ws = []
    for start in range(0, samples, batch):
        c = None if labels is None else tf.constant(labels[start:start + batch])
        ws.append(np.asarray(view.net.mapping(tf.constant(z[start:start + batch]), c,
                                              training=False))[:, 0])
    ws = np.concatenate(ws).astype(np.float32)
    w_avg = ws.mean(0)
    return w_avg, float(np.sqrt(np.sum((ws - w_avg) ** 2) / samples))


def project(view, target, *, steps=1000, w_plus=False, label=None, distance=None, seed=303,
            w_avg_samples=10000, num_frames=60, initial_learning_rate=0.1,
            initial_noise_factor=0.05, lr_rampdown_length=0.25, lr_rampup_length=0.05,
            noise_ramp_length=0.75, regularize_noise_weight=1e5, progress=None):
    """Finds the styles of ``target`` in ``view``'s generator (module doc).

    Args:
        view: a style-based `tfdisgan.views.GeneratorView` (a run folder or checkpoint; an
            exported SavedModel has no gradients to follow).
        target: uint8 ``[R, R, 3]`` at the generator's resolution (`load_target`).
        steps: int >= 1, optimisation steps (official 1000).
        w_plus: bool, one w per layer (W+) instead of one for all (W).
        label: class id or name for a conditional generator (None otherwise).
        distance: a `Distance` (default ``make_distance("auto")``).
        seed: int, seed of the initial noise buffers and the noise on w (official 303).
        w_avg_samples: int, latents behind the starting w and its spread.
        num_frames: int, ws kept for the GIF (evenly spaced, the last step included).
        initial_learning_rate ... regularize_noise_weight: the official schedule.
        progress: optional ``callable(step, distance)`` called after each step.

    Returns:
        A `Projection`. The generator's noise buffers are as before.

    Raises:
        ProjectionError: a DCGAN or SavedModel, or a target of the wrong shape.
    """
    if not getattr(view, "style_based", False) or not hasattr(view, "net"):
        raise ProjectionError(
            "--network: projection needs a StyleGAN2 run folder or checkpoint (a DCGAN has "
            "no w; an exported SavedModel has no gradients to follow)")
    target = np.asarray(target)
    shape = (view.resolution, view.resolution, 3)
    if target.dtype != np.uint8 or target.shape != shape:
        raise ProjectionError(f"--target: must be uint8 {list(shape)} (the generator's "
                              f"resolution); got {target.dtype} {list(target.shape)}")
    if not isinstance(steps, int) or steps < 1:
        raise ProjectionError(f"--steps: must be an int >= 1, got {steps!r}")
    distance = distance or make_distance("auto")
    label = view.class_id(label)
    w_avg, w_std = w_statistics(view, label, w_avg_samples)

    synthesis, num_ws = view.net.synthesis, view.num_ws
    buffers = noise_buffers(view)
    saved = [b.numpy() for b in buffers]
    rng = tf.random.Generator.from_seed(seed)
    start = np.tile(w_avg[None, None], [1, num_ws if w_plus else 1, 1])
    w_opt = tf.Variable(start, dtype=tf.float32, name="w_opt")
    params = [w_opt, *buffers]
    moments = [(tf.Variable(tf.zeros_like(p)), tf.Variable(tf.zeros_like(p))) for p in params]
    count = tf.Variable(0.0)
    target_features = distance.features(tf.constant(target[None], tf.float32) / 127.5 - 1.0)

    @tf.function(reduce_retracing=True)
    def step_fn(lr, w_noise_scale):
        with tf.GradientTape() as tape:
            tape.watch(buffers)
            ws = w_opt + rng.normal(tf.shape(w_opt)) * w_noise_scale
            if not w_plus:
                ws = tf.tile(ws, [1, num_ws, 1])
            images = tf.cast(synthesis(ws, noise_mode="const", training=False), tf.float32)
            dist = distance.between(target_features, images)
            loss = dist + regularize_noise_weight * _noise_regularization(buffers)
        grads = tape.gradient(loss, params)
        count.assign_add(1.0)
        # torch.optim.Adam (betas 0.9 / 0.999, eps 1e-8), as the official optimiser.
        correction1, correction2 = 1.0 - 0.9 ** count, 1.0 - 0.999 ** count
        for param, grad, (m, v) in zip(params, grads, moments, strict=True):
            m.assign(0.9 * m + 0.1 * grad)
            v.assign(0.999 * v + 0.001 * tf.square(grad))
            denominator = tf.sqrt(v) / tf.sqrt(correction2) + 1e-8
            param.assign_sub(lr / correction1 * m / denominator)
        for buffer in buffers:  # renormalised to zero mean, unit variance
            centred = buffer - tf.reduce_mean(buffer)
            buffer.assign(centred * tf.math.rsqrt(tf.reduce_mean(tf.square(centred))))
        return dist

    every = -(-steps // max(1, num_frames))  # ceil: at most num_frames frames
    frames, frame_steps, losses = [], [], []
    try:
        init = np.random.RandomState(seed)
        for buffer in buffers:
            buffer.assign(init.randn(*buffer.shape).astype(np.float32))
        for step in range(steps):
            t = step / steps
            w_noise_scale = (w_std * initial_noise_factor
                             * max(0.0, 1.0 - t / noise_ramp_length) ** 2)
            ramp = min(1.0, (1.0 - t) / lr_rampdown_length)
            ramp = (0.5 - 0.5 * np.cos(ramp * np.pi)) * min(1.0, t / lr_rampup_length)
            dist = float(step_fn(tf.constant(initial_learning_rate * ramp, tf.float32),
                                 tf.constant(w_noise_scale, tf.float32)))
            losses.append(dist)
            if (step + 1) % every == 0 or step + 1 == steps:
                frames.append(_full_ws(w_opt.numpy()[0], num_ws))
                frame_steps.append(step + 1)
            if progress is not None:
                progress(step + 1, dist)
    finally:
        for buffer, value in zip(buffers, saved, strict=True):
            buffer.assign(value)

    ws = frames[-1]
    image = view.images_from_ws(ws[None], noise_mode="const")[0]
    final = float(distance.between(target_features, tf.constant(image[None], tf.float32)
                                   / 127.5 - 1.0))
    return Projection(ws=ws, frames=np.stack(frames), frame_steps=frame_steps, target=target,
                      image=image, distance=final, psnr=psnr(target, image),
                      distance_name=distance.name, distance_label=distance.label,
                      label=label, w_plus=bool(w_plus), steps=steps, losses=losses)


def _full_ws(w, num_ws):
    return np.tile(w, [num_ws, 1]) if w.shape[0] == 1 else w.copy()


# ------------------------------------------------------------------------------------------
# Files
# ------------------------------------------------------------------------------------------


def write_projection(outdir, result, view, gif=True, fps=10):
    """Writes a projection's files into ``outdir`` (created):

    * ``projected_w.npz``: ``w`` float32 ``[1, num_ws, w_dim]`` (the official file's key and
      shape), with ``label``, ``distance``, ``psnr`` and ``distance_name``;
    * ``target.png``, ``proj.png`` (target | projection), ``proj.gif`` (target | the
      projection along the optimisation), ``projection.json`` (the numbers and the distance
      label).

    Returns:
        ``{name: path}`` of the files written.
    """
    os.makedirs(outdir, exist_ok=True)
    paths = {name: os.path.join(outdir, name) for name in (
        "projected_w.npz", "target.png", "proj.png", "projection.json")}
    tmp = paths["projected_w.npz"] + ".tmp.npz"
    np.savez(tmp, w=result.ws[None].astype(np.float32),
             label=np.int32(-1 if result.label is None else result.label),
             distance=np.float32(result.distance), psnr=np.float32(result.psnr),
             distance_name=np.str_(result.distance_name))
    os.replace(tmp, paths["projected_w.npz"])
    save_png(result.target, paths["target.png"])
    save_png(side_by_side([result.target, result.image]), paths["proj.png"])
    if gif:
        paths["proj.gif"] = os.path.join(outdir, "proj.gif")
        images = view.images_from_ws(result.frames, noise_mode="const")
        write_gif(np.stack([side_by_side([result.target, i]) for i in images]),
                  paths["proj.gif"], fps=fps)
    write_json(paths["projection.json"], {
        "steps": result.steps, "w_plus": result.w_plus, "label": result.label,
        "distance": round(result.distance, 6), "psnr": round(result.psnr, 3),
        "distance_name": result.distance_name, "distance_label": result.distance_label,
        "num_ws": int(result.ws.shape[0]), "frame_steps": result.frame_steps,
    })
    return paths


def read_projected_w(path, view=None):
    """The styles of a ``projected_w.npz`` (ours or the official projector's): float32
    ``[N, num_ws, w_dim]`` (a ``[num_ws, w_dim]`` file as N = 1).

    Raises:
        ProjectionError: not such a file, or ws of another shape than ``view``'s (naming
            --projected_w).
    """
    try:
        with np.load(path) as data:
            if "w" not in data:
                raise ProjectionError(f"--projected_w: {path} holds no 'w' array (keys "
                                      f"{sorted(data.keys())}); write it with "
                                      "scripts/project.py")
            ws = np.asarray(data["w"], np.float32)
    except (OSError, ValueError) as error:
        if isinstance(error, ProjectionError):
            raise
        raise ProjectionError(f"--projected_w: {path} is not a .npz file "
                              f"({' '.join(str(error).split())[:120]})") from None
    if ws.ndim == 2:
        ws = ws[None]
    if view is not None and (ws.ndim != 3 or ws.shape[1:] != (view.num_ws, view.w_dim)):
        raise ProjectionError(f"--projected_w: {path} holds ws of shape {list(ws.shape)}; "
                              f"this generator takes [N, {view.num_ws}, {view.w_dim}]")
    return ws


def image_files(folder):
    """The image files of a folder (by suffix, sorted; hidden files skipped)."""
    return sorted(os.path.join(folder, name) for name in os.listdir(folder)
                  if not name.startswith(".") and name.lower().endswith(IMAGE_SUFFIXES))


def project_files(view, targets, outdir, *, distance=None, gif=True, log=print, **kwargs):
    """Projects each file of ``targets`` into ``outdir/<file stem>/`` (one file: into
    ``outdir`` itself) and writes ``outdir/projections.json`` for several.

    A file that is not a readable image is reported in one line and skipped; the others
    are projected. Returns ``{path: Projection}``.
    """
    distance = distance or make_distance("auto")
    results, failed = {}, []
    for path in targets:
        try:
            target = load_target(path, view.resolution)
        except ProjectionError as error:
            log(f"skipped: {error}")
            failed.append(path)
            continue
        result = project(view, target, distance=distance, **kwargs)
        where = outdir if len(targets) == 1 else os.path.join(
            outdir, os.path.splitext(os.path.basename(path))[0])
        write_projection(where, result, view, gif=gif)
        log(f"{path}: {result.distance_name} distance {result.distance:.4f}, "
            f"PSNR {result.psnr:.2f} dB -> {where}")
        results[path] = result
    if len(targets) > 1:
        write_json(os.path.join(outdir, "projections.json"), {
            "distance_label": distance.label,
            "projected": {os.path.basename(p): {"distance": round(r.distance, 6),
                                                "psnr": round(r.psnr, 3)}
                          for p, r in results.items()},
            "skipped": [os.path.basename(p) for p in failed]})
    return results


def run(config, log=print):
    """scripts/project.py: projects ``config.target`` (a photo or a folder of photos) into
    ``config.network`` and writes the outputs under ``config.outdir``
    (`config.ProjectConfig`).

    Returns:
        ``{path: Projection}``.

    Raises:
        ProjectionError, NetworkError: naming the flag and the file.
    """
    from tfdisgan.export import load_network

    distance = make_distance(config.distance, config.vgg16)
    if not config.target or not os.path.exists(config.target):
        raise ProjectionError(f"--target: {config.target} does not exist")
    if os.path.isdir(config.target):
        targets = image_files(config.target)
        if not targets:
            raise ProjectionError(f"--target: {config.target} holds no image file "
                                  f"({', '.join(IMAGE_SUFFIXES)})")
    else:
        targets = [config.target]
    view = load_network(config.network)
    label = view.class_id(config.label) if getattr(view, "style_based", False) else None
    log(f"Distance: {distance.label}")
    every = max(1, config.steps // 10)

    def progress(step, value):
        if step % every == 0:
            log(f"  step {step}/{config.steps}  distance {value:.4f}")

    results = project_files(view, targets, config.outdir, distance=distance, gif=config.gif,
                            log=log, steps=config.steps, w_plus=config.w_plus, label=label,
                            seed=config.seed, w_avg_samples=config.w_avg_samples,
                            progress=progress)
    if not results:
        raise ProjectionError(f"--target: no readable image in {config.target}")
    return results


__all__ = [
    "DISTANCES",
    "Distance",
    "PixelSSIMDistance",
    "Projection",
    "ProjectionError",
    "VGG16Distance",
    "image_files",
    "keras_vgg16_path",
    "load_target",
    "make_distance",
    "noise_buffers",
    "project",
    "project_files",
    "psnr",
    "read_projected_w",
    "run",
    "w_statistics",
    "write_projection",
]
