"""Correlation statistics on pairwise-complete data: Spearman, Pearson, Kendall tau-b, partial
correlation, asymptotic p-values and Benjamini-Hochberg, vectorised over many pairs.

Every estimator is written for **counted multisets** (see ``alignjax.analysis.pairs``): ``counts`` of
shape (..., P, m) say how often each complete case enters, so the same code gives the point estimate
(all ones), bootstrap resamples and jackknife samples. Definitions follow scipy 1.17
(``scipy/stats/_stats_py.py``: ``spearmanr``, ``pearsonr``, ``kendalltau`` with variant "b" and
method "auto"; ``_mstats_basic._kendall_p_exact``), which the tests use as the oracle to 1e-10; the
paper (arXiv 2502.12377, kyangl/alignment-security@3bafa26:plotting.py) used pandas'
``DataFrame.corr(method="spearman")``, i.e. the same Spearman on pairwise-complete observations.
A constant variable (within the counted cases) gives NaN, as scipy does.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import polars as pl
from scipy import special

from alignjax.analysis.pairs import (
    CompleteCases,
    TieGroups,
    sign_matrix,
    sorted_ranks,
    tie_groups,
    tied_pair_counts,
    to_sorted,
    weighted_ranks,
)

METHODS = ("spearman", "pearson", "kendall")


@dataclass(frozen=True)
class Prepared:
    """What a statistic needs about P pairs that does not change between resamples."""

    x: np.ndarray
    y: np.ndarray
    valid: np.ndarray
    n: np.ndarray
    ties_x: TieGroups
    ties_y: TieGroups
    sign_product: np.ndarray | None  # (P, m, m) sign(dx) * sign(dy) for Kendall, else None

    @property
    def ones(self) -> np.ndarray:
        return self.valid.astype(np.float64)

    @property
    def y_position_of_x_sorted(self) -> np.ndarray:
        """(P, m) for each position in x-sorted order, where that case sits in y-sorted order."""
        return np.take_along_axis(self.ties_y.inverse, self.ties_x.order, axis=1)


def prepare(cases: CompleteCases, method: str) -> Prepared:
    """Sort orders and tie groups (and Kendall's sign products) of two compacted variables."""
    check_method(method)
    x, y = cases.values[0], cases.values[1]
    sign_product = None
    if method == "kendall":
        sign_product = (sign_matrix(x, cases.valid) * sign_matrix(y, cases.valid)).astype(np.float64)
    return Prepared(x=x, y=y, valid=cases.valid, n=cases.n, ties_x=tie_groups(x, cases.valid),
                    ties_y=tie_groups(y, cases.valid), sign_product=sign_product)


def check_method(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"unknown correlation method {method!r}; choose from {METHODS}")


def _is_constant(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    used = counts > 0
    high = np.where(used, values, -np.inf).max(axis=-1)
    low = np.where(used, values, np.inf).min(axis=-1)
    return ~(high > low)


def _weighted_correlation(counts: np.ndarray, dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    sxy = (counts * dx * dy).sum(axis=-1)
    sxx = (counts * dx * dx).sum(axis=-1)
    syy = (counts * dy * dy).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.clip(sxy / np.sqrt(sxx * syy), -1.0, 1.0)


def pearson_from_counts(counts: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson r of the counted multisets of (x, y) pairs; NaN where x or y is constant."""
    total = counts.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        dx = x - (counts * x).sum(axis=-1, keepdims=True) / total
        dy = y - (counts * y).sum(axis=-1, keepdims=True) / total
    r = _weighted_correlation(counts, dx, dy)
    return np.where(_is_constant(x, counts) | _is_constant(y, counts), np.nan, r)


def spearman_from_counts(counts: np.ndarray | None, prepared: Prepared, *,
                         sorted_counts: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Spearman rho: Pearson r of average ranks within each counted multiset.

    Works in x-sorted order: ``sorted_counts`` (the counts in x- and in y-sorted order, which a
    resampler can draw directly) spares the gathers. A constant variable ranks every counted case at
    exactly (N + 1) / 2, so its centred ranks are exactly 0 and rho is 0/0 = NaN.
    """
    if sorted_counts is None:
        sorted_counts = (to_sorted(counts, prepared.ties_x), to_sorted(counts, prepared.ties_y))
    counts_x, counts_y = sorted_counts
    rank_x = sorted_ranks(counts_x, prepared.ties_x)
    rank_y = np.take_along_axis(sorted_ranks(counts_y, prepared.ties_y),
                                np.broadcast_to(prepared.y_position_of_x_sorted, counts_y.shape), axis=-1)
    middle = (counts_x.sum(axis=-1, keepdims=True) + 1.0) / 2.0  # mean of average ranks, exactly
    return _weighted_correlation(counts_x, rank_x - middle, rank_y - middle)


def kendall_numerator(counts: np.ndarray, sign_product: np.ndarray) -> np.ndarray:
    """Concordant minus discordant pairs: 1/2 c^T S c with S = sign(dx) sign(dy) (copies of a case tie)."""
    if counts.ndim == 3:  # (B, P, m): one (B, m) @ (m, m) product per pair
        bilinear = np.matmul(counts.transpose(1, 0, 2), sign_product).transpose(1, 0, 2)
    else:
        bilinear = np.matmul(counts[..., None, :], sign_product)[..., 0, :]
    return 0.5 * (bilinear * counts).sum(axis=-1)


def kendall_from_counts(counts: np.ndarray, prepared: Prepared) -> np.ndarray:
    """Kendall tau-b; NaN where every pair is tied in x or in y (scipy's rule)."""
    if prepared.sign_product is None:
        raise ValueError("prepare(..., method='kendall') first")
    numerator = kendall_numerator(counts, prepared.sign_product)
    total = counts.sum(axis=-1)
    pairs = total * (total - 1.0) / 2.0
    x_tied = tied_pair_counts(counts, prepared.ties_x)[0]
    y_tied = tied_pair_counts(counts, prepared.ties_y)[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        tau = numerator / np.sqrt(pairs - x_tied) / np.sqrt(pairs - y_tied)
    degenerate = (x_tied == pairs) | (y_tied == pairs)
    return np.where(degenerate, np.nan, np.clip(tau, -1.0, 1.0))


def estimate_from_counts(method: str, counts: np.ndarray, prepared: Prepared) -> np.ndarray:
    if method == "spearman":
        return spearman_from_counts(counts, prepared)
    if method == "pearson":
        return pearson_from_counts(counts, prepared.x, prepared.y)
    if method == "kendall":
        return kendall_from_counts(counts, prepared)
    check_method(method)
    raise AssertionError  # unreachable


def t_test_p_value(r: np.ndarray, dof: np.ndarray) -> np.ndarray:
    """Two-sided p of t = r sqrt(dof / (1 - r^2)) under Student t(dof) (spearmanr's test); NaN if dof < 1."""
    r = np.asarray(r, dtype=np.float64)
    dof = np.asarray(dof, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = r * np.sqrt(np.clip(dof / ((r + 1.0) * (1.0 - r)), 0.0, None))
        p = 2.0 * special.stdtr(dof, -np.abs(t))
    return np.where((dof >= 1) & np.isfinite(r), np.clip(p, 0.0, 1.0), np.nan)


def pearson_p_value(r: np.ndarray, n: np.ndarray) -> np.ndarray:
    """pearsonr's two-sided p: r ~ Beta(n/2 - 1, n/2 - 1) on [-1, 1] under independence of normals."""
    r = np.asarray(r, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    a = n / 2.0 - 1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        p = 2.0 * special.betainc(a, a, (1.0 - np.abs(r)) / 2.0)
    p = np.where(n == 2, 1.0, p)
    return np.where((n >= 2) & np.isfinite(r), np.clip(p, 0.0, 1.0), np.nan)


@functools.lru_cache(maxsize=256)
def _inversion_counts(n: int, up_to: int) -> tuple[int, ...]:
    """Number of permutations of n items with exactly k inversions, k = 0..up_to (Mahonian numbers)."""
    row = [1] + [0] * up_to
    for size in range(2, n + 1):  # adding item `size` creates 0..size-1 new inversions
        prefix = [0]
        for value in row:
            prefix.append(prefix[-1] + value)
        row = [prefix[k + 1] - prefix[max(0, k - size + 1)] for k in range(up_to + 1)]
    return tuple(row)


def kendall_exact_p_value(n: int, concordant: int) -> float:
    """Two-sided exact p of Kendall's tau without ties: 2 P(inversions <= min(c, N - c)), capped at 1."""
    pairs = n * (n - 1) // 2
    low = min(concordant, pairs - concordant)
    tail = sum(_inversion_counts(n, low))
    return float(min(Fraction(2 * tail, math.factorial(n)), Fraction(1)))


def kendall_p_value(prepared: Prepared, tau: np.ndarray) -> np.ndarray:
    """kendalltau's p (method "auto"): exact without ties when n <= 33 or nearly all pairs agree,
    else the normal approximation with tie-corrected variance."""
    ones = prepared.ones
    n = prepared.n.astype(np.float64)
    numerator = kendall_numerator(ones, prepared.sign_product)
    x_tied, x0, x1 = tied_pair_counts(ones, prepared.ties_x)
    y_tied, y0, y1 = tied_pair_counts(ones, prepared.ties_y)
    m = n * (n - 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        variance = (m * (2.0 * n + 5.0) - x1 - y1) / 18.0 + 2.0 * x_tied * y_tied / m \
            + x0 * y0 / (9.0 * m * (n - 2.0))
        p = 2.0 * special.ndtr(-np.abs(numerator / np.sqrt(variance)))
    p = np.clip(p, 0.0, 1.0)
    pairs = (n * (n - 1.0) / 2.0).astype(np.int64)
    discordant = np.rint((pairs - numerator) / 2.0).astype(np.int64)
    for index in np.flatnonzero((x_tied == 0) & (y_tied == 0) & np.isfinite(tau)):
        size, dis = int(prepared.n[index]), int(discordant[index])
        if size <= 33 or min(dis, int(pairs[index]) - dis) <= 1:
            p[index] = kendall_exact_p_value(size, int(pairs[index]) - dis)
    return np.where(np.isfinite(tau), p, np.nan)


def p_value(method: str, prepared: Prepared, estimate: np.ndarray) -> np.ndarray:
    """scipy's default two-sided p-value of each pair's point estimate."""
    if method == "spearman":
        return t_test_p_value(estimate, prepared.n - 2)
    if method == "pearson":
        return pearson_p_value(estimate, prepared.n)
    if method == "kendall":
        return kendall_p_value(prepared, estimate)
    check_method(method)
    raise AssertionError  # unreachable


def partial_correlation(cases: CompleteCases, method: str = "spearman") -> tuple[np.ndarray, np.ndarray]:
    """Partial correlation of x and y given z (cases of three variables), with its t-test p-value.

    r_xy.z = (r_xy - r_xz r_yz) / sqrt((1 - r_xz^2)(1 - r_yz^2)); Spearman uses average ranks within the
    complete triples. The p-value is that of the t-test of x's coefficient in OLS y ~ 1 + x + z
    (t = r sqrt((n - 3) / (1 - r^2)), n - 3 degrees of freedom). Kendall has no such partial form here.
    """
    if method not in ("spearman", "pearson"):
        raise ValueError(f"partial correlation supports 'spearman' and 'pearson', not {method!r}")
    ones = cases.valid.astype(np.float64)
    variables = list(cases.values)
    if method == "spearman":
        variables = [weighted_ranks(ones, tie_groups(v, cases.valid)) for v in variables]
    x, y, z = variables
    r_xy = pearson_from_counts(ones, x, y)
    r_xz = pearson_from_counts(ones, x, z)
    r_yz = pearson_from_counts(ones, y, z)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.clip((r_xy - r_xz * r_yz) / np.sqrt((1.0 - r_xz**2) * (1.0 - r_yz**2)), -1.0, 1.0)
    return r, t_test_p_value(r, cases.n - 3)


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values) of a 1-D array; NaN entries stay NaN and do
    not count as tests (statsmodels ``multipletests(method="fdr_bh")`` on the non-NaN entries)."""
    p = np.asarray(p_values, dtype=np.float64)
    q = np.full_like(p, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    if finite.size == 0:
        return q
    order = finite[np.argsort(p[finite], kind="stable")]
    scaled = p[order] * finite.size / np.arange(1, finite.size + 1)
    q[order] = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
    return q


def benjamini_hochberg_expr(p_value: pl.Expr) -> pl.Expr:
    """The Benjamini-Hochberg q-value as a polars expression (use ``.over(family)`` for families).

    Nulls are not tests and stay null. Same values as ``benjamini_hochberg``.
    """
    tests = p_value.count()
    # tied p-values share the largest rank of their group, so the running minimum is order-free
    scaled = p_value * tests / p_value.rank("max")
    descending = scaled.sort_by(p_value, descending=True, nulls_last=True).cum_min()
    position = p_value.rank("ordinal", descending=True).cast(pl.Int64) - 1
    return descending.gather(position).clip(upper_bound=1.0)
