"""FIR resampling of NHWC images: ``upfirdn2d``, its wrappers and layers.

``upfirdn2d`` upsamples by zero insertion, pads (or crops), convolves with a 2-D FIR filter
and downsamples by striding, with the argument conventions of stylegan2-ada-pytorch
(``torch_utils/ops/upfirdn2d.py``): padding is ``(x0, x1, y0, y1)`` with respect to the
upsampled image, negative values crop, ``flip_filter=False`` means true convolution. The
wrappers ``upsample2d``, ``downsample2d`` and ``filter2d`` add the padding that keeps the
output a multiple / fraction / copy of the input size; the layers ``Upsample2D``,
``Downsample2D`` and ``Blur`` (`tfdisgan.layers.resample_layers`) apply them.
``conv2d_resample``, which fuses a weight convolution with up/downsampling, is in
`tfdisgan.layers.conv_resample`.

Two implementations, tested equal, and a selector:

* ``impl="ref"``: the literal definition with plain differentiable ops (reshape + pad for
  zero insertion, pad/slice, one depthwise convolution over the whole upsampled image,
  strided slicing).
* ``impl="fast"``: no work is spent on inserted zeros or discarded pixels: upsampling is a
  transposed depthwise convolution and downsampling a strided depthwise convolution. The
  gradient is itself an ``upfirdn2d`` call with up/down swapped and the filter flipped (as
  in the official CUDA op), so gradients of any order stay on the fast path. TensorFlow's
  own gradient of a transposed depthwise convolution also computes a filter gradient and
  was 3-4x slower on the CPU.
* ``impl="auto"``: ``"fast"`` when the spatial size is static, else ``"ref"``.

Measured on the 2-core development CPU (TF 2.21, batch 8, 4x4 binomial filter, median of
7 runs under ``tf.function``, forward + backward): ``downsample2d`` 64x64x256 ref 45 ms /
fast 16 ms, 128x128x64 44 / 15 ms; ``upsample2d`` 32x32x128 11 / 7 ms, 64x64x64 20 /
14 ms, 64x64x3 4.4 / 1.7 ms; ``filter2d`` (no resampling) is the same depthwise
convolution in both (25 ms at 65x65x256). Forward alone the fast path wins 1.1-4x. A
separable (two 1-D passes) variant was not faster for 4-tap filters and is not used.

Reference:
    Karras et al., "Analyzing and Improving the Image Quality of StyleGAN", CVPR 2020.
    Karras et al., "Training Generative Adversarial Networks with Limited Data", NeurIPS 2020.
"""

from __future__ import annotations

import threading
import uuid

import numpy as np
import tensorflow as tf
from tensorflow.python.eager import record

from tfdisgan._validate import is_int, is_number

IMPLS = ("auto", "ref", "fast")


def parse_scaling(scaling, name):
    """``int`` or ``(sx, sy)`` -> ``(sx, sy)``, each a positive int."""
    pair = (scaling, scaling) if is_int(scaling) else scaling
    if (
        not isinstance(pair, (list, tuple))
        or len(pair) != 2
        or not all(is_int(s) and s >= 1 for s in pair)
    ):
        raise ValueError(
            f"`{name}` must be a positive int or a pair (x, y) of positive ints. "
            f"Received: {name}={scaling}"
        )
    return int(pair[0]), int(pair[1])


def parse_padding(padding):
    """``int``, ``(px, py)`` or ``(x0, x1, y0, y1)`` -> ``(x0, x1, y0, y1)``."""
    if is_int(padding):
        padding = (padding, padding)
    if (
        not isinstance(padding, (list, tuple))
        or len(padding) not in (2, 4)
        or not all(is_int(p) for p in padding)
    ):
        raise ValueError(
            "`padding` must be an int, (x, y) or (x0, x1, y0, y1) of ints. "
            f"Received: padding={padding}"
        )
    if len(padding) == 2:
        padding = (padding[0], padding[0], padding[1], padding[1])
    return tuple(int(p) for p in padding)


def filter_size(f):
    """Returns ``(fw, fh)`` of a 1-D (separable) or 2-D filter; ``None`` is ``(1, 1)``."""
    if f is None:
        return 1, 1
    shape = tuple(f.shape)
    if len(shape) not in (1, 2) or any(s is None or int(s) < 1 for s in shape):
        raise ValueError(
            f"The FIR filter must be 1-D or 2-D with a static, non-empty shape. "
            f"Received a filter of shape {shape}"
        )
    return int(shape[-1]), int(shape[0])


def setup_filter(f=(1, 3, 3, 1), normalize=True, flip_filter=False, gain=1, separable=None):
    """Prepares a FIR filter for `upfirdn2d`.

    Args:
        f: taps, shape ``[taps]`` (separable or to be expanded), ``[fh, fw]``, a scalar
            (impulse) or ``None`` (identity). Default ``(1, 3, 3, 1)``.
        normalize: scale so the taps sum to 1, which keeps a constant image constant.
            Default True.
        flip_filter: flip the taps along every axis. Default False.
        gain: overall signal gain; the result is multiplied by ``gain ** (ndim / 2)`` so
            that a separable filter applied along both axes has gain ``gain``. Default 1.
        separable: return the 1-D taps (applied along both axes) instead of their outer
            product. ``None`` picks separable for 1-D filters with at least 8 taps, as the
            official implementation does. Default None.

    Returns:
        ``np.ndarray`` float32 of shape ``[taps]`` (separable) or ``[fh, fw]``.

    Raises:
        ValueError: if ``f`` is empty, not finite, of rank above 2, sums to zero while
            ``normalize`` is set, or ``separable=True`` is asked of a 2-D filter.

    Example:
        >>> setup_filter([1, 3, 3, 1]).shape
        (4, 4)
    """
    if f is None:
        f = 1
    arr = np.asarray(f, dtype=np.float32)
    if arr.ndim > 2 or arr.size == 0 or not np.all(np.isfinite(arr)):
        raise ValueError(
            f"`f` must be a non-empty scalar, 1-D or 2-D array of finite numbers. Received: f={f}"
        )
    if separable not in (None, True, False):
        raise ValueError(f"`separable` must be None or a bool. Received: separable={separable}")
    if not is_number(gain):
        raise ValueError(f"`gain` must be a number. Received: gain={gain}")
    arr = arr.reshape([1]) if arr.ndim == 0 else arr.copy()
    if separable is None:
        separable = arr.ndim == 1 and arr.size >= 8
    if arr.ndim == 1 and not separable:
        arr = np.outer(arr, arr)
    if separable and arr.ndim != 1:
        raise ValueError(f"`separable=True` needs 1-D taps. Received: f of shape {arr.shape}")
    if normalize:
        total = arr.sum()
        if total == 0:
            raise ValueError(f"`f` sums to zero and cannot be normalized. Received: f={f}")
        arr = arr / total
    if flip_filter:
        arr = arr[::-1] if arr.ndim == 1 else arr[::-1, ::-1]
    arr = arr * (gain ** (arr.ndim / 2))
    return np.ascontiguousarray(arr, dtype=np.float32)


def as_filter(f):
    """``None`` -> identity ``[1, 1]``; tensors are kept; anything else -> float32 array."""
    if f is None:
        return np.ones([1, 1], np.float32)
    if isinstance(f, tf.Tensor):
        return f
    return np.asarray(f, np.float32)


def _static_dim(x, axis):
    dim = x.shape[axis]
    return int(dim) if dim is not None else tf.shape(x)[axis]


def pad_or_crop(x, x0, x1, y0, y1):
    """Zero-pads (positive) or crops (negative) the spatial axes of an NHWC tensor."""
    if max(x0, x1, y0, y1) > 0:
        x = tf.pad(x, [[0, 0], [max(y0, 0), max(y1, 0)], [max(x0, 0), max(x1, 0)], [0, 0]])
    if min(x0, x1, y0, y1) < 0:
        h, w = _static_dim(x, 1), _static_dim(x, 2)
        x = x[:, max(-y0, 0) : h - max(-y1, 0), max(-x0, 0) : w - max(-x1, 0), :]
    return x


def _depthwise_kernel(f2d, channels):
    """``[fh, fw]`` -> ``[fh, fw, channels, 1]`` depthwise kernel."""
    return tf.tile(f2d[:, :, tf.newaxis, tf.newaxis], [1, 1, channels, 1])


def _upfirdn2d_ref(x, f, up, down, padding, flip_filter, gain):
    """The literal definition with plain ops; TensorFlow differentiates it."""
    upx, upy = up
    downx, downy = down
    px0, px1, py0, py1 = padding
    channels = _static_dim(x, 3)

    if upx > 1 or upy > 1:
        n, h, w = tf.shape(x)[0], _static_dim(x, 1), _static_dim(x, 2)
        x = tf.reshape(x, [n, h, 1, w, 1, channels])
        x = tf.pad(x, [[0, 0], [0, 0], [0, upy - 1], [0, 0], [0, upx - 1], [0, 0]])
        x = tf.reshape(x, [n, h * upy, w * upx, channels])
    x = pad_or_crop(x, px0, px1, py0, py1)

    f = tf.cast(f, tf.float32) * (gain ** (len(f.shape) / 2))
    if not flip_filter:
        f = tf.reverse(f, axis=list(range(len(f.shape))))
    f = tf.cast(f, x.dtype)
    if len(f.shape) == 2:
        x = tf.nn.depthwise_conv2d(x, _depthwise_kernel(f, channels), [1, 1, 1, 1], "VALID")
    else:
        x = tf.nn.depthwise_conv2d(
            x, _depthwise_kernel(f[tf.newaxis, :], channels), [1, 1, 1, 1], "VALID"
        )
        x = tf.nn.depthwise_conv2d(
            x, _depthwise_kernel(f[:, tf.newaxis], channels), [1, 1, 1, 1], "VALID"
        )
    if downx > 1 or downy > 1:
        x = x[:, ::downy, ::downx, :]
    return x


def _filter_2d(f):
    """A filter from `as_filter` as the float32 ``[fh, fw]`` tensor of the fast path."""
    f = tf.cast(f, tf.float32)
    if len(f.shape) == 1:
        f = f[:, tf.newaxis] * f[tf.newaxis, :]
    return f


def _correlation_kernel(f2d, f_static, flip_filter, gain):
    """``(k, k_static)``: the gained filter for correlation (convolution, flip_filter=False,
    flips the taps) as a tensor, and as float32 NumPy when the filter is static."""
    if f_static is not None:
        k = np.asarray(f_static, np.float32)
        k = np.outer(k, k) if k.ndim == 1 else k  # as `_filter_2d`: one float32 product
        k = k * np.float32(gain)
        k = k if flip_filter else k[::-1, ::-1]
        return None, np.ascontiguousarray(k)
    k = f2d * gain
    return (k if flip_filter else tf.reverse(k, axis=[0, 1])), None


def _static_depthwise_kernel(k, dtype, channels):
    """`_depthwise_kernel` of a NumPy filter, made in NumPy: one constant in the graph
    instead of the tile, slice, reverse and cast ops per call (the same values)."""
    kernel = tf.constant(np.tile(k[:, :, np.newaxis, np.newaxis], [1, 1, channels, 1]))
    return kernel if dtype == tf.float32 else tf.cast(kernel, dtype)


def _fast_forward(x, f2d, up, down, padding, flip_filter, gain, f_static=None):
    """The fast forward pass (no gradient definition); ``f2d`` without the gain;
    ``f_static``: the filter as NumPy when known while tracing (fewer graph ops)."""
    upx, upy = up
    downx, downy = down
    px0, px1, py0, py1 = padding
    fh, fw = int(f2d.shape[0]), int(f2d.shape[1])
    n, in_h, in_w, channels = tf.shape(x)[0], int(x.shape[1]), int(x.shape[2]), int(x.shape[3])
    out_h = (in_h * upy + py0 + py1 - fh) // downy + 1
    out_w = (in_w * upx + px0 + px1 - fw) // downx + 1
    k, k_static = _correlation_kernel(f2d, f_static, flip_filter, gain)
    y = x
    if upx > 1 or upy > 1:
        if upx == upy:
            # A transposed convolution correlates the zero-inserted image, padded by
            # (fh - 1, fw - 1) on both sides, with the flipped kernel; the remaining
            # padding makes up the difference to the requested one.
            if k_static is not None:
                kernel = _static_depthwise_kernel(k_static[::-1, ::-1], x.dtype, channels)
            else:
                kernel = _depthwise_kernel(tf.cast(tf.reverse(k, [0, 1]), x.dtype), channels)
            full = [n, (in_h - 1) * upy + fh, (in_w - 1) * upx + fw, channels]
            y = tf.nn.depthwise_conv2d_backprop_input(full, kernel, y, [1, upy, upx, 1], "VALID")
            y = pad_or_crop(
                y,
                px0 - (fw - 1),
                px1 + upx - 1 - (fw - 1),
                py0 - (fh - 1),
                py1 + upy - 1 - (fh - 1),
            )
        else:
            k = tf.constant(k_static) if k is None else k
            y = _upfirdn2d_ref(y, k, up, (1, 1), (px0, px1, py0, py1), flip_filter=True, gain=1)
        stride = (1, 1)
    else:
        stride = (downy, downx) if downx == downy else (1, 1)
        if k_static is not None:
            kernel = _static_depthwise_kernel(k_static, x.dtype, channels)
        else:
            kernel = _depthwise_kernel(tf.cast(k, x.dtype), channels)
        if min(padding) >= 0:
            # Zero padding inside the convolution: a separate Pad copied the whole
            # activation first (measured here on [32, 32, 32, 128], 4x4 filter: 3.9 ms
            # pad + convolution vs 1.9 ms with the padding in the convolution).
            pad = [[0, 0], [py0, py1], [px0, px1], [0, 0]]
        else:
            y, pad = pad_or_crop(y, px0, px1, py0, py1), "VALID"
        y = tf.nn.depthwise_conv2d(y, kernel, [1, stride[0], stride[1], 1], pad)
    if (downy, downx) != stride:
        y = y[:, ::downy, ::downx, :]
    return tf.ensure_shape(y, [None, out_h, out_w, x.shape[3]])


def _adjoint(dy, x_shape, y_shape, f2d, f_static, up, down, padding, flip_filter, gain):
    """The gradient of `_fast_forward` (official CUDA op, backward pass): another fast
    upfirdn2d with up/down swapped and the filter flipped."""
    # A second-order gradient (R1 through ADA) can hand `dy` over without its static
    # dims, which the adjoint needs.
    dy = tf.ensure_shape(dy, y_shape)
    (upx, upy), (downx, downy), (px0, _, py0, _) = up, down, padding
    in_h, in_w, out_h, out_w = int(x_shape[1]), int(x_shape[2]), int(y_shape[1]), int(y_shape[2])
    fh, fw = int(f2d.shape[0]), int(f2d.shape[1])
    p = (
        fw - px0 - 1,
        in_w * upx - out_w * downx + px0 - upx + 1,
        fh - py0 - 1,
        in_h * upy - out_h * downy + py0 - upy + 1,
    )
    return _upfirdn2d_fast(dy, f2d, down, up, p, not flip_filter, gain, f_static)


# One registered gradient per distinct (filter, up, down, padding, flip, gain, shapes): see
# `_upfirdn2d_fast`. The names carry a per-import token so a reloaded module registers anew.
_GRADIENTS = {}
_GRADIENTS_LOCK = threading.Lock()
_TOKEN = uuid.uuid4().hex[:8]


def _registered_gradient(f_static, up, down, padding, flip_filter, gain, x_shape, y_shape):
    """The name of a registered gradient function for these parameters and shapes
    (symbolic ``tf.gradients``, cond/while gradients), made once; it holds only Python
    values, so it keeps no graph alive. It needs nothing from the op: SavedModel export
    traces registered gradients with ``op=None``."""
    x_dims = tuple(x_shape.as_list()[1:])
    y_dims = (None, *y_shape.as_list()[1:])
    key = (f_static.shape, f_static.tobytes(), up, down, padding, bool(flip_filter),
           float(gain), x_dims, y_dims)
    with _GRADIENTS_LOCK:
        name = _GRADIENTS.get(key)
        if name is None:
            name = f"TfdisganUpfirdn2d_{_TOKEN}_{len(_GRADIENTS)}"
            x_static = tf.TensorShape([None, *x_dims])
            y_static = tf.TensorShape(y_dims)

            def gradient(unused_op, dy, *unused):
                dx = _adjoint(dy, x_static, y_static, _filter_2d(f_static), f_static, up, down,
                              padding, flip_filter, gain)
                return [None, dx]

            tf.RegisterGradient(name)(gradient)
            _GRADIENTS[key] = name
    return name


def _upfirdn2d_fast(x, f2d, up, down, padding, flip_filter, gain, f_static=None):
    """Transposed / strided depthwise convolutions; gradient is another upfirdn2d.

    ``f2d`` is a float32 ``[fh, fw]`` tensor without the gain applied; ``f_static`` the
    filter it came from as a NumPy array, or None when it is not known while tracing.

    In a graph, ``tf.custom_gradient`` registers a gradient function per call in
    TensorFlow's global registry, holding the traced graph forever: every traced
    StyleGAN2 step leaked its whole graph (~100-300 MB per model built in one process;
    measured on a tiny DCGAN + ADA run: +150 MB per run, flat without it). Here, in a
    graph with a static filter, the same gradient is attached the way
    ``tf.custom_gradient`` does it (an ``IdentityN`` whose tape entry is the adjoint),
    with a registered function made once per parameter set that keeps nothing alive.
    Eagerly (no registry involved) and with a non-static filter it is
    ``tf.custom_gradient``.
    """
    if tf.executing_eagerly() or f_static is None:

        @tf.custom_gradient
        def forward(x):
            y = _fast_forward(x, f2d, up, down, padding, flip_filter, gain, f_static)

            def grad(dy):
                return _adjoint(dy, x.shape, y.shape, f2d, f_static, up, down, padding,
                                flip_filter, gain)

            return y, grad

        return forward(x)

    y = _fast_forward(x, f2d, up, down, padding, flip_filter, gain, f_static)
    x_shape, y_shape = x.shape, y.shape

    def backward(dy, *unused):
        dx = _adjoint(dy, x_shape, y_shape, f2d, f_static, up, down, padding, flip_filter,
                      gain)
        return [None, dx]

    name = _registered_gradient(f_static, up, down, padding, flip_filter, gain, x_shape,
                                y_shape)
    with tf.compat.v1.get_default_graph().gradient_override_map({"IdentityN": name}):
        y_out, x_out = tf.identity_n([y, x])
    # The tape (GradientTape in a tf.function) ignores the override map: give it the
    # adjoint directly, as tf.custom_gradient does.
    record.record_operation("upfirdn2d", [y_out, x_out], [y, x], backward)
    return y_out


def upfirdn2d(x, f, up=1, down=1, padding=0, flip_filter=False, gain=1, impl="auto"):
    """Upsamples, pads, FIR-filters and downsamples a batch of NHWC images.

    For each channel: (1) insert ``up - 1`` zeros after each pixel, (2) pad by ``padding``
    zeros (negative values crop), (3) convolve with ``f`` keeping only outputs whose
    footprint lies inside the padded image, (4) keep every ``down``-th pixel.

    Args:
        x: float tensor ``[N, H, W, C]``.
        f: FIR filter from `setup_filter`: ``[fh, fw]``, ``[taps]`` (separable, applied
            along both axes) or ``None`` (identity). NumPy array or tensor.
        up: int or ``(x, y)`` upsampling factors. Default 1.
        down: int or ``(x, y)`` downsampling factors. Default 1.
        padding: int, ``(x, y)`` or ``(x0, x1, y0, y1)``, with respect to the upsampled
            image. Default 0.
        flip_filter: False = convolution, True = correlation. Default False.
        gain: overall signal gain. Default 1.
        impl: ``"auto"``, ``"ref"`` or ``"fast"`` (see the module docstring). Default
            ``"auto"``.

    Returns:
        ``[N, (H * up_y + y0 + y1 - fh) // down_y + 1, (W * up_x + x0 + x1 - fw) // down_x
        + 1, C]``, dtype of ``x``.

    Raises:
        ValueError: for a bad factor, padding, filter or ``impl``, an input that is not
            rank 4, or an empty output.

    Example:
        >>> y = upfirdn2d(tf.ones([1, 8, 8, 3]), setup_filter([1, 3, 3, 1]), down=2,
        ...               padding=1)  # shape [1, 4, 4, 3]
    """
    if impl not in IMPLS:
        raise ValueError(f"`impl` must be one of {IMPLS}. Received: impl={impl}")
    x = tf.convert_to_tensor(x)
    if x.shape.rank != 4:
        raise ValueError(f"`x` must be a 4-D NHWC tensor. Received: x.shape={x.shape}")
    up = parse_scaling(up, "up")
    down = parse_scaling(down, "down")
    padding_arg, padding = padding, parse_padding(padding)
    f = as_filter(f)
    fw, fh = filter_size(f)
    if not is_number(gain):
        raise ValueError(f"`gain` must be a number. Received: gain={gain}")
    for size, u, p0, p1, k in [
        (x.shape[1], up[1], padding[2], padding[3], fh),
        (x.shape[2], up[0], padding[0], padding[1], fw),
    ]:
        if size is not None and size * u + p0 + p1 < k:
            raise ValueError(
                f"upfirdn2d output would be empty: size {size} upsampled by {u} and padded "
                f"by ({p0}, {p1}) is smaller than the filter ({k} taps). "
                f"Received: padding={padding_arg}"
            )
    if impl == "auto":
        impl = "fast" if None not in x.shape[1:] else "ref"
    if impl == "ref":
        return _upfirdn2d_ref(x, tf.convert_to_tensor(f), up, down, padding, flip_filter, gain)
    f_static = f if isinstance(f, np.ndarray) else tf.get_static_value(f)
    if f_static is not None:
        f_static = np.asarray(f_static, np.float32)
    return _upfirdn2d_fast(x, _filter_2d(f), up, down, padding, flip_filter, gain, f_static)


def filter2d(x, f, padding=0, flip_filter=False, gain=1, impl="auto"):
    """Filters NHWC images with a FIR filter; the output has the input's size.

    Args:
        x: ``[N, H, W, C]``.
        f: filter from `setup_filter` (``[fh, fw]``, ``[taps]`` or ``None``).
        padding: extra padding (negative crops) on top of the size-preserving one: int,
            ``(x, y)`` or ``(x0, x1, y0, y1)`` with respect to the output. Default 0.
        flip_filter: False = convolution, True = correlation. Default False.
        gain: overall signal gain. Default 1.
        impl: see `upfirdn2d`. Default ``"auto"``.

    Returns:
        ``[N, H + y0 + y1, W + x0 + x1, C]``.
    """
    px0, px1, py0, py1 = parse_padding(padding)
    fw, fh = filter_size(as_filter(f))
    p = (px0 + fw // 2, px1 + (fw - 1) // 2, py0 + fh // 2, py1 + (fh - 1) // 2)
    return upfirdn2d(x, f, padding=p, flip_filter=flip_filter, gain=gain, impl=impl)


def upsample2d(x, f, up=2, padding=0, flip_filter=False, gain=1, impl="auto"):
    """Upsamples NHWC images by ``up`` with a FIR interpolation filter.

    The filter gain is multiplied by ``up_x * up_y`` so that a normalized filter keeps a
    constant image constant.

    Args:
        x: ``[N, H, W, C]``.
        f: filter from `setup_filter` (``[fh, fw]``, ``[taps]`` or ``None``).
        up: int or ``(x, y)`` factors. Default 2.
        padding: extra padding with respect to the output (int, ``(x, y)`` or
            ``(x0, x1, y0, y1)``; negative crops). Default 0.
        flip_filter: False = convolution, True = correlation. Default False.
        gain: overall signal gain. Default 1.
        impl: see `upfirdn2d`. Default ``"auto"``.

    Returns:
        ``[N, H * up_y + y0 + y1, W * up_x + x0 + x1, C]``.
    """
    upx, upy = parse_scaling(up, "up")
    px0, px1, py0, py1 = parse_padding(padding)
    fw, fh = filter_size(as_filter(f))
    p = (
        px0 + (fw + upx - 1) // 2,
        px1 + (fw - upx) // 2,
        py0 + (fh + upy - 1) // 2,
        py1 + (fh - upy) // 2,
    )
    return upfirdn2d(
        x,
        f,
        up=(upx, upy),
        padding=p,
        flip_filter=flip_filter,
        gain=gain * upx * upy,
        impl=impl,
    )


def downsample2d(x, f, down=2, padding=0, flip_filter=False, gain=1, impl="auto"):
    """Downsamples NHWC images by ``down`` with a FIR anti-aliasing filter.

    Args:
        x: ``[N, H, W, C]``.
        f: filter from `setup_filter` (``[fh, fw]``, ``[taps]`` or ``None``).
        down: int or ``(x, y)`` factors. Default 2.
        padding: extra padding with respect to the input (int, ``(x, y)`` or
            ``(x0, x1, y0, y1)``; negative crops). Default 0.
        flip_filter: False = convolution, True = correlation. Default False.
        gain: overall signal gain. Default 1.
        impl: see `upfirdn2d`. Default ``"auto"``.

    Returns:
        ``[N, (H + y0 + y1) // down_y, (W + x0 + x1) // down_x, C]`` for even filters.
    """
    downx, downy = parse_scaling(down, "down")
    px0, px1, py0, py1 = parse_padding(padding)
    fw, fh = filter_size(as_filter(f))
    p = (
        px0 + (fw - downx + 1) // 2,
        px1 + (fw - downx) // 2,
        py0 + (fh - downy + 1) // 2,
        py1 + (fh - downy) // 2,
    )
    return upfirdn2d(
        x, f, down=(downx, downy), padding=p, flip_filter=flip_filter, gain=gain, impl=impl
    )
