"""``alignjax align neural`` end to end on local files in Brain-Score's formats."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import polars as pl
import pytest
from safetensors.numpy import save_file

from alignjax.cli import main
from alignjax.models import build_architecture
from alignjax.models.embedded import flatten


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    module = build_architecture("small_cnn", num_classes=10)
    shapes = jax.eval_shape(module.init, jax.random.key(0), jnp.zeros((1, 8, 8, 3)))  # no init compile
    rng = np.random.default_rng(0)
    variables = jax.tree.map(lambda s: (rng.normal(size=s.shape) / np.sqrt(np.prod(s.shape[:-1]))).astype(
        np.float32), shapes)
    path = tmp_path_factory.mktemp("weights") / "small.safetensors"
    # metadata sets the header length: at 640 bytes (0x0280) readers.detect_format mistakes the file's
    # first bytes for a pickle protocol-2 header (a reader bug, reported, not fixed here)
    save_file(flatten(variables), str(path), metadata={"written_by": "test_cli_neural"})
    return path


def run(args, capsys):
    code = main(["align", "neural", "--arch", "small_cnn", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# random CNN features can make a power iteration hit max_iter, where scikit-learn warns as well
@pytest.mark.filterwarnings("ignore::alignjax.alignment.neural.predictivity.PLSConvergenceWarning")
def test_scores_four_regions_and_stores_them(registered_mirror, weights, tmp_path, capsys):
    code, out, err = run(["--weights", str(weights), "--image-size", "8", "--out", str(tmp_path / "run")], capsys)
    assert code == 0, err
    assert "skipping layers with fewer than 25 features: fc2" in out
    scores = pl.read_parquet(tmp_path / "run" / "scores.parquet")
    assert scores["region"].to_list() == ["V1", "V2", "V4", "IT"]
    assert scores["benchmark"].to_list()[0] == "FreemanZiemba2013.V1.public-pls"
    assert (scores["score"] == scores["ceiled_2025"]).all() and (scores["ceiling"] > 0.7).all()
    layers = pl.read_parquet(tmp_path / "run" / "layer_scores.parquet")
    assert layers.height == 4 * 3  # conv1, conv2, fc1 for each region
    assert layers.group_by("region").agg(pl.col("committed").sum())["committed"].to_list() == [1, 1, 1, 1]
    best = layers.filter(pl.col("committed")).sort("region")
    expected = layers.sort("score", descending=True).group_by("region", maintain_order=True).first().sort("region")
    assert best["layer"].to_list() == expected["layer"].to_list()
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert set(summary["regions"]) == {"V1", "V2", "V4", "IT"}
    for region in ("V1", "IT"):
        assert f"{region} " in out

    # the commitment is cached per model: a second run reuses it and reports the same layers
    code, again, err = run(["--weights", str(weights), "--image-size", "8", "--regions", "V4,IT",
                            "--normalisation", "2026", "--out", str(tmp_path / "again")], capsys)
    assert code == 0, err
    assert "V4 conv1: raw" not in again  # no per-layer scoring: the cached commitment was used
    rerun = pl.read_parquet(tmp_path / "again" / "scores.parquet")
    assert rerun["layer"].to_list() == scores.filter(pl.col("region").is_in(["V4", "IT"]))["layer"].to_list()
    assert (rerun["score"] == rerun["ceiled_2026"]).all()


def test_bad_input_is_one_clear_error(registered_mirror, weights, tmp_path, capsys):
    code, _, err = run(["--weights", str(weights), "--image-size", "8", "--layers", "conv9",
                        "--out", str(tmp_path / "x")], capsys)
    assert code == 2 and "no layer(s) ['conv9']" in err
    code, _, err = run(["--image-size", "8", "--out", str(tmp_path / "y")], capsys)
    assert code == 2 and "--arch small_cnn needs --weights FILE" in err
    code = main(["align", "neural", "--model", "no_such_model", "--out", str(tmp_path / "z")])
    assert code == 2 and "unknown model 'no_such_model'" in capsys.readouterr().err
    code = main(["align", "neural", "--model", "digits_cnn", "--out", str(tmp_path / "z")])
    assert code == 2 and "digits_cnn takes 1-channel images" in capsys.readouterr().err


def test_list_layers(weights, capsys):
    code, out, _ = run(["--weights", str(weights), "--image-size", "8", "--list-layers"], capsys)
    assert code == 0 and out.splitlines() == ["conv1\t8x8x16", "conv2\t8x8x32", "fc1\t64", "fc2\t10"]
