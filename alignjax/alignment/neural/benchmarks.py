"""The neural benchmarks: FreemanZiemba2013 (V1, V2) and MajajHong2015 (V4, IT), public and private.

Parameters from brain-score/vision@d07d3569:

* ``benchmarks/freemanziemba2013/benchmarks/benchmark.py`` and ``public_benchmarks.py``: stimuli span
  4 degrees, 20 trials, responses averaged over the 1-ms bins of 50-200 ms, PLS with splits stratified
  by ``texture_type``, ``InternalConsistency`` ceiling. Public identifier
  ``FreemanZiemba2013.<region>.public-pls`` (assembly ``movshon.FreemanZiemba2013.public``, stimuli
  ``FreemanZiemba2013.aperture-public``); private ``FreemanZiemba2013.<region>-pls``.
* ``benchmarks/majajhong2015/benchmark.py``: 8 degrees, 50 trials, the single stored time bin, PLS with
  splits stratified by ``object_name``, ``InternalConsistency`` ceiling. Public ``MajajHong2015.<region>
  .public-pls`` (assembly ``dicarlo.MajajHong2015.public``, stimuli ``hvm-public``); private
  ``MajajHong2015.<region>-pls``.

Layer commitment scores every candidate layer on the public benchmark of a region
(``model_helpers/brain_transformation/__init__.py``: V1 and V2 on FreemanZiemba2013 public, V4 and IT
on MajajHong2015 public). Trials: a deterministic model gives identical activations on every trial, so
each stimulus is shown once here (a stochastic model would need the trial average; not done).
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from alignjax.alignment.neural import brainio
from alignjax.alignment.neural.assemblies import (
    NeuralAssembly,
    average_repetitions,
    merge_stimulus_set,
    read_assembly,
)
from alignjax.alignment.neural.pls import PLSConfig
from alignjax.alignment.neural.regression import RegressionConfig
from alignjax.alignment.neural.splits import SplitConfig
from alignjax.alignment.neural.stimulus_set import load_stimulus_set

REGIONS = ("V1", "V2", "V4", "IT")
BRAINSCORE_PLS = PLSConfig()  # 25 components, no scaling
BRAINSCORE_SPLITS = SplitConfig()  # 10 splits, 90 % train, random_state 1


@dataclasses.dataclass(frozen=True)
class NeuralBenchmark:
    """One region of one data set, scored Brain-Score's way."""

    identifier: str
    region: str
    assembly: str  # a key of brainio.ASSEMBLIES
    visual_degrees: float
    number_of_trials: int
    stratification: str | None
    time_window: tuple[float, float] | None = None
    regression: RegressionConfig = BRAINSCORE_PLS
    splits: SplitConfig = BRAINSCORE_SPLITS
    citation: str = ""


FREEMAN_ZIEMBA = ("Freeman, Ziemba, Heeger, Simoncelli & Movshon 2013, A functional and perceptual "
                  "signature of the second visual area in primates, Nat. Neurosci. 16:974")
MAJAJ_HONG = ("Majaj, Hong, Solomon & DiCarlo 2015, Simple learned weighted sums of inferior temporal "
              "neuronal firing rates accurately predict human core object recognition performance, "
              "J. Neurosci. 35:13402")


def _freeman_ziemba(region: str, access: str) -> NeuralBenchmark:
    suffix = ".public" if access == "public" else ""
    return NeuralBenchmark(f"FreemanZiemba2013.{region}{suffix}-pls", region,
                           f"movshon.FreemanZiemba2013.{access}", 4.0, 20, "texture_type", (50.0, 200.0),
                           citation=FREEMAN_ZIEMBA)


def _majaj_hong(region: str, access: str) -> NeuralBenchmark:
    suffix = ".public" if access == "public" else ""
    return NeuralBenchmark(f"MajajHong2015.{region}{suffix}-pls", region, f"dicarlo.MajajHong2015.{access}",
                           8.0, 50, "object_name", None, citation=MAJAJ_HONG)


BENCHMARKS: dict[str, NeuralBenchmark] = {
    benchmark.identifier: benchmark
    for access in ("public", "private")
    for benchmark in (_freeman_ziemba("V1", access), _freeman_ziemba("V2", access),
                      _majaj_hong("V4", access), _majaj_hong("IT", access))
}
PUBLIC_BENCHMARKS = {region: BENCHMARKS[name] for region, name in (
    ("V1", "FreemanZiemba2013.V1.public-pls"), ("V2", "FreemanZiemba2013.V2.public-pls"),
    ("V4", "MajajHong2015.V4.public-pls"), ("IT", "MajajHong2015.IT.public-pls"))}
PRIVATE_BENCHMARKS = {region: BENCHMARKS[name] for region, name in (
    ("V1", "FreemanZiemba2013.V1-pls"), ("V2", "FreemanZiemba2013.V2-pls"),
    ("V4", "MajajHong2015.V4-pls"), ("IT", "MajajHong2015.IT-pls"))}


def get_benchmark(identifier: str) -> NeuralBenchmark:
    try:
        return BENCHMARKS[identifier]
    except KeyError:
        raise KeyError(f"unknown neural benchmark {identifier!r}; known: {sorted(BENCHMARKS)}") from None


@dataclasses.dataclass(frozen=True, eq=False)
class BenchmarkData:
    """``trials``: one row per presentation (for the ceiling); ``averaged``: one row per stimulus, in
    Brain-Score's order (for the regression and the splits)."""

    benchmark: NeuralBenchmark
    trials: NeuralAssembly
    averaged: NeuralAssembly

    @property
    def stratification(self) -> np.ndarray | None:
        name = self.benchmark.stratification
        return None if name is None else self.averaged.column(name)


def prepare(benchmark: NeuralBenchmark, trials: NeuralAssembly) -> BenchmarkData:
    """Checks a loaded assembly against the benchmark and averages its repetitions."""
    for name in ("repetition", "stimulus_id"):
        trials.column(name)
    if benchmark.stratification is not None:
        trials.column(benchmark.stratification)
    return BenchmarkData(benchmark, trials, average_repetitions(trials))


def load_benchmark_data(benchmark: NeuralBenchmark | str, *, cache: str | os.PathLike | None = None,
                        base_url: str | None = None) -> BenchmarkData:
    """Downloads (once, SHA-1-verified), reads and prepares a benchmark's assembly and stimuli."""
    benchmark = get_benchmark(benchmark) if isinstance(benchmark, str) else benchmark
    entry = brainio.ASSEMBLIES[benchmark.assembly]
    stimulus_set = load_stimulus_set(entry.stimulus_set, cache=cache, base_url=base_url)
    path = brainio.fetch_file(entry.file, cache=cache, base_url=base_url)
    trials = read_assembly(path, region=benchmark.region, time_window=benchmark.time_window,
                           identifier=benchmark.assembly)
    return prepare(benchmark, merge_stimulus_set(trials, stimulus_set))
