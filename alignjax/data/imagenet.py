"""ImageNet validation images, the 1000-class wnid mapping and RobustBench's fixed 5000-image subset.

Two layouts are read:
- folders: ``<root>/val/<wnid>/*.JPEG`` (or ``<root>/<wnid>/*.JPEG``), torchvision ``ImageFolder`` order;
- flat: ``<root>/val/*.JPEG`` plus a labels CSV (a file column and a wnid or integer label column; the
  Kaggle ``LOC_val_solution.csv`` form ``ImageId,PredictionString`` works: the first token is the wnid).

Labels are the index of the wnid among the 1000 sorted wnids (``imagenet_class_to_id_map.json``), which is
what RobustBench's ``CustomImageFolder`` gives on a full validation folder, whatever subset of class
folders is present locally. The RobustBench subset (``imagenet_subset_ids.txt``, robustbench 1.1.1
``helper_files/imagenet_test_image_ids.txt``, MIT; see IMAGENET_SUBSET_LICENSE.md) is used in file order;
RobustBench evaluates its first n (at most 5000) entries.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from importlib import resources
from os import PathLike
from pathlib import Path

import numpy as np
import polars as pl

from alignjax.data.folders import FileDataset, has_image_extension, image_folder, is_hidden, subfolders

NUM_CLASSES = 1000
ROBUSTBENCH_SUBSET_SIZE = 5000


@functools.cache
def imagenet_class_to_index() -> Mapping[str, int]:
    """wnid -> 0..999 in sorted-wnid order (a read-only view)."""
    text = resources.files("alignjax.data").joinpath("imagenet_class_to_id_map.json").read_text()
    mapping = {str(wnid): int(index) for wnid, index in json.loads(text).items()}
    check_class_mapping(mapping, NUM_CLASSES)
    return mapping


def imagenet_wnids() -> tuple[str, ...]:
    mapping = imagenet_class_to_index()
    return tuple(sorted(mapping, key=mapping.__getitem__))


@functools.cache
def robustbench_subset_ids() -> tuple[str, ...]:
    """RobustBench's 5000 ``<wnid>/<file>.JPEG`` validation ids, in evaluation order."""
    text = resources.files("alignjax.data").joinpath("imagenet_subset_ids.txt").read_text()
    ids = tuple(line.strip() for line in text.splitlines() if line.strip())
    if len(ids) != ROBUSTBENCH_SUBSET_SIZE:
        raise RuntimeError(
            f"imagenet_subset_ids.txt holds {len(ids)} ids, expected {ROBUSTBENCH_SUBSET_SIZE}"
        )
    return ids


def check_class_mapping(class_to_index: Mapping[str, int], num_classes: int) -> None:
    """Refuses a wnid mapping that does not fit a model with ``num_classes`` outputs."""
    if len(class_to_index) != num_classes:
        raise ValueError(
            f"the class-index mapping has {len(class_to_index)} classes "
            f"but the model has {num_classes} outputs"
        )
    if sorted(class_to_index.values()) != list(range(num_classes)):
        raise ValueError(f"the class-index mapping must be a bijection onto 0..{num_classes - 1}")


def _val_folder(root: Path) -> Path:
    folder = root / "val" if (root / "val").is_dir() else root
    if not folder.is_dir():
        if folder.exists():
            raise ValueError(f"{folder} is a file; the ImageNet validation data is a folder (val/<wnid>/*.JPEG)")
        raise FileNotFoundError(f"ImageNet validation folder {folder} does not exist")
    return folder


def _is_folder_layout(folder: Path) -> bool:
    return bool(subfolders(folder))


def _check_present(paths: Sequence[Path], where: Path) -> None:
    missing = [path for path in paths if not path.is_file()]
    if missing:
        shown = ", ".join(str(path.relative_to(where)) for path in missing[:5])
        raise FileNotFoundError(
            f"{len(missing)} of {len(paths)} ImageNet images are missing under {where}: {shown}"
        )


def _pick_column(frame: pl.DataFrame, wanted: str | None, candidates: Sequence[str], what: str) -> str:
    if wanted is not None:
        if wanted not in frame.columns:
            raise ValueError(f"labels CSV has no column {wanted!r}; columns are {frame.columns}")
        return wanted
    for name in candidates:
        if name in frame.columns:
            return name
    raise ValueError(
        f"labels CSV needs a {what} column (one of {list(candidates)}); columns are {frame.columns}"
    )


def read_label_column(
    path: str | PathLike, *, file_column: str | None = None, label_column: str | None = None
) -> tuple[list[str], list[str]]:
    """(file names, with ``.JPEG`` added when there is no extension; first token of each label)."""
    try:
        frame = pl.read_csv(path, infer_schema=False)
    except (pl.exceptions.PolarsError, UnicodeDecodeError) as err:
        kind = "is empty" if isinstance(err, pl.exceptions.NoDataError) else f"is not a readable CSV ({err})"
        raise ValueError(f"labels file {path} {kind}; it needs a header and one row per image, e.g. "
                         "'file,label' then '0001.png,3'") from None
    file_column = _pick_column(frame, file_column, ("file", "filename", "ImageId", "path"), "file")
    label_column = _pick_column(frame, label_column, ("wnid", "label", "PredictionString"), "label")
    files = [name if Path(name).suffix else f"{name}.JPEG" for name in map(str, frame[file_column].to_list())]
    tokens = [str(value).strip().split(" ")[0] for value in frame[label_column].to_list()]
    if len(set(files)) != len(files):
        raise ValueError(f"{path}: file names are not unique")
    return files, tokens


def is_integer_label(token: str) -> bool:
    return token.lstrip("-").isdigit()


def read_labels_csv(
    path: str | PathLike,
    *,
    file_column: str | None = None,
    label_column: str | None = None,
    class_to_index: Mapping[str, int] | None = None,
) -> dict[str, int]:
    """Maps file names (with ``.JPEG`` added when there is no extension) to class indices: integer labels
    as they are, wnids through ``class_to_index`` (default: the 1000 ImageNet classes)."""
    class_to_index = imagenet_class_to_index() if class_to_index is None else class_to_index
    files, tokens = read_label_column(path, file_column=file_column, label_column=label_column)
    named: dict[str, int] = {}
    for file, value in zip(files, tokens, strict=True):
        if is_integer_label(value):
            named[file] = int(value)
        elif value in class_to_index:
            named[file] = class_to_index[value]
        else:
            raise ValueError(f"{path}: label {value!r} of {file} is neither an integer nor a known wnid")
    return named


def imagenet_val(
    root: str | PathLike,
    *,
    subset: str | Sequence[str] | None = None,
    labels_csv: str | PathLike | None = None,
    n: int | None = None,
    num_classes: int = NUM_CLASSES,
) -> FileDataset:
    """ImageNet validation images as ``(path, label)`` items.

    Args:
      root: folder holding ``val/`` (or the validation folder itself).
      subset: None for every image found; 'robustbench' for RobustBench's fixed 5000 in their order; or a
        sequence of ``<wnid>/<file>`` ids. Missing files are an error naming them.
      labels_csv: labels of a flat folder (see the module docstring); not needed with a subset, whose ids
        carry the wnid.
      n: keep the first n images (RobustBench: at most 5000).
      num_classes: the model's number of outputs; the wnid mapping must have exactly this many classes.
    """
    class_to_index = imagenet_class_to_index()
    check_class_mapping(class_to_index, num_classes)
    folder = _val_folder(Path(root))
    folder_layout = _is_folder_layout(folder)
    if subset is not None:
        if isinstance(subset, str) and subset != "robustbench":
            raise ValueError(
                f"unknown subset {subset!r}; use 'robustbench' or a sequence of '<wnid>/<file>' ids"
            )
        ids = robustbench_subset_ids() if subset == "robustbench" else tuple(subset)
        ids = ids if n is None else _first(ids, n, "the subset")
        wnids = [image_id.split("/")[0] for image_id in ids]
        unknown = sorted({wnid for wnid in wnids if wnid not in class_to_index})
        if unknown:
            raise ValueError(f"subset ids name unknown wnid(s) {unknown[:5]}")
        paths = [folder / (image_id if folder_layout else image_id.split("/")[-1]) for image_id in ids]
        _check_present(paths, folder)
        labels = np.array([class_to_index[wnid] for wnid in wnids], dtype=np.int32)
        name = "RobustBench 5000" if subset == "robustbench" else f"{len(ids)} listed"
        return FileDataset(tuple(paths), labels, f"ImageNet val ({name}) at {folder}", imagenet_wnids())
    if folder_layout:
        dataset = image_folder(folder, class_to_index=class_to_index, num_classes=num_classes)
        paths, labels = list(dataset.paths), dataset.labels
    else:
        if labels_csv is None:
            raise ValueError(f"{folder} is a flat folder: pass labels_csv (or use subset='robustbench')")
        named = read_labels_csv(labels_csv, class_to_index=class_to_index)
        files = sorted(
            path.name for path in folder.iterdir() if not is_hidden(path.name) and has_image_extension(path.name)
        )
        unlabeled = [file for file in files if file not in named]
        if unlabeled:
            raise ValueError(
                f"{len(unlabeled)} image(s) in {folder} have no label in {labels_csv}: {unlabeled[:5]}"
            )
        paths = [folder / file for file in files]
        labels = np.array([named[file] for file in files], dtype=np.int32)
    if n is not None:
        paths, labels = list(_first(tuple(paths), n, str(folder))), labels[:n]
    return FileDataset(tuple(paths), labels, f"ImageNet val at {folder}", imagenet_wnids())


def _first(items: tuple, n: int, what: str) -> tuple:
    if n < 0 or n > len(items):
        raise ValueError(f"asked for the first {n} images of {what}, which has {len(items)}")
    return items[:n]


def robustbench_imagenet(root: str | PathLike, *, n: int = ROBUSTBENCH_SUBSET_SIZE) -> FileDataset:
    """RobustBench's ImageNet evaluation set: the first ``n`` (<= 5000) of its fixed subset."""
    if n > ROBUSTBENCH_SUBSET_SIZE:
        raise ValueError(
            f"RobustBench evaluates at most {ROBUSTBENCH_SUBSET_SIZE} ImageNet points, asked for {n}"
        )
    return imagenet_val(root, subset="robustbench", n=n)
