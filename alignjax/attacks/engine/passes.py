"""Running one attack over many points: the one pass/segment loop, with survivor compaction.

The reference's ``perturb`` (``fra31/auto-attack@a392200:autoattack/autopgd_base.py``, ``fab_base.py``,
``square.py``) attacks a batch, then runs each further restart or target class only on
``acc.nonzero()``, the points still robust, so later passes get cheaper; Square even indexes its
unbroken points at every iteration. Here the host loops over an attack's passes (``Attack.n_passes``)
and re-packs the rows still robust into a smaller batch between passes (``batching.bucket_size``), and,
for attacks whose passes have several segments (``Attack.n_segments``), between segments too, carrying
each row's state with it. Per-point keys are ``fold_in(key, point_id)`` and a pass draws from
``(key, point_id, pass index)`` only, so results do not change with the packing (rows of a batch are
independent for deterministic models; a stochastic model draws its noise for the whole batch, so its
draws depend on the packing, as they depend on the batch size anyway).

Every array on the host has a leading checkpoint axis ``(C, b, ...)``: ``C = 1`` for one model, or the
number of stacked checkpoints of one architecture (``stacked=True``: parameters stacked along a new
leading axis, every program ``jax.vmap``-ed over it, each checkpoint attacking its own rows of a shared
batch, the (checkpoints, batch) ``active`` mask), so stacked runs get compaction, sharding and
out-of-memory back-off too. The programs of an unstacked run take no checkpoint axis.

Final draws (stochastic models, ``draws = K > 1``): a candidate's verdict comes from K independent
forward passes, it is adversarial when the model is wrong on at least half of them (robust only if
right on a majority), each pass keeps per point the candidate the model gets wrong most often, and a
point leaves the attack once that share reaches one half, as fra31/auto-attack pull requests #104/#105
propose. K = 1 is the reference: one draw, the attack's own success test inside the passes.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from alignjax.attacks.engine.batching import Placement, bucket_size, is_out_of_memory, pad_to, padded_batches
from alignjax.attacks.images import AttackImages
from alignjax.attacks.norms import perturbation_norms
from alignjax.attacks.protocol import Attack
from alignjax.types import Key, Model, Params

VERIFY_STREAM = 0x564552  # fold_in tag of the re-verification's key (stochastic models)
JUDGE_STREAM = 0x4A4447  # fold_in tag of the per-pass verdict draws (final draws > 1)


class BatchOutcome(NamedTuple):
    """One batch's result for each checkpoint, host arrays with a leading checkpoint axis (C, b, ...).

    Attributes:
      x_adv: the attack's best candidate per row: its adversarial point where it broke the row, the
        clean image elsewhere (with final draws > 1: the candidate the model got wrong most often).
      prediction: the model's prediction at ``x_adv`` (its most frequent wrong class, with final draws).
      broken: re-verified: the row was attacked and the model is wrong at ``x_adv`` (on at least half
        of the final draws).
      n_queries: forward passes spent per row by query-counted attacks (Square), else zeros.
      misclassified: share of the final draws on which the model is wrong at ``x_adv`` (0 or 1 for one draw).
      attacked: rows the attack worked on (active and clean-correct by the attack's own test).
    """

    x_adv: np.ndarray
    prediction: np.ndarray
    broken: np.ndarray
    n_queries: np.ndarray
    misclassified: np.ndarray
    attacked: np.ndarray


def misclassified_share(model: Model, params: Params, x: jax.Array, y: jax.Array, key: Key,
                        draws: int) -> tuple[jax.Array, jax.Array]:
    """(share of ``draws`` forward passes on which the model is wrong, prediction) per row.

    One draw: the prediction under ``key`` itself. Several: draw ``d`` uses ``fold_in(key, d)`` (draw 0
    ``key``), and the prediction is the most frequent wrong class where the model is wrong on at least
    half of the draws, else ``y``.
    """
    y = y.astype(jnp.int32)
    logits = model(params, x, key=key)
    first = jnp.argmax(logits, axis=-1).astype(jnp.int32)
    if draws == 1:
        return (first != y).astype(jnp.float32), first
    k = logits.shape[-1]

    def one(counts, d):
        pred = jnp.argmax(model(params, x, key=jax.random.fold_in(key, d)), axis=-1)
        return counts + jax.nn.one_hot(pred, k, dtype=jnp.int32), None

    counts, _ = jax.lax.scan(one, jax.nn.one_hot(first, k, dtype=jnp.int32), jnp.arange(1, draws))
    right = jnp.take_along_axis(counts, y[:, None], axis=1)[:, 0]
    share = 1.0 - right.astype(jnp.float32) / draws
    wrong_class = jnp.argmax(jnp.where(jax.nn.one_hot(y, k, dtype=bool), -1, counts), axis=-1).astype(jnp.int32)
    return share, jnp.where(share >= 0.5, wrong_class, y)


class Programs:
    """The compiled pieces of one attack on one model (``jax.jit`` caches one executable per shape).

    With ``stacked``, each piece is ``jax.vmap``-ed over the checkpoint axis of the parameters, of the
    row masks, of the carry and of the candidates; images, labels, keys and point ids are shared.
    """

    def __init__(self, attack: Attack, model: Model, stacked: bool, draws: int):
        self.attack, self.model, self.stacked = attack, model, stacked
        self.draws = draws if model.stochastic else 1
        judge = self.draws > 1

        def compile_(fn: Callable[..., Any], in_axes: tuple[int | None, ...]) -> Callable[..., Any]:
            return jax.jit(jax.vmap(fn, in_axes=in_axes) if stacked else fn)

        def verdict(params, found, y, pass_index, key):
            """The pass's candidates judged by ``draws`` forward passes (final draws > 1 only)."""
            judge_key = jax.random.fold_in(jax.random.fold_in(key, JUDGE_STREAM), pass_index)
            return misclassified_share(model, params, found.x_found, y, judge_key, self.draws)[0]

        def ended(params, x, y, robust, pass_index, carry, key):
            found = attack.finish(model, params, x, y, robust, pass_index, carry, key=key)
            share = verdict(params, found, y, pass_index, key) if judge else found.broken.astype(jnp.float32)
            return found.x_found, found.broken, found.n_queries, share

        def whole_pass(params, x, y, robust, pass_index, key, point_ids):
            carry = attack.init(model, params, x, y, robust, pass_index, key=key, point_ids=point_ids)
            carry = attack.run(model, params, x, y, robust, pass_index, carry, jnp.int32(0), key=key,
                               point_ids=point_ids)
            return ended(params, x, y, robust, pass_index, carry, key)

        def start(params, x, y, robust, pass_index, key, point_ids):
            return attack.init(model, params, x, y, robust, pass_index, key=key, point_ids=point_ids)

        def segment(params, x, y, robust, pass_index, carry, index, key, point_ids):
            return attack.run(model, params, x, y, robust, pass_index, carry, index, key=key, point_ids=point_ids)

        def verify(params, x_adv, y, active, key):
            share, pred = misclassified_share(model, params, x_adv, y, jax.random.fold_in(key, VERIFY_STREAM),
                                              self.draws)
            share = jnp.where(active, share, 0.0)
            return pred, active & (share >= 0.5), share

        self.attackable = compile_(
            lambda params, x, y, active, key: attack.attackable(model, params, x, y, active, key=key),
            (0, None, None, 0, None))
        self.whole_pass = compile_(whole_pass, (0, None, None, 0, None, None, None))
        self.start = compile_(start, (0, None, None, 0, None, None, None))
        self.segment = compile_(segment, (0, None, None, 0, None, 0, None, None, None))
        self.survivors = compile_(attack.survivors, (0, 0))
        self.end = compile_(ended, (0, None, None, 0, None, 0, None))
        self.verify = compile_(verify, (0, 0, None, 0, None))

    # host <-> device shapes of row masks and per-checkpoint arrays
    @property
    def batch_axis(self) -> int:
        return 1 if self.stacked else 0

    def to_device(self, a: np.ndarray) -> np.ndarray:
        """A host (C, b, ...) array in the programs' shape: (b, ...) for an unstacked run."""
        return a if self.stacked else a[0]

    def to_host(self, a: Any) -> np.ndarray:
        """A program's output as a host (C, b, ...) array."""
        a = np.asarray(jax.device_get(a))
        return a if self.stacked else a[None]


@functools.lru_cache(maxsize=64)
def programs(attack: Attack, model: Model, stacked: bool = False, draws: int = 1) -> Programs:
    """The compiled pieces of ``attack`` on ``model`` (cached per attack, model, stacking and draws)."""
    attack.check_model(model)
    return Programs(attack, model, stacked, draws if model.stochastic else 1)


def attack_batch(progs: Programs, params: Params, x: np.ndarray, y: np.ndarray, idx: np.ndarray,
                 active: np.ndarray, key: Key, placement: Placement) -> BatchOutcome:
    """Every pass of the attack on one padded batch, re-packing the survivors between passes (and
    between segments), then the re-verification.

    Args:
      x, y, idx: the batch's images (b, h, w, c), labels and global point indices (host arrays).
      active: (C, b) rows each checkpoint attacks (padding rows False).
      params, key: already placed by ``placement`` (``params`` stacked when ``progs.stacked``).
    """
    axis = progs.batch_axis
    xb, yb, ib = placement.batch(x, y, idx.astype(np.int32))
    (active_b,) = placement.batch(progs.to_device(active), batch_axis=axis)
    robust = progs.to_host(progs.attackable(params, xb, yb, active_b, key)).copy()
    attacked = robust.copy()
    n_models, b = active.shape
    x_adv = np.broadcast_to(x, (n_models, *x.shape)).copy()
    n_queries = np.zeros((n_models, b), np.int32)
    best_share = np.full((n_models, b), -1.0, np.float32)  # final draws > 1: the kept candidate's share
    for index in range(progs.attack.n_passes):
        rows = np.flatnonzero(robust.any(axis=0))
        if rows.size == 0:
            break
        take, live = pad_to(rows, bucket_size(rows.size, b, placement.n_devices))
        if take.size == b and rows.size == b:  # nothing to re-pack: reuse what is on the device
            packed: tuple[Any, ...] = (xb, yb, ib)
            mask = robust.copy()
        else:
            packed = placement.batch(x[take], y[take], idx[take].astype(np.int32))
            mask = robust[:, take] & live[None, :]
        (mask_b,) = placement.batch(progs.to_device(mask), batch_axis=axis)
        pass_index = placement.replicate(np.int32(index))
        if progs.attack.n_segments > 1:
            out = _segmented_pass(progs, params, x, y, idx, take, packed, mask, mask_b, pass_index, key, placement)
        else:
            out = progs.whole_pass(params, packed[0], packed[1], mask_b, pass_index, key, packed[2])
        found, broken, spent, share = (progs.to_host(a)[:, : rows.size] for a in out)
        mask = mask[:, : rows.size]
        n_queries[:, rows] += np.where(mask, spent, 0)
        if progs.draws > 1:
            better = mask & (share > best_share[:, rows])
            broken = mask & (np.maximum(share, best_share[:, rows]) >= 0.5)
            best_share[:, rows] = np.where(better, share, best_share[:, rows])
        else:
            better = broken = mask & broken
        models, which = np.nonzero(better)
        x_adv[models, rows[which]] = found[models, which]
        robust[:, rows] &= ~broken
    (x_adv_b,) = placement.batch(progs.to_device(x_adv), batch_axis=axis)
    pred, broken, share = (progs.to_host(a) for a in progs.verify(params, x_adv_b, yb, active_b, key))
    return BatchOutcome(x_adv, pred, broken, n_queries, share, attacked)


def _rows(leaf: np.ndarray, positions: np.ndarray, axis: int) -> np.ndarray:
    return leaf[:, positions] if axis else leaf[positions]


def _segmented_pass(progs: Programs, params: Params, x: np.ndarray, y: np.ndarray, idx: np.ndarray,
                    take: np.ndarray, packed: tuple, mask: np.ndarray, mask_b: Any, pass_index: Any, key: Key,
                    placement: Placement) -> tuple[Any, ...]:
    """One pass of a segmented attack on the rows ``take`` (placed as ``packed``, attacked where ``mask``),
    re-packing the rows still attacked into a smaller bucket (``bucket_size``) whenever they fit one.

    Returns the pass's (x_found, broken, n_queries, share) in the order of ``take``, as one whole pass would.
    """
    axis = progs.batch_axis
    current = progs.start(params, packed[0], packed[1], mask_b, pass_index, key, packed[2])
    now_packed, now_mask_b = packed, mask_b
    n_valid = int(mask.any(axis=0).sum())  # the valid rows of ``take`` come first
    here = np.arange(n_valid)  # positions in ``take`` of the valid rows of the current packing
    final: list[np.ndarray] | None = None  # the carry of every row of ``take``, on the host
    for number in range(progs.attack.n_segments):
        index = placement.replicate(np.int32(number))
        current = progs.segment(params, now_packed[0], now_packed[1], now_mask_b, pass_index, current, index,
                                key, now_packed[2])
        still = progs.to_host(progs.survivors(current, now_mask_b))[:, : here.size]
        alive = still.any(axis=0)
        size = bucket_size(int(alive.sum()), len(take), placement.n_devices) if alive.any() else 0
        last = number == progs.attack.n_segments - 1 or size == 0
        if not last and size >= len(now_packed[0]):
            continue  # the rows still attacked fill this batch size: go on without a transfer
        host = [np.asarray(leaf) for leaf in jax.tree.leaves(jax.device_get(current))]
        if final is None:  # the first write-back is from the pass's own packing (``take``)
            final = [leaf.copy() for leaf in host]
        else:
            for whole, part in zip(final, host, strict=True):
                if axis:
                    whole[:, here] = part[:, : here.size]
                else:
                    whole[here] = part[: here.size]
        if last:
            break
        keep, live = pad_to(np.flatnonzero(alive), size)  # survivors' positions in the current packing
        here = here[alive]
        gather, _ = pad_to(take[here], size)
        now_packed = placement.batch(x[gather], y[gather], idx[gather].astype(np.int32))
        (now_mask_b,) = placement.batch(progs.to_device(still[:, keep] & live[None, :]), batch_axis=axis)
        treedef = jax.tree.structure(current)
        current = jax.tree.unflatten(treedef, placement.batch(*(_rows(leaf, keep, axis) for leaf in host),
                                                              batch_axis=axis))
    assert final is not None
    whole = jax.tree.unflatten(jax.tree.structure(current), placement.batch(*final, batch_axis=axis))
    return progs.end(params, packed[0], packed[1], mask_b, pass_index, whole, key)


# on_batch(point_indices (v,), outcome with (C, v) arrays, perturbation_norm (C, v)): the valid rows
BatchCallback = Callable[[np.ndarray, BatchOutcome, np.ndarray], None]


def attack_points(attack: Attack, model: Model, params: Params, images: AttackImages, y: np.ndarray,
                  active: np.ndarray, batch_size: int, key: Key, on_batch: BatchCallback, *,
                  stacked: bool = False, draws: int = 1, log: Callable[[str], None] | None = None) -> int:
    """Runs one attack over the points ``active`` marks, in fixed-shape padded batches; returns the batch
    size used.

    Args:
      active: (C, n) the points each checkpoint attacks (C = 1 unless ``stacked``); a batch holds points
        active for any checkpoint, each checkpoint attacking its own rows of it.
      params: the model's parameters (stacked along a leading axis when ``stacked``).
      images: the evaluated images, fetched batch by batch (``images.rows`` may decode the next batches
        while this one is attacked).
      draws: final draws for a stochastic model (see the module docstring); 1 for the reference.

    Batches are split over all local devices (``Placement``); transfers are explicit
    (``jax.transfer_guard('disallow')``). ``on_batch`` gets the valid rows of each batch. When a batch runs
    out of device memory, the batch size is halved and the batch retried (results do not depend on the
    batch size); the smaller size is returned so later attacks start from it.
    """
    placement = Placement()
    progs = programs(attack, model, stacked, draws)
    todo = np.flatnonzero(active.any(axis=0))
    done = 0
    with jax.transfer_guard("disallow"):
        params, key = placement.replicate((params, key))
        while done < len(todo):
            size = placement.batch_size(batch_size)
            batches = list(padded_batches(todo[done:], size))
            stream = images.rows(idx for idx, _ in batches)
            try:
                for (idx, valid), rows in zip(batches, stream, strict=False):
                    out = attack_batch(progs, params, rows, y[idx], idx, active[:, idx] & valid[None, :], key,
                                       placement)
                    out = BatchOutcome(*(a[:, valid] for a in out))
                    norms = np.stack([perturbation_norms(x_adv, rows[valid], attack.norm) for x_adv in out.x_adv])
                    on_batch(idx[valid], out, norms)
                    done += int(valid.sum())
            except Exception as err:  # only out-of-memory is handled, the rest re-raised
                if not is_out_of_memory(err) or batch_size == 1:
                    raise
                batch_size //= 2
                if log is not None:
                    log(f"out of device memory: batch size lowered to {batch_size}")
            finally:
                close = getattr(stream, "close", None)
                if close is not None:
                    close()
    return batch_size
