"""Long-format tables of the analysis layer, with explicit polars schemas.

``SCORES_SCHEMA``: one row per (model, benchmark) alignment score.
  model      model name after alias reconciliation
  benchmark  benchmark identifier (Brain-Score's, e.g. ``Geirhos2021cueconflict-error_consistency``;
             lab prefixes such as ``dicarlo.`` are stripped)
  category   neural | behavioral | engineering | average (the ``average_vision`` root) | null (unknown)
  parent     the benchmark's parent in the Brain-Score hierarchy (null for roots and unknown ones)
  is_leaf    False for aggregate nodes (average_vision, V1, Geirhos2021-error_consistency, ...)
  score      ceiled score (the leaderboard value; engineering leaves hold raw accuracies)
  raw        raw score when known
  ceiling    ceiling when known
  source     where the row came from (a file path, "brainscore-leaderboard", ...)

``ROBUSTNESS_SCHEMA``: one row per (model, dataset, norm, eps, version) evaluation.
  accuracies are in **percent** (as ``alignjax attack`` and RobustBench report them); ``eps`` is in
  [0, 1] pixel units; ``norm`` is Linf, L2, L1 or "corruptions" (RobustBench's common corruptions,
  eps null); ``n`` is the number of evaluated points when known.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import polars as pl

from alignjax.errors import InputError

CATEGORIES = ("neural", "behavioral", "engineering", "average")

SCORES_SCHEMA = pl.Schema({
    "model": pl.String,
    "benchmark": pl.String,
    "category": pl.String,
    "parent": pl.String,
    "is_leaf": pl.Boolean,
    "score": pl.Float64,
    "raw": pl.Float64,
    "ceiling": pl.Float64,
    "source": pl.String,
})

ROBUSTNESS_SCHEMA = pl.Schema({
    "model": pl.String,
    "dataset": pl.String,
    "norm": pl.String,
    "eps": pl.Float64,
    "version": pl.String,
    "n": pl.Int64,
    "clean_accuracy": pl.Float64,
    "robust_accuracy": pl.Float64,
    "source": pl.String,
})

SCORES_REQUIRED = ("model", "benchmark", "score")
ROBUSTNESS_REQUIRED = ("model", "robust_accuracy")


@dataclass(frozen=True)
class Ingested:
    """A conformed long-format table and what its reader noticed (shown in the report)."""

    frame: pl.DataFrame
    notes: tuple[str, ...] = field(default_factory=tuple)


def conform(frame: pl.DataFrame | pl.LazyFrame, schema: pl.Schema, *, required: tuple[str, ...],
            what: str, defaults: Mapping[str, object] | None = None) -> pl.DataFrame:
    """Selects ``schema``'s columns in order, casting each strictly; absent optional columns become
    ``defaults`` or null. Missing required columns or values that do not cast raise one InputError."""
    frame = frame.lazy().collect() if isinstance(frame, pl.LazyFrame) else frame
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InputError(
            f"{what}: missing column(s) {missing}; it has {frame.columns}. Required: {list(required)}, "
            f"optional: {[c for c in schema.names() if c not in required]}"
        )
    defaults = dict(defaults or {})
    columns = []
    for name, dtype in schema.items():
        if name in frame.columns:
            column = frame.get_column(name)
            if column.dtype == pl.String and dtype != pl.String:
                column = column.str.strip_chars().replace("", None)
                if dtype == pl.Boolean:
                    words = {"true": True, "false": False, "1": True, "0": False}
                    flags = column.str.to_lowercase().replace_strict(words, default=None, return_dtype=pl.Boolean)
                    if (flags.is_null() & column.is_not_null()).any():
                        raise InputError(f"{what}: column {name!r} must hold true/false values; found "
                                         f"{column.filter(flags.is_null() & column.is_not_null()).head(3).to_list()}")
                    column = flags
            try:
                columns.append(column.cast(dtype, strict=True))
            except pl.exceptions.InvalidOperationError:
                bad = column.filter(column.cast(dtype, strict=False).is_null() & column.is_not_null()).head(3)
                raise InputError(
                    f"{what}: column {name!r} must hold {dtype} values; found e.g. {bad.to_list()}"
                ) from None
        else:
            columns.append(pl.Series(name, [defaults.get(name)] * frame.height, dtype=dtype))
    conformed = pl.DataFrame(columns, schema=schema)
    nulls = [c for c in ("model", "benchmark") if c in required and conformed.get_column(c).null_count()]
    if nulls:
        raise InputError(f"{what}: column(s) {nulls} have empty cells; every row needs a name")
    return conformed


def empty(schema: pl.Schema) -> pl.DataFrame:
    return pl.DataFrame(schema=schema)
