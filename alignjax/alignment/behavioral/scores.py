"""Long-format score tables: one row per (model, benchmark, metric, subset), with an explicit schema.

``value`` is what a leaderboard shows: the ceiled score for alignment benchmarks (raw / ceiling, or the
benchmark's own ceiling rule), the raw score for engineering ones (ceiling 1). ``raw`` and ``ceiling`` are
kept beside it; ``error`` is the benchmark's spread (std over subjects, splits or images, as the
reference computes it); ``subset`` names a part (a shape class, a corruption category) or is null for
the benchmark as a whole; ``n_stimuli`` counts the images behind the number.
"""

from __future__ import annotations

import dataclasses
from os import PathLike
from pathlib import Path

import polars as pl

SCORES_SCHEMA = pl.Schema(
    {
        "model": pl.String,
        "benchmark": pl.String,
        "metric": pl.String,
        "subset": pl.String,
        "value": pl.Float64,
        "raw": pl.Float64,
        "ceiling": pl.Float64,
        "error": pl.Float64,
        "n_stimuli": pl.Int64,
        "kind": pl.String,  # 'alignment' or 'engineering'
        "protocol": pl.String,
        "reference": pl.String,
    }
)


@dataclasses.dataclass(frozen=True)
class Score:
    benchmark: str
    metric: str
    value: float
    raw: float
    ceiling: float | None
    error: float | None
    n_stimuli: int
    kind: str
    reference: str
    subset: str | None = None


def to_frame(model: str, protocol: str, scores: list[Score]) -> pl.DataFrame:
    rows = [{"model": model, "protocol": protocol, **dataclasses.asdict(score)} for score in scores]
    return pl.DataFrame(rows, schema=SCORES_SCHEMA)


def write(frame: pl.DataFrame, path: str | PathLike) -> Path:
    if frame.schema != SCORES_SCHEMA:
        raise ValueError(f"scores must have SCORES_SCHEMA, got {frame.schema}")
    path = Path(path)
    frame.write_parquet(path)
    return path


def read(path: str | PathLike) -> pl.DataFrame:
    frame = pl.read_parquet(path)
    if frame.schema != SCORES_SCHEMA:
        raise ValueError(f"{path} is not a score table (schema {frame.schema})")
    return frame


def format_table(frame: pl.DataFrame) -> str:
    """A plain-text table of the whole-benchmark rows (subset null), one line each."""
    lines = [f"{'benchmark':<48} {'value':>8} {'raw':>8} {'ceiling':>8} {'n':>6}"]
    for row in frame.filter(pl.col("subset").is_null()).iter_rows(named=True):
        ceiling = "" if row["ceiling"] is None else f"{row['ceiling']:.4f}"
        lines.append(
            f"{row['benchmark']:<48} {row['value']:>8.4f} {row['raw']:>8.4f} {ceiling:>8} {row['n_stimuli']:>6}"
        )
    return "\n".join(lines)
