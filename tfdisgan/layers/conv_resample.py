"""Convolutions fused with FIR resampling: ``conv2d_resample`` and its grouped helpers.

``conv2d_resample`` fuses a weight convolution with `upfirdn2d` up/downsampling as in
stylegan2-ada-pytorch ``torch_utils/ops/conv2d_resample.py`` (the padding and filter
conventions are `tfdisgan.layers.resample`'s). Grouped convolutions (the fused modulated
convolution) run as one convolution per group where TensorFlow's CPU kernels cannot run or
differentiate them (`gpu_visible`).

Reference:
    Karras et al., "Analyzing and Improving the Image Quality of StyleGAN", CVPR 2020.
"""

from __future__ import annotations

import functools

import tensorflow as tf

from tfdisgan.layers.resample import (
    as_filter,
    filter_size,
    pad_or_crop,
    parse_padding,
    parse_scaling,
    upfirdn2d,
)


@functools.lru_cache(maxsize=1)
def gpu_visible():
    """Whether TensorFlow sees a GPU (cached: the device list is fixed once initialised)."""
    return bool(tf.config.list_logical_devices("GPU"))


def _split_groups(x, w):
    """``(groups, x_parts, w_parts)`` for a grouped kernel to run as one convolution per
    group, or ``(1, None, None)`` where native grouped convolutions are used.

    TensorFlow's CPU kernels without oneDNN (e.g. CPUs without AVX-512, where oneDNN is
    off by default) run no grouped transposed convolution and differentiate no grouped
    convolution ("Gradients for grouped convolutions are not supported on CPU"), so on a
    machine without a GPU every group gets its own convolution. The grouped path is the
    fused modulated convolution, which the CPU never picks by default.
    """
    groups = int(x.shape[3]) // int(w.shape[2])
    if groups == 1 or gpu_visible():
        return 1, None, None
    return groups, tf.split(x, groups, axis=3), tf.split(w, groups, axis=3)


def _conv2d(x, w, stride=1, padding=(0, 0, 0, 0), flip_weight=True):
    """Plain or grouped correlation (``flip_weight=True``) or convolution of NHWC ``x``.

    ``w`` is ``[kh, kw, C_in / groups, C_out]``; the number of groups is
    ``C_in / w.shape[2]``, output channels group-major, as in ``tf.nn.conv2d``.
    """
    groups, x_parts, w_parts = _split_groups(x, w)
    if groups > 1:
        return tf.concat([_conv2d(xg, wg, stride, padding, flip_weight)
                          for xg, wg in zip(x_parts, w_parts, strict=True)], axis=3)
    if not flip_weight:
        w = tf.reverse(w, axis=[0, 1])
    px0, px1, py0, py1 = padding
    kh, kw = int(w.shape[0]), int(w.shape[1])
    # Explicit padding lists are avoided: TF 2.21 cannot differentiate a grouped
    # convolution with explicit padding on the CPU ("SAME" and "VALID" work).
    if stride == 1 and kh % 2 and kw % 2 and padding == ((kw - 1) // 2,) * 2 + ((kh - 1) // 2,) * 2:
        pad = "SAME"
    else:
        x = pad_or_crop(x, px0, px1, py0, py1)
        pad = "VALID"
    return tf.nn.conv2d(x, w, strides=[1, stride, stride, 1], padding=pad)


def _conv2d_transpose(x, w, stride, flip_weight):
    """Full ("VALID") transposed convolution, ``[N, (H - 1) * s + kh, (W - 1) * s + kw, O]``.

    Grouped like `_conv2d`: ``x`` has ``groups * w.shape[2]`` channels. The transposed
    convolution is the input gradient of a convolution mapping ``O`` channels to ``C_in``
    channels, whose kernel is ``w`` with the in/out roles of each group swapped.
    """
    split, x_parts, w_parts = _split_groups(x, w)
    if split > 1:
        return tf.concat([_conv2d_transpose(xg, wg, stride, flip_weight)
                          for xg, wg in zip(x_parts, w_parts, strict=True)], axis=3)
    kh, kw, cin_g, cout = (int(d) for d in w.shape)
    groups = int(x.shape[3]) // cin_g
    if flip_weight:  # a transposed convolution convolves; correlation needs flipped taps
        w = tf.reverse(w, axis=[0, 1])
    w = tf.reshape(w, [kh, kw, cin_g, groups, cout // groups])
    w = tf.transpose(w, [0, 1, 4, 3, 2])
    w = tf.reshape(w, [kh, kw, cout // groups, groups * cin_g])
    n, h, wd = tf.shape(x)[0], int(x.shape[1]), int(x.shape[2])
    out_h, out_w = (h - 1) * stride + kh, (wd - 1) * stride + kw
    y = tf.raw_ops.Conv2DBackpropInput(
        input_sizes=tf.stack([n, out_h, out_w, cout]),
        filter=w,
        out_backprop=x,
        strides=[1, stride, stride, 1],
        padding="VALID",
    )
    return tf.ensure_shape(y, [None, out_h, out_w, cout])


def conv2d_resample(
    x, w, f=None, up=1, down=1, padding=0, flip_weight=True, flip_filter=False, impl="auto"
):
    """2-D convolution with optional FIR up/downsampling, padding applied once up front.

    Equals ``upfirdn2d(x, f, up=up, padding=p, gain=up**2)`` followed by a VALID
    convolution with ``w`` and ``upfirdn2d(., f, down=down)``, where ``p`` is ``padding``
    plus the padding `upsample2d` / `downsample2d` would add; it is computed the cheaper
    way of stylegan2-ada-pytorch (``conv2d_resample.py``): downsampling as FIR filter +
    strided convolution, upsampling as transposed convolution + FIR filter, 1x1 kernels
    resampled on the side with fewer pixels.

    Args:
        x: ``[N, H, W, C_in]``.
        w: ``[kh, kw, C_in / groups, C_out]``; ``groups = C_in / w.shape[2]`` (grouped
            convolution, output channels group-major, as ``tf.nn.conv2d``).
        f: FIR filter from `setup_filter`, or ``None`` (identity). Default None.
        up: int upsampling factor. Default 1.
        down: int downsampling factor. Default 1.
        padding: int, ``(x, y)`` or ``(x0, x1, y0, y1)`` with respect to the upsampled
            image. Default 0.
        flip_weight: True = correlation (``tf.nn.conv2d``), False = convolution.
            Default True.
        flip_filter: False = FIR convolution, True = FIR correlation. Default False.
        impl: `upfirdn2d` implementation. Default ``"auto"``.

    Returns:
        ``[N, H', W', C_out]``; with ``padding = kh // 2`` and an odd kernel
        ``H' = H * up / down``. Upsampling needs static ``H`` and ``W``.

    Raises:
        ValueError: for a bad factor or padding, or channels that do not match ``w``.
    """
    x = tf.convert_to_tensor(x)
    if x.shape.rank != 4 or w.shape.rank != 4 if isinstance(w, tf.Tensor) else False:
        raise ValueError(f"`x` and `w` must be 4-D. Received: x.shape={x.shape}")
    up, _ = parse_scaling(up, "up")
    down, _ = parse_scaling(down, "down")
    kh, kw, cin_g, _ = (int(d) for d in w.shape)
    if x.shape[3] is None or int(x.shape[3]) % cin_g:
        raise ValueError(
            f"The input channels must be a multiple of the kernel's input channels "
            f"{cin_g}. Received: x.shape={x.shape}"
        )
    f = as_filter(f)
    fw, fh = filter_size(f)
    px0, px1, py0, py1 = parse_padding(padding)
    if up > 1:
        px0, px1 = px0 + (fw + up - 1) // 2, px1 + (fw - up) // 2
        py0, py1 = py0 + (fh + up - 1) // 2, py1 + (fh - up) // 2
    if down > 1:
        px0, px1 = px0 + (fw - down + 1) // 2, px1 + (fw - down) // 2
        py0, py1 = py0 + (fh - down + 1) // 2, py1 + (fh - down) // 2
    pad = (px0, px1, py0, py1)

    # 1x1 kernel: resample on the side of the convolution with fewer pixels.
    if kw == 1 and kh == 1 and down > 1 and up == 1:
        x = upfirdn2d(x, f, down=down, padding=pad, flip_filter=flip_filter, impl=impl)
        return _conv2d(x, w, flip_weight=flip_weight)
    if kw == 1 and kh == 1 and up > 1 and down == 1:
        x = _conv2d(x, w, flip_weight=flip_weight)
        return upfirdn2d(x, f, up=up, padding=pad, gain=up**2, flip_filter=flip_filter, impl=impl)
    # Downsampling only: anti-alias, then a strided convolution.
    if down > 1 and up == 1:
        x = upfirdn2d(x, f, padding=pad, flip_filter=flip_filter, impl=impl)
        return _conv2d(x, w, stride=down, flip_weight=flip_weight)
    # Upsampling: transposed strided convolution, then the interpolation filter.
    if up > 1:
        x = _conv2d_transpose(x, w, stride=up, flip_weight=flip_weight)
        pad = (px0 - (kw - 1), px1 - (kw - up), py0 - (kh - 1), py1 - (kh - up))
        x = upfirdn2d(x, f, padding=pad, gain=up**2, flip_filter=flip_filter, impl=impl)
        if down > 1:
            x = upfirdn2d(x, f, down=down, flip_filter=flip_filter, impl=impl)
        return x
    # No resampling and padding the convolution can do itself.
    if px0 >= 0 and py0 >= 0 and px1 >= 0 and py1 >= 0:
        return _conv2d(x, w, padding=pad, flip_weight=flip_weight)
    # Cropping: the generic definition.
    x = upfirdn2d(x, None, padding=pad, flip_filter=flip_filter, impl=impl)
    return _conv2d(x, w, flip_weight=flip_weight)
