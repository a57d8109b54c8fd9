"""Many checkpoints of one architecture in one compiled program: stacked parameters, vmapped cascade.

A sweep over seeds or epochs of one architecture attacks the same points with models that differ only
in their weights. Here the parameters are stacked along a new leading axis and every attack of the
cascade is ``jax.vmap``-ed over it (one compile and one launch per batch for all checkpoints). Each
batch holds the points still robust for *any* checkpoint; a per-checkpoint ``active`` mask (C, b)
selects which rows each checkpoint attacks.

The per-point results equal those of ``run_autoattack`` run one checkpoint at a time: the cascade
logic is the same (fra31/auto-attack@a392200:autoattack/autoattack.py ``run_standard_evaluation``:
attack the still-robust points, re-verify with one forward pass, a point keeps the first attack's
adversarial example), every point's randomness is ``fold_in(attack_key, point_index)`` with the same
attack keys (``attack_key_for``), Square's batch-shared draws depend on the attack key and the
iteration only, and rows of a batch do not interact, so attacking a point inside a wider batch (rows
active for other checkpoints) changes nothing. Inactive rows come back unchanged with no queries.

Limits: deterministic models only (a stochastic model's noise is drawn per batch); the cascade mode
only (no individual mode); no mid-unit state (an interrupted group is redone from its first attack);
one device (the checkpoints share it; see the report for sharding the checkpoint axis).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from alignjax.attacks import checks, run_attack
from alignjax.attacks.autoattack import attack_key_for, attack_labels
from alignjax.attacks.validation import validate_images, validate_labels, validate_logits
from alignjax.errors import InputError
from alignjax.sweep.units import UnitOutcome, margin_of, padded_rows, perturbation_norms

NOT_BROKEN, CLEAN_ERROR = "", "clean"


def stack_variables(trees: Sequence[Any]) -> Any:
    """Stacks checkpoints' variables along a new leading axis; refuses mismatched structures or shapes."""
    if not trees:
        raise InputError("no checkpoints to stack")
    first = jax.tree.structure(trees[0])
    shapes = [np.shape(leaf) for leaf in jax.tree.leaves(trees[0])]
    for i, tree in enumerate(trees[1:], start=1):
        if jax.tree.structure(tree) != first or [np.shape(leaf) for leaf in jax.tree.leaves(tree)] != shapes:
            raise InputError(f"checkpoint {i} does not have the parameter structure and shapes of checkpoint 0; "
                             "only checkpoints of one architecture can be stacked (set stack = false)")
    return jax.tree.map(lambda *leaves: np.stack([np.asarray(leaf) for leaf in leaves]), *trees)


@functools.lru_cache(maxsize=64)
def _compiled_attack(cfg: Any, logits_fn: Any) -> Callable[..., Any]:
    def attack_and_verify(params, x, y, active, key, point_ids):
        result = run_attack(cfg, logits_fn, params, x, y, active, key=key, point_ids=point_ids)
        prediction = jnp.argmax(logits_fn(params, result.x_adv), axis=-1).astype(jnp.int32)
        return result.x_adv, prediction, active & (prediction != y), result.n_queries

    return jax.jit(jax.vmap(attack_and_verify, in_axes=(0, None, None, 0, None, None)))


@functools.lru_cache(maxsize=16)
def _compiled_logits(logits_fn: Any) -> Callable[..., Any]:
    return jax.jit(jax.vmap(lambda params, x: logits_fn(params, x), in_axes=(0, None)))


@functools.lru_cache(maxsize=16)
def _compiled_margin(logits_fn: Any) -> Callable[..., Any]:
    return jax.jit(jax.vmap(lambda params, x, y: margin_of(logits_fn(params, x), y), in_axes=(0, 0, None)))


def _batches(indices: np.ndarray, batch_size: int):
    for rows, valid in padded_rows(len(indices), batch_size):
        yield indices[rows], valid


def _warnings(logits_fn, params, x, y, logits, attacks, batch_size) -> list[str]:
    """The reference's checks on the first batch of one checkpoint (``alignjax.attacks.checks``)."""
    first = slice(0, batch_size)
    found = checks.check_range_output(logits[first]) + checks.check_n_classes(logits.shape[1], attacks)
    if logits.shape[1] >= 3 and any(getattr(a, "name", "") in ("apgd-dlr", "apgd-t") for a in attacks):
        found += checks.check_zero_gradients(logits_fn, params, jax.device_put(x[first]), jax.device_put(y[first]))
    return found


def run_stacked(logits_fn: Any, checkpoints: Sequence[Any], x: np.ndarray, y: np.ndarray, *,
                attacks: Sequence[Any], key: Any, batch_size: int,
                norm: str, progress: Callable[[str, int, int, float], None] | None = None,
                log: Callable[[str], None] | None = None, run_checks: bool = True) -> list[UnitOutcome]:
    """The AutoAttack cascade on every checkpoint at once; one ``UnitOutcome`` per checkpoint.

    Args:
      logits_fn: the architecture's pure ``(variables, images) -> logits`` (deterministic).
      checkpoints: each checkpoint's variables (same structure and shapes).
      x, y: (n, h, w, c) images in [0, 1] and (n,) labels, shared by all checkpoints.
      attacks: attack configs in cascade order (one norm and eps).
      key: the cascade's key, as ``run_autoattack``'s.
      batch_size: points per batch (each checkpoint attacks its active rows of it).
      norm: the threat model, for the perturbation norms.
      progress: ``progress(attack_name, points_done, points_total, robust_accuracy)`` when an attack starts
        and after each batch (robust accuracy: percent of all n points, the mean over the checkpoints).
    """
    if getattr(logits_fn, "stochastic", False):
        raise InputError("stacked checkpoints need a deterministic model (set stack = false for this one)")
    log = log or (lambda _line: None)
    start = time.time()
    x = validate_images(x)
    n, n_models = len(x), len(checkpoints)
    batch_size = min(batch_size, n)
    stacked = jax.device_put(stack_variables(checkpoints))

    logits = np.zeros((n_models, n, 0), np.float32)
    clean_fn = _compiled_logits(logits_fn)
    for rows, valid in padded_rows(n, batch_size):
        out = np.asarray(jax.device_get(clean_fn(stacked, jax.device_put(x[rows]))))
        if logits.shape[2] == 0:
            logits = np.zeros((n_models, n, out.shape[2]), np.float32)
        logits[:, rows[valid]] = out[:, valid]
    num_classes = validate_logits(logits[0], n)
    y = validate_labels(y, n, num_classes)
    prediction = logits.argmax(axis=2).astype(np.int32)
    clean_correct = prediction == y[None, :]
    warnings = [_warnings(logits_fn, variables, x, y, logits[c], attacks, batch_size) if run_checks else []
                for c, variables in enumerate(checkpoints)]

    robust = clean_correct.copy()
    broken_by = np.where(robust, NOT_BROKEN, CLEAN_ERROR).astype(object)
    x_adv = np.broadcast_to(x, (n_models, *x.shape)).copy()
    n_queries = np.zeros((n_models, n), np.int64)
    labels = attack_labels(attacks)
    after: list[list[float]] = [[] for _ in range(n_models)]
    seconds: list[float] = []
    for position, cfg in enumerate(attacks):
        attack_start, name = time.time(), labels[position]
        fn = _compiled_attack(cfg, logits_fn)
        attack_key = attack_key_for(key, attacks, position)
        todo = np.flatnonzero(robust.any(axis=0))
        done = 0
        if progress is not None:
            progress(name, done, len(todo), float(robust.mean() * 100))
        for idx, valid in _batches(todo, batch_size):
            active = robust[:, idx] & valid[None, :]
            out = fn(stacked, jax.device_put(x[idx]), jax.device_put(y[idx]), jax.device_put(active), attack_key,
                     jax.device_put(idx.astype(np.int32)))
            batch_x, batch_pred, broken, queries = (np.asarray(a) for a in jax.device_get(out))
            cols = idx[valid]
            n_queries[:, cols] += queries[:, valid]
            newly = broken[:, valid] & (broken_by[:, cols] == NOT_BROKEN)
            models, which = np.nonzero(newly)
            points = cols[which]
            robust[models, points] = False
            broken_by[models, points] = name
            x_adv[models, points] = batch_x[:, valid][models, which]
            prediction[models, points] = batch_pred[:, valid][models, which]
            done += len(cols)
            if progress is not None:
                progress(name, done, len(todo), float(robust.mean() * 100))
        seconds.append(time.time() - attack_start)
        for c in range(n_models):
            after[c].append(float(robust[c].mean() * 100))
        log(f"robust accuracy after {name}: "
            + ", ".join(f"{a[-1]:.2f}%" for a in after) + f" (total time {time.time() - start:.1f} s)")

    margin_fn = _compiled_margin(logits_fn)
    margin = np.zeros((n_models, n), np.float64)
    for rows, valid in padded_rows(n, batch_size):
        value = margin_fn(stacked, jax.device_put(x_adv[:, rows]), jax.device_put(y[rows]))
        margin[:, rows[valid]] = np.asarray(jax.device_get(value), np.float64)[:, valid]
    elapsed = time.time() - start
    outcomes = []
    for c in range(n_models):
        accuracy_after = {"clean": float(clean_correct[c].mean()), **{k: v / 100 for k, v in zip(labels, after[c])}}
        outcomes.append(UnitOutcome(
            clean_correct=clean_correct[c], robust=robust[c].copy(), broken_by=broken_by[c].astype(str),
            adv_prediction=prediction[c], n_queries=n_queries[c], margin=margin[c],
            perturbation_norm=perturbation_norms(x_adv[c], x, norm), attack_names=labels,
            robust_accuracy_after=after[c], attack_seconds=seconds,
            warnings=warnings[c] + checks.check_square_sr(accuracy_after), seconds=elapsed))
    return outcomes
