"""Small BrainIO files in Brain-Score's formats (stimulus CSV + ZIP, NetCDF assembly), for tests.

The NetCDF files are written the way ``brainio.packaging.write_netcdf`` writes them (brain-score/core
@7436003): coordinates flat along their dimension, the data as variable ``data`` compressed with zlib,
global attributes ``identifier`` and ``stimulus_set_identifier``.
"""

from __future__ import annotations

import dataclasses
import io
import zipfile
from pathlib import Path

import numpy as np
import polars as pl
import xarray as xr
from PIL import Image

from alignjax.alignment.neural import brainio


def write_stimulus_set(folder: Path, identifier: str, meta: dict[str, list], *, image_size: int = 24,
                       seed: int = 0, legacy_id: bool = False) -> tuple[Path, Path]:
    """``stimulus_<id>.csv`` (stimulus_id or legacy image_id, filename, meta) and ``stimulus_<id>.zip``."""
    rng = np.random.default_rng(seed)
    stem = f"stimulus_{identifier.replace('.', '_')}"
    ids = meta["stimulus_id"]
    filenames = [f"images/{stimulus}.png" for stimulus in ids]
    zip_path = folder / f"{stem}.zip"
    with zipfile.ZipFile(zip_path, "w") as archive:
        for name in filenames:
            pixels = rng.integers(0, 256, size=(image_size, image_size, 3), dtype=np.uint8)
            buffer = io.BytesIO()
            Image.fromarray(pixels).save(buffer, format="PNG")
            archive.writestr(name, buffer.getvalue())
    columns = dict(meta)
    if legacy_id:
        columns["image_id"] = columns.pop("stimulus_id")
    csv_path = folder / f"{stem}.csv"
    pl.DataFrame({**columns, "filename": filenames}).write_csv(csv_path)
    return csv_path, zip_path


def write_assembly(path: Path, responses: np.ndarray, dims: tuple[str, ...], coords: dict, *, identifier: str,
                   stimulus_set_identifier: str) -> Path:
    array = xr.DataArray(responses, dims=dims, coords=coords)
    dataset = array.to_dataset(name="data", promote_attrs=True)
    dataset.attrs.update(identifier=identifier, stimulus_set_identifier=stimulus_set_identifier)
    dataset.to_netcdf(path, engine="h5netcdf", encoding={"data": {"zlib": True, "complevel": 9}})
    return path


@dataclasses.dataclass
class GroundTruth:
    """Trials = features @ weights + noise; reliability of the trial mean is ``1 / (1 + noise_var / R)``."""

    features: np.ndarray  # (stimuli, features)
    signal: np.ndarray  # (stimuli, neuroids), unit variance per neuroid
    trials: np.ndarray  # (stimuli * repetitions, neuroids), stimulus-major
    stimulus_index: np.ndarray
    repetition: np.ndarray
    noise_variance: float
    repetitions: int

    @property
    def reliability(self) -> float:
        return 1.0 / (1.0 + self.noise_variance / self.repetitions)


def ground_truth(n_stimuli: int, n_features: int, n_neuroids: int, repetitions: int, noise_variance: float,
                 seed: int = 0) -> GroundTruth:
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(n_stimuli, n_features))
    weights = rng.normal(size=(n_features, n_neuroids))
    weights /= np.linalg.norm(weights, axis=0, keepdims=True)  # unit signal variance per neuroid
    signal = features @ weights
    noise = np.sqrt(noise_variance) * rng.normal(size=(n_stimuli, repetitions, n_neuroids))
    trials = (signal[:, None, :] + noise + 5.0).reshape(n_stimuli * repetitions, n_neuroids)
    stimulus_index = np.repeat(np.arange(n_stimuli), repetitions)
    repetition = np.tile(np.arange(repetitions), n_stimuli)
    return GroundTruth(features.astype(np.float32), signal, trials, stimulus_index, repetition, noise_variance,
                       repetitions)


@dataclasses.dataclass
class SyntheticBrainScore:
    """A local mirror with MajajHong-like and FreemanZiemba-like public files, and the registry entries."""

    folder: Path
    stimulus_sets: dict[str, brainio.StimulusSetEntry]
    assemblies: dict[str, brainio.AssemblyEntry]
    truths: dict[str, GroundTruth]


N_STIMULI, N_NEUROIDS, REPETITIONS = 200, 40, 10


def _entry_files(folder: Path, csv: Path, zip_: Path) -> tuple[brainio.RemoteFile, brainio.RemoteFile]:
    return (brainio.RemoteFile(csv.name, brainio.sha1_file(csv)), brainio.RemoteFile(zip_.name, brainio.sha1_file(zip_)))


def make_mirror(folder: Path, *, image_size: int = 24) -> SyntheticBrainScore:
    """Writes ``hvm-public``/``dicarlo.MajajHong2015.public`` (V4, IT; 20 objects x 10 images, single
    70-170 ms bin) and ``FreemanZiemba2013.aperture-public``/``movshon.FreemanZiemba2013.public`` (V1, V2;
    noise/texture x 100, 10-ms bins 0-250 stored neuroid x time_bin x presentation, legacy ``image_id``)."""
    folder.mkdir(parents=True, exist_ok=True)
    sets, assemblies, truths = {}, {}, {}
    repetitions = REPETITIONS

    # MajajHong-like
    ids = [f"hvm{index:04d}" for index in range(N_STIMULI)]
    objects = [f"object{index % 20:02d}" for index in range(N_STIMULI)]
    csv, zip_ = write_stimulus_set(folder, "hvm-public", {"stimulus_id": ids, "object_name": objects,
                                                          "variation": [index % 2 * 3 for index in range(N_STIMULI)]},
                                   image_size=image_size, seed=1)
    sets["hvm-public"] = brainio.StimulusSetEntry("hvm-public", *_entry_files(folder, csv, zip_))
    v4 = ground_truth(N_STIMULI, 25, N_NEUROIDS, repetitions, 2.5, seed=2)
    it = ground_truth(N_STIMULI, 25, N_NEUROIDS, repetitions, 2.5, seed=3)
    truths.update(V4=v4, IT=it)
    responses = np.concatenate([v4.trials, it.trials], axis=1)[:, :, None]
    path = write_assembly(
        folder / "assy_dicarlo_MajajHong2015_public.nc", responses, ("presentation", "neuroid", "time_bin"),
        {"stimulus_id": ("presentation", [ids[i] for i in v4.stimulus_index]),
         "repetition": ("presentation", v4.repetition),
         "neuroid_id": ("neuroid", [f"n{i}" for i in range(2 * N_NEUROIDS)]),
         "region": ("neuroid", ["V4"] * N_NEUROIDS + ["IT"] * N_NEUROIDS),
         "time_bin_start": ("time_bin", [70]), "time_bin_end": ("time_bin", [170])},
        identifier="dicarlo.MajajHong2015.public", stimulus_set_identifier="hvm-public")
    assemblies["dicarlo.MajajHong2015.public"] = brainio.AssemblyEntry(
        "dicarlo.MajajHong2015.public", brainio.RemoteFile(path.name, brainio.sha1_file(path)), "hvm-public")

    # FreemanZiemba-like: responses constant over the bins inside 50-200 ms, other bins hold junk (the real
    # file has 300 1-ms bins; 10-ms bins keep the test file small)
    identifier = "FreemanZiemba2013.aperture-public"
    ids = [f"fz{index:04d}" for index in range(N_STIMULI)]
    textures = ["noise" if index < N_STIMULI // 2 else "texture" for index in range(N_STIMULI)]
    csv, zip_ = write_stimulus_set(folder, identifier, {"stimulus_id": ids, "texture_type": textures},
                                   image_size=image_size, seed=4, legacy_id=True)
    sets[identifier] = brainio.StimulusSetEntry(identifier, *_entry_files(folder, csv, zip_))
    v1 = ground_truth(N_STIMULI, 25, N_NEUROIDS, repetitions, 2.5, seed=5)
    v2 = ground_truth(N_STIMULI, 25, N_NEUROIDS, repetitions, 2.5, seed=6)
    truths.update(V1=v1, V2=v2)
    window = np.concatenate([v1.trials, v2.trials], axis=1)  # (presentations, neuroids)
    n_bins, width = 25, 10
    starts = np.arange(n_bins) * width
    inside = (starts >= 50) & (starts + width <= 200)
    junk = np.random.default_rng(7).normal(size=(1, 1, n_bins)) * 100.0
    bins = np.where(inside[None, None, :], window[:, :, None], junk)  # (presentations, neuroids, bins)
    path = write_assembly(
        folder / "assy_movshon_FreemanZiemba2013_public.nc", np.transpose(bins, (1, 2, 0)).astype(np.float32),
        ("neuroid", "time_bin", "presentation"),
        {"image_id": ("presentation", [ids[i] for i in v1.stimulus_index]),
         "repetition": ("presentation", v1.repetition),
         "neuroid_id": ("neuroid", np.arange(1, 2 * N_NEUROIDS + 1)),
         "region": ("neuroid", ["V1"] * N_NEUROIDS + ["V2"] * N_NEUROIDS),
         "time_bin_start": ("time_bin", starts), "time_bin_end": ("time_bin", starts + width)},
        identifier="movshon.FreemanZiemba2013.public", stimulus_set_identifier=identifier)
    assemblies["movshon.FreemanZiemba2013.public"] = brainio.AssemblyEntry(
        "movshon.FreemanZiemba2013.public", brainio.RemoteFile(path.name, brainio.sha1_file(path)), identifier)
    return SyntheticBrainScore(folder, sets, assemblies, truths)
