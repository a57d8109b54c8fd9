"""Image-level behavioural consistency I1n / I2n (Rajalingham, Issa et al., J. Neurosci. 2018), as Brain-Score
computes it: brain-score/vision@d07d356 ``brainscore_vision/metrics/i1i2/metric.py`` (only I2n is verified
there).

A response matrix R (images x objects) holds, for image i of true object t and distractor c != t, the rate
of choosing c over t: for a model p_c / (p_c + p_t) from its object probabilities; for humans the number of
trials of image i answered c divided by the trials of image i in which c was offered (as the sample or
as the distractor). Then

    d'(i, c) = z(1 - R[i, c]) - z(FA(c, t)),   FA(c, t) = mean over images i' of object c of R[i', t]

(z = standard normal quantile; Brain-Score's per-object false-alarm rate, a documented deviation from the
paper), clipped to [-5, 5]; "n" subtracts the mean d' of each (true object, distractor) cell over its
images; I1 averages over distractors. The score is the Pearson r between model and human matrices over
entries where the human value is finite, with the human matrix built from one random half of the trials;
the ceiling is r between the two halves (no Spearman-Brown); two splits from one ``RandomState(0)``
shuffle the trial order (``random_state.shuffle``), so score and ceiling use the same halves; the
ceiled score is the mean over splits of r / sqrt(ceiling) (``Rajalingham2018`` benchmark ``ceil_score``).

Deviations, only where Brain-Score would stop with an error: a half that lacks an image of the model's
matrix leaves that row missing instead of failing the alignment assertion; entries where the model's
d' is NaN but the human's is not are left out (Brain-Score asserts there are none); an object without
images gives NaN false-alarm rates instead of a KeyError. Means and correlations are computed without
NaN-slice warnings (same values).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import scipy.stats

CAP = 5.0
REPETITIONS = 2


@dataclasses.dataclass(frozen=True)
class ResponseMatrix:
    """Rows: ``stimulus_ids`` (sorted), their ``truths``; columns: ``choices`` (sorted); ``values`` float."""

    stimulus_ids: np.ndarray
    truths: np.ndarray
    choices: np.ndarray
    values: np.ndarray


@dataclasses.dataclass(frozen=True)
class SplitScores:
    """Per split: model-vs-half r (``raw``), half-vs-half r (``ceiling``), and r / sqrt(ceiling)."""

    raw: np.ndarray
    ceiling: np.ndarray

    @property
    def ceiled(self) -> np.ndarray:
        """NaN for a split whose ceiling is not positive (Brain-Score's ``np.sqrt`` gives NaN there too)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.raw / np.sqrt(self.ceiling)

    @property
    def value(self) -> float:
        return float(self.ceiled.mean())

    @property
    def error(self) -> float:
        return float(self.ceiled.std())


def _sorted_rows(
    stimulus_ids: np.ndarray, truths: np.ndarray, values: np.ndarray, choices: np.ndarray
) -> ResponseMatrix:
    order = np.argsort(stimulus_ids, kind="stable")
    column_order = np.argsort(choices, kind="stable")
    return ResponseMatrix(
        stimulus_ids[order], truths[order], choices[column_order], values[order][:, column_order]
    )


def model_response_matrix(
    stimulus_ids: Sequence[str], truths: Sequence[str], probabilities: np.ndarray, choices: Sequence[str]
) -> ResponseMatrix:
    """Brain-Score's ``target_distractor_scores``: p_c / (p_c + p_t), NaN where c is the true object."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    choices = np.asarray(choices, dtype=str)
    truths = np.asarray(truths, dtype=str)
    missing = sorted(set(truths) - set(choices))
    if missing:
        raise ValueError(f"true objects {missing} are not among the model's choices")
    truth_index = np.array([np.flatnonzero(choices == truth)[0] for truth in truths])
    p_truth = probabilities[np.arange(len(truths)), truth_index][:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        values = probabilities / (probabilities + p_truth)
    values[choices[None, :] == truths[:, None]] = np.nan
    return _sorted_rows(np.asarray(stimulus_ids, dtype=str), truths, values, choices)


def human_response_matrix(
    stimulus_ids: Sequence[str],
    sample_objects: Sequence[str],
    distractor_objects: Sequence[str],
    chosen: Sequence[str],
) -> ResponseMatrix:
    """Brain-Score's ``build_response_matrix_from_responses`` from trials (one row each): the image, the
    sample (true) object, the distractor offered, and the object chosen. Columns are the chosen objects."""
    ids = np.asarray(stimulus_ids, dtype=str)
    samples, distractors, answers = (
        np.asarray(a, dtype=str) for a in (sample_objects, distractor_objects, chosen)
    )
    image_ids, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
    choices = np.unique(answers)
    choice_index = {choice: column for column, choice in enumerate(choices)}
    chosen_counts = np.zeros((len(image_ids), len(choices)))
    offered_counts = np.zeros((len(image_ids), len(choices)))
    for row, answer, sample, distractor in zip(inverse, answers, samples, distractors, strict=True):
        chosen_counts[row, choice_index[answer]] += 1
        for offered in (sample, distractor):
            if offered in choice_index:
                offered_counts[row, choice_index[offered]] += 1
    truths = samples[first]
    with np.errstate(invalid="ignore", divide="ignore"):
        values = np.where(offered_counts > 0, chosen_counts / offered_counts, np.nan)
    values[choices[None, :] == truths[:, None]] = np.nan
    return ResponseMatrix(image_ids, truths, choices, values)


def _nanmean(values: np.ndarray, axis: int) -> np.ndarray:
    finite = ~np.isnan(values)
    counts = finite.sum(axis=axis)
    sums = np.where(finite, values, 0.0).sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def dprimes(matrix: ResponseMatrix, *, normalize: bool = True, cap: float = CAP) -> ResponseMatrix:
    """d' per (image, distractor), clipped to [-cap, cap], minus each (object, distractor) cell's mean."""
    values, truths, choices = matrix.values, matrix.truths, matrix.choices
    # false_alarms[a, b]: mean over images of object choices[a] of R[:, b]
    false_alarms = np.full((len(choices), len(choices)), np.nan)
    for a, obj in enumerate(choices):
        rows = truths == obj
        if rows.any():
            false_alarms[a] = _nanmean(values[rows], axis=0)
    column_of_truth = np.array(
        [np.flatnonzero(choices == truth)[0] if truth in choices else -1 for truth in truths]
    )
    fa = false_alarms[:, column_of_truth].T  # fa[i, c] = false_alarms[c, truth_i]
    fa[column_of_truth < 0] = np.nan
    with np.errstate(invalid="ignore"):
        dprime = scipy.stats.norm.ppf(1.0 - values) - scipy.stats.norm.ppf(fa)
    dprime = np.clip(dprime, -cap, cap)
    if normalize:
        for obj in np.unique(truths):
            rows = truths == obj
            dprime[rows] = dprime[rows] - _nanmean(dprime[rows], axis=0)[None, :]
    return dataclasses.replace(matrix, values=dprime)


def collapse_distractors(matrix: ResponseMatrix) -> ResponseMatrix:
    """I1: the mean over distractors per image (one column named ``'mean'``)."""
    return dataclasses.replace(
        matrix, choices=np.array(["mean"]), values=_nanmean(matrix.values, axis=1)[:, None]
    )


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    xc, yc = x - x.mean(), y - y.mean()
    denominator = np.sqrt((xc * xc).sum() * (yc * yc).sum())
    return float((xc * yc).sum() / denominator) if denominator > 0 else float("nan")


def correlate(source: ResponseMatrix, target: ResponseMatrix) -> float:
    """Pearson r over the entries finite in ``target`` (and in ``source``), on the images both hold,
    aligned by image and choice."""
    if list(source.choices) != list(target.choices):
        raise ValueError(f"choices differ: {list(source.choices)} vs {list(target.choices)}")
    shared, source_rows, target_rows = np.intersect1d(
        source.stimulus_ids, target.stimulus_ids, return_indices=True
    )
    if not len(shared):
        raise ValueError("the two response matrices share no image")
    left, right = source.values[source_rows], target.values[target_rows]
    keep = ~np.isnan(right) & ~np.isnan(left)
    return pearson(left[keep], right[keep])


def halves(
    n_trials: int, repetitions: int = REPETITIONS, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Brain-Score's ``generate_halves`` over ``repetitions`` splits from one ``RandomState(seed)``."""
    random_state = np.random.RandomState(seed)
    splits = []
    for _ in range(repetitions):
        indices = list(range(n_trials))
        random_state.shuffle(indices)
        order = np.asarray(indices, dtype=np.int64)
        splits.append((order[: n_trials // 2], order[n_trials // 2 :]))
    return splits


def i_n(
    model: ResponseMatrix,
    trials: dict[str, np.ndarray],
    *,
    collapse: bool,
    repetitions: int = REPETITIONS,
    seed: int = 0,
) -> SplitScores:
    """I1n (``collapse=True``) or I2n of a model matrix against human ``trials`` (arrays ``stimulus_id``,
    ``sample_obj``, ``dist_obj``, ``choice`` in stored trial order)."""

    def prepare(matrix: ResponseMatrix) -> ResponseMatrix:
        matrix = dprimes(matrix, normalize=True)
        return collapse_distractors(matrix) if collapse else matrix

    unknown = sorted(set(np.asarray(trials["stimulus_id"], dtype=str)) - set(model.stimulus_ids))
    if unknown:
        raise ValueError(
            f"{len(unknown)} images of the human trials have no model response, e.g. {unknown[:3]}"
        )
    source = prepare(model)
    raw, ceiling = [], []
    for first, second in halves(len(trials["stimulus_id"]), repetitions, seed):
        matrices = [
            prepare(
                human_response_matrix(
                    *(trials[key][half] for key in ("stimulus_id", "sample_obj", "dist_obj", "choice"))
                )
            )
            for half in (first, second)
        ]
        raw.append(correlate(source, matrices[0]))
        ceiling.append(correlate(matrices[0], matrices[1]))
    return SplitScores(np.array(raw), np.array(ceiling))
