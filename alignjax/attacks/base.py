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


class PassResult(NamedTuple):
    """What one pass (one restart, or one target class of one restart) returns for one batch.

    Attributes:
      x_found: (b, h, w, c) the pass's candidate adversarial points (anything on rows not broken).
      broken: (b,) rows of the pass's ``robust`` input that the pass broke, by the attack's own test.
      n_queries: (b,) forward passes the pass spent per point (Square), else zeros.
    """

    x_found: Images
    broken: Bool[Array, " b"]
    n_queries: Int[Array, " b"]


@functools.singledispatch
def pass_count(cfg: object) -> int:
    """How many passes (restarts x target classes) the attack runs; the config type registers it.

    Attacks that register ``pass_count``, ``attackable`` and ``run_pass`` get survivor compaction in
    the cascade (``passes.attack_group``): between passes, the rows still robust are re-packed into a
    smaller batch, as the reference's ``perturb`` indexes ``acc.nonzero()``. Attacks that register only
    ``run_attack`` run whole, on the padded batch.
    """
    raise TypeError(f"{type(cfg).__name__} has no pass structure")


@functools.singledispatch
def attackable(cfg: object, logits_fn: LogitsFn, params: Params, x: Images, y: Labels, active: Mask, *,
               key: Key) -> Mask:
    """(b,) rows the attack works on: active and correctly classified on the clean ``x``."""
    raise TypeError(f"{type(cfg).__name__} has no pass structure")


@functools.singledispatch
def run_pass(cfg: object, logits_fn: LogitsFn, params: Params, x: Images, y: Labels, robust: Mask,
             pass_index: Int[Array, ""], *, key: Key, point_ids: PointIds) -> PassResult:
    """Runs pass ``pass_index`` on the rows ``robust`` (its randomness: ``key``, ``point_ids``, the index)."""
    raise TypeError(f"{type(cfg).__name__} has no pass structure")


def check_target_count(cfg: object, n_classes: int) -> None:
    """Targeted attacks rank targets 2 ... n_target_classes + 1: refuse more than the model has."""
    wanted = getattr(cfg, "n_target_classes", 0)
    if getattr(cfg, "targeted", False) and wanted + 1 > n_classes:
        raise ValueError(
            f"{cfg.name.upper()} with n_target_classes={wanted} needs at least {wanted + 1} classes; "
            f"the model has {n_classes}"
        )


def has_passes(cfg: object) -> bool:
    """Whether ``cfg``'s type registered the pass structure (``pass_count`` and ``run_pass``)."""
    return pass_count.dispatch(type(cfg)) is not pass_count.dispatch(object)


def run_all_passes(cfg: object, logits_fn: LogitsFn, params: Params, x: Images, y: Labels, active: Mask, *,
                   key: Key, point_ids: PointIds) -> AttackResult:
    """Every pass in one traced program (``run_attack`` of the pass-structured attacks).

    Passes run in order on the rows not yet broken; a pass is skipped (``lax.cond``) once none is
    left. A broken row keeps the first pass's adversarial point. ``is_adv`` is ``active & ~robust``:
    also True on active rows misclassified when clean (they come back as ``x``).
    """
    x = x.astype(jnp.float32)
    robust = attackable(cfg, logits_fn, params, x, y, active, key=key)

    def one_pass(index, carry):
        def attack(carry):
            x_adv, robust, queries = carry
            found = run_pass(cfg, logits_fn, params, x, y, robust, index, key=key, point_ids=point_ids)
            return keep_where(found.broken, found.x_found, x_adv), robust & ~found.broken, queries + found.n_queries

        return jax.lax.cond(jnp.any(carry[1]), attack, lambda c: c, carry)

    init = (x, robust, jnp.zeros(x.shape[:1], jnp.int32))
    x_adv, robust, queries = jax.lax.fori_loop(0, pass_count(cfg), one_pass, init)
    return AttackResult(x_adv=x_adv, is_adv=active & ~robust, n_queries=queries)
