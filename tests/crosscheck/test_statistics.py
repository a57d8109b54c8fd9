"""The cross-check's statistics against statsmodels (McNemar exact, Clopper-Pearson, Wilson) and the rule."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.proportion import proportion_confint

from alignjax.crosscheck.statistics import (
    PairedTest,
    Tolerance,
    accuracy_interval,
    mcnemar_exact,
    published_check,
    verdict,
)


@pytest.mark.parametrize("seed", range(6))
def test_mcnemar_matches_statsmodels_exact(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 400))
    ours = rng.uniform(size=n) < rng.uniform(0.2, 0.8)
    theirs = np.where(rng.uniform(size=n) < rng.uniform(0.02, 0.3), ~ours, ours)
    test = mcnemar_exact(ours, theirs)
    table = [[np.sum(ours & theirs), np.sum(ours & ~theirs)], [np.sum(~ours & theirs), np.sum(~ours & ~theirs)]]
    expected = mcnemar(table, exact=True).pvalue
    assert test.p_value == pytest.approx(min(expected, 1.0), rel=1e-9)
    assert test.only_reference_broke == table[0][1] and test.only_alignjax_broke == table[1][0]
    assert test.difference_pp == pytest.approx((ours.mean() - theirs.mean()) * 100)


def test_mcnemar_without_discordant_points_and_bad_input():
    flags = np.array([True, False, True])
    assert mcnemar_exact(flags, flags).p_value == 1.0
    with pytest.raises(ValueError, match="one length"):
        mcnemar_exact(flags, flags[:2])


@pytest.mark.parametrize("successes, n", [(0, 10), (7, 24), (24, 24), (5951, 10000), (123, 500)])
@pytest.mark.parametrize("confidence", [0.95, 0.99])
def test_intervals_match_statsmodels(successes, n, confidence):
    exact = accuracy_interval(successes, n, confidence=confidence, method="exact")
    low, high = proportion_confint(successes, n, alpha=1 - confidence, method="beta")
    assert (exact.low, exact.high) == pytest.approx((100 * low, 100 * high), abs=1e-7)
    wilson = accuracy_interval(successes, n, confidence=confidence, method="wilson")
    low, high = proportion_confint(successes, n, alpha=1 - confidence, method="wilson")
    assert (wilson.low, wilson.high) == pytest.approx((100 * low, 100 * high), abs=1e-7)
    assert exact.method == "Clopper-Pearson" and wilson.method == "Wilson"


def test_the_rule():
    rule = Tolerance(tolerance=1.0, alpha=0.01, clean_tolerance=0.1)
    same = PairedTest(n=1000, only_alignjax_broke=3, only_reference_broke=2, difference_pp=-0.1, p_value=1.0)
    assert verdict(tolerance=rule, clean_mismatches=1, n=1000, paired=same).agrees  # 1 <= 0.1% of 1000
    assert not verdict(tolerance=rule, clean_mismatches=2, n=1000, paired=same).agrees
    # large but not significant (few points): agrees; significant but within tolerance: agrees
    noisy = PairedTest(n=20, only_alignjax_broke=3, only_reference_broke=0, difference_pp=-15.0, p_value=0.25)
    assert verdict(tolerance=rule, clean_mismatches=0, n=20, paired=noisy).agrees
    small = PairedTest(n=10**5, only_alignjax_broke=500, only_reference_broke=300, difference_pp=-0.2,
                       p_value=1e-12)
    assert verdict(tolerance=rule, clean_mismatches=0, n=10**5, paired=small).agrees
    both = PairedTest(n=200, only_alignjax_broke=20, only_reference_broke=1, difference_pp=-9.5, p_value=2e-5)
    result = verdict(tolerance=rule, clean_mismatches=0, n=200, paired=both)
    assert not result.agrees and "McNemar" in result.reasons[0]
    # published: inside vs outside the 99% Clopper-Pearson interval of 120/200 = 60%
    inside = published_check("robust", 55.0, 120, 200, 0.01)
    outside = published_check("robust", 45.0, 120, 200, 0.01)
    assert inside.agrees and not outside.agrees
    assert verdict(tolerance=rule, clean_mismatches=None, n=200, paired=None, published=(inside,)).agrees
    result = verdict(tolerance=rule, clean_mismatches=None, n=200, paired=None, published=(outside,))
    assert "outside the 99% Clopper-Pearson interval" in result.reasons[0]
    with pytest.raises(ValueError, match="percentage"):
        published_check("robust", 159.0, 1, 2, 0.01)
    with pytest.raises(ValueError, match="alpha"):
        Tolerance(alpha=1.5)
