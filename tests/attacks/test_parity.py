"""Statistical parity with the reference AutoAttack (pyautoattack 0.2.0 == fra31/auto-attack@a392200).

The embedded digits CNN, the 397 held-out digits, the standard version's settings per norm
(Linf 0.1, L2 0.5, L1 1.0). The reference's per-point results are stored in
tests/fixtures/reference_digits.json (scripts/make_reference_fixtures.py, seed 0); random streams
differ between torch and JAX, so robust accuracies are compared, within the issue's 1.0 pp. The live
reference run is the slow test at the end. Linf runs by default, L2 and L1 with ``-m slow``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from alignjax.attacks import presets
from tests.attacks.parity_helpers import (
    SEED,
    TOLERANCE_PP,
    evaluate,
    individual_configs,
    reference,
    robust_accuracy,
)

NORMS = ("Linf", "L2", "L1")


def test_fixture_covers_the_acceptance():
    ref = reference()
    assert ref["n"] >= 300
    for norm in NORMS:
        entry = ref["norms"][norm]
        assert set(entry["individual"]) >= {"apgd-ce", "apgd-dlr", "apgd-t", "fab-t", "square"}
        assert len(entry["standard"]["robust"]) == ref["n"]
        assert set(entry["seeds"]) >= {"apgd-ce", "apgd-dlr"}
        for name, seeded in entry["seeds"].items():
            assert seeded["seeds"][0] == ref["seed"] and len(seeded["seeds"]) >= 5
            assert len(seeded["robust_accuracy"]) == len(seeded["seeds"])
            # the seeded runs' first is the stored single run, repeated
            assert seeded["robust_accuracy"][0] == entry["individual"][name]["robust_accuracy"]


@pytest.mark.parametrize("norm", ["Linf", pytest.param("L2", marks=pytest.mark.slow),
                                  pytest.param("L1", marks=pytest.mark.slow)])
def test_each_attack_alone_matches_the_reference(norm):
    """Robust accuracy of each attack alone, within 1 pp. For APGD-CE and APGD-DLR (cheap) both sides'
    means over the fixture's seeds are compared: one run moves by about 1 pp between seeds on either
    side (reference L1 APGD-DLR: 74.56-76.32 % over 8 seeds), as much as the tolerance.

    Linf by default; L2 and L1 (80 and 170 CPU-seconds, the seeds' reruns) with ``-m slow``."""
    ref = reference()["norms"][norm]
    configs = individual_configs(norm, ref["eps"])
    result = evaluate(norm, configs, individual=True)
    np.testing.assert_array_equal(result.clean_correct, np.asarray(reference()["clean"], bool))
    report = {}
    for name, flags in result.individual.items():
        if name in ref["seeds"]:
            seeds = ref["seeds"][name]["seeds"]
            assert seeds[0] == SEED
            rerun = [config for config in configs if config.name == name]
            ours = [robust_accuracy(flags)] + [
                robust_accuracy(evaluate(norm, rerun, individual=True, seed=seed).individual[name])
                for seed in seeds[1:]
            ]
            theirs = ref["seeds"][name]["robust_accuracy"]
        else:
            ours, theirs = [robust_accuracy(flags)], [ref["individual"][name]["robust_accuracy"]]
        report[name] = (round(float(np.mean(ours)), 2), round(float(np.mean(theirs)), 2))
    print(norm, report)
    for name, (ours, theirs) in report.items():
        assert abs(ours - theirs) <= TOLERANCE_PP, f"{norm} {name}: ours {ours:.2f}% vs reference {theirs:.2f}%"


@pytest.mark.parametrize("norm", ["Linf", pytest.param("L2", marks=pytest.mark.slow),
                                  pytest.param("L1", marks=pytest.mark.slow)])
def test_standard_cascade_matches_the_reference(norm):
    """The standard cascade's robust accuracy after each attack, within 1 pp, and its invariants. Linf
    by default; L2 and L1 (70 and 115 CPU-seconds) with ``-m slow``: by default each of their attacks
    is compared with the live reference step for step on a reduced budget (``test_apgd.py``,
    ``test_fab.py``, ``test_square.py``)."""
    ref = reference()["norms"][norm]
    result = evaluate(norm, presets.standard(norm, ref["eps"]), individual=False)
    after = result.robust_accuracy_after()
    theirs = ref["standard"]["robust_accuracy_after"]
    print(norm, {k: (round(after[k], 2), theirs[k]) for k in theirs})
    for name, value in theirs.items():
        assert abs(after[name] - value) <= TOLERANCE_PP, f"{norm} after {name}: ours {after[name]:.2f}% vs {value}%"
    # invariants: adversarial examples in the ball and the box, robust points returned clean
    from alignjax.data.digits import digits_split

    x = digits_split("test").x
    delta = (result.x_adv - x).reshape(len(x), -1)
    norms = {"Linf": np.abs(delta).max(1), "L2": np.sqrt((delta**2).sum(1)), "L1": np.abs(delta).sum(1)}[norm]
    assert (norms <= ref["eps"] * (1 + 1e-5) + 1e-7).all()
    assert result.x_adv.min() >= 0.0 and result.x_adv.max() <= 1.0
    np.testing.assert_array_equal(result.x_adv[result.robust], x[result.robust])


@pytest.mark.slow
def test_live_reference_reproduces_the_fixture():
    """Reruns the reference's APGD-CE (Linf) live: the fixture is what pyautoattack computes."""
    import torch
    from pyautoattack import AutoAttack

    from alignjax.data.digits import digits_split
    from alignjax.models import load_embedded
    from tests.torch_twins import digits_cnn_torch, nhwc_to_nchw

    _, variables = load_embedded()
    test = digits_split("test")
    aa = AutoAttack(digits_cnn_torch(variables), norm="Linf", eps=0.1, version="standard", seed=0)
    aa.attacks_to_run = ["apgd-ce"]
    _, y_adv = aa.run_standard_evaluation(nhwc_to_nchw(test.x), torch.from_numpy(test.y.astype(np.int64)),
                                          batch_size=500)
    robust = (y_adv.numpy() == test.y).astype(int).tolist()
    assert robust == reference()["norms"]["Linf"]["individual"]["apgd-ce"]["robust"]


def test_individual_configs_are_the_standard_settings():
    ce, dlr, apgd_t, fab_t, square = individual_configs("L1", 1.0)
    assert (ce.n_restarts, ce.use_largereps, apgd_t.n_target_classes) == (5, True, 5)
    assert dataclasses.replace(dlr, loss="ce") == ce and dlr.name == "apgd-dlr"
    assert fab_t.name == "fab-t" and square.n_queries == 5000
