"""I1n/I2n against a literal, loop-by-loop NumPy/SciPy transcription of Brain-Score's i1i2 metric
(brain-score/vision@d07d356 metrics/i1i2/metric.py) on generated match-to-sample data."""

from __future__ import annotations

import itertools
import warnings
from collections import Counter

import numpy as np
import pytest
import scipy.stats

from alignjax.alignment.behavioral import i1i2

OBJECTS = np.array(["bear", "car", "dog", "elephant", "face", "table"])


def _generated(rng: np.random.Generator, n_images: int = 36, n_trials: int = 2400):
    ids = np.array([f"img{i:03d}" for i in range(n_images)])
    truths = OBJECTS[np.arange(n_images) % len(OBJECTS)]
    difficulty = rng.uniform(0.55, 0.98, n_images)
    image = rng.integers(0, n_images, n_trials)
    sample = truths[image]
    distractor = np.array([rng.choice(OBJECTS[OBJECTS != s]) for s in sample])
    correct = rng.uniform(size=n_trials) < difficulty[image]
    choice = np.where(correct, sample, distractor)
    trials = {"stimulus_id": ids[image], "sample_obj": sample, "dist_obj": distractor, "choice": choice}
    probabilities = rng.dirichlet(np.full(len(OBJECTS), 0.7), size=n_images)
    probabilities[np.arange(n_images), np.searchsorted(OBJECTS, truths)] += difficulty
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    return ids, truths, probabilities, trials


# ---- the oracle: Brain-Score's algorithm, one element at a time ----
def _oracle_model_matrix(ids, truths, probabilities):
    cached = {(i, c): probabilities[k, j] for k, i in enumerate(ids) for j, c in enumerate(OBJECTS)}
    values = np.full((len(ids), len(OBJECTS)), np.nan)
    for k, (i, t) in enumerate(zip(ids, truths, strict=True)):
        for j, c in enumerate(OBJECTS):
            if t != c:
                values[k, j] = cached[(i, c)] / (cached[(i, c)] + cached[(i, t)])
    order = np.argsort(ids)
    return ids[order], truths[order], OBJECTS, values[order]


def _oracle_human_matrix(trials, half):
    ids, samples, dists, answers = (
        trials[k][half] for k in ("stimulus_id", "sample_obj", "dist_obj", "choice")
    )
    num_choices = Counter(zip(ids, answers, strict=True))
    num_objects = Counter(
        itertools.chain(*[[(i, s), (i, d)] for i, s, d in zip(ids, samples, dists, strict=True)])
    )
    choices = np.unique(answers)
    image_ids, first = np.unique(ids, return_index=True)
    truths = samples[first]
    values = np.zeros((len(image_ids), len(choices)))
    for (a, image), (b, choice) in itertools.product(enumerate(image_ids), enumerate(choices)):
        if truths[a] == choice:
            values[a, b] = np.nan
        else:
            offered = num_objects[(image, choice)]
            values[a, b] = num_choices[(image, choice)] / offered if offered > 0 else np.nan
    return image_ids, truths, choices, values


def _oracle_dprimes(matrix, collapse):
    ids, truths, choices, values = matrix
    index: dict = {}
    for (a, t), (b, c) in itertools.product(enumerate(truths), enumerate(choices)):
        index.setdefault((t, c), []).append(values[a, b])
    dprime = np.full(values.shape, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for (a, t), (b, c) in itertools.product(enumerate(truths), enumerate(choices)):
            hit = 1 - values[a, b]
            fa = np.nanmean(index[(c, t)]) if (c, t) in index else np.nan
            dprime[a, b] = scipy.stats.norm.ppf(hit) - scipy.stats.norm.ppf(fa)
        dprime = np.clip(dprime, -5, 5)
        normalized = dprime.copy()
        for t, c in set(itertools.product(truths, choices)):
            rows, column = truths == t, choices == c
            cell = dprime[np.ix_(rows, column)]
            normalized[np.ix_(rows, column)] = cell - np.nanmean(cell)
        if collapse:
            return ids, np.nanmean(normalized, axis=1)[:, None]
    return ids, normalized


def _oracle_correlate(source, target):
    (source_ids, source_values), (target_ids, target_values) = source, target
    shared = np.intersect1d(source_ids, target_ids)
    left = source_values[np.searchsorted(source_ids, shared)].ravel()
    right = target_values[np.searchsorted(target_ids, shared)].ravel()
    keep = ~np.isnan(right) & ~np.isnan(left)
    return scipy.stats.pearsonr(left[keep], right[keep])[0]


def _oracle(ids, truths, probabilities, trials, collapse):
    source = _oracle_dprimes(_oracle_model_matrix(ids, truths, probabilities), collapse)
    random_state = np.random.RandomState(0)
    raw, ceiling = [], []
    for _ in range(2):
        indices = list(range(len(trials["choice"])))
        random_state.shuffle(indices)
        halves = indices[: int(len(indices) / 2)], indices[int(len(indices) / 2) :]
        first, second = (_oracle_dprimes(_oracle_human_matrix(trials, np.array(h)), collapse) for h in halves)
        raw.append(_oracle_correlate(source, first))
        ceiling.append(_oracle_correlate(first, second))
    return np.array(raw), np.array(ceiling)


@pytest.mark.parametrize("collapse", [False, True], ids=["i2n", "i1n"])
def test_i_n_matches_the_reference_algorithm(rng, collapse):
    ids, truths, probabilities, trials = _generated(rng)
    model = i1i2.model_response_matrix(ids, truths, probabilities, OBJECTS)
    result = i1i2.i_n(model, trials, collapse=collapse)
    raw, ceiling = _oracle(ids, truths, probabilities, trials, collapse)
    np.testing.assert_allclose(result.raw, raw, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(result.ceiling, ceiling, rtol=1e-10, atol=1e-12)
    assert result.value == pytest.approx(np.mean(raw / np.sqrt(ceiling)), rel=1e-10)
    assert 0.1 < ceiling.mean() < 1.0 and np.isfinite(raw).all()


def test_model_matrix_and_human_matrix_pieces(rng):
    ids, truths, probabilities, trials = _generated(rng, n_images=12, n_trials=400)
    model = i1i2.model_response_matrix(ids, truths, probabilities, OBJECTS)
    expected_ids, _, _, expected = _oracle_model_matrix(ids, truths, probabilities)
    assert model.stimulus_ids.tolist() == expected_ids.tolist()
    np.testing.assert_allclose(model.values, expected, rtol=1e-14)
    everything = np.arange(400)
    human = i1i2.human_response_matrix(
        *(trials[k] for k in ("stimulus_id", "sample_obj", "dist_obj", "choice"))
    )
    oracle = _oracle_human_matrix(trials, everything)
    assert human.choices.tolist() == oracle[2].tolist()
    np.testing.assert_allclose(human.values, oracle[3], rtol=1e-14)
    # Brain-Score's halves: RandomState(0).shuffle of the trial indices, twice
    state = np.random.RandomState(0)
    for first, second in i1i2.halves(11):
        indices = list(range(11))
        state.shuffle(indices)
        assert first.tolist() == indices[:5] and second.tolist() == indices[5:]
    with pytest.raises(ValueError, match="no model response"):
        i1i2.i_n(
            i1i2.model_response_matrix(ids[:6], truths[:6], probabilities[:6], OBJECTS),
            trials,
            collapse=False,
        )
