"""The common dataset interface and in-memory array datasets.

A dataset is anything with ``len``, ``__getitem__(i) -> (source, label)`` and a ``description``, where
``source`` is an (h, w, c) uint8 (or float32 in [0, 1]) array, a file path, or encoded image bytes
(``ImageSource``); the streaming pipeline decodes paths and bytes on the host. ``first_n`` selects the
first n points in dataset order, as RobustBench does for its evaluation sets. ``.npz`` files are read
by ``npz.load_npz``.
"""

from __future__ import annotations

import dataclasses
import numbers
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

ImageSource = np.ndarray | Path | bytes


@runtime_checkable
class Dataset(Protocol):
    """What loaders return and ``streaming.stream_batches`` consumes."""

    @property
    def description(self) -> str: ...

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> tuple[ImageSource, int]: ...


def check_labels(labels: np.ndarray, num_classes: int | None, *, what: str = "labels") -> np.ndarray:
    """Returns labels as int32 after checking they are integers in [0, num_classes).

    Raises:
      ValueError: naming the offending values when they do not fit the model's ``num_classes``.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"{what} must be one-dimensional, got shape {labels.shape}")
    limit = np.iinfo(np.int32).max  # class indices are stored as int32: nothing above is ever a class
    if labels.size and np.issubdtype(labels.dtype, np.integer):
        # compare in the labels' own dtype: a cast to int64 first would wrap uint64 values
        too_large = labels > limit
        negative = labels < 0 if np.issubdtype(labels.dtype, np.signedinteger) else np.zeros(labels.shape, bool)
    elif labels.size:
        if not np.issubdtype(labels.dtype, np.floating) and labels.dtype != bool:
            raise ValueError(f"{what} must be integers, got dtype {labels.dtype}")
        if labels.dtype == bool:
            raise ValueError(f"{what} must be integer class indices, got booleans")
        if not np.all(np.isfinite(labels)):
            raise ValueError(f"{what} must be integers; found NaN or inf")
        if not np.all(labels == np.round(labels)):
            bad = labels[labels != np.round(labels)]
            raise ValueError(f"{what} must be integers, got dtype {labels.dtype} with fractional values "
                             f"such as {bad[:5].tolist()}")
        too_large, negative = labels > limit, labels < 0
    else:
        too_large = negative = np.zeros(0, bool)
    if np.any(negative):
        raise ValueError(f"{what} must be non-negative; found {labels[negative][:5].tolist()}")
    if np.any(too_large):
        raise ValueError(f"{what} must be class indices; found {labels[too_large][:5].tolist()}, beyond any "
                         f"class count (above {limit})")
    labels = labels.astype(np.int64)
    if num_classes is not None and labels.size and labels.max() >= num_classes:
        bad = np.unique(labels[labels >= num_classes])
        raise ValueError(
            f"{what} do not fit a model with {num_classes} classes: found label(s) {bad[:10].tolist()} "
            f">= {num_classes}; the class-index mapping does not match the model"
        )
    return labels.astype(np.int32)


def check_images(x: np.ndarray, *, what: str = "x") -> np.ndarray:
    """Checks (n, h, w, c) uint8, or float in [0, 1]; float64 becomes float32.

    Every message names the problem and the fix (a channels-first array, empty images, 0..255 floats).
    """
    x = np.asarray(x)
    if x.ndim == 0:
        raise ValueError(
            f"{what} is a scalar; it must be a 4-D batch of images (n, height, width, channels)"
        )
    if x.ndim != 4:
        raise ValueError(
            f"{what} must be a 4-D batch of images (n, height, width, channels), got shape {x.shape}; "
            "add a batch axis or a channel axis (e.g. x[..., None] for grayscale)"
        )
    if x.shape[-1] not in (1, 3):
        if x.shape[1] in (1, 3):
            raise ValueError(
                f"{what} looks channels-first {x.shape}: pass --layout nchw (Python: layout='nchw')"
            )
        raise ValueError(f"{what} must have 1 or 3 channels on its last axis (NHWC), got shape {x.shape}")
    if x.shape[0] == 0:
        raise ValueError(f"{what} holds no images (shape {x.shape}): there is nothing to evaluate")
    if x.shape[1] == 0 or x.shape[2] == 0:
        raise ValueError(
            f"{what} holds images of height {x.shape[1]} and width {x.shape[2]} (shape {x.shape}): "
            "the images are empty; check how the array was built"
        )
    if x.dtype == np.uint8:
        return x
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(
            f"{what} must be uint8 (0..255) or float in [0, 1], got dtype {x.dtype}; "
            "convert it, e.g. x.astype(np.uint8) for 0..255 integers"
        )
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{what} holds NaN or inf; clean the data before attacking")
    low, high = float(x.min()), float(x.max())
    if low < 0.0 or high > 1.0:
        hint = " (looks like 0..255: divide by 255, or store uint8)" if high > 1.5 else (
            " (normalised inputs? give raw images; the model normalises internally)"
        )
        raise ValueError(f"{what} must lie in [0, 1], found min {low:.4g} and max {high:.4g}{hint}")
    return x.astype(np.float32)


@dataclasses.dataclass(frozen=True, eq=False)
class ArrayDataset:
    """Images held in memory: ``x`` (n, h, w, c) uint8 or float32 in [0, 1], ``y`` (n,) int32."""

    x: np.ndarray
    y: np.ndarray
    description: str = "arrays"
    classes: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        x = check_images(self.x)
        num_classes = len(self.classes) if self.classes is not None else None
        y = check_labels(self.y, num_classes)
        if len(x) != len(y):
            raise ValueError(f"x has {len(x)} images but y has {len(y)} labels: every image needs exactly one label")
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "y", y)

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        return self.x[index], int(self.y[index])


@dataclasses.dataclass(frozen=True, eq=False)
class Subset:
    """The points ``indices`` of ``base``, in that order."""

    base: Dataset
    indices: tuple[int, ...]
    description: str

    @property
    def classes(self) -> tuple[str, ...] | None:
        return getattr(self.base, "classes", None)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> tuple[ImageSource, int]:
        return self.base[self.indices[index]]


def check_count(name: str, value: object, *, minimum: int = 1) -> int:
    """Returns ``value`` if it is a whole number >= ``minimum`` (numpy integers too); names the argument.

    Raises:
      TypeError: a float, string, bool or anything else that is not an integer (``2.5`` is not silently
        cut to 2, ``'3'`` not compared with ints).
      ValueError: an integer below ``minimum``.
    """
    kind = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be {kind}, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name} must be {kind}, got {value}")
    return int(value)


def first_n(dataset: Dataset, n: int | None) -> Dataset:
    """The first ``n`` points in dataset order (RobustBench: ``x_test[:n_examples]``); None keeps all.

    Arrays stay an ``ArrayDataset`` (a view of the first n rows); other data sets become a ``Subset``.
    """
    if n is None:
        return dataset
    if n < 0 or n > len(dataset):
        raise ValueError(f"asked for the first {n} points of {dataset.description}, which has {len(dataset)}")
    description = f"first {n} of {dataset.description}"
    if isinstance(dataset, ArrayDataset):
        return ArrayDataset(dataset.x[:n], dataset.y[:n], description, dataset.classes)
    return Subset(dataset, tuple(range(n)), description)


def check_fits_model(dataset: Dataset, num_classes: int) -> None:
    """Refuses a dataset whose class mapping or labels do not fit a model with ``num_classes`` outputs."""
    classes = getattr(dataset, "classes", None)
    if classes is not None and len(classes) != num_classes:
        raise ValueError(
            f"{dataset.description} has a class mapping of {len(classes)} classes "
            f"but the model has {num_classes} outputs; give data labelled with the model's class indices "
            "(a flat folder with a labels CSV, or class subfolders numbered 0..k-1: --data-format folder)"
        )
    check_labels(labels_of(dataset), num_classes, what=f"labels of {dataset.description}")


def labels_of(dataset: Dataset) -> np.ndarray:
    """All labels, (n,) int32 (reads every item; cheap for path and array datasets)."""
    return np.array([dataset[i][1] for i in range(len(dataset))], dtype=np.int32)
