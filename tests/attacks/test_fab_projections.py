"""FAB's hyperplane-and-box projections: against independent optima and against the reference.

Independent optima: Linf and L1 are linear programs (scipy.optimize.linprog, HiGHS); L2 is solved from
its KKT conditions (delta = clip(-alpha w, -t, 1 - t), alpha found by float64 bisection). The
reference is pyautoattack.fab_projections (= fra31/auto-attack@a392200:autoattack/fab_projections.py).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from pyautoattack import fab_projections as reference
from scipy.optimize import linprog

from alignjax.attacks.fab_projections import project_onto_hyperplane_box

NORMS = ("Linf", "L2", "L1")
REFERENCE = {"Linf": reference.projection_linf, "L2": reference.projection_l2, "L1": reference.projection_l1}
ORD = {"Linf": np.inf, "L2": 2, "L1": 1}


_project = jax.jit(project_onto_hyperplane_box, static_argnames="norm")


def ours(t, w, b, norm):
    return np.asarray(_project(jnp.asarray(t), jnp.asarray(w), jnp.asarray(b), norm=norm))


def theirs(t, w, b, norm):
    with torch.no_grad():
        return REFERENCE[norm](torch.from_numpy(t), torch.from_numpy(w), torch.from_numpy(b)).numpy()


def random_problems(rng, n, dim, *, zero_fraction=0.0, grid=False):
    """Points in [0, 1] (optionally on the digits' 1/16 grid, which makes ties), normals, offsets.

    Offsets mix: on the hyperplane, tiny, moderate and large (often unreachable) gaps, on both sides.
    """
    t = rng.uniform(size=(n, dim))
    if grid:
        t = np.round(t * 16) / 16
    w = rng.normal(size=(n, dim))
    w[rng.uniform(size=(n, dim)) < zero_fraction] = 0.0
    scale = rng.choice([0.0, 1e-3, 0.1, 1.0, 10.0], size=n) * np.sqrt(dim)
    b = np.sum(w * t, axis=1) + scale * rng.normal(size=n)
    return t.astype(np.float32), w.astype(np.float32), b.astype(np.float32)


def lp_minimal_delta(t, w, b, norm):
    """min ||delta||_p s.t. <w, t + delta> = b, 0 <= t + delta <= 1, p in {inf, 1}; None if infeasible."""
    t, w, b = (np.asarray(a, np.float64) for a in (t, w, b))
    dim = t.size
    if norm == "Linf":  # variables (delta, lam)
        cost = np.r_[np.zeros(dim), 1.0]
        a_ub = np.block([[np.eye(dim), -np.ones((dim, 1))], [-np.eye(dim), -np.ones((dim, 1))]])
        a_eq = np.r_[w, 0.0][None]
        bounds = [(-ti, 1 - ti) for ti in t] + [(0, None)]
    else:  # L1, variables (delta, u)
        cost = np.r_[np.zeros(dim), np.ones(dim)]
        a_ub = np.block([[np.eye(dim), -np.eye(dim)], [-np.eye(dim), -np.eye(dim)]])
        a_eq = np.r_[w, np.zeros(dim)][None]
        bounds = [(-ti, 1 - ti) for ti in t] + [(0, None)] * dim
    result = linprog(cost, A_ub=a_ub, b_ub=np.zeros(2 * dim), A_eq=a_eq, b_eq=[b - w @ t], bounds=bounds,
                     method="highs", options={"primal_feasibility_tolerance": 1e-10,
                                              "dual_feasibility_tolerance": 1e-10})
    if result.status == 2:
        return None
    assert result.status == 0, result.message
    return result.x[:dim]


def kkt_l2_delta(t, w, b, n_bisect=200):
    """The unique L2 minimiser clip(-alpha w, -t, 1 - t) (w oriented so the point is on the + side)."""
    t, w, b = (np.asarray(a, np.float64) for a in (t, w, b))
    if w @ t - b < 0:
        w, b = -w, -b
    delta = lambda alpha: np.clip(-alpha * w, -t, 1 - t)
    gap = lambda alpha: w @ (t + delta(alpha)) - b  # decreasing in alpha
    if gap(1e12) > 0:
        return None
    lo, hi = 0.0, 1.0
    while gap(hi) > 0:
        hi *= 2
    for _ in range(n_bisect):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if gap(mid) > 0 else (lo, mid)
    return delta((lo + hi) / 2)


def corner_move(t, w, b):
    """The reference's best effort for an unreachable hyperplane: every w != 0 coordinate to its face."""
    sign = np.where(np.sum(w * t, axis=1, keepdims=True) - b[:, None] >= 0, 1.0, -1.0)
    return np.where(w * sign < 0, 1 - t, -t) * (w != 0)


@pytest.mark.parametrize("norm", NORMS)
def test_against_independent_optimum(norm, rng):
    """Distance equals the LP / KKT optimum to 1e-6; the result is feasible; unreachable -> full move."""
    n_checked = n_unreachable = 0
    for dim in (1, 2, 3, 5, 8):
        t, w, b = random_problems(rng, 30, dim, zero_fraction=0.25, grid=dim > 3)
        got = ours(t, w, b, norm)
        for i in range(len(t)):
            exact = kkt_l2_delta(t[i], w[i], b[i]) if norm == "L2" else lp_minimal_delta(t[i], w[i], b[i], norm)
            assert np.all(got[i][w[i] == 0] == 0), "coordinates with w_i == 0 must not move"
            assert np.all(t[i] + got[i] >= -1e-7) and np.all(t[i] + got[i] <= 1 + 1e-7)
            if exact is None:
                n_unreachable += 1
                np.testing.assert_allclose(got[i], corner_move(t[i : i + 1], w[i : i + 1], b[i : i + 1])[0],
                                           atol=1e-7)
                continue
            n_checked += 1
            scale = max(1.0, float(np.abs(w[i]).sum()))
            assert abs(float(w[i] @ (t[i] + got[i])) - float(b[i])) <= 1e-6 * scale
            assert abs(np.linalg.norm(got[i], ORD[norm]) - np.linalg.norm(exact, ORD[norm])) <= 1e-6
            if norm == "L2":  # the minimiser is unique
                np.testing.assert_allclose(got[i], exact, atol=1e-6)
    assert n_checked > 80 and n_unreachable > 10  # both regimes were exercised


@pytest.mark.parametrize("norm", NORMS)
def test_points_on_the_hyperplane_do_not_move(norm, rng):
    t, w, b = random_problems(rng, 30, 6, zero_fraction=0.2, grid=True)
    b = np.sum(w * t, axis=1, dtype=np.float64).astype(np.float32)
    assert np.abs(ours(t, w, b, norm)).max() <= 1e-6


@pytest.mark.parametrize("norm", NORMS)
def test_degenerate_normals(norm, rng):
    """w == 0 everywhere: nothing moves; w with a single nonzero: only that coordinate moves."""
    t = rng.uniform(size=(4, 7)).astype(np.float32)
    np.testing.assert_array_equal(ours(t, np.zeros_like(t), np.ones(4, np.float32), norm), 0.0)
    w = np.zeros_like(t)
    w[:, 3] = np.array([2.0, -2.0, 0.5, -0.5], np.float32)
    b = w[:, 3] * np.array([0.25, 0.75, 0.9, 0.1], np.float32)
    got = ours(t, w, b, norm)
    np.testing.assert_array_equal(np.delete(got, 3, axis=1), 0.0)
    np.testing.assert_allclose(t[:, 3] + got[:, 3], [0.25, 0.75, 0.9, 0.1], atol=1e-6)


@pytest.mark.parametrize("norm", NORMS)
def test_same_algorithm_as_reference_in_float64(norm, rng):
    """In float64 rounding is negligible, so any difference is a difference of algorithm (1e-9)."""
    t, w, b = random_problems(rng, 300, 64, zero_fraction=0.2, grid=True)
    t2, w2, b2 = random_problems(rng, 300, 37, zero_fraction=0.05)
    with jax.enable_x64(True):
        for tt, ww, bb in ((t, w, b), (t2, w2, b2)):
            tt, ww, bb = (a.astype(np.float64) for a in (tt, ww, bb))
            np.testing.assert_allclose(ours(tt, ww, bb, norm), theirs(tt, ww, bb, norm), atol=1e-9)


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("dim", [2, 9, 64])
def test_matches_reference_in_float32(norm, dim, rng):
    """float32 against the reference's float32: within 1e-6 on typical rows. Ill-conditioned rows (a
    cumulative sum cancelling) differ more, so the worst row only has to be about as close to the exact
    (float64) answer as the reference's own float32 result is."""
    t, w, b = random_problems(rng, 200, dim, zero_fraction=0.2, grid=dim == 64)
    got, ref = ours(t, w, b, norm), theirs(t, w, b, norm)
    exact = theirs(t.astype(np.float64), w.astype(np.float64), b.astype(np.float64), norm)
    assert np.median(np.abs(got - ref).max(axis=1)) <= 1e-6
    assert np.mean(np.abs(got - ref).max(axis=1) <= 1e-6) >= 0.9
    assert np.abs(got - exact).max() <= max(4 * np.abs(ref - exact).max(), 1e-5)


def test_unknown_norm_is_rejected():
    with pytest.raises(ValueError, match="unknown norm"):
        project_onto_hyperplane_box(jnp.zeros((1, 2)), jnp.ones((1, 2)), jnp.zeros(1), "L0")
