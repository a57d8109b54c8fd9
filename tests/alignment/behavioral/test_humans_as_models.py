"""Acceptance on the shipped human trials, treating each human as a model: shape bias (published ~0.96)
and error consistency / its ceiling, each against an independent NumPy computation."""

from __future__ import annotations

import itertools

import numpy as np
import polars as pl
import pytest
from sklearn.metrics import cohen_kappa_score

from alignjax.alignment.behavioral import error_consistency, geirhos2021, shape_bias
from alignjax.data import human_trials


def _numpy_shape_bias(responses: np.ndarray, shapes: np.ndarray, textures: np.ndarray) -> float:
    conflict = shapes != textures
    shape_hits = np.sum(responses[conflict] == shapes[conflict])
    texture_hits = np.sum(responses[conflict] == textures[conflict])
    return shape_hits / (shape_hits + texture_hits)


def test_human_shape_bias_is_the_published_value():
    trials = human_trials.load_cue_conflict_trials()
    responses, shapes, textures = (
        trials[c].to_numpy().astype(str) for c in ("object_response", "shape", "texture")
    )
    pooled = shape_bias.shape_bias(trials, response="object_response")
    assert pooled["shape_bias"] == pytest.approx(_numpy_shape_bias(responses, shapes, textures), abs=1e-15)
    assert pooled["shape_bias"] == pytest.approx(0.96, abs=0.005)  # Geirhos et al. 2019/2021: humans ~0.96
    assert pooled["conflict_trials"] == 12_000  # 1200 conflict images x 10 subjects
    subjects = trials["subj"].to_numpy().astype(str)
    for subject in np.unique(subjects):
        mine = shape_bias.shape_bias(trials.filter(pl.col("subj") == subject), response="object_response")
        keep = subjects == subject
        expected = _numpy_shape_bias(responses[keep], shapes[keep], textures[keep])
        assert mine["shape_bias"] == pytest.approx(expected, abs=1e-15) and 0.85 < expected <= 1.0
    per_class = shape_bias.shape_bias_per_class(trials, response="object_response")
    assert per_class.schema == shape_bias.SHAPE_BIAS_SCHEMA and per_class.height == 16
    for row in per_class.iter_rows(named=True):
        keep = shapes == row["shape"]
        expected = _numpy_shape_bias(responses[keep], shapes[keep], textures[keep])
        assert row["shape_bias"] == pytest.approx(expected, abs=1e-15)


def _kappa(a: np.ndarray, b: np.ndarray) -> float:
    p_a, p_b = a.mean(), b.mean()
    expected = p_a * p_b + (1 - p_a) * (1 - p_b)
    observed = np.mean(a == b)
    return 1.0 if observed == 1.0 else (observed - expected) / (1 - expected)


def _correctness(dataset: str) -> dict[str, dict[str, np.ndarray]]:
    """condition -> subject -> correctness over the condition's stimuli sorted by id (plain NumPy)."""
    raw = human_trials.load_human_trials(dataset)
    excluded = set(geirhos2021.EXCLUDE_CONDITIONS.get(dataset, ()))
    subject, condition, stimulus, response, truth = (
        raw[c].to_numpy().astype(str)
        for c in ("subj", "condition", "stimulus_id", "object_response", "category")
    )
    table: dict[str, dict[str, np.ndarray]] = {}
    for cond in sorted(set(condition) - excluded):
        table[cond] = {}
        for subj in sorted(set(subject)):
            keep = (condition == cond) & (subject == subj)
            order = np.argsort(stimulus[keep])
            table[cond][subj] = (response[keep] == truth[keep])[order]
    return table


@pytest.mark.parametrize("dataset", ["cue-conflict", "edge", "silhouette", "contrast"])
def test_error_consistency_between_humans_is_cohens_kappa(dataset):
    table = _correctness(dataset)
    humans = geirhos2021.human_decisions(dataset)
    subjects = sorted(next(iter(table.values())))
    # the ceiling: every pair of subjects in every condition
    pair_kappas = [
        _kappa(per[a], per[b]) for per in table.values() for a, b in itertools.combinations(subjects, 2)
    ]
    ceiling = error_consistency.ceiling(humans)
    assert ceiling.value == pytest.approx(abs(np.mean(pair_kappas)), abs=1e-12)
    assert ceiling.error == pytest.approx(np.std(pair_kappas), abs=1e-12)
    assert ceiling.pairs.height == len(pair_kappas) and ceiling.pairs.schema == error_consistency.PAIRS_SCHEMA
    # each human as the model, against the others
    for subject in subjects:
        source = humans.filter(pl.col("subject") == subject).drop("subject")
        others = humans.filter(pl.col("subject") != subject)
        mine = error_consistency.error_consistency(source, others)
        kappas = [
            _kappa(per[subject], per[other])
            for per in table.values()
            for other in subjects
            if other != subject
        ]
        assert mine.value == pytest.approx(abs(np.mean(kappas)), abs=1e-12)
        assert mine.n_stimuli == sum(len(per[subject]) for per in table.values())
    # one kappa against sklearn's Cohen's kappa of the two correctness labellings
    per = next(iter(table.values()))
    first, second = per[subjects[0]], per[subjects[1]]
    single = error_consistency.cohens_kappa(first, second)
    assert single.kappa == pytest.approx(cohen_kappa_score(first, second), abs=1e-12)


def test_kappa_edge_cases():
    same = np.array([True, False, True, True])
    assert error_consistency.cohens_kappa(same, same).kappa == 1.0
    always = np.ones(5, bool)
    assert error_consistency.cohens_kappa(always, always).kappa == 1.0  # Brain-Score would give NaN here
    assert error_consistency.cohens_kappa(same, ~same).kappa == pytest.approx(cohen_kappa_score(same, ~same))
    with pytest.raises(ValueError, match="equal length"):
        error_consistency.cohens_kappa(same, same[:3])


def test_excluded_conditions_exist_in_the_trials():
    """Brain-Score asserts every excluded condition is present; the rest stay."""
    for dataset, excluded in geirhos2021.EXCLUDE_CONDITIONS.items():
        conditions = set(human_trials.load_human_trials(dataset)["condition"].to_list())
        assert set(excluded) < conditions, dataset
        kept = set(geirhos2021.human_decisions(dataset)["condition"].to_list())
        assert kept == conditions - set(excluded)
