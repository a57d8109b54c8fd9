"""FAB and FAB-T: the fast adaptive boundary attack (Linf, L2, L1).

Croce & Hein 2020, "Minimally distorted adversarial examples with a fast adaptive boundary attack"
(ICML). Each iteration linearises the logit differences at the current iterate ``x1``, picks the
closest linearised decision hyperplane (distance ``|f_j| / ||grad f_j||_dual``), projects both ``x1``
and the clean point ``x0`` onto it intersected with the [0, 1] box (``fab_projections.py``), and moves
to an extrapolated (``eta``) convex combination of the two projections, biased toward ``x0`` by
``alpha <= alpha_max``. Every misclassified iterate is recorded if its norm strictly improves on the
best so far, and then pulled back toward ``x0`` by ``beta``. ``eps`` is used only for the random-start
radius and for the final acceptance test ``||adv - x||_p <= eps``.

Reference: ``fra31/auto-attack@a392200:autoattack/fab_base.py`` (``attack_single_run``, ``perturb``),
``fab_pt.py`` (the gradients) and ``fab_projections.py``. Followed step by step: the linearisation
(untargeted: all ``z_j - z_y`` with ``df_y = 1e10``; targeted: the single ``z_t - z_y`` with ``t`` the
clean logits' rank-``target_class`` class), ``+1e-12`` in the dual norm, the batched projection of
``[x1; x0]``, ``alpha = clip(a1 / (a1 + a2), 0, alpha_max)`` with ``1e-8`` floors, the clip to the box,
one forward pass for ``is_adv``, the strict ``<`` update, the backward step for *all* adversarial
iterates, random starts of radius ``min(res2, eps) / 2`` for restart index > 0 (``res2 = 1e10`` at that
point, so the radius is ``eps / 2``), restarts and targets on the points not yet broken, and acceptance
only when misclassified and within ``eps`` (rejected if ``> eps``).

Deliberate deviations:
- Masks replace the reference's shrinking sub-batches (rows are independent, so results are the same);
  a whole (target, restart) pass is skipped with ``lax.cond`` once no row is left to attack.
- Random starts come from ``per_point_keys`` folded with the target index and the restart index, so a
  point's result does not depend on its batch; torch's RNG stream is not reproduced (FAB-T with one
  restart, as in AutoAttack ``standard``, uses no randomness at all).
- The clean logits used to choose targets are computed once per call instead of once per target pass
  (the same numbers: the clean points do not change).
- Asking for more targets than the model has classes minus one raises ``ValueError`` at trace time
  (the reference only warns in ``check_n_classes`` and then fails on indexing).
- Targets come from a stable ``argsort`` (``torch.sort`` is not guaranteed stable): only exactly tied
  clean logits can pick a different target.
- Stochastic models are refused with ``ValueError`` (``needs_deterministic_model``); the reference would
  silently attack one random draw per forward pass.
- An active row that is already misclassified is not attacked and comes back as ``x`` (the reference
  leaves it out of ``acc`` and returns ``x``; the cascade's re-verification counts it broken).

Untargeted FAB needs the full Jacobian: one VJP per class (``vmap`` over one-hot cotangents), i.e. about
``k`` backward passes per iteration, as the reference's ``g2``. Where the (b, k, d) array would exceed
``JACOBIAN_CHUNK_BYTES`` (1000-class ImageNet models), it is built a chunk of classes at a time and
only the closest hyperplane is kept (the same choice, in bounded memory).
"""

from __future__ import annotations

import dataclasses
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax
from jaxtyping import Array, Bool, Float, Int

from alignjax.attacks.fab_projections import project_onto_hyperplane_box
from alignjax.attacks.norms import flat_norm
from alignjax.attacks.protocol import Attack, PassResult, check_target_count, per_point_keys
from alignjax.types import NORMS, Images, Key, Labels, LogitsFn, Mask, Model, Params, PointIds

_NO_ADV_NORM = 1e10  # res2's initial value: "no adversarial iterate found yet"
_DF_OWN_CLASS = 1e10  # untargeted: the true class's own difference, so it is never the closest


@dataclasses.dataclass(frozen=True)
class FABConfig(Attack):
    """FAB (untargeted) or FAB-T (targeted), with the reference's defaults.

    Attributes:
      norm: 'Linf', 'L2' or 'L1'.
      eps: threat-model radius: random-start radius and acceptance threshold.
      n_iter: iterations per run.
      n_restarts: runs per target (untargeted: runs); restart index > 0 starts at random.
      targeted: FAB-T (one hyperplane per target class) instead of FAB (closest of all classes).
      n_target_classes: targets tried by FAB-T, the clean logits' ranks 2 .. n_target_classes + 1.
      alpha_max: cap on the weight of the step taken from the clean point.
      eta: extrapolation (overshoot) factor of the projection steps.
      beta: backward step toward the clean point after an adversarial iterate.
    """

    norm: str
    eps: float
    n_iter: int = 100
    n_restarts: int = 5
    targeted: bool = False
    n_target_classes: int = 9
    alpha_max: float = 0.1
    eta: float = 1.05
    beta: float = 0.9

    def __post_init__(self):
        if self.norm not in NORMS:
            raise ValueError(f"FABConfig.norm must be one of {NORMS}, got {self.norm!r}")
        _check_number("eps", self.eps, positive=True)
        for name in ("n_iter", "n_restarts", "n_target_classes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"FABConfig.{name} must be an int, got {value!r}")
            if value < 1:
                raise ValueError(f"FABConfig.{name} must be >= 1, got {value!r}")
        if not isinstance(self.targeted, bool):
            raise TypeError(f"FABConfig.targeted must be a bool, got {self.targeted!r}")
        _check_number("alpha_max", self.alpha_max)
        if not 0.0 <= self.alpha_max <= 1.0:
            raise ValueError(f"FABConfig.alpha_max must lie in [0, 1], got {self.alpha_max!r}")
        _check_number("eta", self.eta, positive=True)
        _check_number("beta", self.beta, positive=True)
        if self.beta > 1.0:
            raise ValueError(f"FABConfig.beta must lie in (0, 1], got {self.beta!r}")

    needs_deterministic_model = True

    @property
    def name(self) -> str:
        return "fab-t" if self.targeted else "fab"

    @property
    def n_passes(self) -> int:
        """(target, restart) passes in the reference's order: target-major."""
        return (self.n_target_classes if self.targeted else 1) * self.n_restarts

    def run_pass(self, model: Model, params: Params, x: Images, y: Labels, robust: Mask, pass_index: Array, *,
                 key: Key, point_ids: PointIds) -> PassResult:
        """Restart ``pass_index % n_restarts`` against target ``pass_index // n_restarts`` (``_fab_pass``)."""
        return _fab_pass(self, model, params, x, y, robust, pass_index, key=key, point_ids=point_ids)


def _check_number(name: str, value: object, positive: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"FABConfig.{name} must be a Python number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"FABConfig.{name} must be finite, got {value!r}")
    if positive and value <= 0:
        raise ValueError(f"FABConfig.{name} must be > 0, got {value!r}")


class FABState(NamedTuple):
    """One FAB run's carry, images flattened to (b, d).

    Attributes:
      x1: the current iterate.
      x_best: the smallest-norm adversarial iterate so far (the clean point until one is found).
      norm_best: its norm, ``1e10`` until one is found (the reference's ``res2``).
    """

    x1: Float[Array, "b d"]
    x_best: Float[Array, "b d"]
    norm_best: Float[Array, " b"]


# Untargeted FAB's Jacobian is built this many bytes at a time at most (class chunks; see below).
JACOBIAN_CHUNK_BYTES = 1 << 28


def _logit_differences(
    cfg: FABConfig, logits_fn: LogitsFn, params: Params, x1: Images, y: Labels, target: Labels
) -> tuple[Float[Array, "b k"], Float[Array, "b k d"]]:
    """Values ``df`` and input gradients ``dg`` of the linearised logit differences at ``x1``."""
    batch = x1.shape[0]
    rows = jnp.arange(batch)
    if cfg.targeted:

        def summed_margin(images):
            logits = logits_fn(params, images)
            margin = -(logits[rows, y] - logits[rows, target])
            return jnp.sum(margin), margin

        grad, margin = jax.grad(summed_margin, has_aux=True)(x1)
        return margin[:, None], grad.reshape(batch, 1, -1)

    logits, pullback = jax.vjp(lambda images: logits_fn(params, images), x1)
    n_classes = logits.shape[1]
    one_hots = jnp.broadcast_to(
        jnp.eye(n_classes, dtype=logits.dtype)[:, None, :], (n_classes, batch, n_classes)
    )
    (grads,) = jax.vmap(pullback)(one_hots)  # (k, b, h, w, c): the full Jacobian, one class a row
    grads = jnp.swapaxes(grads.reshape(n_classes, batch, -1), 0, 1)
    own = jax.nn.one_hot(y, n_classes, dtype=jnp.bool_)
    df = logits - logits[rows, y][:, None]
    dg = grads - grads[rows, y][:, None, :]
    return jnp.where(own, _DF_OWN_CLASS, df), dg


def _dual_norm(dg: Float[Array, "b k d"], norm: str) -> Float[Array, "b k"]:
    if norm == "Linf":
        return jnp.sum(jnp.abs(dg), axis=-1)
    if norm == "L2":
        return jnp.sqrt(jnp.sum(dg**2, axis=-1))
    return jnp.max(jnp.abs(dg), axis=-1)


def _classes_per_chunk(batch: int, n_features: int, n_classes: int) -> int:
    return int(max(1, min(n_classes, JACOBIAN_CHUNK_BYTES // (4 * batch * n_features))))


def _closest_hyperplane_in_chunks(
    cfg: FABConfig, logits_fn: LogitsFn, params: Params, x1: Images, y: Labels, chunk: int
) -> tuple[Float[Array, " b"], Float[Array, "b d"]]:
    """Untargeted: ``(df, dg)`` of the closest linearised boundary, the Jacobian ``chunk`` classes at a time.

    The same choice as the full (b, k, d) Jacobian (first minimum of ``|df| / ||dg||_dual``), in
    O(b * chunk * d) memory: a 1000-class ImageNet model at 224 px would need 0.6 GB per image.
    """
    batch = x1.shape[0]
    rows = jnp.arange(batch)
    logits, pullback = jax.vjp(lambda images: logits_fn(params, images), x1)
    n_classes = logits.shape[1]
    (grad_own,) = pullback(jax.nn.one_hot(y, n_classes, dtype=logits.dtype))
    grad_own = grad_own.reshape(batch, -1)
    own = jax.nn.one_hot(y, n_classes, dtype=jnp.bool_)
    df_all = jnp.where(own, _DF_OWN_CLASS, logits - logits[rows, y][:, None])
    n_chunks = -(-n_classes // chunk)

    def one_chunk(best, start):
        classes = start + jnp.arange(chunk)
        exists = classes < n_classes
        cotangents = jax.nn.one_hot(classes, n_classes, dtype=logits.dtype)  # zero rows past the end
        (grads,) = jax.vmap(pullback)(jnp.broadcast_to(cotangents[:, None, :], (chunk, batch, n_classes)))
        dg = jnp.swapaxes(grads.reshape(chunk, batch, -1), 0, 1) - grad_own[:, None, :]
        df = jnp.take(df_all, jnp.minimum(classes, n_classes - 1), axis=1)
        distance = jnp.where(exists, jnp.abs(df) / (1e-12 + _dual_norm(dg, cfg.norm)), jnp.inf)
        local = jnp.argmin(distance, axis=1)
        local_distance = distance[rows, local]
        better = local_distance < best[0]  # strict: an earlier class wins ties, as argmin does
        return (
            jnp.where(better, local_distance, best[0]),
            jnp.where(better, df[rows, local], best[1]),
            jnp.where(better[:, None], dg[rows, local], best[2]),
        ), None

    init = (
        jnp.full((batch,), jnp.inf, jnp.float32),
        jnp.zeros((batch,), jnp.float32),
        jnp.zeros((batch, grad_own.shape[1]), jnp.float32),
    )
    (_, df_best, dg_best), _ = lax.scan(one_chunk, init, jnp.arange(n_chunks) * chunk)
    return df_best, dg_best


def fab_step(
    cfg: FABConfig,
    logits_fn: LogitsFn,
    params: Params,
    state: FABState,
    x0: Float[Array, "b d"],
    y: Labels,
    target: Labels,
    image_shape: tuple[int, ...],
) -> FABState:
    """One FAB iteration for every row (the body of the reference's ``while counter_iter < n_iter``).

    Args:
      cfg: the attack config (norm, alpha_max, eta, beta, targeted).
      logits_fn: pure ``(params, images) -> logits``.
      params: model parameters.
      state: the carry before the iteration.
      x0: (b, d) flat clean points.
      y: (b,) true labels.
      target: (b,) FAB-T target classes (ignored when untargeted).
      image_shape: (h, w, c) of one image.

    Returns:
      The carry after the iteration.
    """
    batch = x0.shape[0]
    rows = jnp.arange(batch)
    x1 = state.x1
    images = x1.reshape(batch, *image_shape)
    n_classes = jax.eval_shape(lambda z: logits_fn(params, z), images).shape[-1]
    chunk = _classes_per_chunk(batch, x1.shape[1], n_classes)
    if cfg.targeted or chunk >= n_classes:
        df, dg = _logit_differences(cfg, logits_fn, params, images, y, target)
        distance = jnp.abs(df) / (1e-12 + _dual_norm(dg, cfg.norm))
        closest = jnp.argmin(distance, axis=1)
        df_closest, w = df[rows, closest], dg[rows, closest]
    else:
        df_closest, w = _closest_hyperplane_in_chunks(cfg, logits_fn, params, images, y, chunk)
    b = -df_closest + jnp.sum(w * x1, axis=-1)

    deltas = project_onto_hyperplane_box(
        jnp.concatenate([x1, x0]), jnp.concatenate([w, w]), jnp.concatenate([b, b]), cfg.norm
    )
    lengths = jnp.maximum(flat_norm(deltas, cfg.norm), 1e-8)[:, None]
    delta1, delta0 = deltas[:batch], deltas[batch:]
    length1, length0 = lengths[:batch], lengths[batch:]
    alpha = jnp.minimum(jnp.maximum(length1 / (length1 + length0), 0.0), cfg.alpha_max)
    x1 = jnp.clip((x1 + cfg.eta * delta1) * (1 - alpha) + (x0 + delta0 * cfg.eta) * alpha, 0.0, 1.0)

    predicted = jnp.argmax(logits_fn(params, x1.reshape(batch, *image_shape)), axis=-1)
    is_adv = predicted != y
    norm = flat_norm(x1 - x0, cfg.norm)
    improved = is_adv & (norm < state.norm_best)
    return FABState(
        x1=jnp.where(is_adv[:, None], x0 + (x1 - x0) * cfg.beta, x1),
        x_best=jnp.where(improved[:, None], x1, state.x_best),
        norm_best=jnp.where(improved, norm, state.norm_best),
    )


def random_start(cfg: FABConfig, x0: Float[Array, "b d"], keys: Key) -> Float[Array, "b d"]:
    """The reference's random start: radius ``min(res2, eps) / 2`` with ``res2 = 1e10``, then clip."""
    radius = min(_NO_ADV_NORM, cfg.eps)
    if cfg.norm == "Linf":
        noise = jax.vmap(lambda k: 2 * jax.random.uniform(k, x0.shape[1:], x0.dtype) - 1)(keys)
        scale = jnp.max(jnp.abs(noise), axis=1, keepdims=True)
        start = x0 + radius * noise / scale * 0.5
    else:
        noise = jax.vmap(lambda k: jax.random.normal(k, x0.shape[1:], x0.dtype))(keys)
        scale = flat_norm(noise, cfg.norm)[:, None]
        start = x0 + radius * noise / scale * 0.5
    return jnp.clip(start, 0.0, 1.0)


def fab_single_run(
    cfg: FABConfig,
    logits_fn: LogitsFn,
    params: Params,
    x: Images,
    y: Labels,
    target: Labels,
    x_start: Images,
) -> tuple[Images, Bool[Array, " b"]]:
    """``n_iter`` FAB iterations from ``x_start`` (the reference's ``attack_single_run`` loop).

    Args:
      cfg: the attack config.
      logits_fn: pure ``(params, images) -> logits``.
      params: model parameters.
      x: (b, h, w, c) clean points.
      y: (b,) true labels.
      target: (b,) target classes (FAB-T), ignored when untargeted.
      x_start: (b, h, w, c) first iterate (``x`` itself, or a random start).

    Returns:
      ``(x_adv, found)``: the smallest-norm adversarial iterate per row (``x`` where none was found)
      and whether one was found. Rows are not checked against ``eps`` here.
    """
    batch, image_shape = x.shape[0], x.shape[1:]
    x0 = x.reshape(batch, -1).astype(jnp.float32)
    initial = FABState(
        x1=x_start.reshape(batch, -1).astype(jnp.float32),
        x_best=x0,
        norm_best=jnp.full((batch,), _NO_ADV_NORM, jnp.float32),
    )
    final = lax.fori_loop(
        0,
        cfg.n_iter,
        lambda _, state: fab_step(cfg, logits_fn, params, state, x0, y, target, image_shape),
        initial,
    )
    found = final.norm_best < _NO_ADV_NORM
    x_adv = jnp.where(found[:, None], final.x_best, x0)
    return x_adv.reshape(x.shape), found


def _fab_pass(cfg: FABConfig, logits_fn: Model, params: Params, x: Images, y: Labels, robust: Mask,
              pass_index: Int[Array, ""], *, key: Key, point_ids: PointIds) -> PassResult:
    """Restart ``pass_index % n_restarts`` against target ``pass_index // n_restarts`` on the rows ``robust``.

    Accepted where the prediction differs from ``y`` and the ``cfg.norm`` distance to ``x`` is at most
    ``cfg.eps`` (rejected if larger), as the reference's ``perturb``.
    """
    x = x.astype(jnp.float32)
    clean_logits = logits_fn(params, x)
    n_classes = clean_logits.shape[-1]
    check_target_count(cfg, n_classes)
    target_index = pass_index // cfg.n_restarts
    restart = pass_index % cfg.n_restarts
    ranked = jnp.argsort(clean_logits, axis=-1)  # ascending, as torch.sort(...)[1]
    target = jnp.take_along_axis(ranked, jnp.full((x.shape[0], 1), n_classes - 2 - target_index), axis=1)[:, 0]
    keys = jax.vmap(lambda k: jax.random.fold_in(jax.random.fold_in(k, target_index), restart))(
        per_point_keys(key, point_ids)
    )
    x_flat = x.reshape(x.shape[0], -1)
    if cfg.n_restarts > 1:  # static: with one restart (FAB-T in AutoAttack) no start is random
        x_flat = jnp.where(restart > 0, random_start(cfg, x_flat, keys), x_flat)
    candidate, _ = fab_single_run(cfg, logits_fn, params, x, y, target, x_flat.reshape(x.shape))
    still_correct = jnp.argmax(logits_fn(params, candidate), axis=-1) == y
    too_far = flat_norm(x - candidate, cfg.norm) > cfg.eps
    return PassResult(x_found=candidate, broken=robust & ~(still_correct | too_far),
                      n_queries=jnp.zeros(x.shape[:1], jnp.int32))
