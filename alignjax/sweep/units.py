"""Running units: the AutoAttack cascade (``alignjax.attacks.run_cascade``) on one model, or on many
checkpoints of one architecture at once (stacked), then per-point margins.

Batches are split over the local devices by the attack engine itself; this module adds nothing to the
attack. A unit resumes mid-cascade from ``state_dir`` (the cascade's own checkpoints), so a process
killed inside a unit picks up at the first unattacked batch when the sweep is started again.

Stacked units (``run_stacked``): a sweep over seeds or epochs of one architecture attacks the same points
with models that differ only in their weights; their parameters are stacked along a new leading axis and
the engine runs every attack ``jax.vmap``-ed over it (one compile and one launch per batch for all
checkpoints, ``run_cascade(stacked=True)``), each checkpoint attacking its own still-robust rows of a
shared batch. Per-point results equal those of the units run one at a time (per-point keys, rows
independent). Limits: the cascade mode only; no mid-unit state (an interrupted group is redone).
"""

from __future__ import annotations

import dataclasses
import functools
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax
import numpy as np

from alignjax.attacks import run_autoattack, run_cascade
from alignjax.attacks.engine.batching import padded_batches
from alignjax.attacks.engine.cascade import Accuracies, AutoAttackResult
from alignjax.attacks.losses import margin_loss
from alignjax.attacks.norms import perturbation_norms
from alignjax.errors import InputError
from alignjax.sweep.grid import Unit
from alignjax.types import Model

MARGIN_STREAM = 0x4D5247  # fold_in tag of the margin pass's key (stochastic models only)


@dataclasses.dataclass
class UnitOutcome(Accuracies):
    """Per-point results of one unit (host arrays, length n) and its per-attack bookkeeping."""

    clean_correct: np.ndarray
    robust: np.ndarray
    broken_by: np.ndarray  # str: attack name, 'clean' or ''
    adv_prediction: np.ndarray
    n_queries: np.ndarray
    margin: np.ndarray
    perturbation_norm: np.ndarray  # float32, as every output's (``attacks.norms``)
    misclassified: np.ndarray  # float32 share of final draws the model gets wrong (0/1: deterministic)
    attack_names: list[str]
    robust_accuracy_after: list[float]  # percent of all n points, after each attack
    attack_seconds: list[float]
    warnings: list[str]
    seconds: float


@functools.lru_cache(maxsize=16)
def _compiled_margin(model: Model) -> Callable[..., Any]:
    return jax.jit(lambda params, x, y, key: margin_loss(model(params, x, key=key), y))


def margins(logits_fn: Any, params: Any, x_adv: np.ndarray, y: np.ndarray, batch_size: int, key: Any) -> np.ndarray:
    """(n,) float64 margins ``logit[y] - max other logit`` at ``x_adv`` (``losses.margin_loss``), in
    fixed-shape padded batches."""
    fn = _compiled_margin(Model.of(logits_fn))
    batch_size = min(batch_size, len(y))
    out = np.zeros(len(y), np.float64)
    params = jax.device_put(params)
    for b, (rows, valid) in enumerate(padded_batches(np.arange(len(y)), batch_size)):
        value = fn(params, jax.device_put(x_adv[rows]), jax.device_put(np.asarray(y[rows], np.int32)),
                   jax.random.fold_in(key, b))
        out[rows[valid]] = np.asarray(jax.device_get(value), np.float64)[valid]
    return out


def run_unit(unit: Unit, logits_fn: Any, variables: Any, x: np.ndarray, y: np.ndarray, *, batch_size: int,
             state_dir: Path | None, checkpoint_seconds: float,
             progress: Callable[[str, int, int, float], None] | None = None,
             log: Callable[[str], None] | None = None, run_checks: bool = True) -> UnitOutcome:
    """The cascade of ``unit.attacks`` with key ``jax.random.key(unit.seed)``, resumable from ``state_dir``."""
    log = log or (lambda _line: None)
    key = jax.random.key(unit.seed)
    kwargs = {"attacks": unit.attacks, "key": key, "batch_size": batch_size, "state_dir": state_dir,
              "checkpoint_seconds": checkpoint_seconds, "progress": progress, "log": log, "run_checks": run_checks}
    had_state = state_dir is not None and state_dir.exists()
    try:
        result = run_autoattack(logits_fn, variables, x, y, **kwargs)
    except Exception as err:
        if not had_state:
            raise
        # a saved state that cannot be resumed (other library version, damaged) is dropped, never trusted
        log(f"unit {unit.unit_id}: cannot resume from {state_dir} ({type(err).__name__}: {err}); starting over")
        shutil.rmtree(state_dir, ignore_errors=True)  # type: ignore[arg-type]
        result = run_autoattack(logits_fn, variables, x, y, **kwargs)
    return _outcome(result, logits_fn, variables, x, y, key, batch_size)


def _outcome(result: AutoAttackResult, logits_fn: Any, variables: Any, x: np.ndarray, y: np.ndarray, key: Any,
             batch_size: int, seconds: float | None = None) -> UnitOutcome:
    started = time.time()
    assert result.x_adv is not None  # units hold their points in memory
    margin = margins(logits_fn, variables, result.x_adv, y, batch_size, jax.random.fold_in(key, MARGIN_STREAM))
    return UnitOutcome(
        clean_correct=np.asarray(result.clean_correct, bool), robust=np.asarray(result.robust, bool),
        broken_by=np.asarray(result.broken_by).astype(str), adv_prediction=np.asarray(result.y_adv, np.int32),
        n_queries=np.asarray(result.n_queries, np.int64), margin=margin,
        perturbation_norm=perturbation_norms(result.x_adv, x, result.norm),
        misclassified=np.asarray(result.misclassified, np.float32),
        attack_names=[a.name for a in result.attacks],
        robust_accuracy_after=[float(a.robust_accuracy) for a in result.attacks],
        attack_seconds=[float(a.seconds) for a in result.attacks], warnings=list(result.warnings),
        seconds=(float(result.seconds) if seconds is None else seconds) + time.time() - started,
    )


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


def run_stacked(logits_fn: Any, checkpoints: Sequence[Any], x: np.ndarray, y: np.ndarray, *,
                attacks: Sequence[Any], key: Any, batch_size: int,
                progress: Callable[[str, int, int, float], None] | None = None,
                log: Callable[[str], None] | None = None, run_checks: bool = True) -> list[UnitOutcome]:
    """The AutoAttack cascade on every checkpoint at once (see the module docstring); one ``UnitOutcome``
    per checkpoint, each equal to that checkpoint's unit run alone. ``progress`` reports the robust
    accuracy averaged over the checkpoints."""
    results = run_cascade(logits_fn, stack_variables(checkpoints), x, y, attacks=attacks, key=key,
                          batch_size=batch_size, progress=progress, log=log, run_checks=run_checks, stacked=True)
    seconds = max(r.seconds for r in results)
    return [_outcome(result, logits_fn, variables, x, y, key, batch_size, seconds)
            for result, variables in zip(results, checkpoints, strict=True)]
