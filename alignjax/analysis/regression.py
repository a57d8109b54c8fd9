"""Ordinary least squares with the F-tests the paper reports, in numpy.

The paper (arXiv 2502.12377; kyangl/alignment-security@3bafa26:plotting.py ``avg_alignment_vs_robust``)
regresses robust accuracy on one aggregate alignment score per eps (sklearn ``LinearRegression``) and
reports R^2 with the overall F-test, F = (SST - SSR) / p / (SSR / (n - p - 1)) on (p, n - p - 1) degrees
of freedom. ``ols`` returns what statsmodels' ``OLS(y, add_constant(X)).fit()`` returns for these
quantities (the tests compare to 1e-10); ``nested_f_test`` is statsmodels' ``compare_f_test``: does a
larger model (say clean accuracy + alignment) explain more than a smaller one (clean accuracy alone)?
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from alignjax.errors import InputError


@dataclass(frozen=True)
class OLSResult:
    """Fit of y = b0 + X b (intercept first in ``params``)."""

    params: np.ndarray
    standard_errors: np.ndarray
    t_values: np.ndarray
    p_values: np.ndarray
    r_squared: float
    r_squared_adjusted: float
    f_value: float
    f_p_value: float
    df_model: int
    df_residual: int
    n: int
    residual_sum_of_squares: float


def f_survival(f_value: float, df_numerator: float, df_denominator: float) -> float:
    """P(F > f) of the F(df_numerator, df_denominator) distribution."""
    if np.isnan(f_value) or df_denominator <= 0 or df_numerator <= 0:
        return float("nan")
    return float(special.fdtrc(df_numerator, df_denominator, max(f_value, 0.0)))


def ols(predictors: np.ndarray, response: np.ndarray) -> OLSResult:
    """OLS with an intercept on complete rows only; X (n, k) or (n,), y (n,)."""
    x = np.asarray(predictors, dtype=np.float64)
    x = x[:, None] if x.ndim == 1 else x
    y = np.asarray(response, dtype=np.float64)
    keep = np.isfinite(y) & np.isfinite(x).all(axis=1)
    x, y = x[keep], y[keep]
    n, k = x.shape
    if n < k + 2:
        raise InputError(f"OLS with {k} predictor(s) needs at least {k + 2} complete rows, got {n}")
    design = np.column_stack([np.ones(n), x])
    if np.linalg.matrix_rank(design) < k + 1:
        raise InputError("OLS predictors are constant or collinear on the complete rows; no fit is defined")
    params, *_ = np.linalg.lstsq(design, y, rcond=None)
    residuals = y - design @ params
    ssr = float(residuals @ residuals)
    centred = y - y.mean()
    sst = float(centred @ centred)
    df_resid = n - k - 1
    scale = ssr / df_resid
    covariance = scale * np.linalg.inv(design.T @ design)
    standard_errors = np.sqrt(np.diag(covariance))
    with np.errstate(divide="ignore", invalid="ignore"):
        t_values = params / standard_errors
        r_squared = 1.0 - ssr / sst if sst > 0 else float("nan")
        f_value = (sst - ssr) / k / scale if scale > 0 else float("inf")
    p_values = 2.0 * special.stdtr(df_resid, -np.abs(t_values))
    return OLSResult(params=params, standard_errors=standard_errors, t_values=t_values, p_values=p_values,
                     r_squared=r_squared, r_squared_adjusted=1.0 - (1.0 - r_squared) * (n - 1) / df_resid,
                     f_value=float(f_value), f_p_value=f_survival(float(f_value), k, df_resid), df_model=k,
                     df_residual=df_resid, n=n, residual_sum_of_squares=ssr)


def nested_f_test(restricted: OLSResult, full: OLSResult) -> tuple[float, float, int]:
    """(F, p, extra degrees of freedom) of the full model against the restricted one on the same rows."""
    if restricted.n != full.n:
        raise InputError(f"nested F-test needs both fits on the same rows ({restricted.n} vs {full.n})")
    extra = restricted.df_residual - full.df_residual
    if extra <= 0:
        raise InputError("the full model must have more predictors than the restricted one")
    f_value = (restricted.residual_sum_of_squares - full.residual_sum_of_squares) / extra \
        / (full.residual_sum_of_squares / full.df_residual)
    return float(f_value), f_survival(float(f_value), extra, full.df_residual), extra
