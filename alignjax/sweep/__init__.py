"""Sweeps: a grid of models x datasets x threat models x AutoAttack versions x seeds, resumable,
split over local devices (by ``run_autoattack``) and over processes (``jax.distributed``), written to
a partitioned parquet store and read back as polars frames.
"""

from alignjax.sweep.config import SweepConfig, config_from_dict, load_config
from alignjax.sweep.distributed import ProcessInfo
from alignjax.sweep.grid import Unit, WorkItem, config_hash, expand, work_items
from alignjax.sweep.overrides import Overrides, with_overrides
from alignjax.sweep.published import compare_with_published
from alignjax.sweep.reader import RunTables, list_runs, read_run
from alignjax.sweep.runner import SweepOptions, SweepReport, run_sweep
from alignjax.sweep.store import Store
from alignjax.sweep.tables import POINTS_SCHEMA, SUMMARY_SCHEMA, robust_after_long
from alignjax.sweep.units import run_stacked, stack_variables

__all__ = [
    "POINTS_SCHEMA",
    "SUMMARY_SCHEMA",
    "Overrides",
    "ProcessInfo",
    "RunTables",
    "Store",
    "SweepConfig",
    "SweepOptions",
    "SweepReport",
    "Unit",
    "WorkItem",
    "compare_with_published",
    "config_from_dict",
    "config_hash",
    "expand",
    "list_runs",
    "load_config",
    "read_run",
    "robust_after_long",
    "run_stacked",
    "run_sweep",
    "stack_variables",
    "with_overrides",
    "work_items",
]
