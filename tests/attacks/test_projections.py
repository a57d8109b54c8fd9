"""Projections: properties (optax test_projection_ball style) and the reference's L1_projection."""

from __future__ import annotations

import hypothesis.extra.numpy as hnp
import hypothesis.strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from pyautoattack.autopgd_base import L1_projection

from alignjax.attacks.norms import flat_norm
from alignjax.attacks.projections import l1_projection, project
from tests.attacks.reference_oracles import exact_l1_box_projection

NORMS = ("Linf", "L2", "L1")
SHAPE = (8, 4, 4, 2)
HALF_ULP_AT_ONE = 2.0**-24  # Linf: |clip(min(max(v, x-e), x+e)) - x| can exceed e by rounding x+e
_project = jax.jit(project, static_argnums=0)


def _direction(rng, norm, shape):
    d = rng.normal(size=shape)
    if norm == "L1":  # sparse-ish, as APGD's L1 steps are
        d *= rng.random(size=shape) < 0.3
    return d


def _case(norm, where, rng, eps=0.5):
    """(x, v, eps) with v - x at radius 0.5eps / eps / 3eps; inside and boundary stay in the box."""
    x = rng.uniform(0.2, 0.8, size=SHAPE).astype(np.float32)
    d = _direction(rng, norm, SHAPE)
    radius = {"inside": 0.5, "boundary": 1.0, "outside": 3.0}[where] * eps
    d = d / np.asarray(flat_norm(jnp.asarray(d, jnp.float32), norm)).reshape(-1, 1, 1, 1) * radius
    if where != "outside":
        # keep inside the box without leaving the ball: shrink rows until x + d is in [0, 1]
        scale = np.ones((SHAPE[0], 1, 1, 1))
        for _ in range(60):
            bad = ((x + scale * d < 0) | (x + scale * d > 1)).reshape(SHAPE[0], -1).any(1)
            scale[bad] *= 0.9
        d = scale * d
    return jnp.asarray(x), jnp.asarray((x + d).astype(np.float32)), eps


def _assert_feasible(norm, x, out, eps, v=None):
    """In the box, and in the ball up to eps·(1+1e-6) plus rounding.

    Linf: half an ulp at 1 (x + eps is rounded). L1: the reference's algorithm (which we keep) sums
    up to ||v - x||_1 in float32, so its radius is exact only to a few ulps of that mass; the
    reference's own outputs overshoot by the same amount (e.g. 1.0000025 for eps = 1, ||v-x||_1 = 26).
    """
    out = np.asarray(out)
    assert np.all(out >= 0) and np.all(out <= 1)
    norms = np.asarray(flat_norm(out - x, norm))
    slack = HALF_ULP_AT_ONE
    if norm == "L1" and v is not None:
        slack = slack + 4 * np.finfo(np.float32).eps * np.asarray(flat_norm(v - x, "L1"))
    assert np.all(norms <= np.asarray(eps) * (1 + 1e-6) + slack), norms.max()


@pytest.mark.parametrize("where", ["inside", "boundary", "outside"])
@pytest.mark.parametrize("norm", NORMS)
def test_projection_properties(norm, where, rng):
    x, v, eps = _case(norm, where, rng)
    out = _project(norm, x, v, eps)
    _assert_feasible(norm, x, out, eps, v)
    # idempotent
    np.testing.assert_allclose(_project(norm, x, out, eps), out, atol=2e-6)
    if where != "outside":  # already feasible: unchanged
        np.testing.assert_allclose(out, v, atol=2e-6)
    # vmap over single examples equals the batched call
    single = jax.jit(jax.vmap(lambda a, b: project(norm, a[None], b[None], eps)[0]))(x, v)
    np.testing.assert_allclose(single, out, atol=1e-7)
    one = jax.jit(lambda a, b: project(norm, a, b, eps))
    loop = np.stack([np.asarray(one(x[i : i + 1], v[i : i + 1]))[0] for i in range(SHAPE[0])])
    np.testing.assert_allclose(loop, out, atol=1e-7)


@pytest.mark.parametrize("norm", NORMS)
def test_projection_gradient_finite_at_zero_perturbation(norm, rng):
    x = jnp.asarray(rng.uniform(0.2, 0.8, size=SHAPE).astype(np.float32))
    weights = jnp.arange(x.size, dtype=jnp.float32).reshape(x.shape)
    grad = jax.jit(jax.grad(lambda v: jnp.sum(project(norm, x, v, 0.5) * weights)))(x)
    assert bool(jnp.all(jnp.isfinite(grad)))


@pytest.mark.parametrize("norm", NORMS)
def test_per_example_eps(norm, rng):
    x, v, _ = _case(norm, "outside", rng)
    eps = jnp.linspace(0.1, 1.0, SHAPE[0]).astype(jnp.float32)
    out = _project(norm, x, v, eps)
    for i in (0, 3, 7):
        scalar = _project(norm, x, v, float(eps[i]))  # same shapes: one compile for the three rows
        np.testing.assert_allclose(out[i], scalar[i], atol=1e-7)
    _assert_feasible(norm, x, out, eps, v)


def _torch_l1(x, y, eps):
    return L1_projection(torch.tensor(np.asarray(x)), torch.tensor(np.asarray(y)), eps).numpy()


@pytest.mark.parametrize(
    "shape, scale, eps",
    [
        ((64, 8, 8, 1), 0.05, 2.0),  # APGD-like: a step off a point of the ball
        ((64, 8, 8, 1), 0.3, 2.0),
        ((64, 8, 8, 1), 1.0, 2.0),  # the Gaussian start of L1 APGD
        ((32, 4, 4, 3), 0.5, 1.0),
    ],
)
def test_l1_projection_matches_reference(shape, scale, eps, rng):
    x = rng.uniform(0, 1, size=shape).astype(np.float32)
    y = (rng.normal(size=shape) * scale).astype(np.float32)
    ours = np.asarray(jax.jit(l1_projection)(x, y, eps))
    reference = _torch_l1(x, y, eps)
    # Both run in float32 and sum up to ~||y||_1, so allow float32 rounding at that magnitude.
    tolerance = 1e-6 + np.finfo(np.float32).eps * np.abs(y).reshape(shape[0], -1).sum(1)
    error = np.abs(ours - reference).reshape(shape[0], -1).max(1)
    assert np.all(error <= tolerance), (error.max(), tolerance.min())
    # and it is the projection: against an independent float64 bisection
    exact = np.stack([exact_l1_box_projection(a.ravel(), b.ravel(), eps) for a, b in zip(x, y)])
    assert np.abs(ours.reshape(shape[0], -1) - exact).max() <= 2 * tolerance.max()


def test_l1_projection_first_interval_deviation():
    """Root in the first breakpoint interval (every coordinate outside the box).

    The reference interpolates with the wrong slope there (its binary search never tests index 0);
    ours returns the exact projection. This documents the deliberate deviation.
    """
    x = np.array([[0.95, 0.5]], np.float32)
    y = np.array([[0.35, 0.9]], np.float32)
    eps = 0.52
    ours = np.asarray(l1_projection(x, y, eps))[0]
    exact = exact_l1_box_projection(x[0], y[0], eps)
    np.testing.assert_allclose(ours, exact, atol=1e-6)
    assert np.abs(y[0] + ours).sum() <= eps * (1 + 1e-6)
    reference = _torch_l1(x, y, eps)[0]
    assert np.abs(y[0] + reference).sum() > eps + 1e-3  # the reference leaves the ball here


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    scale=st.floats(0.01, 3.0),
    eps=st.floats(0.05, 4.0),
    zero_fraction=st.floats(0.0, 0.9),
    norm=st.sampled_from(NORMS),
)
def test_projection_properties_hypothesis(seed, scale, eps, zero_fraction, norm):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, size=SHAPE).astype(np.float32)
    x[rng.random(SHAPE) < 0.3] = 0.0  # pixels on the box boundary, as in real images
    v = x + (rng.normal(size=SHAPE) * scale * (rng.random(SHAPE) > zero_fraction)).astype(np.float32)
    x, v = jnp.asarray(x), jnp.asarray(v)
    out = _project(norm, x, v, eps)
    _assert_feasible(norm, x, out, eps, v)
    np.testing.assert_allclose(_project(norm, x, out, eps), out, atol=1e-5)
    if norm == "L1":
        exact = np.stack(
            [
                exact_l1_box_projection(a.ravel(), (b - a).ravel(), eps)
                for a, b in zip(np.asarray(x), np.asarray(v))
            ]
        )
        ours = np.asarray(out - v).reshape(SHAPE[0], -1)
        np.testing.assert_allclose(ours, exact, atol=1e-5, rtol=1e-5)  # float32 vs a float64 oracle


@given(d=hnp.arrays(np.float32, (2, 6), elements=st.floats(-2, 2, width=32)))
@settings(max_examples=30, deadline=None)
def test_l1_projection_hypothesis_against_exact(d):
    x = np.full((2, 6), 0.5, np.float32)
    out = np.asarray(l1_projection(jnp.asarray(x), jnp.asarray(d), 1.0))
    for row in range(2):
        np.testing.assert_allclose(out[row], exact_l1_box_projection(x[row], d[row], 1.0), atol=1e-5)
