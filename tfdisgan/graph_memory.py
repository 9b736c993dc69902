"""Releasing the traced graphs TensorFlow's gradient registry would keep for good.

``tf.custom_gradient`` used while tracing a ``tf.function`` registers a gradient function
under a fresh name ("CustomGradient-N") in TensorFlow's process-wide gradient registry,
and that function holds the traced graph (its outputs, through a closure). Nothing ever
removes it. Keras' optimizers hit it on every traced step (their cross-replica gradient sum
is a ``ReplicaContext.all_reduce``, a custom gradient even with one replica), so each
model trained in a process kept its whole train-step graph alive: measured on this 2-core
CPU, +150 MB per tiny DCGAN + ADA ``training.run`` and several hundred MB per StyleGAN2
run, until a test process of many runs was killed for memory.

The registry entries serve only symbolic gradients taken later *through* those traced
ops (``tf.gradients`` on the graph, or differentiating a call of the traced function from
outside); the traced step differentiates itself while it is traced, with GradientTape.
`released_custom_gradients` removes the entries made inside its block, after it. Our own
FIR op (``layers.resample``) registers one gradient per parameter set instead, so its
entries keep nothing alive and are not removed.
"""

import contextlib

from tensorflow.python.framework import ops as _tf_ops

_PREFIX = "CustomGradient-"


def _registry():
    """TensorFlow's gradient registry dict, or None if this TensorFlow stores it otherwise."""
    registry = getattr(getattr(_tf_ops, "_gradient_registry", None), "_registry", None)
    return registry if isinstance(registry, dict) else None


def custom_gradient_names():
    """The names of the ``tf.custom_gradient`` entries now registered."""
    registry = _registry()
    return set() if registry is None else {k for k in registry if k.startswith(_PREFIX)}


def release_custom_gradients(keep=()):
    """Removes every ``tf.custom_gradient`` registry entry not in ``keep``; returns how many."""
    registry = _registry()
    if registry is None:
        return 0
    names = custom_gradient_names() - set(keep)
    for name in names:
        registry.pop(name, None)
    return len(names)


@contextlib.contextmanager
def released_custom_gradients():
    """Runs the block, then removes the custom-gradient entries it registered.

    Use it around work whose traced functions are not differentiated from outside after
    the block (a training run, an export, a test). Entries made before the block stay.
    """
    before = custom_gradient_names()
    try:
        yield
    finally:
        release_custom_gradients(keep=before)


__all__ = ["custom_gradient_names", "release_custom_gradients", "released_custom_gradients"]
