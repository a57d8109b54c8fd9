"""``alignjax sweep CONFIG``: run (or resume) a grid of AutoAttack evaluations into a parquet store."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from alignjax import compilation_cache
from alignjax.commands.arguments import positive_int

DEFAULT_STORE = Path("alignjax-sweeps")


def register(subparsers: argparse._SubParsersAction) -> None:
    sweep = subparsers.add_parser(
        "sweep", help="run a grid of models x datasets x eps x versions x seeds (resumable)",
        description="Run a sweep config (.toml or .py) into a partitioned parquet store. Rerunning the same "
        "command skips finished units and resumes interrupted ones; a changed grid is refused under the same "
        "run id. Several processes (hosts) split the units with --coordinator/--num-processes/--process-id "
        "(jax.distributed); each process spreads its batches over its local devices.")
    sweep.add_argument("config", type=Path, help="sweep config (.toml or .py)")
    sweep.add_argument("--store", type=Path, default=DEFAULT_STORE, help=f"store folder (default {DEFAULT_STORE})")
    run = sweep.add_mutually_exclusive_group()
    run.add_argument("--run-id", help="run id inside the store (default: the config's name)")
    run.add_argument("--new-run", action="store_true", help="run id <name>-<config hash>: a changed grid gets "
                     "its own run instead of being refused")
    sweep.add_argument("--batch-size", type=int, default=500, help="points per compiled batch (default 500)")
    budget = sweep.add_argument_group(
        "reduced runs",
        "quick checks and CI (not the reference's numbers): cap every dataset and override every version's "
        "budgets as `alignjax attack` does. They are part of the grid: the run id becomes "
        "<name>-reduced-<what was reduced> (e.g. tiny-reduced-n10-iter2), so a reduced run never shares a "
        "run with the full one, and run.json records them")
    budget.add_argument("--n", type=positive_int, metavar="N",
                        help="evaluate at most the first N points of every dataset")
    budget.add_argument("--n-iter", type=positive_int, metavar="N", help="iterations of APGD and FAB")
    budget.add_argument("--n-queries", type=positive_int, metavar="N", help="queries of Square")
    budget.add_argument("--n-restarts", type=positive_int, metavar="N", help="restarts of every attack")
    sweep.add_argument("--checkpoint-seconds", type=float,
                       help="save mid-unit state at most this often (default: the config's, 60)")
    sweep.add_argument("--json-log", help="write JSON-lines progress events to this file ('-': stdout; "
                       "human-readable lines then go to stderr)")
    sweep.add_argument("--log-interval", type=float, default=1.0,
                       help="seconds between JSON progress events inside a unit (0: after every batch)")
    sweep.add_argument("--no-progress", action="store_true",
                       help="no progress (a bar on a terminal, plain lines otherwise)")
    sweep.add_argument("--no-checks", action="store_true", help="skip the reference's sanity checks")
    sweep.add_argument("--verbose", action="store_true", help="print every attack's log lines")
    sweep.add_argument("--dry-run", action="store_true", help="list the units and their state, run nothing")
    cache = sweep.add_mutually_exclusive_group()
    cache.add_argument("--compilation-cache", type=Path, metavar="DIR",
                       help="folder of the persistent XLA compilation cache, which is on by default in "
                       "$ALIGNJAX_CACHE/xla or ~/.cache/alignjax/xla (a subfolder per jax version is made "
                       "in it)")
    compilation_cache.add_argument(cache)
    dist = sweep.add_argument_group("several processes (jax.distributed)")
    dist.add_argument("--coordinator", help="HOST:PORT of process 0's coordinator")
    dist.add_argument("--num-processes", type=int, help="how many processes share the sweep")
    dist.add_argument("--process-id", type=int, help="this process's index, 0..num-processes-1")
    dist.add_argument("--distributed-auto", action="store_true",
                      help="let JAX detect the cluster (Slurm, Open MPI, Cloud TPU)")
    sweep.set_defaults(run=cmd_sweep)


def cmd_sweep(args: argparse.Namespace) -> int:
    from alignjax.errors import InputError
    from alignjax.sweep import distributed
    from alignjax.sweep.config import load_config

    if args.batch_size < 1:
        raise InputError(f"--batch-size must be positive, got {args.batch_size}")
    config = _reduced(load_config(args.config), args)
    if args.dry_run:
        return _dry_run(config, args)
    process = distributed.initialize(args.coordinator, args.num_processes, args.process_id,
                                     auto=args.distributed_auto)
    # after jax.distributed: learning the platform for the cache's folder initialises the backend
    compilation_cache.enable_for_command(args, root=args.compilation_cache)
    json_stream, close = None, False
    if args.json_log == "-":
        json_stream = sys.stdout
    elif args.json_log:
        json_stream, close = open(args.json_log, "a"), True  # noqa: SIM115 - closed below
    human = sys.stderr if json_stream is sys.stdout else sys.stdout

    def say(line: str) -> None:
        print(line, file=human, flush=True)

    from alignjax.sweep.runner import SweepOptions, run_sweep

    options = SweepOptions(batch_size=args.batch_size, run_id=args.run_id, new_run=args.new_run,
                           checkpoint_seconds=args.checkpoint_seconds, bar=not args.no_progress,
                           json_log=json_stream, log_interval=args.log_interval,
                           run_checks=not args.no_checks)
    try:
        report = run_sweep(config, args.store, options=options, process=process,
                           log=say if args.verbose else _quiet(say))
    finally:
        if close:
            json_stream.close()  # type: ignore[union-attr]
        distributed.shutdown(process)
    who = f"process {process.index}/{process.count}: " if process.count > 1 else ""
    say(f"{who}run {report.run_id}: {report.ran} unit(s) run, {report.skipped} already finished, "
        f"{report.recomputed} invalid result(s) recomputed, {report.busy} held by other processes "
        f"({report.seconds:.1f} s); {report.units_owned} of {report.units_total} units are this process's\n"
        f"store: {report.folder}  (read it with `alignjax results {args.store} --run-id {report.run_id}`)")
    return 0


def _reduced(config, args: argparse.Namespace):
    """The config with --n/--n-iter/--n-queries/--n-restarts applied (``alignjax.sweep.overrides``)."""
    from alignjax.sweep.overrides import Overrides, with_overrides

    overrides = Overrides(n=args.n, n_iter=args.n_iter, n_queries=args.n_queries, n_restarts=args.n_restarts)
    return with_overrides(config, overrides) if overrides.active else config


def _quiet(say):
    """Passes on the sweep's own lines (recomputations, resumes, warnings), not each attack's log."""
    def log(line: str) -> None:
        if line.startswith(("unit ", "work item ", "resuming", "Warning")):
            say(line)

    return log


def _dry_run(config, args: argparse.Namespace) -> int:
    from alignjax.sweep import grid
    from alignjax.sweep.runner import SweepOptions, run_id_for
    from alignjax.sweep.store import Store

    units = grid.expand(config)
    config_hash = grid.config_hash(config, units)
    run_id = run_id_for(config, SweepOptions(run_id=args.run_id, new_run=args.new_run), config_hash)
    store = Store(args.store, run_id)
    import jax

    items = grid.work_items(units, accelerator=jax.local_devices()[0].platform != "cpu")
    grouped = {u.unit_id for item in items if item.stacked for u in item.units}
    print(f"run {run_id} (config hash {config_hash[:12]}): {len(units)} units in {len(items)} work items")
    if config.overrides.active:
        print(f"reduced: {config.overrides.describe()} (a quick check, not the reference's numbers); datasets: "
              + ", ".join(f"{d.name} n={d.n if d.n is not None else 'all'}" for d in config.datasets))
    for unit in units:
        state = store.status(unit)
        status = "finished" if state.finished else state.reason
        stacked = " stacked" if unit.unit_id in grouped else ""
        print(f"  {unit.unit_id}  {unit.model} {unit.checkpoint} | {unit.dataset} | {unit.norm} {unit.eps:g} | "
              f"{unit.version} | seed {unit.seed}{stacked}: {status}")
    return 0
