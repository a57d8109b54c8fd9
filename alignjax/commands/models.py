"""``alignjax models``: the named models of the registry."""

from __future__ import annotations

import argparse
import json

COLUMNS = (("name", "name"), ("arch", "arch"), ("classes", "num_classes"), ("clean %", "expected_clean_acc"),
           ("robust % (AutoAttack)", "robust"))
SOURCE = ("source", "source")


def register(subparsers: argparse._SubParsersAction) -> None:
    models = subparsers.add_parser(
        "models", help="list the named models of the registry",
        description="List the named models: architecture, published clean and AutoAttack accuracy, source.")
    models.add_argument("--json", action="store_true", help="print JSON lines (every field) instead of a table")
    models.add_argument("--filter", metavar="TEXT", help="only names containing TEXT (e.g. robustbench/, Linf)")
    models.add_argument("--sources", action="store_true", help="add a column with each checkpoint's source")
    models.set_defaults(run=cmd_models)


def _cell(row: dict, key: str) -> str:
    if key == "robust":
        accuracy = row.get("expected_robust_acc")
        return "-" if accuracy is None else f"{accuracy:g} ({row['threat_model']})"
    value = row.get(key)
    if value is None:
        return "-"
    return f"{value:g}" if isinstance(value, float) else str(value)


def cmd_models(args: argparse.Namespace) -> int:
    from alignjax.weights.convert import list_models

    rows = list_models()
    rows = rows.to_dicts() if hasattr(rows, "to_dicts") else list(rows)
    if args.filter:
        rows = [row for row in rows if args.filter in row["name"]]
    if args.json:
        for row in rows:
            print(json.dumps(row, default=str))
        return 0
    columns = (*COLUMNS, SOURCE) if args.sources else COLUMNS
    table = [[header for header, _ in columns]] + [[_cell(row, key) for _, key in columns] for row in rows]
    widths = [max(len(line[index]) for line in table) for index in range(len(columns))]
    for line in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
    if not args.sources:
        print(f"\n{len(rows)} models; --sources shows where each checkpoint comes from, --json every field")
    return 0
