"""BrainIO neural assemblies (NetCDF) as arrays plus polars tables of their coordinates.

Format (brain-score/brainio ``docs/SPECIFICATION.md``; writer brain-score/core@7436003
``brainio/packaging.py::write_netcdf``, reader ``brainio/assemblies.py::AssemblyLoader``): one data
variable with dimensions ``presentation``, ``neuroid`` and optionally ``time_bin``; every coordinate is
stored flat along one dimension (MultiIndexes are reset before writing): ``stimulus_id`` (legacy
``image_id``) and ``repetition`` on ``presentation``, ``neuroid_id`` and ``region`` on ``neuroid``,
``time_bin_start`` and ``time_bin_end`` on ``time_bin``.

Brain-Score's preparation of a benchmark assembly (brain-score/vision@d07d3569
``benchmarks/majajhong2015/benchmark.py::load_assembly``,
``benchmarks/freemanziemba2013/benchmarks/benchmark.py::load_assembly``,
``benchmark_helpers/neural_common.py::average_repetition``, brainio's
``StimulusMergeAssemblyLoader.merge_stimulus_set_meta``), reproduced here:

1. merge the stimulus set's columns into the presentation coordinates (left join on ``stimulus_id``);
2. keep one region's neuroids;
3. reduce time: a single bin is squeezed (MajajHong2015: 70-170 ms); FreemanZiemba2013 averages the
   1-ms bins inside 50-200 ms;
4. for scoring, average the repetitions: group presentations by every presentation coordinate except
   ``repetition`` and take the NaN-skipping mean. xarray's groupby orders the groups by the sorted
   tuples of those coordinates (coordinate order: the file's, then the stimulus set's new columns);
   the averaged assembly keeps that order, which fixes which stimuli each seeded split draws.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import polars as pl

from alignjax.alignment.neural.stimulus_set import StimulusSet

DIMS = ("presentation", "neuroid", "time_bin")


@dataclasses.dataclass(frozen=True, eq=False)
class NeuralAssembly:
    """Responses (n_presentations, n_neuroids) with one table row per presentation and per neuroid."""

    identifier: str
    responses: np.ndarray
    presentation: pl.DataFrame
    neuroid: pl.DataFrame
    stimulus_set: StimulusSet | None = None

    def __post_init__(self):
        if self.responses.shape != (self.presentation.height, self.neuroid.height):
            raise ValueError(f"responses {self.responses.shape} do not match {self.presentation.height} "
                             f"presentations x {self.neuroid.height} neuroids")

    @property
    def stimulus_ids(self) -> np.ndarray:
        return self.presentation["stimulus_id"].to_numpy()

    def column(self, name: str) -> np.ndarray:
        if name not in self.presentation.columns:
            raise KeyError(f"{self.identifier} has no presentation coordinate {name!r}; "
                           f"it has {self.presentation.columns}")
        return self.presentation[name].to_numpy()


def _series(name: str, values: np.ndarray) -> pl.Series:
    values = np.asarray(values)
    if values.dtype.kind in "OSU":
        return pl.Series(name, [v.decode() if isinstance(v, bytes) else v for v in values.tolist()],
                         dtype=pl.String if all(isinstance(v, (str, bytes)) for v in values.tolist()) else None)
    return pl.Series(name, values)


def _coordinate_table(array, dim: str) -> pl.DataFrame:
    columns = [_series(name, coord.values) for name, coord in array.coords.items() if coord.dims == (dim,)]
    return pl.DataFrame(columns) if columns else pl.DataFrame({f"{dim}_index": np.arange(array.sizes[dim])})


def read_assembly(path: str | os.PathLike, *, region: str | None = None,
                  time_window: tuple[float, float] | None = None, identifier: str | None = None
                  ) -> NeuralAssembly:
    """Reads a NetCDF assembly, keeping ``region``'s neuroids and reducing time (see the module doc).

    Only the selected neuroids and time bins are read from disk.

    Args:
      time_window: (start, end) in ms; the bins with ``time_bin_start >= start`` and ``time_bin_end <= end``
        are averaged (NaN-skipping). None: the assembly must have at most one time bin.
    """
    import xarray as xr

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"assembly file {path} does not exist")
    try:
        array = xr.open_dataarray(path)  # xarray picks h5netcdf (NetCDF-4) or scipy (NetCDF-3) from the bytes
    except (OSError, ValueError) as error:
        raise ValueError(f"cannot read {path} as a BrainIO NetCDF assembly: {error}") from None
    with array:
        unknown = set(array.dims) - set(DIMS)
        if unknown or not {"presentation", "neuroid"} <= set(array.dims):
            raise ValueError(f"{path}: dimensions {array.dims}; expected presentation, neuroid[, time_bin]")
        if "stimulus_id" not in array.coords and "image_id" in array.coords:
            array = array.assign_coords(stimulus_id=("presentation", array["image_id"].values))
        if "stimulus_id" not in array.coords:
            raise ValueError(f"{path} has no stimulus_id (or image_id) presentation coordinate")
        if region is not None:
            if "region" not in array.coords:
                raise ValueError(f"{path} has no 'region' neuroid coordinate to select {region!r} by")
            regions = np.asarray(array["region"].values).astype(str)
            if region not in regions:
                raise ValueError(f"{path} has no neuroids in region {region!r}; regions: {sorted(set(regions.tolist()))}")
            array = array.isel(neuroid=np.flatnonzero(regions == region))
        array = array.transpose(*(d for d in DIMS if d in array.dims))
        if "time_bin" in array.dims:
            array = _reduce_time(array, time_window, path)
        elif time_window is not None:
            raise ValueError(f"{path} has no time_bin dimension for the window {time_window}")
        responses = np.asarray(array.values, dtype=np.float64)
        presentation = _coordinate_table(array, "presentation")
        neuroid = _coordinate_table(array, "neuroid")
        name = identifier or str(array.attrs.get("identifier", path.stem))
    return NeuralAssembly(name, responses, presentation, neuroid)


def _reduce_time(array, time_window, path):
    if time_window is None:
        if array.sizes["time_bin"] != 1:
            raise ValueError(f"{path} has {array.sizes['time_bin']} time bins; give a time window")
        return array.isel(time_bin=0)
    starts = np.asarray(array["time_bin_start"].values, dtype=np.float64)
    ends = np.asarray(array["time_bin_end"].values, dtype=np.float64)
    chosen = np.flatnonzero((starts >= time_window[0]) & (ends <= time_window[1]))
    if chosen.size == 0:
        raise ValueError(f"{path}: no time bin lies inside {time_window} ms (bins {starts.min()}-{ends.max()})")
    return array.isel(time_bin=chosen).mean(dim="time_bin", skipna=True)


def merge_stimulus_set(assembly: NeuralAssembly, stimulus_set: StimulusSet) -> NeuralAssembly:
    """Brain-Score's stimulus-meta merge: each stimulus-set column becomes a presentation coordinate
    (replacing a same-named one in place, else appended), matched on ``stimulus_id``."""
    table = stimulus_set.table
    missing = set(assembly.presentation["stimulus_id"].to_list()) - set(table["stimulus_id"].to_list())
    if missing:
        raise ValueError(f"{len(missing)} stimuli of {assembly.identifier} are not in stimulus set "
                         f"{stimulus_set.identifier}, e.g. {sorted(missing)[:3]}")
    joined = assembly.presentation.select("stimulus_id").join(table, on="stimulus_id", how="left",
                                                              maintain_order="left")
    presentation = assembly.presentation.with_columns(
        [joined[name] for name in table.columns if name != "stimulus_id"])
    return dataclasses.replace(assembly, presentation=presentation, stimulus_set=stimulus_set)


def average_repetitions(assembly: NeuralAssembly) -> NeuralAssembly:
    """Mean over repetitions per stimulus, in Brain-Score's group order (see the module doc)."""
    keys = [name for name in assembly.presentation.columns if name != "repetition"]
    indexed = assembly.presentation.with_row_index("_row")
    groups = indexed.group_by(keys, maintain_order=True).agg(pl.col("_row")).sort(keys)
    responses = assembly.responses
    averaged = np.empty((groups.height, responses.shape[1]))
    for index, rows in enumerate(groups["_row"].to_list()):
        block = responses[rows]
        counts = np.sum(np.isfinite(block), axis=0)
        sums = np.nansum(block, axis=0)
        averaged[index] = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    presentation = groups.drop("_row")
    duplicated = presentation.filter(pl.col("stimulus_id").is_duplicated())
    if duplicated.height:
        raise ValueError(
            f"{assembly.identifier}: presentation coordinates other than 'repetition' vary within stimulus "
            f"{duplicated['stimulus_id'][0]!r}, so repetitions cannot be averaged per stimulus"
        )
    return dataclasses.replace(assembly, responses=averaged, presentation=presentation)
