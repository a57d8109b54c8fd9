"""``alignjax attack --out DIR`` leaves only its results: temporaries of a killed write are deleted by the
next run, the lock file goes when the run ends, and a run killed just before its summary resumes, not
restarts."""

from __future__ import annotations

import json
import os

import polars as pl
import pytest

from alignjax import files
from alignjax.attacks import report
from alignjax.attacks.run_folder import open_run_folder
from alignjax.cli import main
from alignjax.errors import InputError
from alignjax.files import FolderLock, FolderLockedError, atomic_write, remove_temporaries

CHEAP = ["attack", "--version", "custom", "--attacks", "apgd-ce(n_iter=2),square(n_queries=5)", "--n", "12",
         "--batch-size", "4", "--no-checks", "--no-progress"]
RESULTS = ["manifest.json", "points.parquet", "summary.json"]
TIMINGS = ("seconds", "peak_device_memory_bytes")


def _listing(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def _summary(folder) -> dict:
    """summary.json without its timings (the only part a resumed run may differ in)."""
    summary = json.loads((folder / "summary.json").read_text())
    for attack in summary["attacks"]:
        attack.pop("seconds")
    return {k: v for k, v in summary.items() if k not in TIMINGS}


def _crash_before_the_summary(monkeypatch):
    """Makes the next run stop as a kill would right after manifest.json, before summary.json exists."""
    real = report.atomic_write

    def write(path, writer):
        if os.path.basename(path) == "summary.json":
            raise KeyboardInterrupt
        return real(path, writer)

    monkeypatch.setattr(report, "atomic_write", write)


def test_a_run_killed_before_its_summary_resumes_and_leaves_nothing_behind(tmp_path, monkeypatch, capsys):
    baseline = tmp_path / "baseline"
    assert main([*CHEAP, "--out", str(baseline)]) == 0
    assert _listing(baseline) == RESULTS  # no .lock, no state, no temporaries

    out = tmp_path / "out"
    with monkeypatch.context() as patch:
        _crash_before_the_summary(patch)
        with pytest.raises(KeyboardInterrupt):
            main([*CHEAP, "--out", str(out)])
    assert not (out / "summary.json").exists() and (out / "points.parquet").is_file()
    assert (out / "state" / "state.npz").is_file()  # kept until the summary is written
    # what a kill inside atomic_write leaves (0-byte temporaries), beside files of the user's own
    for leftover in (".points.parquet.k1ll3d_0.tmp", ".summary.json.abcdefgh.tmp",
                     "state/.state.npz.x9y8z7w6.tmp"):
        (out / leftover).touch()
    mine = ["notes.tmp", ".points.parquet.tmp", "points.parquet.abcdefgh.tmp",
            ".points.parquet.abcdefghi.tmp"]
    for name in mine:
        (out / name).write_text("the user's")
    capsys.readouterr()

    assert main([*CHEAP, "--out", str(out)]) == 0
    assert "resuming from" in capsys.readouterr().out  # not started over
    assert _listing(out) == sorted(RESULTS + mine)
    assert all((out / name).read_text() == "the user's" for name in mine)
    assert pl.read_parquet(out / "points.parquet").equals(pl.read_parquet(baseline / "points.parquet"))
    assert _summary(out) == _summary(baseline)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["attacks"] == json.loads((baseline / "manifest.json").read_text())["attacks"]


def test_a_state_left_beside_a_summary_is_deleted_when_the_folder_is_next_opened(tmp_path, capsys):
    """A kill after summary.json and before the state's deletion: the result stands, the state is stale."""
    out = tmp_path / "out"
    assert main([*CHEAP, "--out", str(out)]) == 0
    (out / "state").mkdir()
    (out / "state" / "state.npz").write_bytes(b"stale")
    (out / ".manifest.json.zzzzzzzz.tmp").touch()
    capsys.readouterr()
    assert main([*CHEAP, "--out", str(out)]) == 2
    assert "already holds results" in capsys.readouterr().err
    assert _listing(out) == RESULTS


def test_open_run_folder_keeps_the_results_and_removes_only_its_own_temporaries(tmp_path):
    atomic_write(tmp_path / "summary.json", lambda p: p.write_text("{}"))
    (tmp_path / ".summary.json.abc_1234.tmp").touch()
    (tmp_path / ".summary.json.abc_1234.tmp.bak").touch()
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / ".points.parquet.abcdefgh.tmp").touch()  # only the folder and its state/ are tidied
    with pytest.raises(InputError, match="already holds results"):
        open_run_folder(tmp_path, overwrite=False)
    assert _listing(tmp_path) == [".summary.json.abc_1234.tmp.bak", "sub", "sub/.points.parquet.abcdefgh.tmp",
                                  "summary.json"]
    assert remove_temporaries(tmp_path / "missing", ("summary.json",)) == []


def test_a_lock_file_deleted_by_its_holder_is_never_held_twice(tmp_path, monkeypatch):
    """The race that deleting the lock file opens: B opens .lock, A deletes it and unlocks, B locks the
    deleted file while C creates and locks a new one. B must notice and retry on the new file."""
    holder = FolderLock(tmp_path).acquire()
    real_flock = files.fcntl.flock
    raced = []

    def flock(handle, operation):
        if not raced:  # between the newcomer's open and its flock, the holder finishes and deletes the file
            raced.append(handle)
            holder.release(remove=True)
        return real_flock(handle, operation)

    monkeypatch.setattr(files.fcntl, "flock", flock)
    newcomer = FolderLock(tmp_path).acquire()
    monkeypatch.setattr(files.fcntl, "flock", real_flock)
    assert raced and newcomer._is_current(newcomer._handle)
    with pytest.raises(FolderLockedError, match=str(os.getpid())):
        FolderLock(tmp_path).acquire()  # the new file is the one locked
    newcomer.release(remove=True)
    assert not (tmp_path / ".lock").exists()
    FolderLock(tmp_path).acquire().release()
