"""Cross-checking an alignjax AutoAttack evaluation against the reference on the same points.

``crosscheck`` runs the alignjax cascade (``alignjax.attacks.engine.cascade.run_autoattack``) and, when a
reference model is given, pyautoattack 0.2.0's ``run_standard_evaluation`` (fra31/auto-attack@a392200:
``autoattack/autoattack.py``) with the same version, norm, eps, seed and budgets, then compares them
point by point (``alignjax.crosscheck.statistics``) and, optionally, with published figures.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np

from alignjax.attacks.engine.cascade import AutoAttackResult, run_autoattack
from alignjax.attacks.presets import AttackConfig
from alignjax.crosscheck.settings import Budgets
from alignjax.crosscheck.statistics import (
    PairedTest,
    PublishedCheck,
    Tolerance,
    Verdict,
    mcnemar_exact,
    published_check,
    verdict,
)
from alignjax.types import LogitsFn, Params, call_model


@dataclasses.dataclass(frozen=True)
class Published:
    """Published accuracies (percent) to compare with, and where they come from."""

    robust: float | None
    clean: float | None
    source: str


@dataclasses.dataclass(frozen=True)
class ReferenceSpec:
    """How to run the reference: a torch model (NCHW -> logits) and what it is."""

    model: Any
    kind: str  # 'native' or 'bridge'
    description: str
    eps: float | None = None  # None: the alignjax eps
    device: str = "cpu"


@dataclasses.dataclass
class CrosscheckResult:
    """Both evaluations and their comparison (``reference`` and the paired fields are None without one)."""

    version: str
    attacks: tuple[AttackConfig, ...]
    budgets: Budgets
    seed: int
    y: np.ndarray
    x: np.ndarray
    alignjax: AutoAttackResult
    alignjax_clean_logits: np.ndarray
    reference: Any  # alignjax.crosscheck.reference.ReferenceResult | None
    reference_spec: ReferenceSpec | None
    paired: PairedTest | None
    clean_mismatches: int | None
    published: tuple[PublishedCheck, ...]
    tolerance: Tolerance
    verdict: Verdict

    @property
    def n(self) -> int:
        return len(self.y)

    @property
    def reference_eps(self) -> float | None:
        if self.reference_spec is None:
            return None
        return self.reference_spec.eps if self.reference_spec.eps is not None else self.alignjax.eps


def model_logits(logits_fn: LogitsFn, params: Params, x: np.ndarray, batch_size: int, seed: int) -> np.ndarray:
    """(n, classes) clean logits of the alignjax model, in batches (a key per batch for stochastic models)."""
    fn = jax.jit(lambda p, images, key: call_model(logits_fn, p, images, key))
    key = jax.random.key(seed)
    batch_size = min(batch_size, len(x))
    out = []
    for start in range(0, len(x), batch_size):
        chunk = x[start : start + batch_size]
        padded = np.concatenate([chunk, np.repeat(chunk[:1], batch_size - len(chunk), axis=0)])  # one shape
        logits = fn(params, padded, jax.random.fold_in(key, start))
        out.append(np.asarray(jax.device_get(logits))[: len(chunk)])
    return np.concatenate(out)


def crosscheck(
    logits_fn: LogitsFn,
    params: Params,
    x: np.ndarray,
    y: np.ndarray,
    *,
    attacks: Sequence[AttackConfig],
    version: str,
    seed: int,
    batch_size: int,
    reference: ReferenceSpec | None,
    budgets: Budgets | None = None,
    published: Published | None = None,
    tolerance: Tolerance | None = None,
    log: Callable[[str], None] = lambda _line: None,
    progress: Callable[[str, int, int, float], None] | None = None,
) -> CrosscheckResult:
    """Runs alignjax and (with ``reference``) the reference on the same points and compares them.

    Args:
      logits_fn, params: the alignjax model (NHWC images in [0, 1] -> logits).
      x: (n, h, w, c) images in [0, 1]; y: (n,) labels.
      attacks: the alignjax attack configs (already reduced by ``budgets`` if any).
      version: the AutoAttack version the configs come from ('standard', 'plus', 'rand', 'custom', 'paper').
      seed: alignjax's PRNG seed and the reference's torch seed.
      batch_size: both sides' batch size.
      reference: the reference's torch model, or None to skip the reference (published figures only).
      budgets: the budgets ``attacks`` were reduced with (the reference gets the same settings); None: presets.
      published: published accuracies to compare with.
      tolerance: the agreement rule (``alignjax.crosscheck.statistics``); None: its defaults.
      log: progress lines.
    """
    budgets = budgets if budgets is not None else Budgets()
    tolerance = tolerance if tolerance is not None else Tolerance()
    attacks = tuple(attacks)
    log("alignjax: running")
    ours = run_autoattack(logits_fn, params, x, y, attacks=attacks, key=jax.random.key(seed),
                          batch_size=batch_size, log=lambda line: log(f"alignjax: {line}"), progress=progress)
    our_logits = model_logits(logits_fn, params, x, batch_size, seed)
    theirs = None
    paired = None
    clean_mismatches = None
    if reference is not None:
        from alignjax.crosscheck.reference import run_reference

        log(f"reference: running pyautoattack on {reference.description}")
        theirs = run_reference(
            reference.model, x, y, attacks=attacks, version=version,
            eps=reference.eps if reference.eps is not None else ours.eps, seed=seed, batch_size=batch_size,
            reconfigure=budgets.reduced or version == "paper", device=reference.device, log=log)
        paired = mcnemar_exact(ours.robust, theirs.robust)
        clean_mismatches = int(np.sum(our_logits.argmax(1) != theirs.clean_logits.argmax(1)))
    checks: list[PublishedCheck] = []
    if published is not None:
        n = len(y)
        if published.robust is not None:
            checks.append(published_check("robust", published.robust, int(ours.robust.sum()), n, tolerance.alpha))
        if published.clean is not None:
            checks.append(published_check("clean", published.clean, int(ours.clean_correct.sum()), n,
                                          tolerance.alpha))
    decision = verdict(tolerance=tolerance, clean_mismatches=clean_mismatches, n=len(y), paired=paired,
                       published=tuple(checks))
    return CrosscheckResult(
        version=version, attacks=attacks, budgets=budgets, seed=seed, y=np.asarray(y), x=np.asarray(x),
        alignjax=ours, alignjax_clean_logits=our_logits, reference=theirs, reference_spec=reference,
        paired=paired, clean_mismatches=clean_mismatches, published=tuple(checks), tolerance=tolerance,
        verdict=decision)
