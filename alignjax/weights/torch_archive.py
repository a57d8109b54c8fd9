"""PyTorch checkpoint containers, read without torch: the zip format and the legacy format.

Formats (``torch/serialization.py``, torch 2.x):
  zip (default since 1.6): ``<archive>/data.pkl``, ``<archive>/data/<key>`` raw storages,
    ``<archive>/byteorder``; storages are read with CRC checks by ``zipfile``.
  legacy (``_use_new_zipfile_serialization=False``): pickles of the magic number, protocol version and
    sys info, the main pickle, the list of storage keys, then per storage an int64 element count and
    the raw bytes, in that order.

Every pickle goes through ``torch_pickle.unpickle`` (restricted). Tensors come out as independent,
C-contiguous numpy arrays (views are copied out of their storage after a bounds check); bfloat16
becomes float32, other dtypes keep theirs.
"""

from __future__ import annotations

import math
import os
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np

from alignjax.weights.errors import CheckpointError, CheckpointFormatError
from alignjax.weights.torch_pickle import (
    _NumpyArray,
    _Storage,
    _StorageType,
    _Tensor,
    _TorchDtype,
    unpickle,
)

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001
# A tensor may repeat its storage's elements (stride 0: ``expand``), but materialising it may not take
# more than this many times its storage's bytes (or 64 MiB): a damaged size never allocates terabytes.
MAX_EXPANSION = 64
MAX_EXPANDED_BYTES = 64 << 20
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, zlib.error,
               NotImplementedError, RuntimeError, struct.error, UnicodeDecodeError, OverflowError,
               MemoryError)


def _materialize(obj: Any, source: str, byteorder: str) -> Any:
    """Replaces every rebuilt tensor in nested containers with an independent numpy array."""
    try:
        return _materialize_node(obj, source, byteorder)
    except RecursionError as err:
        raise CheckpointFormatError(f"{source}: containers nested too deeply") from err


def _materialize_node(obj: Any, source: str, byteorder: str) -> Any:
    if isinstance(obj, _Tensor):
        return _tensor_to_numpy(obj, source, byteorder)
    if isinstance(obj, dict):
        return {key: _materialize_node(value, source, byteorder) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_materialize_node(value, source, byteorder) for value in obj)
    if isinstance(obj, _NumpyArray):
        if obj.array is None:
            raise CheckpointFormatError(f"{source}: a numpy array without data")
        return obj.array
    if isinstance(obj, (_Storage, _StorageType, _TorchDtype)):
        raise CheckpointFormatError(f"{source}: a bare storage or dtype outside a tensor is not supported")
    return obj


def _tensor_to_numpy(tensor: _Tensor, source: str, byteorder: str) -> np.ndarray:
    storage = tensor.storage
    if storage.data is None:
        raise CheckpointFormatError(f"{source}: storage {storage.key!r} has no data")
    dtype = tensor.dtype.newbyteorder(">" if byteorder == "big" else "<") if tensor.dtype.itemsize > 1 \
        else tensor.dtype
    if storage.data.nbytes % dtype.itemsize:
        raise CheckpointFormatError(f"{source}: storage {storage.key!r} is not a whole number of {dtype}")
    flat = storage.data.view(dtype)
    size, stride, offset = tensor.size, tensor.stride, tensor.offset
    if len(size) != len(stride) or min(size, default=1) < 0 or min(stride, default=0) < 0 or offset < 0:
        raise CheckpointFormatError(f"{source}: bad tensor geometry size={size} stride={stride}")
    nbytes = math.prod(size) * dtype.itemsize
    if nbytes > max(MAX_EXPANSION * storage.data.nbytes, MAX_EXPANDED_BYTES):
        raise CheckpointFormatError(
            f"{source}: tensor of size {size} (stride {stride}) would take {nbytes} bytes from a storage of "
            f"{storage.data.nbytes}; the file is corrupt")
    if 0 not in size:
        last = offset + sum((n - 1) * s for n, s in zip(size, stride))
        if last >= flat.size:
            raise CheckpointFormatError(
                f"{source}: tensor of size {size} (offset {offset}, stride {stride}) runs past the end of "
                f"storage {storage.key!r} ({flat.size} elements); the file is corrupt")
        view = np.lib.stride_tricks.as_strided(
            flat[offset:], shape=size, strides=tuple(s * dtype.itemsize for s in stride), writeable=False)
    else:
        view = np.zeros(size, dtype)
    out = np.array(view, dtype=dtype.newbyteorder("="), order="C")  # always a copy: views stay independent
    if tensor.dtype == np.dtype(ml_dtypes.bfloat16):
        out = out.astype(np.float32)
    return out


def load_torch_zip(path: str | Path) -> Any:
    """Unpickles a torch.save zip archive; returns the saved object with tensors as numpy arrays."""
    source = str(path)
    try:
        return _load_torch_zip(path, source)
    except CheckpointError:
        raise
    except _ZIP_ERRORS as err:
        raise CheckpointFormatError(
            f"{source}: corrupt or truncated zip archive ({type(err).__name__}: {err})") from err


def _load_torch_zip(path: str | Path, source: str) -> Any:
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        pickles = [n for n in names if n.endswith("data.pkl") and n.count("/") == 1]
        if not pickles:
            is_script = any(n.endswith("constants.pkl") for n in names)
            kind = "a TorchScript archive (torch.jit.save)" if is_script else "not a torch.save archive"
            raise CheckpointFormatError(f"{source}: no <archive>/data.pkl; {kind}")
        prefix = pickles[0][: -len("data.pkl")]
        has_mark = prefix + "byteorder" in names
        byteorder = archive.read(prefix + "byteorder").decode() if has_mark else "little"
        if byteorder not in ("little", "big"):
            raise CheckpointFormatError(f"{source}: unknown byte order {byteorder[:20]!r}")
        storages: dict[str, _Storage] = {}
        result = unpickle(archive.read(pickles[0]), source, storages)
        for key, storage in storages.items():
            member = f"{prefix}data/{key}"
            if member not in names:
                raise CheckpointFormatError(f"{source}: storage {key!r} is missing ({member})")
            info = archive.getinfo(member)
            if info.file_size < storage.numel * storage.dtype.itemsize:
                raise CheckpointFormatError(f"{source}: storage {key!r} is shorter than its tensors need")
            if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
                raise CheckpointFormatError(f"{source}: storage {key!r} has inconsistent sizes; corrupt")
            raw = archive.read(member)
            if len(raw) < storage.numel * storage.dtype.itemsize:
                raise CheckpointFormatError(f"{source}: storage {key!r} is shorter than its tensors need")
            storage.data = np.frombuffer(raw, dtype=np.uint8)
    return _materialize(result, source, byteorder)


def load_torch_legacy(path: str | Path) -> Any:
    """Unpickles a legacy (non-zip, torch < 1.6 or ``_use_new_zipfile_serialization=False``) file."""
    source = str(path)
    with open(path, "rb") as file:
        file_size = os.fstat(file.fileno()).st_size
        magic = unpickle(file, source)
        if type(magic) is not int or magic != LEGACY_MAGIC:
            raise CheckpointFormatError(f"{source}: bad magic number; not a legacy torch checkpoint")
        protocol = unpickle(file, source)
        if type(protocol) is not int or protocol != LEGACY_PROTOCOL:
            raise CheckpointFormatError(f"{source}: unsupported legacy protocol version {protocol!r}")
        sys_info = unpickle(file, source)
        little = not isinstance(sys_info, dict) or sys_info.get("little_endian", True) is not False
        byteorder = "little" if little else "big"
        storages: dict[str, _Storage] = {}
        result = unpickle(file, source, storages)
        keys = unpickle(file, source)
        named = isinstance(keys, list) and all(isinstance(k, str) for k in keys)
        if not named or set(keys) != set(storages):
            raise CheckpointFormatError(f"{source}: storage key list does not match the tensors")
        for key in keys:
            storage = storages[key]
            header = file.read(8)
            if len(header) != 8:
                raise CheckpointFormatError(f"{source}: truncated before storage {key!r}")
            (numel,) = struct.unpack("<q" if byteorder == "little" else ">q", header)
            if numel != storage.numel:
                raise CheckpointFormatError(
                    f"{source}: storage {key!r} holds {numel} elements, the pickle says {storage.numel}")
            nbytes = numel * storage.dtype.itemsize
            if nbytes > file_size - file.tell():
                raise CheckpointFormatError(f"{source}: truncated inside storage {key!r}")
            data = np.empty(nbytes, dtype=np.uint8)
            if file.readinto(memoryview(data)) != nbytes:
                raise CheckpointFormatError(f"{source}: truncated inside storage {key!r}")
            storage.data = data
    return _materialize(result, source, byteorder)
