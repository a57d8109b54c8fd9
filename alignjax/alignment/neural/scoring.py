"""A benchmark's score of one feature set: raw predictivity, ceiling, and both ceiling normalisations.

Brain-Score's ``NeuralBenchmark.__call__`` (brain-score/vision@d07d3569
``benchmark_helpers/neural_common.py``): the raw score of the cross-validated mapping, divided by the
internal-consistency ceiling of the recordings (``explained_variance``). Every score keeps the raw value,
its error, the ceiling, and the ceiled value under both conventions (``ceiling.NORMALISATIONS``);
``score`` is the one selected (default ``ceiling.DEFAULT_NORMALISATION``, the 2025 ``(r/c)^2``).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from alignjax.alignment.neural.benchmarks import BenchmarkData
from alignjax.alignment.neural.ceiling import (
    DEFAULT_NORMALISATION,
    NORMALISATIONS,
    Ceiling,
    internal_consistency,
    normalise,
)
from alignjax.alignment.neural.predictivity import Predictivity, predictivity_from_gram
from alignjax.alignment.neural.splits import brainscore_splits


@dataclasses.dataclass(frozen=True, eq=False)
class NeuralScore:
    benchmark: str
    region: str
    layer: str | None
    raw: float
    raw_error: float
    ceiling: float
    ceiling_error: float
    ceiled: dict[str, float]  # convention -> ceiled score
    normalisation: str
    predictivity: Predictivity
    ceiling_detail: Ceiling

    @property
    def score(self) -> float:
        return self.ceiled[self.normalisation]

    def summary(self) -> dict[str, object]:
        return {
            "benchmark": self.benchmark, "region": self.region, "layer": self.layer,
            "raw": self.raw, "raw_error": self.raw_error, "ceiling": self.ceiling,
            "ceiling_error": self.ceiling_error, "normalisation": self.normalisation, "score": self.score,
            **{f"ceiled_{name}": value for name, value in self.ceiled.items()},
        }


def benchmark_ceiling(data: BenchmarkData, *, dtype: str = "float64") -> Ceiling:
    trials = data.trials
    return internal_consistency(trials.responses, trials.stimulus_ids, trials.column("repetition"),
                                dtype=dtype)


def score_gram(gram: np.ndarray, data: BenchmarkData, *, n_features: int, layer: str | None = None,
               normalisation: str = DEFAULT_NORMALISATION, ceiling: Ceiling | None = None,
               dtype: str = "float64") -> NeuralScore:
    """Scores features given as their Gram matrix (rows in ``data.averaged`` stimulus order).

    Args:
      n_features: the feature count behind ``gram`` (PLS needs at least ``n_components``).
      ceiling: a precomputed ``benchmark_ceiling(data)`` (it does not depend on the model).
    """
    if normalisation not in NORMALISATIONS:
        raise ValueError(f"unknown ceiling normalisation {normalisation!r}; use one of {NORMALISATIONS}")
    benchmark = data.benchmark
    splits = brainscore_splits(data.averaged.responses.shape[0], data.stratification, benchmark.splits)
    result = predictivity_from_gram(gram, data.averaged.responses, splits, config=benchmark.regression,
                                    n_features=n_features, dtype=dtype)
    ceiling = ceiling if ceiling is not None else benchmark_ceiling(data, dtype=dtype)
    ceiled = {name: normalise(result.raw, ceiling.value, name) for name in NORMALISATIONS}
    return NeuralScore(benchmark.identifier, benchmark.region, layer, result.raw, result.error, ceiling.value,
                       ceiling.error, ceiled, normalisation, result, ceiling)


def score_features(features: np.ndarray, data: BenchmarkData, **kwargs) -> NeuralScore:
    """``score_gram`` of (n_stimuli, n_features) features in ``data.averaged`` stimulus order."""
    from alignjax.alignment.neural.gram import gram_matrix

    features = np.asarray(features)
    if features.ndim != 2 or features.shape[0] != data.averaged.responses.shape[0]:
        raise ValueError(f"features {features.shape} must have one row per stimulus "
                         f"({data.averaged.responses.shape[0]})")
    gram = gram_matrix(features, dtype=kwargs.get("dtype", "float64"))
    return score_gram(gram, data, n_features=features.shape[1], **kwargs)
