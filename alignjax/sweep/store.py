"""The result store: a folder of hive-partitioned parquet files, written atomically, checked on read.

Layout under ``<root>/<run_id>/``::

    run.json                                       config, config hash, unit ids (written once)
    points/model=<m>/dataset=<d>/<unit_id>.parquet  one row per point
    summary/model=<m>/dataset=<d>/<unit_id>.parquet one row per unit, written last
    state/<unit_id>/                                mid-unit cascade state (deleted when the unit ends)
    locks/<item>.lock                               held (flock) by the process running a work item

Every file is written to a temporary name in its final folder, fsynced, renamed over the target and
the folder fsynced, so a crash leaves either the old file or the new one, never half of one. A unit
counts as finished only when its summary file reads back as one row of the expected schema and
records the sha256 and row count of its points file, and the points file on disk has that digest.
Anything else (missing, truncated, corrupt, from another unit) is reported and recomputed, never read
as a result. Each process writes only the files of its own units, and holds a lock on the work item it
runs, so two sweeps started on the same run by mistake never write the same unit at once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import io
import json
import shutil
from pathlib import Path
from typing import Any

import polars as pl

from alignjax.errors import InputError
from alignjax.files import atomic_write
from alignjax.sweep.grid import STORE_FORMAT, Unit, safe_name
from alignjax.sweep.tables import POINTS_SCHEMA, SUMMARY_SCHEMA


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Writes ``data`` to ``path`` whole or not at all (``files.atomic_write``: a unique temporary file in
    the same folder, fsync, rename, fsync of the folder; the temporary is removed on any error, and a
    full disk is an ``OSError`` naming ``path``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: tmp.write_bytes(data))


def parquet_bytes(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    return buffer.getvalue()


@dataclasses.dataclass(frozen=True)
class UnitStatus:
    finished: bool
    reason: str  # '' when finished, else why the unit must run (missing, corrupt ...)


class Store:
    """One run of a sweep inside a store folder."""

    def __init__(self, root: str | Path, run_id: str):
        if not run_id or safe_name(run_id) != run_id:
            raise InputError(f"run id {run_id!r} may only hold letters, digits, '.', '_', '-' and '+'")
        self.root = Path(root)
        self.run_id = run_id
        self.folder = self.root / run_id

    # -- the run's identity ---------------------------------------------------------------------

    def begin_run(self, config: dict[str, Any], config_hash: str, unit_ids: list[str]) -> None:
        """Records the run's config, or checks it is the one recorded: a changed grid is refused."""
        record = self.folder / "run.json"
        if record.is_file():
            try:
                existing = json.loads(record.read_text())
            except (OSError, json.JSONDecodeError):
                existing = None
            if existing is not None:
                if existing.get("config_hash") != config_hash:
                    raise InputError(
                        f"{self.folder} holds run {self.run_id!r} of a different grid (config hash "
                        f"{existing.get('config_hash', '?')[:12]}, this config {config_hash[:12]}"
                        f"{_reductions(existing.get('config'), config)}); rerun with the original config, give "
                        "--run-id NEW (or --new-run) to start another run, or delete the folder")
                return
        body = {"run_id": self.run_id, "config_hash": config_hash, "store_format": STORE_FORMAT,
                "config": config, "units": unit_ids}
        atomic_write_bytes(record, (json.dumps(body, indent=1, default=repr) + "\n").encode())

    def run_record(self) -> dict[str, Any]:
        path = self.folder / "run.json"
        if not path.is_file():
            raise FileNotFoundError(f"{self.folder} is not a sweep run (no run.json); list runs with "
                                    f"`alignjax results {self.root}`")
        return json.loads(path.read_text())

    # -- file names ----------------------------------------------------------------------------

    def _partition(self, table: str, unit: Unit) -> Path:
        return self.folder / table / f"model={safe_name(unit.model)}" / f"dataset={safe_name(unit.dataset)}"

    def points_path(self, unit: Unit) -> Path:
        return self._partition("points", unit) / f"{unit.unit_id}.parquet"

    def summary_path(self, unit: Unit) -> Path:
        return self._partition("summary", unit) / f"{unit.unit_id}.parquet"

    def state_dir(self, unit: Unit) -> Path:
        return self.folder / "state" / unit.unit_id

    # -- writing -------------------------------------------------------------------------------

    def write_unit(self, unit: Unit, points: pl.DataFrame, summary: dict[str, Any]) -> None:
        """Points first, then the summary row that seals them (with their digest and row count)."""
        points = points.cast(dict(POINTS_SCHEMA))  # type: ignore[arg-type]
        data = parquet_bytes(points)
        atomic_write_bytes(self.points_path(unit), data)
        row = {**summary, "points_rows": points.height, "points_sha256": hashlib.sha256(data).hexdigest(),
               "store_format": STORE_FORMAT}
        frame = pl.DataFrame([row], schema=SUMMARY_SCHEMA)
        atomic_write_bytes(self.summary_path(unit), parquet_bytes(frame))
        shutil.rmtree(self.state_dir(unit), ignore_errors=True)

    def clear_temporary(self, unit: Unit) -> None:
        """Removes leftovers of a killed writer of this unit (temporary files) before it runs again."""
        for path in (self.points_path(unit), self.summary_path(unit)):
            if path.parent.is_dir():
                # atomic_write's temporary names, and those of stores written before 2026-12-07
                for pattern in (f".{path.name}.*.tmp", f".{path.name}.tmp-*"):
                    for tmp in path.parent.glob(pattern):
                        tmp.unlink(missing_ok=True)

    def discard(self, unit: Unit) -> None:
        """Deletes a unit's result files (used for invalid ones before recomputing)."""
        self.summary_path(unit).unlink(missing_ok=True)
        self.points_path(unit).unlink(missing_ok=True)

    # -- checking and reading ------------------------------------------------------------------

    def status(self, unit: Unit) -> UnitStatus:
        summary_file = self.summary_path(unit)
        if not summary_file.is_file():
            return UnitStatus(False, "not run yet" if not self.points_path(unit).exists()
                              else "points written but not sealed (interrupted)")
        summary, problem = read_summary_file(summary_file)
        if summary is None:
            return UnitStatus(False, problem)
        if summary["unit_id"][0] != unit.unit_id:
            return UnitStatus(False, f"{summary_file} belongs to unit {summary['unit_id'][0]}")
        problem = check_points_file(self.points_path(unit), summary.row(0, named=True))
        return UnitStatus(problem == "", problem)

    @contextlib.contextmanager
    def claim(self, key: str):
        """Yields True while this process holds the exclusive lock of work item ``key`` (an advisory
        ``flock``, released when the process ends, however it ends), False if another process holds it."""
        path = self.folder / "locks" / f"{key}.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a") as handle:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def summary_files(self) -> list[Path]:
        return sorted((self.folder / "summary").glob("model=*/dataset=*/*.parquet"))


def _reductions(recorded: Any, config: dict[str, Any]) -> str:
    """'; the stored run used --n 10, this one the full budgets' when the recorded grid and ``config``
    differ in their command-line reductions (``overrides.py``), else ''."""
    before = recorded.get("overrides") if isinstance(recorded, dict) else None
    now = config.get("overrides")
    if before == now:
        return ""

    def text(overrides: Any) -> str:
        if not overrides:
            return "the full budgets"
        return " ".join(f"--{k.replace('_', '-')} {v}" for k, v in overrides.items() if v is not None)

    return f"; the stored run used {text(before)}, this one {text(now)}"


def read_summary_file(path: Path) -> tuple[pl.DataFrame | None, str]:
    """(the one-row summary, '') or (None, why it is not valid)."""
    try:
        frame = pl.read_parquet(path)
    except Exception as err:  # noqa: BLE001 - any failure to decode means a corrupt file
        return None, f"{path} is not readable parquet ({type(err).__name__})"
    if frame.schema != SUMMARY_SCHEMA:
        return None, f"{path} does not have the summary schema"
    if frame.height != 1:
        return None, f"{path} holds {frame.height} rows instead of 1"
    if frame["store_format"][0] != STORE_FORMAT:
        return None, f"{path} was written by store format {frame['store_format'][0]}, not {STORE_FORMAT}"
    return frame, ""


def check_points_file(path: Path, summary: dict[str, Any]) -> str:
    """'' if ``path`` is exactly the points file the summary row sealed, else the problem."""
    if not path.is_file():
        return f"{path} is missing"
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != summary["points_sha256"]:
        return f"{path} does not match the digest its summary recorded (corrupt or partial)"
    try:
        points = pl.read_parquet(io.BytesIO(data))
    except Exception as err:  # noqa: BLE001
        return f"{path} is not readable parquet ({type(err).__name__})"
    if points.schema != POINTS_SCHEMA or points.height != summary["points_rows"]:
        return f"{path} does not hold {summary['points_rows']} rows of the points schema"
    return ""
