"""tfdisgan.graph_memory: traced graphs are freed, not kept by TensorFlow's gradient
registry (each traced train step was kept for good; a worker of this suite grew past 13 GB
and was killed). That a whole `training.run` leaves no entry is asserted by every case of
tests/runs/test_augment_matrix.py (StyleGAN2 + ADA among them: R1 through upfirdn2d to
second order)."""

import gc
import weakref

import keras
import tensorflow as tf

from tfdisgan import graph_memory


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

if __name__ == "__main__":
    tf.test.main()
