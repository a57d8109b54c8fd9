"""Config files, grid expansion, unit ids and the config hash; a changed grid is refused or gets a new run."""

from __future__ import annotations

import dataclasses

import pytest

from alignjax.attacks import APGDConfig, SquareConfig, presets
from alignjax.cli import main
from alignjax.errors import InputError
from alignjax.models import MODELS
from alignjax.sweep import config_hash, expand, load_config, work_items
from alignjax.sweep.config import config_from_dict, parse_eps
from alignjax.sweep.distributed import ProcessInfo, owned
from alignjax.sweep.runner import SweepOptions, run_id_for
from alignjax.sweep.store import Store
from tests.conftest import REPO_ROOT
from tests.sweep.helpers import CONFIG


def _grid(tmp_path, text: str = CONFIG):
    (tmp_path / "c.toml").write_text(text)
    return load_config(tmp_path / "c.toml")


def test_expansion_counts_ids_and_stack_groups(tmp_path):
    config = _grid(tmp_path, CONFIG.replace("eps = [0.1]", 'eps = [0.1, "0.5/255"]').replace("seeds = [0]",
                                                                                                 "seeds = [0, 3]"))
    units = expand(config)
    assert len(units) == 2 * 2 * 2 * 2  # models x checkpoints x eps x seeds
    assert len({u.unit_id for u in units}) == len(units)
    assert {u.eps for u in units} == {0.1, 0.5 / 255}
    items = work_items(units)
    assert [len(i.units) for i in items] == [2] * 4 + [1] * 8  # stacked groups, then one-by-one units
    stacked = [i for i in items if i.stacked]
    assert all({u.checkpoint for u in i.units} == {"seed0", "seed1"} for i in stacked)
    tiny = units[0].attacks
    assert tiny == (dataclasses.replace(presets.custom(["apgd-ce"], "Linf", 0.1)[0], n_iter=4),
                    SquareConfig("Linf", 0.1, n_queries=12))
    # ids are a function of the grid point, stable across loads, independent of the stack flag
    again = expand(_grid(tmp_path, CONFIG.replace('eps = [0.1]', 'eps = [0.1, "0.5/255"]')
                         .replace("seeds = [0]", "seeds = [0, 3]").replace("stack = true", "stack = false")))
    assert [u.unit_id for u in again] == [u.unit_id for u in units]
    # stack = "auto" (the default): groups on accelerators, one by one on CPU; same units either way
    auto = expand(_grid(tmp_path, CONFIG.replace("stack = true", 'stack = "auto"')))
    assert [len(i.units) for i in work_items(auto, accelerator=True)] == [2, 1, 1]
    assert [len(i.units) for i in work_items(auto, accelerator=False)] == [1, 1, 1, 1]
    assert [len(i.units) for i in work_items(expand(config), accelerator=False)] == [2] * 4 + [1] * 8


def test_config_hash_follows_the_grid_not_run_options(tmp_path):
    config = _grid(tmp_path)
    base = config_hash(config, expand(config))
    assert config_hash(config, expand(config)) == base
    same = dataclasses.replace(config, checkpoint_seconds=5.0)  # a run option: same results
    assert config_hash(same, expand(same)) == base
    for changed in (CONFIG.replace("eps = [0.1]", "eps = [0.2]"), CONFIG.replace("n_iter = 4", "n_iter = 5"),
                    CONFIG.replace("n = 48", "n = 40"), CONFIG.replace("seeds = [0]", "seeds = [1]")):
        other = _grid(tmp_path, changed)
        assert config_hash(other, expand(other)) != base


def test_changed_grid_is_refused_under_the_same_run_id_or_gets_a_new_one(tmp_path):
    config = _grid(tmp_path)
    units = expand(config)
    first = config_hash(config, units)
    store = Store(tmp_path / "store", run_id_for(config, SweepOptions(), first))
    store.begin_run(config.grid_dict(), first, [u.unit_id for u in units])
    store.begin_run(config.grid_dict(), first, [u.unit_id for u in units])  # same grid: resumes
    changed = _grid(tmp_path, CONFIG.replace("eps = [0.1]", "eps = [0.2]"))
    changed_units = expand(changed)
    second = config_hash(changed, changed_units)
    with pytest.raises(InputError, match="different grid.*--new-run"):
        Store(tmp_path / "store", run_id_for(changed, SweepOptions(), second)).begin_run(
            changed.grid_dict(), second, [u.unit_id for u in changed_units])
    new_id = run_id_for(changed, SweepOptions(new_run=True), second)
    assert new_id == f"tiny-{second[:10]}"
    Store(tmp_path / "store", new_id).begin_run(changed.grid_dict(), second, [u.unit_id for u in changed_units])


def test_custom_versions_presets_and_python_configs(tmp_path):
    data = {"name": "p", "models": [{"name": "digits_cnn"}], "datasets": [{"name": "d", "kind": "digits"}],
            "threats": [{"norm": "L2", "eps": 0.5}], "versions": ["standard", "paper", "few"],
            "version": {"few": {"base": "standard", "settings": {"n_iter": 7, "n_queries": 30}}}}
    config = config_from_dict(data)
    units = expand(config)
    by_version = {u.version: u.attacks for u in units}
    assert by_version["standard"] == presets.standard("L2", 0.5)
    assert by_version["paper"] == presets.paper("L2", 0.5, 10)
    assert [getattr(a, "n_iter", None) for a in by_version["few"]] == [7, 7, 7, None]
    assert by_version["few"][3] == SquareConfig("L2", 0.5, n_queries=30, p_init=0.8)
    (tmp_path / "grid.py").write_text(f"CONFIG = {data!r}\n")
    assert expand(load_config(tmp_path / "grid.py")) == units


@pytest.mark.parametrize("change, message", [
    ({"threats": [{"norm": "Linf", "eps": "8/0"}]}, "eps must be a number"),
    ({"threats": [{"norm": "Linf", "eps": -1}]}, "positive"),
    ({"threats": [{"norm": "L3", "eps": 1}]}, "norm must be"),
    ({"models": [{"name": "x", "arch": "small_cnn"}]}, "'arch' and 'checkpoints' go together"),
    ({"models": [{"name": "nope"}]}, "unknown model 'nope'"),
    ({"datasets": [{"name": "d", "kind": "tiff"}]}, "kind must be one of"),
    ({"datasets": [{"name": "d", "kind": "npz"}]}, "needs path"),
    ({"versions": ["fast"]}, "neither a preset"),
    ({"version": {"x": {"attacks": [{"attack": "apgd-ce", "n_queries": 3}]}}, "versions": ["x"]}, "no setting"),
    ({"seeds": [0.5]}, "seeds must be integers"),
    ({"models": [{"name": "x", "arch": "small_cnn", "checkpoints": ["a"], "num_classes": 10,
                  "input_shape": [8, 8, 1], "stack": "yes"}]}, "stack must be"),
    ({"colour": 1}, "unknown key"),
])
def test_bad_configs_fail_with_one_clear_message(change, message):
    data = {"name": "p", "models": [{"name": "digits_cnn"}], "datasets": [{"name": "d", "kind": "digits"}],
            "threats": [{"norm": "Linf", "eps": 0.1}], "versions": ["standard"], **change}
    with pytest.raises(InputError, match=message):
        expand(config_from_dict(data))


def test_eps_fractions_and_process_blocks():
    assert parse_eps("0.5/255", "t") == 0.5 / 255 and parse_eps("1e-3", "t") == 0.001 and parse_eps(8, "t") == 8.0
    items = list(range(11))
    for count in (1, 2, 3, 4, 11, 12):
        blocks = [owned(items, ProcessInfo(i, count)) for i in range(count)]
        assert [i for block in blocks for i in block] == items  # disjoint, covering, in order
        assert max(map(len, blocks)) - min(map(len, blocks)) <= 1


def test_shipped_configs_expand(capsys):
    paper = load_config(REPO_ROOT / "configs" / "paper_grid.toml")
    units = expand(paper)
    assert {u.eps for u in units} == {0.001, 0.5 / 255, 1 / 255} and {u.version for u in units} == {"paper",
                                                                                                   "standard"}
    assert paper.datasets[0].subset == "paper" and paper.datasets[0].preprocessing == "brainscore"
    pool = sorted(name for name, spec in MODELS.items() if "paper" in spec.pools)
    assert [m.name for m in paper.models] == pool and len(pool) >= 100
    first = next(u for u in units if u.version == "paper")
    assert first.attacks == presets.paper("Linf", first.eps, 1000)
    assert isinstance(first.attacks[0], APGDConfig) and first.attacks[1].n_target_classes == 999
    assert main(["sweep", str(REPO_ROOT / "configs" / "digits_example.toml"), "--dry-run"]) == 0
    assert "12 units" in capsys.readouterr().out
    assert main(["sweep", "missing.toml"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["sweep", str(REPO_ROOT / "configs")]) == 2
    err = capsys.readouterr().err
    assert "is a folder" in err and "Traceback" not in err


def test_pools_expand_to_their_registry_models_and_explicit_entries_win():
    base = {"name": "p", "datasets": [{"name": "d", "kind": "digits"}], "threats": [{"norm": "Linf", "eps": [0.1]}],
            "versions": ["standard"]}
    config = config_from_dict({**base, "pools": ["paper"], "models": [{"name": "brainscore/alexnet"}]})
    names = [m.name for m in config.models]
    assert names[0] == "brainscore/alexnet" and names.count("brainscore/alexnet") == 1
    assert set(names) == {name for name, spec in MODELS.items() if "paper" in spec.pools}
    with pytest.raises(InputError, match="unknown pool 'papr'.*paper"):
        config_from_dict({**base, "pools": ["papr"]})
    with pytest.raises(InputError, match="pools must be a list"):
        config_from_dict({**base, "pools": "paper"})
    with pytest.raises(InputError, match="no models"):
        config_from_dict(base)
