"""One entry point for every checkpoint format: ``read_state_dict(path) -> {name: np.ndarray}``.

Formats are recognised by content (full signatures), not by file name: safetensors (``safetensors.numpy``),
PyTorch zip and legacy pickles (``torch_pickle``, restricted, no torch import) and numpy ``.npz`` (no
pickles). Every size a file declares is checked against the file before anything is allocated, and
every problem is a ``CheckpointError`` naming the file (``errors.py``).
Checkpoints that wrap the weights (``{'state_dict': ..., 'epoch': 3}``, ``{'model': ...}``) are
unwrapped, and the key used is reported. BatchNorm's ``num_batches_tracked`` counters are dropped and
``module.``/``model.`` prefixes shared by all keys are stripped.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import struct
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np
from safetensors import safe_open

from alignjax.weights.errors import CheckpointError, CheckpointFormatError, UnsafeCheckpointError
from alignjax.weights.strict import strip_prefixes
from alignjax.weights.torch_archive import load_torch_legacy, load_torch_zip

__all__ = [
    "CheckpointError",
    "CheckpointFormatError",
    "LoadedCheckpoint",
    "UnsafeCheckpointError",
    "detect_format",
    "load_checkpoint",
    "read_state_dict",
    "select_state_dict",
]

log = logging.getLogger(__name__)

# Keys under which training scripts nest the weights, most specific first.
STATE_DICT_KEYS = ("state_dict", "model_state_dict", "model_state", "model", "net", "network",
                   "state_dict_ema", "model_ema", "params", "weights")


@dataclasses.dataclass(frozen=True)
class LoadedCheckpoint:
    """A state dict and where it came from: the file format and the nesting key (None: top level)."""

    state_dict: dict[str, np.ndarray]
    format: str
    key: str | None


SAFETENSORS_ITEMSIZE = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "I16": 2, "U16": 2, "F16": 2,
                        "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
NUMPY_MAGIC = b"\x93NUMPY"
# errors the standard library's zip, zlib and npy code raise on damaged input (ours are re-raised first)
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, zlib.error,
               NotImplementedError, RuntimeError, struct.error, UnicodeDecodeError, OverflowError,
               MemoryError, SyntaxError)
_DEFLATE_MAX_RATIO = 1100  # deflate cannot expand more than ~1032:1; a member claiming more is damaged


def _safetensors_header(path: Path, head: bytes, size: int) -> tuple[int, dict[str, Any] | None, str | None]:
    """``(header_len, header, problem)`` if the file starts with safetensors' signature, else (0, None, None).

    The signature is a little-endian u64 header length N with ``8 + N <= file size`` followed by a JSON
    object (its first byte is ``{``). A file with the signature whose header does not parse gets
    ``problem`` (it may still be another format that happens to share the first bytes).
    """
    if len(head) < 10:
        return 0, None, None
    (header_len,) = struct.unpack("<Q", head[:8])
    if head[8:9] == b"{" and header_len > size - 8:
        return header_len, None, (f"corrupt safetensors header: its length field says {header_len} bytes but "
                                  f"the file holds {size - 8} after it; truncated or damaged")
    if not (2 <= header_len <= size - 8) or head[8:9] != b"{":
        return 0, None, None
    with open(path, "rb") as file:
        file.seek(8)
        raw = file.read(header_len)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        return header_len, None, f"corrupt safetensors header ({type(err).__name__}: {err})"
    if not isinstance(header, dict):
        return header_len, None, "corrupt safetensors header (not a JSON object)"
    return header_len, header, None


def detect_format(path: str | Path) -> str:
    """'safetensors', 'torch_zip', 'torch_legacy', 'npz' or 'npy', from the file's full signature.

    safetensors: header length + a JSON object that parses; zip: ``PK\\x03\\x04`` (npz when every member is
    a ``.npy``); numpy: ``\\x93NUMPY``; a legacy torch file: a pickle (``\\x80`` + protocol 2..5). The
    safetensors test comes first and is complete, so a safetensors header whose length starts with the
    bytes of a pickle (length mod 65536 in 640, 896, 1152, 1408) is still read as safetensors.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    size = path.stat().st_size
    with open(path, "rb") as file:
        head = file.read(16)
    _, header, safetensors_problem = _safetensors_header(path, head, size)
    if header is not None:
        return "safetensors"
    if head.startswith(ZIP_MAGICS):
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except _ZIP_ERRORS as err:
            raise CheckpointFormatError(f"{path}: corrupt or truncated zip archive ({err})") from err
        if names and all(n.endswith(".npy") for n in names):
            return "npz"
        return "torch_zip"
    if head.startswith(NUMPY_MAGIC):
        return "npy"
    if len(head) > 1 and head[0] == 0x80 and 2 <= head[1] <= 5:  # a pickle (checked fully by the loader)
        return "torch_legacy"
    if safetensors_problem is not None:
        raise CheckpointFormatError(f"{path}: {safetensors_problem}")
    what = "an empty file" if size == 0 else (
        "an HTML page (a failed download?)" if head.lstrip()[:1] == b"<" else "not a checkpoint")
    raise CheckpointFormatError(
        f"{path}: unrecognised checkpoint format, {what}; expected safetensors, a torch.save file or .npz")


def _checked_safetensors_entries(path: Path, header: dict[str, Any], data_size: int) -> dict[str, tuple]:
    """name -> (dtype, shape, start, end), every entry checked against the file before anything is read."""
    entries = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype, shape, (start, end) = info["dtype"], info["shape"], info["data_offsets"]
        except (KeyError, TypeError, ValueError) as err:
            raise CheckpointFormatError(f"{path}: malformed safetensors entry {name!r} ({err!r})") from None
        if dtype not in SAFETENSORS_ITEMSIZE:
            raise CheckpointFormatError(f"{path}: tensor {name!r} has unsupported dtype {dtype!r}")
        ints = [start, end, *shape] if isinstance(shape, list) else None
        if ints is None or not all(type(v) is int and v >= 0 for v in ints):
            raise CheckpointFormatError(f"{path}: tensor {name!r} has a malformed shape or offsets")
        if not start <= end <= data_size:
            raise CheckpointFormatError(
                f"{path}: tensor {name!r} lies outside the file ({end} > {data_size} data bytes); truncated?")
        if math.prod(shape) * SAFETENSORS_ITEMSIZE[dtype] != end - start:
            raise CheckpointFormatError(f"{path}: tensor {name!r} of shape {shape} does not match its bytes")
        entries[name] = (dtype, tuple(shape), start, end)
    return entries


def _read_safetensors(path: Path) -> dict[str, np.ndarray]:
    size = path.stat().st_size
    with open(path, "rb") as file:
        head = file.read(16)
    header_len, header, problem = _safetensors_header(path, head, size)
    if header is None:
        raise CheckpointFormatError(f"{path}: {problem or 'not a safetensors file'}")
    entries = _checked_safetensors_entries(path, header, size - 8 - header_len)
    out: dict[str, np.ndarray] = {}
    bf16 = [name for name, entry in entries.items() if entry[0] == "BF16"]
    try:
        with safe_open(str(path), framework="numpy") as reader:
            for name in reader.keys():  # noqa: SIM118 - safe_open has keys() but is not iterable
                if name not in bf16:
                    out[name] = reader.get_tensor(name)
    except Exception as err:  # the Rust reader's own checks (SafetensorError, TypeError...)
        raise CheckpointFormatError(f"{path}: corrupt safetensors file ({err})") from err
    if bf16:  # numpy has no bfloat16: read the raw bits
        with open(path, "rb") as file:
            for name in bf16:
                _, shape, start, end = entries[name]
                file.seek(8 + header_len + start)
                raw = np.frombuffer(file.read(end - start), dtype=ml_dtypes.bfloat16)
                out[name] = raw.reshape(shape).astype(np.float32)
    return out


def _check_npz_members(path: Path) -> None:
    """Each member's npy header against the member's size, so no damaged header makes numpy allocate."""
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            ratio_limit = 1 if info.compress_type == zipfile.ZIP_STORED else _DEFLATE_MAX_RATIO
            if info.file_size > max(info.compress_size, 1) * ratio_limit:
                raise CheckpointFormatError(f"{path}: member {info.filename} claims an impossible size")
            with archive.open(info) as member:
                version = np.lib.format.read_magic(member)
                reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                    np.lib.format.read_array_header_2_0
                shape, _fortran, dtype = reader(member)
                if dtype.hasobject:
                    raise UnsafeCheckpointError(f"{path}: the .npz holds pickled objects; refusing to load")
                header_end = member.tell()
                if math.prod(shape) * dtype.itemsize != info.file_size - header_end:
                    raise CheckpointFormatError(
                        f"{path}: member {info.filename} of shape {shape} does not match its "
                        f"{info.file_size - header_end} bytes; the file is corrupt")


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        _check_npz_members(path)
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except CheckpointError:
        raise
    except ValueError as err:
        if "allow_pickle" in str(err):
            raise UnsafeCheckpointError(f"{path}: the .npz holds pickled objects; refusing to load") from err
        raise CheckpointFormatError(f"{path}: corrupt .npz ({err})") from err
    except _ZIP_ERRORS as err:
        raise CheckpointFormatError(
            f"{path}: corrupt or truncated .npz ({type(err).__name__}: {err})") from err


def _is_state_dict(obj: Any) -> bool:
    return isinstance(obj, Mapping) and len(obj) > 0 and all(
        isinstance(k, str) and isinstance(v, np.ndarray) for k, v in obj.items())


def select_state_dict(
    obj: Any, key: str | None = None, source: str = "checkpoint"
) -> tuple[dict[str, np.ndarray], str | None]:
    """Finds the weights in a loaded checkpoint; returns ``(state_dict, key)`` (key None: top level).

    ``key`` picks an entry explicitly (dotted for nesting, e.g. ``'ema.model'``). Otherwise the top level
    is used when every value is an array, else the first of ``STATE_DICT_KEYS`` that holds one, else the
    only entry that holds one.
    """
    if key is not None:
        node = obj
        for part in key.split("."):
            if not isinstance(node, Mapping) or part not in node:
                raise KeyError(f"{source}: no entry {key!r}; top-level keys: {_keys(obj)}")
            node = node[part]
        if not _is_state_dict(node):
            raise CheckpointFormatError(f"{source}: entry {key!r} is not a name -> tensor mapping")
        return dict(node), key
    if _is_state_dict(obj):
        return dict(obj), None
    if isinstance(obj, Mapping):
        for candidate in STATE_DICT_KEYS:
            if _is_state_dict(obj.get(candidate)):
                return dict(obj[candidate]), candidate
        holders = [k for k, v in obj.items() if _is_state_dict(v)]
        if len(holders) == 1:
            return dict(obj[holders[0]]), str(holders[0])
        arrays = {k: v for k, v in obj.items() if isinstance(k, str) and isinstance(v, np.ndarray)}
        if arrays:
            others = sorted(str(k) for k in obj if k not in arrays)
            log.warning("%s: ignoring non-tensor entries %s", source, others)
            return arrays, None
    raise CheckpointFormatError(
        f"{source}: cannot tell where the weights are; top-level keys: {_keys(obj)}; pass key=... to choose")


def _keys(obj: Any) -> str:
    return ", ".join(map(repr, list(obj)[:20])) if isinstance(obj, Mapping) else type(obj).__name__


def load_checkpoint(path: str | Path, *, key: str | None = None, strip: bool = True) -> LoadedCheckpoint:
    """Reads any supported checkpoint into float/int numpy arrays without importing torch.

    Args:
      path: a safetensors, torch.save (zip or legacy) or .npz file.
      key: where the weights are nested, if automatic selection is not wanted.
      strip: strip ``module.``/``model.``/``_orig_mod.`` prefixes shared by all keys.

    Raises:
      UnsafeCheckpointError: the pickle names a forbidden global (nothing was executed).
      CheckpointFormatError: corrupt, truncated or unsupported file; the message names it.
      (Both are ``CheckpointError``s; ``FileNotFoundError`` when there is no file.)
    """
    path = Path(path)
    fmt = detect_format(path)
    if fmt == "safetensors":
        obj: Any = _read_safetensors(path)
    elif fmt == "npz":
        obj = _read_npz(path)
    elif fmt == "npy":
        raise CheckpointFormatError(
            f"{path}: a single numpy array (.npy), not a set of named weights; "
            "save them with numpy.savez(path, name=array, ...)")
    elif fmt == "torch_zip":
        obj = load_torch_zip(path)
    else:
        obj = load_torch_legacy(path)
    state_dict, used = select_state_dict(obj, key, str(path))
    if used is not None:
        log.info("%s: weights taken from entry %r", path, used)
    state_dict = {k: v for k, v in state_dict.items() if not k.endswith("num_batches_tracked")}
    if strip:
        state_dict = strip_prefixes(state_dict)
    return LoadedCheckpoint(state_dict, fmt, used)


def read_state_dict(path: str | Path, *, key: str | None = None, strip: bool = True) -> dict[str, np.ndarray]:
    """``load_checkpoint(...).state_dict``."""
    return load_checkpoint(path, key=key, strip=strip).state_dict
