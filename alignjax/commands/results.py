"""``alignjax results STORE``: a sweep store's runs and tables; the check against RobustBench's numbers."""

from __future__ import annotations

import argparse
from pathlib import Path

SUMMARY_COLUMNS = ("model", "checkpoint", "dataset", "norm", "eps", "version", "seed", "n", "clean_accuracy",
                   "robust_accuracy", "seconds")


def register(subparsers: argparse._SubParsersAction) -> None:
    results = subparsers.add_parser(
        "results", help="read a sweep store: runs, summary table, export, RobustBench check",
        description="Print a sweep run's summary (one row per finished unit; corrupt or partial files are "
        "reported and left out), export its tables, or compare with RobustBench's published accuracies.")
    results.add_argument("store", type=Path, help="the sweep store folder (alignjax sweep --store)")
    results.add_argument("--run-id", help="which run (default: the store's only run)")
    results.add_argument("--runs", action="store_true", help="list the store's runs")
    results.add_argument("--export", type=Path, help="write summary.parquet and points.parquet to this folder")
    results.add_argument("--check-robustbench", nargs="?", const="", metavar="PUBLISHED",
                         help="compare with published numbers: a RobustBench model_info folder, or a "
                         ".parquet/.csv with model, dataset, threat_model, clean_acc, autoattack_acc "
                         "(default: the table shipped with alignjax.analysis, when installed)")
    results.add_argument("--tolerance", type=float, default=1.0,
                         help="allowed difference in percentage points on top of 2 standard errors (default 1)")
    results.set_defaults(run=cmd_results)


def cmd_results(args: argparse.Namespace) -> int:
    import polars as pl

    from alignjax.sweep.reader import list_runs, read_run

    if args.runs:
        with pl.Config(tbl_rows=-1, tbl_width_chars=200):
            print(list_runs(args.store))
        return 0
    tables = read_run(args.store, args.run_id)
    print(f"run {tables.run_id}: {tables.summary.height} finished unit(s), {len(tables.missing)} not finished, "
          f"{tables.invalid.height} invalid")
    with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_width_chars=200, fmt_str_lengths=60):
        print(tables.summary.select(*SUMMARY_COLUMNS).sort("model", "checkpoint", "dataset", "norm", "eps",
                                                             "version", "seed"))
        if tables.invalid.height:
            print("invalid (recomputed by the next `alignjax sweep` of this run):")
            print(tables.invalid)
        if args.check_robustbench is not None:
            print(_check(tables, args.check_robustbench, args.tolerance))
    if args.export is not None:
        from alignjax.sweep.store import atomic_write_bytes, parquet_bytes

        atomic_write_bytes(args.export / "summary.parquet", parquet_bytes(tables.summary))
        atomic_write_bytes(args.export / "points.parquet", parquet_bytes(tables.points.collect()))
        print(f"wrote {args.export}/summary.parquet and {args.export}/points.parquet")
    return 0


def _check(tables, source: str, tolerance: float):
    from alignjax.errors import InputError
    from alignjax.sweep.published import compare_with_published, published_datasets, read_published

    if source:
        published = read_published(Path(source))
    else:
        try:
            from alignjax.analysis.robustbench import robustbench_table
        except ImportError:
            raise InputError("no published table is installed: give --check-robustbench PATH (a RobustBench "
                             "model_info folder or a .parquet/.csv table)") from None
        published = robustbench_table()
    comparison = compare_with_published(tables.summary, published, datasets=published_datasets(tables.config),
                                        tolerance=tolerance)
    if comparison.height == 0:
        return ("RobustBench check: no unit matches a published entry (version standard, RobustBench's eps, a "
                "CIFAR test set or ImageNet's RobustBench subset, a model whose id or `robustbench` key is listed)")
    return comparison
