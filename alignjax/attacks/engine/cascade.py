"""The AutoAttack cascade: run attacks in order on the still-robust points, resumably.

Replicates ``AutoAttack.run_standard_evaluation`` and ``run_standard_evaluation_individual`` of
``fra31/auto-attack@a392200:autoattack/autoattack.py`` (Croce & Hein, ICML 2020):
  * clean pass: ``robust = argmax f(x) == y``; clean errors count as non-robust;
  * for each attack, the still-robust points are attacked in batches (ascending index order);
    each batch's result is re-verified with one forward pass; a point is broken when
    ``argmax f(x_adv) != y`` and keeps the first attack's adversarial example (``CascadeState.record``);
  * robust accuracy after each attack is over all n points; robust points come back as clean x;
  * individual mode (``run_individual``) runs every attack on all clean-correct points.

Where a pass, a segment and a resume happen: ``passes.py`` runs one attack over points (passes,
segments, survivor compaction, re-verification), ``batching.py`` pads, buckets and places batches,
``state.py`` holds and saves the run (``CascadeState``), this module orders the attacks and resumes.

Deliberate differences (documented in the README):
  * seeds: every point's randomness is ``fold_in(attack_key, point_index)``, with the attack key a
    function of the seed and the attack's config (``attack_key_for``), so results do not depend on
    batch size or on which other points share a batch (the reference seeds each batch with one global
    torch seed, or with the wall clock when no seed is given);
  * batches have fixed shapes (padded, with a validity mask) and survivors are re-packed (``passes.py``);
  * resuming works (the reference's ``EvaluationState`` cannot restore its own file at a392200):
    with ``state_dir`` the run checkpoints after batches and picks up at the first unattacked point;
  * images come through ``AttackImages.rows`` (``images.py``), so a data set streamed from disk is
    attacked holding a few batches, never all of it; then ``x_adv`` is not kept (``perturbation_norm``
    is, per point);
  * stochastic models: with ``final_draws = K > 1`` a point's clean and final verdicts come from K
    forward draws (robust only if the model is right on a majority; ``passes.py``); K = 1 is the reference;
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
import jax.numpy as jnp
import numpy as np

from alignjax.attacks import checks
from alignjax.attacks.engine.batching import padded_batches
from alignjax.attacks.engine.passes import BatchOutcome, attack_points
from alignjax.attacks.engine.state import CLEAN_ERROR, NOT_BROKEN, CascadeState, run_identity
from alignjax.attacks.images import ArrayImages, AttackImages, as_attack_images, first_rows
from alignjax.attacks.protocol import Attack
from alignjax.attacks.validation import validate_labels, validate_logits
from alignjax.errors import InputError
from alignjax.types import Key, Model, Params

CLEAN_STREAM = 0x434C4E  # fold_in tag for stochastic models' keys of the clean pass
DEFAULT_FINAL_DRAWS = 20  # stochastic models only; 1 reproduces the reference (see the README)
__all__ = ["CLEAN_ERROR", "DEFAULT_FINAL_DRAWS", "NOT_BROKEN", "AttackSummary", "AutoAttackResult",
           "attack_labels", "run_autoattack", "run_cascade", "run_individual"]

Progress = Callable[[str, int, int, float], None]


@dataclasses.dataclass
class AttackSummary:
    """Per-attack bookkeeping: robust accuracy after it (percent of all n points) and wall time."""

    name: str
    config: str
    robust_accuracy: float
    n_broken: int
    seconds: float


class Accuracies:
    """Clean and robust accuracy in percent of all points, for results with ``clean_correct`` and ``robust``."""

    clean_correct: np.ndarray
    robust: np.ndarray

    @property
    def clean_accuracy(self) -> float:
        return float(self.clean_correct.mean() * 100)

    @property
    def robust_accuracy(self) -> float:
        return float(self.robust.mean() * 100)


@dataclasses.dataclass
class AutoAttackResult(Accuracies):
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
      perturbation_norm: (n,) float32 norm (of the threat model) of x_adv - x; 0 where no attack succeeded.
      misclassified: (n,) float32 share of the final draws on which the model is wrong at the point's
        kept example (clean image for clean errors; for robust points the largest share any attack's
        candidate reached); 0 or 1 for a deterministic model.
      attacks: per-attack summaries in cascade order.
      warnings: the reference's checks that fired.
      individual: in individual mode, attack name -> (n,) robust flags of that attack alone.
      final_draws: forward draws behind each verdict (1 for deterministic models).
    """

    x_adv: np.ndarray | None
    y_adv: np.ndarray
    clean_correct: np.ndarray
    robust: np.ndarray
    broken_by: np.ndarray
    n_queries: np.ndarray
    perturbation_norm: np.ndarray
    misclassified: np.ndarray
    attacks: list[AttackSummary]
    warnings: list[str]
    norm: str
    eps: float
    seconds: float
    individual: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    peak_device_memory_bytes: int | None = None
    final_draws: int = 1

    def robust_accuracy_after(self) -> dict[str, float]:
        """{'clean': ..., 'apgd-ce': ..., ...} in percent, as the reference logs them."""
        return {"clean": self.clean_accuracy, **{a.name: a.robust_accuracy for a in self.attacks}}


def attack_labels(attacks: Sequence[Attack]) -> list[str]:
    """Each attack's name, numbered from its second occurrence on ('apgd-ce', 'apgd-ce#2'), so an attack
    listed twice is reported as two entries (summary, ``broken_by``, individual columns)."""
    seen: dict[str, int] = {}
    labels = []
    for attack in attacks:
        seen[attack.name] = seen.get(attack.name, 0) + 1
        labels.append(attack.name if seen[attack.name] == 1 else f"{attack.name}#{seen[attack.name]}")
    return labels


def attack_key_for(key: Key, attacks: Sequence[Attack], position: int) -> Key:
    """The key of ``attacks[position]``: a function of its config (and of how many identical configs
    precede it), not of its position, so an attack draws the same randomness in a cascade, alone, or
    in individual mode."""
    attack = attacks[position]
    occurrence = sum(1 for other in attacks[:position] if other == attack)
    digest = zlib.crc32(repr(attack).encode()) & 0x7FFFFFFF
    return jax.random.fold_in(jax.random.fold_in(key, digest), occurrence)


def peak_device_memory() -> int | None:
    """Largest ``peak_bytes_in_use`` over the local devices, where they report it (GPU, TPU; not the CPU)."""
    reported = [(d.memory_stats() or {}).get("peak_bytes_in_use") for d in jax.local_devices()]
    peaks = [int(p) for p in reported if p]
    return max(peaks) if peaks else None


@functools.lru_cache(maxsize=16)
def _compiled_clean(model: Model, stacked: bool, draws: int) -> Callable[..., Any]:
    def clean(params, x, key):
        logits = model(params, x, key=key)
        if draws == 1:
            return logits, jnp.argmax(logits, axis=-1).astype(jnp.int32)[:, None]
        more = jax.vmap(lambda d: jnp.argmax(model(params, x, key=jax.random.fold_in(key, d)), axis=-1))(
            jnp.arange(1, draws))
        first = jnp.argmax(logits, axis=-1)[None]
        return logits, jnp.concatenate([first, more]).T.astype(jnp.int32)

    return jax.jit(jax.vmap(clean, in_axes=(0, None, None)) if stacked else clean)


def clean_predictions(model: Any, params: Params, x: np.ndarray | AttackImages, batch_size: int, key: Key, *,
                      stacked: bool = False, draws: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(C, n, num_classes) clean logits (of the first draw) and (C, n, draws) clean predictions, computed
    in fixed-shape padded batches (C = 1 unless ``stacked``; ``key`` for stochastic models, draw ``d > 0``
    with ``fold_in(key_of_batch, d)``). One batch stays in flight while the next one's images are fetched."""
    model = Model.of(model)
    draws = draws if model.stochastic else 1
    images = as_attack_images(x)
    fn = _compiled_clean(model, stacked, draws)
    batches = list(padded_batches(np.arange(len(images)), batch_size))
    logits_out: list[np.ndarray] = []
    preds_out: list[np.ndarray] = []
    pending: list[tuple[Any, np.ndarray]] = []

    def collect(item):
        (logits, preds), valid = item
        logits, preds = (np.asarray(jax.device_get(a)) for a in (logits, preds))
        if not stacked:
            logits, preds = logits[None], preds[None]
        logits_out.append(logits[:, valid])
        preds_out.append(preds[:, valid])

    for b, ((_, valid), rows) in enumerate(zip(batches, images.rows(idx for idx, _ in batches), strict=True)):
        pending.append((fn(params, jax.device_put(rows), jax.random.fold_in(key, b)), valid))
        if len(pending) > 1:
            collect(pending.pop(0))
    for item in pending:
        collect(item)
    return np.concatenate(logits_out, axis=1), np.concatenate(preds_out, axis=1)


def _data_digest(images: AttackImages, y: np.ndarray) -> str:
    """Content hash of the images and labels (binds a resumable state to its data)."""
    return hashlib.sha256(f"{images.digest()}:{hashlib.sha256(np.ascontiguousarray(y).tobytes()).hexdigest()}"
                          .encode()).hexdigest()


def _sanity_checks(model: Model, params, images: AttackImages, y, logits, attacks, key, batch_size) -> list[str]:
    """The reference's checks on the first batch (``checks.py``), as warning strings."""
    first = slice(0, batch_size)
    xb, yb = jax.device_put(first_rows(images, batch_size)), jax.device_put(y[first])
    warnings: list[str] = []
    if not any(getattr(a, "eot_iter", 1) > 1 for a in attacks):  # as the reference: not for 'rand'
        warnings += checks.check_randomized(model, params, xb, yb, key=key)
    warnings += checks.check_range_output(logits[first])
    warnings += checks.check_n_classes(logits.shape[1], attacks)
    if logits.shape[1] >= 3 and any(a.name in ("apgd-dlr", "apgd-t") for a in attacks):
        warnings += checks.check_zero_gradients(model, params, xb, yb)
    return warnings


def _mode(predictions: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(share of draws != y, the prediction) per point of (n, draws) predictions: the first draw for one
    draw; else the most frequent wrong class where wrong on at least half of the draws, else ``y``."""
    wrong = predictions != y[:, None]
    share = wrong.mean(axis=1).astype(np.float32)
    if predictions.shape[1] == 1:
        return share, predictions[:, 0]
    k = int(predictions.max()) + 1
    counts = np.zeros((len(y), max(k, int(y.max()) + 1)), np.int64)
    np.add.at(counts, (np.repeat(np.arange(len(y)), predictions.shape[1]), predictions.ravel()), 1)
    counts[np.arange(len(y)), y] = -1
    return share, np.where(share >= 0.5, counts.argmax(axis=1), y).astype(np.int32)


@dataclasses.dataclass
class _Setup:
    """What both modes start from: the model, the checked data, the clean pass, the states."""

    model: Model
    params: Any
    images: AttackImages
    y: np.ndarray
    states: list[CascadeState]
    clean_correct: np.ndarray  # (C, n)
    warnings: list[list[str]]
    batch_size: int
    draws: int
    norm: str
    eps: float
    identity: dict[str, Any]
    state_path: Path | None


def _setup(model: Any, params: Params, x: Any, y: np.ndarray, attacks: Sequence[Attack], key: Key, batch_size: int,
           individual: bool, state_dir: str | Path | None, log: Callable[[str], None], run_checks: bool,
           state_identity: Mapping[str, Any] | None, stacked: bool, final_draws: int) -> _Setup:
    if not attacks:
        raise InputError("no attacks to run: give at least one attack config")
    if not all(isinstance(a, Attack) for a in attacks):
        bad = next(a for a in attacks if not isinstance(a, Attack))
        raise InputError(f"{bad!r} is not an attack: use APGDConfig, FABConfig, SquareConfig or an Attack subclass")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InputError(f"batch size must be a positive integer, got {batch_size!r}")
    if isinstance(final_draws, bool) or not isinstance(final_draws, int) or final_draws < 1:
        raise InputError(f"final draws must be a positive integer, got {final_draws!r}")
    norms = {a.norm for a in attacks}
    epss = {a.eps for a in attacks}
    if len(norms) != 1 or len(epss) != 1:
        raise InputError(f"all attacks of one evaluation must share norm and eps, got {norms} and {epss}")
    if stacked and (individual or state_dir is not None):
        raise InputError("stacked checkpoints run the cascade without a resumable state and not individually")
    model = Model.of(model)
    for attack in attacks:
        attack.check_model(model)
    draws = final_draws if model.stochastic else 1
    images = as_attack_images(x)
    n = len(images)
    if n == 0:
        raise InputError("there are no images to evaluate")
    batch_size = min(batch_size, n)
    params = jax.device_put(params)
    logits, predictions = clean_predictions(model, params, images, batch_size, jax.random.fold_in(key, CLEAN_STREAM),
                                            stacked=stacked, draws=draws)
    num_classes = validate_logits(logits[0], n)
    y = validate_labels(y, n, num_classes)
    shares, preds = zip(*(_mode(p, y) for p in predictions), strict=True)
    n_models = len(predictions)
    warnings: list[list[str]] = []
    for c in range(n_models):
        found: list[str] = []
        if run_checks:
            one = jax.tree.map(lambda a, c=c: a[c], params) if stacked else params
            found = _sanity_checks(model, one, images, y, logits[c], attacks, key, batch_size)
        warnings.append(found)
    for w in warnings[0]:
        log(f"Warning: {w}")

    state_path = Path(state_dir) if state_dir is not None else None
    # hashing the data costs a pass over it (a read of every file when streamed): only to resume
    identity = run_identity(params, _data_digest(images, y), n, attacks, key, individual,
                            {**(state_identity or {}), **({"final_draws": draws} if draws > 1 else {})}) \
        if state_path else {}
    state = CascadeState.load(state_path, identity) if state_path is not None else None
    held = images.array if isinstance(images, ArrayImages) else None
    if state is None:
        states = [CascadeState(held, preds[c], y, shares[c]) for c in range(n_models)]
    else:
        log(f"resuming from {state_path}: {state.attack_index} of {len(attacks)} attacks done")
        states = [state]
    clean_correct = np.stack([s < 0.5 for s in shares])
    log(f"initial accuracy: {clean_correct[0].mean():.2%}")
    return _Setup(model, params, images, y, states, clean_correct, warnings, batch_size, draws,
                  next(iter(norms)), float(next(iter(epss))), identity, state_path)


def _results(setup: _Setup, start: float, individual: dict[str, np.ndarray], log: Callable[[str], None],
             cascade: bool) -> list[AutoAttackResult]:
    results = []
    for c, state in enumerate(setup.states):
        summaries = [AttackSummary(**{k: v for k, v in s.items() if k != "robust"}) for s in state.summaries]
        warnings = list(setup.warnings[c])
        if cascade:
            after = {"clean": float(setup.clean_correct[c].mean()), **{s.name: s.robust_accuracy / 100 for s in summaries}}
            for w in checks.check_square_sr(after):
                warnings.append(w)
                log(f"Warning: {w}")
        results.append(AutoAttackResult(
            x_adv=state.x_adv, y_adv=state.y_adv, clean_correct=setup.clean_correct[c], robust=state.robust.copy(),
            broken_by=state.broken_by.astype(str), n_queries=state.n_queries,
            perturbation_norm=state.perturbation_norm, misclassified=state.misclassified, attacks=summaries,
            warnings=warnings, norm=setup.norm, eps=setup.eps, seconds=time.time() - start, individual=individual,
            peak_device_memory_bytes=peak_device_memory(), final_draws=setup.draws))
    return results


def run_cascade(model: Any, params: Params, x: np.ndarray | AttackImages, y: np.ndarray, *,
                attacks: Sequence[Attack], key: Key, batch_size: int = 250, state_dir: str | Path | None = None,
                progress: Progress | None = None, log: Callable[[str], None] | None = None,
                run_checks: bool = True, checkpoint_seconds: float = 30.0,
                state_identity: Mapping[str, Any] | None = None, stacked: bool = False,
                final_draws: int = DEFAULT_FINAL_DRAWS) -> list[AutoAttackResult]:
    """The cascade: each attack on the points still robust; one result per checkpoint (one unless
    ``stacked``, where ``params`` holds the checkpoints stacked along a leading axis). Arguments as
    ``run_autoattack``'s."""
    log = log or (lambda _msg: None)
    setup = _setup(model, params, x, y, attacks, key, batch_size, False, state_dir, log, run_checks,
                   state_identity, stacked, final_draws)
    states, labels = setup.states, attack_labels(attacks)
    batch_size = setup.batch_size
    start = time.time() - states[0].elapsed
    for position in range(states[0].attack_index, len(attacks)):
        attack, name = attacks[position], labels[position]
        active = np.stack([s.robust & ~s.attempted for s in states])
        total = int(active.any(axis=0).sum() + states[0].attempted.sum())
        done = int(states[0].attempted.sum())
        attack_start = time.time()

        def robust_accuracy() -> float:
            return float(np.mean([s.robust.mean() for s in states]) * 100)

        def on_batch(idx: np.ndarray, out: BatchOutcome, norms: np.ndarray, name: str = name, total: int = total) -> None:
            nonlocal done
            for c, state in enumerate(states):
                state.record(name, idx, out.x_adv[c], out.prediction[c], out.broken[c], out.n_queries[c], norms[c],
                             out.misclassified[c])
            done += len(idx)
            if progress is not None:
                progress(name, done, total, robust_accuracy())
            if setup.state_path is not None and time.time() - states[0].last_save >= checkpoint_seconds:
                states[0].elapsed = time.time() - start
                states[0].save(setup.state_path, setup.identity)

        if progress is not None:
            progress(name, done, total, robust_accuracy())
        batch_size = attack_points(attack, setup.model, setup.params, setup.images, setup.y, active, batch_size,
                                   attack_key_for(key, attacks, position), on_batch, stacked=stacked,
                                   draws=setup.draws, log=log)
        seconds = time.time() - attack_start
        for state in states:
            state.summaries.append({"name": name, "config": repr(attack), "robust_accuracy": float(state.robust.mean() * 100),
                                    "n_broken": int((state.broken_by == name).sum()), "seconds": seconds})
            state.attempted[:] = False
            state.attack_index = position + 1
        log(f"robust accuracy after {name}: " + ", ".join(f"{s.robust.mean():.2%}" for s in states)
            + f" (total time {time.time() - start:.1f} s)")
        if setup.state_path is not None:
            states[0].elapsed = time.time() - start
            states[0].save(setup.state_path, setup.identity)
        if not any(s.robust.any() for s in states) and position + 1 < len(attacks):
            log("no robust points left, skipping the remaining attacks")
            for state in states:
                for skipped_label, skipped in zip(labels[position + 1 :], attacks[position + 1 :], strict=True):
                    state.summaries.append({"name": skipped_label, "config": repr(skipped),
                                            "robust_accuracy": 0.0, "n_broken": 0, "seconds": 0.0})
                state.attack_index = len(attacks)
            break
    results = _results(setup, start, {}, log, cascade=True)
    log("robust accuracy: " + ", ".join(f"{r.robust_accuracy:.2f}%" for r in results))
    return results


def run_individual(model: Any, params: Params, x: np.ndarray | AttackImages, y: np.ndarray, *,
                   attacks: Sequence[Attack], key: Key, batch_size: int = 250, state_dir: str | Path | None = None,
                   progress: Progress | None = None, log: Callable[[str], None] | None = None,
                   run_checks: bool = True, state_identity: Mapping[str, Any] | None = None,
                   final_draws: int = DEFAULT_FINAL_DRAWS) -> AutoAttackResult:
    """Every attack on all clean-correct points (diagnosis; resumes per attack, not mid-attack).
    ``result.robust`` is robustness against all of them together; ``result.individual`` each one's alone."""
    log = log or (lambda _msg: None)
    setup = _setup(model, params, x, y, attacks, key, batch_size, True, state_dir, log, run_checks,
                   state_identity, False, final_draws)
    (state,) = setup.states
    labels = attack_labels(attacks)
    clean_correct = setup.clean_correct[0]
    individual = {s["name"]: np.asarray(s["robust"], bool) for s in state.summaries if "robust" in s}
    batch_size = setup.batch_size
    start = time.time() - state.elapsed
    for position in range(state.attack_index, len(attacks)):
        attack, name = attacks[position], labels[position]
        state.attempted[:] = False
        robust_here = clean_correct.copy()
        done, total = 0, int(clean_correct.sum())
        attack_start = time.time()

        def on_batch(idx: np.ndarray, out: BatchOutcome, norms: np.ndarray, name: str = name,
                     robust_here: np.ndarray = robust_here, total: int = total) -> None:
            nonlocal done
            state.record(name, idx, out.x_adv[0], out.prediction[0], out.broken[0], out.n_queries[0], norms[0],
                         out.misclassified[0])
            robust_here[idx[out.broken[0]]] = False
            done += len(idx)
            if progress is not None:
                progress(name, done, total, float(robust_here.mean() * 100))

        if progress is not None:
            progress(name, done, total, float(robust_here.mean() * 100))
        batch_size = attack_points(attack, setup.model, setup.params, setup.images, setup.y, clean_correct[None],
                                   batch_size, attack_key_for(key, attacks, position), on_batch, draws=setup.draws,
                                   log=log)
        seconds = time.time() - attack_start
        accuracy = float(robust_here.mean() * 100)
        state.summaries.append({"name": name, "config": repr(attack), "robust_accuracy": accuracy,
                                "n_broken": int((clean_correct & ~robust_here).sum()), "seconds": seconds,
                                "robust": robust_here.astype(int).tolist()})
        individual[name] = robust_here.copy()
        log(f"robust accuracy by {name}: {accuracy:.2f}% (time attack: {seconds:.1f} s)")
        state.attempted[:] = False
        state.attack_index = position + 1
        if setup.state_path is not None:
            state.elapsed = time.time() - start
            state.save(setup.state_path, setup.identity)
    (result,) = _results(setup, start, individual, log, cascade=False)
    log(f"robust accuracy: {result.robust_accuracy:.2f}%")
    return result


def run_autoattack(model: Any, params: Params, x: np.ndarray | AttackImages, y: np.ndarray, *,
                   attacks: Sequence[Attack], key: Key, batch_size: int = 250, individual: bool = False,
                   state_dir: str | Path | None = None, progress: Progress | None = None,
                   log: Callable[[str], None] | None = None, run_checks: bool = True,
                   checkpoint_seconds: float = 30.0, state_identity: Mapping[str, Any] | None = None,
                   final_draws: int = DEFAULT_FINAL_DRAWS) -> AutoAttackResult:
    """Evaluates robust accuracy with a sequence of attack configs (the AutoAttack cascade) on one model.

    Args:
      model: a ``Model`` or a pure logits function ``(params, images) -> logits`` on NHWC images in [0, 1]
        (stochastic when it says so, ``Model.of``).
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
      final_draws: forward draws behind a stochastic model's clean and final verdicts (ignored for a
        deterministic model); 1 reproduces the reference.

    Returns:
      AutoAttackResult.
    """
    if individual:
        return run_individual(model, params, x, y, attacks=attacks, key=key, batch_size=batch_size,
                              state_dir=state_dir, progress=progress, log=log, run_checks=run_checks,
                              state_identity=state_identity, final_draws=final_draws)
    (result,) = run_cascade(model, params, x, y, attacks=attacks, key=key, batch_size=batch_size,
                            state_dir=state_dir, progress=progress, log=log, run_checks=run_checks,
                            checkpoint_seconds=checkpoint_seconds, state_identity=state_identity,
                            final_draws=final_draws)
    return result
