"""What every attack shares: its result type, the dispatch on config type, and per-point keys.

Each attack module (apgd.py, fab.py, square.py) defines a frozen config dataclass and registers a
runner for it with ``@run_attack.register``; the cascade (autoattack.py) only calls ``run_attack``.
This is the strategy pattern of diffrax ``diffeqsolve(solver=...)``: no ``if name == 'fab-t'`` chains.

Randomness never depends on batch composition: a point's key is ``fold_in(attack_key, point_id)``
where ``point_id`` is the point's index in the whole evaluated set. Randomness the reference shares
across a batch (Square's window positions) is drawn from ``attack_key`` alone, so every batch sees
the same draw for the same iteration, whatever the batch size.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Int

from alignjax.types import Images, Key, Labels, LogitsFn, Mask, Params, PointIds


class AttackResult(NamedTuple):
    """What one attack returns for one fixed-shape batch.

    Attributes:
      x_adv: (b, h, w, c) adversarial points; the clean ``x`` wherever the attack failed or the row
        was inactive, exactly as the reference's ``perturb`` returns it.
      is_adv: (b,) the attack's own success flag (already False on inactive rows). The cascade still
        re-verifies with one forward pass, as the reference's main loop does.
      n_queries: (b,) forward passes spent per point by query-counted attacks (Square); zeros for
        attacks that do not count queries.
    """

    x_adv: Images
    is_adv: Bool[Array, " b"]
    n_queries: Int[Array, " b"]


@functools.singledispatch
def run_attack(
    cfg: object,
    logits_fn: LogitsFn,
    params: Params,
    x: Images,
    y: Labels,
    active: Mask,
    *,
    key: Key,
    point_ids: PointIds,
) -> AttackResult:
    """Runs the attack described by ``cfg`` on one batch (dispatches on ``type(cfg)``).

    Args:
      cfg: a frozen attack config (APGDConfig, FABConfig, SquareConfig, ...).
      logits_fn: pure ``(params, images) -> logits``; images are NHWC floats in [0, 1].
      params: the model's parameters.
      x: (b, h, w, c) clean images in [0, 1].
      y: (b,) int labels.
      active: (b,) rows to attack (still robust and not padding); other rows come back unchanged.
      key: the attack-level key, identical for every batch of one attack.
      point_ids: (b,) global index of each row in the evaluated set (any value on padding rows).

    Returns:
      AttackResult.
    """
    raise TypeError(
        f"no attack is registered for config type {type(cfg).__name__}; "
        "import the module that defines it (alignjax.attacks.apgd, .fab, .square)"
    )


def per_point_keys(key: Key, point_ids: PointIds) -> Key:
    """(b,) keys, one per point, independent of how points are batched."""
    return jax.vmap(lambda i: jax.random.fold_in(key, i))(point_ids.astype(jnp.uint32))


def flat_norm(delta: Images, norm: str) -> Array:
    """Per-example Linf/L2/L1 norm of a (b, ...) array, as the reference's L*_norm helpers."""
    flat = delta.reshape(delta.shape[0], -1)
    if norm == "Linf":
        return jnp.max(jnp.abs(flat), axis=1)
    if norm == "L2":
        return jnp.sqrt(jnp.sum(flat**2, axis=1))
    if norm == "L1":
        return jnp.sum(jnp.abs(flat), axis=1)
    raise ValueError(f"unknown norm {norm!r}; use 'Linf', 'L2' or 'L1'")


def predict(logits_fn: LogitsFn, params: Params, x: Images) -> Labels:
    """argmax of the logits (first maximal index, as torch.max)."""
    return jnp.argmax(logits_fn(params, x), axis=-1)


def keep_where(mask: Mask, new: Images, old: Images) -> Images:
    """Per-example select: rows of ``new`` where ``mask`` else rows of ``old``."""
    return jnp.where(mask.reshape((-1,) + (1,) * (new.ndim - 1)), new, old)
