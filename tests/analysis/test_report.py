"""`alignjax analyze` end to end on the fixture: no network, readable PNGs, tables, HTML; protocols."""

from __future__ import annotations

import re
import socket

import numpy as np
import polars as pl
import pytest
from PIL import Image

from alignjax.analysis.embedding import EmbeddingConfig, embed
from alignjax.analysis.protocol import load_protocol
from alignjax.attacks import presets
from alignjax.cli import main
from tests.conftest import FIXTURES

DATA = FIXTURES / "analysis"
ARGS = ["analyze", "--leaderboard", str(DATA / "leaderboard.csv"), "--robustness", str(DATA / "robustness.csv"),
        "--aliases", str(DATA / "aliases.csv"), "--n-bootstrap", "100", "--n-permutations", "100",
        "--methods", "spearman,kendall"]


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network access attempted during the analysis")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_analyze_writes_a_report_from_the_fixture(tmp_path, capsys, no_network):
    out = tmp_path / "report"
    assert main([*ARGS, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "29 models x 22 benchmarks x 4 targets" in printed
    assert "Marques2020_FreemanZiemba2013-texture_modulation_index" in printed  # the planted predictor
    assert "shufflenet_v2" in printed  # unmatched names are reported
    pngs = {p.name: p for p in out.glob("*.png")}
    assert set(pngs) == {"heatmap_spearman.png", "heatmap_kendall.png", "top_predictors.png", "predictor_bars.png",
                         "aggregates.png", "embedding.png"}
    for path in pngs.values():
        with Image.open(path) as image:
            assert image.format == "PNG" and min(image.size) > 300
            assert np.asarray(image.convert("L")).std() > 5  # not blank
    page = (out / "index.html").read_text()
    assert all(f"src='{name}'" in page for name in pngs)
    assert "Predictor ranking" in page and not re.search(r"(src|href)=['\"]https?:", page)  # nothing fetched
    correlations = pl.read_parquet(out / "correlations.parquet")
    assert set(correlations["method"]) == {"spearman", "kendall"}
    assert correlations.filter(pl.col("method") == "spearman")["n_permutations"].max() == 100
    ranking = pl.read_csv(out / "ranking.csv")
    assert ranking["benchmark"][0] == "Marques2020_FreemanZiemba2013-texture_modulation_index"
    regressions = pl.read_csv(out / "regressions.csv")
    assert set(regressions["aggregate"]) == {"average_vision", "neural_vision", "behavior_vision", "engineering_vision"}
    assert main([*ARGS, "--out", str(out)]) == 2
    assert "already holds a report" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["analyze", "--out", "x"], "give alignment scores"),
    (["analyze", "--leaderboard", str(DATA / "leaderboard.csv"), "--out", "x"], "give robustness"),
    (["analyze", "--leaderboard", str(DATA / "leaderboard.csv"), "--robustbench", "imagenet/Linf", "--out", "x"],
     "only 0 model"),
    ([*ARGS, "--methods", "spearman,tau", "--out", "x"], "unknown correlation method"),
    ([*ARGS, "--protocol", "nope", "--out", "x"], "unknown protocol"),
])
def test_analyze_explains_bad_input(argv, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_paper_protocol():
    protocol = load_protocol("paper")
    assert protocol.attack.eps == pytest.approx((0.001, 0.5 / 255, 1 / 255))
    attack = protocol.attack
    configs = presets.version_attacks(attack.version, attack.norm, 1 / 255, n_classes=attack.n_classes)
    assert configs == presets.paper("Linf", 1 / 255, 1000)
    np.random.seed(42)
    assert np.array_equal(protocol.data.indices(), np.random.permutation(50000)[:1000])
    assert protocol.analysis.primary_method == "spearman" and protocol.analysis.drop_benchmarks == ("Kar2019-ost",)
    assert protocol.analysis.embedding == EmbeddingConfig("tsne", 20.0, 42, "zero")
    assert protocol.preprocessing.image_size == 224


def test_protocol_files_are_checked(tmp_path):
    text = load_protocol("paper").source
    assert text.endswith("paper.toml")
    custom = tmp_path / "mine.toml"
    original = (FIXTURES.parent.parent / "alignjax" / "analysis" / "protocols" / "paper.toml").read_text()
    custom.write_text(original.replace('stop = 1000', 'stop = 10'))
    assert len(load_protocol(custom).data.indices()) == 10
    custom.write_text(original.replace('seed = 0\nmin_models', 'seed = 0\nminimum_models'))
    from alignjax.errors import InputError
    with pytest.raises(InputError, match=r"unknown key\(s\) \['minimum_models'\]"):
        load_protocol(custom)


def test_pca_embedding_equals_sklearn_and_tsne_is_deterministic(rng):
    from sklearn.decomposition import PCA

    matrix = rng.normal(size=(20, 6)) @ rng.normal(size=(6, 6))
    ours, _ = embed(matrix, EmbeddingConfig(method="pca"))
    reference = PCA(n_components=2).fit_transform(matrix)
    signs = np.sign((ours * reference).sum(axis=0))
    np.testing.assert_allclose(ours, reference * signs, rtol=0, atol=1e-10)
    first, description = embed(matrix, EmbeddingConfig(perplexity=5))
    assert np.array_equal(first, embed(matrix, EmbeddingConfig(perplexity=5))[0]) and "t-SNE" in description


def test_analyze_on_a_few_aggregate_benchmarks_writes_the_whole_report(tmp_path, monkeypatch):
    """The README's analyze example on 30 RobustBench ImageNet models x 4 region scores (none a leaf of
    Brain-Score's hierarchy): the report, its figures and the embedding are written, nothing fails."""
    from alignjax.analysis.robustbench import TABLE_PATH

    monkeypatch.chdir(tmp_path)
    table = pl.read_parquet(TABLE_PATH).filter((pl.col("dataset") == "imagenet") & (pl.col("threat_model") == "Linf"))
    models = table.get_column("model_id").to_list()[:30]
    rng = np.random.default_rng(0)
    pl.DataFrame([{"model": m, "benchmark": b, "score": float(rng.uniform())} for m in models
                  for b in ("V1", "V2", "V4", "IT")]).write_csv("s.csv")
    code = main(["analyze", "--scores", "s.csv", "--robustbench", "imagenet/Linf", "--methods", "spearman",
                 "--out", "report"])
    assert code == 0
    written = {path.name for path in (tmp_path / "report").iterdir()}
    assert {"index.html", "embedding.png", "embedding.csv", "correlations.csv", "heatmap_spearman.png"} <= written
    assert pl.read_csv(tmp_path / "report" / "embedding.csv").height == 30
