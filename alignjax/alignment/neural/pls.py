"""PLS regression (NIPALS, mode A, regression deflation) in kernel form: scikit-learn's
``PLSRegression(n_components=25, scale=False)`` step for step, on the stimulus Gram matrix.

Brain-Score maps model features to neurons with ``PLSRegression(n_components=25, scale=False)``
(brain-score/vision@d07d3569 ``brainscore_vision/metrics/regression_correlation/metric.py::
pls_regression``). The reference algorithm is scikit-learn 1.9
``sklearn/cross_decomposition/_pls.py``: ``_PLS.fit`` with ``_get_first_singular_vectors_power_method``
(``max_iter=500``, ``tol=1e-06``, start at the first non-constant target column, stop when the squared
change of the x weights is below ``tol`` or there is a single target), ``_center_scale_xy`` without
scaling, deflation ``X -= t p^T`` and ``Y -= t q^T``, then ``coef = W pinv(P^T W) Q^T``.

Every x-space vector of that algorithm is ``X_k^T a`` for an n-vector ``a`` (``X_k`` the deflated
centred features), so the same iterations run on ``K_k = X_k X_k^T``:

* ``w = X_k^T u / (u.u)`` becomes ``a = u / (u.u)``, with ``|w|^2 = a^T K_k a``;
* ``t = X_k w = K_k a``; the convergence test ``|w - w_old|^2 = (a - a_old)^T K_k (a - a_old)``;
* deflation ``K_{k+1} = D K_k D`` with ``D = I - t t^T / (t.t)``;
* ``W = X_0^T B`` and ``P = X_0^T G`` with ``B, G`` the n-space weights carried back through the
  earlier deflations, so the prediction ``(X* - m) W pinv(P^T W) Q^T + mean(Y)`` needs only the
  test-by-train Gram ``K* = (X* - m) X_0^T``: ``K* B pinv(G^T K_0 B) Q^T + mean(Y)``.

The iterates equal the reference's in exact arithmetic, so the iteration counts agree and the
predictions agree to rounding (tested against scikit-learn). Deliberate differences: the sign flip
``_svd_flip_1d`` is skipped (it changes the signs of weights, never the predictions); ``pinv(P^T W)`` is
an LU solve (the matrix is unit upper triangular, so both are its inverse); and nothing is ever of size
n_features x n_targets, so 50,000 features cost what 2,304 do.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax


@dataclasses.dataclass(frozen=True)
class PLSConfig:
    """scikit-learn ``PLSRegression`` settings; the defaults are Brain-Score's (25 components, no scaling)."""

    n_components: int = 25
    max_iter: int = 500
    tol: float = 1e-6


class PLSFit(NamedTuple):
    predictions: jax.Array  # (n_test, n_targets)
    n_iter: jax.Array  # (n_components,) power iterations per component; 0 where none ran
    n_components_fitted: jax.Array  # components before the targets' residual became constant


class _Power(NamedTuple):
    iteration: jax.Array
    a: jax.Array  # n-space x weights (w = X_k^T a)
    t: jax.Array  # x scores K_k a
    a_old: jax.Array
    t_old: jax.Array
    u: jax.Array  # y scores
    done: jax.Array


def _power_method(gram, targets, start, enabled, *, max_iter, tol, eps):
    """``_get_first_singular_vectors_power_method`` (mode A, no y-weight normalisation) on ``K_k``;
    runs no iteration unless ``enabled``."""
    single_target = targets.shape[1] == 1

    def body(state: _Power) -> _Power:
        a = state.u / jnp.dot(state.u, state.u)
        t = gram @ a
        norm = jnp.sqrt(jnp.dot(a, t)) + eps  # |X_k^T a| + eps
        a, t = a / norm, t / norm
        y_weights = targets.T @ t / jnp.dot(t, t)
        u = targets @ y_weights / (jnp.dot(y_weights, y_weights) + eps)
        change = jnp.dot(a - state.a_old, t - state.t_old)
        # the reference starts from x_weights_old = 100, so its first test never passes
        converged = ((state.iteration > 0) & (change < tol)) | single_target
        return _Power(state.iteration + 1, a, t, a, t, u, converged)

    zeros = jnp.zeros_like(start)
    initial = _Power(jnp.asarray(0), zeros, zeros, zeros, zeros, start, jnp.asarray(False))
    final = lax.while_loop(lambda s: enabled & (~s.done) & (s.iteration < max_iter), body, initial)
    return final.a, final.t, final.iteration


def _undo_deflations(vector, scores, k):
    """``D_0 D_1 ... D_{k-1} vector``: an n-space weight of ``X_k`` as one of ``X_0``."""

    def step(j, v):
        index = k - 1 - j
        t = scores[:, jnp.maximum(index, 0)]
        tt = jnp.dot(t, t)
        projected = v - t * (jnp.dot(t, v) / jnp.where(tt > 0, tt, 1.0))
        return jnp.where(index >= 0, projected, v)

    return lax.fori_loop(0, scores.shape[1], step, vector)


@functools.partial(jax.jit, static_argnames=("config",))
def pls_fit_predict(train_gram: jax.Array, cross_gram: jax.Array, targets: jax.Array,
                    config: PLSConfig = PLSConfig()) -> PLSFit:
    """Fits PLS on the training stimuli and predicts the test stimuli.

    Args:
      train_gram: (n_train, n_train) Gram of the features centred on the training mean.
      cross_gram: (n_test, n_train) test-by-train Gram, same centring.
      targets: (n_train, n_targets) responses (centred here, as the reference does).
      config: static settings.

    Returns:
      ``PLSFit`` with the predictions (n_test, n_targets).
    """
    dtype = train_gram.dtype
    eps = jnp.finfo(dtype).eps
    n_train = train_gram.shape[0]
    n_targets = targets.shape[1]
    components = config.n_components
    targets = targets.astype(dtype)
    target_mean = jnp.mean(targets, axis=0)

    def component(k, carry):
        gram, residual, weights, loadings, y_loadings, scores, n_iter, active = carry
        negligible = jnp.all(jnp.abs(residual) < 10 * eps, axis=0)
        residual = jnp.where(negligible[None, :], 0.0, residual)
        usable = jnp.any(jnp.abs(residual) > eps, axis=0)
        active = active & jnp.any(usable)  # the reference stops at "y residual is constant"
        start = residual[:, jnp.argmax(usable)]
        a, t, iterations = _power_method(gram, residual, start, active, max_iter=config.max_iter,
                                         tol=config.tol, eps=eps)
        tt = jnp.dot(t, t)
        y_loading = residual.T @ t / tt
        s = gram @ t / tt
        new_gram = gram - jnp.outer(t, s) - jnp.outer(s, t) + (jnp.dot(t, s) / tt) * jnp.outer(t, t)
        new_residual = residual - jnp.outer(t, y_loading)
        weight = _undo_deflations(a, scores, k)
        loading = _undo_deflations(t / tt, scores, k)
        keep = lambda new, old: jnp.where(active, new, old)
        zero = lambda v: jnp.where(active, v, jnp.zeros_like(v))
        return (keep(new_gram, gram), keep(new_residual, residual),
                weights.at[:, k].set(zero(weight)), loadings.at[:, k].set(zero(loading)),
                y_loadings.at[:, k].set(zero(y_loading)), scores.at[:, k].set(zero(t)),
                n_iter.at[k].set(jnp.where(active, iterations, 0).astype(jnp.int32)), active)

    initial = (train_gram, targets - target_mean[None, :],
               jnp.zeros((n_train, components), dtype), jnp.zeros((n_train, components), dtype),
               jnp.zeros((n_targets, components), dtype), jnp.zeros((n_train, components), dtype),
               jnp.zeros((components,), jnp.int32), jnp.asarray(True))
    _, _, weights, loadings, y_loadings, _, n_iter, _ = lax.fori_loop(0, components, component, initial)
    # P^T W is unit upper triangular (p_k . w_j = 0 for k > j: X_k w_j = 0 after deflation j), so the
    # reference's pinv is its inverse; components never fitted (zero rows and columns) get a unit
    # diagonal, and their zero columns of W and Q keep them out of the prediction, as pinv's zeros do.
    inner = loadings.T @ (train_gram @ weights)
    inner = inner + jnp.diag(jnp.where(n_iter > 0, 0.0, 1.0).astype(dtype))
    rotation = jnp.linalg.solve(inner, y_loadings.T)  # (P^T W)^-1 Q^T
    predictions = cross_gram @ (weights @ rotation) + target_mean[None, :]
    return PLSFit(predictions, n_iter, jnp.sum(n_iter > 0))
