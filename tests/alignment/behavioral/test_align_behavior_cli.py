"""Acceptance: a tiny random-weight ImageNet-1k model (the zoo's small_cnn at 32 px) runs end to end through
`alignjax align behavior` on the shipped cue-conflict, edge and silhouette stimuli; its decisions, shape
bias, accuracy and error consistency (raw, ceiling, ceiled) equal an independent NumPy computation."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import jax
import numpy as np
import polars as pl
import pytest

from alignjax.alignment.behavioral import imagenet16, scores
from alignjax.alignment.behavioral.suite import DECISIONS_SCHEMA
from alignjax.cli import main
from alignjax.data import human_trials
from alignjax.data.preprocessing import brainscore_images

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "geirhos"
FOLDERS = {
    "cue-conflict": "style-transfer-preprocessed-512",
    "edge": "edges",
    "silhouette": "filled-silhouettes",
}
SIZE = 32


def _numpy_decisions(module, variables, paths, source_degrees):
    images = brainscore_images(paths, SIZE, source_degrees=source_degrees)
    logits = np.asarray(jax.jit(module.apply)(variables, images), dtype=np.float64)
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    labels = sorted(imagenet16.categories())
    means = np.stack([probabilities[:, list(imagenet16.indices_of(c))].mean(axis=1) for c in labels], axis=1)
    return np.array(labels)[means.argmax(axis=1)]


def _kappa(a, b):
    p_a, p_b = a.mean(), b.mean()
    expected = p_a * p_b + (1 - p_a) * (1 - p_b)
    observed = np.mean(a == b)
    return 1.0 if observed == 1.0 else (observed - expected) / (1 - expected)


def test_tiny_model_end_to_end_equals_numpy(tiny_model, tmp_path, capsys):
    module, variables, weights = tiny_model
    out = tmp_path / "run"
    argv = [
        "align",
        "behavior",
        "--arch",
        "small_cnn",
        "--weights",
        str(weights),
        "--num-classes",
        "1000",
        "--image-size",
        str(SIZE),
        "--stimuli",
        str(FIXTURES),
        "--batch-size",
        "8",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "Geirhos2021cueconflict-error_consistency" in printed and "16 of 1280 images" in printed
    table = scores.read(out / "scores.parquet")
    decisions = pl.read_parquet(out / "decisions.parquet")
    assert decisions.schema == DECISIONS_SCHEMA and decisions.height == 3 * 16 * 2
    assert json.loads((out / "manifest.json").read_text())["image_size"] == SIZE

    def row(benchmark, subset=None):
        rows = table.filter((pl.col("benchmark") == benchmark) & (pl.col("subset").eq_missing(subset)))
        assert rows.height == 1, benchmark
        return rows.row(0, named=True)

    distinct = set()
    for dataset, folder in FOLDERS.items():
        files = sorted((FIXTURES / folder).glob("*/*.png"), key=lambda p: p.stem)
        ids = np.array([p.stem for p in files])
        truth = np.array([p.parent.name for p in files])
        plain = _numpy_decisions(module, variables, files, None)
        placed = _numpy_decisions(module, variables, files, 3.0)
        distinct |= set(plain) | set(placed)
        ours = decisions.filter(pl.col("dataset") == dataset).sort("stimulus_id")
        assert ours.filter(pl.col("presentation") == "plain")["response"].to_list() == plain.tolist()
        assert ours.filter(pl.col("presentation") == "on_screen")["response"].to_list() == placed.tolist()
        name = dataset.replace("-", "")
        top1 = row(f"Geirhos2021{name}-top1")
        assert top1["value"] == pytest.approx(np.mean(plain == truth), abs=1e-15) and top1["n_stimuli"] == 16
        # error consistency: the model (placed at 3 degrees) against each subject on these 16 images
        trials = human_trials.load_human_trials(dataset)
        subjects = sorted(set(trials["subj"].to_list()))
        correct = {}
        for subject in subjects:
            mine = trials.filter((pl.col("subj") == subject) & pl.col("stimulus_id").is_in(ids.tolist()))
            by_id = dict(
                zip(
                    mine["stimulus_id"].to_list(),
                    (mine["object_response"] == mine["category"]).to_list(),
                    strict=True,
                )
            )
            correct[subject] = np.array([by_id[i] for i in ids])
        model_correct = placed == truth
        raw = abs(np.mean([_kappa(model_correct, correct[s]) for s in subjects]))
        ceiling = abs(
            np.mean([_kappa(correct[a], correct[b]) for a, b in itertools.combinations(subjects, 2)])
        )
        consistency = row(f"Geirhos2021{name}-error_consistency")
        assert consistency["raw"] == pytest.approx(raw, abs=1e-12)
        assert consistency["ceiling"] == pytest.approx(ceiling, abs=1e-12)
        assert consistency["value"] == pytest.approx(raw / ceiling, abs=1e-12)
        if dataset == "cue-conflict":
            shape = np.array([i.split("-")[0].rstrip("0123456789") for i in ids])
            texture = np.array([i.split("-")[1].rstrip("0123456789") for i in ids])
            conflict = shape != texture
            shape_hits, texture_hits = (
                np.sum(plain[conflict] == shape[conflict]),
                np.sum(plain[conflict] == texture[conflict]),
            )
            assert row("Hermann2020cueconflict-shape_match")["value"] == pytest.approx(
                shape_hits / conflict.sum()
            )
            if shape_hits + texture_hits:
                bias = row("Hermann2020cueconflict-shape_bias")
                assert bias["value"] == pytest.approx(shape_hits / (shape_hits + texture_hits), abs=1e-15)
    assert len(distinct) >= 4  # the tiny model's decisions are not degenerate


def test_align_behavior_input_errors(tiny_model, tmp_path, capsys):
    _, _, weights = tiny_model
    base = ["align", "behavior", "--stimuli", str(FIXTURES), "--out", str(tmp_path / "x")]
    assert main([*base, "--arch", "small_cnn"]) == 2
    assert "--arch needs --weights" in capsys.readouterr().err
    model = ["--arch", "small_cnn", "--weights", str(weights), "--num-classes", "1000", "--image-size", "32"]
    assert main([*base, *model, "--datasets", "cue-conflict,nope"]) == 2
    assert "unknown Geirhos2021 dataset(s) ['nope']" in capsys.readouterr().err
    assert main([*base, *model, "--datasets", "sketch"]) == 2
    assert "no sketch stimuli" in capsys.readouterr().err
    ten = ["--arch", "small_cnn", "--weights", str(weights), "--num-classes", "10", "--image-size", "32"]
    assert main([*base, *ten]) == 2
    assert "mis-shaped" in capsys.readouterr().err
    (tmp_path / "done").mkdir()
    (tmp_path / "done" / "scores.parquet").write_bytes(b"")
    assert main([*base[:-1], str(tmp_path / "done"), *model]) == 2
    assert "already holds scores.parquet" in capsys.readouterr().err
