"""The restricted unpickler for PyTorch checkpoints: rebuilds tensors without importing torch.

A restricted unpickler rebuilds only what a checkpoint of weights needs: tensors
(``torch._utils._rebuild_tensor{,_v2,_v3}``, ``_rebuild_parameter{,_with_state}``), storages named by
their typed class (``torch.FloatStorage`` ... ``torch.UntypedStorage``) through ``persistent_load``,
``collections.OrderedDict``, plain builtin containers and a few harmless metadata types (numpy scalars
and arrays of numbers, ``argparse.Namespace`` kept as a plain dict). Every other global (``os.system``, ``builtins.eval``,
``subprocess.Popen``, a model class...) raises ``UnsafeCheckpointError`` naming it before anything is
called: the pickle machine only ever calls the functions defined in this file.

Rebuilt tensors are placeholders (storage, offset, size, stride, dtype); ``torch_archive`` attaches
the storages' bytes and turns them into numpy arrays after bounds checks.
"""

from __future__ import annotations

import _compat_pickle
import collections
import io
import pickle
import struct
from typing import Any

import ml_dtypes
import numpy as np

from alignjax.weights.errors import CheckpointFormatError, UnsafeCheckpointError

_STORAGE_DTYPES: dict[str, np.dtype] = {
    "FloatStorage": np.dtype(np.float32),
    "DoubleStorage": np.dtype(np.float64),
    "HalfStorage": np.dtype(np.float16),
    "BFloat16Storage": np.dtype(ml_dtypes.bfloat16),
    "LongStorage": np.dtype(np.int64),
    "IntStorage": np.dtype(np.int32),
    "ShortStorage": np.dtype(np.int16),
    "CharStorage": np.dtype(np.int8),
    "ByteStorage": np.dtype(np.uint8),
    "BoolStorage": np.dtype(np.bool_),
    "UntypedStorage": np.dtype(np.uint8),
}
_TORCH_DTYPES: dict[str, np.dtype] = {
    "float32": np.dtype(np.float32), "float": np.dtype(np.float32),
    "float64": np.dtype(np.float64), "double": np.dtype(np.float64),
    "float16": np.dtype(np.float16), "half": np.dtype(np.float16),
    "bfloat16": np.dtype(ml_dtypes.bfloat16),
    "int64": np.dtype(np.int64), "long": np.dtype(np.int64),
    "int32": np.dtype(np.int32), "int": np.dtype(np.int32),
    "int16": np.dtype(np.int16), "int8": np.dtype(np.int8),
    "uint8": np.dtype(np.uint8), "bool": np.dtype(np.bool_),
}


class _Sealed:
    """Objects of ours that a pickle's BUILD opcode must not modify."""

    __slots__ = ()

    def __setstate__(self, state: Any) -> None:
        raise UnsafeCheckpointError(f"the pickle tries to set the state of a {type(self).__name__}")


class _StorageType(_Sealed):
    __slots__ = ("dtype", "name")

    def __init__(self, name: str, dtype: np.dtype):
        self.name, self.dtype = name, dtype


class _TorchDtype(_Sealed):
    __slots__ = ("dtype",)

    def __init__(self, dtype: np.dtype):
        self.dtype = dtype


class _Storage(_Sealed):
    """A storage named by the pickle; its bytes are attached once read (legacy: after the pickle)."""

    __slots__ = ("data", "dtype", "key", "numel")

    def __init__(self, key: str, dtype: np.dtype, numel: int):
        self.key, self.dtype, self.numel = key, dtype, numel
        self.data: np.ndarray | None = None  # uint8, numel * itemsize bytes


class _Tensor(_Sealed):
    __slots__ = ("dtype", "offset", "size", "storage", "stride")

    def __init__(self, storage: _Storage, offset: int, size: tuple, stride: tuple, dtype: np.dtype):
        self.storage, self.offset, self.size, self.stride, self.dtype = storage, offset, size, stride, dtype


class _OrderedDict(collections.OrderedDict):
    """OrderedDict whose pickled attributes (torch's ``_metadata``) are dropped, not set."""

    def __setstate__(self, state: Any) -> None:
        return None


class _Namespace(dict):
    """``argparse.Namespace`` saved next to the weights, kept as a plain dict of its attributes."""

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, dict):
            self.update(state)


def _int_tuple(value: Any, what: str) -> tuple[int, ...]:
    if not isinstance(value, (tuple, list)) or not all(type(v) is int for v in value):
        raise CheckpointFormatError(f"tensor {what} must be a tuple of ints, got {value!r}")
    return tuple(value)


def _rebuild_tensor(storage: Any, storage_offset: Any, size: Any, stride: Any, dtype: np.dtype | None = None):
    if not isinstance(storage, _Storage):
        raise CheckpointFormatError(f"tensor storage is {type(storage).__name__}, not a storage")
    if type(storage_offset) is not int:
        raise CheckpointFormatError(f"tensor storage offset must be an int, got {storage_offset!r}")
    size, stride = _int_tuple(size, "size"), _int_tuple(stride, "stride")
    return _Tensor(storage, storage_offset, size, stride, dtype if dtype is not None else storage.dtype)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None,
                       metadata=None):
    if metadata:  # conj / neg bits: a lazily conjugated or negated tensor
        raise CheckpointFormatError(f"tensors with metadata {metadata!r} are not supported")
    return _rebuild_tensor(storage, storage_offset, size, stride)


def _rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad, backward_hooks, dtype,
                       metadata=None):
    if not isinstance(dtype, _TorchDtype):
        raise CheckpointFormatError(f"tensor dtype must be a torch dtype, got {dtype!r}")
    if metadata:
        raise CheckpointFormatError(f"tensors with metadata {metadata!r} are not supported")
    return _rebuild_tensor(storage, storage_offset, size, stride, dtype.dtype)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, state=None):
    if not isinstance(data, _Tensor):
        raise CheckpointFormatError(f"a parameter must wrap a tensor, got {type(data).__name__}")
    return data


def _numpy_scalar(dtype: Any, raw: Any = None):
    if not isinstance(dtype, np.dtype) or dtype.hasobject or not isinstance(raw, bytes):
        raise UnsafeCheckpointError("numpy scalar with an object dtype or no raw bytes")
    return np.frombuffer(raw, dtype=dtype, count=1)[0]


def _numpy_dtype(name: Any, align: Any = False, copy: Any = False):
    if not isinstance(name, str):
        raise UnsafeCheckpointError(f"numpy dtype from {type(name).__name__}")
    dtype = np.dtype(name)
    if dtype.hasobject:
        raise UnsafeCheckpointError("numpy object dtype")
    return dtype


class _NumpyArray(_Sealed):
    """An ``np.ndarray`` of plain numbers, filled by the pickle's BUILD (``ndarray.__setstate__``'s state)."""

    __slots__ = ("array",)

    def __init__(self) -> None:
        self.array: np.ndarray | None = None

    def __setstate__(self, state: Any) -> None:
        if self.array is not None or not isinstance(state, tuple) or len(state) not in (4, 5):
            raise UnsafeCheckpointError("malformed numpy array state")
        shape, dtype, is_fortran, raw = state[-4:]
        if not isinstance(dtype, np.dtype) or dtype.hasobject or not isinstance(raw, bytes):
            raise UnsafeCheckpointError("numpy arrays of Python objects are not loaded")
        shape = _int_tuple(shape, "shape")
        count = int(np.prod(shape, dtype=np.int64))
        if count * dtype.itemsize != len(raw):
            raise CheckpointFormatError(f"numpy array of shape {shape} does not match its {len(raw)} bytes")
        flat = np.frombuffer(raw, dtype=dtype, count=count)
        self.array = flat.reshape(shape, order="F" if is_fortran else "C").copy()


class _NdarrayClass(_Sealed):
    """Stands for the class ``numpy.ndarray`` in the pickle; only ``_numpy_reconstruct`` accepts it."""


_NDARRAY = _NdarrayClass()


def _numpy_reconstruct(cls: Any, shape: Any = None, dtype_code: Any = None) -> _NumpyArray:
    if cls is not _NDARRAY:
        raise UnsafeCheckpointError(f"numpy _reconstruct of {cls!r}")
    return _NumpyArray()


def _codecs_encode(text: Any, encoding: Any = "utf-8"):
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1", "utf-8", "utf8"):
        raise UnsafeCheckpointError("_codecs.encode with non-text arguments")
    return text.encode(encoding)


def _reconstructor(cls: Any, base: Any, state: Any = None):
    if cls is not _Namespace or base is not object:
        raise UnsafeCheckpointError(f"copyreg._reconstructor of {cls!r}")
    return _Namespace()


_ALLOWED: dict[tuple[str, str], Any] = {
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_tensor_v3"): _rebuild_tensor_v3,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("collections", "OrderedDict"): _OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "slice"): slice,
    ("builtins", "complex"): complex,
    ("argparse", "Namespace"): _Namespace,
    ("copyreg", "_reconstructor"): _reconstructor,
    ("_codecs", "encode"): _codecs_encode,
    ("numpy", "dtype"): _numpy_dtype,
    ("numpy.core.multiarray", "scalar"): _numpy_scalar,
    ("numpy._core.multiarray", "scalar"): _numpy_scalar,
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _numpy_reconstruct,
}
for _name, _dtype in _STORAGE_DTYPES.items():
    _ALLOWED[("torch", _name)] = _StorageType(_name, _dtype)
    _ALLOWED[("torch.storage", _name)] = _StorageType(_name, _dtype)
for _name, _dtype in _TORCH_DTYPES.items():
    _ALLOWED[("torch", _name)] = _TorchDtype(_dtype)


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves globals only from ``_ALLOWED``; storages go through ``storages`` by key."""

    def __init__(self, file: Any, source: str, storages: dict[str, _Storage] | None = None):
        super().__init__(file, encoding="utf-8")
        self.source = source
        self.storages = storages

    def find_class(self, module: str, name: str) -> Any:
        # Python 2 names, as protocol-2 pickles write them (``__builtin__``, ``copy_reg``); no import here.
        module, name = _compat_pickle.NAME_MAPPING.get((module, name), (module, name))
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            is_model = module.startswith(("torch.", "__main__")) and not module.startswith("torch._")
            hint = " (a whole pickled model? save and load its state_dict instead)" if is_model else ""
            raise UnsafeCheckpointError(
                f"{self.source}: refusing to load global '{module}.{name}'; only tensors, storages and "
                f"plain containers are allowed, nothing was executed{hint}") from None

    def persistent_load(self, pid: Any) -> _Storage:
        if self.storages is None:
            raise CheckpointFormatError(f"{self.source}: unexpected persistent id {pid!r}")
        if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] in ("storage", b"storage")):
            raise CheckpointFormatError(f"{self.source}: unsupported persistent id {pid!r}")
        storage_type, key, _location, numel = pid[1:5]
        view = pid[5] if len(pid) == 6 else None
        if not isinstance(storage_type, _StorageType):
            raise CheckpointFormatError(f"{self.source}: persistent id names {storage_type!r}, not a storage")
        if view is not None:
            raise CheckpointFormatError(f"{self.source}: pre-0.4 storage views are not supported")
        key = key.decode("ascii") if isinstance(key, bytes) else key
        if not isinstance(key, str) or type(numel) is not int or numel < 0:
            raise CheckpointFormatError(f"{self.source}: malformed storage id {pid!r}")
        if key not in self.storages:
            self.storages[key] = _Storage(key, storage_type.dtype, numel)
        return self.storages[key]


def unpickle(data: Any, source: str, storages: dict[str, _Storage] | None = None) -> Any:
    file = io.BytesIO(data) if isinstance(data, bytes) else data
    try:
        return _RestrictedUnpickler(file, source, storages).load()
    except (UnsafeCheckpointError, CheckpointFormatError):
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError,
            AttributeError, UnicodeDecodeError, struct.error, MemoryError, RecursionError,
            OverflowError) as err:
        raise CheckpointFormatError(
            f"{source}: corrupt or truncated pickle ({type(err).__name__}: {err})") from err
