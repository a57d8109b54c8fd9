"""Small independent NumPy oracles for attack pieces (tests only; float64 where it helps)."""

from __future__ import annotations

import numpy as np


def exact_l1_box_projection(x: np.ndarray, y: np.ndarray, eps: float, n_bisect: int = 200) -> np.ndarray:
    """Delta such that x + y + delta is the projection of x + y onto {||z-x||_1 <= eps} ∩ [0,1]^d.

    Independent of the reference: bisection on the soft-threshold level lam in float64. For one flat
    example ``x``, ``y`` of shape (d,).
    """
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    clipped = np.clip(x + y, 0.0, 1.0) - x  # the box projection of the perturbation
    if np.abs(clipped).sum() <= eps:
        return clipped - y
    # KKT: per coordinate, soft-threshold y by lam, then clip into the box interval [-x, 1-x].
    cap = np.abs(clipped)

    def magnitude(lam):
        return np.maximum(np.minimum(np.abs(y) - lam, cap), 0.0)

    lo, hi = 0.0, np.abs(y).max()
    for _ in range(n_bisect):
        mid = 0.5 * (lo + hi)
        if magnitude(mid).sum() > eps:
            lo = mid
        else:
            hi = mid
    return np.sign(y) * magnitude(0.5 * (lo + hi)) - y


def dlr_numpy(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """DLR written from the paper's definition with the reference's tie rule spelt out in float64.

    "max other" is the largest logit over classes != y, except that when y ties for the maximum with
    a higher-index class the reference takes z_y (a stable ascending sort puts the highest index last).
    """
    z = np.asarray(z, np.float64)
    out = np.empty(z.shape[0])
    for i, (row, label) in enumerate(zip(z, y)):
        top = row.max()
        last_top = np.flatnonzero(row == top)[-1]
        other = np.delete(row, label).max() if last_top == label else top
        third = np.sort(row)[-3]
        out[i] = -(row[label] - other) / (top - third + 1e-12)
    return out


def dlr_targeted_numpy(z: np.ndarray, y: np.ndarray, t: np.ndarray) -> np.ndarray:
    z = np.asarray(z, np.float64)
    s = np.sort(z, axis=1)
    rows = np.arange(z.shape[0])
    return -(z[rows, y] - z[rows, t]) / (s[:, -1] - 0.5 * (s[:, -3] + s[:, -4]) + 1e-12)


def margin_numpy(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    z = np.asarray(z, np.float64)
    return np.array([row[label] - np.delete(row, label).max() for row, label in zip(z, y)])


def counter_checkpoints(n_iter: int) -> list[int]:
    """Completed-iteration counts after which the reference's Linf/L2 step-size check runs.

    Re-runs the reference's counter loop (``counter3``/``k`` in ``attack_single_run``) in plain Python.
    """
    window = max(int(0.22 * n_iter), 1)
    smallest = max(int(0.06 * n_iter), 1)
    decrease = max(int(0.03 * n_iter), 1)
    since_check, checks = 0, []
    for i in range(n_iter):
        since_check += 1
        if since_check == window:
            checks.append(i + 1)
            since_check = 0
            window = max(window - decrease, smallest)
    return checks
