"""FAB's exact projections onto a hyperplane intersected with the [0, 1] box.

Each kernel solves, for one flat point ``t`` (d,), a normal ``w`` (d,) and an offset ``b``::

    min_delta ||delta||_p   subject to   <w, t + delta> = b,   0 <= t + delta <= 1

and returns ``delta``. All three follow the same recipe (Croce & Hein 2020, "Minimally distorted
adversarial examples with a fast adaptive boundary attack", ICML, section 3 and appendix): orient the
hyperplane so that ``<w, t> - b >= 0``, write the reachable change of ``<w, .>`` as a monotone piecewise
linear function of one scalar (the Linf radius, the L2 step length along ``-w``, or the number of
coordinates filled greedily for L1), sort its breakpoints, take cumulative sums, and find the active
piece with ``ceil(log2 d)`` steps of binary search. Everything is static-shaped; a point is one vmap
row.

Reference: ``fra31/auto-attack@a392200:autoattack/fab_projections.py`` (``projection_linf``,
``projection_l2``, ``projection_l1``). The kernels reproduce its numerics, quirks included:

- an unreachable hyperplane gives the best-effort *full move* of every coordinate with ``w_i != 0`` to
  the box face that decreases ``<w, .>`` (Linf, L1) or to its clipped breakpoint (L2);
- coordinates with ``w_i == 0`` (L2: ``|w_i| < 1e-8``) never move;
- L2 clamps the breakpoints to ``+-1e12``, treats ``|w_i| < 1e-8`` as absent and sets the step to 0
  when no unclipped mass remains;
- L1 clamps ``1/|w_i|`` at ``1e12`` and gives the last coordinate the partial value ``-s / w_i``.

Deliberate deviations: none in the maths. The reference computes each case on the sub-batch that needs
it (boolean indexing); here every case is evaluated for every row and the right one is selected with
``jnp.where``, which changes nothing because rows are independent. Sorting is stable here (``torch.sort``
is not guaranteed to be); tied breakpoints give the same piecewise linear function, so only rounding
can differ. The sorts are ``sorting.argsort`` (a sorting network on CPU for d <= 1024, the library sort
elsewhere: the same order).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax import lax
from jaxtyping import Array, Float

from alignjax.attacks import sorting

Vector = Float[Array, " d"]
Scalar = Float[Array, ""]

_BIG = 1e12  # the reference's clamp for L2 breakpoints and L1 inverse weights
_TINY_W = 1e-8  # L2 and the final mask of L2 and L1 ignore |w_i| below this


def _search_last_true(predicate: Callable[[Array], Array], upper: int, n_steps: int) -> Array:
    """Bisection as in the reference: ``lb, ub = 0, upper``; keep ``lb`` where ``predicate(mid)``.

    Returns the final ``lb`` as an int32 index (the last index where the monotone predicate holds,
    given enough steps).
    """

    def step(_, bounds):
        lower, upper_ = bounds
        middle = (lower + upper_) // 2
        holds = predicate(middle)
        return jnp.where(holds, middle, lower), jnp.where(holds, upper_, middle)

    lower, _ = lax.fori_loop(0, n_steps, step, (jnp.int32(0), jnp.int32(upper)))
    return lower


def _n_search_steps(dim: int) -> int:
    return math.ceil(math.log2(dim)) if dim > 1 else 0


def project_linf(t: Vector, w: Vector, b: Scalar) -> Vector:
    """Smallest-Linf ``delta`` with ``<w, t + delta> = b`` and ``t + delta`` in [0, 1] (one point).

    Args:
      t: (d,) the point, in [0, 1].
      w: (d,) the hyperplane's normal.
      b: () the hyperplane's offset.

    Returns:
      (d,) ``delta``; the full move to the far box corner when the hyperplane is out of reach.
    """
    dim = t.shape[0]
    sign = jnp.where(jnp.sum(w * t) - b >= 0, 1.0, -1.0).astype(t.dtype)
    w = w * sign
    b = b * sign
    moves_up = w < 0  # moving toward 1 decreases <w, .> on these coordinates
    up = moves_up.astype(t.dtype)
    moving = (w != 0).astype(t.dtype)
    full = (up - t) * moving  # the largest decrease of <w, .> the box allows
    room = jnp.where(moves_up, 1.0 - t, t)  # how far each coordinate can move
    order_desc = sorting.argsort(room)[::-1]

    gap = b - jnp.sum(w * t)  # the change of <w, .> needed (<= 0)
    full_change = jnp.sum(w * full)
    w_desc = w[order_desc]
    slope = jnp.cumsum(jnp.abs(w_desc))
    # change(lam) = offset[k] - slope[k] * lam while the k+1 roomiest coordinates are unsaturated
    offset = jnp.cumsum(-w_desc * full[order_desc]) + full_change

    change_at_min_room = offset[-1] - slope[-1] * room[order_desc[-1]]
    closed_form = gap - change_at_min_room > 0  # reached before any coordinate saturates
    searched = (gap - full_change > 0) & ~closed_form

    def overshoots(k):
        return gap - (offset[k] - slope[k] * room[order_desc[k]]) > 0

    k = _search_last_true(overshoots, dim - 1, _n_search_steps(dim))

    radius_closed = jnp.maximum((gap - offset[-1]) / (-slope[-1]), 0.0)
    delta_closed = (2.0 * up - 1.0) * radius_closed
    radius = jnp.maximum((gap - offset[k]) / (-slope[k]), 0.0)
    delta_searched = jnp.minimum(radius, full) * up + jnp.maximum(-radius, full) * (1.0 - up)

    delta = jnp.where(closed_form, delta_closed, jnp.where(searched, delta_searched, full))
    return delta * moving


def project_l2(t: Vector, w: Vector, b: Scalar) -> Vector:
    """Smallest-L2 ``delta`` with ``<w, t + delta> = b`` and ``t + delta`` in [0, 1] (one point).

    The minimiser is ``delta_i = clip(-alpha * w_i, -t_i, 1 - t_i)`` for one ``alpha >= 0``; coordinate
    ``i`` saturates once ``alpha`` passes its breakpoint ``r_i``.

    Args:
      t: (d,) the point, in [0, 1].
      w: (d,) the hyperplane's normal.
      b: () the hyperplane's offset.

    Returns:
      (d,) ``delta``; the full clipped move when the hyperplane is out of reach.
    """
    dim = t.shape[0]
    excess = jnp.sum(w * t) - b
    sign = jnp.where(excess >= 0, 1.0, -1.0).astype(t.dtype)
    w = w * sign
    excess = excess * sign
    significant = jnp.abs(w) > _TINY_W

    breakpoint_ = jnp.clip(jnp.maximum(t / w, (t - 1.0) / w), -_BIG, _BIG)
    breakpoint_ = jnp.where(~significant, _BIG, breakpoint_)
    breakpoint_ = jnp.where(breakpoint_ == -_BIG, _BIG, breakpoint_)
    order = sorting.argsort(breakpoint_)
    sorted_bp = breakpoint_[order]
    next_bp = jnp.concatenate([sorted_bp[1:], jnp.zeros((1,), t.dtype)])
    sorted_bp = jnp.where(sorted_bp == _BIG, 0.0, sorted_bp)
    next_bp = jnp.where(next_bp == _BIG, 0.0, next_bp)

    w_sq_sorted = (w**2)[order]
    w_sq_total = jnp.sum(w_sq_sorted)
    w_sq_unsaturated = w_sq_total - jnp.cumsum(w_sq_sorted)  # mass still moving after breakpoint k
    full = -(breakpoint_ * w) * significant.astype(t.dtype)
    # change[k]: change of <w, .> at alpha = sorted_bp[k] (k = 0 before any saturation)
    start = -w_sq_total * sorted_bp[0]
    change = jnp.concatenate(
        [start[None], jnp.cumsum((sorted_bp - next_bp) * w_sq_unsaturated) - w_sq_total * sorted_bp[0]]
    )

    closed_form = change[0] + excess < 0
    unreachable = jnp.sum(full * w) + excess > 0

    k = _search_last_true(lambda j: change[j] + excess > 0, dim - 1, _n_search_steps(dim))

    delta_closed = -(excess / w_sq_total) * w
    step = (change[k] + excess) / w_sq_unsaturated[k] + sorted_bp[k]
    step = jnp.where(w_sq_unsaturated[k] == 0, 0.0, step)
    saturated = (step > breakpoint_).astype(t.dtype)
    delta_searched = full * saturated - step * w * (1.0 - saturated)

    delta = jnp.where(closed_form, delta_closed, jnp.where(unreachable, full, delta_searched))
    return delta * significant.astype(t.dtype)


def project_l1(t: Vector, w: Vector, b: Scalar) -> Vector:
    """Smallest-L1 ``delta`` with ``<w, t + delta> = b`` and ``t + delta`` in [0, 1] (one point).

    Greedy: coordinates are filled to their box face in decreasing ``|w_i|`` until the needed change is
    reached; the last one moves partially.

    Args:
      t: (d,) the point, in [0, 1].
      w: (d,) the hyperplane's normal.
      b: () the hyperplane's offset.

    Returns:
      (d,) ``delta``; the full box move of every coordinate with ``w_i != 0`` when out of reach.
    """
    dim = t.shape[0]
    excess = jnp.sum(w * t) - b
    sign = jnp.where(excess >= 0, 1.0, -1.0).astype(t.dtype)
    w = w * sign
    excess = excess * sign

    cost = jnp.minimum(jnp.abs(1.0 / w), _BIG)  # L1 cost per unit change of <w, .>
    order = sorting.argsort(cost)
    rank = sorting.argsort(order)  # position of each coordinate in the greedy order
    moves_up = (w < 0).astype(t.dtype)
    full = (moves_up - t) * (w != 0).astype(t.dtype)
    gain = jnp.minimum(-w * t, w * (1.0 - t))[order]  # (<= 0) change from filling a coordinate
    remaining = jnp.cumsum(jnp.concatenate([excess[None], gain]))  # excess left after k fills

    reachable = remaining[-1] < 0
    k = _search_last_true(lambda j: remaining[j] > 0, dim + 1, _n_search_steps(dim))
    last = order[jnp.minimum(k, dim - 1)]
    partial = -remaining[k] / w[last]
    delta_searched = (full * (rank.astype(jnp.int32) < k).astype(t.dtype)).at[last].set(partial)

    delta = jnp.where(reachable, delta_searched, full)
    return delta * (jnp.abs(w) > _TINY_W).astype(t.dtype)


_KERNELS = {"Linf": project_linf, "L2": project_l2, "L1": project_l1}


def project_onto_hyperplane_box(
    points: Float[Array, "n d"], w: Float[Array, "n d"], b: Float[Array, " n"], norm: str
) -> Float[Array, "n d"]:
    """Row-wise ``delta`` of the exact ``norm`` projection onto ``{<w, v> = b} ∩ [0, 1]^d`` (vmapped).

    Args:
      points: (n, d) flat points in [0, 1].
      w: (n, d) one hyperplane normal per row.
      b: (n,) one offset per row.
      norm: 'Linf', 'L2' or 'L1'.

    Returns:
      (n, d) displacements, as the reference's ``projection_<norm>``.
    """
    try:
        kernel = _KERNELS[norm]
    except KeyError:
        raise ValueError(f"unknown norm {norm!r}; use 'Linf', 'L2' or 'L1'") from None
    return jax.vmap(kernel)(points, w, b)
