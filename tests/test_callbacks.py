"""Tests of tfdisgan.callbacks.JsonlLogger's per-tick statistics."""

import json
import os

import keras
import tensorflow as tf

from tfdisgan import callbacks


class _Model(keras.Model):
    def __init__(self):
        super().__init__()
        self.loss_tracker = keras.metrics.Mean(name="d_loss")
        self.cur_nimg = tf.Variable(0, dtype=tf.int64)

    @property
    def metrics(self):
        return [self.loss_tracker]


class JsonlLoggerTest(tf.test.TestCase):
    def test_lines_hold_per_tick_means(self):
        path = os.path.join(self.get_temp_dir(), "log.jsonl")
        model = _Model()
        logger = callbacks.JsonlLogger(path, tick_steps=2, global_batch=4)
        logger.set_model(model)
        logger.on_train_begin()
        for step, value in enumerate([1.0, 3.0, 10.0, 20.0]):
            model.loss_tracker.update_state(value)
            model.cur_nimg.assign_add(4)
            logger.on_train_batch_end(step, {"d_loss": model.loss_tracker.result()})
        with open(path) as handle:
            lines = [json.loads(line) for line in handle]
        self.assertEqual([line["step"] for line in lines], [2, 4])
        # Means over each tick: (1 + 3) / 2 and (10 + 20) / 2, not 8.5 since the start.
        self.assertAllClose([line["d_loss"] for line in lines], [2.0, 15.0])
        self.assertEqual(lines[1]["kimg"], 0.016)
