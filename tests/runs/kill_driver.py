"""Runs `training.run` and dies by SIGKILL at a chosen point (for the resume tests).

    python -m tests.runs.kill_driver CONFIG.json POINT

CONFIG.json holds a `TrainConfig` as a dict. POINT is one of:
    after_step:N   the process dies right after step N's callbacks (nothing flushed after);
    mid_save:N     dies while saving checkpoint N: its files are written, the `checkpoint`
                   index is not updated yet (TensorFlow records a checkpoint last);
    torn_save:N    checkpoint N is saved and recorded, then its data file is cut to half
                   its size (a full disk, a copy cut short) and the process dies.
"""

import json
import os
import signal
import sys

import tensorflow as tf

from tfdisgan import callbacks, training


def _die():
    sys.stdout.flush()
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def main(config_path, point):
    with open(config_path, encoding="utf-8") as handle:
        values = json.load(handle)
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    config = training.TrainConfig(**values)
    kind, number = point.split(":")
    number = int(number)
    if kind == "after_step":
        original = callbacks.JsonlLogger.on_train_batch_end

        def after_step(self, batch, logs=None):
            original(self, batch, logs)
            if self.step == number:
                _die()

        callbacks.JsonlLogger.on_train_batch_end = after_step
    elif kind in ("mid_save", "torn_save"):
        original_save = tf.train.CheckpointManager.save

        def save(self, checkpoint_number=None, **kwargs):
            if checkpoint_number != number:
                return original_save(self, checkpoint_number=checkpoint_number, **kwargs)
            if kind == "mid_save":
                self._checkpoint.write(f"{self._prefix}-{number}")
                _die()
            path = original_save(self, checkpoint_number=checkpoint_number, **kwargs)
            data = tf.io.gfile.glob(f"{path}.data-*")[0]
            with open(data, "r+b") as handle:
                handle.truncate(os.path.getsize(data) // 2)
            _die()

        tf.train.CheckpointManager.save = save
    else:
        raise SystemExit(f"unknown point {point!r}")
    training.run(config, verbose=False)
    raise SystemExit(f"{point} was never reached")


if __name__ == "__main__":
    main(*sys.argv[1:])
