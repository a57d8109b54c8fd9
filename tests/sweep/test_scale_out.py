"""Acceptance: kill -9 and restart, 8 devices vs 1, two jax.distributed processes, stacked vs one by one.

Every run is compared with the uninterrupted single-process, single-device run (``reference``) of the
same grid: same unit ids, same per-point rows (exact on every discrete column, 1e-6 on margins and
norms), none lost or duplicated.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import signal
import subprocess
import time

from alignjax.sweep import grid, read_run
from alignjax.sweep.config import load_config
from alignjax.sweep.distributed import ProcessInfo, owned
from tests.conftest import REPO_ROOT
from tests.sweep.helpers import (
    DISCRETE,
    assert_same_points,
    free_port,
    run_sweep_cli,
    sweep_command,
    sweep_env,
)

F_SETPIPE_SZ = 1031  # linux fcntl: set a pipe's capacity


def _read_events_until(fd: int, wanted, deadline: float) -> dict:
    """Reads JSON lines from ``fd`` until ``wanted(event)``; then stops reading (the writer soon blocks)."""
    buffer = b""
    while time.time() < deadline:
        ready, _, _ = select.select([fd], [], [], 1.0)
        if not ready:
            continue
        chunk = os.read(fd, 256)
        if not chunk:
            raise AssertionError("the sweep ended before the awaited event")
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            event = json.loads(line)
            if wanted(event):
                return event
    raise AssertionError("timed out waiting for the sweep's progress events")


def _mid_unit(event: dict) -> bool:
    """A progress event of a one-by-one unit in the middle of its first attack."""
    return (event["event"] == "progress" and len(event["units"]) == 1
            and 0 < event["attack_done"] < event["attack_total"])


def test_sigkill_mid_unit_then_restart_gives_the_uninterrupted_tables(sweep_setup, reference, tmp_path):
    store = tmp_path / "killed"
    read_end, write_end = os.pipe()
    fcntl.fcntl(write_end, F_SETPIPE_SZ, 4096)  # once the test stops reading, the sweep blocks within a unit
    command = sweep_command(sweep_setup, store, "--json-log", "-", "--log-interval", "0")
    with open(tmp_path / "stderr.txt", "w") as stderr:
        process = subprocess.Popen(command, stdout=write_end, stderr=stderr, env=sweep_env(sweep_setup),
                                   cwd=REPO_ROOT)
    os.close(write_end)
    try:
        event = _read_events_until(read_end, _mid_unit, time.time() + 600)
        time.sleep(1.0)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
        os.close(read_end)
    assert process.returncode == -signal.SIGKILL
    (unit_id,) = event["units"]
    run = store / "tiny"
    assert (run / "state" / unit_id).is_dir()  # the unit was interrupted with its cascade state saved
    assert not list((run / "summary").glob(f"*/*/{unit_id}.parquet"))

    restarted = run_sweep_cli(sweep_setup, store)
    assert "resuming from" in restarted.stdout  # picked up mid-unit, not from scratch
    tables = read_run(store)
    assert tables.invalid.height == 0 and not tables.missing
    assert not list(run.rglob("*.tmp-*")) and not (run / "state" / unit_id).exists()
    assert_same_points(tables.points.collect(), reference["points"])
    same = ("unit_id", "n", "clean_accuracy", "robust_accuracy", "attacks", "robust_accuracy_after", "stack_size")
    assert tables.summary.select(*same).equals(reference["summary"].select(*same))

    again = run_sweep_cli(sweep_setup, store)  # everything finished: nothing runs
    assert "0 unit(s) run, 4 already finished" in again.stdout


def test_eight_virtual_devices_give_the_single_device_points(sweep_setup, reference, tmp_path):
    store = tmp_path / "eight"
    run_sweep_cli(sweep_setup, store, devices=8)
    tables = read_run(store)
    assert tables.summary["n_local_devices"].to_list() == [8] * 4
    assert_same_points(tables.points.collect(), reference["points"])


def test_two_distributed_processes_split_the_units_and_match_one(sweep_setup, reference, tmp_path):
    store = tmp_path / "two"
    port = free_port()
    processes = []
    for index in range(2):
        command = sweep_command(sweep_setup, store, "--coordinator", f"127.0.0.1:{port}", "--num-processes", "2",
                                "--process-id", str(index))
        processes.append(subprocess.Popen(command, env=sweep_env(sweep_setup), cwd=REPO_ROOT, text=True,
                                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
    outputs = [p.communicate(timeout=600)[0] for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs

    tables = read_run(store)
    assert tables.invalid.height == 0 and not tables.missing
    by_process = {i: set(tables.summary.filter(process_index=i)["unit_id"]) for i in range(2)}
    items = grid.work_items(grid.expand(load_config(sweep_setup["config"])))
    for index in range(2):
        mine = {u.unit_id for item in owned(items, ProcessInfo(index, 2)) for u in item.units}
        assert by_process[index] == mine and mine
    assert not by_process[0] & by_process[1]
    assert set(tables.summary["process_count"]) == {2}
    assert_same_points(tables.points.collect(), reference["points"])


def test_stacked_checkpoints_give_the_one_by_one_points(reference):
    points = reference["points"]
    stacked = points.filter(model="seeds").drop("unit_id", "model")
    single = points.filter(model="seeds-single").drop("unit_id", "model")
    assert stacked.height == single.height == 96
    columns = tuple(c for c in DISCRETE if c not in ("unit_id", "model"))
    assert_same_points(stacked, single, on=("checkpoint", "index"), columns=columns)
    summary = reference["summary"]
    assert summary.filter(model="seeds")["stack_size"].to_list() == [2, 2]
    assert summary.filter(model="seeds-single")["stack_size"].to_list() == [1, 1]
    # the two checkpoints really differ, so the comparison is not between copies of one model
    by_checkpoint = single.partition_by("checkpoint", as_dict=True)
    assert by_checkpoint[("seed0",)]["margin"].to_list() != by_checkpoint[("seed1",)]["margin"].to_list()
