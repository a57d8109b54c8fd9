"""Rebuilds alignjax/data/human_trials.parquet (+ provenance JSON) from a model-vs-human checkout.

    python scripts/make_human_trials.py /path/to/model-vs-human [--out alignjax/data]

The checkout must be github.com/bethgelab/model-vs-human at the commit named in
``alignjax.data.human_trials.SOURCE_COMMIT``; its ``raw-data/<dataset>/*.csv`` are read with the same
reader users get (``read_raw_trials``) and stored with their raw columns, so nothing is derived here.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from alignjax.data.human_trials import write_packaged_trials

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="model-vs-human checkout (or its raw-data folder)")
    parser.add_argument("--out", type=Path, default=REPO / "alignjax" / "data")
    args = parser.parse_args()
    record = write_packaged_trials(args.root, args.out)
    print(f"{record['rows']} trials from {len(record['files'])} CSVs -> {args.out}")


if __name__ == "__main__":
    main()
