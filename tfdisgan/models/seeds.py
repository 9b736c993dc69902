"""Seeds and random state of the GAN models.

Latents for integer seeds (``seeds_to_z``, seeds in ``[0, MAX_SEED)``), and ``SeedStates``,
a mixin of ``GAN`` that restarts the generators' random streams from a fixed seed
(``fixed_noise``) and puts every random state into the model's checkpoints.

Exact resume: ``tf.train.Checkpoint(model=gan, g_optimizer=..., d_optimizer=...)`` holds
G, D, G_ema, the optimizer slots, ``cur_nimg`` and the state of every
``keras.random.SeedGenerator`` reachable from the model (its own and the augment layer's),
which Keras layers do not expose to TensorFlow checkpoints by themselves.
"""

import contextlib

import keras
import numpy as np
import tensorflow as tf

MAX_SEED = 2**32


def seeds_to_z(seeds, z_dim):
    """Latents for integer seeds: row ``i`` is a pure function of ``(seeds[i], z_dim)``.

    ``z_i = tf.random.stateless_normal([z_dim], seed=[seeds[i], 0], alg="philox")``: plain
    TensorFlow ops, so an exported SavedModel reproduces ``GAN.generate(seeds=...)`` in-graph
    without tfdisgan, and a row does not depend on the other seeds of the batch. (The
    official ``generate.py`` draws ``np.random.RandomState(seed).randn(z_dim)``, which cannot
    be run inside a graph.) The algorithm is pinned to Philox: "auto_select" may pick a
    different one per device.

    Args:
        seeds: int tensor or array ``[N]`` (int64 accepted), each in ``[0, 2**32)``.
        z_dim: int > 0.

    Returns:
        float32 tensor ``[N, z_dim]``.

    Example:
        >>> seeds_to_z([0, 1], 512).shape
        TensorShape([2, 512])
    """
    seeds = tf.cast(tf.reshape(tf.convert_to_tensor(seeds), [-1]), tf.int64)
    return _seeds_to_z(seeds, int(z_dim))


@tf.function(autograph=False, reduce_retracing=True)
def _seeds_to_z(seeds, z_dim):
    # A graph: an eager `map_fn` dispatches every row's ops one by one (minutes for 10k).
    def draw(seed):
        return tf.random.stateless_normal(
            [z_dim], seed=tf.stack([seed, tf.zeros([], tf.int64)]), alg="philox"
        )

    return tf.map_fn(draw, seeds, fn_output_signature=tf.TensorSpec([z_dim], tf.float32),
                     parallel_iterations=64)


class SeedStates:
    """The SeedGenerator states of ``GAN``: fixed noise streams and checkpoint tracking (a
    mixin)."""

    @contextlib.contextmanager
    def fixed_noise(self, seed):
        """Within the block, the generators' random streams (StyleGAN2's per-pixel noise)
        restart from values fixed by `seed`; afterwards the training streams continue as
        if nothing had been drawn. An evaluation under the same seed then sees the same
        images whenever it runs: during training, after a resume, or on a loaded network.

        Args:
            seed: int in ``[0, 2**31)``.
        """
        seed = int(seed)
        if not 0 <= seed < 2**31:
            raise ValueError(f"seed must be in [0, 2**31). Received: seed={seed}")
        states = [v for name, v in sorted(self._seed_states().items())
                  if name.startswith("_seed_state_generator")]  # G and G_ema
        saved = [v.numpy() for v in states]
        try:
            for i, v in enumerate(states):
                v.assign(np.asarray([seed, 1000 + i], dtype=saved[i].dtype)
                         .reshape(saved[i].shape))
            yield self
        finally:
            for v, value in zip(states, saved, strict=True):
                v.assign(value)

    # --------------------------------------------------------------------------------------
    # Checkpointing
    # --------------------------------------------------------------------------------------

    def _seed_states(self):
        """``{name: state variable}`` of every SeedGenerator reachable from the model.

        Named by the owning attribute (``augment``, ``generator``, ...) and the generator's
        position inside it, so identically built models get identical names.
        """
        states = {}
        for i, sg in enumerate(getattr(self, "_seed_generators", [])):
            states[f"_seed_state_self_{i}"] = sg.state
        for attr in ("generator", "discriminator", "generator_ema", "augment"):
            layer = getattr(self, attr, None)
            if not isinstance(layer, keras.layers.Layer):
                continue
            sgs = [
                sg
                for sub in layer._flatten_layers(include_self=True)
                for sg in getattr(sub, "_seed_generators", [])
            ]
            for i, sg in enumerate(sgs):
                states[f"_seed_state_{attr}_{i}"] = sg.state
        return states

    def _trackable_children(self, save_type="checkpoint", **kwargs):
        # Keras layers keep SeedGenerator states out of TensorFlow's object graph; add them
        # so that `tf.train.Checkpoint` resumes the random streams exactly.
        children = super()._trackable_children(save_type, **kwargs)
        if save_type == "checkpoint":
            children.update(self._seed_states())
        return children
