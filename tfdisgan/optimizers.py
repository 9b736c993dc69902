"""``Adam``: Keras' Adam, bit for bit, in about half the graph ops per variable.

A GAN step applies an optimizer up to four times (stylegan2-ada's Gmain, Greg, Dmain,
Dreg), each over every weight of a network; with small networks that graph, not the
convolutions, is the cost: it is traced (Python) and run (one kernel launch per op) every
step. Keras' ``Adam.update_step`` recomputes the step's scalars (the two beta powers and
the bias-corrected rate) for each variable through ``keras.ops`` (~30 ops per variable,
measured: 14,593 ops in a tiny StyleGAN2 train step, 12,433 with this class).

This class computes those scalars once per dtype and step and applies the same
arithmetic, in the same order, per variable:
``m += (g - m) * (1 - beta_1)``, ``v += (g^2 - v) * (1 - beta_2)``,
``var -= m * alpha / (sqrt(v) + epsilon)`` with ``alpha = lr * sqrt(1 - beta_2^t) /
(1 - beta_1^t)``. Results, slots and checkpoints are identical to ``keras.optimizers.Adam``
(tests/test_optimizers.py compares them bit for bit). ``amsgrad`` and non-TensorFlow
backends use Keras' own step. TensorFlow's fused ``ResourceApplyAdam`` was not used: it
computes ``1 - beta`` in float32 inside the kernel, which differs from Keras' value in the
last bit.

``Adam(torch_epsilon=True)`` (what `lazy_adam` builds for StyleGAN2) adds epsilon after
the bias correction, as ``torch.optim.Adam`` in stylegan2-ada-pytorch does; it then differs
from Keras' Adam where a gradient is near epsilon.
"""

from typing import NamedTuple

import keras
import tensorflow as tf


class OptimizerPair(NamedTuple):
    """``(g_optimizer, d_optimizer)``, what ``DCGAN.default_optimizers`` and
    ``stylegan2.preset_optimizers`` return.

    It unpacks as a tuple (``g_opt, d_opt = pair``) and as keyword arguments, so it fits the
    keyword-only ``GAN.compile``: ``gan.compile(**pair, r1_gamma=1.0)``.
    """

    g_optimizer: keras.optimizers.Optimizer
    d_optimizer: keras.optimizers.Optimizer

    def keys(self):
        return self._fields

    def __getitem__(self, key):
        if isinstance(key, str):
            if key not in self._fields:
                raise KeyError(key)
            return getattr(self, key)
        return tuple.__getitem__(self, key)


@keras.saving.register_keras_serializable(package="tfdisgan")
class Adam(keras.optimizers.Adam):
    """``keras.optimizers.Adam`` with the per-step scalars computed once (same arguments,
    same results).

    Args:
        torch_epsilon: bool. False (default): Keras' update, ``epsilon`` added to
            ``sqrt(v)`` before the bias correction. True: ``torch.optim.Adam``'s (what
            stylegan2-ada-pytorch trains with), ``epsilon`` added to the bias-corrected
            ``sqrt(v / (1 - beta_2^t))``; computed here as Keras' update with
            ``epsilon * sqrt(1 - beta_2^t)``. The two differ only where ``|g|`` is near
            ``epsilon`` (at step 1 with beta_2 = 0.99, Keras' effective epsilon is 10x
            torch's); tests/test_training_parity.py found the difference.
        **kwargs: ``keras.optimizers.Adam`` arguments.
    """

    def __init__(self, *args, torch_epsilon=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.torch_epsilon = bool(torch_epsilon)

    def get_config(self):
        config = super().get_config()
        if self.torch_epsilon:
            config["torch_epsilon"] = True
        return config

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        self._step_scalars = {}
        try:
            return super()._backend_update_step(grads, trainable_variables, learning_rate)
        finally:
            self._step_scalars = None

    def _scalars(self, dtype, learning_rate):
        """``(alpha, 1 - beta_1, 1 - beta_2, epsilon)`` in ``dtype`` for this step."""
        cache = getattr(self, "_step_scalars", None)
        if cache is not None and dtype in cache:
            return cache[dtype]
        lr = tf.cast(learning_rate, dtype)
        local_step = tf.cast(self.iterations + 1, dtype)
        beta_1_power = tf.pow(tf.cast(self.beta_1, dtype), local_step)
        beta_2_power = tf.pow(tf.cast(self.beta_2, dtype), local_step)
        correction = tf.sqrt(1 - beta_2_power)
        alpha = lr * correction / (1 - beta_1_power)
        epsilon = tf.constant(self.epsilon, dtype)
        if self.torch_epsilon:
            epsilon = epsilon * correction
        scalars = (
            alpha,
            tf.constant(1 - self.beta_1, dtype),
            tf.constant(1 - self.beta_2, dtype),
            epsilon,
        )
        if cache is not None:
            cache[dtype] = scalars
        return scalars

    def update_step(self, gradient, variable, learning_rate):
        if self.amsgrad or keras.backend.backend() != "tensorflow":
            if self.torch_epsilon:
                raise ValueError("torch_epsilon needs the TensorFlow backend and no amsgrad.")
            return super().update_step(gradient, variable, learning_rate)
        alpha, one_minus_beta_1, one_minus_beta_2, epsilon = self._scalars(
            variable.dtype, learning_rate
        )
        gradient = tf.cast(gradient, variable.dtype)
        index = self._get_variable_index(variable)
        m = self._momentums[index].value
        v = self._velocities[index].value
        m.assign_add((gradient - m) * one_minus_beta_1)
        v.assign_add((tf.square(gradient) - v) * one_minus_beta_2)
        variable.assign_sub((m * alpha) / (tf.sqrt(v) + epsilon))


__all__ = ["Adam", "OptimizerPair"]
