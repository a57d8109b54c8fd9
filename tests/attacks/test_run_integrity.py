"""Run integrity in the library: a resumed state is bound to everything that decides the result, one run
holds an output folder at a time, default folders are unique, writes are atomic, duplicated attacks are
reported separately."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

from alignjax.attacks.engine.cascade import run_autoattack
from alignjax.attacks.engine.state import STATE_FILE, CascadeState
from alignjax.attacks.run_folder import default_run_folder, open_run_folder
from alignjax.errors import InputError
from alignjax.files import FolderLock, FolderLockedError, atomic_write, file_mode
from tests.attacks.test_cascade import NoiseConfig, linear_logits, problem  # noqa: F401  (fixture)

ATTACKS = (NoiseConfig(amplitude=0.05, tag="weak"), NoiseConfig(amplitude=0.3, tag="strong"))


def _interrupted_state(problem, state_dir, **extra):  # noqa: F811
    """Runs the first attack and stops (as a crash would) right after its state was saved."""
    params, x, y = problem
    original = CascadeState.save

    def save_then_stop(self, folder, identity):
        original(self, folder, identity)
        if self.attack_index == 1:
            raise KeyboardInterrupt

    CascadeState.save = save_then_stop
    try:
        with pytest.raises(KeyboardInterrupt):
            run_autoattack(linear_logits, params, x, y, attacks=ATTACKS, key=jax.random.key(1),
                           run_checks=False, batch_size=8, state_dir=state_dir, **extra)
    finally:
        CascadeState.save = original


OTHER_EPS = tuple(NoiseConfig(eps=0.2, amplitude=a.amplitude, tag=a.tag) for a in ATTACKS)


@pytest.mark.parametrize("change, component", [
    (lambda p, x, y, kw: ({"w": p["w"] + np.float32(0.01)}, x, y, kw), "weights_sha256"),
    (lambda p, x, y, kw: (p, x[::-1].copy(), y[::-1].copy(), kw), "data_sha256"),
    (lambda p, x, y, kw: (p, x, y, {**kw, "attacks": OTHER_EPS}), "eps"),
    (lambda p, x, y, kw: (p, x, y, {**kw, "key": jax.random.key(2)}), "key"),
    (lambda p, x, y, kw: (p, x, y, {**kw, "individual": True}), "mode"),
    (lambda p, x, y, kw: (p, x, y, {**kw, "state_identity": {"model": "another"}}), "model"),
])
def test_resuming_with_anything_that_decides_the_result_changed_is_refused(
        problem, tmp_path, change, component):  # noqa: F811
    """Issue 9 item 1: a run resumed with other weights continued the first model's state."""
    _interrupted_state(problem, tmp_path, state_identity={"model": "first"})
    params, x, y = problem
    kwargs = {"attacks": ATTACKS, "key": jax.random.key(1), "state_identity": {"model": "first"}}
    params, x, y, kwargs = change(params, x, y, kwargs)
    expected = rf"different evaluation:\n(.|\n)*{component}: .* in the state, .* now"
    with pytest.raises(InputError, match=expected):
        run_autoattack(linear_logits, params, x, y, run_checks=False, batch_size=8, state_dir=tmp_path,
                       **kwargs)


def test_the_same_evaluation_resumes_at_another_batch_size(problem, tmp_path):  # noqa: F811
    params, x, y = problem
    full = run_autoattack(linear_logits, params, x, y, attacks=ATTACKS, key=jax.random.key(1),
                          run_checks=False)
    _interrupted_state(problem, tmp_path)
    resumed = run_autoattack(linear_logits, params, x, y, attacks=ATTACKS, key=jax.random.key(1),
                             run_checks=False, batch_size=5, state_dir=tmp_path)
    np.testing.assert_array_equal(resumed.broken_by, full.broken_by)
    assert sorted(p.name for p in tmp_path.iterdir()) == [STATE_FILE]  # one file, no temporaries


def test_a_state_of_an_older_version_is_refused_not_trusted(problem, tmp_path):  # noqa: F811
    params, x, y = problem
    (tmp_path / "state.json").write_text(json.dumps({"fingerprint": "abc", "attack_index": 1}))
    with pytest.raises(InputError, match="older alignjax.*--overwrite"):
        run_autoattack(linear_logits, params, x, y, attacks=ATTACKS, key=jax.random.key(1), run_checks=False,
                       state_dir=tmp_path)


def test_an_attack_listed_twice_is_reported_twice(problem):  # noqa: F811
    """Issue 9 item 8: the same attack twice in a custom list merged into one entry."""
    params, x, y = problem
    twice = (NoiseConfig(amplitude=0.05, tag="noise"), NoiseConfig(amplitude=0.3, tag="noise"))
    result = run_autoattack(linear_logits, params, x, y, attacks=twice, key=jax.random.key(1),
                            run_checks=False)
    assert list(result.robust_accuracy_after()) == ["clean", "noise", "noise#2"]
    assert [a.name for a in result.attacks] == ["noise", "noise#2"]
    assert set(np.unique(result.broken_by)) <= {"", "clean", "noise", "noise#2"}
    individual = run_autoattack(linear_logits, params, x, y, attacks=twice, key=jax.random.key(1),
                                run_checks=False, individual=True)
    assert sorted(individual.individual) == ["noise", "noise#2"]


def test_a_second_run_on_a_locked_folder_is_refused_naming_the_holder(tmp_path):
    holder = FolderLock(tmp_path).acquire()
    try:
        with pytest.raises(InputError, match=rf"in use by another alignjax run \(process {os.getpid()}\)"):
            open_run_folder(tmp_path, overwrite=False)
    finally:
        holder.release()
    _, lock = open_run_folder(tmp_path, overwrite=False)
    lock.release()


def test_the_lock_of_a_killed_process_is_released(tmp_path):
    code = textwrap.dedent(f"""
        import os, signal, sys
        from alignjax.files import FolderLock
        FolderLock({str(tmp_path)!r}).acquire()
        print("locked", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60,
                          check=False)
    assert done.stdout.strip() == "locked" and done.returncode == -signal.SIGKILL
    FolderLock(tmp_path).acquire().release()  # not FolderLockedError


def test_overwrite_clears_a_stale_partial_state(tmp_path):
    """Issue 9 item 7: --overwrite did not clear an interrupted run's state."""
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / STATE_FILE).write_bytes(b"old")
    _, lock = open_run_folder(tmp_path, overwrite=True)
    lock.release()
    assert not (tmp_path / "state").exists()


def test_default_folders_started_in_the_same_second_differ(tmp_path):
    folders = {default_run_folder(tmp_path) for _ in range(20)}
    assert len(folders) == 20 and all(f.is_dir() for f in folders)


def test_atomic_write_leaves_the_old_file_on_failure_and_an_ordinary_mode_on_success(tmp_path, monkeypatch):
    target = tmp_path / "summary.json"
    target.write_text("old")

    def fail(path):
        path.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(target, fail)
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["summary.json"]
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    atomic_write(target, lambda path: path.write_text("new"))
    assert target.read_text() == "new" and len(synced) == 2  # the file, then its folder
    assert stat.S_IMODE(target.stat().st_mode) == file_mode()


def test_folder_lock_is_exclusive_within_one_process_too(tmp_path):
    with FolderLock(tmp_path), pytest.raises(FolderLockedError):
        FolderLock(tmp_path).acquire()
