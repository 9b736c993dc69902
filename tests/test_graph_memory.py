"""tfdisgan.graph_memory: traced graphs are freed, not kept by TensorFlow's gradient
registry (each traced train step was kept for good; a worker of this suite grew past 13 GB
and was killed)."""

import gc
import weakref

import keras
import tensorflow as tf

from tests.runs.harness import RunState, changed, initial_weights, tiny_config
from tfdisgan import graph_memory, optimizers, training


def _traced_optimizer_step():
    """A traced Keras optimizer step (its cross-replica gradient sum is a custom gradient)
    and a weak reference to its graph."""
    variable = tf.Variable(tf.ones([3]))
    optimizer = keras.optimizers.Adam(0.1)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(variable))
        optimizer.apply_gradients([(tape.gradient(loss, variable), variable)])

    concrete = step.get_concrete_function()
    step()
    return weakref.ref(concrete.graph)


class ReleaseTest(tf.test.TestCase):
    def test_a_released_block_frees_its_traced_graph(self):
        before = graph_memory.custom_gradient_names()
        graph = _traced_optimizer_step()
        gc.collect()
        made = graph_memory.custom_gradient_names() - before
        self.assertNotEmpty(made)  # Keras registered some, holding the graph
        self.assertIsNotNone(graph())
        with graph_memory.released_custom_gradients():
            inner = _traced_optimizer_step()
        gc.collect()
        self.assertIsNone(inner())  # released after the block
        self.assertIsNotNone(graph())  # entries made before the block stay
        self.assertEqual(graph_memory.custom_gradient_names() - before, made)
        self.assertEqual(graph_memory.release_custom_gradients(keep=before), len(made))
        gc.collect()
        self.assertIsNone(graph())

    def test_a_stylegan2_run_leaves_no_registry_entry(self):
        # The main model on its defaults (R1 and path length both step at step 0, R1
        # through ADA's upfirdn2d to second order), with our lean Adam.
        before = graph_memory.custom_gradient_names()
        config = tiny_config("stylegan2", self.get_temp_dir(), steps=1, augment="ada")
        start = initial_weights(config)
        run_dir = training.run(config, verbose=False)
        self.assertEqual(graph_memory.custom_gradient_names(), before)
        state = RunState(run_dir, config)
        self.assertIsInstance(state.model.g_optimizer, optimizers.Adam)
        self.assertIsInstance(state.model.d_optimizer, optimizers.Adam)
        # Gmain + Greg and Dmain + Dreg all stepped, and moved their networks.
        self.assertEqual(int(state.model.g_optimizer.iterations.numpy()), 2)
        self.assertEqual(int(state.model.d_optimizer.iterations.numpy()), 2)
        after = state.weights()
        self.assertNotEmpty(changed(after, start, "generator/", atol=1e-7))
        self.assertNotEmpty(changed(after, start, "discriminator/", atol=1e-7))

if __name__ == "__main__":
    tf.test.main()
