"""Readers: Brain-Score leaderboard exports (both formats), long tables, alignjax attack runs, aliases."""

from __future__ import annotations

import json
import zipfile

import polars as pl
import pytest

from alignjax.analysis.aliases import AliasTable, reconcile
from alignjax.analysis.ingest import read_attack_runs, read_robustness, read_scores
from alignjax.analysis.leaderboard import benchmark_short_name, hierarchy, read_leaderboard
from alignjax.analysis.schemas import ROBUSTNESS_SCHEMA, SCORES_SCHEMA
from alignjax.cli import main
from alignjax.errors import InputError
from tests.conftest import FIXTURES

LEADERBOARD = FIXTURES / "analysis" / "leaderboard.csv"


def test_hierarchy_places_every_leaf_under_a_root():
    table = hierarchy()
    assert table.filter(pl.col("category").is_null()).height == 0
    leaf = dict(table.select("benchmark", "category").iter_rows())
    assert leaf["Marques2020_FreemanZiemba2013-texture_modulation_index"] == "neural"
    assert leaf["Geirhos2021cueconflict-error_consistency"] == "behavioral"
    assert leaf["Geirhos2021cueconflict-top1"] == "engineering" and leaf["average_vision"] == "average"
    assert table.filter(pl.col("parent") == "Geirhos2021-error_consistency").height == 17
    assert table.filter(~pl.col("is_leaf")).get_column("benchmark").is_in(["V1", "Marques2020", "BMD2024"]).sum() == 3
    assert benchmark_short_name("dicarlo.MajajHong2015.IT-pls_v3") == "MajajHong2015.IT-pls"
    assert benchmark_short_name("tong.Coggan2024_fMRI.V1-rdm") == "Coggan2024_fMRI.V1-rdm"
    assert benchmark_short_name("FreemanZiemba2013.V1-pls") == "FreemanZiemba2013.V1-pls"


def test_server_export_with_x_cells_lab_prefixes_and_duplicates(tmp_path):
    ingested = read_leaderboard(LEADERBOARD)
    frame = ingested.frame
    assert frame.schema == SCORES_SCHEMA
    assert "MajajHong2015.V4-pls" in frame["benchmark"].to_list()  # "dicarlo." stripped
    assert "Kar2019-ost" not in frame["benchmark"].to_list()  # every cell X
    assert any("hmax" in n for n in ingested.notes) and any("Kar2019-ost" in n for n in ingested.notes)
    alexnet = dict(frame.filter(pl.col("model") == "alexnet").select("benchmark", "score").iter_rows())
    assert alexnet["average_vision"] == pytest.approx(0.315)
    odd = tmp_path / "odd.csv"
    odd.write_text("model_name,layers,V1,NewBench2026-foo\nm1,,.5,.1\nm1,,.7,.2\nm2,,X,\n")
    ingested = read_leaderboard(odd)
    assert ingested.frame.filter(pl.col("model") == "m1")["score"].to_list() == [0.5, 0.1]  # first row kept
    assert any("duplicate" in n and "m1" in n for n in ingested.notes)
    assert any("NewBench2026-foo" in n and "not in the Brain-Score hierarchy" in n for n in ingested.notes)
    odd.write_text("model_name,V1\nm1,high\n")
    with pytest.raises(InputError, match="non-numeric scores"):
        read_leaderboard(odd)
    odd.write_text("name,V1\nm1,.5\n")
    with pytest.raises(InputError, match="no model column"):
        read_leaderboard(odd)


def test_grid_export_zip_with_comments_and_quoted_short_names(tmp_path):
    text = ('# Generated on 2026-01-01T00:00:00Z (UTC)\n# Date from 2020-08-27 to 2026-01-01\n'
            '"Rank","Model","Model ID","average_vision","V1","MajajHong2015.IT-pls"\n'
            '"1","resnet50","12","0.41","0.5","0.52"\n"2","alexnet","3","0.321","","0.401"\n')
    archive = tmp_path / "leaderboard_export.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("leaderboard.csv", text)
        handle.writestr("plugin-info.csv", "plugin_name,plugin_type\n")
    frame = read_leaderboard(archive).frame
    assert frame.height == 5 and set(frame["model"]) == {"resnet50", "alexnet"}
    assert frame.filter(pl.col("benchmark") == "MajajHong2015.IT-pls")["category"].to_list() == ["neural"] * 2


def test_long_scores_with_metric_value_rows(tmp_path):
    path = tmp_path / "scores.csv"
    path.write_text("model,benchmark,metric,value\nm1,Geirhos2021cueconflict,error_consistency,0.3\n"
                    "m1,Geirhos2021cueconflict,shape_bias,0.6\nm1,V1,score,0.4\nm1,V1,raw,0.5\nm1,V1,ceiling,0.8\n")
    frame = read_scores(path).frame
    rows = {r["benchmark"]: r for r in frame.iter_rows(named=True)}
    assert rows["V1"]["score"] == 0.4 and rows["V1"]["raw"] == 0.5 and rows["V1"]["ceiling"] == 0.8
    assert rows["Geirhos2021cueconflict-error_consistency"]["category"] == "behavioral"
    assert rows["Geirhos2021cueconflict-shape_bias"]["category"] is None
    path.write_text("model,benchmark,score\nm1,V1,0.4\nm1,V1,0.5\n")
    with pytest.raises(InputError, match="several scores for the same model and benchmark"):
        read_scores(path)
    path.write_text("model,score\nm1,0.4\n")
    with pytest.raises(InputError, match=r"missing column\(s\) \['benchmark'\]"):
        read_scores(path)


def test_robustness_tables_the_papers_csv_and_a_sweep_store(tmp_path):
    paper = tmp_path / "evaluation_results.csv"
    paper.write_text("Top-1 Accuracy,Top-5 Accuracy,Top-1 Subset Clean Accuracy,Top-5 Subset Clean Accuracy,"
                     "Model Name,Threat Model,Epsilon\n0.25,0.5,0.75,0.9,alexnet,Linf,0.001\n0.56,0.8,,,alexnet,clean,\n")
    ingested = read_robustness(paper)
    assert ingested.frame.select("model", "norm", "eps", "clean_accuracy", "robust_accuracy").rows() == \
        [("alexnet", "Linf", 0.001, 75.0, 25.0)]
    assert any("fractions" in n for n in ingested.notes) and any("'clean' rows" in n for n in ingested.notes)
    store = tmp_path / "store" / "model=a"
    store.mkdir(parents=True)
    pl.DataFrame({"model": ["a"], "eps": [0.5], "clean_acc": [90.0], "robust_acc": [40.0], "extra": [1]}).write_parquet(
        store / "part-0.parquet")
    frame = read_robustness(tmp_path / "store").frame
    assert frame.schema == ROBUSTNESS_SCHEMA and frame.row(0)[-3:-1] == (90.0, 40.0)
    bad = tmp_path / "bad.csv"
    bad.write_text("model,robust_accuracy,clean_accuracy\na,140,150\n")
    with pytest.raises(InputError, match=r"percentages in \[0, 100\]"):
        read_robustness(bad)
    bad.write_text("model,robust_accuracy\na,forty\n")
    with pytest.raises(InputError, match="must hold Float64 values"):
        read_robustness(bad)


def test_attack_runs_read_the_files_alignjax_attack_writes(tmp_path):
    out = tmp_path / "run"
    cheap = ["--version", "custom", "--attacks", "apgd-ce", "--n", "16", "--batch-size", "16", "--no-progress"]
    assert main(["attack", *cheap, "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    frame = read_attack_runs([out]).frame
    row = frame.row(0, named=True)
    assert row["model"].startswith("embedded digits CNN") and row["version"] == "custom"
    assert (row["norm"], row["eps"], row["n"]) == ("Linf", 0.1, 16)
    assert (row["clean_accuracy"], row["robust_accuracy"]) == (summary["clean_accuracy"], summary["robust_accuracy"])
    assert read_attack_runs([out], names=["digits"]).frame["model"].to_list() == ["digits"]
    unfinished = tmp_path / "unfinished"
    (unfinished / "state").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="unfinished"):
        read_attack_runs([unfinished])


def test_alias_tables_and_unmatched_names(tmp_path):
    table = AliasTable.read(FIXTURES / "analysis" / "aliases.csv")
    renamed = table.apply(pl.DataFrame({"model": ["ResNet18", "alexnet"]}))
    assert renamed["model"].to_list() == ["resnet-18", "alexnet"]
    toml = tmp_path / "aliases.toml"
    toml.write_text('[aliases]\n"ResNet-50 (torchvision)" = "resnet-50"\n')
    assert AliasTable.read(toml).mapping == {"ResNet-50 (torchvision)": "resnet-50"}
    with pytest.raises(InputError, match="themselves aliases"):
        AliasTable({"a": "b", "b": "c"})
    clash = tmp_path / "clash.csv"
    clash.write_text("alias,model\nx,a\nx,b\n")
    with pytest.raises(InputError, match="several models"):
        AliasTable.read(clash)
    matching = reconcile(["resnet-50", "alexnet", "vgg16"], ["resnet_50", "alexnet", "cornet-s"])
    assert matching.matched == ("alexnet",)
    assert matching.only_left == ("resnet-50", "vgg16") and matching.only_right == ("cornet-s", "resnet_50")
    assert matching.suggestions["resnet-50"] == ("resnet_50",)
    notes = " ".join(matching.notes("scores", "robustness"))
    assert "resnet-50 (close: resnet_50)" in notes and "vgg16" in notes and "cornet-s" in notes
