"""CIFAR-10 and CIFAR-100 from the official "python version" batch files (www.cs.toronto.edu/~kriz/cifar).

Layout: ``cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta}`` and
``cifar-100-python/{train, test, meta}``. Each file is a pickle with bytes keys: ``b'data'`` is an
(n, 3072) uint8 array whose rows are the red, green then blue 32x32 planes (CHW), labels are
``b'labels'`` (CIFAR-10) or ``b'fine_labels'``/``b'coarse_labels'`` (CIFAR-100), class names are in the
meta file. Images become (n, 32, 32, 3) uint8 NHWC in file order; RobustBench evaluates the first n
test points with no preprocessing (``ToTensor`` only).

Pickles can run code, so they are read with an unpickler that only admits the NumPy array
reconstructors the official files use.
"""

from __future__ import annotations

import io
import pickle
from os import PathLike
from pathlib import Path
from typing import Any, Literal

import numpy as np

from alignjax.data.arrays import ArrayDataset

_FOLDERS = {"cifar10": "cifar-10-batches-py", "cifar100": "cifar-100-python"}
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("_codecs", "encode"),  # how Python 3 writes bytes at protocol 2
}


class _ArrayOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a CIFAR batch file")
        if module.startswith("numpy.core"):
            module = module.replace("numpy.core", "numpy._core", 1)
        return super().find_class(module, name)


def read_batch_file(path: str | PathLike) -> dict[bytes, Any]:
    """One CIFAR pickle as a dict with bytes keys (Python 2 pickles are read with ``encoding='bytes'``)."""
    data = Path(path).read_bytes()
    try:
        content = _ArrayOnlyUnpickler(io.BytesIO(data), encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError) as error:
        raise ValueError(f"{path} is not a valid CIFAR batch file: {error}") from error
    if not isinstance(content, dict):
        raise ValueError(  # noqa: TRY004 - a corrupt file, not a wrong argument: callers catch ValueError
            f"{path} is not a valid CIFAR batch file: expected a dict, got {type(content).__name__}"
        )
    return content


def chw_rows_to_nhwc(rows: np.ndarray) -> np.ndarray:
    """(n, 3072) uint8 rows of R, G, B 32x32 planes -> (n, 32, 32, 3) uint8."""
    rows = np.asarray(rows)
    if rows.ndim != 2 or rows.shape[1] != 3072 or rows.dtype != np.uint8:
        raise ValueError(f"CIFAR data must be (n, 3072) uint8, got {rows.shape} {rows.dtype}")
    return np.ascontiguousarray(rows.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))


def _resolve_root(root: Path, name: str) -> Path:
    if (root / _FOLDERS[name]).is_dir():
        return root / _FOLDERS[name]
    return root


def _names(meta: dict[bytes, Any], key: bytes) -> tuple[str, ...]:
    return tuple(label.decode() if isinstance(label, bytes) else str(label) for label in meta[key])


def load_cifar(
    root: str | PathLike,
    *,
    name: Literal["cifar10", "cifar100"] = "cifar10",
    split: Literal["train", "test"] = "test",
    label_kind: Literal["fine", "coarse"] = "fine",
) -> ArrayDataset:
    """CIFAR-10/100 ``split`` as an ``ArrayDataset`` of (n, 32, 32, 3) uint8 images in file order.

    Args:
      root: the extracted folder (``cifar-10-batches-py``/``cifar-100-python``) or the folder holding it.
      name: 'cifar10' or 'cifar100'.
      split: 'train' or 'test'.
      label_kind: CIFAR-100 only: 'fine' (100 classes) or 'coarse' (20 superclasses).
    """
    if name not in _FOLDERS:
        raise ValueError(f"unknown CIFAR variant {name!r}; use 'cifar10' or 'cifar100'")
    if split not in ("train", "test"):
        raise ValueError(f"unknown split {split!r}; use 'train' or 'test'")
    folder = _resolve_root(Path(root), name)
    if name == "cifar10":
        files = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
        meta_file, label_key, names_key = "batches.meta", b"labels", b"label_names"
    else:
        if label_kind not in ("fine", "coarse"):
            raise ValueError(f"unknown label_kind {label_kind!r}; use 'fine' or 'coarse'")
        files = [split]
        meta_file = "meta"
        label_key, names_key = f"{label_kind}_labels".encode(), f"{label_kind}_label_names".encode()
    missing = [file for file in files + [meta_file] if not (folder / file).is_file()]
    if missing:
        raise FileNotFoundError(f"{folder}: missing CIFAR file(s) {missing}")
    images, labels = [], []
    for file in files:
        batch = read_batch_file(folder / file)
        for key in (b"data", label_key):
            if key not in batch:
                raise ValueError(f"{folder / file}: no {key!r} entry; keys are {sorted(batch)}")
        images.append(chw_rows_to_nhwc(batch[b"data"]))
        batch_labels = np.asarray(batch[label_key])
        if len(batch_labels) != len(images[-1]):
            raise ValueError(f"{folder / file}: {len(images[-1])} images but {len(batch_labels)} labels")
        labels.append(batch_labels)
    classes = _names(read_batch_file(folder / meta_file), names_key)
    description = f"{name} {split}" + (f" ({label_kind} labels)" if name == "cifar100" else "")
    try:
        return ArrayDataset(np.concatenate(images), np.concatenate(labels), description, classes)
    except ValueError as error:
        raise ValueError(f"{folder}: {error}") from None
