"""Rajalingham2018public-i2n (and i1n): object-confusion behaviour of 24-way logistic readouts vs humans.

brain-score/vision@d07d356 ``benchmarks/rajalingham2018/benchmarks/{benchmark,public_benchmark}.py``:
the model's readout features of the fitting stimuli (``objectome.public``, shown at 8 degrees, the
model's own field, so unchanged) train Brain-Score's logistic readout (``readout.py``) on the images'
``image_label``; the readout's probabilities on the assembly's stimuli (the same public set) give the
model's response matrix, compared with the human trials of ``Rajalingham2018.public`` by I2n
(``i1i2.py``); the public ceiling skips NaNs. The private 240-image split of the leaderboard is not
public, so scores on this variant differ from the leaderboard's ``Rajalingham2018-i2n``.

Data: ``brainio_files.fetch_brainio('Rajalingham2018.public', dest)``, verified by the sha1s Brain-Score
pins. Trials need the coordinates ``stimulus_id`` (or ``image_id``), ``sample_obj``, ``dist_obj``, and
the chosen object as the assembly's values (or a ``choice`` coordinate).
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path

import numpy as np
import polars as pl

from alignjax.alignment.behavioral import brainio_files, i1i2, readout

NAME = "Rajalingham2018.public"
VISUAL_DEGREES = 8.0
TRIAL_COLUMNS = ("stimulus_id", "sample_obj", "dist_obj", "choice")


def load(folder: str | PathLike) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(stimulus set with ``path`` and ``image_label``, trials with ``TRIAL_COLUMNS`` in stored order) from
    a folder written by ``fetch_brainio`` (or holding the same three files and ``stimuli/``)."""
    folder = Path(folder)
    files = brainio_files.PUBLIC_DATA[NAME]
    stimuli = brainio_files.read_stimulus_set(folder / files.stimuli_csv.name, folder / "stimuli")
    if "image_label" not in stimuli.columns:
        raise ValueError(
            f"{folder}: the stimulus set has no image_label column (the readout's training labels)"
        )
    trials = brainio_files.read_assembly(folder / files.assembly.name)
    if "choice" not in trials.columns:
        trials = trials.rename({"value": "choice"})
    missing = sorted(set(TRIAL_COLUMNS) - set(trials.columns))
    if missing:
        raise ValueError(f"{folder / files.assembly.name}: trials lack {missing}; have {trials.columns}")
    trials = trials.select([pl.col(c).cast(pl.String) for c in TRIAL_COLUMNS])
    unknown = sorted(set(trials["stimulus_id"].to_list()) - set(stimuli["stimulus_id"].to_list()))
    if unknown:
        raise ValueError(f"{len(unknown)} trial images are not in the stimulus set, e.g. {unknown[:3]}")
    return stimuli, trials


def model_matrix(
    probabilities: np.ndarray, labels: tuple[str, ...], stimulus_ids: list[str], trials: pl.DataFrame
) -> i1i2.ResponseMatrix:
    """The model's response matrix over the images the humans saw (their true object from the trials,
    Brain-Score's ``add_source_meta``)."""
    truth_of = dict(trials.select("stimulus_id", "sample_obj").unique().iter_rows())
    keep = [i for i, stimulus in enumerate(stimulus_ids) if stimulus in truth_of]
    ids = [stimulus_ids[i] for i in keep]
    return i1i2.model_response_matrix(ids, [truth_of[i] for i in ids], probabilities[keep], labels)


def score(
    fit_features: np.ndarray,
    fit_labels: list[str],
    test_features: np.ndarray,
    test_ids: list[str],
    trials: pl.DataFrame,
    *,
    collapse: bool = False,
) -> i1i2.SplitScores:
    """I2n (or I1n with ``collapse``) of readout features; see the module docstring."""
    fitted = readout.fit_logistic_readout(fit_features, fit_labels)
    probabilities = fitted.predict_proba(test_features)
    matrix = model_matrix(probabilities, fitted.labels, test_ids, trials)
    arrays = {column: trials[column].to_numpy().astype(str) for column in TRIAL_COLUMNS}
    return i1i2.i_n(matrix, arrays, collapse=collapse)
