"""Baker2022 accuracy delta, its split-half ceiling and the ceiled score against a direct NumPy
transcription of brain-score/vision@d07d356 metrics/baker_accuracy_delta and benchmarks/baker2022."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from alignjax.alignment.behavioral import baker2022

ANIMALS = np.array(["bear", "bunny", "cat", "elephant", "frog", "lizard", "tiger", "turtle", "wolf"])


def _generated(rng: np.random.Generator, n_subjects: int = 12):
    stimuli = [(f"{t}{a}{i}", a, t) for a in ANIMALS for t in ("w", "f", "o") for i in range(4)]
    sid, animal, image_type = (np.array(column) for column in zip(*stimuli, strict=True))
    accuracy_by_type = {"w": 0.85, "f": 0.6, "o": 0.7}
    response = np.where(
        rng.uniform(size=len(sid)) < [accuracy_by_type[t] - 0.1 for t in image_type],
        animal,
        rng.choice(ANIMALS, len(sid)),
    )
    decisions = pl.DataFrame(
        {"stimulus_id": sid, "animal": animal, "image_type": image_type, "response": response}
    )
    rows = []
    for subject in range(1, n_subjects + 1):
        skill = rng.uniform(-0.1, 0.1)
        for s, t in zip(sid, image_type, strict=True):
            if rng.uniform() < 0.8:  # not every subject sees every image
                rows.append((subject, s, t, int(rng.uniform() < accuracy_by_type[t] + skill)))
    trials = pl.DataFrame(
        rows,
        schema={"subject": pl.Int64, "stimulus_id": pl.String, "image_type": pl.String, "correct": pl.Int64},
        orient="row",
    )
    return decisions, trials


def _oracle_model_delta(decisions, types):
    animal, image_type, response = (decisions[c].to_numpy() for c in ("animal", "image_type", "response"))
    overall = []
    for t in types:
        scores = [np.mean(response[(animal == a) & (image_type == t)] == a) for a in sorted(set(animal))]
        overall.append(np.mean(scores))
    return overall[0] - overall[1]


def _oracle_human_delta(subject, image_type, correct, types):
    per_type = {}
    for t in types:
        per_type[t] = [
            np.count_nonzero(correct[(image_type == t) & (subject == s)])
            / np.sum((image_type == t) & (subject == s))
            for s in sorted(set(subject))
        ]
    return np.mean([a - b for a, b in zip(per_type["w"], per_type[types[1]], strict=True)])


@pytest.mark.parametrize("types", [("w", "f"), ("w", "o")])
def test_baker_score_matches_the_reference(rng, types):
    decisions, trials = _generated(rng)
    subject, image_type, correct = (trials[c].to_numpy() for c in ("subject", "image_type", "correct"))
    n_subjects = len(set(subject))
    model = _oracle_model_delta(decisions, types)
    scores = []
    for i in range(100):
        half = np.random.RandomState(i).choice(range(1, n_subjects), n_subjects // 2, replace=False)
        keep = np.isin(subject, half)
        human = _oracle_human_delta(subject[keep], image_type[keep], correct[keep], types)
        scores.append(max(1 - abs(human - model) / human, 0))
    state, corrected = np.random.RandomState(0), []
    for _ in range(100):
        half = state.choice(range(1, n_subjects), n_subjects // 2, replace=False)
        keep = np.isin(subject, half)
        d1 = _oracle_human_delta(subject[keep], image_type[keep], correct[keep], types)
        d2 = _oracle_human_delta(subject[~keep], image_type[~keep], correct[~keep], types)
        consistency = max(1 - abs(d1 - d2) / d2, 0)
        corrected.append(2 * consistency / (1 + consistency))
    result = baker2022.score(decisions, trials, types)
    assert result.model_delta == pytest.approx(model, abs=1e-15)
    assert result.raw == pytest.approx(np.mean(scores), abs=1e-14)
    assert result.raw_error == pytest.approx(np.std(scores), abs=1e-14)
    assert result.ceiling == pytest.approx(np.median(corrected), abs=1e-14)
    assert result.ceiled == pytest.approx(min(max(np.mean(scores) / np.median(corrected), 0), 1), abs=1e-14)
    assert 0 < result.ceiling <= 1
