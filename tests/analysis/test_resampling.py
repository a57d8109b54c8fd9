"""Bootstrap intervals and permutation p-values equal scipy's on the same draws (to 1e-10)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.stats as st

from alignjax.analysis.resampling import ResamplingConfig, correlate, pair_generator

STATISTIC = {
    "spearman": lambda a, b: st.spearmanr(a, b).statistic,
    "pearson": lambda a, b: st.pearsonr(a, b).statistic,
    "kendall": lambda a, b: st.kendalltau(a, b).statistic,
}
RESAMPLES = 200


def data(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, list[str]]:
    x = np.round(rng.normal(size=(4, 30)), 1)
    y = np.round(rng.normal(size=(4, 30)) + 0.4 * x, 1)
    x[rng.random(x.shape) < 0.2] = np.nan
    x[3] = np.nan
    x[3, :5] = [1.0, 3.0, 2.0, 5.0, 4.0]  # 5! = 120 <= 200 permutations: scipy's exact test
    y[3, :5] = [2.0, 1.0, 4.0, 3.0, 5.0]
    return x, y, [f"benchmark-{i}|Linf 1/255" for i in range(4)]


def scipy_run(method, x, y, label, interval, seed):
    keep = np.isfinite(x) & np.isfinite(y)
    a, b = x[keep], y[keep]
    statistic = STATISTIC[method]
    with warnings.catch_warnings():  # tiny resamples can be constant: scipy warns and gives NaN
        warnings.simplefilter("ignore")
        return _scipy_run(statistic, a, b, label, interval, seed)


def _scipy_run(statistic, a, b, label, interval, seed):
    boot = st.bootstrap((a, b), statistic, paired=True, vectorized=False, n_resamples=RESAMPLES, method=interval,
                        rng=pair_generator(seed, label, "bootstrap"))
    perm = st.permutation_test((a,), lambda u: statistic(u, b), permutation_type="pairings", vectorized=False,
                               n_resamples=RESAMPLES, rng=pair_generator(seed, label, "permutation"))
    return boot, perm


@pytest.mark.parametrize("interval", ["percentile", "bca"])
@pytest.mark.parametrize("method", ["spearman", "pearson", "kendall"])
def test_intervals_and_permutation_p_values_equal_scipy(method, interval, rng):
    x, y, labels = data(rng)
    config = ResamplingConfig(n_bootstrap=RESAMPLES, n_permutations=RESAMPLES, interval=interval, seed=7)
    result = correlate(x, y, method=method, labels=labels, config=config)
    for row, label in enumerate(labels):
        boot, perm = scipy_run(method, x[row], y[row], label, interval, seed=7)
        np.testing.assert_allclose(result.bootstrap_distribution[row], boot.bootstrap_distribution, rtol=0, atol=1e-10,
                                   equal_nan=True)
        if np.isnan(boot.bootstrap_distribution).any():  # scipy gives up; we use the defined resamples
            finite = boot.bootstrap_distribution[np.isfinite(boot.bootstrap_distribution)]
            assert result.n_bootstrap_valid[row] == finite.size
            if interval == "percentile":
                np.testing.assert_allclose([result.ci_low[row], result.ci_high[row]],
                                           np.quantile(finite, [0.025, 0.975]), rtol=0, atol=1e-10)
        else:
            np.testing.assert_allclose([result.ci_low[row], result.ci_high[row]],
                                       [boot.confidence_interval.low, boot.confidence_interval.high], rtol=0,
                                       atol=1e-10)
        used = result.n_permutations[row]
        assert used == len(perm.null_distribution)
        assert result.exact_permutation[row] == (row == 3)
        np.testing.assert_allclose(result.null_distribution[row, :used], perm.null_distribution, rtol=0, atol=1e-10)
        assert result.p_permutation[row] == pytest.approx(perm.pvalue, abs=1e-10)


def test_each_pair_draws_its_own_resamples(rng):
    """A pair's interval and p-value do not depend on which other pairs are analysed, or their order."""
    x, y, labels = data(rng)
    config = ResamplingConfig(n_bootstrap=100, n_permutations=100, pairs_per_chunk=3)
    whole = correlate(x, y, method="spearman", labels=labels, config=config)
    order = [2, 0]
    part = correlate(x[order], y[order], method="spearman", labels=[labels[i] for i in order], config=config)
    for position, row in enumerate(order):
        assert part.ci_low[position] == whole.ci_low[row]
        assert part.p_permutation[position] == whole.p_permutation[row]
    other_seed = correlate(x, y, method="spearman", labels=labels, config=ResamplingConfig(100, 100, seed=1))
    assert not np.array_equal(other_seed.ci_low[:3], whole.ci_low[:3])


def test_degenerate_pairs_give_nan_not_errors():
    x = np.array([[1.0, 2.0, np.nan, 4.0], [3.0, 3.0, 3.0, 3.0], [1.0, 2.0, 3.0, 4.0]])
    y = np.array([[1.0, np.nan, 2.0, 3.0], [1.0, 2.0, 3.0, 4.0], [5.0, 5.0, 5.0, 5.0]])
    result = correlate(x, y, method="spearman", labels=["a", "b", "c"], config=ResamplingConfig(50, 50))
    assert list(result.n) == [2, 4, 4]
    assert result.estimate[0] == 1.0 and np.isnan(result.p_value[0])  # two cases: rho = 1, no test (scipy too)
    assert np.isnan(result.estimate[1:]).all()  # a constant variable has no correlation
    assert np.isnan(result.ci_low).all() and np.isnan(result.p_permutation).all()
    with pytest.raises(ValueError, match="distinct strings"):
        correlate(x, y, method="spearman", labels=["a", "a", "b"])
