"""Reading a sweep store as polars frames; only units whose files check out are returned.

``read_run`` validates every summary row and the points file it seals (``store.check_points_file``):
invalid units are listed in ``RunTables.invalid`` with the reason and left out of the tables, and the
units the run's grid lists but the store does not hold (yet) in ``RunTables.missing``.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import polars as pl

from alignjax.errors import InputError
from alignjax.sweep.store import Store, check_points_file, read_summary_file
from alignjax.sweep.tables import POINTS_SCHEMA, SUMMARY_SCHEMA

INVALID_SCHEMA = pl.Schema({"unit_id": pl.String, "file": pl.String, "reason": pl.String})
RUNS_SCHEMA = pl.Schema({"run_id": pl.String, "config_hash": pl.String, "units": pl.Int64,
                         "finished": pl.Int64, "folder": pl.String})


@dataclasses.dataclass
class RunTables:
    run_id: str
    config: dict[str, Any]
    summary: pl.DataFrame  # SUMMARY_SCHEMA, one row per valid unit
    points: pl.LazyFrame  # POINTS_SCHEMA, the valid units' points
    invalid: pl.DataFrame  # INVALID_SCHEMA
    missing: list[str]  # unit ids of the grid with no valid result


def run_ids(root: str | Path) -> list[str]:
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"sweep store {root} does not exist")
    return sorted(p.parent.name for p in root.glob("*/run.json"))


def list_runs(root: str | Path) -> pl.DataFrame:
    rows = []
    for run_id in run_ids(root):
        record = json.loads((Path(root) / run_id / "run.json").read_text())
        finished = len(list((Path(root) / run_id / "summary").glob("model=*/dataset=*/*.parquet")))
        rows.append({"run_id": run_id, "config_hash": record.get("config_hash"), "units": len(record.get("units", [])),
                     "finished": finished, "folder": str(Path(root) / run_id)})
    return pl.DataFrame(rows, schema=RUNS_SCHEMA)


def resolve_run_id(root: str | Path, run_id: str | None) -> str:
    ids = run_ids(root)
    if run_id is not None:
        if run_id not in ids:
            raise InputError(f"{root} has no run {run_id!r}; runs: {', '.join(ids) or '(none)'}")
        return run_id
    if len(ids) != 1:
        raise InputError(f"{root} holds {len(ids)} runs ({', '.join(ids) or 'none'}); choose one with --run-id")
    return ids[0]


def read_run(root: str | Path, run_id: str | None = None) -> RunTables:
    """The valid tables of one run (the only run of ``root`` when ``run_id`` is None)."""
    store = Store(root, resolve_run_id(root, run_id))
    record = store.run_record()
    summaries, point_files, invalid = [], [], []
    for path in store.summary_files():
        summary, problem = read_summary_file(path)
        unit_id = path.stem
        if summary is None or summary["unit_id"][0] != unit_id:
            invalid.append({"unit_id": unit_id, "file": str(path), "reason": problem or "unit id differs from file name"})
            continue
        points_path = path.parents[2].parent / "points" / path.parent.parent.name / path.parent.name / path.name
        problem = check_points_file(points_path, summary.row(0, named=True))
        if problem:
            invalid.append({"unit_id": unit_id, "file": str(points_path), "reason": problem})
            continue
        summaries.append(summary)
        point_files.append(points_path)
    summary = pl.concat(summaries) if summaries else pl.DataFrame(schema=SUMMARY_SCHEMA)
    points = (pl.scan_parquet([str(p) for p in point_files]) if point_files
              else pl.DataFrame(schema=POINTS_SCHEMA).lazy())
    valid = set(summary["unit_id"].to_list())
    missing = [u for u in record.get("units", []) if u not in valid]
    return RunTables(store.run_id, record.get("config", {}), summary.sort("unit_id"), points,
                     pl.DataFrame(invalid, schema=INVALID_SCHEMA), missing)
