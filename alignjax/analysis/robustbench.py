"""RobustBench's published clean and AutoAttack accuracies, shipped as one compact table.

``data/robustbench_model_info.parquet`` holds every ``model_info/<dataset>/<threat>/<model>.json`` of
github.com/RobustBench/robustbench@78fcc9e (MIT; see ``data/ROBUSTBENCH_LICENSE.md``), one row per
model and threat model, built by ``scripts/build_robustbench_table.py``. Accuracies are percent, as
published; ``eps`` keeps RobustBench's text ("8/255") and ``eps_value`` its value.
"""

from __future__ import annotations

import functools
from pathlib import Path

import polars as pl

from alignjax.analysis.schemas import ROBUSTNESS_REQUIRED, ROBUSTNESS_SCHEMA, conform
from alignjax.errors import InputError

TABLE_PATH = Path(__file__).resolve().parent / "data" / "robustbench_model_info.parquet"
SOURCE = "github.com/RobustBench/robustbench@78fcc9e model_info"

ROBUSTBENCH_SCHEMA = pl.Schema({
    "model_id": pl.String,
    "dataset": pl.String,
    "threat_model": pl.String,
    "eps": pl.String,
    "eps_value": pl.Float64,
    "clean_acc": pl.Float64,
    "autoattack_acc": pl.Float64,
    "reported": pl.Float64,
    "external": pl.Float64,
    "corruptions_acc": pl.Float64,
    "corruptions_acc_3d": pl.Float64,
    "corruptions_mce": pl.Float64,
    "corruptions_mce_3d": pl.Float64,
    "additional_data": pl.Boolean,
    "number_forward_passes": pl.Int64,
    "unreliable": pl.Boolean,
    "name": pl.String,
    "authors": pl.String,
    "link": pl.String,
    "venue": pl.String,
    "architecture": pl.String,
    "footnote": pl.String,
})


@functools.cache
def _table() -> pl.DataFrame:
    return pl.read_parquet(TABLE_PATH).cast(dict(ROBUSTBENCH_SCHEMA))  # type: ignore[arg-type]


def robustbench_table(dataset: str | None = None, threat_model: str | None = None) -> pl.DataFrame:
    """The shipped model_info table, optionally one dataset (cifar10, cifar100, imagenet) / threat model
    (Linf, L2, corruptions)."""
    table = _table()
    for column, value in (("dataset", dataset), ("threat_model", threat_model)):
        if value is not None:
            known = sorted(table.get_column(column).unique().to_list())
            if value not in known:
                raise InputError(f"RobustBench has no {column} {value!r}; choose from {known}")
            table = table.filter(pl.col(column) == value)
    return table


def robustbench_robustness(dataset: str | None = None, threat_model: str | None = None) -> pl.DataFrame:
    """The table as robustness rows: AutoAttack accuracy (common-corruption accuracy for
    ``corruptions``) against clean accuracy, version "standard", model = RobustBench's model id."""
    table = robustbench_table(dataset, threat_model)
    rows = table.select(
        pl.col("model_id").alias("model"),
        "dataset",
        pl.col("threat_model").alias("norm"),
        pl.col("eps_value").alias("eps"),
        pl.lit("standard").alias("version"),
        pl.col("clean_acc").alias("clean_accuracy"),
        pl.when(pl.col("threat_model") == "corruptions").then(pl.col("corruptions_acc"))
        .otherwise(pl.col("autoattack_acc")).alias("robust_accuracy"),
        pl.lit(SOURCE).alias("source"),
    )
    return conform(rows, ROBUSTNESS_SCHEMA, required=ROBUSTNESS_REQUIRED, what="RobustBench table")
