"""tfdisgan.optimizers.Adam equals keras.optimizers.Adam bit for bit, in fewer graph ops."""

import keras
import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from tests.fixtures import two_replicas
from tfdisgan import optimizers

SHAPES = [(3, 3, 4, 8), (8,), (16, 16), ()]


def _train(cls, strategy=None, loss_scaled=False, steps=12, **kwargs):
    """Weights and slots after `steps` traced updates with gradients spanning 1e-2..1e2."""
    strategy = strategy or tf.distribute.get_strategy()
    rng = np.random.default_rng(0)
    init = [rng.standard_normal(s).astype("float32") for s in SHAPES]
    with strategy.scope():
        variables = [tf.Variable(x) for x in init]
        optimizer = cls(**kwargs)
        if loss_scaled:
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        optimizer.build(variables)

    @tf.function
    def step(grads):
        def replica(grads):
            optimizer.apply_gradients(zip(grads, variables, strict=True))

        strategy.run(replica, args=(grads,))

    for t in range(steps):
        r = np.random.default_rng(t + 1)
        scale = 10.0 ** (t % 5 - 2)
        step([tf.constant(r.standard_normal(s).astype("float32") * scale) for s in SHAPES])
    inner = optimizer.inner_optimizer if loss_scaled else optimizer
    return [v.numpy() for v in variables] + [v.numpy() for v in inner.variables]


def _op_count(cls):
    variables = [tf.Variable(tf.ones(s)) for s in SHAPES]
    optimizer = cls(learning_rate=0.01)
    optimizer.build(variables)
    fn = tf.function(lambda grads: optimizer.apply_gradients(zip(grads, variables, strict=True)))
    return len(fn.get_concrete_function([tf.TensorSpec(s) for s in SHAPES]).graph.get_operations())


class AdamTest(tf.test.TestCase, parameterized.TestCase):
    @parameterized.named_parameters(
        ("stylegan2_lazy", dict(learning_rate=0.0025 * 16 / 17, beta_1=0.0,
                                beta_2=0.99 ** (16 / 17), epsilon=1e-8)),
        ("dcgan", dict(learning_rate=2e-4, beta_1=0.5)),
        ("schedule", dict(learning_rate=keras.optimizers.schedules.ExponentialDecay(
            0.01, decay_steps=3, decay_rate=0.5), beta_1=0.9, beta_2=0.999)),
    )
    def test_bit_identical_to_keras(self, kwargs):
        expected = _train(keras.optimizers.Adam, **kwargs)
        got = _train(optimizers.Adam, **kwargs)
        for a, b in zip(expected, got, strict=True):
            np.testing.assert_array_equal(a, b)
        self.assertFalse(np.array_equal(expected[0], _train(keras.optimizers.Adam, steps=0,
                                                            **kwargs)[0]))

    def test_bit_identical_under_mirrored_strategy_and_loss_scaling(self):
        strategy = two_replicas(reduce_to_one_device=True)
        kwargs = dict(learning_rate=0.002, beta_1=0.0, beta_2=0.99)
        expected = _train(keras.optimizers.Adam, strategy, loss_scaled=True, **kwargs)
        got = _train(optimizers.Adam, strategy, loss_scaled=True, **kwargs)
        for a, b in zip(expected, got, strict=True):
            np.testing.assert_array_equal(a, b)

    def test_fewer_ops_and_config_round_trip(self):
        self.assertLess(_op_count(optimizers.Adam), 0.7 * _op_count(keras.optimizers.Adam))
        optimizer = optimizers.Adam(learning_rate=0.01, beta_1=0.0, beta_2=0.99)
        restored = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
        self.assertIsInstance(restored, optimizers.Adam)
        self.assertEqual(restored.get_config(), optimizer.get_config())


class TorchEpsilonTest(tf.test.TestCase):
    def test_torch_adam_update_with_gradients_near_epsilon(self):
        # torch.optim.Adam: m_hat / (sqrt(v_hat) + eps); Keras adds eps before the bias
        # correction. Gradients of 1e-8..1e-1 over 3 steps, lazy betas (0, 0.99 ** 0.8).
        beta_2, eps, lr = 0.99 ** 0.8, 1e-8, 0.002
        grads = [np.array([1e-8, -3e-8, 1e-7, 0.1, -2e-9], np.float32) * k
                 for k in (1.0, -0.5, 2.0)]
        want, m, v = np.zeros(5), np.zeros(5), np.zeros(5)
        for t, g in enumerate(grads, start=1):
            m = g.astype(np.float64)  # beta_1 = 0
            v = beta_2 * v + (1 - beta_2) * g.astype(np.float64) ** 2
            want = want - lr * m / (np.sqrt(v / (1 - beta_2**t)) + eps)
        results = {}
        for torch_epsilon in (True, False):
            variable = tf.Variable(np.zeros(5, np.float32))
            opt = optimizers.Adam(learning_rate=lr, beta_1=0.0, beta_2=beta_2, epsilon=eps,
                                  torch_epsilon=torch_epsilon)
            for g in grads:
                opt.apply_gradients([(tf.constant(g), variable)])
            results[torch_epsilon] = variable.numpy()
        self.assertAllClose(results[True], want, rtol=1e-5, atol=1e-9)
        # Keras' placement differs exactly where the gradient is near epsilon.
        self.assertGreater(np.abs(results[False][:3] - want[:3]).max(), 1e-4)
        self.assertAllClose(results[False][3], want[3], rtol=1e-5)

    def test_lazy_adam_uses_it_and_the_config_round_trips(self):
        from tfdisgan.models.stylegan2.presets import lazy_adam

        opt = lazy_adam(0.0025, interval=4)
        self.assertTrue(opt.torch_epsilon)
        clone = optimizers.Adam.from_config(opt.get_config())
        self.assertTrue(clone.torch_epsilon)
        self.assertFalse(optimizers.Adam().torch_epsilon)
        self.assertNotIn("torch_epsilon", optimizers.Adam().get_config())


if __name__ == "__main__":
    tf.test.main()
