"""Shape bias on cue-conflict stimuli (Geirhos et al., ICLR 2019; Hermann, Chen & Kornblith, NeurIPS 2020).

Among the images whose shape and texture classes differ, ``shape_match`` is the fraction of decisions
for the shape class, ``texture_match`` the fraction for the texture class, and

    shape_bias = shape_match / (shape_match + texture_match).

References: bethgelab/model-vs-human@79ed7cd ``modelvshuman/plotting/analyses.py::ShapeBias`` (whose two
fractions divide by all rows, including same-class images; the ratio is the same) and
brain-score/vision@d07d356 ``benchmarks/hermann2020/benchmark.py`` (``shape_match``/``texture_match``
are accuracies over the conflict images). Per class groups by the shape category, as model-vs-human's
shape-bias plots do (``plotting/plot.py::plot_shape_bias_boxplot``). A group with neither a shape nor a
texture decision has no shape bias (null); model-vs-human would divide by zero there.
"""

from __future__ import annotations

import polars as pl

SHAPE_BIAS_SCHEMA = pl.Schema(
    {
        "shape": pl.String,
        "conflict_trials": pl.Int64,
        "shape_match": pl.Float64,
        "texture_match": pl.Float64,
        "shape_bias": pl.Float64,
    }
)


def _check(frame: pl.DataFrame, response: str) -> None:
    missing = sorted({"shape", "texture", response} - set(frame.columns))
    if missing:
        raise ValueError(
            f"a shape-bias table needs columns shape, texture and {response!r}; missing {missing}"
        )


def _summaries(frame: pl.DataFrame, response: str, by: list[str]) -> pl.DataFrame:
    conflict = frame.filter(pl.col("shape") != pl.col("texture"))
    statistics = [
        pl.len().cast(pl.Int64).alias("conflict_trials"),
        (pl.col(response) == pl.col("shape")).mean().cast(pl.Float64).alias("shape_match"),
        (pl.col(response) == pl.col("texture")).mean().cast(pl.Float64).alias("texture_match"),
    ]
    summary = conflict.group_by(by).agg(statistics) if by else conflict.select(statistics)
    total = pl.col("shape_match") + pl.col("texture_match")
    return summary.with_columns(
        pl.when(total > 0).then(pl.col("shape_match") / total).otherwise(None).alias("shape_bias")
    )


def shape_bias(frame: pl.DataFrame, *, response: str = "response") -> dict[str, float | int | None]:
    """Overall ``shape_match``, ``texture_match``, ``shape_bias`` and the number of conflict trials.

    Args:
      frame: one row per decision with the stimulus's ``shape`` and ``texture`` class and the decision in
        column ``response``.
    """
    _check(frame, response)
    row = _summaries(frame, response, []).row(0, named=True)
    if row["conflict_trials"] == 0:
        raise ValueError("no cue-conflict trials (every image has the same shape and texture class)")
    return row


def shape_bias_per_class(frame: pl.DataFrame, *, response: str = "response") -> pl.DataFrame:
    """One row per shape class (sorted) with ``SHAPE_BIAS_SCHEMA``."""
    _check(frame, response)
    summary = _summaries(frame, response, ["shape"]).sort("shape")
    return summary.select(list(SHAPE_BIAS_SCHEMA)).cast(dict(SHAPE_BIAS_SCHEMA))  # type: ignore[arg-type]
