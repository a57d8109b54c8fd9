"""Matching and degenerate inputs: missing values, ties, constant columns, too few models."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from alignjax.analysis.dataset import build_data, format_eps
from alignjax.analysis.pipeline import AnalysisConfig, run_analysis
from alignjax.analysis.resampling import ResamplingConfig
from alignjax.analysis.schemas import (
    ROBUSTNESS_REQUIRED,
    ROBUSTNESS_SCHEMA,
    SCORES_REQUIRED,
    SCORES_SCHEMA,
    conform,
)
from alignjax.errors import InputError

CHEAP = AnalysisConfig(resampling=ResamplingConfig(n_bootstrap=50, n_permutations=50), min_models=4)


def scores_frame(rows: list[tuple[str, str, float | None]]) -> pl.DataFrame:
    frame = pl.DataFrame(rows, schema=["model", "benchmark", "score"], orient="row")
    return conform(frame, SCORES_SCHEMA, required=SCORES_REQUIRED, what="test scores")


def robustness_frame(rows: list[tuple[str, float, float, float]]) -> pl.DataFrame:
    frame = pl.DataFrame(rows, schema=["model", "eps", "clean_accuracy", "robust_accuracy"], orient="row")
    return conform(frame.with_columns(pl.lit("Linf").alias("norm")), ROBUSTNESS_SCHEMA, required=ROBUSTNESS_REQUIRED,
                   what="test robustness")


def test_single_model_and_no_overlap_are_refused_with_the_names():
    scores = scores_frame([("resnet-50", "V1", 0.5)])
    robust = robustness_frame([("resnet-50", 1 / 255, 76.0, 10.0), ("ResNet50", 1 / 255, 76.0, 10.0)])
    with pytest.raises(InputError, match=r"only 1 model\(s\).*resnet-50.*ResNet50.*--aliases"):
        build_data(scores, robust)


def test_missing_values_ties_and_constant_columns(rng):
    models = [f"m{i}" for i in range(8)]
    tied = [0.1, 0.1, 0.2, 0.2, 0.2, 0.3, 0.4, 0.4]
    rows = [(m, "V1", tied[i]) for i, m in enumerate(models)]
    rows += [(m, "V2", 0.5) for m in models]                                      # constant
    rows += [(m, "V4", float(i)) for i, m in enumerate(models) if i not in (1, 5)]  # missing for two models
    rows += [(m, "IT", float(i)) for i, m in enumerate(models[:3])]               # too few models
    robust = [(m, eps, 80.0, float(r)) for eps in (0.001, 1 / 255) for m, r in zip(models, rng.permutation(8))]
    data = build_data(scores_frame(rows), robustness_frame(robust), min_models=4)
    notes = " ".join(data.notes)
    assert "same score for every model" in notes and "V2" in notes
    assert "fewer than 4" in notes and "IT (3)" in notes
    assert "target clean: every model has accuracy 80%" in notes
    result = run_analysis(data, CHEAP)
    table = result.correlations.filter(pl.col("method") == "spearman", pl.col("target") == "Linf eps=0.001")
    by_benchmark = {r["benchmark"]: r for r in table.iter_rows(named=True)}
    assert by_benchmark["V4"]["n"] == 6 and by_benchmark["V1"]["n"] == 8
    assert by_benchmark["V2"]["estimate"] is None and by_benchmark["IT"]["estimate"] is None
    x = np.array(tied)
    y = data.target_values[0]
    from scipy.stats import spearmanr
    assert by_benchmark["V1"]["estimate"] == pytest.approx(spearmanr(x, y).statistic, abs=1e-12)
    assert result.correlations.filter(pl.col("target") == "clean")["estimate"].is_null().all()


def test_targets_are_labelled_by_eps():
    assert [format_eps(e) for e in (0.001, 0.5 / 255, 1 / 255, 4 / 255, 0.5, None)] == \
        ["0.001", "0.5/255", "1/255", "4/255", "0.5", "-"]
