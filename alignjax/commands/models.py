"""``alignjax models``: the named models of the registry."""

from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    models = subparsers.add_parser("models", help="list the named models of the registry")
    models.add_argument("--json", action="store_true", help="print JSON lines instead of a table")
    models.set_defaults(run=cmd_models)


def cmd_models(args: argparse.Namespace) -> int:
    from alignjax.weights.convert import list_models

    rows = list_models()
    rows = rows.to_dicts() if hasattr(rows, "to_dicts") else list(rows)
    if args.json:
        for row in rows:
            print(json.dumps(row, default=str))
        return 0
    cols = ("name", "arch", "num_classes", "expected_clean_acc", "source")
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in cols}
    print("  ".join(c.ljust(widths[c]) for c in cols))
    for r in rows:
        print("  ".join(str(r.get(c, "")).ljust(widths[c]) for c in cols))
    return 0
