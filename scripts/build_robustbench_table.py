"""Builds alignjax/analysis/data/robustbench_model_info.parquet from RobustBench's model_info JSONs.

Usage: python scripts/build_robustbench_table.py [--source DIR] (DIR holds model_info/<dataset>/<threat>/*.json,
as in github.com/RobustBench/robustbench@78fcc9e; default ../shared/data/robustbench). One row per JSON; the
string-valued numbers of the JSONs ("51.06", "8/255", "" or "null") become floats or nulls; every field is
kept. Deterministic: rows sorted by dataset, threat model, model id.
"""

from __future__ import annotations

import argparse
import fractions
import json
from pathlib import Path

import polars as pl

from alignjax.analysis.robustbench import ROBUSTBENCH_SCHEMA, TABLE_PATH

NUMERIC = ("clean_acc", "reported", "autoattack_acc", "external", "corruptions_acc", "corruptions_acc_3d",
           "corruptions_mce", "corruptions_mce_3d")
TEXT = ("name", "authors", "link", "venue", "architecture", "footnote")


def number(value) -> float | None:
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "null", "none")):
        return None
    return float(fractions.Fraction(str(value).strip()))


def row(path: Path) -> dict:
    info = json.loads(path.read_text())
    threat, dataset = path.parent.name, path.parent.parent.name
    if info.get("dataset", dataset) != dataset:  # the folder is what RobustBench's loader uses
        print(f"note: {path.relative_to(path.parents[3])} says dataset {info['dataset']!r}; kept its folder's {dataset!r}")
    out = {"model_id": path.stem, "dataset": dataset, "threat_model": threat,
           "eps": info.get("eps"), "eps_value": number(info.get("eps")),
           "additional_data": info.get("additional_data"), "number_forward_passes": info.get("number_forward_passes"),
           "unreliable": info.get("unreliable")}
    out.update({k: number(info.get(k)) for k in NUMERIC})
    out.update({k: (info.get(k) or None) for k in TEXT})
    unknown = set(info) - set(out) - {"dataset"}
    if unknown:
        raise ValueError(f"{path}: fields {sorted(unknown)} have no column; extend ROBUSTBENCH_SCHEMA")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared/data/robustbench",
                        help="folder holding model_info/ (default: ../shared/data/robustbench)")
    args = parser.parse_args()
    files = sorted((args.source / "model_info").glob("*/*/*.json"))
    if not files:
        raise SystemExit(f"no model_info/<dataset>/<threat>/*.json under {args.source}")
    table = pl.DataFrame([row(f) for f in files], schema=ROBUSTBENCH_SCHEMA).sort("dataset", "threat_model", "model_id")
    table.write_parquet(TABLE_PATH, compression="zstd", compression_level=22, statistics=False)
    print(f"{table.height} rows -> {TABLE_PATH} ({TABLE_PATH.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
