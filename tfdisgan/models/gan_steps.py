"""The training step of ``GAN``: one discriminator step (non-saturating logistic loss,
optional lazy R1 on the augmented reals), one generator step with fresh latents, then the
augment layer's adjustment, the buffer sync, the EMA update and the ``cur_nimg`` increment
(stylegan2-ada-pytorch ``training/loss.py``, ``training/training_loop.py``).

``GANSteps`` is a mixin of ``GAN`` (``class GAN(GANSteps, ReplicaHelpers, SeedStates,
keras.Model)``): it reads the model's networks, optimizers, trackers and R1 settings, and
calls the ``GAN`` hooks (``sample_z``, ``run_generator``, ``run_discriminator``,
``augment_images``, ``update_ema``, ...) and ``ReplicaHelpers.apply_gradients``.
``StyleGAN2`` replaces ``train_step`` with its own phases (``stylegan2/phases.py``).
"""

import tensorflow as tf
from keras import ops

from tfdisgan import losses


class GANSteps:
    """The D, G and R1 steps and ``train_step`` of ``GAN`` (a mixin)."""

    # --------------------------------------------------------------------------------------
    # Training
    # --------------------------------------------------------------------------------------

    def unpack_data(self, data):
        """Splits a batch into ``images [B, H, W, C]`` float32 and ``labels [B]`` int32/None.

        Accepts ``images``, ``(images,)`` or ``(images, labels)``. Labels are ignored when
        the model is unconditional and required when it is conditional.
        """
        labels = None
        if isinstance(data, dict):
            raise ValueError(f"Expected images or (images, labels). Received a dict: {data}")
        if isinstance(data, (tuple, list)):
            if not 1 <= len(data) <= 3:
                raise ValueError(f"Expected images or (images, labels). Received: {data}")
            images = data[0]
            if len(data) > 1:
                labels = data[1]
        else:
            images = data
        images = ops.cast(images, "float32")
        if self.num_classes == 0:
            return images, None
        if labels is None:
            raise ValueError(
                f"This GAN is conditional (num_classes={self.num_classes}): the data must "
                "yield (images, labels)."
            )
        return images, ops.reshape(ops.cast(labels, "int32"), [-1])

    def train_step(self, data):
        """One D step, one G step, the EMA update and the ``cur_nimg`` increment.

        Args:
            data: ``images [B, H, W, C]`` in ``[-1, 1]`` or ``(images, labels [B])``; ``B`` is
                the per-replica batch (use ``drop_remainder=True`` so replicas get equal
                batches).

        Returns:
            Dict of tracker results (running means over the epoch).
        """
        reals, labels = self.unpack_data(data)
        batch = ops.shape(reals)[0]
        global_batch = batch * self.num_replicas()

        logs = {}
        logs.update(self.d_step(reals, labels, global_batch))
        # Fakes of the G step use the real batch's labels, so the class balance is the data's.
        logs.update(self.g_step(batch, labels, global_batch))
        self.adjust_augment(global_batch)
        self.sync_buffers()
        self.update_ema(global_batch)
        self.cur_nimg.assign_add(ops.cast(global_batch, "int64"))
        logs["aug_p"] = self._aug_p()

        for name, value in logs.items():
            if isinstance(value, tuple):
                self.trackers[name].update_state(value[0], sample_weight=value[1])
            else:
                self.trackers[name].update_state(value)
        return self._format_logs({m.name: m.result() for m in self.metrics})

    def _aug_p(self):
        p = getattr(self.augment, "p", None)
        if p is None:
            return ops.zeros([], "float32")
        return ops.mean(ops.cast(ops.convert_to_tensor(p), "float32"))

    @staticmethod
    def _format_logs(logs):
        # Keras 3.15 reduces fit outputs with `strategy.reduce(MEAN, v, axis=0)` under
        # MultiWorkerMirroredStrategy, which rejects scalars (DESIGN.md, "Pitfalls").
        if isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
            return {k: ops.reshape(v, [1]) for k, v in logs.items()}
        return logs

    def compute_r1(self, reals, labels):
        """R1 on this replica's reals.

        The gradient is taken with respect to the reals before augmentation, through the
        augment layer, as in stylegan2-ada.

        Returns:
            ``(penalty [B], real_logits [B])``; ``real_logits`` are D's logits on the
            augmented reals (reusable for the main loss).
        """
        # A fresh tensor: inside a `tf.cond` branch `reals` is a capture the tape can't see.
        reals = tf.identity(reals)
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(reals)
            logits = self.run_discriminator(
                self.augment_images(reals, real=True), labels, training=True
            )
            logits_sum = ops.sum(logits)
        grads = tape.gradient(logits_sum, reals)
        return losses.r1_penalty(grads), logits

    def d_step(self, reals, labels, global_batch):
        """One discriminator update.

        Loss per replica: ``(sum(d_logistic) + r1_gamma / 2 * r1_interval * sum(r1)) /
        global_batch``, R1 only on steps where ``d_optimizer.iterations % r1_interval == 0``.

        Returns:
            Dict of tracker updates: ``d_loss``, ``d_real``, ``d_fake``, ``d_grad_norm`` and,
            with R1, ``r1`` as ``(mean penalty, weight)``.
        """
        batch = ops.shape(reals)[0]
        gb = ops.cast(global_batch, "float32")
        fakes = ops.stop_gradient(self.run_generator(self.sample_z(batch), labels, training=True))
        use_r1 = self.r1_gamma > 0
        lazy = use_r1 and self.r1_interval > 1
        r1 = r1_weight = None
        with tf.GradientTape() as tape:
            if use_r1 and not lazy:
                # R1 every step: one D forward on the reals serves the loss and the penalty.
                r1, real_logits = self.compute_r1(reals, labels)
                r1_weight = ops.cast(batch, "float32")
            else:
                real_logits = self.run_discriminator(
                    self.augment_images(reals, real=True), labels, training=True
                )
            fake_logits = self.run_discriminator(
                self.augment_images(fakes, real=False), labels, training=True
            )
            d_logistic = losses.d_logistic_loss(real_logits, fake_logits)
            loss = ops.sum(d_logistic) / gb
            if lazy:
                do_r1 = ops.equal(self.d_optimizer.iterations % self.r1_interval, 0)
                r1, r1_logits = tf.cond(
                    do_r1,
                    lambda: self.compute_r1(reals, labels),
                    lambda: (tf.zeros([batch], tf.float32), tf.zeros([batch], tf.float32)),
                )
                r1_weight = ops.cast(do_r1, "float32") * ops.cast(batch, "float32")
            if use_r1:
                gain = self.r1_gamma / 2.0 * self.r1_interval
                loss = loss + ops.sum(r1) * gain / gb
            scaled_loss = self.d_optimizer.scale_loss(loss)
        self.accumulate_augment(real_logits)
        if lazy:  # the R1 pass saw its own augmented reals (stylegan2-ada Dr1 reports too)
            self.accumulate_augment(r1_logits, ops.cast(do_r1, "float32"))
        variables = self.d_train_variables()
        grads = tape.gradient(scaled_loss, variables)
        grad_norm = self.apply_gradients(self.d_optimizer, grads, variables)
        logs = {
            "d_loss": ops.mean(d_logistic),
            "d_real": ops.mean(real_logits),
            "d_fake": ops.mean(fake_logits),
            "d_grad_norm": grad_norm,
        }
        if use_r1:
            logs["r1"] = (ops.mean(r1), r1_weight)
        return logs

    def compute_g_loss(self, z, labels):
        """Per-example generator loss ``[B]`` for latents ``z`` (call inside a tape)."""
        fakes = self.run_generator(z, labels, training=True)
        fake_logits = self.run_discriminator(
            self.augment_images(fakes, real=False), labels, training=True
        )
        return losses.g_nonsaturating_loss(fake_logits)

    def g_step(self, batch, labels, global_batch):
        """One generator update with fresh latents; returns ``g_loss`` and ``g_grad_norm``."""
        z = self.sample_z(batch)
        with tf.GradientTape() as tape:
            g_loss = self.compute_g_loss(z, labels)
            loss = ops.sum(g_loss) / ops.cast(global_batch, "float32")
            scaled_loss = self.g_optimizer.scale_loss(loss)
        variables = self.g_train_variables()
        grads = tape.gradient(scaled_loss, variables)
        grad_norm = self.apply_gradients(self.g_optimizer, grads, variables)
        return {"g_loss": ops.mean(g_loss), "g_grad_norm": grad_norm}

    def g_train_variables(self):
        """The generator variables the G steps update: the trainable ones except those in
        ``frozen_variables`` (``tfdisgan.transfer.freeze``: ``--freeze_mapping``)."""
        return self._unfrozen_variables("generator")

    def d_train_variables(self):
        """The discriminator variables the D steps update: the trainable ones except those
        in ``frozen_variables`` (``tfdisgan.transfer.freeze``: FreezeD's ``--freeze_d``)."""
        return self._unfrozen_variables("discriminator")

    def _unfrozen_variables(self, attr):
        # `frozen_variables`: a frozenset of "generator/<variable.path>" strings, set by
        # `tfdisgan.transfer.freeze`; a plain attribute that no checkpoint tracks.
        frozen = getattr(self, "frozen_variables", None) or frozenset()
        return [v for v in getattr(self, attr).trainable_variables
                if f"{attr}/{v.path}" not in frozen]
