"""The statistics of a cross-check: paired test of two evaluations, intervals for a subsample, the verdict.

Two AutoAttack runs on the same points differ by attack randomness (different random streams:
alignjax draws per point, the reference per batch) even when both implement the same algorithm; a
point near the decision boundary may be broken by one run and not by the other. Under the hypothesis
"same attack strength", the points broken by exactly one side are equally likely to fall on either
side, so the number broken only by alignjax is Binomial(discordant, 1/2): McNemar's exact test
(McNemar 1947; scipy.stats.binomtest). A published figure is compared through the binomial interval
of the accuracy measured on ``n`` points (Clopper-Pearson exact, Wilson score as a second opinion),
assuming the evaluated points are a random sample of the published evaluation's test set.

The rule (``verdict``), also in ``alignjax crosscheck --help`` and the README:
  * clean: the two sides' clean predictions differ on more than ``clean_tolerance`` percent of points;
  * robust: |robust accuracy difference| > ``tolerance`` percentage points AND McNemar's exact
    p-value < ``alpha`` (the difference is larger than the tolerance and larger than attack randomness);
  * published: a published accuracy lies outside the (1 - ``alpha``) Clopper-Pearson interval of the
    accuracy measured here.
Any of them makes the cross-check fail (exit code 1).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import stats


@dataclasses.dataclass(frozen=True)
class Tolerance:
    """The agreement rule's parameters (percentage points for ``tolerance`` and ``clean_tolerance``)."""

    tolerance: float = 1.0
    alpha: float = 0.01
    clean_tolerance: float = 0.1

    def __post_init__(self):
        if not (self.tolerance >= 0 and self.clean_tolerance >= 0):
            raise ValueError("--tolerance and --clean-tolerance must be >= 0 (percentage points)")
        if not 0 < self.alpha < 1:
            raise ValueError(f"--alpha must lie in (0, 1), got {self.alpha}")


@dataclasses.dataclass(frozen=True)
class PairedTest:
    """McNemar's exact test on per-point robustness of two runs over the same n points.

    Attributes:
      n: points.
      only_alignjax_broke: points broken (or misclassified) by alignjax and robust in the reference.
      only_reference_broke: the converse.
      difference_pp: robust accuracy of alignjax minus that of the reference, percentage points.
      p_value: two-sided exact binomial p-value of the discordant split (1.0 when nothing is discordant).
    """

    n: int
    only_alignjax_broke: int
    only_reference_broke: int
    difference_pp: float
    p_value: float

    @property
    def discordant(self) -> int:
        return self.only_alignjax_broke + self.only_reference_broke


def mcnemar_exact(robust_alignjax: np.ndarray, robust_reference: np.ndarray) -> PairedTest:
    """McNemar's exact test of the per-point outcomes (boolean arrays of one length)."""
    a, r = np.asarray(robust_alignjax, bool), np.asarray(robust_reference, bool)
    if a.shape != r.shape or a.ndim != 1 or len(a) == 0:
        raise ValueError(f"need two non-empty 1-D outcome arrays of one length, got {a.shape} and {r.shape}")
    only_alignjax = int(np.sum(~a & r))
    only_reference = int(np.sum(a & ~r))
    discordant = only_alignjax + only_reference
    p_value = 1.0 if discordant == 0 else float(stats.binomtest(only_alignjax, discordant, 0.5).pvalue)
    return PairedTest(n=len(a), only_alignjax_broke=only_alignjax, only_reference_broke=only_reference,
                      difference_pp=float((a.mean() - r.mean()) * 100), p_value=p_value)


@dataclasses.dataclass(frozen=True)
class Interval:
    """A binomial confidence interval of an accuracy, in percent."""

    estimate: float
    low: float
    high: float
    confidence: float
    method: str

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high

    def __str__(self) -> str:
        return f"[{self.low:.2f}, {self.high:.2f}]"


def accuracy_interval(successes: int, n: int, *, confidence: float, method: str = "exact") -> Interval:
    """Clopper-Pearson (``'exact'``) or Wilson (``'wilson'``) interval of ``successes / n``, in percent."""
    if n < 1 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n and n >= 1, got {successes} of {n}")
    ci = stats.binomtest(successes, n).proportion_ci(confidence_level=confidence, method=method)
    return Interval(estimate=100.0 * successes / n, low=100.0 * ci.low, high=100.0 * ci.high,
                    confidence=confidence, method="Clopper-Pearson" if method == "exact" else "Wilson")


@dataclasses.dataclass(frozen=True)
class PublishedCheck:
    """A published accuracy against the interval of the accuracy measured on the evaluated points."""

    what: str  # 'clean' or 'robust'
    published: float
    measured: Interval
    wilson: Interval

    @property
    def agrees(self) -> bool:
        return self.measured.contains(self.published)


def published_check(what: str, published: float, successes: int, n: int, alpha: float) -> PublishedCheck:
    if not 0.0 <= published <= 100.0:
        raise ValueError(f"a published {what} accuracy must be a percentage in [0, 100], got {published}")
    return PublishedCheck(what=what, published=published,
                          measured=accuracy_interval(successes, n, confidence=1 - alpha, method="exact"),
                          wilson=accuracy_interval(successes, n, confidence=1 - alpha, method="wilson"))


@dataclasses.dataclass(frozen=True)
class Verdict:
    """The outcome of the rule; ``reasons`` is empty when everything agrees."""

    reasons: tuple[str, ...]

    @property
    def agrees(self) -> bool:
        return not self.reasons


def verdict(*, tolerance: Tolerance, clean_mismatches: int | None, n: int, paired: PairedTest | None,
            published: tuple[PublishedCheck, ...] = ()) -> Verdict:
    """Applies the rule of the module docstring."""
    reasons = []
    if clean_mismatches is not None and clean_mismatches > tolerance.clean_tolerance / 100 * n:
        reasons.append(f"clean predictions differ on {clean_mismatches} of {n} points (allowed: "
                       f"{tolerance.clean_tolerance:g}% = {int(tolerance.clean_tolerance / 100 * n)})")
    if paired is not None and abs(paired.difference_pp) > tolerance.tolerance and paired.p_value < tolerance.alpha:
        reasons.append(f"robust accuracies differ by {paired.difference_pp:+.2f} pp (> {tolerance.tolerance:g} pp) "
                       f"and McNemar's exact p = {paired.p_value:.2g} < alpha = {tolerance.alpha:g}")
    for check in published:
        if not check.agrees:
            reasons.append(f"published {check.what} accuracy {check.published:.2f}% lies outside the "
                           f"{check.measured.confidence:.0%} {check.measured.method} interval "
                           f"{check.measured} of the {check.measured.estimate:.2f}% measured on {n} points")
    return Verdict(reasons=tuple(reasons))
