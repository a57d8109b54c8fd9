"""Point estimates, p-values, partial correlation and Benjamini-Hochberg against scipy/statsmodels."""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl
import pytest
import scipy.stats as st
import statsmodels.api as sm
from statsmodels.stats.multitest import multipletests

from alignjax.analysis.pairs import complete_cases
from alignjax.analysis.statistics import (
    METHODS,
    benjamini_hochberg,
    benjamini_hochberg_expr,
    estimate_from_counts,
    kendall_exact_p_value,
    p_value,
    partial_correlation,
    prepare,
)

SCIPY = {"spearman": st.spearmanr, "pearson": st.pearsonr, "kendall": st.kendalltau}


def awkward_pairs(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Rows with ties, NaN, a constant row, tiny n, an exact-Kendall row and an all-missing row."""
    x = np.round(rng.normal(size=(12, 40)), 1)
    y = np.round(rng.normal(size=(12, 40)) + 0.5 * x, 1)
    x[rng.random(x.shape) < 0.2] = np.nan
    y[rng.random(y.shape) < 0.1] = np.inf
    x[1] = 2.0                                      # constant: no correlation
    y[2] = np.nan
    y[2, :3] = [1.0, 2.0, 3.0]                      # n = 3 at most
    x[3] = np.nan
    x[3, :12] = np.arange(12.0)
    y[3, :12] = rng.permutation(12)                 # no ties, n = 12: scipy's exact Kendall p
    y[4] = x[4] * 2 + 1                             # perfect correlation
    x[5] = np.nan                                   # no complete case
    return x, y


def scipy_reference(method: str, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    keep = np.isfinite(x) & np.isfinite(y)
    if keep.sum() < 2:
        return np.nan, np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = SCIPY[method](x[keep], y[keep])
    return result.statistic, result.pvalue


@pytest.mark.parametrize("method", METHODS)
def test_estimates_and_p_values_equal_scipy(method, rng):
    x, y = awkward_pairs(rng)
    prepared = prepare(complete_cases([x, y]), method)
    estimate = estimate_from_counts(method, prepared.ones, prepared)
    p = p_value(method, prepared, estimate)
    for row in range(len(x)):
        reference = scipy_reference(method, x[row], y[row])
        np.testing.assert_allclose([estimate[row], p[row]], reference, rtol=0, atol=1e-10, equal_nan=True,
                                   err_msg=f"row {row}")


@pytest.mark.parametrize("method", METHODS)
def test_counted_multisets_equal_scipy_on_the_repeated_data(method, rng):
    """Counts stand for repeated cases: bootstrap resamples and jackknife samples use this."""
    x = np.round(rng.normal(size=(3, 25)), 1)
    y = np.round(x + rng.normal(size=(3, 25)), 1)
    counts = rng.integers(0, 4, size=(5, 3, 25)).astype(np.float64)
    prepared = prepare(complete_cases([x, y]), method)
    estimate = estimate_from_counts(method, counts, prepared)
    for b in range(5):
        for row in range(3):
            repeated = np.repeat(np.arange(25), counts[b, row].astype(int))
            reference = SCIPY[method](x[row, repeated], y[row, repeated]).statistic
            assert estimate[b, row] == pytest.approx(reference, abs=1e-10)


def test_kendall_exact_p_values_equal_scipy():
    for n in range(3, 12):
        for concordant in range(0, n * (n - 1) // 2 + 1, 3):
            reference = st._mstats_basic._kendall_p_exact(n, concordant, "two-sided")
            assert kendall_exact_p_value(n, concordant) == pytest.approx(reference, abs=1e-12)


def test_partial_correlation_equals_the_ols_t_test_and_residual_correlation(rng):
    z = rng.normal(size=(2, 60))
    x = z + rng.normal(size=(2, 60))
    y = 0.6 * z + 0.3 * x + rng.normal(size=(2, 60))
    x[0, :5] = np.nan
    for method in ("pearson", "spearman"):
        r, p = partial_correlation(complete_cases([x, y, z]), method)
        for row in range(2):
            keep = np.isfinite(x[row])
            a, b, c = x[row, keep], y[row, keep], z[row, keep]
            if method == "spearman":
                a, b, c = st.rankdata(a), st.rankdata(b), st.rankdata(c)
            fit = sm.OLS(b, sm.add_constant(np.column_stack([a, c]))).fit()
            residual_x = sm.OLS(a, sm.add_constant(c)).fit().resid
            residual_y = sm.OLS(b, sm.add_constant(c)).fit().resid
            assert r[row] == pytest.approx(st.pearsonr(residual_x, residual_y).statistic, abs=1e-10)
            assert p[row] == pytest.approx(fit.pvalues[1], abs=1e-10)


def test_benjamini_hochberg_equals_statsmodels_with_ties_and_missing(rng):
    p = rng.random(60) ** 2
    p[[3, 17]] = np.nan
    p[10] = p[11] = p[12]
    family = np.repeat(["a", "b", "c"], 20)
    q = np.full_like(p, np.nan)
    for name in "abc":
        part = family == name
        q[part] = benjamini_hochberg(p[part])
        keep = part & np.isfinite(p)
        np.testing.assert_allclose(q[keep], multipletests(p[keep], method="fdr_bh")[1], rtol=0, atol=1e-12)
    assert np.isnan(q[[3, 17]]).all()
    frame = pl.DataFrame({"family": family, "p": p}).with_columns(pl.col("p").fill_nan(None))
    expressed = frame.select(benjamini_hochberg_expr(pl.col("p")).over("family")).to_series().to_numpy()
    np.testing.assert_allclose(expressed, q, rtol=0, atol=1e-12, equal_nan=True)
