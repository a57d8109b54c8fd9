"""Human psychophysics trials of Geirhos et al. (NeurIPS 2021), model-vs-human ``raw-data/<dataset>/*.csv``.

The trials of all 17 datasets (85,120 rows, 90 CSVs of github.com/bethgelab/model-vs-human @ 79ed7cd, MIT)
ship inside the package as ``human_trials.parquet`` (raw columns, zstd; see HUMAN_TRIALS_LICENSE.md and
``human_trials.provenance.json``, which lists every source CSV with its sha256 and row count).
``load_human_trials`` reads them; ``read_human_trials`` reads the CSVs of a model-vs-human checkout
instead, and ``scripts/make_human_trials.py`` rebuilds the parquet from such a checkout.

Each CSV (one per subject and session) has the columns ``subj, session, trial, rt, object_response,
category, condition, imagename``; some files spell ``Session`` with a capital S. Values are read as text
and cast to ``RAW_SCHEMA`` (``condition`` stays text: '0.4' and '0.40' are different levels). ``rt``
'NaN' (no response in time) becomes null; ``object_response`` keeps 'na' for those trials, so it never
equals ``category`` (counted wrong, as in model-vs-human).

Image names are ``<trial>_<code>_s<subject>_<condition>_<category>_<nn>_<source file>``; e.g.
``0001_s5n_s01_0_bird_00_bird3-bird2.png`` is the texture-vs-shape cue-conflict file
``bird/bird3-bird2.png`` (shape class first, texture class second).

``stimulus_id`` names the image independently of subject and trial, as Brain-Score's Geirhos2021
assemblies do (brain-score/vision@d07d356 ``data/geirhos2021/data_packaging/*_data_assembly.py``): for
cue-conflict, edge and silhouette the source file's stem (``bird3-bird2``); for the other 14 datasets the
image name without its first three fields and without ``.png`` (``c30_knife_10_n03041632_7380``).
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Sequence
from importlib import resources
from os import PathLike
from pathlib import Path

import polars as pl

PACKAGED_TRIALS = "human_trials.parquet"
PACKAGED_PROVENANCE = "human_trials.provenance.json"
SOURCE_REPOSITORY = "https://github.com/bethgelab/model-vs-human"
SOURCE_COMMIT = "79ed7cd1d9ac3a114e71b6638f0a98bdd627316c"
# datasets whose stimuli are texture-vs-shape files named by their source file (Brain-Score: field 6)
SOURCE_FILE_DATASETS = ("cue-conflict", "edge", "silhouette")

RAW_COLUMNS = ("subj", "session", "trial", "rt", "object_response", "category", "condition", "imagename")
RAW_SCHEMA = pl.Schema(
    {
        "subj": pl.String,
        "session": pl.Int32,
        "trial": pl.Int32,
        "rt": pl.Float64,
        "object_response": pl.String,
        "category": pl.String,
        "condition": pl.String,
        "imagename": pl.String,
    }
)
PACKAGED_SCHEMA = pl.Schema({"dataset": pl.String, **RAW_SCHEMA})
TRIALS_SCHEMA = pl.Schema(
    {
        **PACKAGED_SCHEMA,
        "subject": pl.Int32,
        "dataset_code": pl.String,
        "source_file": pl.String,
        "stimulus_id": pl.String,
    }
)
CUE_CONFLICT_SCHEMA = pl.Schema(
    {**TRIALS_SCHEMA, "shape": pl.String, "texture": pl.String, "stimulus_file": pl.String}
)


def raw_data_folder(root: str | PathLike) -> Path:
    """``root`` itself or ``root/raw-data``."""
    root = Path(root)
    folder = root / "raw-data" if (root / "raw-data").is_dir() else root
    if not folder.is_dir():
        raise FileNotFoundError(f"model-vs-human raw data not found at {folder}")
    return folder


def available_datasets(root: str | PathLike) -> list[str]:
    return sorted(path.name for path in raw_data_folder(root).iterdir() if path.is_dir())


def _read_csv(path: Path) -> pl.DataFrame:
    frame = pl.read_csv(path, infer_schema=False)
    frame = frame.rename({name: name.lower() for name in frame.columns})
    if tuple(frame.columns) != RAW_COLUMNS:
        raise ValueError(f"{path}: columns {frame.columns}, expected {list(RAW_COLUMNS)}")
    return frame.select(
        pl.col("subj"),
        pl.col("session").cast(pl.Int32),
        pl.col("trial").cast(pl.Int32),
        pl.col("rt").cast(pl.Float64).fill_nan(None),
        pl.col("object_response"),
        pl.col("category"),
        pl.col("condition"),
        pl.col("imagename"),
    )


def stimulus_id() -> pl.Expr:
    """Brain-Score's image id (see the module docstring); needs ``dataset`` and ``imagename``."""
    parts = pl.col("imagename").str.splitn("_", 4)
    after_three = parts.struct.field("field_3").str.replace(r"\.png$", "")
    source_stem = pl.col("imagename").str.splitn("_", 7).struct.field("field_6").str.replace(r"\.png$", "")
    return (
        pl.when(pl.col("dataset").is_in(list(SOURCE_FILE_DATASETS)))
        .then(source_stem)
        .otherwise(after_three)
        .alias("stimulus_id")
    )


def parsed_fields() -> list[pl.Expr]:
    """``subject`` (int), ``dataset_code``, ``source_file`` and ``stimulus_id`` parsed from the names."""
    parts = pl.col("imagename").str.splitn("_", 7)
    return [
        pl.col("subj").str.extract(r"^subject-(\d+)$", 1).cast(pl.Int32).alias("subject"),
        parts.struct.field("field_1").alias("dataset_code"),
        parts.struct.field("field_6").alias("source_file"),
        stimulus_id(),
    ]


def _with_parsed_fields(frame: pl.DataFrame) -> pl.DataFrame:
    frame = frame.with_columns(parsed_fields()).select(list(TRIALS_SCHEMA))
    broken = frame.filter(
        pl.col("subject").is_null() | pl.col("source_file").is_null() | pl.col("stimulus_id").is_null()
    )
    if broken.height:
        raise ValueError(
            f"cannot parse subject or image name of {broken.height} trial(s), e.g. {broken.row(0)}"
        )
    return frame.cast(dict(TRIALS_SCHEMA))  # type: ignore[arg-type]


def read_raw_trials(root: str | PathLike, dataset: str | Sequence[str] | None = None) -> pl.DataFrame:
    """The raw CSV columns plus ``dataset`` (``PACKAGED_SCHEMA``), files in name order, rows in file order."""
    folder = raw_data_folder(root)
    names = (
        available_datasets(folder)
        if dataset is None
        else [dataset]
        if isinstance(dataset, str)
        else list(dataset)
    )
    frames = []
    for name in names:
        files = sorted((folder / name).glob("*.csv"))
        if not files:
            raise FileNotFoundError(
                f"no trial CSVs for dataset {name!r} in {folder}; known: {available_datasets(folder)}"
            )
        for file in files:
            frames.append(_read_csv(file).with_columns(pl.lit(name).alias("dataset")))
    return pl.concat(frames).select(list(PACKAGED_SCHEMA)).cast(dict(PACKAGED_SCHEMA))  # type: ignore[arg-type]


def read_human_trials(root: str | PathLike, dataset: str | Sequence[str] | None = None) -> pl.DataFrame:
    """Trials of one dataset (e.g. 'cue-conflict'), several, or all (None) from a model-vs-human
    checkout's CSVs, with ``TRIALS_SCHEMA``.

    Rows keep file order (files sorted by name). Malformed image names or subject ids are an error.
    """
    return _with_parsed_fields(read_raw_trials(root, dataset))


@functools.cache
def _packaged_raw() -> pl.DataFrame:
    source = resources.files("alignjax.data").joinpath(PACKAGED_TRIALS)
    with resources.as_file(source) as path:
        frame = pl.read_parquet(path)
    if frame.schema != PACKAGED_SCHEMA:
        raise RuntimeError(f"{PACKAGED_TRIALS} has schema {frame.schema}, expected {PACKAGED_SCHEMA}")
    return frame


def packaged_datasets() -> list[str]:
    """The 17 model-vs-human datasets whose trials ship with alignjax."""
    return sorted(_packaged_raw()["dataset"].unique().to_list())


def load_human_trials(dataset: str | Sequence[str] | None = None) -> pl.DataFrame:
    """Shipped trials of one dataset, several, or all (None), with ``TRIALS_SCHEMA``, in source file order."""
    frame = _packaged_raw()
    if dataset is not None:
        wanted = [dataset] if isinstance(dataset, str) else list(dataset)
        unknown = sorted(set(wanted) - set(packaged_datasets()))
        if unknown:
            raise ValueError(f"no human trials for dataset(s) {unknown}; known: {packaged_datasets()}")
        frame = frame.filter(pl.col("dataset").is_in(wanted))
    return _with_parsed_fields(frame)


def provenance() -> dict:
    """Source repository, commit, licence and per-CSV sha256/row counts of the shipped trials."""
    return json.loads(resources.files("alignjax.data").joinpath(PACKAGED_PROVENANCE).read_text())


def write_packaged_trials(root: str | PathLike, out_dir: str | PathLike) -> dict:
    """Writes ``human_trials.parquet`` and its provenance JSON from a model-vs-human checkout's CSVs."""
    folder = raw_data_folder(root)
    out_dir = Path(out_dir)
    raw = read_raw_trials(folder)
    _with_parsed_fields(raw)  # refuse unparsable names before writing anything
    target = out_dir / PACKAGED_TRIALS
    raw.write_parquet(target, compression="zstd", compression_level=22, statistics=False)
    files = []
    for name in available_datasets(folder):
        for file in sorted((folder / name).glob("*.csv")):
            files.append(
                {
                    "path": f"raw-data/{name}/{file.name}",
                    "sha256": hashlib.sha256(file.read_bytes()).hexdigest(),
                    "rows": _read_csv(file).height,
                }
            )
    record = {
        "source": SOURCE_REPOSITORY,
        "commit": SOURCE_COMMIT,
        "licence": "MIT (model-vs-human CODE_LICENSE; see HUMAN_TRIALS_LICENSE.md)",
        "rows": raw.height,
        "parquet_sha256": hashlib.sha256(target.read_bytes()).hexdigest(),
        "files": files,
    }
    (out_dir / PACKAGED_PROVENANCE).write_text(json.dumps(record, indent=1) + "\n")
    return record


def cue_conflict_fields() -> list[pl.Expr]:
    """``shape``, ``texture`` and ``stimulus_file`` ('<shape>/<file>.png') from ``source_file``."""
    return [
        pl.col("source_file").str.extract(r"^([a-z]+)\d+-[a-z]+\d+\.png$", 1).alias("shape"),
        pl.col("source_file").str.extract(r"^[a-z]+\d+-([a-z]+)\d+\.png$", 1).alias("texture"),
        pl.concat_str(
            pl.col("source_file").str.extract(r"^([a-z]+)\d+-", 1), pl.col("source_file"), separator="/"
        ).alias("stimulus_file"),
    ]


def _cue_conflict(frame: pl.DataFrame) -> pl.DataFrame:
    frame = frame.with_columns(cue_conflict_fields())
    broken = frame.filter(pl.col("stimulus_file").is_null() | (pl.col("shape") != pl.col("category")))
    if broken.height:
        raise ValueError(
            f"{broken.height} cue-conflict image name(s) do not parse, e.g. {broken['imagename'][0]}"
        )
    return frame


def read_cue_conflict_trials(root: str | PathLike) -> pl.DataFrame:
    """Cue-conflict trials of a checkout with ``CUE_CONFLICT_SCHEMA``: each row names its stimulus file."""
    return _cue_conflict(read_human_trials(root, "cue-conflict"))


def load_cue_conflict_trials() -> pl.DataFrame:
    """Shipped cue-conflict trials with ``CUE_CONFLICT_SCHEMA``."""
    return _cue_conflict(load_human_trials("cue-conflict"))


def cue_conflict_stimulus_file(imagename: str) -> str:
    """``'0001_s5n_s01_0_bird_00_bird3-bird2.png'`` -> ``'bird/bird3-bird2.png'`` (path under the
    cue-conflict folder ``stimuli/style-transfer-preprocessed-512/``)."""
    frame = (
        pl.DataFrame({"imagename": [imagename]})
        .with_columns(parsed_fields()[1:3])
        .with_columns(cue_conflict_fields())
    )
    value = frame["stimulus_file"][0]
    if value is None:
        raise ValueError(f"{imagename!r} is not a cue-conflict image name")
    return value
