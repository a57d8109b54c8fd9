"""The check against RobustBench's published clean/AutoAttack accuracies (model_info format)."""

from __future__ import annotations

import polars as pl
import pytest

from alignjax.errors import InputError
from alignjax.sweep.published import compare_with_published, published_datasets, read_model_info
from alignjax.sweep.tables import SUMMARY_SCHEMA
from tests.conftest import FIXTURES

# Numbers as RobustBench publishes them (model_info JSONs of RobustBench/robustbench@78fcc9e).
PUBLISHED = pl.DataFrame({
    "model": ["Carmon2019Unlabeled", "Standard", "Salman2020Do_R50"],
    "dataset": ["cifar10", "cifar10", "imagenet"],
    "threat_model": ["Linf", "L2", "Linf"],
    "clean_acc": [89.69, 94.78, 64.02],
    "autoattack_acc": [59.53, 0.0, 34.96],
})


def _summary(rows: list[dict]) -> pl.DataFrame:
    base = {"checkpoint": "", "seed": 0, "n": 1000, "version": "standard", "robustbench": None}
    return pl.DataFrame([{**base, "unit_id": f"u{i}", **row} for i, row in enumerate(rows)], schema=SUMMARY_SCHEMA)


def test_matching_units_are_compared_within_sampling_error():
    summary = _summary([
        {"model": "Carmon2019Unlabeled", "dataset": "c10", "norm": "Linf", "eps": 8 / 255,
         "clean_accuracy": 90.1, "robust_accuracy": 60.9},  # 1.37 pp off: within 1 + 2 SE (3.1 pp at n=1000)
        {"model": "carmon-ours", "robustbench": "Carmon2019Unlabeled", "dataset": "c10", "norm": "Linf",
         "eps": 8 / 255, "clean_accuracy": 89.7, "robust_accuracy": 50.0},  # robust 9.5 pp off
        {"model": "Standard", "dataset": "c10", "norm": "L2", "eps": 0.5, "clean_accuracy": 94.0,
         "robust_accuracy": 0.0, "n": 10000},
        {"model": "Salman2020Do_R50", "dataset": "in-rb", "norm": "Linf", "eps": 4 / 255, "clean_accuracy": 64.0,
         "robust_accuracy": 35.0},
        # not compared: other eps, other version, a dataset that is not RobustBench's set, unknown model
        {"model": "Carmon2019Unlabeled", "dataset": "c10", "norm": "Linf", "eps": 4 / 255,
         "clean_accuracy": 90.0, "robust_accuracy": 80.0},
        {"model": "Carmon2019Unlabeled", "dataset": "c10", "norm": "Linf", "eps": 8 / 255, "version": "paper",
         "clean_accuracy": 90.0, "robust_accuracy": 70.0},
        {"model": "Carmon2019Unlabeled", "dataset": "digits", "norm": "Linf", "eps": 8 / 255,
         "clean_accuracy": 90.0, "robust_accuracy": 60.0},
        {"model": "resnet50", "dataset": "c10", "norm": "Linf", "eps": 8 / 255, "clean_accuracy": 90.0,
         "robust_accuracy": 60.0},
    ])
    config = {"datasets": [{"name": "c10", "kind": "cifar10"}, {"name": "in-rb", "kind": "imagenet",
                                                                  "subset": "robustbench"},
                           {"name": "in-paper", "kind": "imagenet", "subset": "paper"},
                           {"name": "digits", "kind": "digits"}]}
    datasets = published_datasets(config)
    assert datasets == {"c10": "cifar10", "in-rb": "imagenet"}
    result = compare_with_published(summary, PUBLISHED, datasets=datasets)
    assert result["unit_id"].to_list() == ["u0", "u1", "u2", "u3"]
    assert result["agrees"].to_list() == [True, False, True, True]
    assert result["robust_difference"].to_list() == pytest.approx([1.37, -9.53, 0.0, 0.04])
    assert result["robustbench"].to_list()[1] == "Carmon2019Unlabeled"
    assert result["allowed"][0] == pytest.approx(1 + 2 * (59.53 * 40.47 / 1000) ** 0.5)
    # a clean accuracy far from the published one fails the check even if robust accuracy matches
    worse = summary.with_columns(pl.when(pl.col("unit_id") == "u0").then(80.0).otherwise(pl.col("clean_accuracy"))
                                 .alias("clean_accuracy"))
    assert compare_with_published(worse, PUBLISHED, datasets=datasets)["agrees"][0] is False


def test_model_info_files_read_as_published_numbers():
    frame = read_model_info(FIXTURES / "robustbench_model_info")
    rows = {r["model"]: r for r in frame.to_dicts()}
    assert rows["Carmon2019Unlabeled"] == {"model": "Carmon2019Unlabeled", "dataset": "cifar10",
                                           "threat_model": "Linf", "eps_value": 8 / 255, "clean_acc": 89.69,
                                           "autoattack_acc": 59.53}
    assert rows["Standard"]["eps_value"] == 0.5 and rows["Standard"]["threat_model"] == "L2"
    summary = _summary([{"model": "Standard", "dataset": "c10", "norm": "L2", "eps": 0.5, "clean_accuracy": 95.0,
                         "robust_accuracy": 0.0}])
    result = compare_with_published(summary, frame, datasets={"c10": "cifar10"})
    assert result["published_clean"].to_list() == [94.78] and result["agrees"].to_list() == [True]
    # the analysis package's table names the id column model_id: accepted as it is
    renamed = compare_with_published(summary, frame.rename({"model": "model_id"}), datasets={"c10": "cifar10"})
    assert renamed.equals(result)
    with pytest.raises(InputError, match="lack column"):
        compare_with_published(summary, frame.drop("autoattack_acc"), datasets={})
