"""Running one attack over many points: fixed-shape batches, survivor compaction, device sharding.

The reference's ``perturb`` (``fra31/auto-attack@a392200:autoattack/autopgd_base.py``, ``fab_base.py``,
``square.py``) attacks a batch, then runs each further restart or target class only on
``acc.nonzero()``, the points still robust, so later passes get cheaper. Inside ``jit`` shapes are
static, so the whole-attack program (``base.run_all_passes``) masks instead and every pass pays for
the whole batch. Here the host loops over the passes of pass-structured attacks (``base.has_passes``)
and re-packs the survivors between passes into a smaller batch of one of two sizes per octave (2^k or
3 * 2^k, at most the batch size), so compilation stays bounded (about 2 log2(batch size) shapes per
attack) while cost follows the survivors. Attacks with segmented passes (``segments.py``: Square,
whose reference indexes its unbroken points every iteration) are also re-packed between segments of
one pass. Per-point keys are ``fold_in(key, point_id)`` and every pass draws from
``(key, point_id, pass index)`` only, so results do not change with the packing (rows of a batch are
independent for deterministic models; a stochastic model draws its noise for the whole batch, so its
draws depend on the packing, as they depend on the batch size anyway).

Batches are split over all local devices along a ``data`` mesh axis (``jax.jit`` with a
``NamedSharding``; no ``pmap``); batch shapes are multiples of the device count and parameters are
replicated.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from alignjax.attacks.base import attackable, has_passes, pass_count, run_attack, run_pass
from alignjax.attacks.images import AttackImages
from alignjax.attacks.segments import (
    end_segments,
    has_segments,
    run_segment,
    segment_count,
    segment_survivors,
    start_segments,
)
from alignjax.types import Key, LogitsFn, Params, call_model

VERIFY_STREAM = 0x564552  # fold_in tag of the re-verification pass's key (stochastic models)

# on_batch(point_indices, x_adv, prediction, broken, n_queries, perturbation_norm): valid rows, host arrays
BatchCallback = Callable[..., None]


def padded_batches(indices: np.ndarray, batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yields (idx (batch_size,), valid (batch_size,)) chunks; the tail is padded with its first index."""
    for start in range(0, len(indices), batch_size):
        chunk = indices[start : start + batch_size]
        yield pad_to(chunk, batch_size)


def pad_to(rows: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """``rows`` padded to ``size`` with its first entry, and the validity mask."""
    valid = np.zeros(size, bool)
    valid[: len(rows)] = True
    padded = np.full(size, rows[0], dtype=np.int64)
    padded[: len(rows)] = rows
    return padded, valid


def bucket_size(n_rows: int, batch_size: int, n_devices: int = 1) -> int:
    """The batch shape for ``n_rows`` survivors: the next size of the form ``2^k`` or ``3 * 2^k``
    (1, 2, 3, 4, 6, 8, 12, ..., 128, 192, 256, ...), rounded up to a multiple of ``n_devices``, at most
    ``batch_size`` (itself a multiple of ``n_devices``).

    Two sizes per octave: at most a third of a batch is padding (powers of two alone waste up to half:
    182 survivors ran in 256 rows), for at most twice as many compiled shapes (about 2 log2(batch)).
    """
    power = 1 << max(0, int(n_rows - 1).bit_length())
    size = 3 * power // 4 if power >= 4 and 3 * power // 4 >= n_rows else power
    size = -(-size // n_devices) * n_devices
    return min(size, batch_size)


# ----------------------------------------------------------------------------------------------
# Placement on devices.


class Placement:
    """Where batches and replicated values go: all local devices along a ``data`` mesh axis.

    On one device, plain ``device_put``. Every transfer is explicit, so it runs under
    ``jax.transfer_guard('disallow')``.
    """

    def __init__(self, devices=None):
        self.devices = list(devices if devices is not None else jax.local_devices())
        self.mesh = Mesh(np.asarray(self.devices), ("data",)) if len(self.devices) > 1 else None

    @property
    def n_devices(self) -> int:
        return len(self.devices)

    def batch_size(self, batch_size: int) -> int:
        """``batch_size`` rounded up to a multiple of the device count (padding rows are masked)."""
        return -(-batch_size // self.n_devices) * self.n_devices

    def batch(self, *arrays: np.ndarray) -> tuple[jax.Array, ...]:
        """(batch, ...) host arrays, split along the batch over the devices."""
        if self.mesh is None:
            return tuple(jax.device_put(a) for a in arrays)
        sharding = NamedSharding(self.mesh, PartitionSpec("data"))
        return tuple(jax.device_put(a, sharding) for a in arrays)

    def replicate(self, tree: Any) -> Any:
        """A pytree (parameters, keys) copied to every device."""
        if self.mesh is None:
            return tree
        return jax.device_put(tree, NamedSharding(self.mesh, PartitionSpec()))


# ----------------------------------------------------------------------------------------------
# Compiled pieces (one per config and model; jit caches one executable per batch shape).


@functools.lru_cache(maxsize=64)
def compiled_attack(cfg: object, logits_fn: LogitsFn) -> Callable[..., Any]:
    """The whole attack + the re-verification forward pass, for attacks without pass structure."""

    def attack_and_verify(params, x, y, active, key, point_ids):
        result = run_attack(cfg, logits_fn, params, x, y, active, key=key, point_ids=point_ids)
        pred, broken = _verify(logits_fn, params, result.x_adv, y, active, key)
        return result.x_adv, pred, broken, result.n_queries

    return jax.jit(attack_and_verify)


@functools.lru_cache(maxsize=64)
def compiled_attackable(cfg: object, logits_fn: LogitsFn) -> Callable[..., Any]:
    return jax.jit(lambda params, x, y, active, key: attackable(cfg, logits_fn, params, x, y, active, key=key))


@functools.lru_cache(maxsize=64)
def compiled_pass(cfg: object, logits_fn: LogitsFn) -> Callable[..., Any]:
    def one_pass(params, x, y, robust, pass_index, key, point_ids):
        found = run_pass(cfg, logits_fn, params, x, y, robust, pass_index, key=key, point_ids=point_ids)
        return found.x_found, found.broken, found.n_queries

    return jax.jit(one_pass)


@functools.lru_cache(maxsize=64)
def compiled_segments(cfg: object, logits_fn: LogitsFn) -> tuple[Callable[..., Any], ...]:
    """(start, segment, survivors, end) of a segmented pass, each jitted."""

    def start(params, x, y, robust, pass_index, key, point_ids):
        return start_segments(cfg, logits_fn, params, x, y, robust, pass_index, key=key, point_ids=point_ids)

    def segment(params, x, y, robust, pass_index, carry, index, key, point_ids):
        return run_segment(cfg, logits_fn, params, x, y, robust, pass_index, carry, index, key=key,
                           point_ids=point_ids)

    def end(params, x, y, robust, carry):
        found = end_segments(cfg, logits_fn, params, x, y, robust, carry)
        return found.x_found, found.broken, found.n_queries

    return (jax.jit(start), jax.jit(segment), jax.jit(functools.partial(segment_survivors, cfg)),
            jax.jit(end))


@functools.lru_cache(maxsize=16)
def compiled_verify(logits_fn: LogitsFn) -> Callable[..., Any]:
    return jax.jit(functools.partial(_verify, logits_fn))


def _verify(logits_fn, params, x_adv, y, active, key):
    """The cascade's re-verification: one forward pass; broken = active and misclassified."""
    logits = call_model(logits_fn, params, x_adv, jax.random.fold_in(key, VERIFY_STREAM))
    pred = jnp.argmax(logits, axis=-1).astype(jnp.int32)
    return pred, active & (pred != y)


# ----------------------------------------------------------------------------------------------
# Host loops.


def attack_group(cfg: object, logits_fn: LogitsFn, params: Params, x: np.ndarray, y: np.ndarray,
                 idx: np.ndarray, valid: np.ndarray, key: Key, placement: Placement) -> tuple[np.ndarray, ...]:
    """All passes of ``cfg`` on one padded batch, re-packing the survivors between passes.

    Args:
      x, y, idx, valid: the batch's images, labels, global point indices and validity (host arrays).
      params, key: already replicated by ``placement``.

    Returns:
      Host arrays (x_adv, prediction, broken, n_queries) for the whole padded batch, as the
      whole-attack program returns them.
    """
    xb, yb, vb, ib = placement.batch(x, y, valid, idx.astype(np.int32))
    robust = np.array(jax.device_get(compiled_attackable(cfg, logits_fn)(params, xb, yb, vb, key)))
    x_adv = x.copy()
    n_queries = np.zeros(len(x), np.int32)
    run = compiled_pass(cfg, logits_fn)
    for index in range(pass_count(cfg)):
        rows = np.flatnonzero(robust)
        if rows.size == 0:
            break
        take, live = pad_to(rows, bucket_size(rows.size, len(x), placement.n_devices))
        if len(take) == len(x) and rows.size == len(x):  # nothing to re-pack: reuse what is on the device
            args = (xb, yb, vb, ib)
        else:
            args = placement.batch(x[take], y[take], live, idx[take].astype(np.int32))
        pass_index = placement.replicate(jax.device_put(np.int32(index)))
        if has_segments(cfg):
            found, broken, spent = _segmented_pass(cfg, logits_fn, params, x, y, idx, rows, take, args, pass_index,
                                                   key, placement)
        else:
            found, broken, spent = jax.device_get(run(params, args[0], args[1], args[2], pass_index, key, args[3]))
        broken = np.asarray(broken)[: rows.size]
        n_queries[rows] += np.asarray(spent)[: rows.size]
        x_adv[rows[broken]] = np.asarray(found)[: rows.size][broken]
        robust[rows[broken]] = False
    (x_adv_b,) = placement.batch(x_adv)
    pred, broken = jax.device_get(compiled_verify(logits_fn)(params, x_adv_b, yb, vb, key))
    return x_adv, np.asarray(pred), np.asarray(broken), n_queries


def _segmented_pass(cfg: object, logits_fn: LogitsFn, params: Params, x: np.ndarray, y: np.ndarray,
                    idx: np.ndarray, rows: np.ndarray, take: np.ndarray, args: tuple, pass_index: Any, key: Key,
                    placement: Placement) -> tuple[np.ndarray, ...]:
    """One pass of a segmented attack on the batch rows ``rows`` (packed as ``take``/``args``), re-packing
    the rows still attacked into a smaller bucket (``bucket_size``) whenever they fit one (``segments.py``).

    Returns host (x_found, broken, n_queries) in the order of ``take``, as ``run_pass`` would.
    """
    start, segment, survivors, end = compiled_segments(cfg, logits_fn)
    current = start(params, *args[:3], pass_index, key, args[3])
    packed = args
    here = np.arange(rows.size)  # positions in ``take`` of the valid rows of the current packing
    final: Any = None  # the carry of every row of ``take``, on the host
    for number in range(segment_count(cfg)):
        index = placement.replicate(jax.device_put(np.int32(number)))
        current = segment(params, *packed[:3], pass_index, current, index, key, packed[3])
        still = np.asarray(jax.device_get(survivors(current, packed[2])))[: here.size]
        size = bucket_size(int(still.sum()), len(take), placement.n_devices) if still.any() else 0
        last = number == segment_count(cfg) - 1 or size == 0
        if not last and size >= len(packed[0]):
            continue  # the rows still attacked fill this batch size: go on without a transfer
        host = [np.asarray(leaf) for leaf in jax.tree.leaves(jax.device_get(current))]
        if final is None:  # the first write-back is from the pass's own packing (``take``)
            final = [leaf.copy() for leaf in host]
        else:
            for whole, part in zip(final, host, strict=True):
                whole[here] = part[: here.size]
        if last:
            break
        keep, _ = pad_to(np.flatnonzero(still), size)  # survivors' positions in the current packing
        here = here[still]
        gather, live = pad_to(take[here], size)
        packed = placement.batch(x[gather], y[gather], live, idx[gather].astype(np.int32))
        current = jax.tree.unflatten(jax.tree.structure(current), placement.batch(*(leaf[keep] for leaf in host)))
    whole = jax.tree.unflatten(jax.tree.structure(current), placement.batch(*final))
    return jax.device_get(end(params, *args[:3], whole))


def is_out_of_memory(err: BaseException) -> bool:
    """Whether an error is XLA running out of device memory (then a smaller batch may fit)."""
    text = str(err)
    return "RESOURCE_EXHAUSTED" in text or "Out of memory" in text or "out of memory" in text


def perturbation_norms(x_adv: np.ndarray, x: np.ndarray, norm: str) -> np.ndarray:
    """(b,) float32 norm of ``x_adv - x`` per row in the threat model's norm (0 where unchanged)."""
    delta = (np.asarray(x_adv, np.float32) - np.asarray(x, np.float32)).reshape(len(x), -1)
    if norm == "L2":
        return np.sqrt(np.sum(delta * delta, axis=1, dtype=np.float32))
    if norm == "L1":
        return np.sum(np.abs(delta), axis=1, dtype=np.float32)
    return np.max(np.abs(delta), axis=1, initial=0.0).astype(np.float32)


def attack_points(cfg: object, logits_fn: LogitsFn, params: Params, images: AttackImages, y: np.ndarray,
                  todo: np.ndarray, batch_size: int, key: Key, on_batch: BatchCallback,
                  log: Callable[[str], None] | None = None) -> int:
    """Runs one attack over the points ``todo`` in fixed-shape padded batches; returns the batch size used.

    Images come from ``images.rows`` (which may decode the next batches while this one is attacked).
    Pass-structured attacks run pass by pass with survivor compaction (``attack_group``); others run
    whole. Batches are split over all local devices (``Placement``); transfers are explicit
    (``jax.transfer_guard('disallow')``). ``on_batch(indices, x_adv, prediction, broken, n_queries,
    perturbation_norm)`` gets the valid rows of each batch. When a batch runs out of device memory,
    the batch size is halved and the batch retried (results do not depend on the batch size); the
    smaller size is returned so later attacks start from it.
    """
    placement = Placement()
    whole = None if has_passes(cfg) else compiled_attack(cfg, logits_fn)
    norm = getattr(cfg, "norm", "Linf")
    done = 0
    with jax.transfer_guard("disallow"):
        params, key = placement.replicate((params, key))
        while done < len(todo):
            size = placement.batch_size(batch_size)
            batches = list(padded_batches(todo[done:], size))
            stream = images.rows(idx for idx, _ in batches)
            try:
                for (idx, valid), rows in zip(batches, stream):
                    if whole is None:
                        out = attack_group(cfg, logits_fn, params, rows, y[idx], idx, valid, key, placement)
                    else:
                        xb, yb, vb, ib = placement.batch(rows, y[idx], valid, idx.astype(np.int32))
                        out = jax.device_get(whole(params, xb, yb, vb, key, ib))
                    x_adv, pred, broken, queries = (np.asarray(a)[valid] for a in out)
                    on_batch(idx[valid], x_adv, pred, broken, queries, perturbation_norms(x_adv, rows[valid], norm))
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
