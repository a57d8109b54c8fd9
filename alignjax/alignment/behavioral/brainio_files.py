"""Brain-Score's public BrainIO data files: download with sha1 verification, read without brainio.

A BrainIO data set is an assembly (xarray netCDF, ``assy_<identifier>.nc``) plus a stimulus set (a CSV of
metadata, ``stimulus_<identifier>.csv``, and a ZIP of images), each published at
``https://brainscore-storage.s3.amazonaws.com/brainio-brainscore/<file>`` with a pinned sha1
(brain-score/vision@d07d356 ``brainscore_vision/data/<name>/__init__.py`` and ``data_helpers/s3.py``;
the bucket answers anonymous requests for the public sets). ``fetch_brainio`` downloads into a
folder through ``alignjax.alignment.neural.brainio.fetch_file`` (``<file>.part`` first, renamed only
after the sha1 matches; files that already verify are kept) and unpacks the images into
``<folder>/stimuli/``.

Readers follow brainio's loaders: ``image_id`` is renamed ``stimulus_id`` (``correct_stimulus_id_name``),
image paths are ``<stimuli folder>/<filename>``; assembly coordinates along ``presentation`` become
columns of a polars frame and the values a column named ``value``.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import zipfile
from os import PathLike
from pathlib import Path

import numpy as np
import polars as pl

# one verified downloader for BrainIO files (``<file>.part``, sha1 checked before the rename)
from alignjax.alignment.neural.brainio import BUCKET_URL, ChecksumError, RemoteFile, fetch_file

__all__ = ["BRAINIO_BASE_URL", "PUBLIC_DATA", "BrainioData", "BrainioFile", "ChecksumError", "fetch_brainio",
           "read_assembly", "read_stimulus_set"]

BRAINIO_BASE_URL = BUCKET_URL


@dataclasses.dataclass(frozen=True)
class BrainioFile:
    name: str
    sha1: str


@dataclasses.dataclass(frozen=True)
class BrainioData:
    assembly: BrainioFile
    stimuli_csv: BrainioFile
    stimuli_zip: BrainioFile


# the sha1s pinned by brain-score/vision@d07d356 data/rajalingham2018 and data/baker2022 __init__.py
PUBLIC_DATA = {
    "Rajalingham2018.public": BrainioData(
        BrainioFile("assy_dicarlo_Rajalingham2018_public.nc", "34c6a8b6f7c523589c1861e4123232e5f7c7df4c"),
        BrainioFile("stimulus_objectome_public.csv", "47884e17106a3be471d6481279cab33889b80850"),
        BrainioFile("stimulus_objectome_public.zip", "064f2955f98e63867755fee2e3ead8cddf6bfab8"),
    ),
    "Baker2022_normal_distortion": BrainioData(
        BrainioFile("assy_Baker2022_normal_distortion.nc", "46c79a48bf2dbd995a9305d8fbc03a134a852e17"),
        BrainioFile("stimulus_Baker2022_normal_distortion.csv", "17d4db7458a29a787d12bb29c34e91daef1872bf"),
        BrainioFile("stimulus_Baker2022_normal_distortion.zip", "2c726abaf081c8a9828269a559222f8c6eea0e4f"),
    ),
    "Baker2022_inverted_distortion": BrainioData(
        BrainioFile("assy_Baker2022_inverted_distortion.nc", "b76fb57b25a58ca68db78d188fd0a783e1dcaf73"),
        BrainioFile("stimulus_Baker2022_inverted_distortion.csv", "91e452e4651024c2b382694edfcbc7bdc6c3189b"),
        BrainioFile("stimulus_Baker2022_inverted_distortion.zip", "4740a096af994c2232350469c664e53796f17a05"),
    ),
}


def _unzip(archive: Path, folder: Path) -> None:
    with zipfile.ZipFile(archive) as handle:
        for member in handle.infolist():
            name = Path(member.filename)
            if name.is_absolute() or ".." in name.parts:
                raise ValueError(f"{archive}: unsafe member path {member.filename!r}")
        handle.extractall(folder)


def fetch_brainio(
    name: str, folder: str | PathLike, *, base_url: str = BRAINIO_BASE_URL, data: BrainioData | None = None
) -> Path:
    """Downloads and verifies one public BrainIO data set (``PUBLIC_DATA[name]`` unless ``data``) into
    ``folder``; returns it."""
    if data is None:
        if name not in PUBLIC_DATA:
            raise ValueError(f"unknown BrainIO data set {name!r}; known: {sorted(PUBLIC_DATA)}")
        data = PUBLIC_DATA[name]
    if not base_url.startswith(("http://", "https://", "file://")):
        raise ValueError(f"unsupported base URL {base_url!r}: use http(s):// or file://")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for file in (data.assembly, data.stimuli_csv, data.stimuli_zip):
        path = fetch_file(RemoteFile(file.name, file.sha1), cache=folder, base_url=base_url)
        if path != folder / file.name:  # a verified copy in Brain-Score's own cache (~/.brainio)
            shutil.copyfile(path, folder / file.name)
    stimuli = folder / "stimuli"
    if not stimuli.is_dir():
        _unzip(folder / data.stimuli_zip.name, stimuli.with_name("stimuli.partial"))
        os.replace(stimuli.with_name("stimuli.partial"), stimuli)
    return folder


def read_stimulus_set(csv_path: str | PathLike, stimuli_folder: str | PathLike) -> pl.DataFrame:
    """The stimulus CSV with ``stimulus_id`` and an absolute ``path`` per image (which must exist)."""
    frame = pl.read_csv(csv_path, infer_schema_length=None)
    if "stimulus_id" not in frame.columns and "image_id" in frame.columns:
        frame = frame.rename({"image_id": "stimulus_id"})
    file_column = next((c for c in ("filename", "image_path_within_store") if c in frame.columns), None)
    if "stimulus_id" not in frame.columns or file_column is None:
        raise ValueError(
            f"{csv_path}: a BrainIO stimulus set needs stimulus_id (or image_id) and filename "
            f"columns; has {frame.columns}"
        )
    folder = Path(stimuli_folder)
    frame = frame.with_columns(
        pl.col("stimulus_id").cast(pl.String),
        pl.col(file_column).map_elements(lambda f: str(folder / f), pl.String).alias("path"),
    )
    missing = [path for path in frame["path"].to_list() if not Path(path).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{len(missing)} stimulus files of {csv_path} are missing, e.g. {missing[:3]}"
        )
    return frame


def read_assembly(path: str | PathLike) -> pl.DataFrame:
    """A behavioural BrainIO assembly (one dimension, ``presentation``) as a frame: its coordinates plus
    ``value``."""
    import xarray

    with xarray.open_dataarray(path) as array:
        array = array.load()
    if array.ndim != 1:
        raise ValueError(f"{path}: expected a one-dimensional behavioural assembly, got dims {array.dims}")
    dim = array.dims[0]
    columns = {name: np.asarray(coord.values) for name, coord in array.coords.items() if coord.dims == (dim,)}
    columns["value"] = np.asarray(array.values)
    frame = pl.DataFrame(
        {name: values.tolist() if values.dtype.kind in "OSU" else values for name, values in columns.items()}
    )
    if "stimulus_id" not in frame.columns and "image_id" in frame.columns:
        frame = frame.rename({"image_id": "stimulus_id"})
    return frame
