"""Readers for alignjax's own outputs and for users' tables, each small and returning ``Ingested``.

Scores (alignment), documented long format (CSV, TSV, parquet file or folder of parquet files):
  model, benchmark, score                       required
  category, parent, is_leaf, raw, ceiling       optional; category/parent/is_leaf default to the
                                                Brain-Score hierarchy when the benchmark is known
  or ``model, benchmark, metric, value``: metric "score"/"ceiled" gives score, "raw" raw, "ceiling"
  ceiling; any other metric m becomes the benchmark ``<benchmark>-<m>`` (Brain-Score's naming, e.g.
  Geirhos2021cueconflict + error_consistency).

Robustness, long format: ``model, robust_accuracy`` required; ``dataset, norm, eps, version, n,
clean_accuracy`` optional (percent accuracies, eps in [0, 1]). Accepted column spellings include a
sweep store's and the paper's ``evaluation_results.csv`` (``Model Name, Threat Model, Epsilon,
Top-1 Accuracy, Top-1 Subset Clean Accuracy``, torchmetrics fractions, converted to percent).

Attack runs: folders written by ``alignjax attack`` (summary.json + manifest.json; see
``alignjax/attacks/report.py``); the model is the manifest's model description unless named.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from alignjax.analysis.leaderboard import attach_hierarchy
from alignjax.analysis.schemas import (
    ROBUSTNESS_REQUIRED,
    ROBUSTNESS_SCHEMA,
    SCORES_REQUIRED,
    SCORES_SCHEMA,
    Ingested,
    conform,
)
from alignjax.errors import InputError

ROBUSTNESS_ALIASES = {
    "model_name": "model", "Model Name": "model", "Model": "model",
    "threat_model": "norm", "Threat Model": "norm",
    "epsilon": "eps", "Epsilon": "eps",
    "clean_acc": "clean_accuracy", "robust_acc": "robust_accuracy", "autoattack_acc": "robust_accuracy",
    "Top-1 Accuracy": "robust_accuracy", "Top-1 Subset Clean Accuracy": "clean_accuracy",
    "n_points": "n", "attack_version": "version",
}
PAPER_COLUMNS = ("Model Name", "Top-1 Accuracy")  # kyangl/alignment-security@3bafa26:evaluate_robustness.py
SCORE_METRICS = {"score": "score", "ceiled": "score", "score_ceiled": "score", "raw": "raw", "score_raw": "raw",
                 "ceiling": "ceiling"}


def read_table(path: str | Path) -> pl.DataFrame:
    """CSV, TSV, parquet, or a folder of parquet files (a partitioned store), as one frame."""
    path = Path(path)
    if path.is_dir():
        files = sorted(path.rglob("*.parquet"))
        if not files:
            raise InputError(f"{path} is a folder without parquet files")
        return pl.concat([pl.read_parquet(f) for f in files], how="diagonal_relaxed")
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    if path.suffix == ".parquet":
        return pl.read_parquet(path)
    if path.suffix in (".csv", ".tsv", ".txt"):
        return pl.read_csv(path, separator="\t" if path.suffix == ".tsv" else ",", infer_schema=False,
                           comment_prefix="#")
    raise InputError(f"{path}: unsupported file type {path.suffix!r}; use .csv, .tsv or .parquet")


def read_scores(path: str | Path) -> Ingested:
    """Alignment scores in the long format above."""
    frame = read_table(path)
    notes = [f"{Path(path).name}: {frame.height} score rows"]
    if "metric" in frame.columns and "value" in frame.columns and "score" not in frame.columns:
        frame = _pivot_metrics(frame)
    if "value" in frame.columns and "score" not in frame.columns:
        frame = frame.rename({"value": "score"})
    for column in ("category", "parent", "is_leaf"):
        if column not in frame.columns:
            frame = frame.with_columns(pl.lit(None, SCORES_SCHEMA[column]).alias(column))
    frame = frame.with_columns(pl.col("source").fill_null(str(path)) if "source" in frame.columns
                               else pl.lit(str(path)).alias("source"))
    frame = conform(frame, SCORES_SCHEMA, required=SCORES_REQUIRED, what=str(path))
    frame, hierarchy_notes = attach_hierarchy(frame)
    duplicates = frame.filter(pl.struct("model", "benchmark").is_duplicated())
    if duplicates.height:
        raise InputError(f"{path}: several scores for the same model and benchmark, e.g. "
                         f"{duplicates.select('model', 'benchmark').head(3).rows()}; keep one per pair")
    return Ingested(frame.filter(pl.col("score").is_not_null()), tuple(notes + hierarchy_notes))


def _pivot_metrics(frame: pl.DataFrame) -> pl.DataFrame:
    frame = frame.with_columns(pl.col("metric").str.strip_chars())
    kind = pl.col("metric").replace_strict(SCORE_METRICS, default=None)
    renamed = pl.when(kind.is_null()).then(pl.format("{}-{}", "benchmark", "metric")).otherwise(pl.col("benchmark"))
    frame = frame.with_columns(renamed.alias("benchmark"), kind.fill_null("score").alias("metric"))
    index = [c for c in frame.columns if c not in ("metric", "value")]
    keep = [c for c in index if c in ("model", "benchmark", "category", "parent", "is_leaf", "source")]
    return frame.select(*keep, "metric", "value").pivot(on="metric", index=keep, values="value",
                                                        aggregate_function="first")


def read_robustness(path: str | Path, *, accuracy_unit: str = "percent") -> Ingested:
    """Robustness rows from a long table (our schema, a sweep store, or the paper's results CSV)."""
    if accuracy_unit not in ("percent", "fraction"):
        raise InputError(f"accuracy unit must be 'percent' or 'fraction', got {accuracy_unit!r}")
    frame = read_table(path)
    paper = all(c in frame.columns for c in PAPER_COLUMNS)
    frame = frame.rename({k: v for k, v in ROBUSTNESS_ALIASES.items() if k in frame.columns and v not in frame.columns})
    frame = conform(frame.with_columns(pl.lit(str(path)).alias("source")), ROBUSTNESS_SCHEMA,
                    required=ROBUSTNESS_REQUIRED, what=str(path))
    notes = [f"{Path(path).name}: {frame.height} robustness rows"]
    if paper or accuracy_unit == "fraction":
        frame = frame.with_columns(pl.col("clean_accuracy", "robust_accuracy") * 100.0)
        notes.append("accuracies read as fractions (the paper's torchmetrics values) and converted to percent")
    if paper:
        clean_rows = frame.filter(pl.col("norm") == "clean")
        frame = frame.filter(pl.col("norm") != "clean")
        if clean_rows.height:
            notes.append(f"{clean_rows.height} 'clean' rows of the paper's CSV not used as robustness "
                         "(clean accuracy comes from each attack row's subset clean accuracy)")
    return Ingested(frame, tuple(notes + _accuracy_check(frame, str(path))))


def _accuracy_check(frame: pl.DataFrame, what: str) -> list[str]:
    outside = frame.filter(~pl.col("robust_accuracy").is_between(0, 100) | ~pl.col("clean_accuracy").is_between(0, 100))
    if outside.height:
        raise InputError(f"{what}: accuracies must be percentages in [0, 100]; e.g. "
                         f"{outside.select('model', 'clean_accuracy', 'robust_accuracy').head(3).rows()}")
    above = frame.filter(pl.col("robust_accuracy") > pl.col("clean_accuracy") + 1e-9)
    if above.height:
        return [(f"{what}: robust accuracy above clean accuracy for {above.height} row(s), e.g. "
                 f"{above.select('model', 'eps').head(3).rows()} (different evaluation subsets?)")]
    return []


def read_attack_runs(folders: Sequence[str | Path], *, names: Sequence[str] | None = None) -> Ingested:
    """One robustness row per finished ``alignjax attack`` output folder."""
    if names is not None and len(names) != len(folders):
        raise InputError(f"got {len(names)} model names for {len(folders)} attack folders")
    rows = []
    for position, folder in enumerate(map(Path, folders)):
        summary_path = folder / "summary.json" if folder.is_dir() else folder
        if not summary_path.is_file():
            hint = " (unfinished: state/ exists; rerun the attack to finish it)" if (folder / "state").exists() else ""
            raise FileNotFoundError(f"{folder}: no summary.json, so no finished alignjax attack result{hint}")
        summary = json.loads(summary_path.read_text())
        manifest_path = summary_path.parent / "manifest.json"
        manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
        missing = [k for k in ("norm", "eps", "clean_accuracy", "robust_accuracy") if k not in summary]
        if missing:
            raise InputError(f"{summary_path}: not an alignjax attack summary (missing {missing})")
        model = names[position] if names else manifest.get("model") or summary_path.parent.name
        rows.append({"model": model, "dataset": manifest.get("data"), "norm": summary["norm"], "eps": summary["eps"],
                     "version": manifest.get("version"), "n": summary.get("n"),
                     "clean_accuracy": summary["clean_accuracy"], "robust_accuracy": summary["robust_accuracy"],
                     "source": str(summary_path.parent)})
    frame = conform(pl.DataFrame(rows, schema=ROBUSTNESS_SCHEMA), ROBUSTNESS_SCHEMA, required=ROBUSTNESS_REQUIRED,
                    what="attack runs")
    return Ingested(frame, (f"{len(rows)} alignjax attack run(s)", *_accuracy_check(frame, "attack runs")))
