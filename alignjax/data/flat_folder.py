"""A flat folder of images plus a labels CSV: each file's class is an integer index or an ImageNet wnid.

The CSV (read by ``imagenet.read_label_column``) has a file column (``file``, ``filename``, ``ImageId``
or ``path``) and a label column (``label``, ``wnid``, or Kaggle's ``PredictionString``, whose first
token is the wnid); names without an extension get ``.JPEG`` (Kaggle's ImageIds). Integer labels are
used as they are: the class mapping is then the user's, and only checked against the model's class
count. Wnids map to the index among the 1000 sorted ImageNet wnids (RobustBench's and torchvision's
numbering), and the data set then carries the 1000-class mapping. Every image must have a label; rows
for images that are not in the folder are allowed (a labels file of the full validation set, a
folder holding part of it).
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path

import numpy as np

from alignjax.data.arrays import check_labels
from alignjax.data.folders import IMG_EXTENSIONS, FileDataset, has_image_extension, is_hidden
from alignjax.data.imagenet import (
    imagenet_class_to_index,
    imagenet_wnids,
    is_integer_label,
    read_label_column,
)


def labelled_folder(
    folder: str | PathLike,
    labels_csv: str | PathLike,
    *,
    file_column: str | None = None,
    label_column: str | None = None,
    num_classes: int | None = None,
) -> FileDataset:
    """The images directly in ``folder`` (sorted by name, hidden files ignored) with labels from a CSV.

    Args:
      folder: a folder of image files (no class subfolders).
      labels_csv: see the module docstring.
      file_column, label_column: column names when the defaults do not apply.
      num_classes: when given, labels (and a wnid mapping) must fit a model with this many outputs.
    """
    folder, labels_csv = Path(folder), Path(labels_csv)
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder {folder} does not exist")
    if labels_csv.is_dir():
        raise ValueError(f"--labels {labels_csv} is a directory; give the CSV file (columns file,label)")
    if not labels_csv.is_file():
        raise FileNotFoundError(f"labels file {labels_csv} does not exist")
    files, tokens = read_label_column(labels_csv, file_column=file_column, label_column=label_column)
    integers = [is_integer_label(token) for token in tokens]
    if all(integers):
        named = {file: int(token) for file, token in zip(files, tokens, strict=True)}
        classes: tuple[str, ...] | None = None
    else:
        mapping = imagenet_class_to_index()
        unknown = [token for token in tokens if token not in mapping]
        if unknown:
            raise ValueError(
                f"{labels_csv}: label(s) {unknown[:3]} are neither integers nor ImageNet wnids; give each "
                "file an integer class index (the model's output index) or a wnid"
            )
        named = {file: mapping[token] for file, token in zip(files, tokens, strict=True)}
        classes = imagenet_wnids()
    images = sorted(
        entry.name
        for entry in folder.iterdir()
        if entry.is_file() and not is_hidden(entry.name) and has_image_extension(entry.name, IMG_EXTENSIONS)
    )
    if not images:
        raise FileNotFoundError(f"no images with extensions {IMG_EXTENSIONS} directly in {folder}")
    unlabelled = [name for name in images if name not in named]
    if unlabelled:
        raise ValueError(
            f"{len(unlabelled)} of {len(images)} image(s) in {folder} have no label in {labels_csv}: "
            f"{unlabelled[:5]}"
        )
    values = [named[name] for name in images]
    huge = [value for value in values if not 0 <= value <= np.iinfo(np.int32).max]
    if huge:  # checked on Python ints: no array cast may wrap them first
        raise ValueError(f"labels in {labels_csv} must be class indices in 0..{np.iinfo(np.int32).max}; found "
                         f"{huge[:5]}")
    labels = check_labels(np.array(values, dtype=np.int64), None, what=f"labels in {labels_csv}")
    absent = len(set(named) - set(images))
    note = f" ({absent} labelled file(s) not in the folder ignored)" if absent else ""
    dataset = FileDataset(
        tuple(folder / name for name in images),
        labels,
        f"image folder {folder} labelled by {labels_csv.name}{note}",
        classes,
    )
    if num_classes is not None:
        dataset.check_num_classes(num_classes)
    return dataset
