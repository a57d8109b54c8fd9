"""Split-half internal-consistency ceiling with Spearman-Brown correction, and ceiling normalisation.

Brain-Score's ``InternalConsistency`` (brain-score/vision@d07d3569
``brainscore_vision/metrics/internal_consistency/ceiling.py``): 10 random halves of the unique
repetition values (``ShuffleSplit(train_size=0.5, random_state=1)``, ``CrossValidationSingle`` with
``unique_split_values=True``); in each split the repetitions of each half are averaged per stimulus,
each neuroid's two half-means are correlated across stimuli (Pearson), the correlation is corrected
with Spearman-Brown for doubled length, ``2r / (1 + r)``, the median over neuroids is taken, and the
ceiling is the mean over splits.

Ceiling normalisation of a raw score r (mean over splits of the median neuroid correlation) by the
ceiling c (``benchmark_helpers/neural_common.py::explained_variance``):

* ``"2025"``: ``(r / c)^2``, Brain-Score until 2026-01-13 (brain-score/vision@d07d3569), which is what the
  2025 leaderboard CSVs and the paper (arXiv 2502.12377) hold. **Default.**
* ``"2026"``: ``r^2 / c``, from brain-score/vision PR #2169 (commit e376e306): the Spearman-Brown
  ceiling is a reliability, i.e. already a variance bound.

Both square the raw score, so a negative r gives a positive ceiled score, as in the reference.
Deviation: stimuli without a repetition in one half are left out of that split (the reference
asserts that both halves hold the same stimuli and stops).
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from alignjax.alignment.neural.correlation import aggregate_splits, median_over_neuroids
from alignjax.alignment.neural.gram import precision
from alignjax.alignment.neural.splits import SplitConfig, shuffle_splits

NORMALISATIONS = ("2025", "2026")
DEFAULT_NORMALISATION = "2025"
CEILING_SPLITS = SplitConfig(n_splits=10, train_size=0.5, test_size=None, random_state=1)


@dataclasses.dataclass(frozen=True, eq=False)
class Ceiling:
    """The ceiling ``value`` (mean over splits), its standard error, the per-split medians and the
    Spearman-Brown-corrected consistency of every neuroid in every split (n_splits, n_neuroids)."""

    value: float
    error: float
    split_values: np.ndarray
    neuroid_values: np.ndarray


def spearman_brown(correlation, n: float = 2.0):
    """Reliability of an n-times longer measurement: ``n r / (1 + (n - 1) r)``."""
    return n * correlation / (1 + (n - 1) * correlation)


def normalise(raw: float, ceiling: float, convention: str = DEFAULT_NORMALISATION) -> float:
    """Ceiled score under ``convention`` ('2025': ``(r/c)^2``; '2026': ``r^2/c``)."""
    if convention == "2025":
        return float((raw / ceiling) ** 2)
    if convention == "2026":
        return float(raw**2 / ceiling)
    raise ValueError(f"unknown ceiling normalisation {convention!r}; use one of {NORMALISATIONS}")


def repetition_halves(repetitions: np.ndarray, config: SplitConfig = CEILING_SPLITS
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Boolean (n_splits, n_presentations) masks of the two halves of the unique repetition values."""
    repetitions = np.asarray(repetitions)
    unique = np.unique(repetitions)
    if len(unique) < 2:
        raise ValueError(f"a split-half ceiling needs at least 2 repetitions, got {len(unique)}")
    first, second = [], []
    for train, test in shuffle_splits(len(unique), config):
        first.append(np.isin(repetitions, unique[train]))
        second.append(np.isin(repetitions, unique[test]))
    return np.stack(first), np.stack(second)


@functools.partial(jax.jit, static_argnames=("n_stimuli",))
def half_consistency(values, valid, stimulus_index, first, second, *, n_stimuli: int):
    """Per-neuroid Spearman-Brown-corrected Pearson r between the two halves' stimulus means.

    Args:
      values: (n_presentations, n_neuroids) responses with NaN replaced by 0; ``valid`` marks the rest.
      stimulus_index: (n_presentations,) index of each presentation's stimulus in [0, n_stimuli).
      first, second: (n_presentations,) masks of the two halves.

    A stimulus counts if each half holds a presentation of it. A half-mean skips NaN responses and is
    NaN where a neuroid has none (so is that neuroid's r, as ``scipy.stats.pearsonr`` gives).
    """

    def means(mask):
        weights = valid.astype(values.dtype) * mask.astype(values.dtype)[:, None]
        sums = jax.ops.segment_sum(values * weights, stimulus_index, num_segments=n_stimuli)
        counts = jax.ops.segment_sum(weights, stimulus_index, num_segments=n_stimuli)
        shown = jax.ops.segment_sum(mask.astype(values.dtype), stimulus_index, num_segments=n_stimuli) > 0
        return jnp.where(counts > 0, sums / jnp.where(counts > 0, counts, 1.0), jnp.nan), shown

    first_means, first_shown = means(first)
    second_means, second_shown = means(second)
    weights = (first_shown & second_shown).astype(values.dtype)[:, None]
    first_means = jnp.where(weights > 0, first_means, 0.0)
    second_means = jnp.where(weights > 0, second_means, 0.0)
    count = jnp.sum(weights)
    first_centred = (first_means - jnp.sum(first_means * weights, axis=0, keepdims=True) / count) * weights
    second_centred = (second_means - jnp.sum(second_means * weights, axis=0, keepdims=True) / count) * weights
    numerator = jnp.sum(first_centred * second_centred, axis=0)
    denominator = jnp.sqrt(jnp.sum(first_centred**2, axis=0) * jnp.sum(second_centred**2, axis=0))
    r = numerator / jnp.where(denominator > 0, denominator, jnp.nan)
    return spearman_brown(jnp.clip(r, -1.0, 1.0))


def internal_consistency(responses: np.ndarray, stimulus_ids: np.ndarray, repetitions: np.ndarray, *,
                         config: SplitConfig = CEILING_SPLITS, dtype: str = "float64") -> Ceiling:
    """Brain-Score's split-half ceiling of single-presentation responses.

    Args:
      responses: (n_presentations, n_neuroids) responses, one row per presentation.
      stimulus_ids: (n_presentations,) stimulus of each presentation.
      repetitions: (n_presentations,) repetition value of each presentation.
      config: the repetition splits (Brain-Score's: 10 halves, seed 1).
      dtype: 'float64' (default) or 'float32'.

    NaN responses are skipped inside a half-mean (xarray's ``mean(skipna=True)``).
    """
    responses = np.asarray(responses, dtype=np.float64)
    if responses.ndim != 2 or len(responses) != len(stimulus_ids) or len(responses) != len(repetitions):
        raise ValueError(
            f"responses {responses.shape}, {len(stimulus_ids)} stimulus ids and {len(repetitions)} "
            "repetitions must describe the same presentations"
        )
    _, stimulus_index = np.unique(np.asarray(stimulus_ids), return_inverse=True)
    first, second = repetition_halves(repetitions, config)
    valid = np.isfinite(responses)
    n_stimuli = int(stimulus_index.max()) + 1
    with precision(dtype) as jdtype:
        values = jnp.asarray(np.where(valid, responses, 0.0), jdtype)
        valid_mask, index = jnp.asarray(valid), jnp.asarray(stimulus_index.ravel(), jnp.int32)
        per_split = [
            np.asarray(half_consistency(values, valid_mask, index, jnp.asarray(one), jnp.asarray(two),
                                        n_stimuli=n_stimuli))
            for one, two in zip(first, second)
        ]
    neuroid_values = np.stack(per_split)
    split_values = median_over_neuroids(neuroid_values)
    value, error = aggregate_splits(split_values)
    return Ceiling(value, error, split_values, neuroid_values)
