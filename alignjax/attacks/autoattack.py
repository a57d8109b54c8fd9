"""The AutoAttack cascade: run attacks in order on the still-robust points, by mask, resumably.

Replicates ``AutoAttack.run_standard_evaluation`` and ``run_standard_evaluation_individual`` of
``fra31/auto-attack@a392200:autoattack/autoattack.py`` (Croce & Hein, ICML 2020):
  * clean pass: ``robust = argmax f(x) == y``; clean errors count as non-robust;
  * for each attack, the still-robust points are attacked in batches (ascending index order);
    each batch's result is re-verified with one forward pass; a point is broken when
    ``argmax f(x_adv) != y`` and keeps the first attack's adversarial example;
  * robust accuracy after each attack is over all n points; robust points come back as clean x;
  * individual mode runs every attack on all clean-correct points.

Deliberate differences (documented in the README):
  * seeds: every point's randomness is ``fold_in(attack_key, point_index)``, with the attack key a
    function of the seed and the attack's config (``attack_key_for``), so
    results do not depend on batch size or on which other points share a batch (the reference seeds
    each batch with one global torch seed, or with the wall clock when no seed is given);
  * batches have fixed shapes (padded, with a validity mask) so each attack compiles for a few
    shapes only; between restarts and target passes the survivors are re-packed (``passes.py``);
  * resuming works (the reference's ``EvaluationState`` cannot restore its own file at a392200):
    with ``state_dir`` the run checkpoints after batches and picks up at the first unattacked point;
  * images come through ``AttackImages.rows`` (``images.py``), so a data set streamed from disk is
    attacked holding a few batches, never all of it; then ``x_adv`` is not kept (``perturbation_norm``
    is, per point);
  * log lines name each attack by its label, as the command's header, ``summary.json`` and ``broken_by``
    do ('robust accuracy after apgd-ce#2', where the reference upper-cases a name it cannot repeat).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import jax
import numpy as np

from alignjax.attacks import checks
from alignjax.attacks.images import ArrayImages, AttackImages, as_attack_images, first_rows
from alignjax.attacks.passes import attack_points, padded_batches
from alignjax.attacks.state import CLEAN_ERROR, NOT_BROKEN, RunState, run_identity
from alignjax.attacks.validation import validate_labels, validate_logits
from alignjax.errors import InputError
from alignjax.types import Key, LogitsFn, Params, call_model

_CLEAN_STREAM = 0x434C4E  # fold_in tag for stochastic models' keys of the clean pass
__all__ = ["CLEAN_ERROR", "NOT_BROKEN", "AttackSummary", "AutoAttackResult", "attack_labels",
           "run_autoattack"]


@dataclasses.dataclass
class AttackSummary:
    """Per-attack bookkeeping: robust accuracy after it (percent of all n points) and wall time."""

    name: str
    config: str
    robust_accuracy: float
    n_broken: int
    seconds: float


@dataclasses.dataclass
class AutoAttackResult:
    """What the cascade returns (host numpy arrays, one entry per evaluated point).

    Attributes:
      x_adv: (n, h, w, c) adversarial examples; the clean image where no attack succeeded. None when
        the images were streamed (``AttackImages`` other than an array): holding them would hold the
        whole data set.
      y_adv: (n,) prediction at x_adv (the clean prediction for robust points and clean errors).
      clean_correct: (n,) clean prediction equals the label.
      robust: (n,) still correctly classified after every attack.
      broken_by: (n,) name of the attack that broke the point, 'clean' for clean errors, '' if robust.
      n_queries: (n,) forward passes spent by query-counted attacks (Square) on the point.
      perturbation_norm: (n,) norm (of the threat model) of x_adv - x; 0 where no attack succeeded.
      attacks: per-attack summaries in cascade order.
      warnings: the reference's checks that fired.
      individual: in individual mode, attack name -> (n,) robust flags of that attack alone.
    """

    x_adv: np.ndarray | None
    y_adv: np.ndarray
    clean_correct: np.ndarray
    robust: np.ndarray
    broken_by: np.ndarray
    n_queries: np.ndarray
    perturbation_norm: np.ndarray
    attacks: list[AttackSummary]
    warnings: list[str]
    norm: str
    eps: float
    seconds: float
    individual: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    peak_device_memory_bytes: int | None = None

    @property
    def clean_accuracy(self) -> float:
        return float(self.clean_correct.mean() * 100)

    @property
    def robust_accuracy(self) -> float:
        return float(self.robust.mean() * 100)

    def robust_accuracy_after(self) -> dict[str, float]:
        """{'clean': ..., 'apgd-ce': ..., ...} in percent, as the reference logs them."""
        return {"clean": self.clean_accuracy, **{a.name: a.robust_accuracy for a in self.attacks}}


def _attack_name(cfg: object) -> str:
    return getattr(cfg, "name", type(cfg).__name__)


def attack_labels(attacks: Sequence[object]) -> list[str]:
    """Each attack's name, numbered from its second occurrence on ('apgd-ce', 'apgd-ce#2'), so an attack
    listed twice is reported as two entries (summary, ``broken_by``, individual columns)."""
    seen: dict[str, int] = {}
    labels = []
    for cfg in attacks:
        name = _attack_name(cfg)
        seen[name] = seen.get(name, 0) + 1
        labels.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
    return labels


def attack_key_for(key: Key, attacks: Sequence[object], position: int) -> Key:
    """The key of ``attacks[position]``: a function of its config (and of how many identical configs
    precede it), not of its position, so an attack draws the same randomness in a cascade, alone, or
    in individual mode."""
    cfg = attacks[position]
    occurrence = sum(1 for other in attacks[:position] if other == cfg)
    digest = zlib.crc32(repr(cfg).encode()) & 0x7FFFFFFF
    return jax.random.fold_in(jax.random.fold_in(key, digest), occurrence)


def peak_device_memory() -> int | None:
    """Largest ``peak_bytes_in_use`` over the local devices, where they report it (GPU, TPU; not the CPU)."""
    peaks = [(d.memory_stats() or {}).get("peak_bytes_in_use") for d in jax.local_devices()]
    peaks = [int(p) for p in peaks if p]
    return max(peaks) if peaks else None


@functools.lru_cache(maxsize=16)
def compiled_logits(logits_fn: LogitsFn) -> Callable[..., Any]:
    return jax.jit(lambda params, x, key: call_model(logits_fn, params, x, key))


def clean_predictions(logits_fn: LogitsFn, params: Params, x: np.ndarray | AttackImages, batch_size: int,
                      key: Key) -> np.ndarray:
    """(n, num_classes) clean logits, computed in fixed-shape padded batches (``key`` for stochastic models).

    One batch stays in flight while the next one's images are fetched."""
    images = as_attack_images(x)
    fn = compiled_logits(logits_fn)
    batches = list(padded_batches(np.arange(len(images)), batch_size))
    out: list[np.ndarray] = []
    pending: list[tuple[Any, np.ndarray]] = []
    for b, ((_, valid), rows) in enumerate(zip(batches, images.rows(idx for idx, _ in batches), strict=True)):
        pending.append((fn(params, jax.device_put(rows), jax.random.fold_in(key, b)), valid))
        if len(pending) > 1:
            logits, rows_valid = pending.pop(0)
            out.append(np.asarray(jax.device_get(logits))[rows_valid])
    for logits, rows_valid in pending:
        out.append(np.asarray(jax.device_get(logits))[rows_valid])
    return np.concatenate(out)




def _data_digest(images: AttackImages, y: np.ndarray) -> str:
    """Content hash of the images and labels (binds a resumable state to its data)."""
    return hashlib.sha256(f"{images.digest()}:{hashlib.sha256(np.ascontiguousarray(y).tobytes()).hexdigest()}"
                          .encode()).hexdigest()


def _sanity_checks(logits_fn, params, images: AttackImages, y, logits, attacks, key, batch_size) -> list[str]:
    """The reference's checks on the first batch (``checks.py``), as warning strings."""
    first = slice(0, batch_size)
    xb, yb = jax.device_put(first_rows(images, batch_size)), jax.device_put(y[first])
    warnings: list[str] = []
    if not any(getattr(a, "eot_iter", 1) > 1 for a in attacks):  # as the reference: not for 'rand'
        warnings += checks.check_randomized(logits_fn, params, xb, yb, key=key)
    warnings += checks.check_range_output(logits[first])
    warnings += checks.check_n_classes(logits.shape[1], attacks)
    if logits.shape[1] >= 3 and any(_attack_name(a) in ("apgd-dlr", "apgd-t") for a in attacks):
        warnings += checks.check_zero_gradients(logits_fn, params, xb, yb)
    return warnings


def run_autoattack(
    logits_fn: LogitsFn,
    params: Params,
    x: np.ndarray | AttackImages,
    y: np.ndarray,
    *,
    attacks: Sequence[object],
    key: Key,
    batch_size: int = 250,
    individual: bool = False,
    state_dir: str | Path | None = None,
    progress: Callable[[str, int, int, float], None] | None = None,
    log: Callable[[str], None] | None = None,
    run_checks: bool = True,
    checkpoint_seconds: float = 30.0,
    state_identity: Mapping[str, Any] | None = None,
) -> AutoAttackResult:
    """Evaluates robust accuracy with a sequence of attack configs (the AutoAttack cascade).

    Args:
      logits_fn: pure ``(params, images) -> logits`` on NHWC images in [0, 1].
      params: model parameters.
      x: (n, h, w, c) float images in [0, 1] (host array), or ``AttackImages`` that produce them batch by
        batch (``alignjax.data.attack_data``: a data set streamed from disk; ``x_adv`` is then not kept).
      y: (n,) int labels.
      attacks: attack configs in order, e.g. ``alignjax.attacks.presets.standard('Linf', 8/255)``.
      key: PRNG key; results are a function of (key, data, attacks) only, not of batch_size.
      batch_size: points per compiled batch (the tail is padded).
      individual: run every attack on all clean-correct points (diagnosis), not as a cascade.
      state_dir: if given, checkpoint there and resume an interrupted run of the same evaluation.
      progress: called as ``progress(attack_name, points_done, points_total, robust_accuracy)`` when an
        attack starts and after each of its batches; ``robust_accuracy`` is the percent of all n points
        still robust (``alignjax.progress.CascadeProgress`` shows it).
      log: called with the reference's log lines ('robust accuracy after apgd-ce: ...'), each attack
        named by its label ('apgd-ce#2' for the second of two; ``attack_labels``).
      run_checks: run the reference's sanity checks on the first batch.
      checkpoint_seconds: with ``state_dir``, save progress within an attack at most this often (and
        always after each attack); 0 saves after every batch.
      state_identity: extra components the saved state is bound to (architecture, options, data
        source, version...); the cascade itself binds it to the content of ``params`` and of the data,
        the attack configs, ``key``, the mode and the library version (``state.run_identity``).

    Returns:
      AutoAttackResult.
    """
    if not attacks:
        raise InputError("no attacks to run: give at least one attack config")
    if batch_size < 1:
        raise InputError(f"batch size must be positive, got {batch_size}")
    norms = {getattr(a, "norm", None) for a in attacks}
    epss = {getattr(a, "eps", None) for a in attacks}
    if len(norms) != 1 or len(epss) != 1:
        raise InputError(f"all attacks of one evaluation must share norm and eps, got {norms} and {epss}")
    log = log or (lambda _msg: None)
    images = as_attack_images(x)
    n = len(images)
    if n == 0:
        raise InputError("there are no images to evaluate")
    batch_size = min(batch_size, n)
    params = jax.device_put(params)
    logits = clean_predictions(logits_fn, params, images, batch_size, jax.random.fold_in(key, _CLEAN_STREAM))
    num_classes = validate_logits(logits, n)
    y = validate_labels(y, n, num_classes)
    pred = logits.argmax(1).astype(np.int32)

    warnings = _sanity_checks(logits_fn, params, images, y, logits, attacks, key, batch_size) if run_checks else []
    for w in warnings:
        log(f"Warning: {w}")

    state_path = Path(state_dir) if state_dir is not None else None
    # hashing the data costs a pass over it (a read of every file when streamed): only to resume
    identity = run_identity(params, _data_digest(images, y), n, attacks, key, individual,
                            state_identity) if state_path else {}
    state = RunState.load(state_path, identity) if state_path is not None else None
    if state is None:
        state = RunState(images.array if isinstance(images, ArrayImages) else None, pred, y)
    else:
        log(f"resuming from {state_path}: {state.attack_index} of {len(attacks)} attacks done")
    clean_correct = pred == y
    log(f"initial accuracy: {clean_correct.mean():.2%}")
    individual_robust: dict[str, np.ndarray] = {
        s["name"]: np.asarray(s["robust"], bool) for s in state.summaries if "robust" in s
    }

    labels = attack_labels(attacks)
    start = time.time() - state.elapsed
    for position in range(state.attack_index, len(attacks)):
        cfg = attacks[position]
        name = labels[position]
        attack_key = attack_key_for(key, attacks, position)
        if individual:  # individual runs resume per attack, not mid-attack
            state.attempted[:] = False
            robust_here = clean_correct.copy()
            todo_mask = clean_correct.copy()
        else:
            todo_mask = state.robust & ~state.attempted
        todo = np.flatnonzero(todo_mask)
        total = int(todo_mask.sum() + state.attempted.sum())
        done = int(state.attempted.sum())
        attack_start = time.time()

        robust_now = robust_here if individual else state.robust  # on_batch updates both in place

        def robust_accuracy() -> float:
            return float(robust_now.mean() * 100)

        def on_batch(idx_v: np.ndarray, x_adv_b, pred_b, broken_b, queries_b, norm_b) -> None:
            nonlocal done
            state.attempted[idx_v] = True
            state.n_queries[idx_v] += queries_b
            if individual:
                robust_here[idx_v[broken_b]] = False
            # a point keeps the adversarial example of the first attack that broke it
            newly = broken_b & (state.broken_by[idx_v] == NOT_BROKEN)
            state.robust[idx_v[newly]] = False
            state.broken_by[idx_v[newly]] = name
            if state.x_adv is not None:
                state.x_adv[idx_v[newly]] = x_adv_b[newly]
            state.perturbation_norm[idx_v[newly]] = norm_b[newly]
            state.y_adv[idx_v[newly]] = pred_b[newly]
            done += len(idx_v)
            if progress is not None:
                progress(name, done, total, robust_accuracy())
            if state_path is not None and not individual and time.time() - state.last_save >= checkpoint_seconds:
                state.elapsed = time.time() - start
                state.save(state_path, identity)

        if progress is not None:
            progress(name, done, total, robust_accuracy())
        batch_size = attack_points(cfg, logits_fn, params, images, y, todo, batch_size, attack_key, on_batch, log)

        seconds = time.time() - attack_start
        if individual:
            acc = float(robust_here.mean() * 100)
            summary = {"name": name, "config": repr(cfg), "robust_accuracy": acc,
                       "n_broken": int((clean_correct & ~robust_here).sum()), "seconds": seconds,
                       "robust": robust_here.astype(int).tolist()}
            individual_robust[name] = robust_here.copy()
            log(f"robust accuracy by {name}: {acc:.2f}% (time attack: {seconds:.1f} s)")
        else:
            acc = float(state.robust.mean() * 100)
            summary = {"name": name, "config": repr(cfg), "robust_accuracy": acc,
                       "n_broken": int((state.broken_by == name).sum()), "seconds": seconds}
            log(f"robust accuracy after {name}: {acc:.2f}% (total time {time.time() - start:.1f} s)")
        state.summaries.append(summary)
        state.attempted[:] = False
        state.attack_index = position + 1
        if state_path is not None:
            state.elapsed = time.time() - start
            state.save(state_path, identity)
        if not individual and not state.robust.any() and position + 1 < len(attacks):
            log("no robust points left, skipping the remaining attacks")
            for skipped_label, skipped in zip(labels[position + 1 :], attacks[position + 1 :], strict=True):
                state.summaries.append({"name": skipped_label, "config": repr(skipped),
                                        "robust_accuracy": 0.0, "n_broken": 0, "seconds": 0.0})
            state.attack_index = len(attacks)
            break

    summaries = [AttackSummary(**{k: v for k, v in s.items() if k != "robust"}) for s in state.summaries]
    after = {"clean": float(clean_correct.mean()), **{s.name: s.robust_accuracy / 100 for s in summaries}}
    if not individual:
        for w in checks.check_square_sr(after):
            warnings.append(w)
            log(f"Warning: {w}")
    result = AutoAttackResult(
        x_adv=state.x_adv, y_adv=state.y_adv, clean_correct=clean_correct, robust=state.robust.copy(),
        broken_by=state.broken_by.astype(str), n_queries=state.n_queries,
        perturbation_norm=state.perturbation_norm, attacks=summaries,
        warnings=warnings, norm=next(iter(norms)), eps=float(next(iter(epss))),
        seconds=time.time() - start, individual=individual_robust, peak_device_memory_bytes=peak_device_memory(),
    )
    log(f"robust accuracy: {result.robust_accuracy:.2f}%")
    return result
