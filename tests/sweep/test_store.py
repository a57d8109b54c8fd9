"""The store's atomic writes and checks, the tables' schemas, progress events (no attack runs here)."""

from __future__ import annotations

import errno
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from alignjax.attacks.norms import perturbation_norms
from alignjax.sweep import expand, load_config, read_run, robust_after_long
from alignjax.sweep.progress import Progress
from alignjax.sweep.store import Store, atomic_write_bytes
from alignjax.sweep.tables import POINTS_SCHEMA, points_frame, robust_after_matrix
from alignjax.sweep.units import UnitOutcome
from tests.sweep.helpers import CONFIG


def _outcome(n: int, rng: np.random.Generator) -> UnitOutcome:
    clean = rng.random(n) < 0.9
    broken_by = np.where(~clean, "clean", rng.choice(["", "apgd-ce", "square"], n))
    return UnitOutcome(clean_correct=clean, robust=broken_by == "", broken_by=broken_by,
                       adv_prediction=rng.integers(0, 10, n).astype(np.int32), n_queries=rng.integers(0, 9, n),
                       margin=rng.normal(size=n), perturbation_norm=rng.random(n).astype(np.float32),
                       misclassified=(broken_by != "").astype(np.float32), attack_names=["apgd-ce", "square"],
                       robust_accuracy_after=[70.0, 60.0], attack_seconds=[1.0, 2.0], warnings=[], seconds=3.0)


def _summary(unit, outcome) -> dict:
    return {"unit_id": unit.unit_id, "model": unit.model, "checkpoint": unit.checkpoint, "dataset": unit.dataset,
            "norm": unit.norm, "eps": unit.eps, "version": unit.version, "seed": unit.seed,
            "n": len(outcome.robust), "clean_accuracy": outcome.clean_accuracy,
            "robust_accuracy": outcome.robust_accuracy, "attacks": outcome.attack_names,
            "robust_accuracy_after": outcome.robust_accuracy_after, "attack_seconds": outcome.attack_seconds,
            "seconds": 3.0, "warnings": [], "config_hash": "h", "run_id": "tiny", "stack_size": 1}


@pytest.fixture
def filled(tmp_path, rng):
    (tmp_path / "c.toml").write_text(CONFIG)
    units = expand(load_config(tmp_path / "c.toml"))
    store = Store(tmp_path / "store", "tiny")
    store.begin_run({}, "h", [u.unit_id for u in units])
    outcomes = {}
    for unit in units:
        outcome = outcomes[unit.unit_id] = _outcome(12, rng)
        frame = points_frame(unit, np.arange(12) + 100, rng.integers(0, 10, 12), outcome)
        store.write_unit(unit, frame, _summary(unit, outcome))
    return store, units, outcomes


def test_written_units_read_back_valid_and_leave_no_temporary_files(filled):
    store, units, _ = filled
    assert all(store.status(u).finished for u in units)
    assert not list(store.folder.rglob("*.tmp-*"))
    tables = read_run(store.root)
    points = tables.points.collect()
    assert points.schema == POINTS_SCHEMA and points.height == 12 * len(units)
    assert tables.summary["unit_id"].to_list() == sorted(u.unit_id for u in units)
    partitions = {p.relative_to(store.folder / "points").parts[:2] for p in (store.folder / "points").rglob("*.parquet")}
    assert partitions == {("model=seeds", "dataset=digits-test"), ("model=seeds-single", "dataset=digits-test")}
    long = robust_after_long(points, tables.summary)
    assert long.height == 2 * points.height and set(long["attack"]) == {"apgd-ce", "square"}


@pytest.mark.parametrize("damage, reason", [
    (lambda s, u: s.points_path(u).write_bytes(s.points_path(u).read_bytes()[:-40]), "digest"),
    (lambda s, u: s.summary_path(u).write_bytes(b"\x00" * 64), "not readable parquet"),
    (lambda s, u: s.points_path(u).unlink(), "missing"),
    (lambda s, u: s.summary_path(u).unlink(), "not sealed"),
    (lambda s, u: s.summary_path(u).write_bytes(s.summary_path(u).read_bytes()[:100]), "not readable parquet"),
])
def test_damaged_units_are_never_read_as_results(filled, damage, reason):
    store, units, _ = filled
    victim = units[1]
    damage(store, victim)
    assert not store.status(victim).finished and reason in store.status(victim).reason
    tables = read_run(store.root)
    assert victim.unit_id not in tables.summary["unit_id"].to_list()
    assert victim.unit_id not in tables.points.collect()["unit_id"].to_list()
    assert victim.unit_id in tables.missing
    store.discard(victim)
    assert store.status(victim).reason == "not run yet"


def test_atomic_write_replaces_whole_files_and_leftovers_are_cleared(filled):
    store, units, _ = filled
    target = store.points_path(units[0])
    leftover = target.with_name(f".{target.name}.k1ll3d.tmp")  # files.atomic_write's temporary name
    older = target.with_name(f".{target.name}.tmp-99999")  # the name stores used before
    for path in (leftover, older):
        path.write_bytes(b"half a file from a killed writer")
    assert read_run(store.root).invalid.height == 0  # temporary names are never read
    store.clear_temporary(units[0])
    assert not leftover.exists() and not older.exists()
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new" and not list(target.parent.glob(".*.tmp"))


def test_claim_is_exclusive_between_processes(filled):
    store, _, _ = filled
    lock = store.folder / "locks" / "item.lock"
    probe = ("import fcntl\n"  # what claim() does, from another process
             f"handle = open({str(lock)!r}, 'a')\n"
             "try:\n    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB); print(True)\n"
             "except BlockingIOError:\n    print(False)\n")

    def other_process_claims() -> str:
        return subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()

    with store.claim("item") as first:
        assert first
        assert other_process_claims() == "False"
    assert other_process_claims() == "True"


def test_robust_after_each_attack_and_norms(rng):
    broken = np.array(["", "clean", "apgd-ce", "square", ""])
    clean = np.array([True, False, True, True, True])
    expected = [[True, True], [False, False], [False, False], [True, False], [True, True]]
    assert robust_after_matrix(clean, broken, ["apgd-ce", "square"]).tolist() == expected
    x = rng.random((3, 4, 4, 1)).astype(np.float32)
    delta = rng.normal(size=x.shape).astype(np.float32)
    flat = (x + delta - x).reshape(3, -1).astype(np.float64)
    np.testing.assert_allclose(perturbation_norms(x + delta, x, "Linf"), np.abs(flat).max(1), rtol=1e-6)
    np.testing.assert_allclose(perturbation_norms(x + delta, x, "L2"), np.linalg.norm(flat, axis=1), rtol=1e-6)
    np.testing.assert_allclose(perturbation_norms(x + delta, x, "L1"), np.abs(flat).sum(1), rtol=1e-6)
    assert perturbation_norms(x + delta, x, "L2").dtype == np.float32  # one dtype in every output


def test_progress_reports_units_points_rate_and_eta(tmp_path, monkeypatch):
    (tmp_path / "c.toml").write_text(CONFIG)
    units = expand(load_config(tmp_path / "c.toml"))
    clock = [1000.0]
    monkeypatch.setattr("alignjax.sweep.progress.time.time", lambda: clock[0])
    log = io.StringIO()
    progress = Progress(units_total=4, points_total=4 * 48, bar=False, json_log=log, interval=0)
    progress.unit_start(units[:2], 48)
    clock[0] += 10
    progress.attack_progress(1, "square", 24, 48)  # half of the second of two attacks: 3/4 of 96 points
    clock[0] += 2
    progress.unit_done(units[:2], 12.0, [50.0, 60.0])
    progress.close()
    events = [json.loads(line) for line in log.getvalue().splitlines()]
    assert [e["event"] for e in events] == ["unit_start", "progress", "unit_done", "done"]
    assert events[1]["points_done"] == 72 and events[1]["points_per_second"] == pytest.approx(7.2)
    assert events[1]["eta_seconds"] == pytest.approx((192 - 72) / 7.2, abs=0.1)
    assert events[2]["units_done"] == 2 and events[2]["points_done"] == 96
    assert pl.DataFrame(events)["process"].to_list() == [0] * 4


def test_a_full_disk_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "unit" / "points.parquet"
    atomic_write_bytes(target, b"old")

    def full_disk(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", full_disk)
    with pytest.raises(OSError, match="points.parquet") as info:
        atomic_write_bytes(target, b"new")
    assert info.value.errno == errno.ENOSPC
    monkeypatch.undo()
    assert target.read_bytes() == b"old" and sorted(p.name for p in target.parent.iterdir()) == ["points.parquet"]
