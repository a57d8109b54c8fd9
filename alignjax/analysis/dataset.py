"""Scores and robustness tables -> the matrices the statistics run on.

Models are matched by exact name after the alias table (every unmatched name is reported, with close
spellings as suggestions). Benchmarks become rows of a (benchmarks x models) matrix in leaderboard
order (average, neural, behavioral, engineering, then unknown). Robustness rows become **targets**, one
per (dataset, norm, eps, version): robust accuracy of each model; a "clean" target holds each model's
clean accuracy (the paper's heatmap has both). Several rows for one model and target (seeds, repeats)
are averaged, and said so.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import polars as pl

from alignjax.analysis.aliases import AliasTable, reconcile
from alignjax.analysis.leaderboard import hierarchy
from alignjax.analysis.schemas import ROBUSTNESS_SCHEMA, SCORES_SCHEMA
from alignjax.errors import InputError

CATEGORY_ORDER = {"average": 0, "neural": 1, "behavioral": 2, "engineering": 3}
TARGET_KEYS = ("dataset", "norm", "eps", "version")
MIN_MODELS = 3


@dataclass(frozen=True)
class AnalysisData:
    """Everything the analysis needs, aligned on ``models``.

    Attributes:
        models: matched model names, sorted.
        benchmarks: benchmark, category, parent, is_leaf (rows of ``scores``, leaderboard order).
        scores: (n_benchmarks, n_models) alignment scores, NaN where missing.
        targets: target, kind ("robust" or "clean"), dataset, norm, eps, version (rows of ``target_values``).
        target_values: (n_targets, n_models) accuracies in percent, NaN where missing.
        control: (n_targets, n_models) clean accuracy measured with each target's rows (the covariate of
            the partial correlations), NaN where missing.
        notes: what was matched, dropped, averaged or is degenerate.
    """

    models: tuple[str, ...]
    benchmarks: pl.DataFrame
    scores: np.ndarray
    targets: pl.DataFrame
    target_values: np.ndarray
    control: np.ndarray
    notes: tuple[str, ...]


def format_eps(eps: float | None) -> str:
    """A short decimal when exact (0.001, 0.5), else a multiple of 1/255 (0.00392... -> '1/255')."""
    if eps is None or not np.isfinite(eps):
        return "-"
    decimal = f"{eps:g}"
    if len(decimal) <= 6 and float(decimal) == eps:
        return decimal
    in_255 = round(eps * 255 * 2) / 2
    if in_255 > 0 and abs(eps * 255 - in_255) < 1e-9:
        return f"{in_255:g}/255"
    return f"{eps:.4g}"


def _target_labels(keys: pl.DataFrame) -> list[str]:
    varying = [k for k in ("dataset", "version") if keys.get_column(k).n_unique() > 1]
    labels = []
    for row in keys.iter_rows(named=True):
        label = f"{row['norm'] or ''} eps={format_eps(row['eps'])}".strip()
        extra = ", ".join(str(row[k]) for k in varying)
        labels.append(f"{label} ({extra})" if extra else label)
    return labels


def _benchmark_table(scores: pl.DataFrame) -> pl.DataFrame:
    order = dict(hierarchy().select("benchmark", "order").iter_rows())
    table = scores.group_by("benchmark", maintain_order=True).agg(
        pl.col("category").drop_nulls().first(), pl.col("parent").drop_nulls().first(),
        pl.col("is_leaf").drop_nulls().first())
    return table.with_columns(
        pl.col("category").replace_strict(CATEGORY_ORDER, default=len(CATEGORY_ORDER), return_dtype=pl.Int64)
        .alias("_category_order"),
        pl.col("benchmark").replace_strict(order, default=len(order), return_dtype=pl.Int64).alias("_order"),
    ).sort("_category_order", "_order", "benchmark").drop("_category_order", "_order")


def build_data(scores: pl.DataFrame, robustness: pl.DataFrame, *, aliases: AliasTable | None = None,
               drop_benchmarks: tuple[str, ...] = (), min_models: int = 5) -> AnalysisData:
    """Aligns scores (SCORES_SCHEMA) and robustness (ROBUSTNESS_SCHEMA) on the models both have."""
    aliases = aliases or AliasTable()
    scores = aliases.apply(scores.select(SCORES_SCHEMA.names()))
    robustness = aliases.apply(robustness.select(ROBUSTNESS_SCHEMA.names()))
    notes: list[str] = []
    matching = reconcile(scores.get_column("model").unique(), robustness.get_column("model").unique())
    notes += matching.notes("alignment scores", "robustness")
    models = matching.matched
    if len(models) < MIN_MODELS:
        raise InputError(
            f"only {len(models)} model(s) have both alignment scores and robustness ({', '.join(models) or 'none'}); "
            f"correlations need at least {MIN_MODELS}. Unmatched: " + " | ".join(matching.notes("scores", "robustness")[1:])
            + ". Add an alias table (--aliases, columns alias,model) for names spelled differently.")
    dropped = [b for b in drop_benchmarks if b in set(scores.get_column("benchmark"))]
    if dropped:
        notes.append(f"benchmarks dropped by the protocol: {', '.join(dropped)}")
    scores = scores.filter(pl.col("model").is_in(models) & ~pl.col("benchmark").is_in(list(drop_benchmarks)))
    benchmarks = _benchmark_table(scores)
    wide = scores.pivot(on="model", index="benchmark", values="score", aggregate_function="first")
    wide = benchmarks.select("benchmark").join(wide, on="benchmark", how="left")
    matrix = np.column_stack([wide.get_column(m).cast(pl.Float64).to_numpy() if m in wide.columns
                              else np.full(wide.height, np.nan) for m in models]) if wide.height else np.zeros((0, len(models)))

    robustness = robustness.filter(pl.col("model").is_in(models))
    repeated = robustness.group_by("model", *TARGET_KEYS).len().filter(pl.col("len") > 1)
    if repeated.height:
        notes.append(f"{repeated.height} (model, target) combination(s) with several rows were averaged, e.g. "
                     f"{repeated.select('model', 'eps').head(3).rows()}")
    per_target = robustness.group_by("model", *TARGET_KEYS).agg(pl.col("robust_accuracy", "clean_accuracy").mean())
    keys = per_target.select(TARGET_KEYS).unique().sort("dataset", "norm", "eps", "version", nulls_last=True)
    labels = _target_labels(keys)
    rows, controls = [], []
    for key in keys.iter_rows(named=True):
        part = per_target.filter(*[pl.col(k).eq_missing(v) for k, v in key.items()])
        lookup = {m: (r, c) for m, r, c in part.select("model", "robust_accuracy", "clean_accuracy").iter_rows()}
        rows.append([lookup.get(m, (None, None))[0] for m in models])
        controls.append([lookup.get(m, (None, None))[1] for m in models])
    clean = robustness.group_by("model").agg(pl.col("clean_accuracy").mean())
    clean_lookup = dict(clean.iter_rows())
    clean_row = [clean_lookup.get(m) for m in models]
    targets = keys.with_columns(pl.Series("target", labels), pl.lit("robust").alias("kind"))
    if any(v is not None for v in clean_row):
        targets = pl.concat([targets, pl.DataFrame({"target": ["clean"], "kind": ["clean"]})], how="diagonal_relaxed")
        rows.append(clean_row)
        controls.append(clean_row)
    as_array = lambda values: np.array([[np.nan if v is None else v for v in row] for row in values], dtype=np.float64)
    data = AnalysisData(models=tuple(models), benchmarks=benchmarks, scores=matrix,
                        targets=targets.select("target", "kind", *TARGET_KEYS), target_values=as_array(rows),
                        control=as_array(controls), notes=())
    return dataclasses.replace(data, notes=tuple(notes + degenerate_notes(data, min_models)))


def degenerate_notes(data: AnalysisData, min_models: int) -> list[str]:
    """Benchmarks and targets on which no correlation is defined or too few models are complete."""
    notes = []
    names = data.benchmarks.get_column("benchmark").to_list()
    constant = [n for n, row in zip(names, data.scores) if np.isfinite(row).sum() >= 2 and np.nanmin(row) == np.nanmax(row)]
    if constant:
        notes.append(f"{len(constant)} benchmark(s) have the same score for every model (no correlation defined): "
                     + ", ".join(constant))
    sparse = [f"{n} ({int(np.isfinite(row).sum())})" for n, row in zip(names, data.scores)
              if np.isfinite(row).sum() < min_models]
    if sparse:
        notes.append(f"{len(sparse)} benchmark(s) scored for fewer than {min_models} of the matched models "
                     "(statistics left empty): " + ", ".join(sparse))
    for label, row in zip(data.targets.get_column("target"), data.target_values):
        finite = row[np.isfinite(row)]
        if finite.size >= 2 and finite.min() == finite.max():
            notes.append(f"target {label}: every model has accuracy {finite[0]:g}% (no correlation defined)")
        elif finite.size < min_models:
            notes.append(f"target {label}: only {finite.size} model(s) evaluated (statistics left empty)")
    return notes
