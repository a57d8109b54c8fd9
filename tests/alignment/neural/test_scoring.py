"""Ground truth: responses that are a known linear map of the features plus noise of known reliability
give the ceiling and ceiled scores that theory predicts; shuffled stimuli give about zero."""

import numpy as np
import pytest

from alignjax.alignment.neural.benchmarks import PUBLIC_BENCHMARKS, load_benchmark_data
from alignjax.alignment.neural.scoring import score_features
from tests.alignment.neural.synthetic import N_STIMULI


def theory(truth, n_train):
    """r(prediction, trial mean) for a least-squares map of p features fitted on n_train stimuli:
    sqrt(c) * sqrt(1 / (1 + e)) with c the reliability of the trial mean (signal variance 1, mean-noise
    variance v = noise / R, c = 1 / (1 + v)) and e = v p / (n_train - p - 1) the expected out-of-sample
    variance of the fitted map. PLS with 25 components on 25 features is that least-squares map."""
    mean_noise = truth.noise_variance / truth.repetitions
    n_features = truth.features.shape[1]
    estimation = mean_noise * n_features / (n_train - n_features - 1)
    return np.sqrt(truth.reliability / (1 + estimation))


@pytest.fixture(scope="module")
def it_data(mirror, tmp_path_factory):
    from alignjax.alignment.neural import brainio

    patch = pytest.MonkeyPatch()
    patch.setattr(brainio, "STIMULUS_SETS", {**brainio.STIMULUS_SETS, **mirror.stimulus_sets})
    patch.setattr(brainio, "ASSEMBLIES", {**brainio.ASSEMBLIES, **mirror.assemblies})
    try:
        yield load_benchmark_data(PUBLIC_BENCHMARKS["IT"], cache=tmp_path_factory.mktemp("cache"),
                                  base_url=str(mirror.folder))
    finally:
        patch.undo()


def test_known_linear_map_gives_the_predicted_ceiling_and_scores(mirror, it_data):
    truth = mirror.truths["IT"]
    score = score_features(truth.features, it_data)
    n_train = int(0.9 * N_STIMULI)
    expected_raw = theory(truth, n_train)  # 0.877
    assert score.ceiling == pytest.approx(truth.reliability, abs=0.03)  # 0.8
    assert score.raw == pytest.approx(expected_raw, abs=0.03)
    assert score.ceiled["2026"] == pytest.approx(expected_raw**2 / truth.reliability, abs=0.06)  # 0.96
    assert score.ceiled["2025"] == pytest.approx((expected_raw / truth.reliability) ** 2, abs=0.08)  # 1.20
    assert score.score == score.ceiled["2025"] and score.normalisation == "2025"
    assert score.predictivity.neuroid_values.shape == (10, truth.signal.shape[1])


def test_shuffled_stimulus_order_scores_about_zero(mirror, it_data):
    truth = mirror.truths["IT"]
    shuffled = truth.features[np.random.default_rng(0).permutation(N_STIMULI)]
    score = score_features(shuffled, it_data, normalisation="2026")
    assert abs(score.raw) < 0.08
    assert score.score < 0.01
