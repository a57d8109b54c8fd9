"""Geirhos et al. (NeurIPS 2021) model-vs-human datasets as Brain-Score's Geirhos2021 benchmarks.

For each of the 17 datasets: ``Geirhos2021<name>-top1`` (16-class accuracy, an engineering score) and
``Geirhos2021<name>-error_consistency`` (Cohen's kappa against every human subject, ceiled by the
kappa between subjects). Reference: brain-score/vision@d07d356
``brainscore_vision/benchmarks/geirhos2021/benchmark.py``:
- conditions that are not out-of-distribution or where humans are below 20% correct are dropped
  (``EXCLUDE_CONDITIONS``, from model-vs-human ``plotting/plot.py``; written here in the raw CSV
  spellings: model-vs-human's pandas reads '0.60' as 0.6 and 'true' as True);
- decisions are 16-way over the sorted true labels (``imagenet16.decide``);
- error consistency shows the stimuli at 3 degrees inside the model's 8-degree field
  (``place_on_screen``); top-1 shows them as they are; the score is raw / ceiling, not clamped (the
  paper-era code; Brain-Score clamps to [0, 1] since PR #1984, 2025).

Stimuli are read from a folder in one of three layouts: ``<root>/<texture-vs-shape folder>/<class>/``
(what ``alignjax.data.stimuli.fetch_stimuli`` writes, for cue-conflict, edge, silhouette),
``<root>/<dataset>/<class>/`` or ``<root>/<dataset>/dnn/session-1/<image name>`` (the model-vs-human
release, ``fetch_modelvshuman``). Every stimulus must be one the humans saw; a subset of a dataset is
compared with the humans on that subset (and the ceiling computed on it).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from os import PathLike
from pathlib import Path

import numpy as np
import polars as pl

from alignjax.alignment.behavioral import error_consistency, imagenet16
from alignjax.data import human_trials as trials

DATASETS = (
    "colour", "contrast", "cue-conflict", "edge", "eidolonI", "eidolonII", "eidolonIII", "false-colour",
    "high-pass", "low-pass", "phase-scrambling", "power-equalisation", "rotation", "silhouette", "sketch",
    "stylized", "uniform-noise",
)  # fmt: skip
TEXTURE_SHAPE_FOLDERS = {
    "cue-conflict": "style-transfer-preprocessed-512",
    "edge": "edges",
    "silhouette": "filled-silhouettes",
}
EXCLUDE_CONDITIONS = {
    "colour": ("cr",),
    "contrast": ("c100", "c03", "c01"),
    "high-pass": ("inf", "0.55", "0.45", "0.4"),
    "low-pass": ("0", "15", "40"),
    "phase-scrambling": ("0", "150", "180"),
    "power-equalisation": ("0",),
    "false-colour": ("true",),
    "rotation": ("0",),
    "eidolonI": ("1-10-10", "64-10-10", "128-10-10"),
    "eidolonII": ("1-3-10", "32-3-10", "64-3-10", "128-3-10"),
    "eidolonIII": ("1-0-10", "16-0-10", "32-0-10", "64-0-10", "128-0-10"),
    "uniform-noise": ("0.00", "0.60", "0.90"),
}
SCREEN_DEGREES = 3.0
STIMULUS_SCHEMA = pl.Schema(
    {
        "path": pl.String,
        "stimulus_id": pl.String,
        "condition": pl.String,
        "truth": pl.String,
        "shape": pl.String,
        "texture": pl.String,
    }
)


def benchmark_name(dataset: str, metric: str) -> str:
    """``Geirhos2021cueconflict-error_consistency`` etc. (Brain-Score's identifiers)."""
    return f"Geirhos2021{dataset.replace('-', '')}-{metric}"


def check_dataset(dataset: str) -> str:
    if dataset not in DATASETS:
        raise ValueError(f"unknown Geirhos2021 dataset {dataset!r}; known: {list(DATASETS)}")
    return dataset


def human_decisions(dataset: str) -> pl.DataFrame:
    """Shipped trials of a dataset without its excluded conditions: subject, condition, stimulus_id,
    truth, response, correct."""
    frame = trials.load_human_trials(check_dataset(dataset))
    frame = frame.filter(~pl.col("condition").is_in(list(EXCLUDE_CONDITIONS.get(dataset, ()))))
    return frame.select(
        pl.col("subj").alias("subject"), "condition", "stimulus_id",
        pl.col("category").alias("truth"), pl.col("object_response").alias("response"),
        (pl.col("object_response") == pl.col("category")).alias("correct"),
    )  # fmt: skip


def _texture_shape_files(root: Path, dataset: str) -> list[Path]:
    for folder in (root / TEXTURE_SHAPE_FOLDERS[dataset], root / dataset):
        files = sorted(folder.glob("*/*.png"))
        if files:
            return files
    return []


def _texture_shape_row(path: Path, dataset: str) -> tuple[str, ...]:
    """(path, stimulus id, condition '0', class folder, shape, texture); cue-conflict names are
    ``<shape><i>-<texture><j>``, the others ``<class><i>`` (a malformed name fails the check against the
    human trials)."""
    stem = path.stem
    parts = stem.split("-", 1) if dataset == "cue-conflict" and "-" in stem else [stem, stem]
    shape, texture = (part.rstrip("0123456789") for part in parts)
    return str(path), stem, "0", path.parent.name, shape, texture


def find_stimuli(root: str | PathLike, dataset: str, *, exclude: bool = True) -> pl.DataFrame:
    """The stimuli of ``dataset`` under ``root`` (``STIMULUS_SCHEMA``), sorted by stimulus id.

    Raises:
      FileNotFoundError: no stimuli of the dataset under ``root``.
      ValueError: a file the humans never saw (wrong folder or renamed files).
    """
    root = Path(root)
    check_dataset(dataset)
    if dataset in TEXTURE_SHAPE_FOLDERS:
        files = _texture_shape_files(root, dataset)
        rows = [_texture_shape_row(path, dataset) for path in files]
    else:
        files = sorted((root / dataset / "dnn" / "session-1").glob("*.png"))
        rows = []
        for path in files:
            fields = path.name.split("_")
            if len(fields) < 7:
                raise ValueError(
                    f"{path}: not a model-vs-human image name '<n>_<code>_<s>_<condition>_<class>_..'"
                )
            rows.append(
                (str(path), "_".join(fields[3:])[: -len(".png")], fields[3], fields[4], fields[4], fields[4])
            )
    if not rows:
        where = (
            [str(root / TEXTURE_SHAPE_FOLDERS[dataset]), str(root / dataset)]
            if dataset in TEXTURE_SHAPE_FOLDERS
            else [str(root / dataset / "dnn" / "session-1")]
        )
        raise FileNotFoundError(f"no {dataset} stimuli (*.png) under {' or '.join(where)}")
    table = pl.DataFrame(rows, schema=STIMULUS_SCHEMA, orient="row")
    known = trials.load_human_trials(dataset).select("stimulus_id", "condition", "category").unique()
    checked = table.join(known, on="stimulus_id", how="left")
    unknown = checked.filter(
        pl.col("category").is_null() | (pl.col("category") != pl.col("truth"))
        | (pl.col("condition") != pl.col("condition_right"))
    )  # fmt: skip
    if unknown.height:
        raise ValueError(
            f"{unknown.height} {dataset} file(s) under {root} are not stimuli the humans saw with that class "
            f"and condition, e.g. {unknown['path'].head(3).to_list()}"
        )
    if table["stimulus_id"].is_duplicated().any():
        raise ValueError(f"{dataset} stimuli under {root} repeat an image id")
    if exclude:
        table = table.filter(~pl.col("condition").is_in(list(EXCLUDE_CONDITIONS.get(dataset, ()))))
    return table.sort("stimulus_id")


def model_decisions(
    stimuli: pl.DataFrame, logits: np.ndarray, labels: tuple[str, ...] | None = None
) -> pl.DataFrame:
    """``stimuli`` (rows aligned with ``logits``) plus ``response`` (16-way decision) and ``correct``."""
    if len(logits) != stimuli.height:
        raise ValueError(f"{len(logits)} logits rows for {stimuli.height} stimuli")
    response = imagenet16.decide(logits, labels if labels is not None else imagenet16.categories())
    return stimuli.with_columns(pl.Series("response", response, dtype=pl.String)).with_columns(
        (pl.col("response") == pl.col("truth")).alias("correct")
    )


@dataclasses.dataclass(frozen=True)
class ConsistencyScore:
    raw: error_consistency.AggregateKappa
    ceiling: error_consistency.AggregateKappa

    @property
    def ceiled(self) -> float:
        return self.raw.value / self.ceiling.value


def accuracy(decisions: pl.DataFrame) -> tuple[float, float]:
    """Brain-Score's ``Accuracy``: mean and standard deviation (ddof 0) of per-image correctness."""
    values = decisions["correct"].to_numpy().astype(np.float64)
    return float(values.mean()), float(values.std())


def consistency(
    decisions: pl.DataFrame, dataset: str, humans: pl.DataFrame | None = None
) -> ConsistencyScore:
    """Error consistency of model ``decisions`` (``model_decisions``) with the humans, and its ceiling on
    the same images."""
    humans = human_decisions(dataset) if humans is None else humans
    seen = decisions.select("condition", "stimulus_id")
    humans = humans.join(seen, on=["condition", "stimulus_id"])
    raw = error_consistency.error_consistency(decisions, humans)
    return ConsistencyScore(raw, error_consistency.ceiling(humans))


def scores_from_logits(
    stimuli: pl.DataFrame, logits_on_screen: np.ndarray, logits_plain: np.ndarray, dataset: str
) -> Mapping[str, object]:
    """Both Geirhos2021 scores of one dataset from the model's logits on the placed and the plain images."""
    placed = model_decisions(stimuli, logits_on_screen)
    plain = model_decisions(stimuli, logits_plain)
    return {
        "top1": accuracy(plain),
        "error_consistency": consistency(placed, dataset),
        "decisions_on_screen": placed,
        "decisions_plain": plain,
    }
