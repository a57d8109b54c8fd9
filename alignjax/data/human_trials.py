"""Human psychophysics trials of Geirhos et al. (NeurIPS 2021), model-vs-human ``raw-data/<dataset>/*.csv``.

Each CSV (one per subject and session; github.com/bethgelab/model-vs-human @ 79ed7cd, MIT) has the
columns ``subj, session, trial, rt, object_response, category, condition, imagename``; some files spell
``Session`` with a capital S. Values are read as text and cast to ``RAW_SCHEMA`` (``condition`` stays
text: '0.4' and '0.40' are different levels). ``rt`` 'NaN' (no response in time) becomes null;
``object_response`` keeps 'na' for those trials, so it never equals ``category`` (counted wrong, as in
model-vs-human).

Image names are ``<trial>_<code>_s<subject>_<condition>_<category>_<nn>_<source file>``; e.g.
``0001_s5n_s01_0_bird_00_bird3-bird2.png`` is the texture-vs-shape cue-conflict file
``bird/bird3-bird2.png`` (shape class first, texture class second).
"""

from __future__ import annotations

from collections.abc import Sequence
from os import PathLike
from pathlib import Path

import polars as pl

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
TRIALS_SCHEMA = pl.Schema(
    {
        "dataset": pl.String,
        **RAW_SCHEMA,
        "subject": pl.Int32,
        "dataset_code": pl.String,
        "source_file": pl.String,
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


def parsed_fields() -> list[pl.Expr]:
    """``subject`` (int), ``dataset_code`` and ``source_file`` parsed from ``subj`` and ``imagename``."""
    parts = pl.col("imagename").str.splitn("_", 7)
    return [
        pl.col("subj").str.extract(r"^subject-(\d+)$", 1).cast(pl.Int32).alias("subject"),
        parts.struct.field("field_1").alias("dataset_code"),
        parts.struct.field("field_6").alias("source_file"),
    ]


def read_human_trials(root: str | PathLike, dataset: str | Sequence[str] | None = None) -> pl.DataFrame:
    """Trials of one dataset (e.g. 'cue-conflict'), several, or all (None), with ``TRIALS_SCHEMA``.

    Rows keep file order (files sorted by name). Malformed image names or subject ids are an error.
    """
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
    frame = pl.concat(frames).with_columns(parsed_fields()).select(list(TRIALS_SCHEMA))
    broken = frame.filter(pl.col("subject").is_null() | pl.col("source_file").is_null())
    if broken.height:
        raise ValueError(
            f"cannot parse subject or image name of {broken.height} trial(s), e.g. {broken.row(0)}"
        )
    return frame.cast(dict(TRIALS_SCHEMA))  # type: ignore[arg-type]


def cue_conflict_fields() -> list[pl.Expr]:
    """``shape``, ``texture`` and ``stimulus_file`` ('<shape>/<file>.png') from ``source_file``."""
    return [
        pl.col("source_file").str.extract(r"^([a-z]+)\d+-[a-z]+\d+\.png$", 1).alias("shape"),
        pl.col("source_file").str.extract(r"^[a-z]+\d+-([a-z]+)\d+\.png$", 1).alias("texture"),
        pl.concat_str(
            pl.col("source_file").str.extract(r"^([a-z]+)\d+-", 1), pl.col("source_file"), separator="/"
        ).alias("stimulus_file"),
    ]


def read_cue_conflict_trials(root: str | PathLike) -> pl.DataFrame:
    """Cue-conflict trials with ``CUE_CONFLICT_SCHEMA``: each row names its texture-vs-shape stimulus file."""
    frame = read_human_trials(root, "cue-conflict").with_columns(cue_conflict_fields())
    broken = frame.filter(pl.col("stimulus_file").is_null() | (pl.col("shape") != pl.col("category")))
    if broken.height:
        raise ValueError(
            f"{broken.height} cue-conflict image name(s) do not parse, e.g. {broken['imagename'][0]}"
        )
    return frame


def cue_conflict_stimulus_file(imagename: str) -> str:
    """``'0001_s5n_s01_0_bird_00_bird3-bird2.png'`` -> ``'bird/bird3-bird2.png'`` (path under the
    cue-conflict folder ``stimuli/style-transfer-preprocessed-512/``)."""
    frame = (
        pl.DataFrame({"imagename": [imagename]})
        .with_columns(parsed_fields()[1:])
        .with_columns(cue_conflict_fields())
    )
    value = frame["stimulus_file"][0]
    if value is None:
        raise ValueError(f"{imagename!r} is not a cue-conflict image name")
    return value
