"""Measure a trained network (what scripts/metrics.py runs): any ``--network`` form, the
reals of its own run by default, results appended to its run folder's metric files."""

from tfdisgan import export, runs
from tfdisgan.metrics import core, features


def run(config, verbose=True):
    """`measure` with a `config.MetricsConfig` (what scripts/metrics.py calls)."""
    from tfdisgan._validate import check_psi

    check_psi(config.psi, "--psi")
    return measure(config.network, config.metrics, data=config.data, num_gen=config.num_gen,
                   feature_net=config.feature_net, inception=config.inception,
                   inception_sha256=config.inception_sha256, psi=config.psi,
                   seed=config.seed, batch_size=config.batch, cache_dir=config.cache_dir,
                   run_dir=config.run_dir, verbose=verbose)


def measure(network, metrics=("fid50k_full",), data=None, num_gen=None,
            feature_net="inception", inception=None, psi=1.0, seed=0, batch_size=64,
            cache_dir=None, run_dir=None, verbose=True, inception_sha256=None):
    """Computes `metrics` of the generator `network` names; returns their records.

    Args:
        network: a run folder (its newest checkpoint), a checkpoint prefix or a SavedModel.
        metrics: names or aliases (`tfdisgan.metrics.core.resolve_metrics`).
        data: the reals (None: the run's own ``--data``; required for a SavedModel).
        num_gen: fakes per metric instead of the standard counts (renames the metric).
        feature_net, inception: the FID/KID/PR feature network and its weights.
        inception_sha256: the digest of the Inception graph the user checked (FID/KID are
            then labelled comparable; `features.get_feature_network`).
        psi, seed, batch_size, cache_dir: as `tfdisgan.metrics.core.calc_metrics`.
        run_dir: where ``metric-NAME.jsonl`` is appended (None: the network's run folder;
            nothing for a SavedModel).
        verbose: print each result.

    Raises:
        ValueError: a bad metric name, ``num_gen`` or ``psi`` (naming the flag).
        features.InceptionNotFoundError: the feature network's weights are missing (checked
            before the network is rebuilt or sampled).
        runs.NetworkError: nothing loadable at `network`.
        data.DatasetError: the reals cannot be read.
    """
    try:
        names = core.resolve_metrics(metrics)
    except ValueError as error:
        raise ValueError(f"--metrics: {error}") from None
    if num_gen is not None and num_gen < 2:
        raise ValueError(f"--num_gen: must be >= 2, got {num_gen}")
    kind = export.resolve_network(network)
    snapshot, own_run = (kind[1], kind[2]) if kind[0] == "checkpoint" else (None, None)
    if data is None:
        if own_run is None:
            raise ValueError("--data is required for a SavedModel --network")
        data = runs.read_run_config(own_run)["data"]
    if any(core.METRICS[m].uses_features for m in names):
        features.get_feature_network(feature_net, inception, batch_size, inception_sha256)
    view = export.load_network(network, batch_size=batch_size)
    extra = {}
    if hasattr(getattr(view, "model", None), "cur_nimg"):  # checkpoints know their kimg
        extra["kimg"] = round(float(view.model.cur_nimg.numpy()) / 1000.0, 3)
    return core.calc_metrics(
        view, data, names, num_gen=num_gen, feature_net=feature_net, inception=inception,
        inception_sha256=inception_sha256,
        psi=psi, seed=seed, batch_size=batch_size, cache_dir=cache_dir,
        run_dir=run_dir or own_run, snapshot=snapshot, extra=extra, verbose=verbose)
