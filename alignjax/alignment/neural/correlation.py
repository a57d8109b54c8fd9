"""Pearson correlation per neuroid and Brain-Score's aggregation of it.

Brain-Score correlates prediction and recording of each neuroid across the test stimuli with
``scipy.stats.pearsonr`` (brain-score/vision@d07d3569 ``metric_helpers/xarray_utils.py::
XarrayCorrelation``), takes the median over neuroids per split (``CrossRegressedCorrelation.aggregate``)
and the mean over splits, with the standard error ``std(ddof=0) / sqrt(n_splits)``
(``metric_helpers/transformations.py::Split.aggregate``, ``standard_error_of_the_mean``). xarray's
median and mean skip NaN (a neuroid whose prediction is constant has r = NaN), and so do these.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def pearson_columns(x: jax.Array, y: jax.Array) -> jax.Array:
    """Pearson r of each column of ``x`` with the same column of ``y`` (rows are observations).

    Matches ``scipy.stats.pearsonr`` column by column: NaN for a constant column, clipped to [-1, 1].
    """
    if x.shape != y.shape:
        raise ValueError(f"shapes differ: {x.shape} vs {y.shape}")
    x_centred = x - jnp.mean(x, axis=0, keepdims=True)
    y_centred = y - jnp.mean(y, axis=0, keepdims=True)
    numerator = jnp.sum(x_centred * y_centred, axis=0)
    denominator = jnp.sqrt(jnp.sum(x_centred**2, axis=0) * jnp.sum(y_centred**2, axis=0))
    r = jnp.where(denominator > 0, numerator / jnp.where(denominator > 0, denominator, 1.0), jnp.nan)
    return jnp.clip(r, -1.0, 1.0)


def aggregate_splits(per_split: np.ndarray) -> tuple[float, float]:
    """(mean over splits, standard error ``std(ddof=0) / sqrt(n)``), NaN-skipping like xarray."""
    values = np.asarray(per_split, dtype=np.float64)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return float("nan"), float("nan")
    return float(finite.mean()), float(finite.std() / np.sqrt(len(finite)))


def median_over_neuroids(correlations: np.ndarray) -> np.ndarray:
    """(n_splits, n_neuroids) -> (n_splits,) medians, NaN-skipping (all-NaN rows give NaN)."""
    values = np.asarray(correlations, dtype=np.float64)
    out = np.full(values.shape[0], np.nan)
    for index, row in enumerate(values):
        finite = row[np.isfinite(row)]
        if finite.size:
            out[index] = np.median(finite)
    return out
