"""Checking a sweep's accuracies against published numbers (RobustBench's model_info).

RobustBench publishes, per model and threat model, clean accuracy and AutoAttack (standard version)
robust accuracy in percent on a fixed evaluation set (github.com/RobustBench/robustbench
``model_info/<dataset>/<threat_model>/<model>.json``: fields ``clean_acc``, ``autoattack_acc``,
``eps``). ``compare_with_published`` takes those numbers as a polars frame with the columns
``model, dataset, threat_model, clean_acc, autoattack_acc`` (``model_id`` is accepted for ``model``,
an optional ``eps_value`` column picks the radius; otherwise RobustBench's leaderboard radius for the
dataset and threat model), so the shipped table of ``alignjax.analysis`` plugs in as it is.

A sweep unit is compared when its version is ``standard``, its norm and eps equal the published threat
model, its dataset is the published data set, and its model's RobustBench id (the ``robustbench`` key
of the model entry, else the model name) is listed. ``agrees`` allows ``tolerance`` percentage points
plus two binomial standard errors of our estimate on n points (a subset of RobustBench's set differs
from the full-set number by sampling alone).
"""

from __future__ import annotations

import fractions
import json
from pathlib import Path

import polars as pl

from alignjax.errors import InputError

ROBUSTBENCH_EPS = {("cifar10", "Linf"): 8 / 255, ("cifar10", "L2"): 0.5, ("cifar100", "Linf"): 8 / 255,
                   ("cifar100", "L2"): 0.5, ("imagenet", "Linf"): 4 / 255}
PUBLISHED_COLUMNS = ("model", "dataset", "threat_model", "clean_acc", "autoattack_acc")

COMPARISON_SCHEMA = pl.Schema({
    "unit_id": pl.String, "model": pl.String, "checkpoint": pl.String, "robustbench": pl.String,
    "dataset": pl.String, "norm": pl.String, "eps": pl.Float64, "seed": pl.Int64, "n": pl.Int64,
    "clean_accuracy": pl.Float64, "published_clean": pl.Float64, "clean_difference": pl.Float64,
    "robust_accuracy": pl.Float64, "published_robust": pl.Float64, "robust_difference": pl.Float64,
    "allowed": pl.Float64, "agrees": pl.Boolean,
})


def published_frame(published: pl.DataFrame) -> pl.DataFrame:
    """Validates and normalises published numbers: model, dataset, threat_model, eps, clean, robust."""
    if "model" not in published.columns and "model_id" in published.columns:
        published = published.rename({"model_id": "model"})
    missing = [c for c in PUBLISHED_COLUMNS if c not in published.columns]
    if missing:
        raise InputError(f"published numbers lack column(s) {missing}; need {PUBLISHED_COLUMNS}")
    frame = published.select(
        pl.col("model").cast(pl.String), pl.col("dataset").cast(pl.String),
        pl.col("threat_model").cast(pl.String),
        pl.col("clean_acc").cast(pl.Float64), pl.col("autoattack_acc").cast(pl.Float64),
        (pl.col("eps_value").cast(pl.Float64) if "eps_value" in published.columns
         else pl.lit(None, pl.Float64)).alias("eps_value"),
    )
    default_eps = pl.Series([ROBUSTBENCH_EPS.get((d, t)) for d, t in zip(frame["dataset"], frame["threat_model"])],
                            dtype=pl.Float64)
    return frame.with_columns(pl.coalesce("eps_value", default_eps).alias("published_eps")).drop("eps_value")


def compare_with_published(summary: pl.DataFrame, published: pl.DataFrame, *,
                           datasets: dict[str, str], tolerance: float = 1.0) -> pl.DataFrame:
    """Joins sweep summary rows with published numbers (see the module docstring).

    Args:
      summary: summary rows (``alignjax.sweep.tables.SUMMARY_SCHEMA``).
      published: published numbers (``PUBLISHED_COLUMNS``).
      datasets: sweep dataset name -> published data set name ('cifar10', 'imagenet', ...); sweep
        datasets not in it are not compared.
      tolerance: allowed difference in percentage points, on top of two standard errors.
    """
    table = published_frame(published)
    ours = (summary.filter(pl.col("version") == "standard")
            .with_columns(pl.col("dataset").replace_strict(datasets, default=None, return_dtype=pl.String)
                          .alias("published_dataset"),
                          pl.coalesce("robustbench", "model").alias("reference"))
            .filter(pl.col("published_dataset").is_not_null()))
    joined = ours.join(table, left_on=["reference", "published_dataset", "norm"],
                       right_on=["model", "dataset", "threat_model"], how="inner")
    joined = joined.filter((pl.col("eps") - pl.col("published_eps")).abs() <= 1e-9 * pl.col("published_eps").abs())
    def allowed(accuracy: str) -> pl.Expr:  # percentage points: tolerance + 2 binomial standard errors
        return tolerance + 2 * (pl.col(accuracy) * (100 - pl.col(accuracy)) / pl.col("n")).sqrt()

    result = joined.select(
        "unit_id", "model", "checkpoint", pl.col("reference").alias("robustbench"), "dataset", "norm", "eps", "seed",
        "n", "clean_accuracy", pl.col("clean_acc").alias("published_clean"),
        (pl.col("clean_accuracy") - pl.col("clean_acc")).alias("clean_difference"),
        "robust_accuracy", pl.col("autoattack_acc").alias("published_robust"),
        (pl.col("robust_accuracy") - pl.col("autoattack_acc")).alias("robust_difference"),
        allowed("autoattack_acc").alias("allowed"),
        allowed("clean_acc").alias("allowed_clean"),
    ).with_columns(
        ((pl.col("robust_difference").abs() <= pl.col("allowed"))
         & (pl.col("clean_difference").abs() <= pl.col("allowed_clean"))).alias("agrees"))
    return result.cast(dict(COMPARISON_SCHEMA)).select(*COMPARISON_SCHEMA).sort("unit_id")  # type: ignore[arg-type]


def published_datasets(config: dict) -> dict[str, str]:
    """Sweep dataset name -> RobustBench data set, from a run's recorded config (CIFAR test sets and
    ImageNet's RobustBench subset)."""
    mapping = {}
    for entry in config.get("datasets", []):
        if entry.get("kind") in ("cifar10", "cifar100"):
            mapping[entry["name"]] = entry["kind"]
        elif entry.get("kind") == "imagenet" and entry.get("subset") == "robustbench":
            mapping[entry["name"]] = "imagenet"
    return mapping



MODEL_INFO_SCHEMA = pl.Schema({"model": pl.String, "dataset": pl.String, "threat_model": pl.String,
                               "eps_value": pl.Float64, "clean_acc": pl.Float64, "autoattack_acc": pl.Float64})


def _percent(value) -> float | None:
    return None if value in (None, "") else float(value)


def read_model_info(folder: Path) -> pl.DataFrame:
    """RobustBench's ``model_info/<dataset>/<threat_model>/<model>.json`` files as a published frame
    (accuracies are strings of percent there; ``eps`` a fraction like '8/255'; corruptions are skipped)."""
    rows = []
    for path in sorted(folder.glob("*/*/*.json")):
        dataset, threat = path.parent.parent.name, path.parent.name
        if threat not in ("Linf", "L2", "L1"):
            continue
        try:
            info = json.loads(path.read_text())
            rows.append({"model": path.stem, "dataset": dataset, "threat_model": threat,
                         "eps_value": float(fractions.Fraction(str(info["eps"]))) if info.get("eps") else None,
                         "clean_acc": _percent(info.get("clean_acc")),
                         "autoattack_acc": _percent(info.get("autoattack_acc"))})
        except (ValueError, KeyError, TypeError, ZeroDivisionError) as err:
            raise InputError(f"{path}: not a RobustBench model_info entry ({type(err).__name__}: {err})") from None
    if not rows:
        raise InputError(f"{folder} holds no model_info/<dataset>/<threat_model>/<model>.json files")
    return pl.DataFrame(rows, schema=MODEL_INFO_SCHEMA)


def read_published(path: Path) -> pl.DataFrame:
    """Published numbers from a model_info folder, a .parquet or a .csv file."""
    if path.is_dir():
        return read_model_info(path)
    if not path.is_file():
        raise FileNotFoundError(f"published numbers {path} do not exist")
    if path.suffix == ".parquet":
        return pl.read_parquet(path)
    if path.suffix == ".csv":
        return pl.read_csv(path)
    raise InputError(f"{path}: give a RobustBench model_info folder, a .parquet or a .csv file")
