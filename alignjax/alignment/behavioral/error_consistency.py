"""Error consistency: Cohen's kappa between the trial-by-trial correctness of two decision makers.

Geirhos, Meding & Wichmann (NeurIPS 2020). For two observers with accuracies p1, p2 on the same images,

    expected = p1 * p2 + (1 - p1) * (1 - p2)          (consistency of independent observers)
    observed = fraction of images both got right or both got wrong
    kappa    = (observed - expected) / (1 - expected)

References: bethgelab/model-vs-human@79ed7cd ``modelvshuman/plotting/analyses.py::ErrorConsistency``
(returns 1 when ``observed == 1``) and brain-score/vision@d07d356
``brainscore_vision/metrics/error_consistency/metric.py`` (the same formula without that case, so it
returns NaN when both observers are always right or always wrong, i.e. ``expected == 1``; here that
case is 1, as in model-vs-human).

Brain-Score's aggregation, reproduced by ``error_consistency`` and ``ceiling``:
- model score: kappa of the model against every subject in every condition (sorted), then the mean
  over conditions and subjects, then its absolute value (Brain-Score's deviation from the paper, to keep
  scores >= 0); the error is the standard deviation over all (subject, condition) values (ddof 0).
- ceiling: the same over every unordered pair of subjects (``itertools.combinations``).
Images are aligned by ``stimulus_id`` within a condition. Only images that both sides saw enter: a model
shown a subset of the stimuli is compared with the humans on that subset.
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import polars as pl

PAIRS_SCHEMA = pl.Schema(
    {
        "left": pl.String,
        "right": pl.String,
        "condition": pl.String,
        "n_stimuli": pl.Int64,
        "expected": pl.Float64,
        "observed": pl.Float64,
        "kappa": pl.Float64,
    }
)


@dataclasses.dataclass(frozen=True)
class Kappa:
    expected: float
    observed: float
    kappa: float


@dataclasses.dataclass(frozen=True)
class AggregateKappa:
    """``value``: |mean kappa|; ``error``: std of the kappas; ``pairs``: one row per compared pair and
    condition (``PAIRS_SCHEMA``)."""

    value: float
    error: float
    pairs: pl.DataFrame

    @property
    def n_stimuli(self) -> int:
        return int(self.pairs.unique(["condition", "n_stimuli"])["n_stimuli"].sum())


def cohens_kappa(correct_a: np.ndarray, correct_b: np.ndarray) -> Kappa:
    """Error consistency of two aligned boolean correctness vectors."""
    correct_a = np.asarray(correct_a, dtype=bool)
    correct_b = np.asarray(correct_b, dtype=bool)
    if correct_a.shape != correct_b.shape or correct_a.ndim != 1 or correct_a.size == 0:
        raise ValueError(
            f"need two non-empty vectors of equal length, got {correct_a.shape} and {correct_b.shape}"
        )
    p_a, p_b = float(correct_a.mean()), float(correct_b.mean())
    expected = p_a * p_b + (1.0 - p_a) * (1.0 - p_b)
    observed = float((correct_a == correct_b).sum()) / correct_a.size
    kappa = 1.0 if observed == 1.0 else (observed - expected) / (1.0 - expected)
    return Kappa(expected, observed, kappa)


def _correctness(frame: pl.DataFrame, who: str) -> pl.DataFrame:
    needed = {who, "condition", "stimulus_id", "correct"}
    missing = sorted(needed - set(frame.columns))
    if missing:
        raise ValueError(f"decision table lacks column(s) {missing}; needs {sorted(needed)}")
    duplicated = frame.select(who, "condition", "stimulus_id").is_duplicated()
    if duplicated.any():
        raise ValueError(f"{int(duplicated.sum())} repeated ({who}, condition, stimulus_id) rows")
    return frame.select(
        pl.col(who).cast(pl.String),
        pl.col("condition").cast(pl.String),
        pl.col("stimulus_id").cast(pl.String),
        pl.col("correct").cast(pl.Boolean),
    )


def _matrix(
    frame: pl.DataFrame, who: str, condition: str, stimuli: list[str]
) -> tuple[list[str], np.ndarray]:
    """(decision makers, (n_stimuli, n_makers) correctness) of one condition, rows in ``stimuli`` order."""
    part = frame.filter(pl.col("condition") == condition)
    makers = sorted(part[who].unique().to_list())
    wide = part.pivot(on=who, index="stimulus_id", values="correct")
    wide = pl.DataFrame({"stimulus_id": stimuli}).join(wide, on="stimulus_id", how="left")
    values = wide.select(makers).to_numpy()
    if any(value is None for value in values.ravel()):
        raise ValueError(f"condition {condition!r}: not every decision maker saw every image")
    return makers, values.astype(bool)


def _aggregate(rows: list[dict]) -> AggregateKappa:
    pairs = pl.DataFrame(rows, schema=PAIRS_SCHEMA)
    kappas = pairs["kappa"].to_numpy()
    return AggregateKappa(float(abs(kappas.mean())), float(kappas.std()), pairs)


def _shared_stimuli(source: pl.DataFrame, target: pl.DataFrame, condition: str) -> list[str]:
    seen_by_source = set(source.filter(pl.col("condition") == condition)["stimulus_id"].to_list())
    seen_by_target = set(target.filter(pl.col("condition") == condition)["stimulus_id"].to_list())
    unknown = sorted(seen_by_source - seen_by_target)
    if unknown:
        raise ValueError(
            f"condition {condition!r}: {len(unknown)} stimuli have no human trials, e.g. {unknown[:3]}"
        )
    return sorted(seen_by_source)


def error_consistency(source: pl.DataFrame, target: pl.DataFrame, *, who: str = "subject") -> AggregateKappa:
    """Brain-Score's error consistency of one decision maker (``source``: one row per image with
    ``condition``, ``stimulus_id``, ``correct``) against every subject of ``target`` (column ``who``)."""
    source = _correctness(source.with_columns(pl.lit("source").alias(who)), who)
    target = _correctness(target, who)
    rows = []
    subjects = sorted(target[who].unique().to_list())
    for condition in sorted(target["condition"].unique().to_list()):
        stimuli = _shared_stimuli(source, target, condition)
        if not stimuli:
            raise ValueError(f"the model saw no image of condition {condition!r}")
        _, model = _matrix(source, who, condition, stimuli)
        names, humans = _matrix(target, who, condition, stimuli)
        for subject in subjects:
            result = cohens_kappa(model[:, 0], humans[:, names.index(subject)])
            rows.append(
                {
                    "left": "source",
                    "right": subject,
                    "condition": condition,
                    "n_stimuli": len(stimuli),
                    **dataclasses.asdict(result),
                }
            )
    return _aggregate(rows)


def ceiling(
    target: pl.DataFrame, *, who: str = "subject", stimuli: pl.DataFrame | None = None
) -> AggregateKappa:
    """Brain-Score's ceiling: error consistency over every pair of subjects and condition.

    ``stimuli`` (``condition``, ``stimulus_id``) restricts the images, e.g. to those a model saw.
    """
    target = _correctness(target, who)
    if stimuli is not None:
        target = target.join(
            stimuli.select("condition", "stimulus_id").unique(), on=["condition", "stimulus_id"]
        )
    subjects = sorted(target[who].unique().to_list())
    if len(subjects) < 2:
        raise ValueError("a ceiling needs at least two subjects")
    rows = []
    for condition in sorted(target["condition"].unique().to_list()):
        ids = sorted(target.filter(pl.col("condition") == condition)["stimulus_id"].unique().to_list())
        names, matrix = _matrix(target, who, condition, ids)
        for left, right in itertools.combinations(subjects, 2):
            result = cohens_kappa(matrix[:, names.index(left)], matrix[:, names.index(right)])
            rows.append(
                {
                    "left": left,
                    "right": right,
                    "condition": condition,
                    "n_stimuli": len(ids),
                    **dataclasses.asdict(result),
                }
            )
    return _aggregate(rows)
