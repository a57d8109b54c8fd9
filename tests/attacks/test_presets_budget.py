"""Reduced budgets (``presets.with_budget``, the CLI's ``--n-iter/--n-queries/--n-restarts``)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from alignjax.attacks import APGDConfig, FABConfig, SquareConfig, presets
from alignjax.cli import build_parser, main


@pytest.mark.parametrize("version", presets.VERSIONS)
def test_budget_changes_only_the_budget(version):
    names = ("apgd-ce", "fab", "square") if version == "custom" else ()
    original = presets.version_attacks(version, "Linf", 0.03, names=names)
    reduced = presets.with_budget(original, n_iter=7, n_queries=11, n_restarts=2)
    assert len(reduced) == len(original)
    for before, after in zip(original, reduced, strict=True):
        assert type(before) is type(after)
        expected = {"n_restarts": 2}
        if isinstance(before, (APGDConfig, FABConfig)):
            expected["n_iter"] = 7
        if isinstance(before, SquareConfig):
            expected["n_queries"] = 11
        assert after == dataclasses.replace(before, **expected)


def test_no_budget_is_the_version_itself():
    attacks = presets.standard("L1", 12.0)
    assert presets.with_budget(attacks) == attacks


@pytest.mark.parametrize("value", [0, -3, 2.5, True])
def test_bad_budgets_are_refused(value):
    with pytest.raises(ValueError, match="must be an int >= 1"):
        presets.with_budget(presets.standard("Linf", 0.03), n_iter=value)


def test_cli_documents_and_validates_the_budget_options(capsys):
    attack_help = build_parser()._subparsers._group_actions[0].choices["attack"].format_help()
    for option in ("--n-iter", "--n-queries", "--n-restarts"):
        assert option in attack_help
    with pytest.raises(SystemExit) as exit_info:
        main(["attack", "--n-iter", "0"])
    assert exit_info.value.code == 2
    assert "must be >= 1, got 0" in capsys.readouterr().err


def test_cli_records_the_reduced_configs(tmp_path):
    out = tmp_path / "run"
    argv = ["attack", "--version", "custom", "--attacks", "apgd-ce,square", "--n", "8", "--batch-size", "8",
            "--n-iter", "3", "--n-queries", "4", "--n-restarts", "1", "--no-progress", "--out", str(out)]
    assert main(argv) == 0
    attacks = json.loads((out / "manifest.json").read_text())["attacks"]
    assert attacks == [
        repr(APGDConfig("Linf", 0.1, n_iter=3, n_restarts=1, loss="ce")),
        repr(SquareConfig("Linf", 0.1, n_queries=4, p_init=0.8, n_restarts=1)),
    ]
