"""Pairwise-complete data laid out for vectorised statistics: compaction, tie groups, weighted ranks.

Many tests run at once (105 benchmarks x 3 eps = 315 pairs): each pair keeps only the models where all
its variables are finite (pandas ``DataFrame.corr`` semantics, which the paper's ``plotting.py`` used),
and the kept values are moved to the front of a padded row, in their original order. The padding
(``valid == False``) carries zero weight everywhere.

Resamples are expressed as **counts**: a bootstrap resample is how often each case was drawn, the
point estimate is all-ones, a jackknife resample is all-ones but one. Average ranks (``rankdata``'s
``"average"`` method) of a multiset follow from the counts by a cumulative sum over the pre-sorted
cases, so a resample never needs a sort: for a tie group ``g`` of the sorted cases with ``b`` counted
cases before it and ``t`` in it, every member ranks ``b + (t + 1) / 2``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CompleteCases:
    """Variables of P pairs restricted to their complete cases, compacted to the front of each row.

    Attributes:
        values: one (P, m) float64 array per variable; padding holds 0.
        valid: (P, m) bool, True for the first ``n[p]`` entries of row p.
        n: (P,) int64 number of complete cases per pair.
        index: (P, m) int64 original column index of each kept case, -1 in the padding.
    """

    values: tuple[np.ndarray, ...]
    valid: np.ndarray
    n: np.ndarray
    index: np.ndarray

    @property
    def width(self) -> int:
        return self.valid.shape[1]


def complete_cases(arrays: Sequence[np.ndarray]) -> CompleteCases:
    """Keeps, per row, the columns where every array is finite (NaN, None or inf mark a missing value).

    Args:
        arrays: (P, N) arrays (or (N,) arrays, broadcast to every row), one per variable.
    """
    if not arrays:
        raise ValueError("complete_cases needs at least one array")
    stacked = np.broadcast_arrays(*[np.atleast_2d(np.asarray(a, dtype=np.float64)) for a in arrays])
    keep = np.logical_and.reduce([np.isfinite(a) for a in stacked])
    n = keep.sum(axis=1).astype(np.int64)
    width = max(int(n.max(initial=0)), 1)
    # stable argsort of ~keep moves kept columns to the front without reordering them
    order = np.argsort(~keep, axis=1, kind="stable")[:, :width]
    valid = np.arange(width)[None, :] < n[:, None]
    values = tuple(np.where(valid, np.take_along_axis(a, order, axis=1), 0.0) for a in stacked)
    index = np.where(valid, order, -1).astype(np.int64)
    return CompleteCases(values=values, valid=valid, n=n, index=index)


@dataclass(frozen=True)
class TieGroups:
    """Sort order and tie groups of the valid cases of each row (padding sorts last, as singletons).

    Attributes:
        order: (P, m) stable argsort; ``sorted = take_along_axis(values, order)``.
        inverse: (P, m) position of each case in the sorted order.
        is_start: (P, m) bool, sorted position j opens a tie group.
        is_end: (P, m) bool, sorted position j closes a tie group.
        has_ties: whether any row has a group of two or more valid cases.
    """

    order: np.ndarray
    inverse: np.ndarray
    is_start: np.ndarray
    is_end: np.ndarray
    has_ties: bool


def tie_groups(values: np.ndarray, valid: np.ndarray) -> TieGroups:
    """Tie groups of ``values`` (P, m) among the ``valid`` entries (exact equality, as rankdata)."""
    keyed = np.where(valid, values, np.inf)
    order = np.argsort(keyed, axis=1, kind="stable")
    ordered = np.take_along_axis(keyed, order, axis=1)
    ordered_valid = np.take_along_axis(valid, order, axis=1)
    is_start = np.ones(values.shape, dtype=bool)
    is_start[:, 1:] = (ordered[:, 1:] != ordered[:, :-1]) | ~ordered_valid[:, 1:]
    is_end = np.ones(values.shape, dtype=bool)
    is_end[:, :-1] = is_start[:, 1:]
    inverse = np.empty_like(order)
    np.put_along_axis(inverse, order, np.broadcast_to(np.arange(values.shape[1]), values.shape), axis=1)
    return TieGroups(order=order, inverse=inverse, is_start=is_start, is_end=is_end,
                     has_ties=not bool(is_start.all()))


def to_sorted(counts: np.ndarray, ties: TieGroups) -> np.ndarray:
    """Counts (..., P, m) in case order -> the same counts in sorted order."""
    return np.take_along_axis(counts, np.broadcast_to(ties.order, counts.shape), axis=-1)


def sorted_group_totals(counts_sorted: np.ndarray, ties: TieGroups) -> tuple[np.ndarray, np.ndarray]:
    """(counted cases before each sorted position's group, up to the end of its group), (..., P, m).

    The cumulative counts are non-decreasing, so the value at the latest group start is a running
    maximum and the value at the next group end a reversed running minimum: no gather needed.
    """
    through = np.cumsum(counts_sorted, axis=-1)
    before = through - counts_sorted
    if not ties.has_ties:
        return before, through
    start = np.broadcast_to(ties.is_start, before.shape)
    end = np.broadcast_to(ties.is_end, through.shape)
    before = np.maximum.accumulate(np.where(start, before, 0.0), axis=-1)
    through = np.minimum.accumulate(np.where(end, through, np.inf)[..., ::-1], axis=-1)[..., ::-1]
    return before, through


def sorted_ranks(counts_sorted: np.ndarray, ties: TieGroups) -> np.ndarray:
    """Average ranks (1-based), in sorted order, of the multiset holding each case ``counts`` times."""
    before, through = sorted_group_totals(counts_sorted, ties)
    return (before + through + 1.0) / 2.0


def weighted_ranks(counts: np.ndarray, ties: TieGroups) -> np.ndarray:
    """Average ranks (1-based), in case order, of each case in the multiset holding it ``counts`` times.

    Args:
        counts: (..., P, m) non-negative weights (integers for resamples); padding must be 0.
        ties: tie groups of the (P, m) values.

    Returns:
        (..., P, m) ranks; entries with count 0 carry the rank they would have, unused downstream.
    """
    ranks = sorted_ranks(to_sorted(counts, ties), ties)
    return np.take_along_axis(ranks, np.broadcast_to(ties.inverse, counts.shape), axis=-1)


def tied_pair_counts(counts: np.ndarray, ties: TieGroups) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per multiset: sum over tie groups of t(t-1)/2, t(t-1)(t-2) and t(t-1)(2t+5) (Kendall's tie terms)."""
    before, through = sorted_group_totals(to_sorted(counts, ties), ties)
    t = np.where(np.broadcast_to(ties.is_start, before.shape), through - before, 0.0)
    return (
        (t * (t - 1.0) / 2.0).sum(axis=-1),
        (t * (t - 1.0) * (t - 2.0)).sum(axis=-1),
        (t * (t - 1.0) * (2.0 * t + 5.0)).sum(axis=-1),
    )


def sign_matrix(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(P, m, m) int8 sign(v_i - v_j) among valid cases, 0 where either is padding."""
    sign = np.sign(values[:, :, None] - values[:, None, :]).astype(np.int8)
    both = valid[:, :, None] & valid[:, None, :]
    return np.where(both, sign, np.int8(0))
