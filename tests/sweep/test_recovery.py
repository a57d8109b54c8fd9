"""Corrupt, partial and unsealed result files are reported, never read as results, and recomputed."""

from __future__ import annotations

import shutil

import polars as pl

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


def test_results_command_prints_exports_and_checks(reference, tmp_path, capsys):
    from alignjax.cli import main
    from tests.conftest import FIXTURES

    store = reference["store"]
    assert main(["results", str(store)]) == 0
    out = capsys.readouterr().out
    assert "run tiny: 4 finished unit(s), 0 not finished, 0 invalid" in out and "seeds-single" in out
    assert main(["results", str(store), "--runs"]) == 0
    assert "tiny" in capsys.readouterr().out
    assert main(["results", str(store), "--export", str(tmp_path / "out"),
                 "--check-robustbench", str(FIXTURES / "robustbench_model_info")]) == 0
    assert "no unit matches a published entry" in capsys.readouterr().out  # digits are not RobustBench's
    assert pl.read_parquet(tmp_path / "out" / "points.parquet").sort("unit_id", "index").equals(
        reference["points"].sort("unit_id", "index"))
    assert main(["results", str(store), "--run-id", "nope"]) == 2
    assert "has no run 'nope'" in capsys.readouterr().err
