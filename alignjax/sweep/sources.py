"""Loading what a unit needs: the model (registry entry or checkpoint file) and its evaluation points.

Models come through ``alignjax.loading.load`` (registry names and checkpoint files alike). Points
are host arrays: NHWC float32 in [0, 1] with int32 labels and each point's index in the underlying
data set. Image files are decoded and preprocessed once per (data set, model preprocessing).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from alignjax.errors import InputError
from alignjax.sweep.config import DatasetEntry, ModelEntry

PAPER_SHUFFLE_SEED = 42  # kyangl/alignment-security dataloading.get_dataloader(shuffle_seed=42)
IMAGENET_VAL_SIZE = 50_000


@dataclasses.dataclass(frozen=True, eq=False)
class LoadedModel:
    logits_fn: Any
    variables: Any
    num_classes: int
    input_shape: tuple[int, int, int]
    preprocessing: Any  # a registry Preprocessing, or None for checkpoint files


@dataclasses.dataclass(frozen=True, eq=False)
class Points:
    x: np.ndarray  # (n, h, w, c) float32 in [0, 1]
    y: np.ndarray  # (n,) int32
    source_index: np.ndarray  # (n,) int64: index in the underlying data set
    description: str


def load_model_entry(entry: ModelEntry, checkpoint: str = "") -> LoadedModel:
    """The registry model ``entry.name``, or the checkpoint file ``checkpoint`` of ``entry.arch``
    (``alignjax.loading.load``, the loader every command uses)."""
    from alignjax.loading import load

    if entry.arch is None:
        loaded = load(entry.name)
        return LoadedModel(loaded.logits_fn, loaded.variables, loaded.num_classes, loaded.input_shape,
                           loaded.preprocessing)
    path = Path(checkpoint)
    if not path.is_file():
        raise FileNotFoundError(f"model {entry.name}: checkpoint {path} does not exist")
    shape = tuple(entry.input_shape)  # type: ignore[arg-type]
    loaded = load(arch=entry.arch, weights=path, num_classes=entry.num_classes, input_shape=shape)
    return LoadedModel(loaded.logits_fn, loaded.variables, int(loaded.num_classes), shape, None)


def _select(n_total: int, entry: DatasetEntry, order: np.ndarray | None = None) -> np.ndarray:
    order = np.arange(n_total) if order is None else order
    stop = len(order) if entry.n is None else entry.start + entry.n
    if stop > len(order):
        raise InputError(f"dataset {entry.name}: asked for points {entry.start}..{stop - 1} of {len(order)}")
    return np.asarray(order[entry.start : stop], np.int64)


def _file_points(paths, labels, index: np.ndarray, entry: DatasetEntry, model: LoadedModel, what: str) -> Points:
    from alignjax.data.preprocessing import (
        brainscore_transform,
        load_and_transform,
        spec_transform,
        to_float01,
    )

    if entry.preprocessing == "brainscore" or model.preprocessing is None:
        transform = brainscore_transform(model.input_shape[0])
    else:
        transform = spec_transform(model.preprocessing)
    images = np.stack([load_and_transform(paths[i], transform) for i in index])
    return Points(to_float01(images), np.asarray(labels, np.int32)[index], index, what)


def dataset_size(entry: DatasetEntry) -> int:
    """How many points a dataset entry evaluates (cheap: counts, does not decode images)."""
    if entry.n is not None:
        return entry.n
    if entry.kind == "digits":
        from alignjax.data.digits import digits_split

        total = len(digits_split("test").y)
    elif entry.kind == "npz":
        with np.load(entry.path, allow_pickle=False) as archive:  # type: ignore[arg-type]
            total = len(archive["y"]) if "y" in archive.files else 0
    elif entry.kind in ("cifar10", "cifar100"):
        total = 10_000
    else:
        from alignjax.data import imagenet_val

        subset = "robustbench" if entry.subset == "robustbench" else None
        total = len(imagenet_val(entry.path, subset=subset).labels)  # type: ignore[arg-type]
    return max(total - entry.start, 0)


def load_points(entry: DatasetEntry, model: LoadedModel) -> Points:
    """The unit's evaluation points for ``model`` (its preprocessing for image files)."""
    if entry.kind == "digits":
        from alignjax.data.digits import digits_split

        split = digits_split("test")
        index = _select(len(split.y), entry)
        points = Points(split.x[index], split.y[index], index, "sklearn digits, fixed test split")
    elif entry.kind == "npz":
        from alignjax.data import load_npz

        data = load_npz(entry.path)  # type: ignore[arg-type]
        x = data.x if entry.layout == "nhwc" else np.transpose(data.x, (0, 2, 3, 1))
        index = _select(len(data.y), entry)
        x = x[index]
        x = x.astype(np.float32) / np.float32(255.0) if x.dtype == np.uint8 else x.astype(np.float32)
        points = Points(x, data.y[index], index, f"npz {entry.path}")
    elif entry.kind in ("cifar10", "cifar100"):
        from alignjax.data import load_cifar

        data = load_cifar(entry.path, name=entry.kind, split="test")  # type: ignore[arg-type]
        index = _select(len(data.y), entry)
        points = Points(data.x[index].astype(np.float32) / np.float32(255.0), data.y[index], index, data.description)
    else:
        points = _imagenet_points(entry, model)
    if points.x.shape[1:] != tuple(model.input_shape):
        raise InputError(f"dataset {entry.name} has images of shape {points.x.shape[1:]} but the model expects "
                         f"{tuple(model.input_shape)}")
    return points


def _imagenet_points(entry: DatasetEntry, model: LoadedModel) -> Points:
    from alignjax.data import imagenet_val

    if entry.subset == "robustbench":
        data = imagenet_val(entry.path, subset="robustbench")  # type: ignore[arg-type]
        index = _select(len(data.labels), entry)
    else:
        data = imagenet_val(entry.path)  # type: ignore[arg-type]
        order = None
        if entry.subset == "paper":
            if len(data.labels) != IMAGENET_VAL_SIZE:
                raise InputError(f"dataset {entry.name}: the paper's subset permutes all {IMAGENET_VAL_SIZE} "
                                 f"validation images; {entry.path} holds {len(data.labels)}")
            order = np.random.RandomState(PAPER_SHUFFLE_SEED).permutation(IMAGENET_VAL_SIZE)
        index = _select(len(data.labels), entry, order)
    return _file_points(data.paths, data.labels, index, entry, model, data.description)
