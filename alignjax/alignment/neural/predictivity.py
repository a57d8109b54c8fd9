"""Cross-validated neural predictivity: Brain-Score's ``CrossRegressedCorrelation``, in JAX.

For each split (``splits.brainscore_splits``): fit the mapping on the training stimuli, predict the test
stimuli, correlate prediction and recording per neuroid (Pearson), take the median over neuroids;
the raw score is the mean over splits (brain-score/vision@d07d3569
``metrics/regression_correlation/metric.py::CrossRegressedCorrelation``,
``metric_helpers/transformations.py::CrossValidation``).

All splits share one Gram matrix of the features (``gram.gram_matrix``); each split re-centres it on
its training mean and runs one jitted fit-predict-correlate step, compiled once for all splits.
"""

from __future__ import annotations

import dataclasses
import functools
import warnings
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from alignjax.alignment.neural.correlation import aggregate_splits, median_over_neuroids, pearson_columns
from alignjax.alignment.neural.gram import gram_matrix, precision, recentre
from alignjax.alignment.neural.pls import PLSConfig
from alignjax.alignment.neural.regression import RegressionConfig, check_feature_count, fit_predict

BRAINSCORE_PLS = PLSConfig()


class PLSConvergenceWarning(UserWarning):
    """A power iteration stopped at ``max_iter`` (scikit-learn warns the same, with ConvergenceWarning)."""


@dataclasses.dataclass(frozen=True, eq=False)
class Predictivity:
    """Raw score (mean over splits of the median neuroid r), its standard error, the per-split
    medians (n_splits,) and every neuroid's r in every split (n_splits, n_neuroids)."""

    raw: float
    error: float
    split_values: np.ndarray
    neuroid_values: np.ndarray


@functools.partial(jax.jit, static_argnames=("config",))
def split_correlations(gram: jax.Array, targets: jax.Array, train: jax.Array, test: jax.Array,
                       config: RegressionConfig) -> tuple[jax.Array, jax.Array]:
    """One split: per-neuroid Pearson r (n_neuroids,) of the test predictions, and whether a PLS power
    iteration hit its cap."""
    train_gram, cross_gram = recentre(gram, train, test)
    predictions, capped = fit_predict(config, train_gram, cross_gram, targets[train])
    return pearson_columns(predictions, targets[test].astype(predictions.dtype)), capped


def _check_targets(targets: np.ndarray, n_stimuli: int) -> np.ndarray:
    targets = np.asarray(targets, dtype=np.float64)
    if targets.ndim != 2 or len(targets) != n_stimuli:
        raise ValueError(f"responses must be (stimuli={n_stimuli}, neuroids), got shape {targets.shape}")
    if not np.all(np.isfinite(targets)):
        raise ValueError("responses hold NaN or inf after averaging repetitions; drop those neuroids first")
    return targets


def predictivity_from_gram(gram: np.ndarray, targets: np.ndarray,
                           splits: Sequence[tuple[np.ndarray, np.ndarray]], *,
                           config: RegressionConfig = BRAINSCORE_PLS, n_features: int | None = None,
                           dtype: str = "float64") -> Predictivity:
    """Scores from a precomputed Gram matrix (``gram_matrix(features)``), same stimulus order as ``targets``."""
    targets = _check_targets(targets, gram.shape[0])
    if n_features is not None:
        check_feature_count(config, n_features, len(splits[0][0]))
    with precision(dtype) as jdtype:
        gram = jnp.asarray(gram, jdtype)
        device_targets = jnp.asarray(targets, jdtype)
        results = [jax.device_get(split_correlations(gram, device_targets, jnp.asarray(train),
                                                     jnp.asarray(test), config))
                   for train, test in splits]
    capped = sum(bool(flag) for _, flag in results)
    if capped:
        warnings.warn(f"PLS: a power iteration reached max_iter={config.max_iter} in {capped} of {len(splits)} "
                      "splits (scikit-learn's ConvergenceWarning 'Maximum number of iterations reached')",
                      PLSConvergenceWarning, stacklevel=2)
    neuroid_values = np.stack([np.asarray(r) for r, _ in results])
    split_values = median_over_neuroids(neuroid_values)
    raw, error = aggregate_splits(split_values)
    return Predictivity(raw, error, split_values, neuroid_values)


def predictivity(features: np.ndarray, targets: np.ndarray, splits: Sequence[tuple[np.ndarray, np.ndarray]],
                 *, config: RegressionConfig = BRAINSCORE_PLS, dtype: str = "float64") -> Predictivity:
    """Cross-validated predictivity of ``targets`` (stimuli, neuroids) from ``features`` (stimuli, features).

    Rows of both must describe the same stimuli in the same order; ``splits`` index those rows.
    """
    features = np.asarray(features)
    if features.ndim != 2 or len(features) != len(targets):
        raise ValueError(f"features {features.shape} and responses {np.shape(targets)} must share stimuli rows")
    check_feature_count(config, features.shape[1], len(splits[0][0]))
    gram = gram_matrix(features, dtype=dtype)
    return predictivity_from_gram(gram, targets, splits, config=config, dtype=dtype)
