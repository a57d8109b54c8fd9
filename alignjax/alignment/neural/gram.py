"""Stimulus-by-stimulus Gram matrices: the only thing the regressions need from the features.

PLS (NIPALS, mode A), ridge and least squares predict test responses from linear functions of the
features, so with p features >> n stimuli every quantity they compute lives in the n-dimensional span
of the training stimuli (the kernel form of PLS: Lindgren, Geladi & Wold 1993, "The kernel algorithm
for PLS", J. Chemometrics 7:45; Raennar et al. 1994). One Gram matrix of all stimuli, computed once,
serves all cross-validation splits: each split re-centres it on its own training mean in O(n^2).

Numerics: features are centred on the mean of *all* stimuli before the product (in float64 by
default), so the per-split re-centring subtracts only a small correction and loses no precision.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import jax
import jax.numpy as jnp
import numpy as np

FEATURE_CHUNK = 8192  # features per device transfer when building a Gram matrix


@contextlib.contextmanager
def precision(dtype: str) -> Iterator[jnp.dtype]:
    """Runs the enclosed JAX code in ``dtype`` ('float64' enables 64-bit types only inside the block)."""
    if dtype == "float64":
        with jax.enable_x64(True):
            yield jnp.float64
    elif dtype == "float32":
        yield jnp.float32
    else:
        raise ValueError(f"precision must be 'float64' or 'float32', got {dtype!r}")


@jax.jit
def _accumulate(gram: jax.Array, chunk: jax.Array, mean: jax.Array) -> jax.Array:
    centred = chunk - mean[None, :]
    return gram + centred @ centred.T


def gram_matrix(features: np.ndarray, *, dtype: str = "float64", chunk_size: int = FEATURE_CHUNK) -> np.ndarray:
    """``Xc Xc^T`` of the features centred on their mean over all stimuli.

    Args:
      features: (n_stimuli, n_features) host array (any float dtype); read in column chunks, so only
        one chunk at a time lives on the device.
      dtype: 'float64' (the reference's precision; default) or 'float32'.

    Returns:
      (n_stimuli, n_stimuli) Gram matrix in ``dtype`` as a host array (64-bit values must not outlive
      the 64-bit context on the device, and n^2 values are cheap to move).
    """
    features = np.asarray(features)
    if features.ndim != 2:
        raise ValueError(f"features must be (stimuli, features), got shape {features.shape}")
    if not np.issubdtype(features.dtype, np.floating):
        features = features.astype(np.float32)
    if not np.all(np.isfinite(features)):
        raise ValueError("features hold NaN or inf; check the model's activations")
    n_stimuli, n_features = features.shape
    # chunks are zero-padded to a power-of-two width (zero columns add nothing), so few shapes compile
    width = min(chunk_size, 1 << max(0, (n_features - 1).bit_length()))
    with precision(dtype) as jdtype:
        gram = jnp.zeros((n_stimuli, n_stimuli), jdtype)
        for start in range(0, n_features, width):
            block = features[:, start:start + width]
            if block.shape[1] < width:
                block = np.pad(block, ((0, 0), (0, width - block.shape[1])))
            chunk = jnp.asarray(block, jdtype)
            gram = _accumulate(gram, chunk, jnp.mean(chunk, axis=0))
        return np.asarray(jax.device_get(gram))


@jax.jit
def recentre(gram: jax.Array, train: jax.Array, test: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Train Gram and test-by-train cross Gram of features centred on the training mean.

    With ``r_i = mean_{l in train} K_il`` and ``s = mean_{l in train} r_l``:
    ``(x_i - m)(x_j - m) = K_ij - r_i - r_j + s`` for the training mean ``m``.

    Args:
      gram: (n, n) Gram matrix of (any) centred features.
      train, test: integer index vectors.

    Returns:
      ((n_train, n_train), (n_test, n_train)) matrices.
    """
    row_means = jnp.mean(gram[:, train], axis=1)
    grand = jnp.mean(row_means[train])
    train_gram = gram[train][:, train] - row_means[train][:, None] - row_means[train][None, :] + grand
    cross_gram = gram[test][:, train] - row_means[test][:, None] - row_means[train][None, :] + grand
    return train_gram, cross_gram
