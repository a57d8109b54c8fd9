"""One entry point for every checkpoint format: ``read_state_dict(path) -> {name: np.ndarray}``.

Formats are recognised by content, not by file name: safetensors (``safetensors.numpy``), PyTorch zip
and legacy pickles (``torch_pickle``, restricted, no torch import) and numpy ``.npz`` (no pickles).
Checkpoints that wrap the weights (``{'state_dict': ..., 'epoch': 3}``, ``{'model': ...}``) are
unwrapped, and the key used is reported. BatchNorm's ``num_batches_tracked`` counters are dropped and
``module.``/``model.`` prefixes shared by all keys are stripped.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import struct
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np
from safetensors import SafetensorError, safe_open

from alignjax.weights.strict import strip_prefixes
from alignjax.weights.torch_archive import load_torch_legacy, load_torch_zip
from alignjax.weights.torch_pickle import CheckpointFormatError, UnsafeCheckpointError

__all__ = [
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


def detect_format(path: str | Path) -> str:
    """'safetensors', 'torch_zip', 'torch_legacy' or 'npz', from the file's first bytes."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    with open(path, "rb") as file:
        head = file.read(16)
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, OSError) as err:
            raise CheckpointFormatError(f"{path}: corrupt or truncated zip archive ({err})") from err
        if names and all(n.endswith(".npy") for n in names):
            return "npz"
        return "torch_zip"
    if len(head) > 1 and head[0] == 0x80 and 2 <= head[1] <= 5:  # a pickle (magic checked by the loader)
        return "torch_legacy"
    if len(head) >= 9:
        (header_len,) = struct.unpack("<Q", head[:8])
        if head[8:9] == b"{" and 0 < header_len < 100_000_000:
            return "safetensors"
    raise CheckpointFormatError(
        f"{path}: unrecognised checkpoint format (expected safetensors, a torch.save file or .npz); "
        "the file may be corrupt or an HTML error page from a failed download")


def _read_safetensors(path: Path) -> dict[str, np.ndarray]:
    size = path.stat().st_size
    with open(path, "rb") as file:
        (header_len,) = struct.unpack("<Q", file.read(8))
        try:
            header = json.loads(file.read(header_len))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise CheckpointFormatError(f"{path}: corrupt safetensors header ({err})") from err
    try:
        ends = [int(info["data_offsets"][1]) for name, info in header.items() if name != "__metadata__"]
    except (KeyError, TypeError, IndexError, ValueError, AttributeError) as err:
        raise CheckpointFormatError(f"{path}: malformed safetensors header ({err!r})") from err
    if 8 + header_len + max(ends, default=0) > size:
        raise CheckpointFormatError(f"{path}: truncated safetensors file ({size} bytes)")
    out: dict[str, np.ndarray] = {}
    bf16 = [name for name, info in header.items() if name != "__metadata__" and info.get("dtype") == "BF16"]
    try:
        with safe_open(str(path), framework="numpy") as reader:
            for name in reader.keys():
                if name not in bf16:
                    out[name] = reader.get_tensor(name)
    except (SafetensorError, ValueError, TypeError) as err:
        raise CheckpointFormatError(f"{path}: corrupt safetensors file ({err})") from err
    if bf16:  # numpy has no bfloat16: read the raw bits
        with open(path, "rb") as file:
            for name in bf16:
                start, end = header[name]["data_offsets"]
                file.seek(8 + header_len + start)
                raw = np.frombuffer(file.read(end - start), dtype=ml_dtypes.bfloat16)
                out[name] = raw.reshape(header[name]["shape"]).astype(np.float32)
    return out


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except ValueError as err:
        if "allow_pickle" in str(err):
            raise UnsafeCheckpointError(f"{path}: the .npz holds pickled objects; refusing to load") from err
        raise CheckpointFormatError(f"{path}: corrupt .npz ({err})") from err
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise CheckpointFormatError(f"{path}: corrupt or truncated .npz ({err})") from err


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
        if isinstance(obj, Mapping) and any(isinstance(v, np.ndarray) for v in obj.values()):
            arrays = {k: v for k, v in obj.items() if isinstance(v, np.ndarray)}
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
    """
    path = Path(path)
    fmt = detect_format(path)
    if fmt == "safetensors":
        obj: Any = _read_safetensors(path)
    elif fmt == "npz":
        obj = _read_npz(path)
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
