"""Operations on the per-layer styles ``ws`` ``[N, num_ws, w_dim]``, written once.

* ``truncate``: the truncation trick, ``w <- lerp(w_avg, w, psi)`` (networks.py
  ``MappingNetwork.forward``), used by the mapping network, the generator views and the
  exported SavedModel.
* ``select_layers``: per layer, the styles of one ``ws`` or another (a layer mask): the
  style-mixing figure's column styles, ``--cross_mix``'s class-B layers.
* ``crossover``: ``select_layers`` at a cutoff, layers ``[0, cutoff)`` from one ``ws`` and
  the rest from another, used by the style-mixing regulariser of training
  (``StyleGAN2.mix_styles``, loss.py ``run_G``), the crossover sweep and the export.

Both are TensorFlow ops, so they run eagerly and in-graph alike.
"""

import tensorflow as tf

from tfdisgan._validate import is_number


def truncate(ws, w_avg, psi, cutoff=None):
    """Truncation toward ``w_avg``: ``w_avg + psi * (ws - w_avg)``.

    Args:
        ws: float ``[N, num_ws, w_dim]`` (or ``[N, w_dim]``: one style per example).
        w_avg: float ``[w_dim]``, the tracked mean of ``w``.
        psi: float, or float ``[N]`` (one per example). 1 leaves ``ws`` unchanged: a
            Python 1 returns ``ws`` itself, and rows whose tensor ``psi`` is 1 are passed
            through (``w_avg + 1 * (w - w_avg)`` may differ from ``w`` in the last bit).
        cutoff: int or None, truncate only layers ``[0, cutoff)`` (all when None; ignored
            for ``[N, w_dim]`` styles).

    Returns:
        ``ws``'s shape and dtype (float32 for non-float input).
    """
    ws = tf.convert_to_tensor(ws)
    if not ws.dtype.is_floating:
        ws = tf.cast(ws, tf.float32)
    if is_number(psi) and psi == 1:
        return ws
    psi = tf.cast(tf.convert_to_tensor(psi), ws.dtype)
    if psi.shape.rank:  # one psi per example
        psi = tf.reshape(psi, [-1] + [1] * (ws.shape.rank - 1))
    w_avg = tf.cast(tf.convert_to_tensor(w_avg), ws.dtype)
    truncated = w_avg + psi * (ws - w_avg)
    if cutoff is not None and ws.shape.rank == 3:
        keep = tf.reshape(tf.range(tf.shape(ws)[1]) < cutoff, [1, -1, 1])
        truncated = tf.where(keep, truncated, ws)
    return tf.where(tf.equal(psi, 1.0), ws, truncated)


def select_layers(first, second, from_second):
    """``second``'s styles at the layers where ``from_second`` is True, ``first``'s elsewhere.

    Args:
        first, second: float ``[N, num_ws, w_dim]``, the same dtype.
        from_second: bool ``[num_ws]`` (every row alike) or ``[N, num_ws]``.

    Returns:
        float ``[N, num_ws, w_dim]``.
    """
    first, second = tf.convert_to_tensor(first), tf.convert_to_tensor(second)
    from_second = tf.convert_to_tensor(from_second, tf.bool)
    if from_second.shape.rank == 1:
        from_second = from_second[tf.newaxis]
    return tf.where(from_second[:, :, tf.newaxis], second, first)


def crossover(first, second, cutoff):
    """Layers ``[0, cutoff)`` of ``first`` and ``[cutoff, num_ws)`` of ``second``.

    Args:
        first, second: float ``[N, num_ws, w_dim]``, the same dtype.
        cutoff: int or int ``[]``/``[N]`` in ``[0, num_ws]`` (0: all of ``second``,
            ``num_ws``: all of ``first``).

    Returns:
        float ``[N, num_ws, w_dim]``.
    """
    first = tf.convert_to_tensor(first)
    cutoff = tf.reshape(tf.cast(tf.convert_to_tensor(cutoff), tf.int32), [-1, 1])
    layer = tf.range(tf.shape(first)[1])[tf.newaxis]
    return select_layers(first, second, layer >= cutoff)
