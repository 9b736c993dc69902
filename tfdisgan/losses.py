"""GAN losses as pure functions on tensors.

Every function returns one value per example (shape ``[B]``) rather than a mean, so that the
caller decides the reduction: under ``tf.distribute`` a replica divides the sum of its
per-example values by the *global* batch size, because Keras sums gradients across replicas
(see DESIGN.md, "Pitfalls").

Reference:
    Goodfellow et al., "Generative Adversarial Networks", 2014 (non-saturating loss).
    Mescheder et al., "Which Training Methods for GANs do actually Converge?", 2018 (R1).
    Karras et al., stylegan2-ada-pytorch ``training/loss.py`` (``StyleGAN2Loss``).
    Karras et al., "Analyzing and Improving the Image Quality of StyleGAN", CVPR 2020
    (path-length regularisation).
"""

import tensorflow as tf
from keras import ops


def _logits_per_example(logits, name):
    """Flattens logits ``[B]`` or ``[B, 1]`` to ``[B]``; rejects anything wider."""
    logits = ops.convert_to_tensor(logits)
    rank = len(logits.shape)
    if rank == 2 and logits.shape[1] not in (1, None):
        raise ValueError(
            f"`{name}` must have shape [B] or [B, 1]. Received: {name}.shape={logits.shape}"
        )
    if rank not in (1, 2):
        raise ValueError(
            f"`{name}` must have shape [B] or [B, 1]. Received: {name}.shape={logits.shape}"
        )
    return ops.reshape(logits, [-1])


def d_logistic_loss(real_logits, fake_logits):
    """Non-saturating logistic discriminator loss, per example.

    ``softplus(D(fake)) + softplus(-D(real))``, i.e. the binary cross-entropy of labelling
    reals 1 and fakes 0, written on logits so it never saturates numerically.

    Args:
        real_logits: float tensor ``[B]`` or ``[B, 1]``, D logits on (augmented) reals.
        fake_logits: float tensor ``[B]`` or ``[B, 1]``, D logits on (augmented) fakes; the
            same ``B`` as ``real_logits``.

    Returns:
        Float tensor ``[B]``.

    Raises:
        ValueError: a logits tensor is not ``[B]`` or ``[B, 1]``.

    Example:
        >>> d_logistic_loss([0.0], [0.0])  # 2 * log(2)
        <tf.Tensor: shape=(1,), dtype=float32, numpy=array([1.3862944], dtype=float32)>

    Reference:
        stylegan2-ada-pytorch ``training/loss.py``: ``loss_Gmain`` (on fakes) and
        ``loss_Dreal``.
    """
    real_logits = _logits_per_example(real_logits, "real_logits")
    fake_logits = _logits_per_example(fake_logits, "fake_logits")
    return ops.softplus(fake_logits) + ops.softplus(-real_logits)


def g_nonsaturating_loss(fake_logits):
    """Non-saturating generator loss, per example: ``softplus(-D(G(z)))``.

    Args:
        fake_logits: float tensor ``[B]`` or ``[B, 1]``, D logits on (augmented) fakes.

    Returns:
        Float tensor ``[B]``.

    Raises:
        ValueError: ``fake_logits`` is not ``[B]`` or ``[B, 1]``.

    Example:
        >>> g_nonsaturating_loss([0.0])  # log(2)
        <tf.Tensor: shape=(1,), dtype=float32, numpy=array([0.6931472], dtype=float32)>

    Reference:
        Goodfellow et al. 2014, section 3 ("maximize log D(G(z))"); stylegan2-ada-pytorch
        ``training/loss.py`` ``loss_Gmain``.
    """
    fake_logits = _logits_per_example(fake_logits, "fake_logits")
    return ops.softplus(-fake_logits)


def r1_penalty(real_grads):
    """R1 gradient penalty, per example: ``sum over H, W, C of (dD(x)/dx)^2``.

    The caller computes ``real_grads`` as the gradient of ``sum(D(reals))`` with respect to
    the (pre-augmentation) reals, and multiplies the result by ``r1_gamma / 2`` (and by the
    regularisation interval when the penalty is applied lazily).

    Args:
        real_grads: float tensor ``[B, H, W, C]`` (any rank >= 2 works: every axis but the
            first is summed).

    Returns:
        Float tensor ``[B]``.

    Raises:
        ValueError: ``real_grads`` has rank < 2.

    Example:
        >>> r1_penalty(tf.ones([2, 4, 4, 3]))  # 4 * 4 * 3 ones per example
        <tf.Tensor: shape=(2,), dtype=float32, numpy=array([48., 48.], dtype=float32)>

    Reference:
        Mescheder et al. 2018, eq. 9; stylegan2-ada-pytorch ``training/loss.py``
        ``r1_penalty = r1_grads.square().sum([1,2,3])``.
    """
    real_grads = ops.convert_to_tensor(real_grads)
    rank = len(real_grads.shape)
    if rank < 2:
        raise ValueError(
            "`real_grads` must have a batch axis and at least one more axis. "
            f"Received: real_grads.shape={real_grads.shape}"
        )
    return ops.sum(ops.square(real_grads), axis=tuple(range(1, rank)))


def path_lengths(synthesis_fn, ws, pl_noise):
    """Path lengths of loss.py: the norm of ``J^T y`` per example.

    ``g = d sum(synthesis_fn(ws) * pl_noise) / d ws`` (one backward pass gives ``J^T y`` for
    every example at once, the examples being independent); ``length = sqrt(mean over the
    num_ws axis of the sum over the w_dim axis of g^2)``, i.e. official
    ``pl_grads.square().sum(2).mean(1).sqrt()``. Differentiable (double backprop).

    Args:
        synthesis_fn: callable ``ws -> images [N, H, W, C]``.
        ws: ``[N, num_ws, w_dim]``.
        pl_noise: ``[N, H, W, C]``, normally ``N(0, I) / sqrt(H * W)``.

    Returns:
        ``[N]`` lengths.
    """
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(ws)
        projected = ops.sum(ops.cast(synthesis_fn(ws), "float32") * pl_noise)
    grads = tape.gradient(projected, ws)
    return ops.sqrt(ops.mean(ops.sum(ops.square(grads), axis=2), axis=1))
