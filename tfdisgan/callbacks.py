"""Keras callbacks for GAN runs: sample grids, checkpoints, JSONL/TensorBoard logs, NaN guard.

They work with `model.fit` and with the training loop of `tfdisgan.training` alike (which
drives them through `keras.callbacks.CallbackList`). Step counts are global train steps;
`logs` are the model's tracker results.

Example:
    >>> model.fit(ds, steps_per_epoch=100, epochs=10, callbacks=[
    ...     SnapshotGrid("runs/x", every_steps=200), NaNGuard()])
"""

import json
import math
import os
import resource
import time

import keras
import numpy as np
import tensorflow as tf

from tfdisgan.checkpoint_files import write_index
from tfdisgan.images import image_grid, save_png  # noqa: F401 - also callbacks' names


class TrainingDiverged(RuntimeError):
    """A loss or metric became NaN/Inf; training stopped before saving the bad state."""


def grid_labels(num_images, num_classes, columns):
    """Class ids for a sample grid: one class per row, cycling; None when unconditional."""
    if not num_classes:
        return None
    return (np.arange(num_images) // columns % num_classes).astype(np.int32)


class SnapshotGrid(keras.callbacks.Callback):
    """Writes a grid of EMA-generator samples at fixed seeds every `every_steps` steps.

    Files are `fakesNNNNNN.png` named by kimg (like stylegan2-ada), plus a TensorBoard image
    summary when `writer` is given. Conditional models get one class per grid row.

    Args:
        outdir: str, run folder.
        every_steps: int, steps between grids (also written at train end).
        seeds: sequence of int, latent seeds (default 0..31).
        columns: int, grid width (default 8).
        psi: float, truncation for the grid.
        writer: `tf.summary` writer or None.
        step_offset: int, global step of the first batch (when resuming).
    """

    def __init__(self, outdir, every_steps, seeds=None, columns=8, psi=1.0, writer=None,
                 step_offset=0):
        super().__init__()
        if every_steps < 1:
            raise ValueError(f"every_steps must be >= 1. Received every_steps={every_steps}")
        self.outdir, self.every_steps = outdir, int(every_steps)
        self.seeds = list(range(32) if seeds is None else seeds)
        self.columns, self.psi, self.writer = columns, psi, writer
        self.step = step_offset
        self.last_path = None

    def write(self):
        model = self.model
        labels = grid_labels(len(self.seeds), model.num_classes, self.columns)
        images = model.generate(seeds=self.seeds, labels=labels, psi=self.psi)
        grid = image_grid(images, self.columns)
        kimg = int(model.cur_nimg.numpy()) // 1000
        path = os.path.join(self.outdir, f"fakes{kimg:06d}.png")
        save_png(grid, path)
        self.last_path = path
        if self.writer is not None:
            with self.writer.as_default():
                tf.summary.image("Samples/fakes", grid[None], step=tensorboard_step(model))
        return path

    def on_train_begin(self, logs=None):
        if self.step == 0:
            self.write()

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        if self.step % self.every_steps == 0:
            self.write()

    def on_train_end(self, logs=None):
        if self.last_path is None or not self.last_path.endswith(
            f"{int(self.model.cur_nimg.numpy()) // 1000:06d}.png"
        ):
            self.write()


def non_finite_weights(model):
    """Paths of `model`'s floating-point variables holding a NaN or Inf (empty: all finite)."""
    floats = [v for v in model.weights if "float" in str(v.dtype)]
    if not floats:
        return []
    finite = tf.stack([tf.reduce_all(tf.math.is_finite(v)) for v in floats]).numpy()
    return [v.path for v, ok in zip(floats, finite, strict=True) if not ok]


class CheckpointSaver(keras.callbacks.Callback):
    """Saves a `tf.train.CheckpointManager` every `every_steps` steps and at train end.

    TensorFlow writes the checkpoint files first and then atomically replaces the
    `checkpoint` index file, so a process killed at any moment leaves the previous
    checkpoint intact and `latest_checkpoint` never points at a partial one.

    Args:
        manager: `tf.train.CheckpointManager` (keep-last-N is its `max_to_keep`).
        step_variable: int64 `tf.Variable` holding the global step (saved in the checkpoint).
        every_steps: int, steps between saves.
        best_manager: optional `tf.train.CheckpointManager` for the best value of `monitor`.
        monitor: str, log key for `best_manager` (lower is better unless `mode="max"`).
        batch_size: int, the global batch: after each save, the folder's ``index.json``
            lists the kept checkpoints with their kimg (`checkpoint_files.write_index`);
            None writes no index.
    """

    def __init__(self, manager, step_variable, every_steps, best_manager=None, monitor=None,
                 mode="min", batch_size=None):
        super().__init__()
        self.batch_size = batch_size
        self.manager, self.step_variable = manager, step_variable
        self.every_steps = int(every_steps)
        self.best_manager, self.monitor, self.mode = best_manager, monitor, mode
        self.best = None
        self.last_saved = None
        self._step = None  # the step on the host: reading the variable waits for the device

    def on_train_begin(self, logs=None):
        self._step = int(self.step_variable.numpy())

    def save(self):
        step = int(self.step_variable.numpy())
        if self.last_saved != step:
            # The losses of a step are computed before its updates: weights can turn
            # non-finite one step before any logged value does. Never save them.
            bad = non_finite_weights(self.model) if self.model is not None else []
            if bad:
                raise TrainingDiverged(
                    f"Non-finite weights ({', '.join(bad[:3])}{', ...' if len(bad) > 3 else ''}"
                    f") at step {step}; training stopped without saving them. The last "
                    "checkpoint before this step is intact: lower the learning rates, raise "
                    "r1_gamma or check the data, then resume.")
            self.manager.save(checkpoint_number=step)
            self.last_saved = step
            if self.batch_size:
                write_index(self.manager.directory, self.batch_size)
        return self.manager.latest_checkpoint

    def on_train_batch_end(self, batch, logs=None):
        self.step_variable.assign_add(1)
        if self._step is None:
            self._step = int(self.step_variable.numpy()) - 1
        self._step += 1
        step = self._step
        if step % self.every_steps == 0:
            self.save()
        if self.best_manager is not None and logs and self.monitor in logs:
            value = float(np.asarray(logs[self.monitor]).reshape(-1)[0])
            better = self.best is None or (
                value < self.best if self.mode == "min" else value > self.best
            )
            if better and math.isfinite(value):
                self.best = value
                self.best_manager.save(checkpoint_number=step)

    def on_train_end(self, logs=None):
        self.save()


def memory_stats():
    """Peak host RSS and current GPU memory in MB (what log.jsonl reports)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    stats = {"host_peak_mb": round(peak, 1)}
    for index, _ in enumerate(tf.config.list_physical_devices("GPU")):
        info = tf.config.experimental.get_memory_info(f"GPU:{index}")
        stats[f"gpu{index}_mb"] = round(info["current"] / 2**20, 1)
        stats[f"gpu{index}_peak_mb"] = round(info["peak"] / 2**20, 1)
    return stats


# TensorBoard tags grouped as stylegan2-ada-pytorch's (Loss/, Augment/, Timing/, ...), so
# the dashboards of both read alike; the x axis is the number of images shown (kimg x 1000:
# a tick of a small CPU run is a fraction of a kimg).
TENSORBOARD_TAGS = {
    "d_loss": "Loss/D/loss", "g_loss": "Loss/G/loss", "r1": "Loss/D/r1_penalty",
    "pl_penalty": "Loss/G/pl_penalty", "pl_mean": "Loss/G/pl_mean",
    "d_real": "Loss/scores/real", "d_fake": "Loss/scores/fake",
    "d_grad_norm": "Loss/D/grad_norm", "g_grad_norm": "Loss/G/grad_norm",
    "aug_p": "Augment/p", "kimg": "Progress/kimg", "img_per_s": "Timing/img_per_s",
    "sec_per_kimg": "Timing/sec_per_kimg", "host_peak_mb": "Resources/host_peak_mb",
    "device_peak_mb": "Resources/device_peak_mb",
}


def tensorboard_tag(key):
    """The TensorBoard tag of a log key (``Other/KEY`` for keys not in the table)."""
    return TENSORBOARD_TAGS.get(key, f"Other/{key}")


def tensorboard_step(model):
    """The x value of TensorBoard points: images shown so far."""
    return int(model.cur_nimg.numpy())


class JsonlLogger(keras.callbacks.Callback):
    """Appends one JSON line per tick to `log.jsonl` and writes TensorBoard scalars.

    A line holds step, kimg, every log value, img/s, sec/kimg and memory; ticks are every
    `tick_steps` steps. The model's metric trackers are reset after every line, so a
    tracker's value in a line is its mean over that tick.

    Args:
        path: str, the log.jsonl path (appended to, so a resumed run continues it).
        tick_steps: int, steps per tick.
        global_batch: int, images per step (for img/s and kimg).
        writer: `tf.summary` writer or None.
        step_offset: int, global step of the first batch (when resuming).
        on_tick: None or a callable given each line's dict once written (the console).
    """

    def __init__(self, path, tick_steps, global_batch, writer=None, step_offset=0,
                 on_tick=None):
        super().__init__()
        self.on_tick = on_tick
        self.path, self.tick_steps = path, int(tick_steps)
        self.global_batch, self.writer = int(global_batch), writer
        self.step = step_offset
        self.tick_start = None
        self.tick_first_step = step_offset
        self.last = None

    def on_train_begin(self, logs=None):
        self.tick_start = time.perf_counter()
        self.tick_first_step = self.step
        self._reset_trackers()

    def _reset_trackers(self):
        # Each line holds the means over its own tick (as StyleGAN2's training stats), not
        # since the start: the custom loop never resets the trackers the way `fit` does per
        # epoch. A run (or resume) starts at a tick boundary, so resets line up.
        for metric in getattr(self.model, "metrics", []):
            metric.reset_state()

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        if self.step % self.tick_steps == 0:
            self.write(logs)

    def write(self, logs):
        steps = self.step - self.tick_first_step
        if steps <= 0:
            return None
        seconds = time.perf_counter() - self.tick_start
        images = steps * self.global_batch
        entry = {
            "step": self.step,
            "kimg": round(int(self.model.cur_nimg.numpy()) / 1000.0, 3),
            "time": round(time.time(), 3),
        }
        for key, value in (logs or {}).items():
            entry[key] = float(np.asarray(value).reshape(-1)[0])
        entry["img_per_s"] = round(images / max(seconds, 1e-9), 3)
        entry["sec_per_kimg"] = round(seconds / images * 1000.0, 3)
        entry.update(memory_stats())
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry) + "\n")
        if self.writer is not None:
            with self.writer.as_default():
                for key, value in entry.items():
                    if key not in ("step", "time"):
                        tf.summary.scalar(tensorboard_tag(key), value,
                                          step=tensorboard_step(self.model))
            self.writer.flush()
        self.tick_start, self.tick_first_step = time.perf_counter(), self.step
        self.last = entry
        if self.on_tick is not None:
            self.on_tick(entry)
        self._reset_trackers()
        return entry

    def on_train_end(self, logs=None):
        if self.step != self.tick_first_step:
            self.write(logs)


class NaNGuard(keras.callbacks.Callback):
    """Stops training with `TrainingDiverged` as soon as any log value is NaN or Inf.

    Place it first in the callback list: the checkpoint callbacks after it then never save
    the diverged state, so the last good checkpoint stays the latest.
    """

    def __init__(self, step_offset=0):
        super().__init__()
        self.step = step_offset

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        bad = [
            key for key, value in (logs or {}).items()
            if not np.all(np.isfinite(np.asarray(value, dtype=np.float64)))
        ]
        if bad:
            raise TrainingDiverged(
                f"Non-finite {', '.join(sorted(bad))} at step {self.step}; training stopped. "
                "The last checkpoint before this step is intact: lower the learning rates, "
                "raise r1_gamma or check the data, then resume."
            )
