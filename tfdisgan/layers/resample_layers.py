"""The FIR resampling layers ``Upsample2D``, ``Downsample2D`` and ``Blur`` (each applies one
function of `tfdisgan.layers.resample`) and the check of a layer's ``resample_filter``."""

from __future__ import annotations

import keras
import numpy as np

from tfdisgan._validate import is_int
from tfdisgan.layers.resample import (
    downsample2d,
    filter2d,
    filter_size,
    parse_padding,
    setup_filter,
    upsample2d,
)


def check_filter_arg(resample_filter):
    """Validates a layer's ``resample_filter`` and returns it as nested lists of floats."""
    try:
        setup_filter(resample_filter)
    except (ValueError, TypeError) as error:
        raise ValueError(
            "`resample_filter` must be 1-D or 2-D finite taps with a non-zero sum. "
            f"Received: resample_filter={resample_filter}"
        ) from error
    return np.asarray(resample_filter, np.float64).tolist()


def _check_factor(factor):
    if not is_int(factor) or factor < 1:
        raise ValueError(f"`factor` must be a positive int. Received: factor={factor}")
    return int(factor)


class _FactorResample(keras.layers.Layer):
    """What Upsample2D and Downsample2D share: an integer factor and FIR taps, checked, and
    the config holding both."""

    def __init__(self, factor=2, resample_filter=(1, 3, 3, 1), **kwargs):
        super().__init__(**kwargs)
        self.factor = _check_factor(factor)
        self.resample_filter = check_filter_arg(resample_filter)
        self._filter = setup_filter(self.resample_filter)

    def get_config(self):
        config = super().get_config()
        config.update(factor=self.factor, resample_filter=self.resample_filter)
        return config


@keras.saving.register_keras_serializable(package="tfdisgan")
class Upsample2D(_FactorResample):
    """FIR upsampling of NHWC images (`upsample2d`), e.g. the skip-connection images.

    Args:
        factor: int upsampling factor. Default 2.
        resample_filter: FIR taps for `setup_filter`. Default ``(1, 3, 3, 1)``.
        **kwargs: `keras.layers.Layer` arguments.

    Input shape ``[N, H, W, C]``; output shape ``[N, H * factor, W * factor, C]``.

    Raises:
        ValueError: for a bad ``factor`` or ``resample_filter``.

    Example:
        >>> Upsample2D()(tf.ones([1, 4, 4, 3])).shape
        TensorShape([1, 8, 8, 3])
    """

    def call(self, x):
        return upsample2d(x, self._filter, up=self.factor)

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        return (
            n,
            None if h is None else h * self.factor,
            None if w is None else w * self.factor,
            c,
        )



@keras.saving.register_keras_serializable(package="tfdisgan")
class Downsample2D(_FactorResample):
    """FIR anti-aliased downsampling of NHWC images (`downsample2d`).

    Args:
        factor: int downsampling factor. Default 2.
        resample_filter: FIR taps for `setup_filter`. Default ``(1, 3, 3, 1)``.
        **kwargs: `keras.layers.Layer` arguments.

    Input shape ``[N, H, W, C]``; output ``[N, H // factor, W // factor, C]`` (even
    filters).

    Raises:
        ValueError: for a bad ``factor`` or ``resample_filter``.
    """

    def call(self, x):
        return downsample2d(x, self._filter, down=self.factor)

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        fw, fh = filter_size(self._filter)
        d = self.factor

        def size(s, k):
            if s is None:
                return None
            return (s + (k - d + 1) // 2 + (k - d) // 2 - k) // d + 1

        return (n, size(h, fh), size(w, fw), c)



@keras.saving.register_keras_serializable(package="tfdisgan")
class Blur(keras.layers.Layer):
    """FIR low-pass filter of NHWC images that keeps their size (`filter2d`).

    Args:
        resample_filter: FIR taps for `setup_filter`. Default ``(1, 3, 3, 1)``.
        padding: extra padding on top of the size-preserving one: int, ``(x, y)`` or
            ``(x0, x1, y0, y1)``; negative values crop. Default 0.
        **kwargs: `keras.layers.Layer` arguments.

    Input shape ``[N, H, W, C]``; output ``[N, H + y0 + y1, W + x0 + x1, C]``.

    Raises:
        ValueError: for a bad ``resample_filter`` or ``padding``.
    """

    def __init__(self, resample_filter=(1, 3, 3, 1), padding=0, **kwargs):
        super().__init__(**kwargs)
        self.resample_filter = check_filter_arg(resample_filter)
        self._padding = parse_padding(padding)
        self.padding = padding if is_int(padding) else list(padding)
        self._filter = setup_filter(self.resample_filter)

    def call(self, x):
        return filter2d(x, self._filter, padding=self._padding)

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        x0, x1, y0, y1 = self._padding
        return (n, None if h is None else h + y0 + y1, None if w is None else w + x0 + x1, c)

    def get_config(self):
        config = super().get_config()
        config.update(resample_filter=self.resample_filter, padding=self.padding)
        return config
