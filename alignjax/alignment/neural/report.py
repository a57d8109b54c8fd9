"""Result tables of ``alignjax align neural``: long-format polars frames with explicit schemas."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl

from alignjax.alignment.neural.scoring import NeuralScore

SCORE_SCHEMA = pl.Schema({
    "model": pl.String, "region": pl.String, "benchmark": pl.String, "layer": pl.String,
    "raw": pl.Float64, "raw_error": pl.Float64, "ceiling": pl.Float64, "ceiling_error": pl.Float64,
    "ceiled_2025": pl.Float64, "ceiled_2026": pl.Float64, "normalisation": pl.String, "score": pl.Float64,
})
LAYER_SCHEMA = pl.Schema({
    "model": pl.String, "region": pl.String, "benchmark": pl.String, "layer": pl.String,
    "raw": pl.Float64, "raw_error": pl.Float64, "ceiling": pl.Float64, "ceiled_2025": pl.Float64,
    "ceiled_2026": pl.Float64, "score": pl.Float64, "committed": pl.Boolean,
})
RESULT_FILES = ("scores.parquet", "layer_scores.parquet", "summary.json", "manifest.json")


def _row(model: str, summary: Mapping[str, Any], columns: pl.Schema) -> dict[str, Any]:
    row = {"model": model, **summary}
    return {name: row.get(name) for name in columns}


def score_frame(model: str, scores: Mapping[str, NeuralScore]) -> pl.DataFrame:
    return pl.DataFrame([_row(model, score.summary(), SCORE_SCHEMA) for score in scores.values()],
                        schema=SCORE_SCHEMA, orient="row")


def layer_frame(model: str, layer_scores: Mapping[str, Mapping[str, Any]], committed: Mapping[str, str],
                normalisation: str) -> pl.DataFrame:
    """Every candidate layer's scores; ``layer_scores`` values are scores or cached summaries."""
    rows = []
    for region, by_layer in layer_scores.items():
        for layer, score in by_layer.items():
            summary = score.summary() if isinstance(score, NeuralScore) else dict(score)
            summary = {**summary, "score": summary[f"ceiled_{normalisation}"],
                       "committed": committed.get(region) == layer}
            rows.append(_row(model, summary, LAYER_SCHEMA))
    return pl.DataFrame(rows, schema=LAYER_SCHEMA, orient="row")


def prepare_output_dir(out: Path, *, overwrite: bool) -> Path:
    from alignjax.errors import InputError

    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} exists and is not a folder; choose another path")
    if (out / "summary.json").exists():
        if not overwrite:
            raise InputError(f"{out} already holds results (summary.json); choose another --out or pass "
                             "--overwrite")
        for name in RESULT_FILES:
            (out / name).unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    return out


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _clean(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(item) for item in value]
    return value


def write_results(out: Path, model: str, scores: Mapping[str, NeuralScore],
                  layer_scores: Mapping[str, Mapping[str, Any]], committed: Mapping[str, str],
                  manifest: Mapping[str, Any], *, normalisation: str) -> None:
    """``scores.parquet`` (one row per region), ``layer_scores.parquet`` (every candidate layer),
    ``summary.json`` and ``manifest.json``."""
    score_frame(model, scores).write_parquet(out / "scores.parquet")
    layer_frame(model, layer_scores, committed, normalisation).write_parquet(out / "layer_scores.parquet")
    summary = {"model": model, "regions": {region: score.summary() for region, score in scores.items()}}
    (out / "summary.json").write_text(json.dumps(_clean(summary), indent=1))
    (out / "manifest.json").write_text(json.dumps(_clean(dict(manifest)), indent=1, default=str))
