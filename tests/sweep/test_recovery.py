"""Corrupt, partial and unsealed result files are reported, never read as results, and recomputed."""

from __future__ import annotations

import shutil

from alignjax.sweep import read_run
from tests.sweep.helpers import assert_same_points, run_sweep_cli


def test_damaged_files_are_detected_and_recomputed(sweep_setup, reference, tmp_path):
    store = tmp_path / "damaged"
    shutil.copytree(reference["store"], store)
    run = store / "tiny"
    summaries = sorted((run / "summary").rglob("*.parquet"))
    truncated, garbled, unsealed = summaries[0].stem, summaries[1].stem, summaries[2].stem
    points = {p.stem: p for p in (run / "points").rglob("*.parquet")}
    data = points[truncated].read_bytes()
    points[truncated].write_bytes(data[: len(data) // 2])  # a partial points file
    summaries[1].write_bytes(b"PAR1 not really parquet")  # a corrupt summary
    summaries[2].unlink()  # points written, summary never sealed (killed in between)

    tables = read_run(store)
    assert set(tables.invalid["unit_id"]) == {truncated, garbled}
    assert set(tables.missing) == {truncated, garbled, unsealed}
    assert tables.summary.height == 1 and tables.points.collect()["unit_id"].unique().to_list() == [
        summaries[3].stem]

    rerun = run_sweep_cli(sweep_setup, store)
    assert "3 unit(s) run, 1 already finished, 3 invalid result(s) recomputed" in rerun.stdout
    tables = read_run(store)
    assert tables.invalid.height == 0 and not tables.missing
    assert_same_points(tables.points.collect(), reference["points"])
