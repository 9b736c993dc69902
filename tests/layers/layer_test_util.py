"""Shared checks for tfdisgan layers and NumPy references for the resampling maths.

`run_layer_test` is our version of keras-hub's ``TestCase.run_layer_test``: for any layer
it checks the output shape, weight counts, that ``get_config`` holds exactly the
constructor arguments and round-trips through ``from_config`` (and Keras serialization)
to a layer computing the same function, that eager and ``tf.function`` calls agree, and
that one gradient step reaches every trainable weight and changes the loss; optionally
that the layer runs under the ``mixed_float16`` policy.

The NumPy functions are direct transcriptions of the definitions (zero insertion, pad or
crop, convolve, keep every n-th pixel), in float64, independent of the TensorFlow code.
"""

from __future__ import annotations

import inspect
import json

import keras
import numpy as np
import tensorflow as tf


def _json(value):
    """Normalises tuples to lists (what a config looks like after a JSON round trip)."""
    return json.loads(json.dumps(value))


def _call(layer, args, kwargs):
    return layer(*args, **kwargs)


def _tensors(output):
    """The output's tensors, flattened (a block's ``(x, None)`` gives ``[x]``)."""
    return [t for t in tf.nest.flatten(output) if t is not None]


def run_layer_test(
    test_case,
    layer_cls,
    init_kwargs,
    call_args,
    call_kwargs=None,
    expected_output_shape=None,
    expected_num_trainable_weights=None,
    expected_num_non_trainable_weights=None,
    run_training_check=True,
    run_mixed_precision_check=False,
    atol=1e-5,
    rtol=1e-5,
    check_output_shape=True,
):
    """Runs the standard checks on one layer configuration (a network block too: outputs
    may be a tuple of tensors, e.g. a synthesis block's ``(x, img)``).

    Args:
        test_case: the running `tf.test.TestCase`.
        layer_cls: the layer class.
        init_kwargs: dict of constructor arguments.
        call_args: tuple of positional call arguments (tensors).
        call_kwargs: dict of keyword call arguments; must make the call deterministic.
        expected_output_shape: tuple, checked when given.
        expected_num_trainable_weights: int, checked when given.
        expected_num_non_trainable_weights: int, checked when given.
        run_training_check: check gradients and one SGD step.
        run_mixed_precision_check: build under ``mixed_float16`` and compare.
        atol, rtol: tolerances of the output comparisons.
        check_output_shape: compare ``compute_output_shape`` with the output's shape.

    Returns:
        The built layer.
    """
    call_kwargs = dict(call_kwargs or {})
    call_args = tuple(None if a is None else tf.convert_to_tensor(a) for a in call_args)
    layer = layer_cls(**init_kwargs)
    output = _call(layer, call_args, call_kwargs)
    shapes = [tuple(t.shape) for t in _tensors(output)]
    if expected_output_shape is not None:
        expected = expected_output_shape
        expected = [tuple(e) for e in expected] if isinstance(expected[0], (tuple, list)) \
            else [tuple(expected)]
        test_case.assertEqual(shapes, expected)
    if check_output_shape:
        computed = layer.compute_output_shape(*[tuple(a.shape) for a in call_args])
        computed = [tuple(c) for c in computed] if isinstance(computed[0], (tuple, list)) \
            else [tuple(computed)]
        test_case.assertEqual(computed, shapes)
    if expected_num_trainable_weights is not None:
        test_case.assertLen(layer.trainable_weights, expected_num_trainable_weights)
    if expected_num_non_trainable_weights is not None:
        test_case.assertLen(layer.non_trainable_weights, expected_num_non_trainable_weights)

    # Config: exactly the constructor arguments, and a faithful round trip.
    config = layer.get_config()
    base_keys = set(keras.layers.Layer(name="probe").get_config())
    own = {k: v for k, v in config.items() if k not in base_keys}
    params = inspect.signature(layer_cls.__init__).parameters
    for key in own:
        test_case.assertIn(key, params, msg=f"config key {key!r} is no constructor argument")
    for key in init_kwargs:
        test_case.assertIn(key, own, msg=f"constructor argument {key!r} missing from config")
    for key, value in init_kwargs.items():
        test_case.assertEqual(_json(own[key]), _json(value), msg=f"config[{key!r}]")
    json.dumps(config)  # serialisable as is
    clone = layer_cls.from_config(config)
    test_case.assertEqual(clone.get_config(), config)
    _call(clone, call_args, call_kwargs)
    clone.set_weights(layer.get_weights())
    test_case.assertAllClose(_tensors(_call(clone, call_args, call_kwargs)), _tensors(output),
                             atol=atol, rtol=rtol)
    revived = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    test_case.assertIsInstance(revived, layer_cls)
    test_case.assertEqual(revived.get_config(), config)

    # Eager and graph execution agree.
    graph_call = tf.function(lambda *args: _call(layer, args, call_kwargs))
    test_case.assertAllClose(_tensors(graph_call(*call_args)), _tensors(output), atol=atol,
                             rtol=rtol)

    if run_training_check:
        _check_training_step(test_case, layer, call_args, call_kwargs)
    if run_mixed_precision_check:
        mixed = layer_cls(**init_kwargs, dtype="mixed_float16")
        _call(mixed, call_args, call_kwargs)
        mixed.set_weights(layer.get_weights())
        out16 = _call(mixed, call_args, call_kwargs)
        test_case.assertEqual(out16.dtype, tf.float16)
        test_case.assertAllClose(
            tf.cast(out16, tf.float32), output, atol=2e-2 * (1 + float(np.abs(output).max()))
        )
    return layer


def _check_training_step(test_case, layer, call_args, call_kwargs):
    """Every trainable weight and float input gets a finite gradient; SGD lowers the loss
    (layers without weights: the inputs' gradients only)."""
    outputs = _tensors(_call(layer, call_args, call_kwargs))
    targets = [tf.random.stateless_normal(tf.shape(o), seed=[1, i]) for i, o in
               enumerate(outputs)]

    def loss_fn():
        outs = _tensors(_call(layer, call_args, dict(call_kwargs)))
        return tf.add_n([tf.reduce_mean(tf.square(tf.cast(o, tf.float32) - t))
                         for o, t in zip(outs, targets, strict=True)])

    inputs = [a for a in call_args if a is not None and a.dtype.is_floating]
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        loss = loss_fn()
    grads = tape.gradient(loss, layer.trainable_variables + inputs)
    for var, grad in zip(layer.trainable_variables + inputs, grads, strict=True):
        name = getattr(var, "path", "input")
        test_case.assertIsNotNone(grad, msg=f"no gradient for {name}")
        test_case.assertTrue(np.all(np.isfinite(grad)), msg=f"non-finite gradient: {name}")
    if not layer.trainable_variables:
        return
    optimizer = keras.optimizers.SGD(learning_rate=1e-3)
    optimizer.apply_gradients(
        zip(grads[: len(layer.trainable_variables)], layer.trainable_variables, strict=True)
    )
    test_case.assertLess(float(loss_fn()), float(loss))


# === NumPy references ===


def np_upfirdn2d(x, f, up=1, down=1, padding=0, flip_filter=False, gain=1):
    """Zero insertion, pad/crop, FIR convolution, decimation, in float64 (NHWC)."""
    x = np.asarray(x, np.float64)
    upx, upy = (up, up) if np.isscalar(up) else up
    downx, downy = (down, down) if np.isscalar(down) else down
    if np.isscalar(padding):
        padding = (padding,) * 4
    elif len(padding) == 2:
        padding = (padding[0], padding[0], padding[1], padding[1])
    px0, px1, py0, py1 = padding
    n, h, w, c = x.shape
    u = np.zeros([n, h * upy, w * upx, c])
    u[:, ::upy, ::upx, :] = x
    u = np.pad(u, [(0, 0), (max(py0, 0), max(py1, 0)), (max(px0, 0), max(px1, 0)), (0, 0)])
    u = u[:, max(-py0, 0) : u.shape[1] - max(-py1, 0), max(-px0, 0) : u.shape[2] - max(-px1, 0)]
    f = np.ones([1, 1]) if f is None else np.asarray(f, np.float64)
    f = np.outer(f, f) if f.ndim == 1 else f
    f = f * gain
    if not flip_filter:  # convolution = correlation with the flipped filter
        f = f[::-1, ::-1]
    fh, fw = f.shape
    out_h, out_w = u.shape[1] - fh + 1, u.shape[2] - fw + 1
    out = np.zeros([n, out_h, out_w, c])
    for a in range(fh):
        for b in range(fw):
            out += f[a, b] * u[:, a : a + out_h, b : b + out_w, :]
    return out[:, ::downy, ::downx, :]


def np_conv2d(x, w, flip_weight=True):
    """VALID correlation (``flip_weight=True``) or convolution, NHWC x, ``[kh, kw, I, O]``."""
    x = np.asarray(x, np.float64)
    w = np.asarray(w, np.float64)
    if not flip_weight:
        w = w[::-1, ::-1]
    kh, kw = w.shape[:2]
    out_h, out_w = x.shape[1] - kh + 1, x.shape[2] - kw + 1
    out = np.zeros([x.shape[0], out_h, out_w, w.shape[3]])
    for a in range(kh):
        for b in range(kw):
            out += x[:, a : a + out_h, b : b + out_w, :] @ w[a, b]
    return out


def np_conv2d_resample(x, w, f=None, up=1, down=1, padding=0, flip_weight=True):
    """The definition of conv2d_resample: upfirdn(up) -> VALID conv -> upfirdn(down)."""
    f_arr = None if f is None else np.asarray(f, np.float64)
    fh, fw = (1, 1) if f_arr is None else (f_arr.shape[0], f_arr.shape[-1])
    if np.isscalar(padding):
        padding = (padding,) * 4
    px0, px1, py0, py1 = padding
    if up > 1:
        px0, px1 = px0 + (fw + up - 1) // 2, px1 + (fw - up) // 2
        py0, py1 = py0 + (fh + up - 1) // 2, py1 + (fh - up) // 2
    if down > 1:
        px0, px1 = px0 + (fw - down + 1) // 2, px1 + (fw - down) // 2
        py0, py1 = py0 + (fh - down + 1) // 2, py1 + (fh - down) // 2
    x = np_upfirdn2d(x, f_arr if up > 1 else None, up=up, padding=(px0, px1, py0, py1), gain=up**2)
    x = np_conv2d(x, w, flip_weight=flip_weight)
    if down > 1:
        x = np_upfirdn2d(x, f_arr, down=down)
    return x


def np_lrelu(x, alpha=0.2):
    return np.where(x >= 0, x, alpha * x)
