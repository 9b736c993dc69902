"""Bias, activation, gain and clamp in one call, with StyleGAN2's default gains.

The activation table follows stylegan2-ada-pytorch ``torch_utils/ops/bias_act.py``: each
activation has a default ``alpha`` (shape parameter) and a default gain chosen so that
activations of unit-variance inputs keep roughly unit second moment (``sqrt(2)`` for the
rectifiers and swish, 1 otherwise). The order is: add bias, activate, multiply by gain,
clamp to ``[-clamp, clamp]``.

Reference:
    Karras et al., "Analyzing and Improving the Image Quality of StyleGAN", CVPR 2020.
"""

from __future__ import annotations

import collections
import threading
import uuid

import numpy as np
import tensorflow as tf
from tensorflow.python.eager import record

from tfdisgan._validate import is_number

Activation = collections.namedtuple("Activation", ["func", "def_alpha", "def_gain"])

ACTIVATIONS = {
    "linear": Activation(lambda x, alpha: x, 0.0, 1.0),
    "relu": Activation(lambda x, alpha: tf.nn.relu(x), 0.0, float(np.sqrt(2))),
    "lrelu": Activation(lambda x, alpha: tf.nn.leaky_relu(x, alpha), 0.2, float(np.sqrt(2))),
    "tanh": Activation(lambda x, alpha: tf.tanh(x), 0.0, 1.0),
    "sigmoid": Activation(lambda x, alpha: tf.sigmoid(x), 0.0, 1.0),
    "elu": Activation(lambda x, alpha: tf.nn.elu(x), 0.0, 1.0),
    "selu": Activation(lambda x, alpha: tf.nn.selu(x), 0.0, 1.0),
    "softplus": Activation(lambda x, alpha: tf.nn.softplus(x), 0.0, 1.0),
    "swish": Activation(lambda x, alpha: tf.sigmoid(x) * x, 0.0, float(np.sqrt(2))),
}


def _is_scalar_tensor(value):
    return tf.is_tensor(value) and value.shape.rank == 0


def check_activation(activation):
    """Raises ValueError unless ``activation`` names an entry of `ACTIVATIONS`."""
    if not isinstance(activation, str) or activation not in ACTIVATIONS:
        raise ValueError(
            f"`activation` must be one of {sorted(ACTIVATIONS)}. Received: activation={activation}"
        )
    return activation


def default_gain(activation):
    """The default output gain of ``activation`` (``sqrt(2)`` for relu/lrelu/swish)."""
    return ACTIVATIONS[check_activation(activation)].def_gain


# Activations with act(g * x) = g * act(x) for g > 0: a layer can fold its output gain into
# the linear operation before them.
_POSITIVELY_HOMOGENEOUS = ("linear", "relu", "lrelu")


def foldable_gain(act, gain):
    """The gain a layer may fold into its weights (or demodulation coefficients) and bias
    before `bias_act`, calling it with ``gain=1``: ``gain`` when ``act`` commutes with a
    positive scale (linear, relu, lrelu) and ``gain`` is a positive number; else None.

    ``act(conv(x, g * w) + g * b) = g * act(conv(x, w) + b)`` for those activations, and the
    scaling then costs a multiply of the (small) weights instead of one over the whole
    activation tensor, forward and backward. The clamp still applies after the gain.
    """
    check_activation(act)
    if act in _POSITIVELY_HOMOGENEOUS and is_number(gain) and gain > 0:
        return float(gain)
    return None


def bias_act(x, b=None, act="linear", alpha=None, gain=None, clamp=None, axis=-1):
    """Adds a bias, applies an activation, scales by a gain and clamps.

    Args:
        x: float tensor of any shape.
        b: optional 1-D bias of length ``x.shape[axis]``. Default None.
        act: activation name from `ACTIVATIONS`: ``"linear"``, ``"relu"``, ``"lrelu"``,
            ``"tanh"``, ``"sigmoid"``, ``"elu"``, ``"selu"``, ``"softplus"``,
            ``"swish"``. Default ``"linear"``.
        alpha: activation shape parameter (the lrelu slope), None for the default
            (0.2 for lrelu). Default None.
        gain: output scale (number or scalar tensor), None for the activation's default
            gain. Default None.
        clamp: clamp the output to ``[-clamp, clamp]`` after the gain (number >= 0 or
            scalar tensor); None disables. Default None.
        axis: the axis of ``x`` the bias runs along. Default -1 (channels last).

    Returns:
        Tensor of the shape and dtype of ``x``.

    Raises:
        ValueError: for an unknown activation, a negative clamp or a bias that does not
            match ``x.shape[axis]``.

    Example:
        >>> bias_act(tf.constant([[-1.0, 1.0]]), act="lrelu")  # [[-0.2828, 1.4142]]
    """
    spec = ACTIVATIONS[check_activation(act)]
    if alpha is not None and not is_number(alpha):
        raise ValueError(f"`alpha` must be a number or None. Received: alpha={alpha}")
    if gain is not None and not (is_number(gain) or _is_scalar_tensor(gain)):
        raise ValueError(f"`gain` must be a number or None. Received: gain={gain}")
    if clamp is not None and not ((is_number(clamp) and clamp >= 0) or _is_scalar_tensor(clamp)):
        raise ValueError(f"`clamp` must be None or a number >= 0. Received: clamp={clamp}")
    alpha = float(spec.def_alpha if alpha is None else alpha)
    if gain is None:
        gain = spec.def_gain
    x = tf.convert_to_tensor(x)

    if b is not None:
        b = tf.cast(b, x.dtype)
        rank = x.shape.rank
        axis_index = axis % rank
        if b.shape.rank != 1 or (
            x.shape[axis_index] is not None and b.shape[0] != x.shape[axis_index]
        ):
            raise ValueError(
                f"`b` must be 1-D with x.shape[{axis}] entries. "
                f"Received: b.shape={b.shape}, x.shape={x.shape}"
            )
        if axis_index == rank - 1 and rank >= 2:
            x = tf.nn.bias_add(x, b)
        else:
            x = x + tf.reshape(b, [-1 if i == axis_index else 1 for i in range(rank)])
    if act == "lrelu" and alpha > 0 and not tf.executing_eagerly():
        x = _leaky_relu(x, alpha)
    else:
        x = spec.func(x, alpha)
    if tf.is_tensor(gain) or gain != 1:
        x = x * tf.cast(gain, x.dtype)
    if clamp is not None:
        x = clamp_values(x, clamp)
    return x


def _leaky_relu(x, alpha):
    """``tf.nn.leaky_relu`` whose tape gradient reads its output instead of its input.

    With ``alpha > 0`` the output is positive exactly where the input is, so
    ``LeakyReluGrad(dy, y)`` equals ``LeakyReluGrad(dy, x)``, first and second order (the
    op's own gradient gives both). Reading ``y`` leaves the bias add before it with one
    consumer: with TensorFlow's gradient the bias add also feeds ``LeakyReluGrad``, and
    grappler's remapper, trying to fuse ``Conv2D + BiasAdd + LeakyRelu``, then fails on the
    whole train step ("remapper failed: ... fanout ... LeakyReluGrad exist for missing node
    ... BiasAdd") and applies none of its fusions. Graph mode only (a tape entry, as
    `clamp_values`); symbolic ``tf.gradients`` uses the op's own gradient (same values).
    """
    with record.stop_recording():
        y = tf.nn.leaky_relu(x, alpha)

    def backward(dy):
        return [tf.raw_ops.LeakyReluGrad(gradients=dy, features=y, alpha=alpha)]

    record.record_operation("LeakyRelu", [y], [x], backward)
    return y


def _clamp_gradient(x, y, dy):
    # torch's clamp backward: the gradient passes where -c <= x <= c (bounds included),
    # i.e. exactly where the clamp left x unchanged; NaN inputs get none.
    return tf.where(tf.equal(x, y), dy, tf.zeros([], dy.dtype))


_GRADIENT_LOCK = threading.Lock()
_GRADIENT_NAME = []


def _registered_clamp_gradient():
    """The registered gradient of the graph-mode clamp (symbolic ``tf.gradients``,
    cond/while gradients), made once per process; it holds no graph. SavedModel export
    traces registered gradients without an op: it gets none (serving never
    differentiates)."""
    with _GRADIENT_LOCK:
        if not _GRADIENT_NAME:
            name = f"TfdisganClamp_{uuid.uuid4().hex[:8]}"

            def gradient(op, dy, *unused):
                if op is None:
                    return [None, None]
                y, x = op.inputs
                return [None, _clamp_gradient(x, y, dy)]

            tf.RegisterGradient(name)(gradient)
            _GRADIENT_NAME.append(name)
    return _GRADIENT_NAME[0]


def clamp_values(x, clamp):
    """``x`` clamped to ``[-clamp, clamp]``, as ``tf.clip_by_value`` with a cheaper gradient.

    ``clip_by_value``'s gradient is two comparisons and two selects over the whole tensor
    (its Maximum and Minimum gradients); this one is one comparison and one select
    (``x == clamp(x)``), the same values. On StyleGAN2's step at 32 px the clamps'
    gradients were ~10 % of the op time. In a graph the gradient is attached like
    `tfdisgan.layers.resample`'s upfirdn2d: an ``IdentityN`` with a registered gradient
    made once and a tape entry, so no traced graph stays in TensorFlow's registry.

    Args:
        x: float tensor.
        clamp: number >= 0 or scalar tensor.

    Returns:
        Tensor of the shape and dtype of ``x``.
    """
    x = tf.convert_to_tensor(x)
    c = tf.cast(clamp, x.dtype)
    if tf.executing_eagerly():

        @tf.custom_gradient
        def forward(x):
            y = tf.minimum(tf.maximum(x, -c), c)
            return y, lambda dy: _clamp_gradient(x, y, dy)

        return forward(x)
    y = tf.minimum(tf.maximum(x, -c), c)
    with tf.compat.v1.get_default_graph().gradient_override_map(
            {"IdentityN": _registered_clamp_gradient()}):
        y_out, x_out = tf.identity_n([y, x])

    def backward(dy, *unused):
        return [None, _clamp_gradient(x, y, dy)]

    # The tape (GradientTape in a tf.function) ignores the override map.
    record.record_operation("clamp", [y_out, x_out], [y, x], backward)
    return y_out
