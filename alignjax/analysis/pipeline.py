"""The analysis of arXiv 2502.12377, generalised: which alignment benchmarks predict robustness.

``run_analysis`` turns ``AnalysisData`` into long polars tables:
- ``correlations``: per method, benchmark and target (each eps, and clean accuracy): estimate, scipy's
  p-value, bootstrap interval, permutation p-value, Benjamini-Hochberg q-value within each
  (method, target) family (from the permutation p when it was computed, else the asymptotic one);
- ``partial``: partial correlation of each benchmark with robust accuracy given clean accuracy, with
  q-values: a control that separates alignment from accuracy, not in the paper's code
  (kyangl/alignment-security@3bafa26:plotting.py has no partial correlation);
- ``regressions``: the paper's OLS of robust accuracy on each aggregate score (R^2, F-test) and whether
  the aggregate adds to clean accuracy (nested F-test);
- ``ranking``: benchmarks ordered by mean |correlation| with robust accuracy over the eps;
- ``embedding``: 2-D coordinates of the models by their leaf-benchmark vectors.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from alignjax.analysis.dataset import AnalysisData
from alignjax.analysis.embedding import EmbeddingConfig, embed
from alignjax.analysis.leaderboard import AGGREGATES
from alignjax.analysis.pairs import complete_cases
from alignjax.analysis.regression import nested_f_test, ols
from alignjax.analysis.resampling import ResamplingConfig, correlate
from alignjax.analysis.statistics import METHODS, benjamini_hochberg_expr, partial_correlation
from alignjax.errors import InputError


@dataclass(frozen=True)
class AnalysisConfig:
    methods: tuple[str, ...] = METHODS
    resampled_methods: tuple[str, ...] = METHODS
    primary_method: str = "spearman"
    resampling: ResamplingConfig = field(default_factory=ResamplingConfig)
    aggregates: tuple[str, ...] = AGGREGATES
    drop_benchmarks: tuple[str, ...] = ()
    min_models: int = 5
    top_k: int = 6
    embedding: EmbeddingConfig = field(default_factory=EmbeddingConfig)

    def __post_init__(self) -> None:
        unknown = [m for m in (*self.methods, *self.resampled_methods, self.primary_method) if m not in METHODS]
        if unknown:
            raise InputError(f"unknown correlation method(s) {unknown}; choose from {METHODS}")
        if self.primary_method not in self.methods:
            raise InputError(f"the primary method {self.primary_method!r} must be one of the methods {self.methods}")


@dataclass(frozen=True)
class AnalysisResult:
    data: AnalysisData
    correlations: pl.DataFrame
    partial: pl.DataFrame
    regressions: pl.DataFrame
    ranking: pl.DataFrame
    embedding: pl.DataFrame
    embedding_description: str
    notes: tuple[str, ...]


def _pairs(data: AnalysisData) -> tuple[np.ndarray, np.ndarray, pl.DataFrame]:
    """Every (benchmark, target) pair: x (P, models), y (P, models) and the pair table."""
    n_benchmarks, n_targets = data.scores.shape[0], data.target_values.shape[0]
    x = np.repeat(data.scores, n_targets, axis=0)
    y = np.tile(data.target_values, (n_benchmarks, 1))
    table = data.benchmarks.join(data.targets, how="cross")
    return x, y, table


def correlation_table(data: AnalysisData, config: AnalysisConfig) -> pl.DataFrame:
    x, y, pairs = _pairs(data)
    labels = [f"{b}|{t}" for b, t in pairs.select("benchmark", "target").iter_rows()]
    frames = []
    for method in config.methods:
        resampling = config.resampling if method in config.resampled_methods else \
            dataclasses.replace(config.resampling, n_bootstrap=0, n_permutations=0)
        result = correlate(x, y, method=method, labels=labels, config=resampling)
        enough = result.n >= config.min_models
        columns = {name: np.where(enough, getattr(result, name), np.nan)
                   for name in ("estimate", "p_value", "ci_low", "ci_high", "p_permutation")}
        frames.append(pairs.with_columns(
            pl.lit(method).alias("method"), pl.Series("n", result.n),
            *[pl.Series(k, v).fill_nan(None) for k, v in columns.items()],
            pl.Series("n_bootstrap_valid", result.n_bootstrap_valid),
            pl.Series("n_permutations", result.n_permutations),
        ))
    table = pl.concat(frames)
    tested = pl.coalesce("p_permutation", "p_value")
    return table.with_columns(
        benjamini_hochberg_expr(tested).over("method", "target").alias("q_value"),
        benjamini_hochberg_expr(pl.col("p_value")).over("method", "target").alias("q_value_asymptotic"),
    ).select("method", "benchmark", "category", "parent", "is_leaf", "target", "kind", "dataset", "norm", "eps",
             "version", "n", "estimate", "ci_low", "ci_high", "p_value", "p_permutation", "q_value",
             "q_value_asymptotic", "n_bootstrap_valid", "n_permutations")


def partial_table(data: AnalysisData, config: AnalysisConfig) -> pl.DataFrame:
    method = "pearson" if config.primary_method == "pearson" else "spearman"
    robust = data.targets.get_column("kind").to_numpy() == "robust"
    if not robust.any():
        return pl.DataFrame()
    sub = dataclasses.replace(data, targets=data.targets.filter(pl.col("kind") == "robust"),
                              target_values=data.target_values[robust], control=data.control[robust])
    x, y, pairs = _pairs(sub)
    z = np.tile(sub.control, (sub.scores.shape[0], 1))
    cases = complete_cases([x, y, z])
    estimate, p = partial_correlation(cases, method)
    enough = cases.n >= max(config.min_models, 4)
    return pairs.with_columns(
        pl.lit(method).alias("method"), pl.Series("n", cases.n),
        pl.Series("partial", np.where(enough, estimate, np.nan)).fill_nan(None),
        pl.Series("p_value", np.where(enough, p, np.nan)).fill_nan(None),
    ).with_columns(benjamini_hochberg_expr(pl.col("p_value")).over("target").alias("q_value")).select(
        "method", "benchmark", "category", "target", "eps", "n", "partial", "p_value", "q_value")


def regression_table(data: AnalysisData, config: AnalysisConfig) -> tuple[pl.DataFrame, list[str]]:
    names = data.benchmarks.get_column("benchmark").to_list()
    rows, notes = [], []
    for aggregate in [a for a in config.aggregates if a in names]:
        x = data.scores[names.index(aggregate)]
        for (target, kind), y, clean in zip(data.targets.select("target", "kind").iter_rows(), data.target_values,
                                            data.control):
            if kind != "robust":
                continue
            row = {"aggregate": aggregate, "target": target}
            try:
                simple = ols(x, y)
            except InputError as err:
                notes.append(f"OLS of {target} on {aggregate}: {err}")
                rows.append(row)
                continue
            row.update(n=simple.n, intercept=simple.params[0], slope=simple.params[1], r_squared=simple.r_squared,
                       f_value=simple.f_value, f_p_value=simple.f_p_value)
            keep = np.isfinite(x) & np.isfinite(y) & np.isfinite(clean)
            try:
                restricted, full = ols(clean[keep], y[keep]), ols(np.column_stack([clean, x])[keep], y[keep])
                f_nested, p_nested, _ = nested_f_test(restricted, full)
                row.update(n_with_clean=full.n, r_squared_clean=restricted.r_squared,
                           r_squared_clean_and_aggregate=full.r_squared, f_added=f_nested, f_added_p_value=p_nested)
            except InputError as err:
                notes.append(f"OLS of {target} on clean accuracy + {aggregate} (does it add to clean accuracy?): {err}")
            rows.append(row)
    schema = {"aggregate": pl.String, "target": pl.String, "n": pl.Int64, "intercept": pl.Float64,
              "slope": pl.Float64, "r_squared": pl.Float64, "f_value": pl.Float64, "f_p_value": pl.Float64,
              "n_with_clean": pl.Int64, "r_squared_clean": pl.Float64, "r_squared_clean_and_aggregate": pl.Float64,
              "f_added": pl.Float64, "f_added_p_value": pl.Float64}
    return pl.DataFrame(rows, schema=schema), notes


def ranking_table(correlations: pl.DataFrame, partial: pl.DataFrame, config: AnalysisConfig) -> pl.DataFrame:
    robust = correlations.filter((pl.col("method") == config.primary_method) & (pl.col("kind") == "robust"))
    ranked = robust.group_by("benchmark", "category", "is_leaf", maintain_order=True).agg(
        pl.col("estimate").mean().alias("mean_estimate"),
        pl.col("estimate").abs().mean().alias("mean_abs_estimate"),
        pl.col("q_value").min().alias("min_q_value"),
        pl.col("n").min().alias("min_n"),
    )
    if partial.height:
        ranked = ranked.join(partial.group_by("benchmark").agg(pl.col("partial").mean().alias("mean_partial")),
                             on="benchmark", how="left")
    else:
        ranked = ranked.with_columns(pl.lit(None, pl.Float64).alias("mean_partial"))
    ranked = ranked.sort("mean_abs_estimate", descending=True, nulls_last=True)
    return ranked.with_columns(pl.int_range(1, pl.len() + 1).alias("rank")).select(
        "rank", "benchmark", "category", "is_leaf", "mean_estimate", "mean_abs_estimate", "mean_partial",
        "min_q_value", "min_n")


def embedding_table(data: AnalysisData, config: AnalysisConfig) -> tuple[pl.DataFrame, str]:
    leaves = data.benchmarks.get_column("is_leaf").fill_null(True).to_numpy()
    what = "leaf benchmarks"
    if not leaves.any():  # a table of aggregates only (V1, V2, V4, IT ...): embed by those
        leaves, what = np.ones_like(leaves, dtype=bool), "benchmarks (none is a leaf)"
    coordinates, description = embed(data.scores[leaves].T, config.embedding)
    robust = np.flatnonzero(data.targets.get_column("kind").to_numpy() == "robust")
    colour = data.target_values[robust[0]] if robust.size else np.full(len(data.models), np.nan)
    label = data.targets.get_column("target")[int(robust[0])] if robust.size else ""
    frame = pl.DataFrame({"model": list(data.models), "x": coordinates[:, 0], "y": coordinates[:, 1],
                          "colour": colour}).with_columns(pl.col("colour").fill_nan(None), pl.lit(label).alias("colour_target"))
    return frame, f"{description}; {int(leaves.sum())} {what}"


def run_analysis(data: AnalysisData, config: AnalysisConfig = AnalysisConfig()) -> AnalysisResult:
    notes = list(data.notes)
    correlations = correlation_table(data, config)
    partial = partial_table(data, config)
    regressions, regression_notes = regression_table(data, config)
    notes += regression_notes
    try:  # an optional figure: whatever it cannot do becomes a note, never a failed report
        embedding, description = embedding_table(data, config)
    except (InputError, ValueError) as err:
        embedding, description = pl.DataFrame(), f"no embedding: {err}"
        notes.append(description)
    return AnalysisResult(data=data, correlations=correlations, partial=partial, regressions=regressions,
                          ranking=ranking_table(correlations, partial, config), embedding=embedding,
                          embedding_description=description, notes=tuple(notes))
