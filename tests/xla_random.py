"""Random draws that XLA and the plain TensorFlow kernels agree on, for XLA-vs-graph tests.

TensorFlow 2.21's stateless random ops return other numbers under `jit_compile` for the
same seed (tensorflow/tensorflow#117644 and #121243; TF's docs now say stateless draws may
differ under XLA). Measured here, on the CPU:

- floats: the random bits are the same, but the XLA kernel makes a float32 uniform from the
  high 23 bits of each 32-bit word and the TensorFlow kernel from the low 23, so every
  `stateless_uniform` / `stateless_normal` float differs;
- seeds: the key derived from a seed agrees only when both seed elements are in
  [0, 2^31); a negative element (half of what `stateless_split` returns) or a larger int64
  gives other bits, integer draws included.

So an XLA train step never reproduces a non-XLA one, whatever its arithmetic. Inside
`consistent_stateless_random()` the stateless functions first fold each seed element into
[0, 2^31) and build floats from the raw bits themselves, identically in both modes, so a
test can compare what XLA computes with the graph result on the same random numbers.
"""

import contextlib
import math
from unittest import mock

import tensorflow as tf

_UNIFORM = tf.random.stateless_uniform
_SPLIT = tf.random.experimental.stateless_split
_FOLD_IN = tf.random.experimental.stateless_fold_in


def _seed(seed):
    """The seed with each element folded into [0, 2^31), in its own dtype."""
    seed = tf.convert_to_tensor(seed)
    low31 = tf.bitwise.bitwise_and(tf.cast(seed, tf.int64), tf.constant(2**31 - 1, tf.int64))
    return tf.cast(low31, seed.dtype)


def _unit_uniform(shape, seed, alg):
    """float32 in (0, 1): the top 24 bits of each word, centred in their bin."""
    bits = _UNIFORM(shape, _seed(seed), minval=None, maxval=None, dtype=tf.uint32, alg=alg)
    top = tf.bitwise.right_shift(bits, tf.constant(8, tf.uint32))
    return (tf.cast(top, tf.float32) + 0.5) * (2.0**-24)


def _stateless_uniform(shape, seed, minval=0, maxval=None, dtype=tf.float32, name=None,
                       alg="auto_select"):
    dtype = tf.as_dtype(dtype)
    if dtype.is_integer:
        return _UNIFORM(shape, _seed(seed), minval=minval, maxval=maxval, dtype=dtype,
                        name=name, alg=alg)
    maxval = 1.0 if maxval is None else maxval
    low, high = tf.cast(minval, tf.float32), tf.cast(maxval, tf.float32)
    return tf.cast(low + (high - low) * _unit_uniform(shape, seed, alg), dtype)


def _stateless_normal(shape, seed, mean=0.0, stddev=1.0, dtype=tf.float32, name=None,
                      alg="auto_select"):
    # Box-Muller on two bit streams (one draw of twice the shape).
    shape = tf.cast(tf.convert_to_tensor(shape), tf.int32)
    u = _unit_uniform(tf.concat([[2], shape], 0), seed, alg)
    z = tf.sqrt(-2.0 * tf.math.log(u[0])) * tf.cos((2.0 * math.pi) * u[1])
    return tf.cast(tf.cast(mean, tf.float32) + tf.cast(stddev, tf.float32) * z,
                   tf.as_dtype(dtype))


def _stateless_split(seed, num=2, alg="auto_select"):
    return _SPLIT(_seed(seed), num, alg=alg)


def _stateless_fold_in(seed, data, alg="auto_select"):
    return _FOLD_IN(_seed(seed), data, alg=alg)


@contextlib.contextmanager
def consistent_stateless_random():
    """Patches `tf.random.stateless_uniform`, `stateless_normal` and
    `tf.random.experimental.stateless_split` / `stateless_fold_in` (every draw of tfdisgan
    and of Keras' TensorFlow backend) with the XLA-invariant versions above. Trace the
    functions to compare inside the block."""
    with mock.patch.object(tf.random, "stateless_uniform", _stateless_uniform), \
            mock.patch.object(tf.random, "stateless_normal", _stateless_normal), \
            mock.patch.object(tf.random.experimental, "stateless_split", _stateless_split), \
            mock.patch.object(tf.random.experimental, "stateless_fold_in", _stateless_fold_in):
        yield
