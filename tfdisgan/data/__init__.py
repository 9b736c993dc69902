"""Data: image folders -> TFRecord shards -> tf.data, plus the built-in procedural scenes."""

from tfdisgan.data.folder import RejectedImage, decode_image, scan_source
from tfdisgan.data.pipeline import DatasetInfo, describe, load_dataset
from tfdisgan.data.procedural import CLASS_NAMES as PROCEDURAL_CLASSES
from tfdisgan.data.tfrecords import DatasetError, build_dataset, read_manifest

__all__ = [
    "DatasetError",
    "DatasetInfo",
    "PROCEDURAL_CLASSES",
    "RejectedImage",
    "build_dataset",
    "decode_image",
    "describe",
    "load_dataset",
    "read_manifest",
    "scan_source",
]
