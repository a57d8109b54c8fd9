"""Running one unit: the AutoAttack cascade (``run_autoattack``) on one model, then per-point margins.

Batches are split over the local devices by ``run_autoattack`` itself; this module adds nothing to
the attack. A unit resumes mid-cascade from ``state_dir`` (``run_autoattack``'s own checkpoints), so
a process killed inside a unit picks up at the first unattacked batch when the sweep is started again.
"""

from __future__ import annotations

import dataclasses
import functools
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from alignjax.attacks import run_autoattack
from alignjax.sweep.grid import Unit
from alignjax.types import call_model

MARGIN_STREAM = 0x4D5247  # fold_in tag of the margin pass's key (stochastic models only)


@dataclasses.dataclass
class UnitOutcome:
    """Per-point results of one unit (host arrays, length n) and its per-attack bookkeeping."""

    clean_correct: np.ndarray
    robust: np.ndarray
    broken_by: np.ndarray  # str: attack name, 'clean' or ''
    adv_prediction: np.ndarray
    n_queries: np.ndarray
    margin: np.ndarray
    perturbation_norm: np.ndarray
    attack_names: list[str]
    robust_accuracy_after: list[float]  # percent of all n points, after each attack
    attack_seconds: list[float]
    warnings: list[str]
    seconds: float

    @property
    def clean_accuracy(self) -> float:
        return float(self.clean_correct.mean() * 100)

    @property
    def robust_accuracy(self) -> float:
        return float(self.robust.mean() * 100)


def perturbation_norms(x_adv: np.ndarray, x: np.ndarray, norm: str) -> np.ndarray:
    """(n,) float64 Linf/L2/L1 norm of ``x_adv - x`` per point (in float32 differences, as the attacks)."""
    delta = (np.asarray(x_adv, np.float32) - np.asarray(x, np.float32)).reshape(len(x), -1).astype(np.float64)
    if norm == "Linf":
        return np.abs(delta).max(axis=1)
    if norm == "L2":
        return np.sqrt((delta**2).sum(axis=1))
    return np.abs(delta).sum(axis=1)


def margin_of(logits: jax.Array, y: jax.Array) -> jax.Array:
    """``logit[y] - max_{j != y} logit[j]`` per row (negative: misclassified)."""
    true = jnp.take_along_axis(logits, y[:, None], axis=1)[:, 0]
    other = jnp.max(jnp.where(jax.nn.one_hot(y, logits.shape[1], dtype=bool), -jnp.inf, logits), axis=1)
    return true - other


@functools.lru_cache(maxsize=16)
def _compiled_margin(logits_fn: Any) -> Callable[..., Any]:
    return jax.jit(lambda params, x, y, key: margin_of(call_model(logits_fn, params, x, key), y))


def padded_rows(n: int, batch_size: int):
    """(rows (batch_size,), valid (batch_size,)) covering 0..n-1; the tail repeats its first row."""
    for start in range(0, n, batch_size):
        rows = np.arange(start, min(start + batch_size, n))
        valid = np.zeros(batch_size, bool)
        valid[: len(rows)] = True
        yield np.concatenate([rows, np.full(batch_size - len(rows), rows[0])]), valid


def margins(logits_fn: Any, params: Any, x_adv: np.ndarray, y: np.ndarray, batch_size: int, key: Any) -> np.ndarray:
    """(n,) float64 margins at ``x_adv``, in fixed-shape padded batches."""
    fn = _compiled_margin(logits_fn)
    batch_size = min(batch_size, len(y))
    out = np.zeros(len(y), np.float64)
    params = jax.device_put(params)
    for b, (rows, valid) in enumerate(padded_rows(len(y), batch_size)):
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
    started = time.time()
    margin = margins(logits_fn, variables, result.x_adv, y, batch_size, jax.random.fold_in(key, MARGIN_STREAM))
    return UnitOutcome(
        clean_correct=np.asarray(result.clean_correct, bool), robust=np.asarray(result.robust, bool),
        broken_by=np.asarray(result.broken_by).astype(str), adv_prediction=np.asarray(result.y_adv, np.int32),
        n_queries=np.asarray(result.n_queries, np.int64), margin=margin,
        perturbation_norm=perturbation_norms(result.x_adv, x, unit.norm),
        attack_names=[a.name for a in result.attacks],
        robust_accuracy_after=[float(a.robust_accuracy) for a in result.attacks],
        attack_seconds=[float(a.seconds) for a in result.attacks], warnings=list(result.warnings),
        seconds=float(result.seconds) + time.time() - started,
    )
