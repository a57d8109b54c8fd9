"""OLS and F-tests against statsmodels."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm

from alignjax.analysis.regression import nested_f_test, ols
from alignjax.errors import InputError


def fit_both(x: np.ndarray, y: np.ndarray):
    ours = ols(x, y)
    keep = np.isfinite(y) & np.isfinite(np.atleast_2d(x.T).T).all(axis=1)
    reference = sm.OLS(y[keep], sm.add_constant(x[keep])).fit()
    return ours, reference


@pytest.mark.parametrize("columns", [[0], [0, 1, 2]])
def test_ols_equals_statsmodels(columns, rng):
    x = rng.normal(size=(45, 3))
    y = x @ np.array([0.5, -0.2, 0.1]) + rng.normal(size=45)
    y[[4, 9]] = np.nan
    x[12, 1] = np.nan
    ours, reference = fit_both(x[:, columns], y)
    assert ours.n == reference.nobs
    for name, expected in (("r_squared", reference.rsquared), ("r_squared_adjusted", reference.rsquared_adj),
                           ("f_value", reference.fvalue), ("f_p_value", reference.f_pvalue)):
        assert getattr(ours, name) == pytest.approx(expected, rel=1e-12, abs=1e-10), name
    for name, expected in (("params", reference.params), ("standard_errors", reference.bse),
                           ("t_values", reference.tvalues), ("p_values", reference.pvalues)):
        np.testing.assert_allclose(getattr(ours, name), expected, rtol=1e-12, atol=1e-10, err_msg=name)


def test_nested_f_test_equals_statsmodels_compare_f_test(rng):
    x = rng.normal(size=(50, 2))
    y = 0.7 * x[:, 0] + 0.3 * x[:, 1] + rng.normal(size=50)
    f_value, p, extra = nested_f_test(ols(x[:, 0], y), ols(x, y))
    small = sm.OLS(y, sm.add_constant(x[:, :1])).fit()
    reference = sm.OLS(y, sm.add_constant(x)).fit().compare_f_test(small)
    assert (f_value, p, extra) == pytest.approx(reference, abs=1e-10)


def test_degenerate_regressions_explain_themselves():
    with pytest.raises(InputError, match="constant or collinear"):
        ols(np.ones(10), np.arange(10.0))
    with pytest.raises(InputError, match="at least 3 complete rows"):
        ols(np.array([1.0, 2.0, np.nan]), np.array([1.0, 2.0, 3.0]))
