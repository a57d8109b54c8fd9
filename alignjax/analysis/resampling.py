"""Bootstrap confidence intervals and permutation p-values of correlations, vectorised over pairs.

Each pair (say benchmark x robust accuracy at one eps) draws from its own generator,
``SeedSequence([seed, crc32(label), purpose])``, so a pair's result does not depend on which other
pairs are analysed or in what order. The draws are exactly those scipy 1.17 makes with that generator
(``scipy/stats/_resampling.py``): ``bootstrap(..., paired=True)`` draws ``rng.integers(0, n, (B, n))``
case indices; ``permutation_test((x,), ..., permutation_type="pairings")`` permutes x with
``rng.permuted`` of a (B, 1, n) index tile, or enumerates all n! permutations when n! <= B (exact
test). The tests feed scipy the same generator and compare to 1e-10.

Resamples are counts (``alignjax.analysis.pairs``): ranks of a bootstrap resample come from cumulative
counts over the pre-sorted cases, so 1,000 resamples of 150 x 315 pairs need no sort. Permutations
leave ranks unchanged (only their pairing), so a permuted Spearman or Pearson statistic is one
gathered dot product; Kendall's is -trace(Sx[pi] Sy[pi^-1]) with row-gathered sign matrices.

Deliberate difference from scipy: resamples whose statistic is undefined (a constant resample) are
left out of the interval and counted in ``n_bootstrap_valid``; scipy returns NaN with a warning.
"""

from __future__ import annotations

import itertools
import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import special

from alignjax.analysis.pairs import CompleteCases, complete_cases, tied_pair_counts, to_sorted, weighted_ranks
from alignjax.analysis.statistics import (
    Prepared,
    check_method,
    estimate_from_counts,
    p_value,
    prepare,
    spearman_from_counts,
)

PURPOSES = {"bootstrap": 1, "permutation": 2}


@dataclass(frozen=True)
class ResamplingConfig:
    """How many resamples, which interval, which seed. ``0`` resamples turns a part off."""

    n_bootstrap: int = 1000
    n_permutations: int = 1000
    confidence_level: float = 0.95
    interval: Literal["percentile", "bca"] = "percentile"
    seed: int = 0
    pairs_per_chunk: int = 8

    def __post_init__(self) -> None:
        if self.n_bootstrap < 0 or self.n_permutations < 0:
            raise ValueError("the numbers of bootstrap resamples and permutations must be >= 0")
        if not 0.0 < self.confidence_level < 1.0:
            raise ValueError(f"confidence_level must lie in (0, 1), got {self.confidence_level}")
        if self.interval not in ("percentile", "bca"):
            raise ValueError(f"interval must be 'percentile' or 'bca', got {self.interval!r}")


@dataclass(frozen=True)
class CorrelationResult:
    """Per pair (arrays of length P): estimate, scipy's p-value, bootstrap interval, permutation p."""

    method: str
    estimate: np.ndarray
    p_value: np.ndarray
    n: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    n_bootstrap_valid: np.ndarray
    p_permutation: np.ndarray
    n_permutations: np.ndarray
    exact_permutation: np.ndarray
    bootstrap_distribution: np.ndarray  # (P, n_bootstrap), NaN where undefined
    null_distribution: np.ndarray  # (P, n_permutations), NaN-padded after an exact test's n! values


def pair_generator(seed: int, label: str, purpose: str) -> np.random.Generator:
    """The generator of one pair's resamples (hand the same one to scipy to reproduce them)."""
    return np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(label.encode()), PURPOSES[purpose]]))


def bootstrap_draws(n: int, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """(B, n) drawn case indices: scipy's paired bootstrap draw ``rng.integers(0, n, (B, n))``."""
    return rng.integers(0, n, (n_resamples, n))


def draw_counts(drawn: np.ndarray, relabel: np.ndarray | None = None) -> np.ndarray:
    """(B, n) how often each case (or each ``relabel``-ed position) appears in each row of ``drawn``."""
    rows, n = drawn.shape
    if relabel is not None:
        drawn = relabel[drawn]
    flat = drawn + (np.arange(rows) * n)[:, None]
    return np.bincount(flat.ravel(), minlength=rows * n).reshape(rows, n).astype(np.float64)


def permutations(n: int, n_resamples: int, rng: np.random.Generator) -> tuple[np.ndarray, bool]:
    """(B, n) permutations of range(n) as scipy's "pairings" test draws them, and whether exact (all n!)."""
    if math.factorial(n) <= n_resamples:
        return np.array(list(itertools.permutations(range(n))), dtype=np.int64).reshape(-1, n), True
    tile = np.tile(np.arange(n), (n_resamples, 1, 1))
    return rng.permuted(tile, axis=-1)[:, 0, :], False


def _slice(cases: CompleteCases, rows: slice) -> CompleteCases:
    width = max(int(cases.n[rows].max(initial=0)), 1)
    return CompleteCases(values=tuple(v[rows, :width] for v in cases.values), valid=cases.valid[rows, :width],
                         n=cases.n[rows], index=cases.index[rows, :width])


def _quantiles(distribution: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Linear-interpolation quantiles (numpy's default) of each row's finite values; levels (k, 2)."""
    ordered = np.sort(np.where(np.isfinite(distribution), distribution, np.inf), axis=-1)
    count = np.isfinite(distribution).sum(axis=-1)
    position = (np.maximum(count, 1) - 1)[:, None] * levels
    low = np.clip(np.floor(position).astype(np.int64), 0, None)
    high = np.minimum(low + 1, np.maximum(count, 1)[:, None] - 1)
    below = np.take_along_axis(ordered, low, axis=-1)
    above = np.take_along_axis(ordered, high, axis=-1)
    fraction = position - low
    with np.errstate(invalid="ignore"):
        value = np.where(fraction > 0, below + fraction * (above - below), below)
    return np.where(count[:, None] > 0, value, np.nan)


def _bca_levels(method: str, prepared: Prepared, estimate: np.ndarray, distribution: np.ndarray,
                alpha: float) -> np.ndarray:
    """Efron's bias-corrected and accelerated levels, as scipy's ``_bca_interval`` (jackknife by counts)."""
    finite = np.isfinite(distribution)
    below = (finite & (distribution < estimate[:, None])).sum(-1) + (finite & (distribution <= estimate[:, None])).sum(-1)
    z0 = special.ndtri(below / (2.0 * np.maximum(finite.sum(-1), 1)))
    width = prepared.valid.shape[1]
    leave_out = (1.0 - np.eye(width))[:, None, :] * prepared.valid[None].astype(np.float64)
    jackknife = estimate_from_counts(method, leave_out, prepared)  # (m, k): leave case i out
    used = (np.arange(width)[:, None] < prepared.n[None, :])
    n = prepared.n.astype(np.float64)
    mean = np.where(used, jackknife, 0.0).sum(0) / n
    spread = np.where(used, (n - 1.0) * (mean - jackknife), 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        acceleration = (spread**3).sum(0) / n**3 / 6.0 / ((spread**2).sum(0) / n**2) ** 1.5
        z_alpha = special.ndtri(alpha)
        levels = []
        for z in (z_alpha, -z_alpha):
            shifted = z0 + z
            levels.append(special.ndtr(z0 + shifted / (1.0 - acceleration * shifted)))
    return np.stack(levels, axis=-1)


def _bootstrap_distribution(method: str, prepared: Prepared, active: np.ndarray, labels: Sequence[str],
                            config: ResamplingConfig) -> np.ndarray:
    """(k, B) statistic of each active pair's bootstrap resamples (inactive pairs: the point estimate)."""
    spearman = method == "spearman"
    shape = (config.n_bootstrap,) + prepared.valid.shape
    sorted_x = np.broadcast_to(to_sorted(prepared.ones, prepared.ties_x), shape).copy() if spearman else None
    sorted_y = np.broadcast_to(to_sorted(prepared.ones, prepared.ties_y), shape).copy() if spearman else None
    counts = None if spearman else np.broadcast_to(prepared.ones, shape).copy()
    for column in np.flatnonzero(active):
        n = int(prepared.n[column])
        drawn = bootstrap_draws(n, config.n_bootstrap, pair_generator(config.seed, labels[column], "bootstrap"))
        if spearman:  # counts straight into sorted order: relabel each case by its sorted position
            sorted_x[:, column, :n] = draw_counts(drawn, prepared.ties_x.inverse[column, :n])
            sorted_y[:, column, :n] = draw_counts(drawn, prepared.ties_y.inverse[column, :n])
        else:
            counts[:, column, :n] = draw_counts(drawn)
    if spearman:
        return spearman_from_counts(None, prepared, sorted_counts=(sorted_x, sorted_y)).T
    return estimate_from_counts(method, counts, prepared).T


def _permutation_null(method: str, prepared: Prepared, perms: np.ndarray) -> np.ndarray:
    """(B, k) statistic of (x[perm], y): ranks/values are fixed, only the pairing moves."""
    ones = prepared.ones
    if method == "kendall":
        both = prepared.valid[:, :, None] & prepared.valid[:, None, :]
        sign_x = (np.sign(prepared.x[:, :, None] - prepared.x[:, None, :]) * both).astype(np.int8)
        sign_y = (np.sign(prepared.y[:, :, None] - prepared.y[:, None, :]) * both).astype(np.int8)
        inverse = np.argsort(perms, axis=-1)
        pairs = prepared.n * (prepared.n - 1.0) / 2.0
        x_tied = tied_pair_counts(ones, prepared.ties_x)[0]
        y_tied = tied_pair_counts(ones, prepared.ties_y)[0]
        null = np.empty(perms.shape[:2])
        for column in range(perms.shape[1]):  # per pair: (128, m, m) int8 row gathers at a time
            for start in range(0, perms.shape[0], 128):
                part = slice(start, start + 128)
                rows_x = sign_x[column][perms[part, column]]  # [b, i, k] = Sx[pi_i, k]
                rows_y = sign_y[column][inverse[part, column]]  # [b, k, i] = Sy[pi^-1_k, i]
                # sum_ij Sx[pi_i, pi_j] Sy[i, j] = -sum_ik Sx[pi_i, k] Sy[pi^-1_k, i] (Sy is antisymmetric)
                total = (rows_x * rows_y.transpose(0, 2, 1)).sum(axis=(1, 2), dtype=np.int64)
                null[part, column] = -0.5 * total
        with np.errstate(invalid="ignore", divide="ignore"):
            return null / np.sqrt(pairs - x_tied) / np.sqrt(pairs - y_tied)
    if method == "spearman":
        x = weighted_ranks(ones, prepared.ties_x)
        y = weighted_ranks(ones, prepared.ties_y)
    else:
        x, y = prepared.x, prepared.y
    total = ones.sum(-1, keepdims=True)
    dx = np.where(prepared.valid, x - (ones * x).sum(-1, keepdims=True) / total, 0.0)
    dy = np.where(prepared.valid, y - (ones * y).sum(-1, keepdims=True) / total, 0.0)
    scale = np.sqrt((dx * dx).sum(-1) * (dy * dy).sum(-1))
    permuted = np.take_along_axis(np.broadcast_to(dx, perms.shape), perms, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.clip((permuted * dy).sum(-1) / scale, -1.0, 1.0)


def _permutation_p(observed: np.ndarray, null: np.ndarray, used: np.ndarray, exact: np.ndarray) -> np.ndarray:
    """scipy's two-sided rule: 2 min(P(T <= t), P(T >= t)), +1 adjustment unless exact, capped at 1."""
    gamma = np.abs(observed * np.finfo(np.float64).eps * 100)[:, None]
    adjustment = np.where(exact, 0.0, 1.0)
    less = ((null <= observed[:, None] + gamma) & ~np.isnan(null)).sum(-1)
    greater = ((null >= observed[:, None] - gamma) & ~np.isnan(null)).sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = 2.0 * (np.minimum(less, greater) + adjustment) / (used + adjustment)
    return np.where(np.isfinite(observed) & (used > 0), np.clip(p, 0.0, 1.0), np.nan)


def correlate(x: np.ndarray, y: np.ndarray, *, method: str, labels: Sequence[str],
              config: ResamplingConfig = ResamplingConfig()) -> CorrelationResult:
    """Correlation of each row of ``x`` with the same row of ``y`` (P, N), on complete cases.

    Args:
        x: (P, N) predictor values per pair (e.g. one benchmark's scores over N models); NaN = missing.
        y: (P, N) or (N,) targets (e.g. robust accuracy at one eps); NaN = missing.
        method: "spearman", "pearson" or "kendall".
        labels: P distinct strings naming the pairs; they seed each pair's resamples.
        config: resample counts, interval kind, seed.
    """
    check_method(method)
    cases = complete_cases([x, y])
    count = cases.n.shape[0]
    if len(labels) != count or len(set(labels)) != count:
        raise ValueError(f"labels must be {count} distinct strings, one per pair")
    boot, perm = config.n_bootstrap, config.n_permutations
    out = {name: np.full(count, np.nan) for name in ("estimate", "p_value", "ci_low", "ci_high", "p_permutation")}
    n_boot_valid = np.zeros(count, dtype=np.int64)
    n_perm_used = np.zeros(count, dtype=np.int64)
    exact = np.zeros(count, dtype=bool)
    boot_dist = np.full((count, boot), np.nan)
    null_dist = np.full((count, perm), np.nan)
    alpha = (1.0 - config.confidence_level) / 2.0
    step = max(1, config.pairs_per_chunk)
    for first in range(0, count, step):
        rows = slice(first, min(first + step, count))
        chunk = _slice(cases, rows)
        prepared = prepare(chunk, method)
        estimate = estimate_from_counts(method, prepared.ones, prepared)
        out["estimate"][rows] = estimate
        out["p_value"][rows] = p_value(method, prepared, estimate)
        active = np.isfinite(estimate) & (chunk.n >= 3)
        width = chunk.valid.shape[1]
        if boot and active.any():
            distribution = _bootstrap_distribution(method, prepared, active, labels[first:], config)
            distribution[~active] = np.nan
            boot_dist[rows] = distribution
            n_boot_valid[rows] = np.isfinite(distribution).sum(-1)
            if config.interval == "bca":
                levels = _bca_levels(method, prepared, estimate, distribution, alpha)
            else:
                levels = np.broadcast_to(np.array([alpha, 1.0 - alpha]), (len(estimate), 2))
            interval = _quantiles(distribution, np.nan_to_num(levels, nan=0.5))
            interval[~active | np.isnan(levels).any(-1)] = np.nan
            out["ci_low"][rows], out["ci_high"][rows] = interval[:, 0], interval[:, 1]
        if perm and active.any():
            perms = np.broadcast_to(np.arange(width), (perm,) + chunk.valid.shape).copy()
            for column in np.flatnonzero(active):
                n = int(chunk.n[column])
                drawn, is_exact = permutations(n, perm, pair_generator(config.seed, labels[first + column], "permutation"))
                perms[: len(drawn), column, :n] = drawn
                n_perm_used[first + column] = len(drawn)
                exact[first + column] = is_exact
            null = _permutation_null(method, prepared, perms).T  # (k, B)
            null[np.arange(perm)[None, :] >= n_perm_used[rows][:, None]] = np.nan
            null[~active] = np.nan
            null_dist[rows] = null
            out["p_permutation"][rows] = _permutation_p(estimate, null, n_perm_used[rows], exact[rows])
    return CorrelationResult(method=method, n=cases.n, n_bootstrap_valid=n_boot_valid, n_permutations=n_perm_used,
                             exact_permutation=exact, bootstrap_distribution=boot_dist, null_distribution=null_dist,
                             **out)
