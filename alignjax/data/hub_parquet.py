"""Image datasets stored as parquet on the Hugging Face hub (the ``datasets`` library's export format).

Files are located through ``huggingface_hub.snapshot_download`` restricted to the split's files (so
only those are downloaded, and with ``HF_HUB_OFFLINE=1`` a cached snapshot is used), then read with
polars. The image column is a struct ``{'bytes': binary, 'path': str}``; items are the encoded bytes,
decoded with PIL by the streaming pipeline. Only the image and label columns are held in memory (the
encoded files, never decoded pixels).
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Sequence
from os import PathLike
from pathlib import Path

import numpy as np
import polars as pl

from alignjax.data.arrays import check_labels


@dataclasses.dataclass(frozen=True, eq=False)
class ParquetImageDataset:
    """Encoded images and labels read from parquet files; items are ``(bytes, label)``."""

    images: tuple[bytes, ...]
    labels: np.ndarray
    description: str
    names: tuple[str, ...]
    classes: tuple[str, ...] | None = None

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[bytes, int]:
        return self.images[index], int(self.labels[index])


def read_parquet_images(
    files: Sequence[str | PathLike],
    *,
    image_column: str = "image",
    label_column: str = "label",
    num_classes: int | None = None,
    classes: Sequence[str] | None = None,
    description: str | None = None,
) -> ParquetImageDataset:
    """Reads ``image_column`` (struct of bytes and path, or binary) and ``label_column``, in file order."""
    files = [Path(file) for file in files]
    if not files:
        raise FileNotFoundError("no parquet files given")
    frames = []
    for file in files:
        try:
            schema = pl.read_parquet_schema(file)
        except (pl.exceptions.PolarsError, OSError) as err:
            raise ValueError(f"{file} is not a readable parquet file ({err}); --data-format parquet takes "
                             "parquet files or a folder of them") from None
        for column in (image_column, label_column):
            if column not in schema:
                raise ValueError(f"{file}: no column {column!r}; columns are {list(schema)}")
        frame = pl.read_parquet(file, columns=[image_column, label_column])
        dtype = frame.schema[image_column]
        if isinstance(dtype, pl.Struct):
            fields = {field.name for field in dtype.fields}
            if "bytes" not in fields:
                raise ValueError(
                    f"{file}: image column {image_column!r} has no 'bytes' field ({sorted(fields)})"
                )
            path_expr = (
                pl.col(image_column).struct.field("path") if "path" in fields else pl.lit(None, pl.String)
            )
            frame = frame.select(
                pl.col(image_column).struct.field("bytes").alias("bytes"),
                path_expr.cast(pl.String).alias("path"),
                pl.col(label_column).alias("label"),
            )
        elif dtype == pl.Binary:
            frame = frame.select(
                pl.col(image_column).alias("bytes"),
                pl.lit(None, pl.String).alias("path"),
                pl.col(label_column).alias("label"),
            )
        else:
            raise ValueError(
                f"{file}: image column {image_column!r} has type {dtype}, expected a struct or binary"
            )
        frames.append(
            frame.with_columns(pl.lit(file.name).alias("file"), pl.int_range(pl.len()).alias("row"))
        )
    table = pl.concat(frames, how="vertical")
    empty = table.filter(pl.col("bytes").is_null())
    if empty.height:
        first = empty.row(0, named=True)
        raise ValueError(
            f"{empty.height} row(s) have no image bytes (first: {first['file']} row {first['row']}, path "
            f"{first['path']!r}); images stored only as paths are not supported"
        )
    if table["label"].null_count():
        raise ValueError(f"label column {label_column!r} has missing values")
    labels = check_labels(table["label"].to_numpy(), num_classes, what=f"labels in {label_column!r}")
    names = [
        path if path else f"{file}[{row}]"
        for path, file, row in zip(
            table["path"].to_list(), table["file"].to_list(), table["row"].to_list(), strict=True
        )
    ]
    return ParquetImageDataset(
        images=tuple(table["bytes"].to_list()),
        labels=labels,
        description=description or f"parquet {', '.join(file.name for file in files)}",
        names=tuple(names),
        classes=tuple(classes) if classes is not None else None,
    )


def hub_parquet_files(
    repo_id: str,
    *,
    pattern: str,
    revision: str | None = None,
    cache_dir: str | PathLike | None = None,
) -> list[Path]:
    """Local paths of the dataset repo's files matching ``pattern`` (downloaded or taken from the cache)."""
    from huggingface_hub import snapshot_download

    folder = Path(
        snapshot_download(
            repo_id, repo_type="dataset", revision=revision, cache_dir=cache_dir, allow_patterns=[pattern]
        )
    )
    found = sorted(
        path
        for path in folder.rglob("*")
        if path.is_file() and fnmatch.fnmatch(path.relative_to(folder).as_posix(), pattern)
    )
    if not found:
        raise FileNotFoundError(f"no files matching {pattern!r} in dataset {repo_id} (snapshot {folder})")
    return found


def load_hub_parquet(
    repo_id: str,
    *,
    split: str = "test",
    pattern: str | None = None,
    revision: str | None = None,
    cache_dir: str | PathLike | None = None,
    image_column: str = "image",
    label_column: str = "label",
    num_classes: int | None = None,
    classes: Sequence[str] | None = None,
) -> ParquetImageDataset:
    """A split of a hub dataset repo stored as parquet.

    Args:
      repo_id: e.g. 'uoft-cs/cifar10'.
      split: used for the default pattern ``*/{split}-*.parquet`` (the ``datasets`` layout
        ``<config>/<split>-00000-of-0000N.parquet``); give ``pattern`` for other layouts.
      revision: branch, tag or commit; pin a commit for reproducible evaluations.
      cache_dir: the hub cache (default: ``HF_HUB_CACHE``).
      image_column, label_column: column names (e.g. 'img', 'fine_label').
      num_classes: labels must fit a model with this many outputs.
    """
    pattern = pattern or f"*/{split}-*.parquet"
    files = hub_parquet_files(repo_id, pattern=pattern, revision=revision, cache_dir=cache_dir)
    return read_parquet_images(
        files,
        image_column=image_column,
        label_column=label_column,
        num_classes=num_classes,
        classes=classes,
        description=f"hf://datasets/{repo_id}@{revision or 'main'} {pattern}",
    )
