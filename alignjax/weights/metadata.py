"""What a converted weights file records, so the model it belongs to is rebuilt exactly.

A file written by ``alignjax convert`` (or the hub cache) carries one JSON record twice: in the
safetensors header (``__metadata__['alignjax']``, travels with the file) and in a ``.json`` sidecar
next to it (readable by people). The record names every builder argument: the architecture, its
class count, its keyword arguments (``arch_kwargs``: variant options, mean/std ...), the input shape
it was checked at, and ``module_config``, the top Flax module's resolved fields (normalisation
mean/std, widths, variant flags), so a rebuild that would differ (another library version's
defaults, a dropped option) is refused instead of silently attacking another function.

``infer_num_classes`` reads the class count off converted variables: the entries whose shape follows
``num_classes`` are found by building the architecture at two class counts and comparing.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import os
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from alignjax.files import atomic_write
from alignjax.models.registry import build_architecture
from alignjax.weights.errors import CheckpointMismatchError
from alignjax.weights.strict import expected_shapes

RECORD_FORMAT = "alignjax-weights/1"
METADATA_KEY = "alignjax"
_PROBE_CLASSES = (1009, 1013)  # two primes no architecture uses for anything else


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON data (tuples become lists), or raises TypeError."""
    return json.loads(json.dumps(value))


def module_config(module: Any) -> dict[str, Any]:
    """The top module's dataclass fields that are plain data (dtypes and callables are left out)."""
    config: dict[str, Any] = {}
    for field in dataclasses.fields(module):
        if field.name in ("parent", "name"):
            continue
        try:
            config[field.name] = jsonable(getattr(module, field.name))
        except (TypeError, ValueError):
            continue
    return config


def infer_num_classes(arch: str, flat: Mapping[str, np.ndarray], input_shape: tuple[int, ...],
                      arch_kwargs: Mapping[str, Any] | None = None) -> int | None:
    """The class count the converted variables ``flat`` were trained for, or None if they do not say."""
    kwargs = dict(arch_kwargs or {})
    probes = [expected_shapes(build_architecture(arch, num_classes=n, **kwargs), input_shape)
              for n in _PROBE_CLASSES]
    found: set[int] = set()
    for key, shape_a in probes[0].items():
        shape_b = probes[1].get(key)
        if shape_a == shape_b or key not in flat or shape_b is None or len(shape_a) != len(shape_b):
            continue
        have = np.shape(flat[key])
        if len(have) != len(shape_a):
            continue
        for axis, (dim_a, dim_b) in enumerate(zip(shape_a, shape_b, strict=True)):
            if dim_a == dim_b:
                continue
            factor = dim_a // _PROBE_CLASSES[0]
            if dim_a % _PROBE_CLASSES[0] or dim_b != factor * _PROBE_CLASSES[1] or have[axis] % factor:
                continue
            found.add(have[axis] // factor)
    return found.pop() if len(found) == 1 else None


def make_record(arch: str, module: Any, *, num_classes: int, input_shape: tuple[int, ...],
                arch_kwargs: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    """The record of a converted file (``extra``: source, sha256, versions ...)."""
    import alignjax

    try:
        kwargs = jsonable(dict(arch_kwargs))
    except (TypeError, ValueError) as err:
        raise ValueError(f"architecture options must be plain data (numbers, strings, lists): {err}") \
            from None
    return {"format": RECORD_FORMAT, "arch": arch, "num_classes": int(num_classes),
            "input_shape": [int(v) for v in input_shape], "arch_kwargs": kwargs,
            "module_config": module_config(module), "alignjax_version": alignjax.__version__, **extra}


def _literal(value: Any) -> Any:
    """Sidecars of alignjax <= 0.1.0 stored arch_kwargs as ``repr`` strings."""
    if isinstance(value, str):
        try:
            return ast.literal_eval(value)
        except (ValueError, SyntaxError):
            return value
    return value


def read_record(path: str | Path) -> dict[str, Any] | None:
    """The record of a weights file: from its safetensors header, else its ``.json`` sidecar, else None."""
    path = Path(path)
    record = None
    try:
        with open(path, "rb") as file:
            (length,) = struct.unpack("<Q", file.read(8))
            if 2 <= length <= os.fstat(file.fileno()).st_size - 8:
                header = json.loads(file.read(length))
                text = header.get("__metadata__", {}).get(METADATA_KEY) if isinstance(header, dict) else None
                record = json.loads(text) if isinstance(text, str) else None
    except (OSError, struct.error, ValueError, AttributeError, RecursionError):  # a hostile header: no record
        record = None
    sidecar = path.with_suffix(".json")
    if not isinstance(record, dict) and sidecar.is_file() and sidecar != path:
        try:
            record = json.loads(sidecar.read_text())
        except (OSError, ValueError, RecursionError):
            record = None
    if not isinstance(record, dict) or "arch" not in record:
        return None
    kwargs = {k: _literal(v) for k, v in dict(record.get("arch_kwargs") or {}).items()}
    if "num_classes" not in record and "num_classes" in kwargs:
        record["num_classes"] = kwargs["num_classes"]
    kwargs.pop("num_classes", None)
    record["arch_kwargs"] = kwargs
    return record


def check_rebuild(record: Mapping[str, Any], module: Any, source: str) -> None:
    """Refuses a rebuilt module whose resolved fields differ from those the weights were converted for."""
    recorded = record.get("module_config") or {}
    now = module_config(module)
    differ = [f"{name}: converted with {recorded[name]!r}, rebuilt with {now.get(name)!r}"
              for name in sorted(recorded) if name in now and now[name] != recorded[name]]
    if differ:
        raise CheckpointMismatchError(
            f"{source} was converted for a {record.get('arch')} that differs from the one rebuilt now:\n  "
            + "\n  ".join(differ)
            + "\n  convert the checkpoint again with this alignjax version, or pass the options it records")


def write_weights(flat: Mapping[str, np.ndarray], out_path: str | Path, record: Mapping[str, Any]) -> Path:
    """Writes float32 ``flat`` variables + the record (header and sidecar), atomically, with equal modes.

    Both files get the mode an ordinary new file gets (``0o666`` minus the umask): safetensors' own
    writer creates ``0o600`` files, which would leave the weights unreadable next to a readable sidecar.
    """
    from safetensors.numpy import save_file


    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in flat.items()}
    text = json.dumps(dict(record), sort_keys=True)
    atomic_write(out_path, lambda tmp: save_file(arrays, str(tmp), metadata={METADATA_KEY: text}))
    atomic_write(out_path.with_suffix(".json"),
                 lambda tmp: Path(tmp).write_text(json.dumps(dict(record), indent=2, sort_keys=True) + "\n"))
    return out_path
