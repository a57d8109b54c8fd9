"""Datasets of image files: any folder with one subfolder per class (torchvision ``ImageFolder`` order).

Classes are the sorted subfolder names (index = position), files are found with a sorted recursive
walk and kept when their lower-cased name ends in one of ``IMG_EXTENSIONS`` (torchvision
``datasets/folder.py::make_dataset``). Items are ``(path, label)``; decoding happens in the streaming
pipeline.

Deliberate deviation: hidden entries (names starting with '.', e.g. ``.ipynb_checkpoints``,
``.DS_Store``, macOS ``._x.jpg`` resource forks) are ignored; torchvision counts a hidden folder as a
class, which shifts every label after it.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from os import PathLike
from pathlib import Path

import numpy as np

from alignjax.data.arrays import check_labels

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


@dataclasses.dataclass(frozen=True, eq=False)
class FileDataset:
    """Image files with integer labels; ``classes[i]`` names label i when known."""

    paths: tuple[Path, ...]
    labels: np.ndarray
    description: str
    classes: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        num_classes = len(self.classes) if self.classes is not None else None
        labels = check_labels(self.labels, num_classes)
        if len(labels) != len(self.paths):
            raise ValueError(f"{len(self.paths)} paths but {len(labels)} labels")
        object.__setattr__(self, "labels", labels)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[Path, int]:
        return self.paths[index], int(self.labels[index])

    def check_num_classes(self, num_classes: int) -> None:
        """Refuses a dataset whose class mapping does not fit a model with ``num_classes`` outputs."""
        if self.classes is not None and len(self.classes) != num_classes:
            raise ValueError(
                f"{self.description} has a class mapping of {len(self.classes)} classes but the model has "
                f"{num_classes} outputs"
            )
        check_labels(self.labels, num_classes, what=f"labels of {self.description}")


def is_hidden(name: str) -> bool:
    """Hidden entries (``.ipynb_checkpoints``, ``.DS_Store``, ``._x.jpg``) are never data."""
    return name.startswith(".")


def subfolders(root: Path) -> list[str]:
    """Sorted names of the visible subfolders of ``root``."""
    return sorted(entry.name for entry in os.scandir(root) if entry.is_dir() and not is_hidden(entry.name))


def find_classes(root: Path) -> list[str]:
    classes = subfolders(root)
    if not classes:
        raise FileNotFoundError(f"no class subfolders in {root}")
    return classes


def image_files(folder: Path, extensions: Sequence[str] = IMG_EXTENSIONS) -> list[Path]:
    """Visible image files under ``folder``, in a sorted recursive walk (hidden folders are skipped)."""
    walked: list[tuple[str, list[str]]] = []
    for directory, folders, files in os.walk(folder, followlinks=True):
        folders[:] = [name for name in folders if not is_hidden(name)]  # prunes the walk
        walked.append((directory, files))
    return [
        Path(directory) / file
        for directory, files in sorted(walked)
        for file in sorted(files)
        if not is_hidden(file) and has_image_extension(file, extensions)
    ]


def has_image_extension(name: str, extensions: Sequence[str] = IMG_EXTENSIONS) -> bool:
    return name.lower().endswith(tuple(extensions))


def image_folder(
    root: str | PathLike,
    *,
    class_to_index: Mapping[str, int] | None = None,
    extensions: Sequence[str] = IMG_EXTENSIONS,
    num_classes: int | None = None,
) -> FileDataset:
    """All images under ``root/<class>/`` in torchvision ``ImageFolder`` order.

    Args:
      root: folder with one subfolder per class.
      class_to_index: a fixed mapping (e.g. all 1000 ImageNet wnids); default: sorted subfolders.
        Subfolders absent from the mapping are an error.
      extensions: file endings kept (case-insensitive).
      num_classes: when given, labels must be < num_classes.
    """
    root = Path(root)
    if not root.is_dir():
        if root.exists():
            raise ValueError(f"{root} is a file, not an image folder (--data-format folder takes a folder with "
                             "one subfolder per class); drop --data-format to read the file as what it is")
        raise FileNotFoundError(f"image folder {root} does not exist")
    found = find_classes(root)
    if class_to_index is None:
        class_to_index = {name: index for index, name in enumerate(found)}
        classes: tuple[str, ...] | None = tuple(found)
    else:
        unknown = [name for name in found if name not in class_to_index]
        if unknown:
            raise ValueError(f"{root}: subfolder(s) {unknown[:5]} are not in the class mapping")
        by_index = sorted(class_to_index.items(), key=lambda item: item[1])
        if [index for _, index in by_index] != list(range(len(by_index))):
            raise ValueError("class_to_index must map onto 0..n-1")
        classes = tuple(name for name, _ in by_index)
    paths: list[Path] = []
    labels: list[int] = []
    for name in sorted(found):
        for path in image_files(root / name, extensions):
            paths.append(path)
            labels.append(class_to_index[name])
    if not paths:
        raise FileNotFoundError(f"no images with extensions {tuple(extensions)} under {root}")
    dataset = FileDataset(tuple(paths), np.array(labels, dtype=np.int32), f"image folder {root}", classes)
    if num_classes is not None:
        dataset.check_num_classes(num_classes)
    return dataset
