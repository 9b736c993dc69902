"""Data: image folders -> TFRecord shards -> tf.data, plus the built-in procedural scenes.

Names are imported on first use: `folder` and `procedural` need only NumPy and Pillow, so
the dataset tool's spawned decode workers start without importing TensorFlow.
"""

import importlib

_EXPORTS = {
    "RejectedImage": "tfdisgan.data.folder",
    "decode_image": "tfdisgan.data.folder",
    "scan_source": "tfdisgan.data.folder",
    "DatasetInfo": "tfdisgan.data.pipeline",
    "describe": "tfdisgan.data.pipeline",
    "load_dataset": "tfdisgan.data.pipeline",
    "DatasetError": "tfdisgan.data.tfrecords",
    "build_dataset": "tfdisgan.data.tfrecords",
    "read_manifest": "tfdisgan.data.tfrecords",
}

__all__ = sorted([*_EXPORTS, "PROCEDURAL_CLASSES"])


def __getattr__(name):
    if name == "PROCEDURAL_CLASSES":
        value = importlib.import_module("tfdisgan.data.procedural").CLASS_NAMES
    elif name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    else:
        raise AttributeError(f"module 'tfdisgan.data' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return __all__
