"""Hostile and odd inputs through the CLI: each case exits with status 2 and one ``alignjax <command>:
error:`` line naming the problem, raises nothing (no traceback), and writes nothing to ``--out``.

Everything is generated here (nothing large is committed): labels beyond int32 in every dtype an ``.npz``
can hold, labels CSVs that are empty or name huge classes, a file given where a folder is expected and
the reverse, a parquet reader pointed at an npz, an ``--out`` below a regular file, a safetensors header
of 100,000 nested ``[``."""

from __future__ import annotations

import contextlib
import io
import struct

import numpy as np
import polars as pl
import pytest
from PIL import Image

from alignjax.cli import main
from alignjax.data import attack_data


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    x = np.random.default_rng(0).uniform(size=(6, 8, 8, 1)).astype(np.float32)
    np.savez("ok.npz", x=x, y=np.arange(6) % 10)
    (tmp_path / "dir.npz").mkdir()
    (tmp_path / "imgs").mkdir()
    for i in range(3):
        pixels = (np.random.default_rng(i).uniform(size=(8, 8)) * 255).astype(np.uint8)
        Image.fromarray(pixels, "L").save(tmp_path / "imgs" / f"{i}.png")
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "big.csv").write_text("file,label\n0.png,4294967299\n1.png,1\n2.png,2\n")
    (tmp_path / "afile").write_text("x")
    header = b'{"a":' + b"[" * 100_000
    (tmp_path / "nested.safetensors").write_bytes(struct.pack("<Q", len(header)) + header)
    return tmp_path


def run(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(argv)
    return code, err.getvalue()


LABELS_BEYOND_INT32 = {
    "2**40": np.array([2**40, 1, 2, 3, 4, 5]),
    "2**32+3 (wraps to 3)": np.array([2**32 + 3, 1, 2, 3, 4, 5]),
    "float 8589934597 (wraps to 5)": np.array([8589934597.0, 1, 2, 3, 4, 5]),
    "uint64 above int64": np.array([2**63 + 5, 1, 2, 3, 4, 5], dtype=np.uint64),
}


@pytest.mark.parametrize("labels", LABELS_BEYOND_INT32.values(), ids=LABELS_BEYOND_INT32.keys())
def test_labels_beyond_int32_are_refused_not_wrapped(workspace, labels):
    x = np.random.default_rng(0).uniform(size=(6, 8, 8, 1)).astype(np.float32)
    np.savez("big.npz", x=x, y=labels)
    code, err = run(["attack", "--data", "big.npz", "--out", "out"])
    assert code == 2 and "class indices" in err and "Traceback" not in err, err
    assert not (workspace / "out").exists()
    for num_classes in (None, 10):  # the Python API too, with and without a class count
        with pytest.raises(ValueError, match="class indices"):
            attack_data("big.npz", num_classes=num_classes)


CASES = {
    "npz read as a folder": (["--data", "ok.npz", "--data-format", "folder"], "is a file, but data format 'folder'"),
    "npz read as parquet": (["--data", "ok.npz", "--data-format", "parquet"], "not a readable parquet file"),
    "a folder read as npz": (["--data", "dir.npz", "--data-format", "npz"], "is a directory, not an .npz"),
    "empty labels CSV": (["--data", "imgs", "--labels", "empty.csv"], "labels file empty.csv is empty"),
    "labels CSV beyond int32": (["--data", "imgs", "--labels", "big.csv"], "must be class indices"),
    "a folder as the labels CSV": (["--data", "imgs", "--labels", "imgs"], "--labels imgs is a directory"),
    "a folder as the weights": (["--arch", "small_cnn", "--weights", "imgs", "--data", "ok.npz"],
                                "--weights imgs is a directory"),
    "an unknown architecture": (["--arch", "resnet5", "--weights", "ok.npz", "--data", "ok.npz"],
                                "unknown architecture 'resnet5'; did you mean resnet50"),
    "a safetensors header of nested brackets": (
        ["--arch", "small_cnn", "--weights", "nested.safetensors", "--data", "ok.npz"], "corrupt safetensors header"),
}


@pytest.mark.parametrize(("argv", "message"), CASES.values(), ids=CASES.keys())
def test_bad_input_is_one_line_and_writes_nothing(workspace, argv, message):
    code, err = run(["attack", *argv, "--out", "out"])
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("alignjax attack: error: "), err
    assert message in lines[0]
    assert not (workspace / "out").exists()


def test_out_below_a_regular_file_is_one_line(workspace):
    code, err = run(["attack", "--data", "ok.npz", "--out", "afile/sub", "--n-iter", "1", "--n-queries", "2"])
    assert code == 2 and err.startswith("alignjax attack: error: ") and "afile/sub" in err
    assert "a part of that path is a file" in err and (workspace / "afile").read_text() == "x"


def test_analyze_on_a_few_aggregate_benchmarks_writes_the_whole_report(workspace):
    """The README's analyze example on 30 RobustBench ImageNet models x 4 region scores (none a leaf of
    Brain-Score's hierarchy): the report, its figures and the embedding are written, nothing fails."""
    from alignjax.analysis.robustbench import TABLE_PATH

    table = pl.read_parquet(TABLE_PATH).filter((pl.col("dataset") == "imagenet") & (pl.col("threat_model") == "Linf"))
    models = table.get_column("model_id").to_list()[:30]
    rng = np.random.default_rng(0)
    pl.DataFrame([{"model": m, "benchmark": b, "score": float(rng.uniform())} for m in models
                  for b in ("V1", "V2", "V4", "IT")]).write_csv("s.csv")
    code = main(["analyze", "--scores", "s.csv", "--robustbench", "imagenet/Linf", "--methods", "spearman",
                 "--out", "report"])
    assert code == 0
    written = {path.name for path in (workspace / "report").iterdir()}
    assert {"index.html", "embedding.png", "embedding.csv", "correlations.csv", "heatmap_spearman.png"} <= written
    assert pl.read_csv(workspace / "report" / "embedding.csv").height == 30
