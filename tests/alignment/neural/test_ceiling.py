"""Split-half ceiling: equal to a direct NumPy computation; normalisation conventions."""

import numpy as np
import pytest
import scipy.stats
from sklearn.model_selection import ShuffleSplit

from alignjax.alignment.neural.ceiling import internal_consistency, normalise, spearman_brown
from tests.alignment.neural.synthetic import ground_truth


def numpy_ceiling(responses, stimulus_ids, repetitions):
    """Brain-Score's InternalConsistency written out with NumPy/SciPy loops."""
    unique = np.unique(repetitions)
    per_split, per_neuroid = [], []
    splitter = ShuffleSplit(n_splits=10, train_size=0.5, test_size=None, random_state=1)
    for first, second in splitter.split(np.zeros(len(unique))):
        halves = []
        for chosen in (unique[first], unique[second]):
            mask = np.isin(repetitions, chosen)
            halves.append({stimulus: np.nanmean(responses[mask & (stimulus_ids == stimulus)], axis=0)
                           for stimulus in np.unique(stimulus_ids[mask])})
        common = sorted(set(halves[0]) & set(halves[1]))
        a = np.stack([halves[0][s] for s in common])
        b = np.stack([halves[1][s] for s in common])
        r = np.array([scipy.stats.pearsonr(a[:, j], b[:, j])[0] for j in range(a.shape[1])])
        corrected = 2 * r / (1 + r)
        per_neuroid.append(corrected)
        per_split.append(np.median(corrected))
    return float(np.mean(per_split)), np.array(per_split), np.array(per_neuroid)


def test_ceiling_equals_direct_numpy_computation():
    truth = ground_truth(60, 5, 12, 9, noise_variance=4.0, seed=11)
    responses = truth.trials.copy()
    stimulus_ids = np.array([f"s{i:02d}" for i in truth.stimulus_index])
    keep = np.ones(len(responses), bool)
    keep[[3, 40, 41, 200]] = False  # uneven repetitions
    responses[[10, 77], [2, 5]] = np.nan  # isolated missing responses are skipped in the half-means
    responses, stimulus_ids, repetitions = responses[keep], stimulus_ids[keep], truth.repetition[keep]
    expected, expected_splits, expected_neuroids = numpy_ceiling(responses, stimulus_ids, repetitions)
    ceiling = internal_consistency(responses, stimulus_ids, repetitions)
    assert abs(ceiling.value - expected) < 1e-6
    np.testing.assert_allclose(ceiling.split_values, expected_splits, atol=1e-6, rtol=0)
    np.testing.assert_allclose(ceiling.neuroid_values, expected_neuroids, atol=1e-6, rtol=0)
    assert ceiling.error == pytest.approx(np.std(expected_splits) / np.sqrt(10))


def test_ceiling_matches_the_reliability_of_the_trial_mean():
    """Spearman-Brown of the split-half r estimates the reliability of the mean of all repetitions."""
    truth = ground_truth(400, 6, 20, 8, noise_variance=4.0, seed=12)
    ceiling = internal_consistency(truth.trials, truth.stimulus_index, truth.repetition)
    assert ceiling.value == pytest.approx(truth.reliability, abs=0.03)  # 1 / (1 + 4/8) = 0.667


def test_normalisations_and_spearman_brown():
    assert normalise(0.5, 0.8, "2025") == pytest.approx((0.5 / 0.8) ** 2)
    assert normalise(0.5, 0.8, "2026") == pytest.approx(0.25 / 0.8)
    assert normalise(-0.5, 0.8, "2025") == normalise(0.5, 0.8, "2025")  # the reference squares the sign away
    assert spearman_brown(0.5) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="unknown ceiling normalisation"):
        normalise(0.5, 0.8, "2024")
    with pytest.raises(ValueError, match="at least 2 repetitions"):
        internal_consistency(np.ones((3, 2)), np.arange(3), np.zeros(3))
