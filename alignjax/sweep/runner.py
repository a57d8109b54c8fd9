"""Running a sweep: expand the grid, take this process's share, skip finished units, run the rest.

Rerunning the same command resumes: units whose files check out are skipped, invalid ones (corrupt,
partial, unsealed) are deleted and recomputed, and an interrupted unit resumes from its cascade state.
A different grid under the same run id is refused (``Store.begin_run``); a grid reduced on the command
line (``overrides.py``) runs under a run id of its own. Units of one model run one after another so
each model is loaded (and each attack compiled) once per process.
"""

from __future__ import annotations

import dataclasses
import datetime
import platform
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import jax

from alignjax.attacks.engine.cascade import attack_labels
from alignjax.sweep import grid
from alignjax.sweep.config import SweepConfig
from alignjax.sweep.distributed import ProcessInfo, owned
from alignjax.sweep.progress import Progress
from alignjax.sweep.sources import LoadedModel, Points, dataset_size, load_model_entry, load_points
from alignjax.sweep.store import Store
from alignjax.sweep.tables import points_frame
from alignjax.sweep.units import UnitOutcome, run_stacked, run_unit


@dataclasses.dataclass(frozen=True)
class SweepOptions:
    batch_size: int = 500
    run_id: str | None = None  # default: the config's name
    new_run: bool = False  # run id <name>-<config hash> instead
    checkpoint_seconds: float | None = None  # default: the config's
    bar: bool = True
    json_log: TextIO | None = None
    log_interval: float = 1.0  # seconds between JSON progress events within a unit (0: every batch)
    run_checks: bool = True


@dataclasses.dataclass
class SweepReport:
    run_id: str
    folder: Path
    units_total: int
    units_owned: int
    skipped: int = 0
    ran: int = 0
    recomputed: int = 0
    busy: int = 0  # units another process held
    seconds: float = 0.0


def run_id_for(config: SweepConfig, options: SweepOptions, config_hash: str) -> str:
    """``--run-id``, else the config's name, ``<name>-reduced-<label>`` for a reduced grid (its own run, never
    the full grid's: ``overrides.py``), with ``-<config hash>`` for ``--new-run``."""
    if options.run_id:
        return options.run_id
    name = grid.safe_name(config.name)
    if config.overrides.active:
        name = f"{name}-reduced-{config.overrides.label()}"
    return f"{name}-{config_hash[:10]}" if options.new_run else name


def environment(process: ProcessInfo) -> dict[str, Any]:
    """Device, library versions and git revision recorded in every summary row."""
    import flax

    import alignjax

    try:
        revision = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False,
                                  cwd=Path(__file__).parent).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        revision = None
    device = jax.local_devices()[0]
    return {"device": str(device), "device_kind": device.device_kind, "n_local_devices": jax.local_device_count(),
            "process_index": process.index, "process_count": process.count,
            "alignjax_version": alignjax.__version__, "jax_version": jax.__version__,
            "jaxlib_version": getattr(jax.lib, "__version__", None) or jax.__version__,
            "flax_version": flax.__version__, "python_version": platform.python_version(),
            "git_revision": revision}


class _Models:
    """The current model entry's logits function and the variables of its checkpoints (one entry held)."""

    def __init__(self, config: SweepConfig):
        self.entries = {m.name: m for m in config.models}
        self.name: str | None = None
        self.loaded: dict[str, LoadedModel] = {}

    def get(self, unit: grid.Unit) -> LoadedModel:
        entry = self.entries[unit.model]
        if self.name != entry.name:
            self.name, self.loaded = entry.name, {}
        if unit.checkpoint not in self.loaded:
            path = entry.checkpoints[grid.checkpoint_labels(entry).index(unit.checkpoint)] if entry.arch else ""
            model = load_model_entry(entry, path)
            first = next(iter(self.loaded.values()), None)
            if first is not None:  # one logits function per entry: compiled attacks are reused
                model = dataclasses.replace(model, logits_fn=first.logits_fn)
            self.loaded[unit.checkpoint] = model
        return self.loaded[unit.checkpoint]


class _Points:
    def __init__(self, config: SweepConfig):
        self.entries = {d.name: d for d in config.datasets}
        self.key: Any = None
        self.points: Points | None = None

    def get(self, unit: grid.Unit, model: LoadedModel) -> Points:
        key = (unit.dataset, repr(model.preprocessing), model.input_shape)
        if key != self.key:
            self.key, self.points = key, load_points(self.entries[unit.dataset], model)
        return self.points  # type: ignore[return-value]


def _attack_progress(progress: Progress, attacks) -> Callable[[str, int, int, float], None]:
    labels = attack_labels(attacks)
    state = {"position": 0}

    def report(name: str, done: int, total: int, robust_accuracy: float) -> None:
        while state["position"] < len(labels) - 1 and labels[state["position"]] != name:
            state["position"] += 1
        progress.attack_progress(state["position"], name, done, total, robust_accuracy)

    return report


SINGLE_PROCESS = ProcessInfo()
DEFAULT_OPTIONS = SweepOptions()


def run_sweep(config: SweepConfig, store_root: str | Path, *, options: SweepOptions = DEFAULT_OPTIONS,
              process: ProcessInfo = SINGLE_PROCESS, log: Callable[[str], None] = print) -> SweepReport:
    """Runs this process's share of the sweep into ``store_root``; returns what it did."""
    started = time.time()
    units = grid.expand(config)
    config_hash = grid.config_hash(config, units)
    store = Store(store_root, run_id_for(config, options, config_hash))
    store.begin_run(config.grid_dict(), config_hash, [u.unit_id for u in units])
    accelerator = jax.local_devices()[0].platform != "cpu"
    items = owned(grid.work_items(units, accelerator=accelerator), process)
    report = SweepReport(store.run_id, store.folder, len(units), sum(len(i.units) for i in items))
    pending = [item for item in (_unfinished(item, store) for item in items) if item is not None]
    report.skipped = report.units_owned - sum(len(i.units) for i in pending)

    sizes = {d.name: dataset_size(d) for d in config.datasets if any(i.units[0].dataset == d.name for i in pending)}
    progress = Progress(units_total=sum(len(i.units) for i in pending),
                        points_total=sum(sizes[i.units[0].dataset] * len(i.units) for i in pending),
                        process_index=process.index, bar=options.bar, json_log=options.json_log,
                        interval=options.log_interval)
    progress.start(run_id=store.run_id, config_hash=config_hash, folder=str(store.folder),
                   units_owned=report.units_owned, units_finished_before=report.skipped)
    context = _Context(config, store, progress, options, environment(process), config_hash, progress.wrap(log))
    try:
        for item in pending:
            with store.claim(item.key) as claimed:
                if not claimed:
                    context.log(f"work item {item.key} is held by another process; left to it")
                    report.busy += len(item.units)
                    continue
                # only the holder of the item's lock repairs it (another process may have just finished it)
                todo = _unfinished(item, store, repair=True, report=report, log=context.log,
                                   on_invalid=progress.unit_invalid)
                if todo is not None:
                    _run_item(todo, context)
                    report.ran += len(todo.units)
    finally:
        report.seconds = time.time() - started
        progress.close(ran=report.ran, skipped=report.skipped, recomputed=report.recomputed, busy=report.busy)
    return report


def _unfinished(item: grid.WorkItem, store: Store, *, repair: bool = False, report: SweepReport | None = None,
                log: Callable[[str], None] = print,
                on_invalid: Callable[[grid.Unit, str], None] | None = None) -> grid.WorkItem | None:
    """The item's units without a valid result; with ``repair`` (lock held), invalid results are
    reported, deleted and counted."""
    todo = []
    for unit in item.units:
        status = store.status(unit)
        if status.finished:
            continue
        if repair and status.reason != "not run yet":
            log(f"unit {unit.unit_id} ({unit.model} {unit.checkpoint}): {status.reason}; recomputing")
            store.discard(unit)
            if on_invalid is not None:
                on_invalid(unit, status.reason)
            if report is not None:
                report.recomputed += 1
        todo.append(unit)
    return grid.WorkItem(tuple(todo), item.key) if todo else None


@dataclasses.dataclass
class _Context:
    config: SweepConfig
    store: Store
    progress: Progress
    options: SweepOptions
    env: dict[str, Any]
    config_hash: str
    log: Callable[[str], None]

    def __post_init__(self):
        self.models, self.datasets = _Models(self.config), _Points(self.config)
        self.entries = {m.name: m for m in self.config.models}
        seconds = self.options.checkpoint_seconds
        self.checkpoint_seconds = self.config.checkpoint_seconds if seconds is None else seconds


def _run_item(item: grid.WorkItem, ctx: _Context) -> None:
    """Runs one work item (a unit, or a stack group) and writes each unit's files."""
    first = item.units[0]
    loaded = [ctx.models.get(u) for u in item.units]
    points = ctx.datasets.get(first, loaded[0])
    ctx.progress.unit_start(item.units, len(points.y))
    started = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    for unit in item.units:
        ctx.store.clear_temporary(unit)
    on_progress = _attack_progress(ctx.progress, first.attacks)
    if item.stacked:
        outcomes = run_stacked(loaded[0].logits_fn, [m.variables for m in loaded], points.x, points.y,
                               attacks=first.attacks, key=jax.random.key(first.seed),
                               batch_size=ctx.options.batch_size, progress=on_progress,
                               log=ctx.log, run_checks=ctx.options.run_checks)
    else:
        outcomes = [run_unit(first, loaded[0].logits_fn, loaded[0].variables, points.x, points.y,
                             batch_size=ctx.options.batch_size, state_dir=ctx.store.state_dir(first),
                             checkpoint_seconds=ctx.checkpoint_seconds, progress=on_progress, log=ctx.log,
                             run_checks=ctx.options.run_checks)]
    finished = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    for unit, outcome in zip(item.units, outcomes, strict=True):
        summary = _summary_row(unit, outcome, len(item.units), started, finished, ctx.env, ctx.config_hash,
                               ctx.store.run_id, ctx.entries[unit.model].robustbench)
        ctx.store.write_unit(unit, points_frame(unit, points.source_index, points.y, outcome), summary)
        ctx.log(f"unit {unit.unit_id} {unit.model} {unit.checkpoint} | {unit.dataset} | {unit.norm} {unit.eps:g} | "
                f"{unit.version} | seed {unit.seed}: clean {outcome.clean_accuracy:.2f}%, robust "
                f"{outcome.robust_accuracy:.2f}% ({outcome.seconds:.1f} s)")
    ctx.progress.unit_done(item.units, outcomes[0].seconds, [o.robust_accuracy for o in outcomes])


def _summary_row(unit: grid.Unit, outcome: UnitOutcome, stack_size: int, started: str, finished: str,
                 env: dict[str, Any], config_hash: str, run_id: str, robustbench: str | None) -> dict[str, Any]:
    return {
        "unit_id": unit.unit_id, "model": unit.model, "checkpoint": unit.checkpoint, "dataset": unit.dataset,
        "norm": unit.norm, "eps": unit.eps, "version": unit.version, "seed": unit.seed,
        "n": len(outcome.robust), "clean_accuracy": outcome.clean_accuracy,
        "robust_accuracy": outcome.robust_accuracy, "attacks": list(outcome.attack_names),
        "robust_accuracy_after": [float(v) for v in outcome.robust_accuracy_after],
        "attack_seconds": [float(s) for s in outcome.attack_seconds], "seconds": float(outcome.seconds),
        "started": started, "finished": finished, "stack_size": stack_size, **env,
        "config_hash": config_hash, "run_id": run_id, "robustbench": robustbench,
        "warnings": list(outcome.warnings),
    }
