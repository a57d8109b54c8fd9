"""`kill -9` at random moments, then resume: the result equals the uninterrupted run, row for row.

``alignjax attack`` runs as a subprocess on the embedded model (32 points, a short custom list with
Square so that query counts are checked too, batches of 4, state saved after every batch) and is
killed with SIGKILL 8 times (20 with ``-m slow``) at seeded random moments: half at any time after the start (imports,
clean pass, compilation, attacks, writing), half just after it saved a checkpoint inside an attack
(read off the state file, so that these kills land inside an attack however fast the machine is).
Every interrupted run is resumed (sometimes killed again first) until it finishes; its
points.parquet must equal the uninterrupted baseline's exactly. One compilation cache, filled by the
baseline, keeps each restart cheap (the killed runs only read it).
"""

from __future__ import annotations

import json
import os
import random
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from alignjax.attacks.run_folder import open_run_folder
from alignjax.errors import InputError

ATTACKS = "apgd-ce(n_iter=10,n_restarts=1),square(n_queries=40)"
COMMAND = [sys.executable, "-m", "alignjax.cli", "attack", "--version", "custom", "--attacks", ATTACKS,
           "--n", "32", "--batch-size", "4", "--checkpoint-seconds", "0", "--no-checks", "--no-progress"]
SEED = 20261129


def _environment(cache: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "JAX_PLATFORMS": "cpu",
            "JAX_COMPILATION_CACHE_DIR": str(cache), "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
            "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0"}


def _state_mtime(out: Path) -> int | None:
    try:
        return (out / "state" / "state.npz").stat().st_mtime_ns
    except FileNotFoundError:
        return None


def _saved_progress(out: Path) -> tuple[int, int] | None:
    """(attack_index, points attempted in the attack in progress) of the state a run left, if any."""
    try:
        with np.load(out / "state" / "state.npz") as saved:
            return json.loads(str(saved["meta"]))["attack_index"], int(saved["attempted"].sum())
    except FileNotFoundError:  # not written yet, or removed as the run finished
        return None


def _kill_at_a_random_moment(process: subprocess.Popen, out: Path, rng: random.Random,
                             duration: float) -> bool:
    """SIGKILLs ``process`` (its whole session); False if it finished first.

    Half the kills land at any moment of the run (imports, clean pass, compilation, attacks, writing).
    The other half land inside an attack: just after the run saved a checkpoint *within* an attack
    (points attempted, attack not finished), found by reading the state file each time it changes.
    Waiting for any checkpoint and then a random delay is not enough: the attacks of this small run
    take well under a second of its two, so such kills mostly land after an attack's last batch, or
    while the next attack compiles.
    """
    if rng.random() < 0.5:  # any moment of the run
        deadline = time.monotonic() + rng.uniform(0.0, duration)
        while time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.01)
    else:  # just after a checkpoint inside an attack
        seen = _state_mtime(out)
        while process.poll() is None:
            mtime = _state_mtime(out)
            if mtime not in (seen, None):
                seen = mtime
                progress = _saved_progress(out)
                if progress is not None and progress[1] > 0:
                    break
            time.sleep(0.002)
        time.sleep(rng.uniform(0.0, 0.02))
    if process.poll() is not None:
        return False
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=60)
    return True


def _launch(out: Path, env: dict[str, str], log: Path) -> subprocess.Popen:
    with open(log, "ab") as sink:
        return subprocess.Popen([*COMMAND, "--out", str(out)], stdout=sink, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)


def _assert_same_points(resumed: pl.DataFrame, baseline: pl.DataFrame, message: str) -> None:
    """Row for row: every column exactly, except the float perturbation norm, within float32 rounding.

    A run resumed inside an attack packs its remaining points into other batch shapes (survivor
    compaction), and XLA's float32 arithmetic can differ in the last bits between shapes; which points
    break, and by which attack, must not.
    """
    exact = [c for c in baseline.columns if c != "perturbation_norm"]
    assert resumed.select(exact).equals(baseline.select(exact)), message
    assert np.allclose(resumed["perturbation_norm"].to_numpy(), baseline["perturbation_norm"].to_numpy(),
                       rtol=1e-5, atol=1e-6), message


@pytest.mark.parametrize("kills_planned", [8, pytest.param(20, marks=pytest.mark.slow)])
def test_sigkill_at_random_moments_then_resume_reproduces_the_uninterrupted_run(tmp_path, kills_planned):
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    env = _environment(tmp_path / "xla-cache")
    for name in ("baseline", "again"):  # the second run, with the cache filled, times a restart
        started = time.monotonic()
        done = subprocess.run([*COMMAND, "--out", str(tmp_path / name)], check=False, env=env, capture_output=True,
                              text=True, timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr
        duration = time.monotonic() - started
    baseline = pl.read_parquet(tmp_path / "baseline" / "points.parquet")
    assert pl.read_parquet(tmp_path / "again" / "points.parquet").equals(baseline)
    baseline_after = json.loads((tmp_path / "baseline" / "summary.json").read_text())["robust_accuracy_after"]
    assert baseline["n_queries"].sum() > 0 and (~baseline["robust"]).sum() > 0  # both attacks leave traces

    rng = random.Random(SEED)
    kills, inside_an_attack, launches, trial = 0, 0, 0, 0
    while kills < kills_planned:
        trial += 1
        out, log = tmp_path / f"run{trial}", tmp_path / f"run{trial}.log"
        planned = rng.randint(1, 3)
        while True:
            launches += 1
            assert launches <= 3 * kills_planned + 10, "runs keep finishing before they can be killed"
            process = _launch(out, env, log)
            if planned > 0 and kills < kills_planned and _kill_at_a_random_moment(process, out, rng, duration):
                kills += 1
                if (out / "summary.json").is_file():  # the kill landed after the run had written its results
                    break
                planned -= 1
                progress = _saved_progress(out)
                inside_an_attack += progress is not None and progress[1] > 0
                continue
            assert process.wait(timeout=600) == 0, log.read_text()
            break
        resumed = pl.read_parquet(out / "points.parquet")
        _assert_same_points(resumed, baseline, f"trial {trial} differs from the baseline:\n{log.read_text()}")
        after = json.loads((out / "summary.json").read_text())["robust_accuracy_after"]
        assert after == baseline_after
        if (out / "state").exists():  # killed between writing summary.json and deleting the state: stale,
            with pytest.raises(InputError, match="already holds results"):  # deleted by the next opening
                open_run_folder(out, overwrite=False)
        assert not (out / "state").exists()
    # about half of them by construction
    assert inside_an_attack >= kills_planned // 4, f"only {inside_an_attack} of {kills} kills landed inside an attack"
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(f"{kills} kills in {trial} trials, {launches} launches, {inside_an_attack} inside an attack; "
          f"children CPU {cpu.ru_utime + cpu.ru_stime - cpu_before.ru_utime - cpu_before.ru_stime:.1f} s")
