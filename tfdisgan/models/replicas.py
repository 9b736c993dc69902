"""Replica-count invariance of the GAN training step: ``ReplicaHelpers``, a mixin of ``GAN``.

Distribution: every quantity that must not depend on the number of replicas is computed for
the *global* batch. Per-replica losses are ``sum(per-example loss) / global_batch`` because
Keras sums gradients across replicas; latents are drawn for the whole global batch from one
seed state and each replica keeps its own rows (``replica_rows``), so one replica with batch
``B`` and two replicas with ``B / 2`` each see exactly the same ``z`` (batch-coupled layers
such as batch norm or minibatch-stddev still see only their replica's rows; batch norm's
moving statistics are averaged over the replicas every step, ``sync_buffers``). The gradient
norm is that of the global gradient (``apply_gradients``). Optimizers must be built inside
the strategy scope before ``fit`` (``GAN.compile`` does it; see DESIGN.md, "Pitfalls").
"""

import keras
import tensorflow as tf
from keras import ops


class ReplicaHelpers:
    """The replica queries, global-batch sampling, gradient step and buffer sync of ``GAN``
    (a mixin)."""

    @staticmethod
    def num_replicas():
        """Replicas in sync under the current strategy (1 without one)."""
        return tf.distribute.get_strategy().num_replicas_in_sync

    @staticmethod
    def replica_id():
        """This replica's index in the sync group (0 without a strategy)."""
        ctx = tf.distribute.get_replica_context()
        return 0 if ctx is None else ctx.replica_id_in_sync_group

    def replica_rows(self, sample_fn, batch):
        """Draws ``sample_fn(global_batch)`` and keeps this replica's ``batch`` rows.

        All replicas share one seed state, so they draw the same global tensor; replica ``r``
        keeps rows ``[r * batch, (r + 1) * batch)``, the rows ``tf.distribute`` gives it of
        the data batch. One replica with batch ``B`` therefore sees exactly what two replicas
        with ``B / 2`` see together.
        """
        n = self.num_replicas()
        if n == 1:
            return sample_fn(batch)
        full = sample_fn(batch * n)
        start = tf.cast(self.replica_id(), tf.int32) * tf.cast(batch, tf.int32)
        return full[start : start + batch]

    def apply_gradients(self, optimizer, grads, variables):
        """Applies per-replica ``grads`` and returns the global gradient norm.

        With several replicas the gradients are all-reduced here to measure the norm of the
        global gradient; the optimizer then receives ``sum / n`` on every replica, so its own
        cross-replica sum reconstructs the global gradient (one extra all-reduce per step,
        the price of an exact norm).
        """
        pairs = [(g, v) for g, v in zip(grads, variables, strict=True) if g is not None]
        # Dense: an embedding's IndexedSlices repeat a row per occurrence of its label, and
        # Keras' Adam squares them before summing duplicates (a wrong second moment that
        # would also depend on the replica count), as does `global_norm`.
        grads = [tf.convert_to_tensor(g) for g, _ in pairs]
        variables = [v for _, v in pairs]
        n = self.num_replicas()
        ctx = tf.distribute.get_replica_context()
        if n > 1 and ctx is not None:
            grads = ctx.all_reduce(tf.distribute.ReduceOp.SUM, grads)
            grad_norm = tf.linalg.global_norm(grads)
            grads = [g / n for g in grads]
        else:
            grad_norm = tf.linalg.global_norm(grads)
        if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
            grad_norm = grad_norm / ops.cast(optimizer.dynamic_scale, grad_norm.dtype)
            # A non-finite scaled gradient is the loss scaler's overflow probe: it skips the
            # step and lowers the scale. Logged as 0, not Inf, which would stop the run.
            grad_norm = tf.where(tf.math.is_finite(grad_norm), grad_norm, 0.0)
        elif optimizer.loss_scale_factor is not None:
            grad_norm = grad_norm / optimizer.loss_scale_factor
        optimizer.apply_gradients(zip(grads, variables, strict=True))
        return grad_norm

    def sync_buffers(self):
        """Averages G's and D's non-trainable float weights over the replicas.

        Keras creates batch-norm moving statistics with aggregation "none": under
        ``tf.distribute`` each replica's update then changes only its own copy, so the
        copies, and the workers of a multi-worker run, drift apart (a checkpoint keeps
        replica 0's). One all-reduce per step restores a single value, the moving average
        of the mean of the replicas' batch statistics. A no-op with one replica.
        """
        ctx = tf.distribute.get_replica_context()
        if self.num_replicas() == 1 or ctx is None:
            return
        buffers = [
            v for net in (self.generator, self.discriminator) for v in net.non_trainable_weights
            if getattr(v, "aggregation", "none") == "none" and "float" in str(v.dtype)
        ]
        if not buffers:
            return
        values = []
        for v in buffers:
            # An explicit device: with one local replica (MultiWorkerMirroredStrategy on a
            # CPU) a bare read has none, which `all_reduce` rejects ("destinations can not
            # be empty").
            with tf.device(v.value.device):
                values.append(tf.identity(v.value))
        means = ctx.all_reduce(tf.distribute.ReduceOp.MEAN, values)
        for v, mean in zip(buffers, means, strict=True):
            v.assign(mean)
