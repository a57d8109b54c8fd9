"""Brain-Score vision leaderboard exports -> long-format scores, with the leaderboard's hierarchy.

Two export formats exist (github.com/brain-score/brain-score.web):
- the server-side "download CSV" (``benchmarks/views/index.py``: ``_build_scores_dataframe`` at
  96d9b743, ``_build_model_data`` at e69aad03): header ``model_name[,layers],<benchmark type
  identifier>...``, one row per model, ceiled scores (engineering leaves raw), missing scores as ``X``
  (the site's ``represent``) or empty. The paper's code read this file
  (kyangl/alignment-security@3bafa26:utilities.py ``setup_scores``, plotting.py ``load_merged_results``).
- the 2025+ grid export (e69aad03:static/benchmarks/js/leaderboard/export/csv-export.js), a zip holding
  ``leaderboard.csv``: two ``#`` comment lines, quoted header ``"Rank","Model","Model ID",...`` whose
  benchmark headers are the short names (lab prefix stripped), empty cells for missing scores.
Both are read by ``read_leaderboard``; identifiers are normalised (``_v<version>`` suffix and lower-case
lab prefix such as ``dicarlo.`` dropped, the rule of the site's ``short_name`` in
e69aad03:benchmarks/sql/mv.sql), then placed in the hierarchy of ``data/brainscore_hierarchy.csv``
(early-2025 leaderboard: leaf identifiers registered in brain-score/vision@d07d356, parents as the
paper's plotting.py names them). Benchmarks that table does not know are kept with a null category and
listed in the notes, as are duplicate models (the first row is kept, as the paper did).
"""

from __future__ import annotations

import functools
import io
import re
import zipfile
from pathlib import Path

import polars as pl

from alignjax.analysis.schemas import SCORES_REQUIRED, SCORES_SCHEMA, Ingested, conform
from alignjax.errors import InputError

HIERARCHY_PATH = Path(__file__).resolve().parent / "data" / "brainscore_hierarchy.csv"
ROOT_CATEGORIES = {"average_vision": "average", "neural_vision": "neural", "behavior_vision": "behavioral",
                   "engineering_vision": "engineering"}
AGGREGATES = ("average_vision", "neural_vision", "behavior_vision", "engineering_vision")
MODEL_COLUMNS = ("model_name", "Model", "model")
METADATA_COLUMNS = {"layers", "Rank", "rank", "Model ID", "model_id", "Filtered Score", "filtered_score",
                    "Public", "public", "submitter", "Submitter", "group_status"}
MISSING_MARKERS = ("X", "x", "", "nan", "NaN", "None")


def benchmark_short_name(identifier: str) -> str:
    """``dicarlo.MajajHong2015.IT-pls_v3`` -> ``MajajHong2015.IT-pls`` (brain-score.web's short_name
    rule: a prefix before the first dot without capital letters is a lab name)."""
    name = re.sub(r"_v\d+$", "", identifier.strip())
    head, dot, tail = name.partition(".")
    if dot and tail and not re.search(r"[A-Z]", head):
        return tail
    return name


@functools.cache
def hierarchy() -> pl.DataFrame:
    """benchmark, parent, category, is_leaf for every node of the shipped leaderboard hierarchy."""
    table = pl.read_csv(HIERARCHY_PATH, schema={"benchmark": pl.String, "parent": pl.String})
    parents = dict(table.iter_rows())
    categories = []
    for name in table.get_column("benchmark"):
        node = name
        while parents.get(node) and node not in ROOT_CATEGORIES:
            node = parents[node]
        categories.append(ROOT_CATEGORIES.get(node))
    has_children = {p for p in parents.values() if p}
    children: dict[str, list[str]] = {}
    for name, parent in table.iter_rows():
        children.setdefault(parent or "", []).append(name)
    order: dict[str, int] = {}
    stack = list(reversed(children[""]))
    while stack:  # depth first, children in file order: the leaderboard's column order
        node = stack.pop()
        order[node] = len(order)
        stack.extend(reversed(children.get(node, [])))
    return table.with_columns(
        pl.Series("category", categories, dtype=pl.String),
        pl.col("benchmark").is_in(list(has_children)).not_().alias("is_leaf"),
        pl.col("benchmark").replace_strict(order, return_dtype=pl.Int64).alias("order"),
    )


def attach_hierarchy(frame: pl.DataFrame) -> tuple[pl.DataFrame, list[str]]:
    """Fills category/parent/is_leaf from the hierarchy where the frame leaves them null."""
    known = hierarchy().drop("order").rename({"parent": "_parent", "category": "_category", "is_leaf": "_is_leaf"})
    joined = frame.join(known, on="benchmark", how="left").with_columns(
        pl.coalesce("category", "_category").alias("category"),
        pl.coalesce("parent", "_parent").alias("parent"),
        pl.coalesce("is_leaf", "_is_leaf").alias("is_leaf"),
    ).drop("_parent", "_category", "_is_leaf")
    unknown = sorted(joined.filter(pl.col("category").is_null()).get_column("benchmark").unique().to_list())
    notes = []
    if unknown:
        notes.append(f"{len(unknown)} benchmark(s) not in the Brain-Score hierarchy (category unknown): "
                     + ", ".join(unknown))
    return joined, notes


def _leaderboard_text(path: Path) -> str:
    if not path.is_file():
        raise FileNotFoundError(f"leaderboard export {path} does not exist")
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.endswith("leaderboard.csv")]
            if not names:
                raise InputError(f"{path} is a zip without leaderboard.csv (found {archive.namelist()})")
            return archive.read(names[0]).decode("utf-8-sig")
    return path.read_text(encoding="utf-8-sig")


def read_leaderboard(path: str | Path) -> Ingested:
    """A Brain-Score leaderboard export (CSV, or the site's zip) as long-format scores."""
    path = Path(path)
    text = _leaderboard_text(path)
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    try:
        wide = pl.read_csv(io.StringIO(body), infer_schema=False)
    except pl.exceptions.PolarsError as err:
        raise InputError(f"cannot read {path} as CSV: {err}") from None
    model_column = next((c for c in MODEL_COLUMNS if c in wide.columns), None)
    if model_column is None:
        raise InputError(f"{path}: no model column (expected one of {MODEL_COLUMNS}); header: {wide.columns[:8]}")
    benchmark_columns = [c for c in wide.columns if c != model_column and c not in METADATA_COLUMNS]
    if not benchmark_columns:
        raise InputError(f"{path}: no benchmark columns besides {wide.columns}")
    notes = [f"{path.name}: Brain-Score leaderboard export, {wide.height} rows, {len(benchmark_columns)} benchmark columns"]
    wide = wide.with_columns(pl.col(model_column).str.strip_chars())
    duplicated = wide.filter(pl.col(model_column).is_duplicated()).get_column(model_column).unique().sort().to_list()
    if duplicated:
        notes.append(f"duplicate model rows, first kept (as the paper): {', '.join(duplicated)}")
        wide = wide.unique(subset=model_column, keep="first", maintain_order=True)
    renamed = {c: benchmark_short_name(c) for c in benchmark_columns}
    if len(set(renamed.values())) != len(renamed):
        raise InputError(f"{path}: benchmark columns collide after normalising names: {renamed}")
    long = (
        wide.select(pl.col(model_column).alias("model"), *[pl.col(c).alias(renamed[c]) for c in benchmark_columns])
        .unpivot(index="model", variable_name="benchmark", value_name="score")
        .with_columns(pl.col("score").str.strip_chars())
    )
    bad = long.filter(
        ~pl.col("score").is_in(MISSING_MARKERS) & pl.col("score").is_not_null()
        & pl.col("score").cast(pl.Float64, strict=False).is_null()
    )
    if bad.height:
        raise InputError(f"{path}: non-numeric scores, e.g. {bad.head(3).rows()}; missing scores must be X or empty")
    long = long.with_columns(
        pl.when(pl.col("score").is_in(MISSING_MARKERS)).then(None).otherwise(pl.col("score"))
        .cast(pl.Float64).alias("score"),
        pl.lit(None, pl.String).alias("category"),
        pl.lit(None, pl.String).alias("parent"),
        pl.lit(None, pl.Boolean).alias("is_leaf"),
        pl.lit(str(path)).alias("source"),
    )
    unscored = long.group_by("model").agg(pl.col("score").is_null().all().alias("none")).filter("none")
    if unscored.height:
        notes.append(f"model(s) without any score, left out: {', '.join(sorted(unscored.get_column('model')))}")
    long, hierarchy_notes = attach_hierarchy(long)
    empty = long.group_by("benchmark").agg(pl.col("score").is_null().all().alias("empty")).filter("empty")
    if empty.height:
        notes.append(f"benchmark column(s) without any score: {', '.join(sorted(empty.get_column('benchmark')))}")
    frame = conform(long, SCORES_SCHEMA, required=SCORES_REQUIRED, what=str(path)).filter(pl.col("score").is_not_null())
    return Ingested(frame=frame, notes=tuple(notes + hierarchy_notes))
