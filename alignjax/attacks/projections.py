"""Projections onto an eps-ball intersected with the [0, 1] box, with the reference's arithmetic.

Reference: ``fra31/auto-attack@a392200:autoattack/autopgd_base.py`` (the Linf/L2 step projections
inside ``APGDAttack.attack_single_run`` and the module-level ``L1_projection``), used by APGD and by
the L1 Square attack. Paper: Croce & Hein (2020), "Reliable evaluation of adversarial robustness
with an ensemble of diverse parameter-free attacks", and Croce & Hein (2021), "Mind the box:
l1-APGD for sparse adversarial attacks on image classifiers" (the L1 ball ∩ box projection).

Every function is batched over the leading axis. ``eps`` may be a Python float, a 0-d array or a
per-example ``(b,)`` array. The per-example kernels are written for one flat example and ``vmap``-ed.

Deliberate deviations from the reference ``L1_projection``:
  * When the root of the piecewise-linear L1 equation lies in the first interval between breakpoints
    (possible only if every coordinate of ``x + y`` lies outside the box), the reference's binary
    search never tests index 0 and interpolates with the wrong slope; it then returns a point that is
    not the projection, can leave the ball, and can be NaN (0/0). We interpolate inside that first
    interval instead. The rest of the arithmetic is the reference's, so all other inputs agree with it
    to float32 rounding (tested against the live reference).
  * The sort is stable (``sorting.argsort``: NumPy's stable order, by a sorting network on CPU) where
    ``torch.sort`` is not guaranteed to be; the result does not depend on the order of tied breakpoints.
  * The L2 norm has a zero-safe gradient (same values), so gradients are finite at zero.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from alignjax.attacks import sorting

Eps = float | Float[Array, ""] | Float[Array, " b"]


def _per_example(eps: Eps, batch: int) -> Float[Array, " b"]:
    eps = jnp.asarray(eps, dtype=jnp.float32)
    if eps.ndim == 0:
        return jnp.broadcast_to(eps, (batch,))
    if eps.shape != (batch,):
        raise ValueError(f"eps must be a scalar or have shape ({batch},), got {eps.shape}")
    return eps


def _expand(v: Array, ndim: int) -> Array:
    """(b,) -> (b, 1, ..., 1) with ``ndim`` axes in all."""
    return v.reshape(v.shape + (1,) * (ndim - 1))


def safe_l2_norm(v: Float[Array, "b ..."]) -> Float[Array, " b"]:
    """Per-example sqrt(sum(v**2)) (the reference's ``L2_norm``) with a finite gradient at 0."""
    squared = jnp.sum(jnp.square(v.reshape(v.shape[0], -1)), axis=1)
    positive = squared > 0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, squared, 1.0)), 0.0)


def project_linf(x: Float[Array, "b ..."], x_adv: Float[Array, "b ..."], eps: Eps) -> Float[Array, "b ..."]:
    """Projects ``x_adv`` onto {||. - x||_inf <= eps} ∩ [0, 1]: ``clip(min(max(v, x-eps), x+eps), 0, 1)``.

    As in the reference, ``|result - x|`` can exceed eps by about one float32 ulp.
    """
    e = _expand(_per_example(eps, x.shape[0]), x.ndim)
    return jnp.clip(jnp.minimum(jnp.maximum(x_adv, x - e), x + e), 0.0, 1.0)


def project_l2(x: Float[Array, "b ..."], x_adv: Float[Array, "b ..."], eps: Eps) -> Float[Array, "b ..."]:
    """Rescales ``x_adv - x`` to L2 norm ``min(eps, ||x_adv - x||)``, then clips to [0, 1].

    Exactly the reference's ``clamp(x + normalize(v - x) * min(eps, L2_norm(v - x)), 0, 1)`` with
    ``normalize(d) = d / (||d||_2 + 1e-12)``. Rescaling then clipping is not the exact projection onto
    the intersection, but it is what the reference does, and the result is feasible.
    """
    e = _per_example(eps, x.shape[0])
    delta = x_adv - x
    norm = safe_l2_norm(delta)
    direction = delta / _expand(norm + 1e-12, x.ndim)
    return jnp.clip(x + direction * _expand(jnp.minimum(e, norm), x.ndim), 0.0, 1.0)


def _l1_delta_single(
    x: Float[Array, " d"], y: Float[Array, " d"], eps: Float[Array, ""]
) -> Float[Array, " d"]:
    """One flat example of ``l1_projection`` (see there)."""
    d = x.shape[0]
    sign = jnp.sign(y)
    magnitude = jnp.abs(y)
    # Box slack (<= 0): how much of |y_i| must go for x_i + y_i to land in [0, 1].
    box = jnp.minimum(0.0, jnp.minimum(1.0 - x - y, x + y))
    # The projection is sign(y) * (|y| - clip(lam, -box, |y|)) for the lam giving L1 norm eps; the
    # 2d breakpoints of lam are -box (a coordinate starts shrinking) and |y| (it hits zero).
    breakpoints = jnp.concatenate([-box, magnitude])
    order = sorting.argsort(breakpoints)
    sorted_bp = breakpoints[order]
    next_bp = jnp.concatenate([sorted_bp[1:], jnp.zeros((1,), jnp.float32)])
    n_active = jnp.cumsum(jnp.where(order < d, 1.0, -1.0).astype(jnp.float32))
    removed_by_box = -jnp.sum(box)
    slack = eps - jnp.sum(magnitude)
    needs_projection = removed_by_box + slack < 0
    # removed[j]: L1 mass removed at lam = sorted_bp[j + 1] (non-decreasing in j).
    removed = removed_by_box + jnp.cumsum((next_bp - sorted_bp) * n_active)

    # Binary search for the last j with removed[j] + slack < 0, on a static number of steps, with
    # the reference's float lower/upper bounds and floor midpoint.
    n_steps = math.ceil(math.log2(2 * d))

    def search(_, bounds):
        lower, upper = bounds
        middle = jnp.floor((lower + upper) / 2.0)
        below = removed[middle.astype(jnp.int32)] + slack < 0
        return jnp.where(below, middle, lower), jnp.where(below, upper, middle)

    lower, _ = jax.lax.fori_loop(0, n_steps, search, (jnp.float32(0.0), jnp.float32(2 * d - 1)))
    j = lower.astype(jnp.int32)
    slope = n_active[jnp.minimum(j + 1, 2 * d - 1)]
    safe_slope = jnp.where(slope == 0, 1.0, slope)
    lam = (-removed[j] - slack) / safe_slope + next_bp[j]
    # Deviation (see module docstring): root in the first interval [sorted_bp[0], sorted_bp[1]].
    first_gap = removed[0] - removed_by_box
    in_first = removed[0] + slack >= 0
    safe_gap = jnp.where(first_gap > 0, first_gap, 1.0)
    lam_first = sorted_bp[0] + (next_bp[0] - sorted_bp[0]) * ((-slack - removed_by_box) / safe_gap)
    lam = jnp.where(in_first, lam_first, lam)
    projected = -jnp.minimum(jnp.maximum(-box, lam), magnitude)
    return sign * jnp.where(needs_projection, projected, box)


def l1_projection(x: Float[Array, "b ..."], y: Float[Array, "b ..."], eps: Eps) -> Float[Array, "b ..."]:
    """The delta such that ``x + y + delta`` is the projection of ``x + y`` onto the L1 ball ∩ box.

    Semantics of the reference's ``L1_projection(x2, y2, eps1)``: ``x + y + delta`` is the Euclidean
    projection of ``x + y`` onto ``{z : ||z - x||_1 <= eps} ∩ [0, 1]^d``. If the box-clipped point is
    already inside the ball the result is just the box clipping. Computed with a sort over the 2d
    breakpoints, a cumulative sum and a binary search of ``ceil(log2(2d))`` static steps.

    Args:
      x: (b, ...) centres of the balls, in [0, 1].
      y: (b, ...) perturbations; ``x + y`` is the point to project.
      eps: scalar or (b,) radii.

    Returns:
      (b, ...) float32 delta, shaped like ``x``.
    """
    b = x.shape[0]
    flat_x = x.reshape(b, -1).astype(jnp.float32)
    flat_y = y.reshape(b, -1).astype(jnp.float32)
    delta = jax.vmap(_l1_delta_single)(flat_x, flat_y, _per_example(eps, b))
    return delta.reshape(x.shape)


def project_l1(x: Float[Array, "b ..."], x_adv: Float[Array, "b ..."], eps: Eps) -> Float[Array, "b ..."]:
    """Projects ``x_adv`` onto the L1 ball ∩ box: ``x + u + L1_projection(x, u, eps)``, ``u = x_adv - x``.

    That sum is the reference's APGD step; it can leave [0, 1] by one float32 ulp, so the result is
    clipped to the box (which only moves coordinates towards ``x``, so the L1 norm cannot grow).
    """
    u = x_adv - x
    return jnp.clip(x + u + l1_projection(x, u, eps), 0.0, 1.0)


def project(
    norm: str, x: Float[Array, "b ..."], x_adv: Float[Array, "b ..."], eps: Eps
) -> Float[Array, "b ..."]:
    """Dispatches to ``project_linf``, ``project_l2`` or ``project_l1`` by norm name."""
    if norm == "Linf":
        return project_linf(x, x_adv, eps)
    if norm == "L2":
        return project_l2(x, x_adv, eps)
    if norm == "L1":
        return project_l1(x, x_adv, eps)
    raise ValueError(f"unknown norm {norm!r}; use 'Linf', 'L2' or 'L1'")
