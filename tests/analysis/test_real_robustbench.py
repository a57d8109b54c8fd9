"""The shipped RobustBench table, and every statistic on its real numbers against scipy/statsmodels:
clean vs AutoAttack (or common-corruption) accuracy across the models of each dataset and threat model."""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl
import pytest
import scipy.stats as st
import statsmodels.api as sm
from statsmodels.stats.multitest import multipletests

from alignjax.analysis.regression import ols
from alignjax.analysis.resampling import ResamplingConfig, correlate, pair_generator
from alignjax.analysis.robustbench import robustbench_robustness, robustbench_table
from alignjax.analysis.statistics import benjamini_hochberg
from alignjax.errors import InputError

SCIPY = {"spearman": st.spearmanr, "pearson": st.pearsonr, "kendall": st.kendalltau}
RESAMPLES = 300


def groups() -> list[tuple[str, np.ndarray, np.ndarray]]:
    frame = robustbench_robustness().sort("dataset", "norm", "model")
    out = []
    for (dataset, norm), part in frame.group_by("dataset", "norm", maintain_order=True):
        out.append((f"{dataset}/{norm}", part["clean_accuracy"].to_numpy(), part["robust_accuracy"].to_numpy()))
    return out


def test_the_shipped_table_holds_every_model_info_file():
    table = robustbench_table()
    assert table.height == 236
    counts = dict(table.group_by("dataset", "threat_model").len().select(
        pl.concat_str("dataset", "threat_model", separator="/"), "len").iter_rows())
    assert counts == {"cifar10/Linf": 99, "cifar10/L2": 21, "cifar10/corruptions": 23, "cifar100/Linf": 38,
                      "cifar100/corruptions": 13, "imagenet/Linf": 30, "imagenet/corruptions": 12}
    row = table.filter(pl.col("model_id") == "Salman2020Do_R50", pl.col("threat_model") == "Linf").row(0, named=True)
    assert (row["clean_acc"], row["autoattack_acc"], row["eps"]) == (64.02, 34.96, "4/255")
    assert row["eps_value"] == pytest.approx(4 / 255)
    sin = robustbench_robustness("imagenet", "corruptions").filter(pl.col("model") == "Geirhos2018_SIN_IN")
    assert sin.select("clean_accuracy", "robust_accuracy").row(0) == (74.98, 45.76)
    with pytest.raises(InputError, match="no dataset 'mnist'"):
        robustbench_table("mnist")


@pytest.mark.parametrize("method", ["spearman", "pearson", "kendall"])
def test_correlations_on_real_numbers_equal_scipy(method):
    data = groups()
    width = max(len(c) for _, c, _ in data)
    pad = lambda v: np.concatenate([v, np.full(width - len(v), np.nan)])
    x = np.array([pad(c) for _, c, _ in data])
    y = np.array([pad(r) for _, _, r in data])
    labels = [name for name, _, _ in data]
    result = correlate(x, y, method=method, labels=labels, config=ResamplingConfig(RESAMPLES, RESAMPLES, seed=3))
    for row, (name, clean, robust) in enumerate(data):
        keep = np.isfinite(clean) & np.isfinite(robust)
        a, b = clean[keep], robust[keep]
        assert result.n[row] == keep.sum() >= 12, name
        reference = SCIPY[method](a, b)
        np.testing.assert_allclose([result.estimate[row], result.p_value[row]], [reference.statistic, reference.pvalue],
                                   rtol=0, atol=1e-10, err_msg=name)
        statistic = lambda u, v: SCIPY[method](u, v).statistic
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            boot = st.bootstrap((a, b), statistic, paired=True, vectorized=False, n_resamples=RESAMPLES,
                                method="percentile", rng=pair_generator(3, name, "bootstrap"))
            perm = st.permutation_test((a,), lambda u, b=b, statistic=statistic: statistic(u, b), permutation_type="pairings",
                                       vectorized=False, n_resamples=RESAMPLES, rng=pair_generator(3, name, "permutation"))
        np.testing.assert_allclose([result.ci_low[row], result.ci_high[row], result.p_permutation[row]],
                                   [boot.confidence_interval.low, boot.confidence_interval.high, perm.pvalue],
                                   rtol=0, atol=1e-10, err_msg=name)
    finite = np.isfinite(result.p_value)
    np.testing.assert_allclose(benjamini_hochberg(result.p_value)[finite],
                               multipletests(result.p_value[finite], method="fdr_bh")[1], rtol=0, atol=1e-12)


def test_ols_on_real_numbers_equals_statsmodels():
    for name, clean, robust in groups():
        keep = np.isfinite(clean) & np.isfinite(robust)
        ours = ols(clean, robust)
        reference = sm.OLS(robust[keep], sm.add_constant(clean[keep])).fit()
        np.testing.assert_allclose([ours.r_squared, ours.f_value, ours.f_p_value, *ours.params],
                                   [reference.rsquared, reference.fvalue, reference.f_pvalue, *reference.params],
                                   rtol=1e-12, atol=1e-10, err_msg=name)
