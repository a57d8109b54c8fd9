"""Expanding a sweep config into units of work, and the hashes that identify them.

A *unit* is one (model or checkpoint, dataset, norm, eps, version, seed) evaluation: it writes one
per-point file and one summary row. Its id is a hash of everything that decides its result (the model
entry and checkpoint path, the dataset entry, the threat model, the attack configs as the library
builds them, the seed), so a finished unit is recognised across restarts and processes. The config hash
covers the grid (with its command-line reductions, ``overrides.py``) and every unit id: a changed grid,
or a library whose attack defaults changed, gives a different hash (``store.begin_run`` refuses it
under the same run id). Checkpoint files are identified by their path (reading every file at each
start would cost minutes on large sweeps): a file replaced under the same path is not noticed, so
give new weights a new path.

A *work item* is what one process runs at a time: one unit, or the units of a stack group (the
checkpoints of one architecture under the same dataset, threat model, version and seed), which
``units.run_stacked`` attacks as one vmapped program.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from pathlib import Path
from typing import Any

from alignjax.attacks import presets
from alignjax.errors import InputError
from alignjax.sweep.config import ModelEntry, SweepConfig, VersionEntry

STORE_FORMAT = 1  # bump when the meaning of stored rows changes


@dataclasses.dataclass(frozen=True)
class Unit:
    unit_id: str
    model: str
    checkpoint: str  # '' for a registry model, else the checkpoint's label within its model entry
    dataset: str
    norm: str
    eps: float
    version: str
    seed: int
    attacks: tuple[Any, ...]  # attack configs in cascade order
    stack_group: str  # '' unless the unit may run stacked with others
    stack_auto: bool = False  # stacked only on accelerators (the model entry's stack = "auto")


@dataclasses.dataclass(frozen=True)
class WorkItem:
    units: tuple[Unit, ...]
    key: str  # the stack group's id, or the unit's: what a process locks while running the item

    @property
    def stacked(self) -> bool:
        return len(self.units) > 1



def _digest(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=repr).encode()).hexdigest()


def safe_name(text: str) -> str:
    """A file-system-safe partition value (letters, digits, '.', '_', '-', '+')."""
    return re.sub(r"[^A-Za-z0-9._+-]", "_", text) or "_"


def checkpoint_labels(entry: ModelEntry) -> tuple[str, ...]:
    """Each checkpoint's label: its file stem, or index-stem when stems repeat."""
    stems = [Path(c).stem for c in entry.checkpoints]
    if len(set(stems)) == len(stems):
        return tuple(stems)
    return tuple(f"{i}-{s}" for i, s in enumerate(stems))


def model_classes(entry: ModelEntry) -> int:
    if entry.arch is not None:
        return int(entry.num_classes)  # type: ignore[arg-type]
    from alignjax.models import get_model_spec

    return get_model_spec(entry.name).num_classes


def model_identity(entry: ModelEntry) -> dict[str, Any]:
    """What identifies a model's weights in a unit id (registry: its source and digest)."""
    if entry.arch is not None:
        return {"arch": entry.arch, "num_classes": entry.num_classes, "input_shape": entry.input_shape}
    from alignjax.models import get_model_spec

    try:
        spec = get_model_spec(entry.name)
    except KeyError as err:
        raise InputError(f"models: {err.args[0]}") from None
    return {"registry": spec.name, "arch": spec.arch, "source": spec.source, "sha256": spec.sha256,
            "arch_kwargs": repr(spec.arch_kwargs), "preprocessing": repr(spec.preprocessing)}


def version_attacks(version: VersionEntry, norm: str, eps: float, n_classes: int) -> tuple[Any, ...]:
    """The attack configs of a version at one threat model (presets with the version's settings)."""
    try:
        if version.attacks:
            configs = []
            for entry in version.attacks:
                base = presets.custom([entry.attack], norm, eps)[0]
                configs.append(_with_settings(base, dict(entry.settings), f"version {version.name}", strict=True))
            return tuple(configs)
        base_configs = presets.version_attacks(version.base or version.name, norm, eps, n_classes=n_classes)
        settings = dict(version.settings)
        unused = set(settings) - {f.name for c in base_configs for f in dataclasses.fields(c)}
        if unused:
            raise InputError(f"version {version.name}: no attack has setting(s) {sorted(unused)}")
        return tuple(_with_settings(c, settings, f"version {version.name}", strict=False) for c in base_configs)
    except (ValueError, TypeError) as err:
        if isinstance(err, InputError):
            raise
        raise InputError(f"version {version.name} at {norm} eps {eps:g}: {err}") from None


def _with_settings(config: Any, settings: dict[str, Any], where: str, *, strict: bool) -> Any:
    names = {f.name for f in dataclasses.fields(config)} - {"norm", "eps"}
    unknown = set(settings) - names
    if strict and unknown:
        raise InputError(f"{where}: {config.name} has no setting(s) {sorted(unknown)}; it has {sorted(names)}")
    return dataclasses.replace(config, **{k: v for k, v in settings.items() if k in names})


def expand(config: SweepConfig) -> tuple[Unit, ...]:
    """Every unit of the grid, model-major (a model's units run one after another)."""
    units = []
    for model in config.models:
        identity = model_identity(model)  # checks registry names first
        n_classes = model_classes(model)
        labels = checkpoint_labels(model) if model.arch is not None else ("",)
        paths = model.checkpoints if model.arch is not None else ("",)
        stackable = model.arch is not None and model.stack is not False and len(paths) > 1
        for dataset in config.datasets:
            for threat in config.threats:
                for eps in threat.eps:
                    for version in config.versions:
                        attacks = presets.with_budget(version_attacks(version, threat.norm, eps, n_classes),
                                                      **config.overrides.budget())
                        for seed in config.seeds:
                            common = {"format": STORE_FORMAT, "model": model.name, "identity": identity,
                                      "dataset": dataclasses.asdict(dataset), "norm": threat.norm,
                                      "eps": repr(eps), "version": version.name,
                                      "attacks": [repr(a) for a in attacks], "seed": seed}
                            group = _digest(common)[:16] if stackable else ""
                            for label, path in zip(labels, paths, strict=True):
                                unit_id = _digest({**common, "checkpoint": path})[:16]
                                units.append(Unit(unit_id, model.name, label, dataset.name, threat.norm, eps,
                                                  version.name, seed, attacks, group, model.stack == "auto"))
    ids = [u.unit_id for u in units]
    if len(set(ids)) != len(ids):
        raise InputError("config: two grid points are identical (a threat model or seed listed twice?)")
    return tuple(units)


def work_items(units: tuple[Unit, ...] | list[Unit], *, accelerator: bool = False) -> tuple[WorkItem, ...]:
    """Units grouped into work items (stack groups together; "auto" groups only on an ``accelerator``),
    in first-appearance order."""
    groups: dict[str, list[Unit]] = {}
    for unit in units:
        stacked = unit.stack_group and (accelerator or not unit.stack_auto)
        groups.setdefault(unit.stack_group if stacked else unit.unit_id, []).append(unit)
    return tuple(WorkItem(tuple(members), key) for key, members in groups.items())


def config_hash(config: SweepConfig, units: tuple[Unit, ...]) -> str:
    """sha256 of the grid and of every unit id: equal hashes mean equal results."""
    return _digest({"format": STORE_FORMAT, "grid": config.grid_dict(), "units": [u.unit_id for u in units]})
