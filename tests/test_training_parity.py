"""One StyleGAN2 training iteration equals stylegan2-ada-pytorch's (issue 15, part 1).

tests/compat/sg2ada_pytorch/training_step.npz was written by make_training_step.py beside
it, which runs the official loss.py and the first iteration of training_loop.py (Gmain,
Greg, Dmain, Dreg with their lazy gains and lazy Adam, then the G EMA) from recorded
weights and recorded random draws. Here the same weights go into our model, built by
`training.build_model` from a `TrainConfig` as `training.run` builds it, the same draws
replace ours (phase latents, style-mixing latents and crossover layers, path-length noise;
noise inputs const on both sides), and our compiled train step runs once. Every weight of
G, D and G_ema, ``w_avg`` and ``pl_mean`` must then equal the official ones.

The comparison is split where Adam would blur it: with beta1 = 0 its first step moves each
weight by the learning rate times the sign of the gradient, so a gradient near zero (or one
R1 computes ill-conditioned, see `_r1_sensitivity`) can flip a weight's step on rounding
alone. So: (1) each phase's gradients, as the optimizer receives them, against the
official ones; (2) our lazy Adam applied to the official gradients against the official
weights after the step; (3) w_avg, the const noise and pl_mean; (4) G_ema.
"""

import os

import numpy as np
import tensorflow as tf

from tests.fixtures import REPO
from tfdisgan import training, transfer
from tfdisgan.data import describe
from tfdisgan.models.stylegan2.style_layers import crossover
from tfdisgan.pytorch_import import NETWORKS, official_key, to_ours

FIXTURE = os.path.join(REPO, "tests", "compat", "sg2ada_pytorch", "training_step.npz")


def _nhwc(x):
    return np.transpose(x, (0, 2, 3, 1))


class OfficialTrainingStepTest(tf.test.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.data = dict(np.load(FIXTURE))

    def _model(self):
        config = training.TrainConfig(
            model="stylegan2", cfg="auto", data="procedural:8", resolution=16, batch=4,
            z_dim=16, w_dim=16, channel_base=256, channel_max=32, mapping_layers=2,
            mbstd_group=2, r1_gamma=1.0, pl_weight=2.0, style_mixing=0.9, g_lr=0.0025,
            d_lr=0.0025, ema_kimg=10.0, ema_rampup=0.05, augment="none", outdir="", steps=1)
        resolved, _, num_classes = training.validate(config, describe(config.data))
        model, _ = training.build_model(resolved, num_classes, tf.distribute.get_strategy())
        return model

    def _official(self, stage, key):
        attr, path = key.split("/", 1)
        official = official_key(path)
        return to_ours(official, self.data[f"{stage}/{NETWORKS[attr]}.{official}"])

    def _inject(self, model):
        """Our random draws replaced by the recorded ones, phase by phase."""
        data, phase = self.data, {"name": None}
        model.train_noise_mode = "const"

        def in_phase(name, step):
            def run(*args):
                phase["name"] = name
                try:
                    return step(*args)
                finally:
                    phase["name"] = None
            return run

        model.g_step = in_phase("Gmain", model.g_step)
        model.pl_step = in_phase("Greg", model.pl_step)
        model.d_step = in_phase("Dmain", model.d_step)
        model.r1_step = in_phase("Dreg", model.r1_step)

        def sample_z(rows):
            z = data[f"z_{phase['name']}"]
            # Greg takes the first batch // pl_batch_shrink rows of its latents (loss.py).
            return tf.constant(z[:2] if phase["name"] == "Greg" else z)

        def mix_styles(ws, labels):
            name = phase["name"]
            ws2 = model.generator.mapping(tf.constant(data[f"mix_z_{name}"]), labels,
                                          skip_w_avg_update=True, training=True)
            return crossover(ws, ws2, int(data[f"mix_cutoff_{name}"]))

        model.sample_z = sample_z
        model.mix_styles = mix_styles
        model._pl_noise = lambda rows: tf.constant(_nhwc(data["pl_noise"]))

        # Each phase's gradients as its optimizer receives them, kept in variables.
        named = transfer.named_variables(model)
        names = {id(v): k for k, v in named.items()}
        grads_seen = {(p, k): tf.Variable(tf.zeros(v.shape), trainable=False)
                      for p in ("Gmain", "Greg", "Dmain", "Dreg") for k, v in named.items()
                      if v.trainable and not k.startswith("generator_ema/")}
        apply_gradients = model.apply_gradients

        def recording(optimizer, grads, variables):
            for grad, variable in zip(grads, variables, strict=True):
                if grad is not None:
                    grads_seen[(phase["name"], names[id(variable)])].assign(grad)
            return apply_gradients(optimizer, grads, variables)

        model.apply_gradients = recording
        return grads_seen

    def _r1_sensitivity(self, keys):
        """How much each R1 gradient moves when the reals move by 1e-6 (relative): R1's
        gradients reach the weights before the epilogue only through the minibatch-stddev
        curvature, ``sqrt(var + 1e-8)`` over groups of 2, largest where two samples'
        features nearly coincide, so float32 rounding differences between two correct
        implementations are amplified there (measured: ~850x for b16's biases, ~1x in b4)."""
        model = self._model()
        variables = transfer.named_variables(model)
        for key, variable in variables.items():
            variable.assign(self._official("init", key))
        reals = tf.constant(_nhwc(self.data["reals"]))

        def r1_grads(x):
            with tf.GradientTape() as tape:
                r1, _ = model.compute_r1(x, None)
                loss = tf.reduce_sum(r1)
            return tape.gradient(loss, [variables[k] for k in keys])

        a, b = r1_grads(reals), r1_grads(reals * (1 + 1e-6))
        # None: R1 does not depend on it (D's output bias; the official reports zeros).
        return {k: 0.0 if x is None else float(np.max(np.abs(x - y)) / np.max(np.abs(x)))
                for k, x, y in zip(keys, a, b, strict=True)}

    def _ours(self, variables, net, key):
        ours_key = f"{net}/{key.replace('.', '/')}"
        if ours_key not in variables:  # noise_const and noise_strength live under noise/
            parts = key.split(".")
            ours_key = f"{net}/{'/'.join(parts[:-1])}/noise/{parts[-1]}"
        return ours_key

    def test_one_iteration_equals_the_official_one(self):
        model = self._model()
        variables = transfer.named_variables(model)
        for key, variable in variables.items():
            variable.assign(self._official("init", key))
        grads = self._inject(model)
        reals = tf.constant(_nhwc(self.data["reals"]))
        dataset = tf.data.Dataset.from_tensors((reals, tf.zeros([4], tf.int32))).repeat()
        model.make_train_function()
        logs = model.train_function(iter(dataset))
        self.assertGreater(float(logs["r1"]), 0.0)  # both regularisation phases ran
        self.assertGreater(float(logs["pl_penalty"]), 0.0)

        # 1. Every phase's gradient of every weight equals the official one: Gmain, Greg,
        # Dmain to 1e-4 of the tensor's largest gradient; Dreg within 30x the spread that a
        # 1e-6 change of the reals makes (`_r1_sensitivity`).
        nets = {"G": "generator", "D": "discriminator"}
        official_grads = [k for k in self.data if k.startswith("grad_")]
        self.assertLen(official_grads, 42 + 42 + 18 + 18)
        dreg_keys = [self._ours(variables, "discriminator", k.split(".", 1)[1])
                     for k in official_grads if k.startswith("grad_Dreg/")]
        sensitivity = self._r1_sensitivity(dreg_keys)
        over = {}
        for name in official_grads:
            phase_name, rest = name[len("grad_"):].split("/", 1)
            net, key = rest.split(".", 1)
            ours_key = self._ours(variables, nets[net], key)
            theirs = to_ours(key, self.data[name])
            ours = grads[(phase_name, ours_key)].numpy()
            scale = float(np.max(np.abs(theirs)))
            if scale == 0.0:  # D's output bias in Dreg: zero on both sides
                self.assertAllEqual(ours, theirs, msg=name)
                continue
            error = float(np.max(np.abs(ours - theirs))) / scale
            allowed = 1e-4 + (30 * sensitivity[ours_key] if phase_name == "Dreg" else 0.0)
            if error > allowed:
                over[f"{phase_name} {ours_key}"] = (error, allowed)
        self.assertEqual(over, {})

        # 2. Our lazy Adam maps the official gradients to the official weights: each
        # network's two steps (main, then regularisation) on a fresh model.
        fresh = self._model()
        fresh_vars = transfer.named_variables(fresh)
        for key, variable in fresh_vars.items():
            variable.assign(self._official("init", key))
        for optimizer, net, phases in ((fresh.g_optimizer, "G", ("Gmain", "Greg")),
                                       (fresh.d_optimizer, "D", ("Dmain", "Dreg"))):
            for phase_name in phases:
                pairs = []
                for name in official_grads:
                    if name.startswith(f"grad_{phase_name}/{net}."):
                        key = name.split(".", 1)[1]
                        pairs.append((tf.constant(to_ours(key, self.data[name])),
                                      fresh_vars[self._ours(fresh_vars, nets[net], key)]))
                optimizer.apply_gradients(pairs)
        for key, variable in fresh_vars.items():
            if variable.trainable and not key.startswith("generator_ema/"):
                self.assertAllClose(variable.numpy(), self._official("after", key),
                                    atol=2e-6, rtol=0, msg=key)

        # 3. The statistics and buffers that no optimizer touches: w_avg (three mapping
        # calls' moving average), the const noise, pl_mean.
        buffers = [k for k in variables if k.endswith(("w_avg", "noise_const"))]
        self.assertLen(buffers, 2 * (1 + 5))  # G and G_ema: w_avg, 5 layers' noise
        for key in buffers:
            self.assertAllClose(variables[key].numpy(), self._official("after", key),
                                atol=1e-6, rtol=1e-5, msg=key)
        self.assertAllClose(float(model.pl_mean.numpy()), float(self.data["after/pl_mean"]),
                            rtol=1e-5, atol=1e-9)

        # 4. The G EMA (beta 0 at cur_nimg 0 with the ramp-up) made G_ema equal G, and the
        # official step moved every network.
        for key, variable in variables.items():
            if key.startswith("generator_ema/"):
                self.assertAllEqual(variable.numpy(),
                                    variables["generator/" + key.split("/", 1)[1]].numpy())
        for net in ("G", "D", "G_ema"):
            moved = max(float(np.max(np.abs(self.data[k] - self.data["init/" + k[6:]])))
                        for k in self.data if k.startswith(f"after/{net}.")
                        and self.data[k].size)
            self.assertGreater(moved, 1e-3, net)


if __name__ == "__main__":
    tf.test.main()
