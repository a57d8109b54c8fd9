"""Single steps of APGD and Square, bit for bit, against values derived by hand on tiny problems.

The statistical and trajectory tests (test_apgd.py, test_square.py) compare with the live reference to
a tolerance. Here the expected iterates are derived independently in NumPy float32 from the reference's
formulas (``fra31/auto-attack@a392200:autoattack/autopgd_base.py``, ``APGDAttack.attack_single_run``;
``autoattack/square.py``, ``SquareAttack.attack_single_run``; summarised in
``shared/reference/autoattack-spec.md`` §2.3-2.4 and §4.3-4.4), on 2x2 images with a linear model
``logits = flatten(x) @ W + b``. Inputs, weights and eps are small dyadic numbers, so every quantity of
the derivation is exactly representable in float32 and ``assert_array_equal`` is meaningful. Where the
geometry makes a norm irrational (generic L2 rows), the NumPy mirror follows the reference's
operation order and an ulp bound is used; each such place says why.

Pixels are listed in row-major order: a flat row ``(p00, p01, p10, p11)`` is the image
``[[p00, p01], [p10, p11]]`` with one channel (NHWC).

Every test also checks that plausible mistakes (a step size of eps instead of 2·eps, no momentum,
clipping before rescaling, ...) would give different arrays, so equality is not vacuous.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from alignjax.attacks import apgd
from alignjax.attacks.apgd import apgd_single_run
from alignjax.attacks.square import SquareDraws, eta_pattern, square_step

F32 = np.float32
TINY = F32(1e-12)  # the reference's guard in normalize(): ``x / (||x|| + 1e-12)``


def _images(flat) -> np.ndarray:
    """(b, 4) flat rows -> (b, 2, 2, 1) float32 images."""
    return np.asarray(flat, F32).reshape(-1, 2, 2, 1)


def _flat(images) -> np.ndarray:
    return np.asarray(images).reshape(len(images), -1)


def _linear_logits(params, x):
    return x.reshape(x.shape[0], -1) @ params["w"] + params["b"][None, :]


# ---------------------------------------------------------------- the reference's APGD step in NumPy


def _project_linf(x, v, eps):
    """``clamp(min(max(v, x - eps), x + eps), 0, 1)``."""
    return np.clip(np.minimum(np.maximum(v, x - eps), x + eps), F32(0), F32(1))


def _project_l2(x, v, eps, *, clip_first=False):
    """``clamp(x + normalize(v - x) * min(eps, ||v - x||), 0, 1)`` (rescale, then clip to the box).

    ``clip_first=True`` is the tempting wrong order, only used to show the tests tell them apart.
    """
    if clip_first:
        v = np.clip(v, F32(0), F32(1))
    delta = v - x
    norm = np.sqrt(np.sum(delta * delta, axis=1, keepdims=True))
    return np.clip(x + delta / (norm + TINY) * np.minimum(F32(eps), norm), F32(0), F32(1))


def _apgd_step(norm, eps, x, x_adv, x_prev, grad, step_size, momentum, **project_kw):
    """The reference's "gradient step" block on flat (b, d) float32 rows; ``step_size`` is (b, 1).

    Linf: z = P(x_k + eta·sign(g)); x_{k+1} = P(x_k + a·(z - x_k) + (1 - a)·(x_k - x_{k-1})).
    L2:   the same with g / (||g|| + 1e-12) and the L2 rescale-then-clip P.
    """
    momentum = F32(momentum)
    x, x_adv, x_prev, step_size = (np.asarray(a, F32) for a in (x, x_adv, x_prev, step_size))
    if norm == "Linf":
        z = _project_linf(x, x_adv + step_size * np.sign(grad).astype(F32), eps)
        return _project_linf(x, x_adv + (z - x_adv) * momentum + (x_adv - x_prev) * (F32(1) - momentum), eps)
    grad = np.asarray(grad, F32)
    direction = grad / (np.sqrt(np.sum(grad * grad, axis=1, keepdims=True)) + TINY)
    z = _project_l2(x, x_adv + step_size * direction, eps, **project_kw)
    return _project_l2(
        x, x_adv + (z - x_adv) * momentum + (x_adv - x_prev) * (F32(1) - momentum), eps, **project_kw
    )


_jitted_step = jax.jit(apgd._step, static_argnums=(0, 1))


def _library_step(norm, eps, x, x_adv, x_prev, grad, step_size, momentum):
    """``apgd._step`` on flat rows (only the fields the Linf/L2 step reads are filled in)."""
    fields = dict.fromkeys(apgd._State._fields)
    fields.update(
        x_adv=jnp.asarray(_images(x_adv)), x_prev=jnp.asarray(_images(x_prev)),
        grad=jnp.asarray(_images(grad)), step_size=jnp.asarray(np.ravel(step_size), jnp.float32),
    )
    out = _jitted_step(norm, eps, jnp.asarray(_images(x)), apgd._State(**fields), jnp.float32(momentum))
    return _flat(out)


# ---------------------------------------------------------------- APGD: one step, no model


def _two_steps_are(x1, x2, norm, eps, x, x0, grads, step) -> None:
    """The first step (momentum weight 1, from x0) gives exactly ``x1`` and the second (0.75) ``x2``, both in
    the NumPy mirror of the reference and in the library's compiled step."""
    for step_fn in (_apgd_step, _library_step):
        np.testing.assert_array_equal(step_fn(norm, eps, x, x0, x0, grads[0], step, 1.0), x1)
        np.testing.assert_array_equal(step_fn(norm, eps, x, x1, x0, grads[1], step, 0.75), x2)


def test_linf_step_by_hand():
    """Two Linf steps (momentum 1, then 0.75) with a given gradient: eps-ball and box clipping,
    sign(0) = 0, a per-row step size (row 1 as after one halving), an interior momentum point."""
    eps = 0.25
    x = np.array([[0.5, 0.875, 0.0, 0.25], [0.5, 0.125, 0.5, 1.0]], F32)
    x0 = np.array([[0.625, 0.625, 0.25, 0.25], [0.5, 0.25, 0.25, 1.0]], F32)
    grad0 = np.array([[0.3, 2.0, -1.5, 0.0], [1.0, -1.0, 0.5, 4.0]], F32)
    grad1 = np.array([[-1.0, 0.5, 0.25, -2.0], [0.5, 3.0, -1.0, -0.25]], F32)
    step = np.array([[2 * eps], [eps]], F32)

    # By hand, row 0 (step 0.5): x0 + 0.5·sign(g0) = (1.125, 1.125, -0.25, 0.25) -> ball -> box.
    # Second step: z = (0.25, 1, 0.25, 0); e.g. p00: 0.75 + 0.75·(0.25-0.75) + 0.25·(0.75-0.625) = 0.40625.
    # Row 1 (step 0.25): p00 pushes past the ball twice, 0.75 + 0.25·0.25 = 0.8125 -> clipped to 0.75.
    x1 = np.array([[0.75, 1.0, 0.0, 0.25], [0.75, 0.0, 0.5, 1.0]], F32)
    x2 = np.array([[0.40625, 1.0, 0.125, 0.0625], [0.75, 0.125, 0.375, 0.8125]], F32)
    _two_steps_are(x1, x2, "Linf", eps, x, x0, (grad0, grad1), step)

    # the expectations discriminate: a wrong step size, no momentum or swapped weights differ
    assert not np.array_equal(_apgd_step("Linf", eps, x, x0, x0, grad0, step / 2, 1.0), x1)
    assert not np.array_equal(_apgd_step("Linf", eps, x, x1, x0, grad1, step, 1.0), x2)
    assert not np.array_equal(_apgd_step("Linf", eps, x, x1, x0, grad1, step, 0.25), x2)


def test_l2_step_by_hand():
    """Two L2 steps with a given gradient on rows where every norm is a dyadic number.

    Row 0 stays on the line x + t·s, s = (1, -1, 1, 1) (||s|| = 2): the first step leaves the ball
    and is rescaled onto the sphere, the second (gradient reversed) ends inside it, where the momentum
    shows. Row 1 is pushed out of the box in three pixels: rescaling happens before the box clip.
    """
    eps = 0.5
    s = np.array([1.0, -1.0, 1.0, 1.0], F32)
    x = np.array([[0.5, 0.625, 0.375, 0.5], [1.0, 0.0, 1.0, 0.5]], F32)
    x0 = np.stack([x[0] + 0.125 * s, x[1]])
    grad0 = np.stack([3.0 * s, np.array([2.0, -2.0, 2.0, -2.0], F32)])  # normalised: ±0.5 each
    grad1 = np.stack([-0.75 * s, np.array([0.0, 0.0, 0.0, 0.125], F32)])  # ∓0.5 each; the unit e_3
    step = np.full((2, 1), 2 * eps, F32)

    # Row 0: x0 + 1·s/2 - x = 0.625·s, norm 1.25 -> 0.25·s. Then x1 - s/2 - x = -0.25·s (norm 0.5, kept);
    #   x1 + 0.75·(-0.5·s) + 0.25·(0.125·s) = x - 0.09375·s, norm 0.1875 < eps, kept.
    # Row 1: x + s'/2 - x with s' = (1, -1, 1, -1) has norm 1 -> (0.25, -0.25, 0.25, -0.25) -> box:
    #   (1, 0, 1, 0.25). Then p11: 0.25 + 1 -> 0.5 + 0.5 = 1; 0.25 + 0.75·0.75 + 0.25·(0.25 - 0.5) = 0.75.
    x1 = np.stack([x[0] + 0.25 * s, np.array([1.0, 0.0, 1.0, 0.25], F32)])
    x2 = np.stack([x[0] - 0.09375 * s, np.array([1.0, 0.0, 1.0, 0.75], F32)])
    _two_steps_are(x1, x2, "L2", eps, x, x0, (grad0, grad1), step)

    assert not np.array_equal(_apgd_step("L2", eps, x, x1, x0, grad1, step / 2, 0.75), x2)
    assert not np.array_equal(_apgd_step("L2", eps, x, x1, x0, grad1, step, 1.0), x2)
    assert not np.array_equal(_apgd_step("L2", eps, x, x0, x0, grad0, step, 1.0, clip_first=True), x1)


def test_l2_step_generic_rows_within_two_ulps(rng):
    """L2 steps in general position (irrational norms) against the NumPy mirror of the reference.

    The mirror does the reference's operations in its order, each correctly rounded in float32. XLA
    does not: it rewrites ``delta / (||delta|| + 1e-12)`` into ``delta * (1 / (||delta|| + 1e-12))``
    (two roundings instead of one; visible in the compiled HLO) and may sum the squares in another
    order. Measured over 4000 rows the iterates then differ by at most 1.5 float32 ulps of 1 (the scale
    of ``x`` and of the step; relative ulps are meaningless where ``x + d`` nearly cancels to 0), so
    the bound is 2 ulps of 1, absolute.
    """
    eps, b = 0.5, 16
    x = (rng.integers(0, 9, (b, 4)) / 8).astype(F32)
    delta = rng.normal(size=(b, 4))
    x0 = np.clip(x + (delta / np.linalg.norm(delta, axis=1, keepdims=True) * rng.uniform(0, eps, (b, 1))),
                 0, 1).astype(F32)
    grad0, grad1 = (rng.normal(size=(2, b, 4)) * (rng.uniform(size=(2, b, 4)) < 0.8)).astype(F32)
    step = np.full((b, 1), 2 * eps, F32)

    x1 = _apgd_step("L2", eps, x, x0, x0, grad0, step, 1.0)
    x2 = _apgd_step("L2", eps, x, x1, x0, grad1, step, 0.75)
    tolerance = 2 * np.spacing(F32(1))
    ours1 = _library_step("L2", eps, x, x0, x0, grad0, step, 1.0)
    ours2 = _library_step("L2", eps, x, x1, x0, grad1, step, 0.75)
    np.testing.assert_allclose(ours1, x1, rtol=0, atol=tolerance)
    np.testing.assert_allclose(ours2, x2, rtol=0, atol=tolerance)
    assert np.abs(_apgd_step("L2", eps, x, x1, x0, grad1, step, 1.0) - x2).max() > 1e3 * tolerance


# ---------------------------------------------------------------- APGD: apgd_single_run, linear model


def _ce_by_hand(w, b, x_flat, y):
    """Cross-entropy of the linear model and its gradient ``W (softmax(z) - onehot(y))``, float64."""
    z = x_flat.astype(np.float64) @ w.astype(np.float64) + b.astype(np.float64)
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    loss = np.log(np.exp(z).sum(1)) - z[np.arange(len(y)), y]
    grad = (p - np.eye(w.shape[1])[y]) @ w.T.astype(np.float64)
    return z, loss, grad


def _assert_signs_robust(grad, margin=0.02):
    """Only sign(grad) enters a Linf step: float32 rounding must not be able to flip one."""
    assert np.all((grad == 0) | (np.abs(grad) > margin)), grad


def _single_run(params, x, y, x_init, **kwargs):
    run = jax.jit(lambda p, a, b, c: apgd_single_run(_linear_logits, p, a, b, c, **kwargs))
    params = {k: jnp.asarray(v) for k, v in params.items()}
    result = run(params, jnp.asarray(_images(x)), jnp.asarray(y, jnp.int32), jnp.asarray(_images(x_init)))
    return (_flat(result.x_best), np.asarray(result.acc), np.asarray(result.loss_best),
            _flat(result.x_best_adv))


_LINF_W = np.array([[2.5, -1.5, 0.0], [0.5, -2.0, 2.0], [0.0, 3.5, -2.0], [-2.0, 2.0, -2.5]], F32)
_LINF_B = np.array([0.75, -0.75, -1.0], F32)


@pytest.mark.parametrize("n_iter", [1, 2])
def test_linf_ce_single_run_by_hand(n_iter):
    """apgd_single_run (Linf, CE) from an injected start: iterates, best loss, sticky acc, last
    misclassified iterate. Row 0 stays correctly classified, row 1 is broken at x2, row 2 is
    misclassified throughout (so x_best_adv is the last iterate)."""
    eps = 0.25
    x = np.array([[0.0, 1.0, 0.0, 0.5], [0.0, 0.75, 0.25, 0.5], [0.75, 0.75, 1.0, 0.75]], F32)
    x0 = np.array([[0.25, 0.875, 0.25, 0.25], [0.0, 0.875, 0.125, 0.375], [0.625, 0.875, 0.75, 0.75]], F32)
    y = np.array([0, 0, 2])
    eta = np.full((3, 1), 2 * eps, F32)  # the reference's step size 2·eps

    iterates = [x0]
    logits, losses, grads = [], [], []
    for k in range(n_iter + 1):
        z, loss, grad = _ce_by_hand(_LINF_W, _LINF_B, iterates[k], y)
        _assert_signs_robust(grad)
        logits.append(z), losses.append(loss), grads.append(grad)
        if k < n_iter:  # momentum 1 at the first step, then 0.75 with x_{k-1} = x0 for k = 1
            iterates.append(_apgd_step("Linf", eps, x, iterates[k], iterates[max(k - 1, 0)], grads[k], eta,
                                       1.0 if k == 0 else 0.75))
    # the derivation, pinned by hand: every first step ends on a corner of the ball ∩ box
    np.testing.assert_array_equal(iterates[1], [[0, 1, 0, 0.75], [0, 1, 0, 0.75], [1, 0.5, 1, 1]])
    if n_iter == 2:  # e.g. row 0, p01: 1 + 0.75·(0.75 - 1) + 0.25·(1 - 0.875) = 0.84375
        np.testing.assert_array_equal(
            iterates[2], [[0, 0.84375, 0.125, 0.75], [0, 0.65625, 0.34375, 0.75], [0.71875, 0.5, 1, 1]])
        no_momentum = _apgd_step("Linf", eps, x, iterates[1], x0, grads[1], eta, 1.0)
        assert np.all(np.any(no_momentum != iterates[2], axis=1))  # momentum shows in every row

    # Bookkeeping of the reference: strict ">" for the best loss (the loss is convex in x here, so the
    # best is the last iterate); acc is sticky; x_best_adv is the most recent misclassified iterate.
    # With CE the step-size check after iteration 1 never halves (loss_steps[-1] wraps to 0 < CE), and
    # with n_iter = 2 the second check comes after the last step: no halving shows in these outputs.
    best = np.argmax(np.stack(losses), axis=0)
    assert np.all(np.diff(np.stack(losses), axis=0) > 1e-2)  # strictly increasing, clearly
    correct = np.stack([z.argmax(1) == y for z in logits])
    expected_acc = correct.all(0)
    last_wrong = np.where(correct.all(0), 0, n_iter - np.argmax(~correct[::-1], axis=0))
    rows = np.arange(3)
    x_best = np.stack(iterates)[best, rows]
    x_best_adv = np.stack(iterates)[last_wrong, rows]
    assert list(expected_acc) == [True, n_iter == 1, False]

    ours_best, ours_acc, ours_loss, ours_adv = _single_run(
        {"w": _LINF_W, "b": _LINF_B}, x, y, x0, norm="Linf", eps=eps, n_iter=n_iter)
    np.testing.assert_array_equal(ours_best, x_best)
    np.testing.assert_array_equal(ours_adv, x_best_adv)
    np.testing.assert_array_equal(ours_acc, expected_acc)
    # The loss goes through exp and log, whose float32 implementations are not correctly rounded:
    # compare with the float64 value rounded to float32, to 2 ulps (1 observed on CPU).
    np.testing.assert_array_max_ulp(ours_loss, np.stack(losses)[best, rows].astype(F32), maxulp=2)


def _dlr_by_hand(w, b, x_flat, y):
    """DLR of the linear model (3 classes) in float32 as the reference computes it, and its gradient
    in float64: L = -(z_y - z_o) / (z_(1) - z_(3) + 1e-12), o the largest other class."""
    z = x_flat @ w + b[None, :]  # exact: dyadic inputs and weights
    rows = np.arange(len(y))
    order = np.argsort(z, axis=1, kind="stable")
    top, low = order[:, -1], order[:, 0]
    other = np.where(top == y, order[:, -2], top)
    gap = z[rows, top] - z[rows, low] + TINY
    loss = -(z[rows, y] - z[rows, other]) / gap
    eye = np.eye(3)
    dz = (-(eye[y] - eye[other]) / gap[:, None].astype(np.float64)
          + ((z[rows, y] - z[rows, other]) / gap.astype(np.float64) ** 2)[:, None] * (eye[top] - eye[low]))
    return z, loss, dz @ w.T.astype(np.float64)


def test_linf_dlr_single_run_halves_the_step_and_restarts_from_the_best_point():
    """Three Linf iterations of APGD-DLR (checks after every iteration for n_iter = 3): the momentum
    step lowers the loss, so the check after iteration 2 halves the step size and restarts from
    x_best with grad_best; x_best stays the strictly best iterate x1 (CE on a linear model is convex,
    a loss decrease cannot happen there, hence DLR). The point is misclassified at every iterate, so
    x_best_adv shows the last iterate."""
    eps = 0.25
    w = np.array([[-1.0, 0.0, -2.5], [2.5, -0.5, 1.5], [-1.0, -2.5, 2.0], [1.5, 1.0, 0.5]], F32)
    b = np.array([-0.25, 0.5, -0.5], F32)
    x = np.array([[0.25, 0.0, 0.25, 0.75]], F32)
    x0 = np.array([[0.375, 0.0, 0.125, 0.5]], F32)
    y = np.array([0])
    eta = np.full((1, 1), 2 * eps, F32)

    z0, loss0, grad0 = _dlr_by_hand(w, b, x0, y)
    x1 = _apgd_step("Linf", eps, x, x0, x0, grad0, eta, 1.0)
    z1, loss1, grad1 = _dlr_by_hand(w, b, x1, y)
    x2 = _apgd_step("Linf", eps, x, x1, x0, grad1, eta, 0.75)
    z2, loss2, grad2 = _dlr_by_hand(w, b, x2, y)
    for g in (grad0, grad1, grad2):
        _assert_signs_robust(g)
    # Check after iteration 1: loss_steps[-1] wraps to 0 and loss1 > 0 -> 1 increase > 0.75: no halving.
    assert loss1 > 0 and loss1 > loss0
    # Check after iteration 2: loss2 < loss1 -> 0 increases <= 0.75 (and loss_best has not grown since
    # the first check, which did not halve: the no-improvement condition holds as well): halve the
    # step, x_adv <- x_best = x1, grad <- grad_best = grad1; x_prev is x1, so the momentum term is zero.
    assert loss2 < loss1
    x3 = _apgd_step("Linf", eps, x, x1, x1, grad1, eta / 2, 0.75)
    z3, loss3, _ = _dlr_by_hand(w, b, x3, y)
    assert loss3 < loss1  # x1 stays the best point (strict ">")
    np.testing.assert_array_equal(x1, [[0.0, 0.0, 0.5, 0.5]])
    np.testing.assert_array_equal(x2, [[0.28125, 0.0, 0.21875, 0.5]])  # 0 + 0.75·0.25 + 0.25·0.375
    np.testing.assert_array_equal(x3, [[0.1875, 0.0, 0.3125, 0.5]])  # x1 + 0.75·(±0.25)
    assert all(z.argmax() != 0 for z in (z0, z1, z2, z3))
    # without the halving (or without the restart) the third iterate would differ
    assert not np.array_equal(_apgd_step("Linf", eps, x, x2, x1, grad2, eta, 0.75), x3)
    assert not np.array_equal(_apgd_step("Linf", eps, x, x1, x1, grad1, eta, 0.75), x3)

    ours_best, ours_acc, ours_loss, ours_adv = _single_run(
        {"w": w, "b": b}, x, y, x0, norm="Linf", eps=eps, n_iter=3, loss="dlr")
    np.testing.assert_array_equal(ours_best, x1)
    np.testing.assert_array_equal(ours_adv, x3)
    np.testing.assert_array_equal(ours_acc, [False])
    # exact logits, then one subtraction and one correctly rounded division: bit-exact
    np.testing.assert_array_equal(ours_loss, loss1)


# Saturated linear model for L2: class 1 beats the label 0 by at least 31 logits everywhere in the box
# and class 2 (zero weights) is far below. exp(-31) ~ 3e-14 is under half an ulp of 1, so in float32
# sum(exp(z - z_max)) = 1 and softmax(z) - onehot(0) = (-1, 1, tiny): the CE gradient is exactly
# W[:, 1] - W[:, 0] = 0.5·s (W[:, 2] = 0 kills the tiny term) and the loss exactly z_1 - z_0.
_S = np.array([1.0, -1.0, 1.0, 1.0], F32)
_SAT_W = np.stack([np.array([0.25, -0.5, 0.5, 0.0], F32), np.array([0.25, -0.5, 0.5, 0.0], F32) + 0.5 * _S,
                   np.zeros(4, F32)], axis=1)
_SAT_B = np.array([0.0, 32.0, -32.0], F32)


@pytest.mark.parametrize("n_iter", [1, 2])
def test_l2_ce_single_run_on_a_saturated_linear_model(n_iter):
    """apgd_single_run (L2, CE). Row 0 starts on the line x + t·s against the gradient s/2: the first
    step (2·eps = 1) overshoots and is rescaled onto the sphere at x + 0.25·s, where the linear loss is
    largest; the second step (momentum included) is rescaled back to that same point. Bit-exact. Row 1
    is in general position (irrational norms, the momentum shows): the reference's formulas are
    mirrored in float32, within 2 ulps of 1 (see the generic step test)."""
    eps = 0.5
    x = np.array([[0.5, 0.625, 0.375, 0.5], [0.25, 0.75, 0.5, 0.625]], F32)
    x0 = np.stack([x[0] - 0.125 * _S, x[1] + np.array([0.25, 0.125, -0.25, 0.0], F32)])
    y = np.array([0, 0])
    grad = np.broadcast_to(_SAT_W[:, 1] - _SAT_W[:, 0], (2, 4))
    np.testing.assert_array_equal(grad[0], 0.5 * _S)
    eta = np.full((2, 1), 2 * eps, F32)

    def loss(v):  # z_1 - z_0, the CE loss in float32 here
        z = v @ _SAT_W + _SAT_B[None, :]
        return z[:, 1] - z[:, 0]

    iterates = [x0, _apgd_step("L2", eps, x, x0, x0, grad, eta, 1.0)]
    if n_iter == 2:
        iterates.append(_apgd_step("L2", eps, x, iterates[1], x0, grad, eta, 0.75))
    np.testing.assert_array_equal(iterates[1][0], x[0] + 0.25 * _S)  # -0.125 + 0.5 -> 0.375, norm 0.75
    np.testing.assert_array_equal(iterates[-1][0], x[0] + 0.25 * _S)
    np.testing.assert_array_equal(loss(iterates[1][:1]), [32.875])  # 32 + 0.5·(x·s + 0.25·4)
    assert not np.array_equal(  # a step of eps would stop inside the ball
        _apgd_step("L2", eps, x, x0, x0, grad, eta / 2, 1.0)[0], iterates[1][0])

    ours_best, ours_acc, ours_loss, ours_adv = _single_run(
        {"w": _SAT_W, "b": _SAT_B}, x, y, x0, norm="L2", eps=eps, n_iter=n_iter)
    np.testing.assert_array_equal(ours_acc, [False, False])  # class 1 wins everywhere
    # row 0: bit-exact
    np.testing.assert_array_equal(ours_best[0], iterates[1][0])
    np.testing.assert_array_equal(ours_adv[0], iterates[-1][0])  # misclassified: the last iterate
    np.testing.assert_array_equal(ours_loss[0], F32(32.875))
    # row 1: the loss increases at every step, so x_best is the last iterate too
    losses = [loss(v[1:]) for v in iterates]
    assert np.all(np.diff(np.concatenate(losses)) > 0)
    tolerance = 2 * np.spacing(F32(1))
    np.testing.assert_allclose(ours_best[1], iterates[-1][1], rtol=0, atol=tolerance)
    np.testing.assert_allclose(ours_adv[1], iterates[-1][1], rtol=0, atol=tolerance)
    # the logits are near 32, rounded to ulps of 2**-18; the x difference above moves them by far less
    np.testing.assert_array_max_ulp(ours_loss[1], losses[-1][0], maxulp=2)
    if n_iter == 2:  # the momentum shows in row 1
        no_momentum = _apgd_step("L2", eps, x, iterates[1], x0, grad, eta, 1.0)
        assert np.abs(no_momentum[1] - iterates[2][1]).max() > 1e-3


# ---------------------------------------------------------------- Square: one proposal, injected draws

_jitted_square_step = jax.jit(square_step, static_argnums=(0, 1, 4))


def _draws(corner, corner2, signs, transpose=None) -> SquareDraws:
    b = len(corner)
    transpose = np.zeros(b, bool) if transpose is None else transpose
    return SquareDraws(jnp.asarray(corner, jnp.int32), jnp.asarray(corner2, jnp.int32),
                       jnp.asarray(signs, jnp.float32), jnp.asarray(transpose))


def _square_linf_by_hand(eps, x, x_best, corner, side, signs):
    """The reference's Linf update per image with slices: the window gets ``2·eps·sign_c``, then
    ``clamp(min(max(., x - eps), x + eps), 0, 1)`` (NHWC here, NCHW there: same window)."""
    out = []
    for i in range(len(x)):
        new = np.zeros_like(x[i])
        (row, col) = corner[i]
        new[row:row + side, col:col + side, :] = 2 * F32(eps) * np.asarray(signs[i], F32)
        out.append(_project_linf(x[i], x_best[i] + new, eps))
    return np.stack(out)


def test_square_linf_step_by_hand():
    """One Linf proposal on 3x3 images with 2 channels, window side 2: inside the window the pixels
    become ``clip(x + eps·sign_c, 0, 1)``, outside they keep x_best."""
    eps, side = 0.25, 2
    x = np.stack([
        np.array([[0.5, 0.875, 0.25], [0.0, 0.5, 1.0], [0.75, 0.125, 0.5]], F32),
        np.array([[0.25, 0.5, 0.75], [1.0, 0.25, 0.5], [0.5, 0.0, 0.875]], F32),
    ], axis=-1)[None].repeat(2, axis=0)
    # the Linf start: vertical stripes, one sign per column and channel: (+, -, +) and (-, +, -)
    stripes = np.array([[1.0, -1.0], [-1.0, 1.0], [1.0, -1.0]], F32)[None, None]
    x_best = np.clip(x + F32(eps) * stripes, 0, 1)
    corner = np.array([[1, 0], [0, 1]])  # (row, col) of the window's top-left pixel
    signs = np.array([[1.0, -1.0], [-1.0, -1.0]], F32)

    expected = x_best.copy()
    # row 0, window rows 1-2 x cols 0-1: channel 0 -> x + 0.25, channel 1 -> x - 0.25, clipped
    expected[0, 1:3, 0:2, 0] = [[0.25, 0.75], [1.0, 0.375]]
    expected[0, 1:3, 0:2, 1] = [[0.75, 0.0], [0.25, 0.0]]
    # row 1, window rows 0-1 x cols 1-2: both channels -> x - 0.25, clipped (some pixels already there)
    expected[1, 0:2, 1:3, 0] = [[0.625, 0.0], [0.25, 0.75]]
    expected[1, 0:2, 1:3, 1] = [[0.25, 0.5], [0.0, 0.25]]
    np.testing.assert_array_equal(_square_linf_by_hand(eps, x, x_best, corner, side, signs), expected)

    draws = _draws(corner, np.zeros_like(corner), signs)
    ours = np.asarray(_jitted_square_step("Linf", eps, jnp.asarray(x), jnp.asarray(x_best), side, draws))
    np.testing.assert_array_equal(ours, expected)

    # a transposed corner, swapped channel signs or a window one pixel larger give other arrays
    assert not np.array_equal(_square_linf_by_hand(eps, x, x_best, corner[:, ::-1], side, signs), expected)
    assert not np.array_equal(_square_linf_by_hand(eps, x, x_best, corner, side, signs[:, ::-1]), expected)
    assert not np.array_equal(_square_linf_by_hand(eps, x, x_best, corner, side + 1, signs), expected)


def _square_l2_side1_by_hand(eps, x, x_best, corner, corner2, sign, *, zero_window2=True):
    """The reference's L2 update for one-channel images (c = 1) and a 1x1 window, eta(1) = [[-1]]:
    new = -sign + d_A / (1e-12 + |d_A|), rescaled to sqrt(max(eps² - ||d||², 0) / c + d_A² + d_B²);
    window 2 (B) of d is zeroed, window 1 (A) gets new; x_new = clamp(x + eps·d / (||d|| + 1e-12), 0, 1).
    """
    out = []
    for i in range(len(x)):
        d = (x_best[i] - x[i])[..., 0]
        a, b = tuple(corner[i]), tuple(corner2[i])
        norm_window = np.sqrt(d[a] ** 2)
        norm_image = np.sqrt(np.sum(d**2))
        norm_union = np.sqrt(d[a] ** 2 + (d[b] ** 2 if b != a else F32(0)))
        new = -F32(sign[i]) + d[a] / (TINY + norm_window)
        target = np.sqrt(np.maximum(F32(eps) ** 2 - norm_image**2, 0) + norm_union**2)
        new = new / (TINY + np.sqrt(new**2)) * target
        if zero_window2:
            d[b] = 0
        d[a] = new
        out.append(np.clip(x[i][..., 0] + d / (np.sqrt(np.sum(d**2)) + TINY) * F32(eps), 0, 1)[..., None])
    return np.stack(out)


def test_square_l2_step_by_hand():
    """One L2 proposal with a 1x1 window (eta(1) = [[-1]], so the pattern is exact; the schedule uses
    sides >= 3, whose patterns test_square.py checks against the reference) on rows where every norm
    is dyadic: the window's perturbation is rescaled so that ||delta|| = eps again, window 2 is zeroed.

    Row 0: d = (0.1875 at A, -0.25 at B), sign -1: new = 1 + 1 -> 0.5 at A, 0 at B, clipped at 1.
    Row 1: sign equal to sign(d_A): new = 0, the whole perturbation vanishes and x_new = x.
    Row 2: d_A = 0, d_B = 0.25, sign +1: new = -1 -> -0.5 at A (clipped at 0), 0 at B.
    """
    eps, side = 0.5, 1
    np.testing.assert_array_equal(eta_pattern(1, "L2"), [[-1.0]])
    x = _images([[0.75, 0.5, 0.25, 0.5]] * 3)
    x_best = _images([[0.9375, 0.5, 0.25, 0.25], [0.75, 0.25, 0.4375, 0.5], [0.75, 0.75, 0.25, 0.5]])
    corner = np.array([[0, 0], [0, 1], [1, 0]])
    corner2 = np.array([[1, 1], [1, 0], [0, 1]])
    signs = np.array([[-1.0], [-1.0], [1.0]], F32)

    # ||d||² = 0.1875² + 0.25² = 0.3125² in rows 0 and 1, 0.25² in row 2; the target norm is
    # sqrt(0.25 - ||d||² + d_A² + d_B²) = sqrt(0.25) = 0.5 in every row.
    expected = _images([[1.0, 0.5, 0.25, 0.5], [0.75, 0.5, 0.25, 0.5], [0.75, 0.5, 0.0, 0.5]])
    np.testing.assert_array_equal(_square_l2_side1_by_hand(eps, x, x_best, corner, corner2, signs[:, 0]),
                                  expected)
    draws = _draws(corner, corner2, signs)
    ours = np.asarray(_jitted_square_step("L2", eps, jnp.asarray(x), jnp.asarray(x_best), side, draws))
    np.testing.assert_array_equal(ours, expected)

    # not zeroing window 2, or the opposite signs, would give other arrays
    assert not np.array_equal(
        _square_l2_side1_by_hand(eps, x, x_best, corner, corner2, signs[:, 0], zero_window2=False), expected)
    flipped = _square_l2_side1_by_hand(eps, x, x_best, corner, corner2, -signs[:, 0])
    assert not np.array_equal(flipped, expected)
