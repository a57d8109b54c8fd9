"""Reduced budgets as frozen configs, and the reference's attack objects configured to the same settings."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from pyautoattack import AutoAttack

from alignjax.attacks import presets
from alignjax.crosscheck.reference_settings import (
    configure_reference,
    reference_settings,
    settings_mismatches,
)
from alignjax.crosscheck.settings import Budgets, reduce_budgets
from alignjax.errors import InputError

ALL_NAMES = ["apgd-ce", "apgd-dlr", "fab", "square", "apgd-t", "fab-t"]


def _reference(version: str, norm: str, eps: float, names=None) -> AutoAttack:
    return AutoAttack(torch.nn.Flatten(), norm=norm, eps=eps, seed=0, version=version, attacks=names)


@pytest.mark.parametrize("norm", ["Linf", "L2", "L1"])
@pytest.mark.parametrize("version", ["standard", "plus", "rand", "custom"])
def test_presets_equal_the_reference_versions(version, norm):
    """alignjax's presets are what the reference's own _set_version/constructor sets (no reconfiguring)."""
    names = ALL_NAMES if version == "custom" else []
    attacks = presets.version_attacks(version, norm, 0.3, names=names)
    adversary = _reference(version, norm, 0.3, names or None)
    assert [cfg.name for cfg in attacks] == adversary.attacks_to_run
    assert settings_mismatches(adversary, attacks) == []


def test_reduce_budgets_touches_only_the_named_fields():
    standard = presets.standard("Linf", 0.1)
    assert reduce_budgets(standard, Budgets()) == standard
    ce, apgd_t, fab_t, square = reduce_budgets(standard, Budgets(n_iter=7, n_restarts=3, n_target_classes=2,
                                                                 n_queries=50))
    assert (ce.n_iter, ce.n_restarts, ce.loss) == (7, 3, "ce")
    assert (apgd_t.n_iter, apgd_t.n_restarts, apgd_t.n_target_classes) == (7, 1, 2)  # targeted: 1 restart
    assert (fab_t.n_iter, fab_t.n_restarts, fab_t.n_target_classes, fab_t.targeted) == (7, 1, 2, True)
    assert (square.n_queries, square.p_init) == (50, 0.8)
    fab = reduce_budgets(presets.custom(["fab"], "L2", 0.5), Budgets(n_restarts=2))[0]
    assert (fab.n_restarts, fab.n_iter) == (2, 100)
    assert Budgets(n_iter=3).reduced and not Budgets().reduced
    with pytest.raises(ValueError, match="--n-iter must be an integer >= 1"):
        Budgets(n_iter=0)


@pytest.mark.parametrize("version, norm", [("standard", "Linf"), ("standard", "L1"), ("plus", "L2"),
                                           ("rand", "Linf"), ("paper", "Linf")])
def test_configured_reference_runs_the_reduced_settings(version, norm):
    budgets = Budgets(n_iter=10, n_restarts=2, n_target_classes=3, n_queries=40)
    attacks = reduce_budgets(presets.version_attacks(version, norm, 0.25, n_classes=10), budgets)
    names = [cfg.name for cfg in attacks]
    adversary = _reference(version if version != "paper" else "custom", norm, 0.25,
                           names if version == "paper" else None)
    configure_reference(adversary, attacks, eps=0.25, seed=0, device="cpu")
    assert settings_mismatches(adversary, attacks) == []
    if "apgd-ce" in names:  # derived through the reference's constructor, not copied
        assert (adversary.apgd.n_iter_2, adversary.apgd.n_iter_min, adversary.apgd.size_decr) == (2, 1, 1)
        assert adversary.apgd.eps == 0.25 and adversary.apgd.seed == 0
    if version == "paper":
        assert reference_settings(adversary, ["square"])["square"]["resc_schedule"] is True
        assert adversary.apgd_targeted.n_target_classes == 3


def test_settings_the_reference_cannot_hold_are_refused():
    ce = presets.custom(["apgd-ce"], "Linf", 0.1)[0]
    attacks = (ce, dataclasses.replace(ce, loss="dlr", n_iter=5))  # one shared APGD object in the reference
    adversary = _reference("custom", "Linf", 0.1, ["apgd-ce", "apgd-dlr"])
    with pytest.raises(InputError, match="shares one attack object"):
        configure_reference(adversary, attacks, eps=0.1, seed=0, device="cpu")
    # the reference's fab-t sets the shared FAB's restarts to 1, also for a later fab: reported
    attacks = presets.custom(["fab-t", "fab"], "Linf", 0.1)
    adversary = _reference("custom", "Linf", 0.1, ["fab-t", "fab"])
    assert settings_mismatches(adversary, attacks) == ["fab.n_restarts: alignjax 5, reference 1"]
