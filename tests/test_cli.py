"""The command line end to end, on the embedded model with a cheap attack list."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from alignjax.cli import main
from alignjax.data.digits import digits_split
from alignjax.models.embedded import EMBEDDED_WEIGHTS, bundled_weights_dir

CHEAP = ["--version", "custom", "--attacks", "apgd-ce", "--n", "24", "--batch-size", "16", "--no-progress"]


def test_attack_on_the_embedded_model_writes_results(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["attack", *CHEAP, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "initial accuracy" in printed and "robust accuracy after apgd-ce" in printed
    summary = json.loads((out / "summary.json").read_text())
    points = pl.read_parquet(out / "points.parquet")
    manifest = json.loads((out / "manifest.json").read_text())
    assert points.height == 24 == summary["n"]
    assert summary["robust_accuracy"] == pytest.approx(points["robust"].mean() * 100)
    assert summary["eps"] == 0.1 and summary["norm"] == "Linf"
    assert manifest["seed"] == 0 and "jax" in manifest["environment"]
    assert not (out / "state").exists()
    # a folder with results is refused, then replaced with --overwrite
    assert main(["attack", *CHEAP, "--out", str(out)]) == 2
    assert "already holds results" in capsys.readouterr().err
    assert main(["attack", *CHEAP, "--out", str(out), "--overwrite"]) == 0


VERSIONS = {  # version -> its attacks, in the order they run
    "standard": ["apgd-ce", "apgd-t", "fab-t", "square"],
    "plus": ["apgd-ce", "apgd-dlr", "fab", "square", "apgd-t", "fab-t"],
    "rand": ["apgd-ce", "apgd-dlr"],
    "paper": ["apgd-ce", "apgd-t", "fab-t", "square"],
}


@pytest.mark.parametrize("version", VERSIONS)
def test_every_version_runs_on_the_embedded_model(version, tmp_path):
    """Each version end to end at a reduced budget (``tests/attacks/test_real_cifar_resnet18.py`` runs
    them on a real CIFAR-10 ResNet-18; ``tests/crosscheck/test_settings.py`` checks their settings)."""
    out = tmp_path / version
    argv = ["attack", "--version", version, "--n", "12", "--batch-size", "12", "--n-iter", "2", "--n-queries", "5",
            "--n-restarts", "1", "--eps", "0.3", "--no-progress", "--out", str(out)]
    assert main(argv) == 0
    summary = json.loads((out / "summary.json").read_text())
    points = pl.read_parquet(out / "points.parquet")
    assert [a["name"] for a in summary["attacks"]] == VERSIONS[version]
    assert points.height == 12 and (points["perturbation_norm"] <= 0.3 * (1 + 1e-5)).all()
    broken = points.filter(~pl.col("robust") & (pl.col("broken_by") != "clean"))
    assert broken.height > 0, "eps 0.3 breaks some digits even at this budget"
    assert (broken["adv_prediction"] != broken["label"]).all()


def test_bring_your_own_model_and_data(tmp_path):
    test = digits_split("test")
    data = tmp_path / "digits.npz"
    np.savez(data, x=np.transpose(test.x[:16], (0, 3, 1, 2)), y=test.y[:16])
    out = tmp_path / "byo"
    weights = bundled_weights_dir() / EMBEDDED_WEIGHTS
    argv = ["attack", "--arch", "small_cnn", "--weights", str(weights), "--data", str(data), "--layout", "nchw",
            "--norm", "L2", "--eps", "1/2", "--version", "custom", "--attacks", "apgd-ce", "--seed", "3",
            "--no-progress", "--out", str(out)]
    assert main(argv) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["norm"] == "L2" and summary["eps"] == 0.5 and summary["n"] == 16
    norms = pl.read_parquet(out / "points.parquet")["perturbation_norm"].to_numpy()
    assert (norms <= 0.5 + 1e-5).all()


@pytest.mark.parametrize(
    "x_fn, message",
    [
        (lambda x: x * 255.0, "divide by 255"),
        (lambda x: np.where(np.arange(len(x))[:, None, None, None] == 2, np.nan, x), "NaN or inf"),
        (lambda x: x[..., 0], "4-D batch"),
    ],
)
def test_bad_data_exits_nonzero_and_writes_nothing(tmp_path, capsys, x_fn, message):
    test = digits_split("test")
    data = tmp_path / "bad.npz"
    np.savez(data, x=x_fn(test.x[:8]), y=test.y[:8])
    out = tmp_path / "never"
    weights = bundled_weights_dir() / EMBEDDED_WEIGHTS
    code = main(["attack", "--arch", "small_cnn", "--weights", str(weights), "--data", str(data), "--eps", "0.1",
                 "--no-progress", "--out", str(out)])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_labels_out_of_range_and_bad_eps(tmp_path, capsys):
    test = digits_split("test")
    data = tmp_path / "labels.npz"
    np.savez(data, x=test.x[:8], y=test.y[:8] + 10)
    weights = bundled_weights_dir() / EMBEDDED_WEIGHTS
    base = ["attack", "--arch", "small_cnn", "--weights", str(weights), "--data", str(data), "--no-progress"]
    assert main([*base, "--eps", "0.1", "--out", str(tmp_path / "a")]) == 2
    assert "do not fit a model with 10 classes" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*base, "--eps", "-1", "--out", str(tmp_path / "b")])
    assert "eps must be positive and finite (> 0)" in capsys.readouterr().err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_models_lists_the_registry(capsys):
    assert main(["models", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    names = {r["name"] for r in rows}
    assert "digits_cnn" in names and len(rows) >= 21


def test_convert_the_real_cifar_resnet_checkpoint(tmp_path, capsys):
    spec = importlib.util.find_spec("pyautoattack")
    checkpoint = Path(spec.origin).parent / "examples" / "model_test.pt"
    out = tmp_path / "resnet18.safetensors"
    argv = ["convert", str(checkpoint), "--arch", "cifar_resnet18", "--input-shape", "32,32,3", "--out", str(out)]
    assert main(argv) == 0
    assert out.is_file() and out.with_suffix(".json").is_file()
    assert main(argv) == 2  # exists
    assert "--overwrite" in capsys.readouterr().err


def test_bf16_precision_runs_and_is_recorded(tmp_path):
    out = tmp_path / "bf16"
    assert main(["attack", *CHEAP, "--precision", "bf16", "--out", str(out)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    summary = json.loads((out / "summary.json").read_text())
    assert manifest["model_options"]["precision"] == "bf16"
    assert "peak_device_memory_bytes" in summary  # None on the CPU, which reports no peak
    fp32 = tmp_path / "fp32"
    assert main(["attack", *CHEAP, "--out", str(fp32)]) == 0
    robust = [json.loads((d / "summary.json").read_text())["robust_accuracy"] for d in (out, fp32)]
    assert abs(robust[0] - robust[1]) <= 100 * 2 / 24
