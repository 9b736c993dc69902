"""Feature networks for FID, KID and precision/recall.

"inception" (the default) is the network every FID paper uses: the Inception graph of
``inception-2015-12-05.tgz`` (``classify_image_graph_def.pb``), pool3 features, 2048-d. It
is imported as a TF1 GraphDef with `tf.compat.v1.wrap_function` and fed like the reference
code: TTUR's `fid.py` feeds float32 images in [0, 255] of any size to the tensor
``ExpandDims:0`` (the batch dimension the graph adds after ``DecodeJpeg`` / ``Cast``); the
graph itself then resizes them bilinearly to 299 x 299 and maps them to [-1, 1]
(``ResizeBilinear``, ``Sub``, ``Mul``), and ``pool_3:0`` is [N, 1, 1, 2048].
stylegan2-ada-pytorch's `inception-2015-12-05.pt` is a direct translation of the same graph
fed uint8 images, so feeding uint8 generator output here gives the numbers of its tables.

The file is looked for at ``--inception=PATH`` (the .pb, the .tgz, or a folder holding
either), then in the Keras cache (``$KERAS_HOME/models``, default ``~/.keras/models``).
There is no silent fallback: when it is missing, `InceptionNotFoundError` says how to get
it.

"keras_inceptionv3" is `keras.applications.InceptionV3(pooling="avg")` with ImageNet
weights from the Keras cache. Its weights differ from the 2015 graph, so every result made
with it is labelled "not comparable with published FID".

Example:
    >>> net = get_feature_network("inception", inception="/data/inception-2015-12-05.tgz")
    >>> features = net(uint8_images)             # float32 [N, 2048]
"""

import abc
import hashlib
import os
import tarfile

import numpy as np
import tensorflow as tf

INCEPTION_URL = "http://download.tensorflow.org/models/image/imagenet/inception-2015-12-05.tgz"
INCEPTION_TGZ = "inception-2015-12-05.tgz"
INCEPTION_GRAPH = "classify_image_graph_def.pb"
INCEPTION_INPUT = "ExpandDims:0"
INCEPTION_OUTPUT = "pool_3:0"
KERAS_INCEPTION_V3_WEIGHTS = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
KERAS_INCEPTION_V3_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/"
    + KERAS_INCEPTION_V3_WEIGHTS
)
FEATURE_NETS = ("inception", "keras_inceptionv3")
NOT_COMPARABLE = "not comparable with published FID"
# sha256 digests of classify_image_graph_def.pb as inception-2015-12-05.tgz holds it, the
# graph every published FID was computed with. FID and KID are labelled comparable with
# papers only for a graph whose digest is listed here or that the user vouches for
# (`inception_sha256=`, `--inception_sha256`): a node name or a feature size can be copied
# by any graph. No copy of the official file could be checked where tfdisgan is developed
# (no network there), so the table is empty rather than holding a digest nobody verified;
# a maintainer who has checked the official file adds its digest here.
VERIFIED_INCEPTION_SHA256 = frozenset()


class InceptionNotFoundError(FileNotFoundError):
    """The weights of a feature network are not on this machine (the message says how to
    get them)."""


def keras_cache_dir():
    """``$KERAS_HOME/models`` (default ``~/.keras/models``), where Keras keeps weights."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return os.path.join(home, "models")


def _how_to_get_inception(looked):
    cache = keras_cache_dir()
    return (
        "The standard FID Inception network (inception-2015-12-05, pool3) was not found; "
        f"looked at: {', '.join(looked)}. Download it on a machine with internet access:\n"
        f"    mkdir -p {cache} && curl -L -o {os.path.join(cache, INCEPTION_TGZ)} "
        f"{INCEPTION_URL}\n"
        "(or `python -c 'from tfdisgan.metrics import features; "
        "features.download_inception()'`) and pass --inception=PATH to the .tgz, to the "
        f"{INCEPTION_GRAPH} inside it, or to a folder holding either. "
        "--feature_net=keras_inceptionv3 is an alternative whose numbers are "
        f"{NOT_COMPARABLE}."
    )


def find_inception(path=None):
    """Resolves the Inception GraphDef: an explicit path, else the Keras cache.

    Args:
        path: str or None: a ``.pb`` file, a ``.tgz`` holding ``classify_image_graph_def.pb``,
            or a folder holding either (or an extracted ``inception-2015-12-05/``).

    Returns:
        str, the path of the .pb or .tgz file.

    Raises:
        InceptionNotFoundError: nothing usable there; the message gives the download URL.
    """
    def candidates(folder):
        return [os.path.join(folder, INCEPTION_GRAPH), os.path.join(folder, INCEPTION_TGZ),
                os.path.join(folder, "inception-2015-12-05", INCEPTION_GRAPH)]

    if path:
        path = os.path.expanduser(os.fspath(path))
        looked = candidates(path) if os.path.isdir(path) else [path]
    else:
        looked = candidates(keras_cache_dir())
    for candidate in looked:
        if os.path.isfile(candidate):
            return candidate
    raise InceptionNotFoundError(_how_to_get_inception(looked))


def read_graph_def(path):
    """Reads a serialized GraphDef from a .pb file or from the member of an Inception .tgz.

    Returns:
        `(graph_def, sha256_hex)` of the serialized bytes.

    Raises:
        InceptionNotFoundError: a .tgz without `classify_image_graph_def.pb`.
        ValueError: the bytes are not a GraphDef (message names the file).
    """
    path = os.fspath(path)
    if path.endswith((".tgz", ".tar.gz")):
        with tarfile.open(path, "r:gz") as archive:
            member = next((m for m in archive.getmembers()
                           if os.path.basename(m.name) == INCEPTION_GRAPH), None)
            if member is None:
                raise InceptionNotFoundError(
                    f"{path!r} holds no {INCEPTION_GRAPH}; it is not {INCEPTION_TGZ} "
                    f"({INCEPTION_URL})"
                )
            data = archive.extractfile(member).read()
    else:
        with open(path, "rb") as handle:
            data = handle.read()
    graph_def = tf.compat.v1.GraphDef()
    try:
        graph_def.ParseFromString(data)
    except Exception as error:  # protobuf raises its own DecodeError type
        raise ValueError(f"{path!r} is not a TensorFlow GraphDef: {error}") from None
    return graph_def, hashlib.sha256(data).hexdigest()


def download_inception(cache_dir=None):
    """Downloads inception-2015-12-05.tgz into the Keras cache (needs internet).

    Returns:
        str, the path of the .tgz.
    """
    import keras

    cache_dir = cache_dir or keras_cache_dir()
    os.makedirs(cache_dir, exist_ok=True)
    return keras.utils.get_file(INCEPTION_TGZ, INCEPTION_URL,
                                cache_dir=os.path.dirname(cache_dir),
                                cache_subdir=os.path.basename(cache_dir))


def _as_uint8_batches(images, batch_size):
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(f"images must be [N, H, W, 1 or 3]. Received shape={images.shape}")
    for start in range(0, images.shape[0], batch_size):
        batch = images[start:start + batch_size]
        if batch.shape[-1] == 1:  # grey images: the networks take RGB, as stylegan2-ada
            batch = np.repeat(batch, 3, axis=-1)
        yield batch


class FeatureNetwork(abc.ABC):
    """A callable mapping images to features: uint8 [N, H, W, C] -> float32 [N, dim].

    Attributes:
        name: str, the network's name as written into every result.
        comparable: bool, whether FID/KID with it are comparable with published numbers.
        note: str, "" or the "not comparable" label.
        fingerprint: str, identifies the weights (part of the statistics cache key).
        dim: int, feature size.
    """

    name = "features"
    comparable = False
    dim = None

    def __init__(self, fingerprint, batch_size=64):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1. Received batch_size={batch_size}")
        self.fingerprint, self.batch_size = fingerprint, int(batch_size)

    @property
    def note(self):
        return "" if self.comparable else NOT_COMPARABLE

    def describe(self):
        """The fields every result record carries about the feature network."""
        info = {"feature_net": self.name, "comparable_with_papers": self.comparable}
        if self.note:
            info["note"] = self.note
        return info

    @abc.abstractmethod
    def compute(self, batch):
        """Features of one uint8 RGB batch [b, H, W, 3] as an array [b, dim]."""

    def __call__(self, images):
        chunks = [np.asarray(self.compute(b), np.float32) for b in
                  _as_uint8_batches(images, self.batch_size)]
        if not chunks:
            raise ValueError("images is empty")
        features = np.concatenate(chunks, axis=0)
        return features.reshape(features.shape[0], -1)


class GraphDefFeatureNetwork(FeatureNetwork):
    """Features from a frozen TF1 GraphDef, fed at `input_name`, read at `output_name`.

    The whole graph is imported into a `tf.compat.v1.wrap_function`, with `input_name`
    replaced (``input_map``) by a float32 [None, None, None, 3] input, so the batch size is
    free and the ops before it (``DecodeJpeg``) never run.

    Args:
        graph_def: `tf.compat.v1.GraphDef`.
        input_name: str, tensor fed with float32 images in [0, 255] (``ExpandDims:0``).
        output_name: str, feature tensor (``pool_3:0``, [N, 1, 1, 2048]).
        name: str, recorded in results.
        fingerprint: str, e.g. the sha256 of the serialized graph.
        comparable: bool or None, whether this is the standard FID network (None: decided
            by `fingerprint`, the sha256 of the serialized graph, against
            `VERIFIED_INCEPTION_SHA256` and `trusted_sha256`).
        batch_size: int, images per call.
        trusted_sha256: str or None, a digest the user vouches for (they checked their copy
            of the official file): with ``comparable=None``, the graph is comparable when
            `fingerprint` is this or one of `VERIFIED_INCEPTION_SHA256`.

    Raises:
        ValueError: the graph has no tensor `input_name` or `output_name`.
    """

    def __init__(self, graph_def, input_name=INCEPTION_INPUT, output_name=INCEPTION_OUTPUT,
                 name="inception-2015-12-05", fingerprint="", comparable=None, batch_size=64,
                 trusted_sha256=None):
        super().__init__(fingerprint, batch_size)
        nodes = {node.name for node in graph_def.node}
        for tensor in (input_name, output_name):
            if tensor.split(":")[0] not in nodes:
                raise ValueError(f"The GraphDef has no tensor {tensor!r}; expected the "
                                 f"Inception graph of {INCEPTION_TGZ}")

        def imported(images):
            (features,) = tf.compat.v1.import_graph_def(
                graph_def, input_map={input_name: images}, return_elements=[output_name],
                name="feature_net",
            )
            return features

        self._function = tf.compat.v1.wrap_function(
            imported, [tf.TensorSpec([None, None, None, 3], tf.float32)]
        )
        self.dim = int(np.prod(self._function.outputs[0].shape[1:]))
        # Inception-v3's last block and its 2048-d pool: the shape of the FID network, used
        # for the label only (a copy of the shape is not the network).
        self.looks_like_inception = "mixed_10/join" in nodes and self.dim == 2048
        if comparable is None:
            trusted = set(VERIFIED_INCEPTION_SHA256)
            if trusted_sha256:
                trusted.add(trusted_sha256.lower())
            comparable = bool(fingerprint) and fingerprint.lower() in trusted
        self.name, self.comparable = name, bool(comparable)

    @property
    def note(self):
        if self.comparable or not self.looks_like_inception:
            return super().note
        return (f"{NOT_COMPARABLE} as far as tfdisgan can tell: the graph's sha256 "
                f"{self.fingerprint} is not a verified digest of {INCEPTION_TGZ} (if you "
                f"checked the file, pass --inception_sha256={self.fingerprint})")

    def compute(self, batch):
        return self._function(tf.constant(batch, tf.float32)).numpy()


class KerasInceptionV3FeatureNetwork(FeatureNetwork):
    """`keras.applications.InceptionV3(include_top=False, pooling="avg")`, ImageNet weights.

    Images are resized bilinearly to 299 x 299 and scaled to [-1, 1]
    (`inception_v3.preprocess_input`). NOT the FID network: results are labelled
    "not comparable with published FID".

    Args:
        weights: str or None, the notop .h5 file (default: the Keras cache).
        batch_size: int, images per call.

    Raises:
        InceptionNotFoundError: the weights are not in the Keras cache (they are never
            downloaded here; the message gives the URL).
    """

    name = "keras_inceptionv3"
    comparable = False

    def __init__(self, weights=None, batch_size=64):
        import keras

        check_available("keras_inceptionv3", weights)
        path = weights or os.path.join(keras_cache_dir(), KERAS_INCEPTION_V3_WEIGHTS)
        super().__init__(f"keras_inceptionv3:{os.path.getsize(path)}", batch_size)
        self.model = keras.applications.InceptionV3(
            include_top=False, weights=path, pooling="avg", input_shape=(299, 299, 3)
        )
        self.dim = 2048

    def compute(self, batch):
        images = tf.image.resize(tf.constant(batch, tf.float32), (299, 299), method="bilinear")
        return self.model(images / 127.5 - 1.0, training=False).numpy()


def check_available(feature_net="inception", inception=None, inception_sha256=None):
    """Checks that a feature network's weights are on this machine, without loading them.

    Raises:
        ValueError: unknown `feature_net`, a malformed `inception_sha256`.
        InceptionNotFoundError: the weights are missing (the message says how to get them).
    """
    if feature_net not in FEATURE_NETS:
        raise ValueError(f"feature_net must be one of {FEATURE_NETS}. Received "
                         f"feature_net={feature_net!r}")
    check_sha256(inception_sha256, feature_net)
    if feature_net == "inception":
        find_inception(inception)
        return
    path = inception or os.path.join(keras_cache_dir(), KERAS_INCEPTION_V3_WEIGHTS)
    if not os.path.isfile(path):
        raise InceptionNotFoundError(
            f"Keras InceptionV3 ImageNet weights not found at {path!r}. Download "
            f"{KERAS_INCEPTION_V3_URL} into {keras_cache_dir()} (or run "
            "keras.applications.InceptionV3(include_top=False) once online). Note: "
            f"feature_net=keras_inceptionv3 is {NOT_COMPARABLE}."
        )


_LOADED = {}


def check_sha256(inception_sha256, feature_net="inception"):
    """Checks `--inception_sha256`: 64 hex digits, with the Inception graph only.

    Returns:
        str or None, the digest in lower case.

    Raises:
        ValueError: naming `--inception_sha256`.
    """
    if not inception_sha256:
        return None
    digest = str(inception_sha256).strip().lower()
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ValueError(f"--inception_sha256 must be 64 hex digits (a sha256). Received "
                         f"{inception_sha256!r}")
    if feature_net != "inception":
        raise ValueError(f"--inception_sha256 vouches for the Inception graph; it does not "
                         f"apply to --feature_net={feature_net}")
    return digest


def get_feature_network(feature_net="inception", inception=None, batch_size=64,
                        inception_sha256=None):
    """The feature network by name, loaded once per process.

    Args:
        feature_net: str, "inception" (the standard FID network) or "keras_inceptionv3".
        inception: str or None, `--inception=PATH` (see `find_inception`); for
            "keras_inceptionv3" an optional path of its .h5 weights.
        batch_size: int, images per forward pass.
        inception_sha256: str or None, the sha256 of ``classify_image_graph_def.pb`` that
            the user checked: the graph found must have it, and its FID/KID are then
            labelled comparable with papers (see `VERIFIED_INCEPTION_SHA256`).

    Returns:
        `FeatureNetwork`.

    Raises:
        ValueError: unknown `feature_net`; a malformed `inception_sha256`, or a graph whose
            digest is not it (naming both).
        InceptionNotFoundError: weights missing (never a silent fallback).
    """
    if feature_net not in FEATURE_NETS:
        raise ValueError(f"feature_net must be one of {FEATURE_NETS}. Received "
                         f"feature_net={feature_net!r}")
    trusted = check_sha256(inception_sha256, feature_net)
    if feature_net == "inception":
        path = find_inception(inception)
        key = (feature_net, os.path.abspath(path), os.path.getmtime(path), batch_size,
               trusted)
        if key not in _LOADED:
            graph_def, digest = read_graph_def(path)
            if trusted and digest != trusted:
                raise ValueError(f"--inception_sha256: the graph in {path!r} has sha256 "
                                 f"{digest}, not {trusted}: it is not the file you checked")
            _LOADED[key] = GraphDefFeatureNetwork(graph_def, fingerprint=digest,
                                                  batch_size=batch_size, trusted_sha256=trusted)
    else:
        key = (feature_net, inception, batch_size)
        if key not in _LOADED:
            _LOADED[key] = KerasInceptionV3FeatureNetwork(inception, batch_size=batch_size)
    return _LOADED[key]
