"""Baker & Elder (iScience 2022): configural shape. Whole animal silhouettes vs fragmented or
"Frankenstein" (halves recombined) ones; humans lose accuracy on the disrupted shapes, networks do not.

brain-score/vision@d07d356 ``benchmarks/baker2022/benchmark.py`` and
``metrics/baker_accuracy_delta/metric.py``:
- model delta: accuracy on whole images ('w') minus accuracy on the other type ('f' Frankenstein,
  'o' fragmented), each the mean over the 9 animals (sorted) of the per-animal accuracy; 9-way
  decisions over the sorted true labels (``imagenet16.decide`` with Brain-Score's extra labels),
  stimuli placed at 8.8 degrees;
- human delta of a group of subjects: the mean over subjects of their whole minus other accuracy;
- score: for seeds i = 0..99, ``RandomState(i).choice(range(1, n_subjects), n_subjects // 2,
  replace=False)`` picks subject ids (those subjects form the half: Brain-Score compares the drawn
  numbers with the ``subject`` values, which are 1..n, so the draw never includes subject n), and the
  split's score is ``max(1 - |human - model| / human, 0)``; the raw score is the mean over the 100 splits;
- ceiling: 100 splits from one ``RandomState(0)``, the same draw for half 1 and the remaining subjects as
  half 2, consistency ``max(1 - |d1 - d2| / d2, 0)``, Spearman-Brown ``2c / (1 + c)``, median over splits;
- ceiled score = raw / ceiling, clamped to [0, 1] (``bound_score``).
Benchmarks: ``Baker2022frankenstein`` (normal orientation, w vs f), ``Baker2022fragmented`` (normal, w vs
o), ``Baker2022inverted`` (inverted orientation, w vs f).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import polars as pl

HUMAN_SPLITS = 100
CEILING_SPLITS = 100
VISUAL_DEGREES = 8.8
BENCHMARKS = {
    "frankenstein": ("normal", ("w", "f")),
    "fragmented": ("normal", ("w", "o")),
    "inverted": ("inverted", ("w", "f")),
}


@dataclasses.dataclass(frozen=True)
class BakerScore:
    raw: float
    raw_error: float
    ceiling: float
    model_delta: float

    @property
    def ceiled(self) -> float:
        return float(min(max(self.raw / self.ceiling, 0.0), 1.0))


def model_delta(decisions: pl.DataFrame, image_types: tuple[str, str]) -> float:
    """``decisions``: one row per stimulus with ``animal``, ``image_type`` and ``response``."""
    accuracies = []
    for image_type in image_types:
        part = decisions.filter(pl.col("image_type") == image_type)
        per_animal = [
            float((part.filter(pl.col("animal") == animal)["response"] == animal).mean())
            for animal in sorted(decisions["animal"].unique().to_list())
        ]
        accuracies.append(float(np.mean(per_animal)))
    return accuracies[0] - accuracies[1]


def subject_deltas(trials: pl.DataFrame, image_types: tuple[str, str]) -> dict:
    """subject -> accuracy on ``image_types[0]`` minus accuracy on ``image_types[1]`` (``trials``:
    ``subject``, ``image_type``, ``correct`` as bool or 0/1). Brain-Score recomputes these per split;
    they do not depend on the split, so they are computed once."""
    accuracy = (
        trials.filter(pl.col("image_type").is_in(list(image_types)))
        .group_by("subject", "image_type")
        .agg((pl.col("correct").cast(pl.Float64) != 0).mean().alias("accuracy"))
    )
    table = {(row[0], row[1]): row[2] for row in accuracy.iter_rows()}
    deltas = {}
    for subject in trials["subject"].unique().to_list():
        if (subject, image_types[0]) not in table or (subject, image_types[1]) not in table:
            raise ValueError(f"subject {subject!r} has no trials of image type {image_types}")
        deltas[subject] = table[(subject, image_types[0])] - table[(subject, image_types[1])]
    return deltas


def human_delta(deltas: dict, subjects) -> float:
    """The mean of the subjects' deltas (Brain-Score's ``get_human_delta`` of that group)."""
    return float(np.mean([deltas[subject] for subject in sorted(subjects)]))


def _half(subjects: list, random_state: np.random.RandomState) -> tuple[list, list]:
    if not all(isinstance(subject, int) for subject in subjects):
        raise ValueError(
            f"Baker2022 subjects must be integer ids (Brain-Score draws numbers), got {subjects[:3]}"
        )
    chosen = set(random_state.choice(range(1, len(subjects)), len(subjects) // 2, replace=False).tolist())
    first = [subject for subject in subjects if subject in chosen]
    return first, [subject for subject in subjects if subject not in chosen]


def _consistency(delta: float, reference: float) -> float:
    return max(1.0 - abs(delta - reference) / reference, 0.0)


def ceiling(trials: pl.DataFrame, image_types: tuple[str, str], splits: int = CEILING_SPLITS) -> float:
    deltas = subject_deltas(trials, image_types)
    subjects = sorted(deltas)
    random_state = np.random.RandomState(0)
    corrected = []
    for _ in range(splits):
        first, second = _half(subjects, random_state)
        consistency = _consistency(human_delta(deltas, first), human_delta(deltas, second))
        corrected.append(2 * consistency / (1 + consistency))
    return float(np.median(corrected))


def score(
    decisions: pl.DataFrame, trials: pl.DataFrame, image_types: tuple[str, str], splits: int = HUMAN_SPLITS
) -> BakerScore:
    """Raw score, its error (std over splits), ceiling and the model's delta."""
    delta = model_delta(decisions, image_types)
    deltas = subject_deltas(trials, image_types)
    subjects = sorted(deltas)
    values = []
    for seed in range(splits):
        half, _ = _half(subjects, np.random.RandomState(seed))
        values.append(_consistency(delta, human_delta(deltas, half)))
    return BakerScore(float(np.mean(values)), float(np.std(values)), ceiling(trials, image_types), delta)


def load(folder, name: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(stimuli with ``path``, ``animal``, ``image_type``, ``orientation``; trials with ``subject``,
    ``stimulus_id``, ``correct``, ``orientation``, ``image_type``) of a folder written by
    ``brainio_files.fetch_brainio(name, ...)``; the stimulus metadata is merged into the trials as
    brainio's ``StimulusMergeAssemblyLoader`` does."""
    from pathlib import Path

    from alignjax.alignment.behavioral import brainio_files

    folder = Path(folder)
    files = brainio_files.PUBLIC_DATA[name]
    stimuli = brainio_files.read_stimulus_set(folder / files.stimuli_csv.name, folder / "stimuli")
    missing = sorted({"animal", "image_type", "orientation"} - set(stimuli.columns))
    if missing:
        raise ValueError(f"{folder}: the stimulus set lacks {missing}")
    stimuli = stimuli.with_columns(pl.col("animal", "image_type", "orientation").cast(pl.String))
    trials = brainio_files.read_assembly(folder / files.assembly.name)
    if "correct" not in trials.columns:
        trials = trials.rename({"value": "correct"})
    missing = sorted({"subject", "stimulus_id", "correct"} - set(trials.columns))
    if missing:
        raise ValueError(f"{folder / files.assembly.name}: trials lack {missing}; have {trials.columns}")
    own = ["orientation"] if "orientation" in trials.columns else []  # the assembly's own coordinate wins
    merged = ["image_type"] + ([] if own else ["orientation"])
    trials = trials.select(
        "subject", pl.col("stimulus_id").cast(pl.String), "correct", *[pl.col(c).cast(pl.String) for c in own]
    ).join(stimuli.select("stimulus_id", *merged), on="stimulus_id", how="left")
    if trials["image_type"].is_null().any():
        raise ValueError(f"{folder}: some trial images are not in the stimulus set")
    return stimuli, trials
