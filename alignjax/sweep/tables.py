"""The sweep's two tables: one row per evaluated point, one summary row per unit (explicit schemas).

Per point: the grid coordinates, ``index`` (position in the unit's evaluation set) and
``source_index`` (position in the underlying data set), the label, clean correctness, whether the
point is still robust after each attack of the cascade (``robust_after``, in ``attacks`` order of the
summary row), the attack that broke it (``broken_by``: an attack name, 'clean' for a clean error, ''
if robust), the prediction at the returned point, the logit margin there
(``logit[label] - max other logit``: negative means misclassified) and the perturbation norm in the
unit's threat model.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from alignjax.sweep.grid import Unit

COORDINATES = {
    "unit_id": pl.String,
    "model": pl.String,
    "checkpoint": pl.String,
    "dataset": pl.String,
    "norm": pl.String,
    "eps": pl.Float64,
    "version": pl.String,
    "seed": pl.Int64,
}

POINTS_SCHEMA = pl.Schema({
    **COORDINATES,
    "index": pl.Int64,
    "source_index": pl.Int64,
    "label": pl.Int32,
    "clean_correct": pl.Boolean,
    "robust": pl.Boolean,
    "robust_after": pl.List(pl.Boolean),
    "broken_by": pl.String,
    "adv_prediction": pl.Int32,
    "margin": pl.Float64,
    "perturbation_norm": pl.Float32,
    "misclassified": pl.Float32,
    "n_queries": pl.Int64,
})

SUMMARY_SCHEMA = pl.Schema({
    **COORDINATES,
    "n": pl.Int64,
    "clean_accuracy": pl.Float64,
    "robust_accuracy": pl.Float64,
    "attacks": pl.List(pl.String),
    "robust_accuracy_after": pl.List(pl.Float64),
    "attack_seconds": pl.List(pl.Float64),
    "seconds": pl.Float64,
    "started": pl.String,
    "finished": pl.String,
    "stack_size": pl.Int64,
    "device": pl.String,
    "device_kind": pl.String,
    "n_local_devices": pl.Int64,
    "process_index": pl.Int64,
    "process_count": pl.Int64,
    "alignjax_version": pl.String,
    "jax_version": pl.String,
    "jaxlib_version": pl.String,
    "flax_version": pl.String,
    "python_version": pl.String,
    "git_revision": pl.String,
    "config_hash": pl.String,
    "run_id": pl.String,
    "robustbench": pl.String,
    "warnings": pl.List(pl.String),
    "points_rows": pl.Int64,
    "points_sha256": pl.String,
    "store_format": pl.Int64,
})

ROBUST_AFTER_SCHEMA = pl.Schema({**COORDINATES, "index": pl.Int64, "position": pl.Int64, "attack": pl.String,
                                 "robust": pl.Boolean})


def robust_after_matrix(clean_correct: np.ndarray, broken_by: np.ndarray, attacks: Sequence[str]) -> np.ndarray:
    """(n, len(attacks)) bool: still correctly classified after each attack of the cascade."""
    position = {name: i for i, name in enumerate(attacks)}
    broken_at = np.array([position.get(b, len(attacks)) for b in broken_by], np.int64)
    return clean_correct[:, None] & (np.arange(len(attacks))[None, :] < broken_at[:, None])


def points_frame(unit: Unit, source_index: np.ndarray, labels: np.ndarray, outcome) -> pl.DataFrame:
    """The per-point rows of one unit from a ``units.UnitOutcome``."""
    n = len(labels)
    after = robust_after_matrix(outcome.clean_correct, outcome.broken_by, outcome.attack_names)
    columns = {
        "unit_id": [unit.unit_id] * n, "model": [unit.model] * n, "checkpoint": [unit.checkpoint] * n,
        "dataset": [unit.dataset] * n, "norm": [unit.norm] * n, "eps": np.full(n, unit.eps),
        "version": [unit.version] * n, "seed": np.full(n, unit.seed, np.int64),
        "index": np.arange(n, dtype=np.int64), "source_index": np.asarray(source_index, np.int64),
        "label": np.asarray(labels, np.int32), "clean_correct": outcome.clean_correct,
        "robust": outcome.robust, "robust_after": [list(row) for row in after],
        "broken_by": outcome.broken_by.astype(str).tolist(),
        "adv_prediction": np.asarray(outcome.adv_prediction, np.int32),
        "margin": np.asarray(outcome.margin, np.float64),
        "perturbation_norm": np.asarray(outcome.perturbation_norm, np.float32),
        "misclassified": np.asarray(outcome.misclassified, np.float32),
        "n_queries": np.asarray(outcome.n_queries, np.int64),
    }
    return pl.DataFrame(columns, schema=POINTS_SCHEMA)


def robust_after_long(points: pl.DataFrame | pl.LazyFrame, summary: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """Long format: one row per (point, attack) with whether the point survived up to that attack."""
    attacks = summary.lazy().select("unit_id", "attacks")
    long = (points.lazy().select(*COORDINATES, "index", "robust_after").join(attacks, on="unit_id")
            .with_columns(pl.int_ranges(0, pl.col("attacks").list.len()).alias("position"))
            .explode("robust_after", "attacks", "position")
            .rename({"attacks": "attack", "robust_after": "robust"})
            .select(*ROBUST_AFTER_SCHEMA))
    return long.collect().cast(dict(ROBUST_AFTER_SCHEMA))  # type: ignore[arg-type]
