"""Read PyTorch pickles of stylegan2-ada-pytorch networks without torch and without running
anything from them.

stylegan2-ada-pytorch writes ``network-snapshot-*.pkl`` with a plain ``pickle.dump`` of
``dict(G=..., D=..., G_ema=..., augment_pipe=..., training_set_kwargs=...)``. Every network
class is a ``torch_utils.persistence`` class, which pickles as a call of
``torch_utils.persistence._reconstruct_persistent_obj(meta)``: ``meta`` holds the Python
source of the module that defined the class (``module_src``; the official unpickler
*executes* it), the class name and the object's ``__dict__`` (``_parameters``, ``_buffers``,
``_modules``, ``_init_kwargs``, ...). Tensors pickle as
``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)`` (parameters wrapped
in ``torch._utils._rebuild_parameter``), and each storage as
``torch.storage._load_from_bytes(b)``, where ``b`` is a whole ``torch.save`` file of that
storage in the legacy format that ``TypedStorage.__reduce__`` writes (magic number,
protocol, system info, a pickle whose persistent id names the storage, the storage keys,
then each storage's element count and raw little-endian bytes).

`load` reads all of that with `RestrictedUnpickler`: a fixed table of globals, each mapped
to code of this module (`PersistentObject` keeps the source as an unexecuted string; tensors
become NumPy arrays); any other global (``posix.system``, ``builtins.eval``, a torch class
not in the table) raises `TorchPickleError` naming it before anything is built from it.
torch itself is never imported.

Reference:
    NVlabs/stylegan2-ada-pytorch ``torch_utils/persistence.py``, ``training/training_loop.py``
    (the snapshot); pytorch ``torch/serialization.py`` (``_legacy_save``, ``_load``),
    ``torch/_utils.py`` (``_rebuild_tensor_v2``), ``torch/storage.py`` (``_load_from_bytes``).
"""

import collections
import io
import pickle
import struct

import numpy as np

# torch.save's legacy header (torch/serialization.py MAGIC_NUMBER, PROTOCOL_VERSION).
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001

# Storage classes -> element dtypes. BFloat16 has no NumPy dtype: read as uint16 and widened.
STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "BFloat16Storage": "bfloat16", "LongStorage": np.int64, "IntStorage": np.int32,
    "ShortStorage": np.int16, "CharStorage": np.int8, "ByteStorage": np.uint8,
    "BoolStorage": np.bool_, "UntypedStorage": np.uint8,
}


class TorchPickleError(pickle.UnpicklingError):
    """The file is not a PyTorch pickle this reader accepts; the message says why."""


class StorageType:
    """Stands for ``torch.FloatStorage`` & co. in a pickle: only its element dtype."""

    def __init__(self, name):
        self.name = name
        self.dtype = STORAGE_DTYPES[name]

    def __repr__(self):
        return f"torch.{self.name}"


class TensorType:
    """Stands for ``torch.Tensor`` / ``torch.nn.Parameter`` (arguments of rebuild calls)."""

    def __init__(self, name):
        self.name = name


class PersistentObject:
    """An object of a ``torch_utils.persistence`` class, rebuilt as data.

    Attributes:
        class_name: str, the official class (``Generator``, ``SynthesisLayer``, ...).
        module_src: str, the source the official code would execute (kept, never run).
        state: dict, the object's ``__dict__`` (``_parameters``, ``_buffers``, ``_modules``,
            ``_init_args``, ``_init_kwargs``, plain attributes).
    """

    def __init__(self, meta):
        if not isinstance(meta, dict) or meta.get("type") != "class":
            raise TorchPickleError("torch_utils.persistence object with an unknown meta "
                                   f"{type(meta).__name__}")
        self.class_name = str(meta.get("class_name"))
        self.module_src = str(meta.get("module_src", ""))
        self.version = meta.get("version")
        state = meta.get("state")
        self.state = dict(state) if isinstance(state, dict) else {}

    def __repr__(self):
        return f"<persistent {self.class_name}>"

    @property
    def init_kwargs(self):
        """The constructor's keyword arguments (nested dicts as plain dicts)."""
        return _plain(self.state.get("_init_kwargs") or {})

    @property
    def init_args(self):
        return tuple(_plain(self.state.get("_init_args") or ()))

    def children(self):
        """``{name: PersistentObject}`` of the submodules, in order."""
        return {name: child for name, child in (self.state.get("_modules") or {}).items()
                if child is not None}

    def tensors(self, prefix=""):
        """``{"synthesis.b4.conv1.weight": ndarray}``: parameters and buffers, recursively,
        named as the official ``state_dict`` (``named_parameters`` + ``named_buffers``)."""
        out = {}
        for group in ("_parameters", "_buffers"):
            for name, value in (self.state.get(group) or {}).items():
                if value is not None:
                    out[prefix + name] = value
        for name, child in self.children().items():
            if not isinstance(child, PersistentObject):
                raise TorchPickleError(f"Submodule {prefix + name!r} is a "
                                       f"{type(child).__name__}, not a network module")
            out.update(child.tensors(f"{prefix}{name}."))
        return out


class EasyDict(dict):
    """``dnnlib.util.EasyDict`` (a dict with attribute access), as data."""

    def __setstate__(self, state):  # the official TF pickles give its items as state
        if isinstance(state, dict):
            self.update(state)

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    return value


class Storage:
    """A storage's elements as a flat NumPy array (a tensor is a strided view of it)."""

    def __init__(self, dtype, data):
        self.array = _decode(dtype, data)


def _decode(dtype, data):
    if isinstance(dtype, str) and dtype == "bfloat16":
        halves = np.frombuffer(data, dtype="<u2").astype(np.uint32) << 16
        return halves.view(np.float32)
    return np.frombuffer(data, dtype=np.dtype(dtype).newbyteorder("<")).astype(dtype)


def _rebuild_tensor(storage, offset, size, stride, *unused):
    """``torch._utils._rebuild_tensor_v2`` (and v1): a strided view copied out."""
    del unused
    if not isinstance(storage, Storage):
        raise TorchPickleError(f"A tensor rebuilt from a {type(storage).__name__}, not a "
                               "storage")
    array = storage.array
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    needed = int(offset) + sum((n - 1) * s for n, s in zip(size, stride, strict=True)) + 1
    if any(n == 0 for n in size):
        return np.zeros(size, array.dtype)
    if needed > array.size:
        raise TorchPickleError(f"A tensor of size {size} reads past its storage of "
                               f"{array.size} elements")
    view = np.lib.stride_tricks.as_strided(
        array[int(offset):], shape=size, strides=[s * array.itemsize for s in stride])
    return np.array(view)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, state=None):
    del requires_grad, backward_hooks, state
    return data


def _rebuild_from_type(func, new_type, args, state):
    del new_type, state
    return func(*args)


def _reconstruct_persistent(meta):
    return PersistentObject(meta)


def _load_from_bytes(data):
    """``torch.storage._load_from_bytes``: a nested torch.save file of one storage."""
    if not isinstance(data, (bytes, bytearray)):
        raise TorchPickleError("torch.storage._load_from_bytes without bytes")
    result = load_torch_save(io.BytesIO(bytes(data)))
    if not isinstance(result, Storage):
        raise TorchPickleError("A nested torch.save file holds a "
                               f"{type(result).__name__}, not a storage")
    return result


# numpy's array and scalar reconstruction, found from numpy itself (the module moved from
# numpy.core to numpy._core in numpy 2; older pickles name the former). Network pickles
# hold numpy scalars among their attributes (the official TF ones hold arrays too).
_RECONSTRUCT = np.empty(0).__reduce__()[0]
_SCALAR = np.float32(0).__reduce__()[0]
NUMPY_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy.core.multiarray", "scalar"): _SCALAR,
    ("numpy._core.multiarray", "scalar"): _SCALAR,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}

# (module, name) -> what the unpickler builds for it. Nothing else is resolved.
ALLOWED_GLOBALS = {
    **NUMPY_GLOBALS,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("dnnlib.util", "EasyDict"): EasyDict,
    ("dnnlib", "EasyDict"): EasyDict,
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch._tensor", "_rebuild_from_type_v2"): _rebuild_from_type,
    ("torch", "Tensor"): TensorType("Tensor"),
    ("torch.nn.parameter", "Parameter"): TensorType("Parameter"),
    ("torch.storage", "_load_from_bytes"): _load_from_bytes,
    **{("torch", name): StorageType(name) for name in STORAGE_DTYPES},
}


class RestrictedUnpickler(pickle.Unpickler):
    """Resolves only `ALLOWED_GLOBALS`; storages (persistent ids) come from `storages`.

    Args:
        handle: binary file object.
        storages: callable ``(key, storage_type, numel) -> Storage`` for the persistent ids
            of a torch.save file, or None (then a persistent id is refused).

    Raises:
        TorchPickleError: any other global, named (``posix.system``, ``builtins.eval``).
    """

    def __init__(self, handle, storages=None):
        super().__init__(handle)
        self._storages = storages

    def find_class(self, module, name):
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise TorchPickleError(
                f"Refusing the global {module}.{name}: a stylegan2-ada-pytorch network pickle "
                "holds only its networks' tensors and persistent classes (nothing in the "
                "file is executed)") from None

    def persistent_load(self, pid):
        if self._storages is None or not (isinstance(pid, tuple) and len(pid) >= 5
                                           and pid[0] == "storage"):
            raise TorchPickleError(f"Refusing the persistent id {pid!r}")
        _, storage_type, key, _location, numel = pid[:5]
        if not isinstance(storage_type, StorageType):
            raise TorchPickleError(f"Storage of unknown type {storage_type!r}")
        if len(pid) > 5 and pid[5] is not None:
            raise TorchPickleError("Storage views (torch.save of torch < 0.4) are not "
                                   "supported")
        return self._storages(str(key), storage_type, int(numel))


def load_torch_save(handle):
    """Reads a legacy-format `torch.save` file of one storage (what
    ``TypedStorage.__reduce__`` embeds) whose pickle `RestrictedUnpickler` accepts.

    Raises:
        TorchPickleError: another format (a zip archive: torch >= 1.6's default, which
            storages inside network pickles never use), a big-endian file, or a malformed
            storage.
    """
    if handle.read(2) == b"PK":
        raise TorchPickleError("A zip-format torch.save file inside the pickle; network "
                               "pickles embed the legacy format")
    handle.seek(0)
    return _load_legacy(handle)


def _load_legacy(handle):
    def header():
        return RestrictedUnpickler(handle).load()

    magic, protocol, info = header(), header(), header()
    if magic != LEGACY_MAGIC or protocol != LEGACY_PROTOCOL:
        raise TorchPickleError(f"Not a torch.save file (magic {magic!r}, protocol "
                               f"{protocol!r})")
    if not isinstance(info, dict) or not info.get("little_endian", False):
        raise TorchPickleError("A big-endian torch.save file")
    wanted = {}  # the pickle's storages: key -> storage type (their bytes come after it)

    def storage(key, storage_type, numel):
        del numel  # the count is stored again before the bytes
        wanted[key] = storage_type
        return _Pending(key)

    obj = RestrictedUnpickler(handle, storage).load()
    keys = [str(key) for key in RestrictedUnpickler(handle).load()]
    if not isinstance(obj, _Pending) or keys != [obj.key]:
        raise TorchPickleError(f"A legacy torch.save file holding a {type(obj).__name__} and "
                               f"{len(keys)} storages; only single storages are read")
    dtype = wanted[obj.key].dtype
    (count,) = struct.unpack("<q", handle.read(8))
    size = count * (2 if dtype == "bfloat16" else np.dtype(dtype).itemsize)
    data = handle.read(size)
    if len(data) != size:
        raise TorchPickleError(f"Storage {obj.key!r} is cut short")
    return Storage(dtype, data)


class _Pending:
    """A storage named by the pickle of a legacy torch.save file, read after it."""

    def __init__(self, key):
        self.key = key


def load(handle):
    """Reads a stylegan2-ada-pytorch pickle (`pickle.dump` of networks) as data.

    Args:
        handle: binary file object.

    Returns:
        The pickled object, with every persistent network a `PersistentObject` and every
        tensor a NumPy array.

    Raises:
        TorchPickleError: a refused global (named) or a malformed storage.
    """
    return RestrictedUnpickler(handle).load()
