"""The training phases of ``StyleGAN2`` (stylegan2-ada ``training_loop.py`` /
``loss.py``): ``Gmain``, ``Greg`` (path length), ``Dmain``, ``Dreg`` (R1), each its own
optimizer step, and ``train_step`` running them in order.

``StyleGAN2Phases`` is a mixin of ``StyleGAN2`` (``class StyleGAN2(StyleGAN2Phases, GAN)``):
it reads the model's generator, optimizers, trackers and regularisation settings, and calls
the ``GAN`` methods (``compute_g_loss``, ``compute_r1``, ``run_discriminator``, ...) and
``StyleGAN2``'s ``generator_ws`` / ``run_generator``.
"""

import keras
import tensorflow as tf
from keras import ops

from tfdisgan import losses


class StyleGAN2Phases:
    """The path-length penalty and the training phases of ``StyleGAN2`` (a mixin)."""

    # --------------------------------------------------------------------------------------
    # Path-length regularisation
    # --------------------------------------------------------------------------------------

    def _pl_inputs(self, batch, labels):
        rows = ops.maximum(batch // self.pl_batch_shrink, 1)
        z = self.sample_z(rows)
        # Every shrink-th label: global path-length row j then has global label row
        # j * shrink whatever the replica count (z rows are global too, `replica_rows`).
        if labels is not None:
            labels = labels[:: self.pl_batch_shrink][:rows]
        return rows, z, labels

    def _pl_noise(self, rows):
        """``N(0, I) / sqrt(H * W)`` for ``rows`` images, drawn for the global batch."""
        res, channels = self.generator.img_resolution, self.generator.img_channels
        shape = (res, res, channels)

        def draw(n):
            return tf.random.stateless_normal(tf.stack([n, *shape]), seed=self._next_seed())

        return self.replica_rows(draw, rows) / float(res)

    @staticmethod
    def _replica_mean(value):
        ctx = tf.distribute.get_replica_context()
        if ctx is None or ctx.num_replicas_in_sync == 1:
            return value
        return ctx.all_reduce(tf.distribute.ReduceOp.MEAN, value)

    def compute_pl_penalty(self, z, labels):
        """Path-length penalty per example (call inside a tape); updates ``pl_mean``.

        ``lengths = sqrt(mean_over_ws(sum_over_w_dim(g^2)))`` with ``g`` the gradient of
        ``sum(G(ws) * y)`` with respect to the (style-mixed) ws, ``y ~ N(0, I) / sqrt(H *
        W)``; ``pl_mean <- lerp(pl_mean, mean(lengths), pl_decay)`` (mean over all
        replicas); penalty ``(lengths - pl_mean)^2`` with the new ``pl_mean``, which, as in
        loss.py, is not detached inside the penalty.

        Returns:
            ``(penalty [B], lengths [B])``.
        """
        ws = self.generator_ws(z, labels, training=True)
        pl_noise = self._pl_noise(ops.shape(z)[0])
        lengths = losses.path_lengths(
            lambda w: self.generator.synthesis(w, noise_mode=self.train_noise_mode, training=True),
            ws,
            pl_noise,
        )
        old = ops.convert_to_tensor(self.pl_mean)
        pl_mean = old + (self._replica_mean(ops.mean(lengths)) - old) * self.pl_decay
        self.pl_mean.assign(ops.stop_gradient(pl_mean))
        return ops.square(lengths - pl_mean), lengths

    # --------------------------------------------------------------------------------------
    # Training phases
    # --------------------------------------------------------------------------------------

    def apply_gradients(self, optimizer, grads, variables):
        """``nan_to_num`` on the gradients (NaN -> 0, +-inf -> +-1e5, as training_loop.py),
        then ``GAN.apply_gradients``. Skipped with a ``LossScaleOptimizer``, whose own
        non-finite check must see the infinities."""
        if not isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
            grads = _nan_to_num(grads)
        return super().apply_gradients(optimizer, grads, variables)

    def g_step(self, batch, labels, global_batch):
        """``Gmain`` (plus the path-length term when ``pl_interval`` is None: "Gboth")."""
        gb = ops.cast(global_batch, "float32")
        z = self.sample_z(batch)
        both = self.pl_weight > 0 and self.pl_interval is None
        if both:
            rows, pl_z, pl_labels = self._pl_inputs(batch, labels)
        with tf.GradientTape() as tape:
            if self.cross_mix is None:
                g_loss = self.compute_g_loss(z, labels)
            else:
                g_loss = self.cross_mix.g_loss(self, z, labels)
            loss = ops.sum(g_loss) / gb
            if both:
                penalty, _ = self.compute_pl_penalty(pl_z, pl_labels)
                pl_rows = ops.cast(rows * self.num_replicas(), "float32")
                loss = loss + ops.sum(penalty) * self.pl_weight / pl_rows
            scaled_loss = self.g_optimizer.scale_loss(loss)
        variables = self.g_train_variables()
        grads = tape.gradient(scaled_loss, variables)
        logs = {
            "g_loss": ops.mean(g_loss),
            "g_grad_norm": self.apply_gradients(self.g_optimizer, grads, variables),
        }
        if both:
            logs["pl_penalty"] = ops.mean(penalty)
        return logs

    def pl_step(self, batch, labels, global_batch):
        """``Greg``: one G step on the path-length penalty, weighted by ``pl_interval``."""
        del global_batch  # the penalty is averaged over the path-length batch
        rows, z, pl_labels = self._pl_inputs(batch, labels)
        with tf.GradientTape() as tape:
            penalty, _ = self.compute_pl_penalty(z, pl_labels)
            pl_rows = ops.cast(rows * self.num_replicas(), "float32")
            loss = ops.sum(penalty) * (self.pl_weight * self.pl_interval) / pl_rows
            scaled_loss = self.g_optimizer.scale_loss(loss)
        variables = self.g_train_variables()
        grads = tape.gradient(scaled_loss, variables)
        self.apply_gradients(self.g_optimizer, grads, variables)
        self.trackers["pl_penalty"].update_state(ops.mean(penalty))

    def d_step(self, reals, labels, global_batch):
        """``Dmain`` (plus R1 when ``r1_interval`` is None: "Dboth")."""
        batch = ops.shape(reals)[0]
        gb = ops.cast(global_batch, "float32")
        fakes = ops.stop_gradient(self.run_generator(self.sample_z(batch), labels, training=True))
        both = self.r1_gamma > 0 and self.r1_interval is None
        with tf.GradientTape() as tape:
            fake_logits = self.run_discriminator(
                self.augment_images(fakes, real=False), labels, training=True
            )
            if both:
                r1, real_logits = self.compute_r1(reals, labels)
            else:
                real_logits = self.run_discriminator(
                    self.augment_images(reals, real=True), labels, training=True
                )
            d_logistic = losses.d_logistic_loss(real_logits, fake_logits)
            loss = ops.sum(d_logistic) / gb
            if both:
                loss = loss + ops.sum(r1) * (self.r1_gamma / 2.0) / gb
            scaled_loss = self.d_optimizer.scale_loss(loss)
        self.accumulate_augment(real_logits)
        variables = self.d_train_variables()
        grads = tape.gradient(scaled_loss, variables)
        logs = {
            "d_loss": ops.mean(d_logistic),
            "d_real": ops.mean(real_logits),
            "d_fake": ops.mean(fake_logits),
            "d_grad_norm": self.apply_gradients(self.d_optimizer, grads, variables),
        }
        if both:
            logs["r1"] = ops.mean(r1)
        return logs

    def r1_step(self, reals, labels, global_batch):
        """``Dreg``: one D step on R1, ``r1_gamma / 2 * r1_interval * sum(r1) / batch``."""
        with tf.GradientTape() as tape:
            r1, real_logits = self.compute_r1(reals, labels)
            gain = self.r1_gamma / 2.0 * self.r1_interval
            loss = ops.sum(r1) * gain / ops.cast(global_batch, "float32")
            scaled_loss = self.d_optimizer.scale_loss(loss)
        variables = self.d_train_variables()
        grads = tape.gradient(scaled_loss, variables)
        self.apply_gradients(self.d_optimizer, grads, variables)
        self.accumulate_augment(real_logits)  # Dr1 reports Loss/signs/real too (loss.py)
        self.trackers["r1"].update_state(ops.mean(r1))

    def is_reg_step(self, interval):
        """Bool tensor: ``batch_idx % interval == 0`` (training_loop.py phase intervals)."""
        return ops.equal(self.batch_idx % interval, 0)

    @staticmethod
    def run_if(pred, fn, *args):
        """Runs ``fn(*args)`` (no return value) only where the scalar ``pred`` is true.

        Without a strategy, or with one that needs no ``merge_call`` for its
        synchronisation, this is a ``tf.cond``. Under ``MirroredStrategy`` a branch that
        synchronises (gradient all-reduce, optimizer step) may not sit in a replica-context
        cond, so the cond is taken in cross-replica context and the branch re-enters the
        replicas with ``call_for_each_replica``, as Keras' ``LossScaleOptimizer`` does.
        ``pred`` must be the same on every replica.
        """

        def branch():
            fn(*args)

        def skip():
            pass

        if not tf.distribute.has_strategy() or (
            tf.__internal__.distribute.strategy_supports_no_merge_call()
        ):
            tf.cond(pred, branch, skip)
            return

        def merge_fn(distribution, pred, *args):
            first = distribution.experimental_local_results(pred)[0]

            def replicas():
                distribution.extended.call_for_each_replica(fn, args=args)

            tf.cond(first, replicas, skip)

        tf.distribute.get_replica_context().merge_call(merge_fn, args=(pred, *args))

    def train_step(self, data):
        """One minibatch: Gmain, Greg (every ``pl_interval``), Dmain, Dreg (every
        ``r1_interval``), the G EMA, ``cur_nimg`` and ``batch_idx``.

        Args:
            data: ``images [B, H, W, C]`` in ``[-1, 1]`` or ``(images, labels [B])``, ``B``
                per replica (``drop_remainder=True``).

        Returns:
            Dict of tracker results (running means over the epoch; ``r1`` and
            ``pl_penalty`` over the steps that computed them).
        """
        reals, labels = self.unpack_data(data)
        batch = ops.shape(reals)[0]
        global_batch = batch * self.num_replicas()

        logs = self.g_step(batch, labels, global_batch)
        if self.pl_weight > 0 and self.pl_interval is not None:
            self.run_if(
                self.is_reg_step(self.pl_interval), self.pl_step, batch, labels, global_batch
            )
        logs.update(self.d_step(reals, labels, global_batch))
        if self.r1_gamma > 0 and self.r1_interval is not None:
            self.run_if(
                self.is_reg_step(self.r1_interval), self.r1_step, reals, labels, global_batch
            )
        # After every phase, as training_loop.py: Dreg still used the step's old p.
        self.adjust_augment(global_batch)
        self.update_ema(global_batch)
        self.cur_nimg.assign_add(ops.cast(global_batch, "int64"))
        self.batch_idx.assign_add(1)
        logs["aug_p"] = self._aug_p()
        if self.pl_weight > 0:
            logs["pl_mean"] = ops.convert_to_tensor(self.pl_mean)
        for name, value in logs.items():
            self.trackers[name].update_state(value)
        return self._format_logs({m.name: m.result() for m in self.metrics})


def _nan_to_num(grads):
    """``misc.nan_to_num(grad, nan=0, posinf=1e5, neginf=-1e5)`` of every gradient (None
    stays None): finite values unchanged, NaN -> 0, +-inf -> +-1e5. Six ops per gradient
    and two constants per dtype (a StyleGAN2 step has ~110 gradients per phase)."""
    constants, out = {}, []
    for grad in grads:
        if grad is None:
            out.append(None)
            continue
        grad = tf.convert_to_tensor(grad)
        if not grad.dtype.is_floating:
            out.append(grad)
            continue
        if grad.dtype not in constants:
            constants[grad.dtype] = (tf.constant(0, grad.dtype), tf.constant(1e5, grad.dtype))
        zero, big = constants[grad.dtype]
        infinite = tf.where(tf.math.is_nan(grad), zero, tf.sign(grad) * big)
        out.append(tf.where(tf.math.is_finite(grad), grad, infinite))
    return out


__all__ = ["StyleGAN2Phases"]
