"""``alignjax models``: the named models of the registry."""

from __future__ import annotations

import argparse
import json

COLUMNS = (("name", "name"), ("arch", "arch"), ("classes", "num_classes"), ("clean %", "expected_clean_acc"),
           ("robust % (AutoAttack)", "robust"))
POOL_COLUMNS = (("name", "name"), ("family", "family"), ("training", "training"),
                ("Brain-Score id", "brainscore_id"), ("preprocessing", "preprocessing"), ("pinned by", "pinning"))
SOURCE = ("source", "source")


def register(subparsers: argparse._SubParsersAction) -> None:
    models = subparsers.add_parser(
        "models", help="list the named models of the registry",
        description="List the named models: architecture, published clean and AutoAttack accuracy, source.")
    models.add_argument("--json", action="store_true", help="print JSON lines (every field) instead of a table")
    models.add_argument("--filter", metavar="TEXT", help="only names containing TEXT (e.g. robustbench/, Linf)")
    models.add_argument("--sources", action="store_true", help="add a column with each checkpoint's source")
    models.add_argument("--pool", metavar="NAME",
                        help="only the models of pool NAME ('paper': the Brain-Score pool of arXiv 2502.12377), "
                             "with family, training regime, Brain-Score id, preprocessing and pinning")
    models.add_argument("--unlock", metavar="SOURCE",
                        help="forget the sha256 the lockfile recorded for SOURCE (after its upstream "
                             "republished the file), so the next download is trusted again")
    models.set_defaults(run=cmd_models)


def _cell(row: dict, key: str) -> str:
    if key == "preprocessing":
        size = f"resize {row['resize']} crop {row['crop']}" if row["crop"] else (
            f"resize {row['resize']}" if row["resize"] else "as is")
        return f"{size} {row['interpolation']} {row['input_shape']}"
    if key == "robust":
        accuracy = row.get("expected_robust_acc")
        return "-" if accuracy is None else f"{accuracy:g} ({row['threat_model']})"
    value = row.get(key)
    if value is None:
        return "-"
    return f"{value:g}" if isinstance(value, float) else str(value)


def cmd_models(args: argparse.Namespace) -> int:
    from alignjax.weights.convert import list_models

    if args.unlock is not None:
        from alignjax.weights.verify import lockfile_path, unlock

        if not unlock(args.unlock):
            print(f"{args.unlock!r} is not in the lockfile {lockfile_path()}; nothing to do")
            return 0
        print(f"forgot the recorded sha256 of {args.unlock} in {lockfile_path()}; the next download is "
              "trusted and recorded again")
        return 0
    rows = list_models(args.pool)
    if args.pool is not None and not rows:
        from alignjax.errors import InputError

        raise InputError(f"no model is in pool {args.pool!r}; the pools are: {', '.join(_pools())}")
    if args.filter:
        rows = [row for row in rows if args.filter in row["name"]]
    if args.json:
        for row in rows:
            print(json.dumps(row, default=str))
        return 0
    columns = POOL_COLUMNS if args.pool else COLUMNS
    columns = (*columns, SOURCE) if args.sources else columns
    table = [[header for header, _ in columns]] + [[_cell(row, key) for _, key in columns] for row in rows]
    widths = [max(len(line[index]) for line in table) for index in range(len(columns))]
    for line in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
    if not args.sources:
        families = len({row["family"] for row in rows})
        print(f"\n{len(rows)} models in {families} families; --sources shows where each checkpoint comes "
              "from, --json every field")
    return 0


def _pools() -> list[str]:
    from alignjax.models import MODELS

    return sorted({pool for spec in MODELS.values() for pool in spec.pools})
