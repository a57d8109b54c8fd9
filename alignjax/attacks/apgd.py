"""APGD (Auto-PGD) and APGD-T, jittable, with every numerical quirk of the reference.

Paper: Croce & Hein (2020), "Reliable evaluation of adversarial robustness with an ensemble of
diverse parameter-free attacks" (ICML); the L1 variant from Croce & Hein (2021), "Mind the box:
l1-APGD for sparse adversarial attacks on image classifiers". Reference code:
``fra31/auto-attack@a392200:autoattack/autopgd_base.py`` (``APGDAttack``, ``APGDAttack_targeted``).

What is replicated (``autopgd_base.py`` at a392200, ``APGDAttack.attack_single_run``): step size 2·eps (Linf,
L2) or eps (L1) per sample; the counter-based checkpoint schedule (``checkpoint_schedule``); momentum
0.75 after the first step; the oscillation test on a zero-initialised ring buffer of losses whose
first window compares against ``loss_steps[-1] = 0``, with ``count <= rho·k``; the no-improvement
condition; restarts from the best point without resetting ``x_prev``; strict ``>`` for the best loss;
sticky ``acc`` with ``x_best_adv`` the most recent misclassified iterate; the sparse L1 step with its
sparsity/step-size adaptation every ``max(int(0.04·N), 1)`` iterations; ``use_largereps`` (radii
3, 2, 1 × eps, only the last stage counts); restarts and target passes on the still-robust points;
targets from the clean logits ranked 2 … n_target_classes+1; EOT gradient averaging with the
bookkeeping taken from the last pass; the gradient of the *summed* per-example loss.

Deliberate deviations:
  * Randomness: each point's start noise comes from ``fold_in(fold_in(key, point_id), run)`` (run =
    target pass × n_restarts + restart), not from one global ``torch.manual_seed`` stream, so results
    do not depend on batch size or composition. Only statistics can match the reference; with the
    same injected start (``apgd_single_run``) trajectories match to float32 rounding.
  * Shrinking sub-batches (``acc.nonzero()``) become masks: every run computes on the whole batch and
    only still-robust points take its result. A run is skipped (``lax.cond``) once no point is left.
  * Stochastic models (``Model.stochastic``) get one model key per forward pass, derived from the
    attack key (``protocol.model_key``); the same key serves the whole batch.
  * ``check_zero_gradients`` (a printed warning) is not emitted: no host sync inside the attack.
  * Ties in target selection use a stable ascending ``argsort`` (``torch.sort`` is unstable on GPU).
  * ``l1_projection`` fixes the reference's wrong interpolation when the root lies in the first
    breakpoint interval (see ``projections.py``); elsewhere it follows the reference's arithmetic.
  * L1 iterates follow the reference's unclipped ``x + u + L1_projection(x, u, eps)`` and can be
    one ulp outside [0, 1]; the returned ``x_adv`` is clipped to the box (moves toward ``x`` only).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import NamedTuple, TypedDict, Unpack

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float

from alignjax.attacks import sorting
from alignjax.attacks.losses import cross_entropy, dlr_loss, dlr_targeted_loss
from alignjax.attacks.projections import l1_projection, project_l2, project_linf, safe_l2_norm
from alignjax.attacks.protocol import Attack, PassResult, check_target_count, keep_where, per_point_keys
from alignjax.attacks.protocol import model_key as draw_model_key
from alignjax.types import NORMS, Images, Key, Labels, Mask, Model, Params, PointIds

LOSSES = ("ce", "dlr", "dlr-targeted")
_L1_SPARSITY_DECAY = 1.5  # reference: adasp_redstep
_L1_MIN_STEP_DIVISOR = 10.0  # reference: adasp_minstep

Vector = Float[Array, " b"]


@dataclasses.dataclass(frozen=True)
class APGDConfig(Attack):
    """APGD settings, and the attack (``Attack``); hashable, so it can be a static jit argument.

    Attributes:
      norm: threat model, "Linf", "L2" or "L1".
      eps: radius of the threat model (> 0).
      n_iter: iterations per run (N).
      n_restarts: random restarts, each on the points still robust.
      loss: "ce" (APGD-CE), "dlr" (APGD-DLR) or "dlr-targeted" (APGD-T).
      eot_iter: gradient passes averaged per iteration (EOT, for randomised models).
      rho: oscillation threshold of the step-size test.
      use_largereps: L1 only: run on radii 3eps, 2eps, eps (AA's L1 standard version).
      n_target_classes: APGD-T only: targets ranked 2 … n_target_classes+1 by the clean logits.
    """

    norm: str
    eps: float
    n_iter: int = 100
    n_restarts: int = 1
    loss: str = "ce"
    eot_iter: int = 1
    rho: float = 0.75
    use_largereps: bool = False
    n_target_classes: int = 9

    def __post_init__(self):
        if self.norm not in NORMS:
            raise ValueError(f"APGDConfig.norm must be one of {NORMS}, got {self.norm!r}")
        if isinstance(self.eps, bool) or not isinstance(self.eps, (int, float)):
            raise TypeError(f"APGDConfig.eps must be a Python float, got {type(self.eps).__name__}")
        if not (math.isfinite(self.eps) and self.eps > 0):
            raise ValueError(f"APGDConfig.eps must be finite and > 0, got {self.eps}")
        for field in ("n_iter", "n_restarts", "eot_iter", "n_target_classes"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"APGDConfig.{field} must be an int >= 1, got {value!r}")
        if self.loss not in LOSSES:
            raise ValueError(f"APGDConfig.loss must be one of {LOSSES}, got {self.loss!r}")
        if not 0.0 <= self.rho <= 1.0:
            raise ValueError(f"APGDConfig.rho must be in [0, 1], got {self.rho}")
        if self.use_largereps:
            if self.norm != "L1":
                raise ValueError(
                    "APGDConfig.use_largereps is only defined for norm='L1' (as in the reference)"
                )
            if self.n_iter < 2:
                raise ValueError(
                    "APGDConfig.use_largereps needs n_iter >= 2 (stages ceil(.3N), ceil(.3N), rest)"
                )

    @property
    def name(self) -> str:
        return {"ce": "apgd-ce", "dlr": "apgd-dlr", "dlr-targeted": "apgd-t"}[self.loss]

    @property
    def targeted(self) -> bool:
        return self.loss == "dlr-targeted"

    @property
    def n_passes(self) -> int:
        """Runs of ``perturb``: restarts, times the target classes for APGD-T (target-major order)."""
        return self.n_restarts * (self.n_target_classes if self.targeted else 1)

    def run_pass(self, model: Model, params: Params, x: Images, y: Labels, robust: Mask, pass_index: Array, *,
                 key: Key, point_ids: PointIds) -> PassResult:
        """Run ``pass_index`` of ``perturb`` on the rows ``robust`` (``_apgd_pass``)."""
        return _apgd_pass(self, model, params, x, y, robust, pass_index, key=key, point_ids=point_ids)


def checkpoint_schedule(n_iter: int) -> tuple[int, ...]:
    """Completed-iteration counts after which the Linf/L2 step-size check runs.

    The reference's counter logic, not the paper's formula: a counter counts iterations; when it
    reaches the window k (first ``max(int(.22N), 1)``) a check runs, the counter resets and
    ``k = max(k - max(int(.03N), 1), max(int(.06N), 1))``. N=100 gives 22, 41, 57, 70, 80, 87, 93, 99.
    """
    window = max(int(0.22 * n_iter), 1)
    window_min = max(int(0.06 * n_iter), 1)
    window_decrease = max(int(0.03 * n_iter), 1)
    checks, done = [], window
    while done <= n_iter:
        checks.append(done)
        window = max(window - window_decrease, window_min)
        done += window
    return tuple(checks)


def largereps_schedule(eps: float, n_iter: int) -> tuple[tuple[float, int], ...]:
    """``use_largereps`` stages: radii (3eps, 2eps, eps), iterations (ceil(.3N), ceil(.3N), rest)."""
    first = math.ceil(0.3 * n_iter)
    return ((3.0 * eps, first), (2.0 * eps, first), (1.0 * eps, n_iter - 2 * first))


def _check_tables(norm: str, n_iter: int, rho: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Static per-iteration arrays: whether a check runs after iteration i, its window, its threshold."""
    is_check = np.zeros(n_iter, bool)
    window = np.zeros(n_iter, np.int32)
    if norm == "L1":
        every = max(int(0.04 * n_iter), 1)
        is_check[every - 1 :: every] = True
        window[is_check] = every
    else:
        previous = 0
        for done in checkpoint_schedule(n_iter):
            is_check[done - 1] = True
            window[done - 1] = done - previous
            previous = done
    threshold = np.array([np.float32(k * rho) for k in window.tolist()], np.float32)
    return is_check, window, threshold


def _per_row(v: Array, like: Array) -> Array:
    return v.reshape(v.shape + (1,) * (like.ndim - 1))


def _loss_fn(loss: str) -> Callable[[Array, Labels, Labels | None], Vector]:
    if loss == "ce":
        return lambda logits, y, y_target: cross_entropy(logits, y)
    if loss == "dlr":
        return lambda logits, y, y_target: dlr_loss(logits, y)

    def targeted(logits: Array, y: Labels, y_target: Labels | None) -> Vector:
        assert y_target is not None  # APGD-T always passes its targets
        return dlr_targeted_loss(logits, y, y_target)

    return targeted


def _eot_loss_and_grad(logits_fn, params, x_adv, y, y_target, *, loss, eot_iter, model_key):
    """Mean gradient of the summed loss over ``eot_iter`` passes; logits and losses of the last pass."""
    per_example = _loss_fn(loss)

    def summed(z, k):
        logits = Model.of(logits_fn)(params, z, key=k).astype(jnp.float32)
        losses = per_example(logits, y, y_target)
        return jnp.sum(losses), (logits, losses)

    grad_fn = jax.grad(summed, has_aux=True)

    def one_pass(grad_sum, e):
        k = None if model_key is None else jax.random.fold_in(model_key, e)
        grad, aux = grad_fn(x_adv, k)
        return grad_sum + grad, aux

    if eot_iter == 1:
        grad, (logits, losses) = one_pass(jnp.zeros_like(x_adv), 0)
        return grad / 1.0, logits, losses
    grad, (logits, losses) = jax.lax.scan(one_pass, jnp.zeros_like(x_adv), jnp.arange(eot_iter))
    return grad / float(eot_iter), logits[-1], losses[-1]


def oscillation_check(
    loss_steps: Float[Array, "n b"], i: int | Array, window: int | Array, threshold: float | Array
) -> Bool[Array, " b"]:
    """The reference's ``check_oscillation``: ``#{c < window : L[i-c] > L[i-c-1]} <= threshold``.

    ``loss_steps`` is the zero-initialised length-N buffer of per-iteration losses; indices are taken
    modulo N, so ``i - c - 1 = -1`` reads the still-zero slot N-1 as the reference's negative index
    does. ``threshold`` is ``float32(window * rho)``.
    """
    n = loss_steps.shape[0]
    offsets = jnp.arange(n)
    current = loss_steps[(i - offsets) % n]
    previous = loss_steps[(i - offsets - 1) % n]
    in_window = (offsets < window)[:, None]
    increases = jnp.sum(in_window & (current > previous), axis=0).astype(jnp.float32)
    return increases <= jnp.float32(threshold)


class SingleRunResult(NamedTuple):
    """The reference's ``attack_single_run`` tuple: (x_best, acc, loss_best, x_best_adv)."""

    x_best: Images
    acc: Bool[Array, " b"]
    loss_best: Vector
    x_best_adv: Images


class _State(NamedTuple):
    x_adv: Images
    x_prev: Images
    grad: Images
    step_size: Vector
    x_best: Images
    grad_best: Images
    loss_best: Vector
    x_best_adv: Images
    acc: Bool[Array, " b"]
    loss_steps: Float[Array, "n b"]
    loss_best_last_check: Vector
    reduced_last_check: Bool[Array, " b"]
    topk: Vector
    sparsity_old: Vector


def _l0(delta: Images) -> Vector:
    return jnp.sum(delta.reshape(delta.shape[0], -1) != 0, axis=1).astype(jnp.float32)


def _step(norm: str, eps: float, x, state: _State, momentum) -> Images:
    """One gradient step plus projection (reference's "gradient step" block)."""
    x_adv, grad, step = state.x_adv, state.grad, _per_row(state.step_size, x)
    previous_move = x_adv - state.x_prev
    if norm == "Linf":
        z = project_linf(x, x_adv + step * jnp.sign(grad), eps)
        return project_linf(x, x_adv + (z - x_adv) * momentum + previous_move * (1.0 - momentum), eps)
    if norm == "L2":
        direction = grad / _per_row(safe_l2_norm(grad) + 1e-12, x)
        z = project_l2(x, x_adv + step * direction, eps)
        return project_l2(x, x_adv + (z - x_adv) * momentum + previous_move * (1.0 - momentum), eps)
    # L1: sparse sign step on the top-k fraction of |grad|, no momentum.
    n_fts = math.prod(x.shape[1:])
    magnitude = jnp.abs(grad)
    ascending = sorting.sort(magnitude.reshape(x.shape[0], -1))
    index = jnp.clip((1.0 - state.topk) * n_fts, 0, n_fts - 1).astype(jnp.int32)
    threshold = jnp.take_along_axis(ascending, index[:, None], axis=1)[:, 0]
    signs = jnp.sign(grad * (magnitude >= _per_row(threshold, x)).astype(jnp.float32))
    count = jnp.sum(jnp.abs(signs).reshape(x.shape[0], -1), axis=1)
    moved = x_adv + step * signs / _per_row(count + 1e-10, x)
    delta = moved - x
    return x + delta + l1_projection(x, delta, eps)


def apgd_single_run(
    logits_fn: Model | Callable[..., Array],
    params: Params,
    x: Images,
    y: Labels,
    x_init: Images,
    *,
    norm: str,
    eps: float,
    n_iter: int,
    loss: str = "ce",
    rho: float = 0.75,
    eot_iter: int = 1,
    y_target: Labels | None = None,
    model_key: Key | None = None,
    custom_init: bool = True,
) -> SingleRunResult:
    """One APGD run from ``x_init`` (the reference's ``attack_single_run(x, y, x_init)``).

    Args:
      logits_fn, params: the model.
      x: (b, h, w, c) clean points, float32 in [0, 1].
      y: (b,) labels.
      x_init: (b, h, w, c) starting points (clipped to [0, 1] here, as the reference does).
      norm, eps, n_iter, loss, rho, eot_iter: as in ``APGDConfig``.
      y_target: (b,) targets, for loss "dlr-targeted".
      model_key: key for stochastic models (``Model.stochastic``), else None.
      custom_init: L1 only. True (the reference with ``x_init`` given) starts the sparsity fraction
        at ``L0(x_init - x) / d / 1.5``; False (the reference's own random start) at 0.2.

    Returns:
      SingleRunResult(x_best, acc, loss_best, x_best_adv).
    """
    x = x.astype(jnp.float32)
    b = x.shape[0]
    n_fts = math.prod(x.shape[1:])
    if loss == "dlr-targeted" and y_target is None:
        raise ValueError("loss 'dlr-targeted' needs y_target")

    def evaluate(x_adv, iteration):
        k = None if model_key is None else jax.random.fold_in(model_key, iteration)
        return _eot_loss_and_grad(
            logits_fn, params, x_adv, y, y_target, loss=loss, eot_iter=eot_iter, model_key=k
        )

    x_adv = jnp.clip(x_init.astype(jnp.float32), 0.0, 1.0)
    grad, logits, losses = evaluate(x_adv, 0)
    step_scale = (2.0 if norm in ("Linf", "L2") else 1.0) * eps
    if norm == "L1" and custom_init:
        sparsity = _l0(x_adv - x)
        topk = sparsity / jnp.float32(n_fts) / _L1_SPARSITY_DECAY
    else:
        sparsity = jnp.full((b,), n_fts, jnp.float32)
        topk = jnp.full((b,), 0.2, jnp.float32)
    state = _State(
        x_adv=x_adv,
        x_prev=x_adv,
        grad=grad,
        step_size=jnp.full((b,), step_scale, jnp.float32),
        x_best=x_adv,
        grad_best=grad,
        loss_best=losses,
        x_best_adv=x_adv,
        acc=jnp.argmax(logits, axis=-1) == y,
        loss_steps=jnp.zeros((n_iter, b), jnp.float32),
        loss_best_last_check=losses,
        reduced_last_check=jnp.ones((b,), bool),
        topk=topk,
        sparsity_old=sparsity,
    )
    if n_iter == 0:
        return SingleRunResult(state.x_best, state.acc, state.loss_best, state.x_best_adv)

    is_check_np, window_np, threshold_np = _check_tables(norm, n_iter, rho)
    is_check_table, window_table = jnp.asarray(is_check_np), jnp.asarray(window_np)
    threshold_table = jnp.asarray(threshold_np)

    def body(i, s: _State) -> _State:
        momentum = jnp.where(i > 0, 0.75, 1.0).astype(jnp.float32)
        x_new = _step(norm, eps, x, s, momentum)
        grad, logits, losses = evaluate(x_new, i + 1)
        predicted_right = jnp.argmax(logits, axis=-1) == y
        acc = s.acc & predicted_right
        x_best_adv = keep_where(~predicted_right, x_new, s.x_best_adv)
        loss_steps = s.loss_steps.at[i].set(losses)
        improved = losses > s.loss_best
        x_best = keep_where(improved, x_new, s.x_best)
        grad_best = keep_where(improved, grad, s.grad_best)
        loss_best = jnp.where(improved, losses, s.loss_best)

        check = is_check_table[i]
        step_size, topk, sparsity_old = s.step_size, s.topk, s.sparsity_old
        reduced, loss_best_last_check = s.reduced_last_check, s.loss_best_last_check
        if norm == "L1":
            sparsity = _l0(x_best - x)
            restart = check & (sparsity / s.sparsity_old < 0.95)
            new_step = jnp.where(restart, eps, step_size / _L1_SPARSITY_DECAY)
            new_step = jnp.clip(new_step, eps / _L1_MIN_STEP_DIVISOR, eps)
            step_size = jnp.where(check, new_step, step_size)
            topk = jnp.where(check, sparsity / jnp.float32(n_fts) / _L1_SPARSITY_DECAY, topk)
            sparsity_old = jnp.where(check, sparsity, sparsity_old)
        else:
            # Oscillation test over the last `window` steps on the ring buffer (index -1 wraps to the
            # still-zero slot N-1 at the first check, as in the reference).
            oscillating = oscillation_check(loss_steps, i, window_table[i], threshold_table[i])
            no_improvement = ~s.reduced_last_check & (s.loss_best_last_check >= loss_best)
            halve = oscillating | no_improvement
            restart = check & halve
            reduced = jnp.where(check, halve, reduced)
            loss_best_last_check = jnp.where(check, loss_best, loss_best_last_check)
            step_size = jnp.where(restart, step_size / 2.0, step_size)
        return _State(
            x_adv=keep_where(restart, x_best, x_new),
            x_prev=s.x_adv,
            grad=keep_where(restart, grad_best, grad),
            step_size=step_size,
            x_best=x_best,
            grad_best=grad_best,
            loss_best=loss_best,
            x_best_adv=x_best_adv,
            acc=acc,
            loss_steps=loss_steps,
            loss_best_last_check=loss_best_last_check,
            reduced_last_check=reduced,
            topk=topk,
            sparsity_old=sparsity_old,
        )

    state = jax.lax.fori_loop(0, n_iter, body, state)
    return SingleRunResult(state.x_best, state.acc, state.loss_best, state.x_best_adv)


def random_init(norm: str, x: Images, eps: float, keys: Key) -> Images:
    """The reference's random start (before clipping), from one key per point.

    Linf: ``x + eps·t/max|t|`` with t ~ U[-1, 1]; L2: ``x + eps·t/||t||`` with t ~ N(0, I) (both with
    +1e-12); L1: ``x + t + L1_projection(x, t, eps)`` with t ~ N(0, I).
    """
    shape = x.shape[1:]
    if norm == "Linf":
        t = jax.vmap(lambda k: jax.random.uniform(k, shape, jnp.float32, -1.0, 1.0))(keys)
        scale = jnp.max(jnp.abs(t.reshape(t.shape[0], -1)), axis=1)
        return x + eps * (t / _per_row(scale + 1e-12, x))
    t = jax.vmap(lambda k: jax.random.normal(k, shape, jnp.float32))(keys)
    if norm == "L2":
        return x + eps * (t / _per_row(safe_l2_norm(t) + 1e-12, x))
    return x + t + l1_projection(x, t, eps)


class RunOptions(TypedDict, total=False):
    """``apgd_single_run``'s loss and model settings, passed on unchanged by ``largereps_run``."""

    loss: str
    rho: float
    eot_iter: int
    y_target: Labels | None
    model_key: Key | None


def largereps_run(
    logits_fn: Model | Callable[..., Array],
    params: Params,
    x: Images,
    y: Labels,
    noise: Images,
    *,
    eps: float,
    n_iter: int,
    **options: Unpack[RunOptions],
) -> SingleRunResult:
    """The reference's ``decr_eps_pgd`` (L1): stages on radii 3eps, 2eps, eps; the last stage counts.

    Args:
      noise: (b, h, w, c) standard Gaussian draw; the start is ``x + noise`` projected onto the 3eps
        L1 ball ∩ box, then re-projected onto each stage's radius before that stage.
      Others as in ``apgd_single_run``.
    """
    x = x.astype(jnp.float32)
    stages = largereps_schedule(eps, n_iter)
    x_init = x + noise.astype(jnp.float32)
    x_init = x_init + l1_projection(x, x_init - x, stages[0][0])
    result = None
    for index, (stage_eps, stage_iter) in enumerate(stages):
        x_init = x_init + l1_projection(x, x_init - x, stage_eps)
        model_key = options.get("model_key")
        stage: RunOptions = {**options, "model_key": None if model_key is None else jax.random.fold_in(model_key, index)}
        result = apgd_single_run(logits_fn, params, x, y, x_init, norm="L1", eps=stage_eps, n_iter=stage_iter,
                                 custom_init=True, **stage)
        x_init = result.x_best
    assert result is not None  # the schedule has three stages
    return result


def _apgd_pass(cfg: APGDConfig, model: Model, params: Params, x: Images, y: Labels, robust: Mask,
               run: Array, *, key: Key, point_ids: PointIds) -> PassResult:
    """Run ``run`` of APGD's ``perturb`` (restart ``run % n_restarts`` of target pass ``run // n_restarts``)."""
    x = x.astype(jnp.float32)
    run_keys = jax.vmap(lambda k: jax.random.fold_in(k, run))(per_point_keys(key, point_ids))
    run_model_key = draw_model_key(model, key, 1, run)
    y_target = None
    if cfg.targeted:
        # Targets from the clean logits (recomputed per pass, as the reference does), ranked
        # 2 … n_target_classes+1: ascending argsort, index -(pass + 2).
        logits = model(params, x, key=draw_model_key(model, key, 2, run))
        n_classes = logits.shape[-1]
        check_target_count(cfg, n_classes)
        rank = n_classes - (run // cfg.n_restarts + 2)
        order = jnp.argsort(logits, axis=-1)
        y_target = jnp.take_along_axis(order, jnp.full((x.shape[0], 1), rank), axis=1)[:, 0]
    if cfg.use_largereps:
        noise = jax.vmap(lambda k: jax.random.normal(k, x.shape[1:], jnp.float32))(run_keys)
        result = largereps_run(model, params, x, y, noise, eps=cfg.eps, n_iter=cfg.n_iter, loss=cfg.loss, rho=cfg.rho,
                               eot_iter=cfg.eot_iter, y_target=y_target, model_key=run_model_key)
    else:
        start = random_init(cfg.norm, x, cfg.eps, run_keys)
        result = apgd_single_run(model, params, x, y, start, norm=cfg.norm, eps=cfg.eps, custom_init=False,
                                 n_iter=cfg.n_iter, loss=cfg.loss, rho=cfg.rho, eot_iter=cfg.eot_iter,
                                 y_target=y_target, model_key=run_model_key)
    # L1 iterates can sit one ulp outside [0, 1] (reference arithmetic); return box-feasible points.
    return PassResult(x_found=jnp.clip(result.x_best_adv, 0.0, 1.0), broken=robust & ~result.acc,
                      n_queries=jnp.zeros(x.shape[:1], jnp.int32))

