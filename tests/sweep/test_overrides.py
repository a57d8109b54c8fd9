"""``alignjax sweep --n/--n-iter/--n-queries/--n-restarts``: a reduced grid is a run of its own, never mixed
with the full one."""

from __future__ import annotations

import json
import shutil

import pytest

from alignjax.attacks import APGDConfig, SquareConfig
from alignjax.cli import main
from alignjax.errors import InputError
from alignjax.sweep import config_hash, expand, load_config, read_run
from alignjax.sweep.overrides import Overrides, with_overrides
from alignjax.sweep.runner import SweepOptions, run_id_for
from alignjax.sweep.store import Store
from tests.sweep.helpers import CONFIG, assert_same_points, run_sweep_cli

REDUCED = "tiny-reduced-n10-iter2-queries5"


def _grid(tmp_path, text: str = CONFIG):
    (tmp_path / "c.toml").write_text(text)
    return load_config(tmp_path / "c.toml")


def test_overrides_cap_the_datasets_and_the_budgets_and_change_the_identity(tmp_path):
    full = _grid(tmp_path)
    reduced = with_overrides(full, Overrides(n=10, n_iter=2, n_queries=5))
    assert [d.n for d in reduced.datasets] == [10]
    units = expand(reduced)
    apgd, square = units[0].attacks
    assert isinstance(apgd, APGDConfig) and apgd.n_iter == 2 and isinstance(square, SquareConfig)
    assert square.n_queries == 5 and apgd.n_restarts == expand(full)[0].attacks[0].n_restarts
    assert not {u.unit_id for u in units} & {u.unit_id for u in expand(full)}
    assert config_hash(reduced, units) != config_hash(full, expand(full))
    assert reduced.grid_dict()["overrides"] == {"n": 10, "n_iter": 2, "n_queries": 5, "n_restarts": None}
    assert "overrides" not in full.grid_dict()  # unreduced grids keep the hashes they had
    assert run_id_for(reduced, SweepOptions(), "f" * 64) == REDUCED
    assert run_id_for(reduced, SweepOptions(new_run=True), "f" * 64) == f"{REDUCED}-ffffffffff"
    assert run_id_for(reduced, SweepOptions(run_id="mine"), "f" * 64) == "mine"
    # a cap above a dataset's size leaves it (and, with nothing else reduced, its units) as they were
    unbounded = _grid(tmp_path, CONFIG.replace("n = 48\n", ""))
    capped = with_overrides(unbounded, Overrides(n=100_000))
    assert capped.datasets == unbounded.datasets and [u.unit_id for u in expand(capped)] == [
        u.unit_id for u in expand(unbounded)]
    assert with_overrides(unbounded, Overrides(n=7)).datasets[0].n == 7
    assert with_overrides(full, Overrides(n_restarts=3)).datasets == full.datasets
    with pytest.raises(InputError, match="already reduced"):
        with_overrides(reduced, Overrides(n=5))
    with pytest.raises(InputError, match="--n-iter must be a whole number >= 1"):
        Overrides(n_iter=0)


def test_the_full_grid_under_a_reduced_run_id_is_refused_naming_the_reduction(tmp_path):
    full = _grid(tmp_path)
    reduced = with_overrides(full, Overrides(n=10, n_iter=2, n_queries=5))
    units = expand(reduced)
    store = Store(tmp_path / "store", REDUCED)
    store.begin_run(reduced.grid_dict(), config_hash(reduced, units), [u.unit_id for u in units])
    message = "different grid.*the stored run used --n 10 --n-iter 2 --n-queries 5, this one the full budgets"
    with pytest.raises(InputError, match=f"{message}.*--new-run"):
        store.begin_run(full.grid_dict(), config_hash(full, expand(full)), [u.unit_id for u in expand(full)])


def test_dry_run_shows_the_reduction_and_its_run_id(tmp_path, capsys):
    (tmp_path / "c.toml").write_text(CONFIG)
    argv = ["sweep", str(tmp_path / "c.toml"), "--store", str(tmp_path / "store"), "--dry-run"]
    assert main([*argv, "--n", "10", "--n-iter", "2", "--n-queries", "5"]) == 0
    out = capsys.readouterr().out
    assert f"run {REDUCED} (config hash" in out and "4 units" in out
    assert "reduced: n=10, n_iter=2, n_queries=5 (a quick check, not the reference's numbers); datasets: " \
        "digits-test n=10" in out
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("run tiny (config hash") and "reduced" not in out
    with pytest.raises(SystemExit):
        main([*argv, "--n-queries", "0"])
    assert "--n-queries: must be >= 1" in capsys.readouterr().err


def test_a_reduced_sweep_is_a_run_of_its_own_beside_the_full_one(sweep_setup, reference, tmp_path):
    store = tmp_path / "store"
    shutil.copytree(reference["store"], store)  # the full run is there already
    done = run_sweep_cli(sweep_setup, store, "--n", "10", "--n-iter", "2", "--n-queries", "5")
    assert f"run {REDUCED}: 4 unit(s) run, 0 already finished" in done.stdout
    reduced = read_run(store, REDUCED)
    assert reduced.summary.height == 4 and reduced.summary["n"].to_list() == [10] * 4
    assert reduced.points.collect().height == 40 and reduced.invalid.height == 0 and not reduced.missing
    assert reduced.config["overrides"] == {"n": 10, "n_iter": 2, "n_queries": 5, "n_restarts": None}
    recorded = json.loads((store / REDUCED / "run.json").read_text())
    assert recorded["config"]["datasets"][0]["n"] == 10
    # the full run is untouched, and rerunning without overrides finds it finished: no unit mixes
    full = read_run(store, "tiny")
    assert_same_points(full.points.collect(), reference["points"])
    again = run_sweep_cli(sweep_setup, store)
    assert "run tiny: 0 unit(s) run, 4 already finished" in again.stdout
    assert sorted(p.name for p in store.iterdir()) == sorted(["tiny", REDUCED])
