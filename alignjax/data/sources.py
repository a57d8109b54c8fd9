"""One entry point from a data source on disk (what ``alignjax attack --data`` takes) to a ``Dataset``.

``open_dataset(source)`` recognises, with ``format='auto'``:

- a file: ``.parquet`` -> a table of encoded images (the Hugging Face hub's dataset format); anything
  else is read as an ``.npz`` (``npz.load_npz``, which names what a wrong file is);
- ``hf://datasets/<owner>/<name>[@revision]`` -> the split's parquet files from the hub (or its cache);
- a folder holding CIFAR's published "python version" (``cifar-10-batches-py``/``cifar-100-python``, or
  the folder itself) -> ``cifar.load_cifar``;
- a folder holding parquet files and no images -> those of ``split`` (``<split>-*.parquet`` or a ``<split>/`` folder);
- ImageNet validation: ``subset='robustbench'`` (or ids), or class folders (under ``val/`` or not) that
  are all ImageNet wnids -> ``imagenet.imagenet_val`` (labels = index among the 1000 sorted wnids);
- a flat folder of images with ``labels`` (a CSV) -> ``flat_folder.labelled_folder``;
- any other folder with class subfolders -> ``folders.image_folder`` (sorted subfolders = 0..k-1).

``format`` forces one reader: 'npz', 'folder' (class subfolders numbered 0..k-1 even if they are wnids),
'imagenet', 'cifar10', 'cifar100', 'parquet'. ``n`` keeps the first n points, after every check has
run on the whole source.
"""

from __future__ import annotations

import os
import re
from os import PathLike
from pathlib import Path
from typing import Literal

import polars as pl

from alignjax.data.arrays import Dataset, check_count, first_n
from alignjax.data.folders import has_image_extension, image_folder, is_hidden, subfolders
from alignjax.data.hub_parquet import ParquetImageDataset, read_parquet_images

FORMATS = ("auto", "npz", "folder", "imagenet", "cifar10", "cifar100", "parquet")
WNID = re.compile(r"^n\d{8}$")
LABEL_COLUMNS = ("label", "labels", "fine_label", "class", "target")
IMAGE_COLUMNS = ("image", "img", "images", "jpg", "png")


def open_dataset(
    source: str | PathLike,
    *,
    format: str = "auto",
    labels: str | PathLike | None = None,
    subset: str | None = None,
    split: Literal["train", "test", "validation", "val"] | str = "test",
    layout: Literal["nhwc", "nchw"] = "nhwc",
    label_column: str | None = None,
    n: int | None = None,
) -> Dataset:
    """The data set ``source`` names (module docstring), checked whole, then cut to its first ``n`` points.

    Args:
      source: a file, a folder, or ``hf://datasets/<owner>/<name>[@revision]``.
      format: one of ``FORMATS``.
      labels: a labels CSV for a flat folder of images (integer labels or ImageNet wnids).
      subset: ImageNet only: 'robustbench' for RobustBench's fixed 5000 images, in their order.
      split: CIFAR ('train'/'test') and parquet sources.
      layout: npz only: 'nhwc' or 'nchw'.
      label_column: parquet only: the label column (default: the first of ``LABEL_COLUMNS`` present).
      n: keep the first n points (RobustBench's convention); None keeps all.
    """
    if format not in FORMATS:
        raise ValueError(f"unknown data format {format!r}; use one of {', '.join(FORMATS)}")
    if not isinstance(source, (str, PathLike)):
        raise TypeError(f"source must be a path or an hf://datasets/... string, got {type(source).__name__}")
    if n is not None:
        check_count("n", n)
    text = str(source)
    if text.startswith("hf://datasets/"):
        return first_n(_hub(text, split, label_column), n)
    path = Path(source).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"data source {path} does not exist")
    kind = _detect(path, labels, subset) if format == "auto" else format
    if kind in ("folder", "imagenet", "cifar10", "cifar100") and not path.is_dir():
        raise ValueError(f"{path} is a file, but data format {kind!r} reads a folder; drop --data-format to read "
                         "the file as what it is")
    if subset is not None and kind != "imagenet":
        raise ValueError(f"subset {subset!r} applies to ImageNet validation folders, not to {kind} data")
    if labels is not None and kind not in ("folder", "imagenet"):
        raise ValueError(f"a labels file applies to flat folders of images, not to {kind} data")
    if kind == "npz":
        from alignjax.data.npz import load_npz

        return first_n(load_npz(path, layout=layout), n)
    if kind in ("cifar10", "cifar100"):
        from alignjax.data.cifar import load_cifar

        if split not in ("train", "test"):
            raise ValueError(f"CIFAR has the splits 'train' and 'test', not {split!r}")
        return first_n(load_cifar(path, name=kind, split=split), n)  # type: ignore[arg-type]
    if kind == "parquet":
        return first_n(_parquet(path, split, label_column), n)
    if kind == "imagenet":
        from alignjax.data.imagenet import imagenet_val

        # with a subset, only its first n files need to be present
        dataset = imagenet_val(path, subset=subset, labels_csv=labels, n=n if subset else None)
        return dataset if subset else first_n(dataset, n)
    if labels is not None:
        from alignjax.data.flat_folder import labelled_folder

        return first_n(labelled_folder(path, labels), n)
    if not subfolders(path):
        raise ValueError(
            f"{path} holds no class subfolders; for a flat folder of images pass a labels CSV "
            "(--labels FILE.csv with columns file,label)"
        )
    return first_n(image_folder(path), n)


def _detect(path: Path, labels: str | PathLike | None, subset: str | None) -> str:
    if path.is_file():
        return "parquet" if path.suffix.lower() == ".parquet" else "npz"
    if subset is not None:
        return "imagenet"
    if (path / "cifar-10-batches-py").is_dir() or (path / "batches.meta").is_file():
        return "cifar10"
    if (path / "cifar-100-python").is_dir() or (
        (path / "meta").is_file() and ((path / "test").is_file() or (path / "train").is_file())
    ):
        return "cifar100"
    if labels is None and next(path.rglob("*.parquet"), None) is not None and not _holds_images(path):
        return "parquet"
    if labels is None:
        root = path / "val" if (path / "val").is_dir() else path
        classes = subfolders(root)
        if classes and all(WNID.match(name) for name in classes):
            return "imagenet"
    return "folder"


def _holds_images(folder: Path) -> bool:
    return any(
        has_image_extension(name) for _, _, files in os.walk(folder) for name in files if not is_hidden(name)
    )


def _split_files(folder: Path, split: str) -> list[Path]:
    files = sorted(folder.rglob("*.parquet"))
    chosen = [
        file for file in files if file.name.startswith((f"{split}-", f"{split}.")) or file.parent.name == split
    ]
    if not chosen:
        shown = [file.relative_to(folder).as_posix() for file in files[:6]]
        raise FileNotFoundError(f"no parquet files of split {split!r} under {folder} (found {shown}); pass the split")
    return chosen


def _columns(file: Path, label_column: str | None) -> tuple[str, str]:
    try:
        schema = pl.read_parquet_schema(file)
    except (pl.exceptions.PolarsError, OSError) as err:
        raise ValueError(f"{file} is not a readable parquet file ({err}); --data-format parquet takes parquet "
                         "files or a folder of them; drop --data-format to read the file as what it is") from None
    images = [name for name in IMAGE_COLUMNS if name in schema] or [
        name
        for name, dtype in schema.items()
        if dtype == pl.Binary or (isinstance(dtype, pl.Struct) and "bytes" in {f.name for f in dtype.fields})
    ]
    if len(images) != 1:
        raise ValueError(f"{file}: cannot tell the image column among {list(schema)}; found {images}")
    if label_column is None:
        found = [name for name in LABEL_COLUMNS if name in schema]
        if not found:
            raise ValueError(f"{file}: no label column among {list(schema)}; pass the label column's name")
        label_column = found[0]
    return images[0], label_column


def _parquet(path: Path, split: str, label_column: str | None) -> ParquetImageDataset:
    files = [path] if path.is_file() else _split_files(path, split)
    image_column, label_column = _columns(files[0], label_column)
    return read_parquet_images(files, image_column=image_column, label_column=label_column)


def _hub(text: str, split: str, label_column: str | None) -> ParquetImageDataset:
    from alignjax.data.hub_parquet import hub_parquet_files

    repo, _, revision = text.removeprefix("hf://datasets/").partition("@")
    files = hub_parquet_files(repo, pattern=f"*{split}-*.parquet", revision=revision or None)
    image_column, label_column = _columns(files[0], label_column)
    return read_parquet_images(
        files,
        image_column=image_column,
        label_column=label_column,
        description=f"hf://datasets/{repo}@{revision or 'main'} {split}",
    )
