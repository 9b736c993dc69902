"""`MetricsCallback`: quality metrics every N steps during training.

The values are added to the batch `logs` of the step they are computed at, so the callbacks
after this one see them: `tfdisgan.callbacks.JsonlLogger` writes them into log.jsonl and
TensorBoard (when the step is a tick), and `CheckpointSaver` keeps ``checkpoints/best`` by
`--best_metric`. Each evaluation is also appended to ``RUN_DIR/metric-<name>.jsonl`` with
its kimg, like stylegan2-ada's training loop.

Place it after `NaNGuard` and before `CheckpointSaver` and `JsonlLogger`.
"""

import keras
import tensorflow as tf

from tfdisgan.metrics import core, features


class MetricsCallback(keras.callbacks.Callback):
    """Computes metrics of the EMA generator every `every_steps` steps.

    Args:
        metrics: list of str, metric names or aliases (`core.METRICS`).
        data: str, dataset spec of the reals.
        every_steps: int >= 1, steps between evaluations.
        run_dir: str or None, folder of the `metric-<name>.jsonl` files.
        num_gen: int or None, fakes per metric (default the standard counts).
        feature_net: str, "inception" | "keras_inceptionv3".
        inception: str or None, path of the Inception weights.
        network: `features.FeatureNetwork` or None, instead of `feature_net`.
        resolution: int or None, image side.
        classes: None or class ids of the reals.
        batch_size: int, images per generator / feature-network call.
        cache_dir: str or None, real-feature cache.
        writer: `tf.summary` writer or None: if given, the values are also written under
            ``Metrics/<key>`` (not needed with JsonlLogger, which writes every log key).
        step_offset: int, global step of the first batch (when resuming).
        at_end: bool, evaluate at train end too when the last step was not an evaluation.
        seed: int, seed of the evaluation's latents (the same fakes at every evaluation).

    Raises:
        ValueError: unknown metric or every_steps < 1.
    """

    def __init__(self, metrics, data, every_steps, run_dir=None, num_gen=None,
                 feature_net="inception", inception=None, network=None, resolution=None,
                 inception_sha256=None,
                 classes=None, batch_size=64, cache_dir=None, writer=None, step_offset=0,
                 at_end=True, seed=0):
        super().__init__()
        if every_steps < 1:
            raise ValueError(f"every_steps must be >= 1. Received every_steps={every_steps}")
        self.metrics = core.resolve_metrics(metrics)
        self.data, self.every_steps, self.run_dir = data, int(every_steps), run_dir
        self.num_gen, self.feature_net, self.inception = num_gen, feature_net, inception
        self.inception_sha256 = inception_sha256
        self.network, self.resolution, self.classes = network, resolution, classes
        self.batch_size, self.cache_dir, self.writer = batch_size, cache_dir, writer
        self.step, self.at_end, self.seed = step_offset, at_end, seed
        self.last_step = None
        self.last_results = {}

    def on_train_begin(self, logs=None):
        # Fail before the first step, not hours later, when the weights are missing.
        needs_features = any(core.METRICS[m].uses_features for m in self.metrics)
        if needs_features and self.network is None:
            self.network = features.get_feature_network(self.feature_net, self.inception,
                                                        self.batch_size, self.inception_sha256)

    def evaluate(self):
        """Runs the metrics now; returns the flat {key: value} results."""
        kimg = round(float(self.model.cur_nimg.numpy()) / 1000.0, 3)
        records = core.calc_metrics(
            self.model, self.data, self.metrics, num_gen=self.num_gen,
            feature_net=self.feature_net, inception=self.inception, network=self.network,
            resolution=self.resolution, classes=self.classes, seed=self.seed,
            batch_size=self.batch_size, cache_dir=self.cache_dir, run_dir=self.run_dir,
            extra={"kimg": kimg, "step": self.step}, verbose=False,
        )
        results = core.flat_results(records)
        if self.writer is not None:
            with self.writer.as_default():
                for key, value in results.items():
                    tf.summary.scalar(f"Metrics/{key}", value,
                                      step=int(self.model.cur_nimg.numpy()))
            self.writer.flush()
        self.last_step, self.last_results = self.step, results
        return results

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        if self.step % self.every_steps == 0:
            results = self.evaluate()
            if logs is not None:
                logs.update(results)

    def on_train_end(self, logs=None):
        if self.at_end and self.last_step != self.step and self.step > 0:
            results = self.evaluate()
            if logs is not None:
                logs.update(results)
