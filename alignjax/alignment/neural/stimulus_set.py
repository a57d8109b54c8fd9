"""BrainIO stimulus sets: a CSV of per-stimulus metadata plus a folder (unzipped ZIP) of images.

Format (brain-score/brainio ``docs/SPECIFICATION.md``; loader brain-score/core@7436003
``brainscore_core/supported_data_standards/brainio/stimuli.py::StimulusSetLoader``): a header row; one
row per stimulus; a unique ``stimulus_id`` column (older sets name it ``image_id``, which the reference
copies into ``stimulus_id``); a ``filename`` column giving each image's path inside the ZIP; any other
columns are metadata (``object_name``, ``texture_type``, ...). Column types are inferred from the whole
file, as pandas does; identifiers and file names are always strings.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from alignjax.alignment.neural import brainio

_STRING_COLUMNS = ("stimulus_id", "image_id", "filename")


@dataclasses.dataclass(frozen=True, eq=False)
class StimulusSet:
    """``table``: the CSV (one row per stimulus, ``stimulus_id`` unique); ``directory``: the images."""

    identifier: str
    table: pl.DataFrame
    directory: Path

    def paths(self, stimulus_ids: Sequence[str] | None = None) -> list[Path]:
        """Image paths of ``stimulus_ids`` (default: every stimulus, in table order)."""
        if stimulus_ids is None:
            return [self.directory / name for name in self.table["filename"].to_list()]
        by_id = dict(zip(self.table["stimulus_id"].to_list(), self.table["filename"].to_list()))
        missing = [stimulus for stimulus in stimulus_ids if stimulus not in by_id]
        if missing:
            raise KeyError(f"{len(missing)} stimulus ids are not in stimulus set {self.identifier}, "
                           f"e.g. {missing[:3]}")
        return [self.directory / by_id[stimulus] for stimulus in stimulus_ids]


def read_stimulus_csv(csv_path: str | os.PathLike) -> pl.DataFrame:
    """The metadata table, with ``stimulus_id`` (from ``image_id`` if needed) and ``filename`` checked."""
    csv_path = Path(csv_path)
    header = pl.read_csv(csv_path, n_rows=0).columns
    overrides = {name: pl.String for name in _STRING_COLUMNS if name in header}
    table = pl.read_csv(csv_path, infer_schema_length=None, schema_overrides=overrides)
    if "stimulus_id" not in table.columns:
        if "image_id" not in table.columns:
            raise ValueError(f"{csv_path} has no 'stimulus_id' (or legacy 'image_id') column: {header}")
        table = table.with_columns(pl.col("image_id").alias("stimulus_id"))
    if "filename" not in table.columns:
        raise ValueError(f"{csv_path} has no 'filename' column (the image's path inside the zip)")
    duplicated = table.filter(pl.col("stimulus_id").is_duplicated())["stimulus_id"].unique().to_list()
    if duplicated:
        raise ValueError(f"{csv_path}: stimulus_id values are not unique, e.g. {duplicated[:3]}")
    if table["stimulus_id"].null_count() or table["filename"].null_count():
        raise ValueError(f"{csv_path}: empty stimulus_id or filename cells")
    return table


def read_stimulus_set(csv_path: str | os.PathLike, directory: str | os.PathLike,
                      identifier: str | None = None) -> StimulusSet:
    """A stimulus set from its CSV and the folder its ZIP was extracted into; every image must exist."""
    table = read_stimulus_csv(csv_path)
    directory = Path(directory)
    missing = [name for name in table["filename"].to_list() if not (directory / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{len(missing)} images of {csv_path} are missing from {directory}, "
                                f"e.g. {missing[:3]}")
    return StimulusSet(identifier or Path(csv_path).stem, table, directory)


def load_stimulus_set(identifier: str, *, cache: str | os.PathLike | None = None,
                      base_url: str | None = None) -> StimulusSet:
    """A registered stimulus set (``brainio.STIMULUS_SETS``), downloaded and verified on first use."""
    try:
        entry = brainio.STIMULUS_SETS[identifier]
    except KeyError:
        raise KeyError(f"unknown stimulus set {identifier!r}; known: {sorted(brainio.STIMULUS_SETS)}") from None
    csv_path = brainio.fetch_file(entry.csv, cache=cache, base_url=base_url)
    zip_path = brainio.fetch_file(entry.zip, cache=cache, base_url=base_url)
    directory = brainio.extract_zip(zip_path, brainio.cache_dir(cache) / Path(entry.zip.filename).stem)
    return read_stimulus_set(csv_path, directory, identifier)
