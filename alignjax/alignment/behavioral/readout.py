"""Brain-Score's probabilities readout: standardised features -> multinomial logistic regression.

brain-score/vision@d07d356 ``model_helpers/brain_transformation/behavior.py::ProbabilitiesMapping``:
``StandardScaler`` (mean, population std, constant features left unscaled) then sklearn
``LogisticRegression(multi_class='multinomial', solver='newton-cg', C=1e-3)``, fitted on the benchmark's
fitting stimuli; classes in order of first appearance in the fitting labels.

The objective is the same strictly convex one sklearn minimises,

    C * sum_i -log softmax(x_i W + b)[y_i] + ||W||^2 / 2     (the intercept b is not penalised),

solved here in float64 with scipy's L-BFGS-B and analytic gradients to a tight tolerance instead of
Newton-CG; the optimum is unique, so both reach the same probabilities up to the solvers' tolerance
(tests compare with sklearn on the same inputs).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import scipy.optimize

DEFAULT_C = 1e-3


@dataclasses.dataclass(frozen=True, eq=False)
class LogisticReadout:
    """A fitted readout: ``predict_proba(features)`` -> (n, len(labels)) in ``labels`` order."""

    labels: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray  # (d, k)
    bias: np.ndarray  # (k,)

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        features = np.asarray(features, dtype=np.float64)
        if features.ndim != 2 or features.shape[1] != self.weights.shape[0]:
            raise ValueError(f"expected (n, {self.weights.shape[0]}) features, got {features.shape}")
        scores = ((features - self.mean) / self.scale) @ self.weights + self.bias
        return _softmax(scores)


def _softmax(scores: np.ndarray) -> np.ndarray:
    shifted = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def first_appearance_order(labels: Sequence[str]) -> tuple[str, ...]:
    """Distinct labels in order of first appearance (Brain-Score's ``labels_to_indices``)."""
    return tuple(dict.fromkeys(str(label) for label in labels))


def standardise(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """sklearn ``StandardScaler``: column mean and population std, with 1 for constant columns."""
    mean = features.mean(axis=0)
    scale = features.std(axis=0)
    scale = np.where(scale < 10 * np.finfo(np.float64).eps * np.maximum(np.abs(mean), 1.0), 1.0, scale)
    return mean, scale


def fit_logistic_readout(
    features: np.ndarray,
    labels: Sequence[str],
    *,
    c: float = DEFAULT_C,
    tolerance: float = 1e-10,
    max_iterations: int = 10_000,
) -> LogisticReadout:
    """Fits the readout; ``features`` (n, d), ``labels`` n class names (at least two distinct)."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or len(features) != len(labels):
        raise ValueError(f"need (n, d) features and n labels, got {features.shape} and {len(labels)} labels")
    if not np.isfinite(features).all():
        raise ValueError("readout features contain NaN or inf")
    order = first_appearance_order(labels)
    if len(order) < 2:
        raise ValueError("a readout needs at least two classes")
    targets = np.array([order.index(str(label)) for label in labels])
    mean, scale = standardise(features)
    x = (features - mean) / scale
    n, d = x.shape
    k = len(order)
    one_hot = np.zeros((n, k))
    one_hot[np.arange(n), targets] = 1.0

    def objective(flat: np.ndarray) -> tuple[float, np.ndarray]:
        weights, bias = flat[: d * k].reshape(d, k), flat[d * k :]
        scores = x @ weights + bias
        shifted = scores - scores.max(axis=1, keepdims=True)
        log_normaliser = np.log(np.exp(shifted).sum(axis=1))
        loss = c * float((log_normaliser - shifted[np.arange(n), targets]).sum()) + 0.5 * float(
            (weights**2).sum()
        )
        residual = c * (np.exp(shifted - log_normaliser[:, None]) - one_hot)
        gradient = np.concatenate([(x.T @ residual + weights).ravel(), residual.sum(axis=0)])
        return loss, gradient

    result = scipy.optimize.minimize(
        objective, np.zeros(d * k + k), jac=True, method="L-BFGS-B",
        options={"maxiter": max_iterations, "gtol": tolerance, "ftol": 0.0, "maxcor": 30},
    )  # fmt: skip
    gradient_norm = float(np.abs(result.jac).max())
    if gradient_norm > 1e-6 * max(1.0, c * n):
        raise RuntimeError(
            f"logistic readout did not converge: |gradient| {gradient_norm:.2e} ({result.message})"
        )
    flat = result.x
    return LogisticReadout(order, mean, scale, flat[: d * k].reshape(d, k), flat[d * k :])
