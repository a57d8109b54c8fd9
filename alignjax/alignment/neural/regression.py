"""The mappings from model features to neural responses, all in kernel (Gram) form.

Brain-Score's choices (brain-score/vision@d07d3569
``brainscore_vision/metrics/regression_correlation/metric.py``): ``pls_regression`` (scikit-learn
``PLSRegression(n_components=25, scale=False)``, the default of every benchmark used here),
``ridge_regression`` (``Ridge(alpha=1)``) and ``linear_regression`` (``LinearRegression()``), each with
an intercept. A config's type selects the mapping (strategy objects, no string flags):

* ``PLSConfig``: ``alignjax.alignment.neural.pls``;
* ``RidgeConfig``: ``Ridge(alpha)`` with centring: ``(X* - m) X^T (X X^T + alpha I)^{-1} (Y - ybar) + ybar``,
  scikit-learn's dual (``_solve_cholesky_kernel``) solution, which equals its primal one;
* ``LinearConfig``: ordinary least squares with centring; the minimum-norm solution when features
  outnumber stimuli (``scipy.linalg.lstsq``), ``K* K^+ (Y - ybar) + ybar`` with eigenvalues of ``K``
  below ``rcond * max eigenvalue`` treated as zero. Deviation: scikit-learn lets ``lstsq`` keep singular
  values down to machine epsilon, which with more features than stimuli includes the direction that
  centring removed (a rounding-level singular value), so its predictions there are dominated by
  rounding; ours drop that direction. With fewer features than stimuli (full column rank) both agree.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp

from alignjax.alignment.neural.pls import PLSConfig, pls_fit_predict


@dataclasses.dataclass(frozen=True)
class RidgeConfig:
    """scikit-learn ``Ridge(alpha)`` with ``fit_intercept=True``; Brain-Score's ``ridge`` uses alpha 1."""

    alpha: float = 1.0


@dataclasses.dataclass(frozen=True)
class LinearConfig:
    """Least squares with an intercept; ``rcond``: relative eigenvalue cutoff of the Gram pseudo-inverse
    (None: ``n_train * eps``, numpy's ``pinv`` convention on the Gram matrix)."""

    rcond: float | None = None


RegressionConfig = PLSConfig | RidgeConfig | LinearConfig


def _centred(targets: jax.Array, dtype) -> tuple[jax.Array, jax.Array]:
    targets = targets.astype(dtype)
    mean = jnp.mean(targets, axis=0)
    return targets - mean[None, :], mean


@functools.partial(jax.jit, static_argnames=("config",))
def ridge_fit_predict(train_gram: jax.Array, cross_gram: jax.Array, targets: jax.Array,
                      config: RidgeConfig = RidgeConfig()) -> jax.Array:
    """Ridge predictions (n_test, n_targets) from centred Gram matrices (see ``gram.recentre``)."""
    centred, mean = _centred(targets, train_gram.dtype)
    regularised = train_gram + config.alpha * jnp.eye(train_gram.shape[0], dtype=train_gram.dtype)
    factor = jax.scipy.linalg.cho_factor(regularised, lower=True)
    dual = jax.scipy.linalg.cho_solve(factor, centred)
    return cross_gram @ dual + mean[None, :]


@functools.partial(jax.jit, static_argnames=("config",))
def linear_fit_predict(train_gram: jax.Array, cross_gram: jax.Array, targets: jax.Array,
                       config: LinearConfig = LinearConfig()) -> jax.Array:
    """Least-squares predictions (n_test, n_targets) from centred Gram matrices."""
    dtype = train_gram.dtype
    centred, mean = _centred(targets, dtype)
    eigenvalues, eigenvectors = jnp.linalg.eigh(train_gram)
    rcond = config.rcond if config.rcond is not None else train_gram.shape[0] * jnp.finfo(dtype).eps
    keep = eigenvalues > rcond * jnp.max(eigenvalues)
    inverse = jnp.where(keep, 1.0 / jnp.where(keep, eigenvalues, 1.0), 0.0)
    dual = eigenvectors @ (inverse[:, None] * (eigenvectors.T @ centred))
    return cross_gram @ dual + mean[None, :]


def fit_predict(config: RegressionConfig, train_gram: jax.Array, cross_gram: jax.Array,
                targets: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(predictions, capped)`` of the mapping that ``config`` names (jitted per config); ``capped`` is
    True when a PLS power iteration stopped at ``max_iter`` (the reference's ConvergenceWarning)."""
    if isinstance(config, PLSConfig):
        fit = pls_fit_predict(train_gram, cross_gram, targets, config)
        return fit.predictions, jnp.any(fit.n_iter >= config.max_iter)
    if isinstance(config, RidgeConfig):
        return ridge_fit_predict(train_gram, cross_gram, targets, config), jnp.asarray(False)
    if isinstance(config, LinearConfig):
        return linear_fit_predict(train_gram, cross_gram, targets, config), jnp.asarray(False)
    raise TypeError(f"unknown regression config {config!r}; use PLSConfig, RidgeConfig or LinearConfig")


def check_feature_count(config: RegressionConfig, n_features: int, n_train: int) -> None:
    """The reference's refusal: PLS needs ``n_components <= min(n_train, n_features)``."""
    if isinstance(config, PLSConfig) and config.n_components > min(n_train, n_features):
        raise ValueError(
            f"PLS with {config.n_components} components needs at least that many features and training "
            f"stimuli; got {n_features} features and {n_train} training stimuli"
        )
