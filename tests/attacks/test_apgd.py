"""APGD: pieces against the reference, trajectories from an injected start, and attack invariants."""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from pyautoattack.autopgd_base import APGDAttack, APGDAttack_targeted

from alignjax.attacks.apgd import (
    APGDConfig,
    apgd_single_run,
    checkpoint_schedule,
    largereps_run,
    largereps_schedule,
    oscillation_check,
)
from alignjax.attacks.norms import flat_norm
from alignjax.attacks.projections import l1_projection
from alignjax.data.digits import digits_split
from alignjax.models import load_embedded
from tests.attacks.engine_helpers import whole_attack
from tests.attacks.reference_oracles import counter_checkpoints
from tests.torch_twins import digits_cnn_torch, nchw_to_nhwc, nhwc_to_nchw

EPS = {"Linf": 0.1, "L2": 0.5, "L1": 2.0}


@pytest.fixture(scope="module")
def model():
    return load_embedded()


@pytest.fixture(scope="module")
def digits():
    test = digits_split("test")
    return np.asarray(test.x, np.float32), np.asarray(test.y, np.int32)


@pytest.fixture(scope="module")
def torch_model(model):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # non-writable numpy views of the jax params
        return digits_cnn_torch(model[1])


# ---------------------------------------------------------------- schedule, oscillation, config


@pytest.mark.parametrize("n_iter", [10, 50, 100, 1000])
def test_checkpoint_schedule_matches_reference_counter(n_iter):
    assert checkpoint_schedule(n_iter) == tuple(counter_checkpoints(n_iter))


def test_checkpoint_schedule_all_small_n_iter():
    for n_iter in range(1, 301):
        assert checkpoint_schedule(n_iter) == tuple(counter_checkpoints(n_iter)), n_iter


def test_checkpoint_schedule_known_values():
    assert checkpoint_schedule(100) == (22, 41, 57, 70, 80, 87, 93, 99)
    assert checkpoint_schedule(50) == (11, 21, 30, 38, 45)  # the paper's formula would differ


def test_largereps_schedule():
    assert largereps_schedule(1.0, 100) == ((3.0, 30), (2.0, 30), (1.0, 40))
    assert largereps_schedule(1.0, 10) == ((3.0, 3), (2.0, 3), (1.0, 4))


@pytest.mark.parametrize("n, i, window", [(20, 4, 5), (20, 10, 4), (20, 19, 6), (7, 6, 7), (1, 0, 1)])
@pytest.mark.parametrize("rho", [0.75, 0.5])
def test_oscillation_check_matches_reference(n, i, window, rho, rng):
    b = 64
    steps = np.round(rng.normal(size=(n, b)), 1).astype(np.float32)  # rounding makes ties
    steps[i + 1 :] = 0.0  # not yet filled, as in the reference's zero-initialised buffer
    steps[: i + 1, ::4] = -np.abs(steps[: i + 1, ::4])  # DLR-like negative losses vs the 0 at -1

    class Stub:
        device = "cpu"

    reference = APGDAttack.check_oscillation(Stub(), torch.tensor(steps), i, window, None, k3=rho).numpy()
    ours = oscillation_check(jnp.asarray(steps), i, window, np.float32(window * rho))
    np.testing.assert_array_equal(np.asarray(ours), reference.astype(bool))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"norm": "L3", "eps": 0.1}, "norm"),
        ({"norm": "Linf", "eps": 0.0}, "eps"),
        ({"norm": "Linf", "eps": -1.0}, "eps"),
        ({"norm": "Linf", "eps": float("nan")}, "eps"),
        ({"norm": "Linf", "eps": 0.1, "n_iter": 0}, "n_iter"),
        ({"norm": "Linf", "eps": 0.1, "n_restarts": 0}, "n_restarts"),
        ({"norm": "Linf", "eps": 0.1, "loss": "ce-targeted"}, "loss"),
        ({"norm": "Linf", "eps": 0.1, "eot_iter": 0}, "eot_iter"),
        ({"norm": "Linf", "eps": 0.1, "rho": 1.5}, "rho"),
        ({"norm": "Linf", "eps": 0.1, "use_largereps": True}, "use_largereps"),
        ({"norm": "Linf", "eps": 0.1, "n_target_classes": 0}, "n_target_classes"),
    ],
)
def test_config_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        APGDConfig(**kwargs)


def test_config_name_and_hashable():
    assert APGDConfig("Linf", 0.1).name == "apgd-ce"
    assert APGDConfig("L2", 0.5, loss="dlr").name == "apgd-dlr"
    assert APGDConfig("L1", 2.0, loss="dlr-targeted", use_largereps=True).name == "apgd-t"
    assert hash(APGDConfig("Linf", 0.1)) == hash(APGDConfig("Linf", 0.1))
    with pytest.raises(TypeError):
        APGDConfig("Linf", jnp.float32(0.1))


# ---------------------------------------------------------------- trajectories against the reference


def _start(norm, x, eps, rng):
    if norm == "Linf":
        return np.clip(x + rng.uniform(-eps, eps, x.shape), 0, 1).astype(np.float32)
    t = rng.normal(size=x.shape)
    if norm == "L2":
        t = t / np.sqrt((t**2).sum((1, 2, 3), keepdims=True)) * eps
    else:  # a sparse L1 start of norm 0.8 eps, as after an earlier stage
        t = t * (rng.random(x.shape) < 0.15)
        t = t / np.abs(t).sum((1, 2, 3), keepdims=True) * 0.8 * eps
    return np.clip(x + t, 0, 1).astype(np.float32)


def _matching_rows(ours, reference, x_tol=1e-5):
    """Rows whose x_best, x_best_adv, loss_best and acc all agree with the reference's tuple."""
    x_best, acc, loss_best, x_best_adv = (t.detach().numpy() for t in reference)
    b = acc.shape[0]

    def close(a, c):
        return np.abs(np.asarray(a) - nchw_to_nhwc(torch.tensor(c))).reshape(b, -1).max(1) <= x_tol

    same_loss = np.isclose(np.asarray(ours.loss_best), loss_best, rtol=1e-4, atol=1e-5)
    return (
        close(ours.x_best, x_best)
        & close(ours.x_best_adv, x_best_adv)
        & same_loss
        & (np.asarray(ours.acc) == acc.astype(bool))
    )


# Linf/L2 with n_iter=10: windows 2, 1, 1, ... so the step-size test runs after almost every step.
# L1 with n_iter=8: the sparsity check runs every iteration. Trajectories are chaotic at float32
# rounding (a gradient coordinate near 0 flips sign, a |grad| near the top-k threshold flips in or
# out), so a few rows may drift apart; every other row must agree to 1e-5.
@pytest.mark.parametrize(
    "norm, loss, n_iter",
    [
        ("Linf", "ce", 10),
        pytest.param("L2", "ce", 10, marks=pytest.mark.slow),
        ("L2", "dlr", 10),
        ("Linf", "dlr-targeted", 10),
        ("L1", "ce", 8),
        pytest.param("L1", "dlr", 8, marks=pytest.mark.slow),
    ],
)
def test_single_run_matches_reference(norm, loss, n_iter, model, digits, torch_model, rng):
    logits_fn, variables = model
    x, y = digits[0][:48], digits[1][:48]
    eps = EPS[norm]
    x_init = _start(norm, x, eps, rng)
    xt, yt = nhwc_to_nchw(x), torch.tensor(y).long()
    if loss == "dlr-targeted":
        attack = APGDAttack_targeted(torch_model, n_iter=n_iter, norm=norm, eps=eps, device="cpu")
        attack.y_target = torch_model(xt).sort(dim=1)[1][:, -2]
        y_target = jnp.asarray(attack.y_target.numpy())
    else:
        attack = APGDAttack(torch_model, n_iter=n_iter, norm=norm, eps=eps, loss=loss, device="cpu")
        y_target = None
    attack.init_hyperparam(xt)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # check_zero_gradients
        reference = attack.attack_single_run(xt, yt, x_init=nhwc_to_nchw(x_init))

    run = jax.jit(
        lambda params, x, y, x_init, y_target: apgd_single_run(
            logits_fn, params, x, y, x_init, norm=norm, eps=eps, n_iter=n_iter, loss=loss, y_target=y_target
        )
    )
    ours = run(variables, x, y, x_init, y_target)
    matching = _matching_rows(ours, reference)
    assert matching.mean() >= 0.9, np.flatnonzero(~matching)
    # the comparison is not vacuous: the runs moved and broke some points but not all
    assert np.abs(np.asarray(ours.x_best) - x_init).max() > 1e-3
    assert 0 < np.asarray(ours.acc).mean() < np.mean(np.argmax(logits_fn(variables, x), 1) == y)


def test_l1_own_random_start_matches_reference(model, digits, torch_model):
    """Without x_init the reference starts L1 at x + t + L1_projection(x, t, eps), t ~ N(0, I), with
    sparsity fraction 0.2 (``custom_init=False``); feed both the same t via the torch seed."""
    logits_fn, variables = model
    x, y = digits[0][:48], digits[1][:48]
    eps, n_iter = EPS["L1"], 8
    xt, yt = nhwc_to_nchw(x), torch.tensor(y).long()
    attack = APGDAttack(torch_model, n_iter=n_iter, norm="L1", eps=eps, device="cpu")
    attack.init_hyperparam(xt)
    torch.manual_seed(0)
    noise = torch.randn(xt.shape)
    torch.manual_seed(0)
    reference = attack.attack_single_run(xt, yt)
    t = nchw_to_nhwc(noise)
    x_init = x + t + np.asarray(l1_projection(jnp.asarray(x), jnp.asarray(t), eps))
    run = jax.jit(
        lambda p, x, y, x_init: apgd_single_run(
            logits_fn, p, x, y, x_init, norm="L1", eps=eps, n_iter=n_iter, custom_init=False
        )
    )
    ours = run(variables, x, y, x_init)
    matching = _matching_rows(ours, reference)
    assert matching.mean() >= 0.9, np.flatnonzero(~matching)


def test_largereps_matches_reference(model, digits, torch_model):
    logits_fn, variables = model
    x, y = digits[0][:48], digits[1][:48]
    eps, n_iter = EPS["L1"], 10
    xt, yt = nhwc_to_nchw(x), torch.tensor(y).long()
    attack = APGDAttack(torch_model, n_iter=n_iter, norm="L1", eps=eps, device="cpu", use_largereps=True)
    attack.init_hyperparam(xt)
    torch.manual_seed(0)
    noise = nchw_to_nhwc(torch.randn_like(xt))  # decr_eps_pgd's first draw after the same seed
    torch.manual_seed(0)
    stages = largereps_schedule(eps, n_iter)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = attack.decr_eps_pgd(xt, yt, [e for e, _ in stages], [n for _, n in stages])
    run = jax.jit(lambda p, x, y, noise: largereps_run(logits_fn, p, x, y, noise, eps=eps, n_iter=n_iter))
    ours = run(variables, x, y, noise)
    matching = _matching_rows(ours, reference)
    assert matching.mean() >= 0.9, np.flatnonzero(~matching)


# ---------------------------------------------------------------- invariants of the runner


def _attack(cfg, logits_fn):
    return whole_attack(cfg, logits_fn)


@pytest.mark.parametrize(
    "cfg",
    [
        APGDConfig("Linf", EPS["Linf"], n_iter=8),
        APGDConfig("L2", EPS["L2"], n_iter=8, loss="dlr"),
        APGDConfig("L1", EPS["L1"], n_iter=6, n_restarts=2, use_largereps=True),
        APGDConfig("Linf", EPS["Linf"], n_iter=6, loss="dlr-targeted", n_target_classes=3),
    ],
    ids=lambda c: f"{c.name}-{c.norm}",
)
def test_runner_invariants(cfg, model, digits):
    logits_fn, variables = model
    x, y = jnp.asarray(digits[0][:64]), jnp.asarray(digits[1][:64])
    active = jnp.arange(64) % 5 != 0
    ids = jnp.arange(64)
    attack = _attack(cfg, logits_fn)
    result = attack(variables, x, y, active, jax.random.key(1), ids)
    x_adv, is_adv = np.asarray(result.x_adv), np.asarray(result.is_adv)
    # box and ball (L1 up to the float32 rounding of its sums, as the reference)
    assert x_adv.min() >= 0 and x_adv.max() <= 1
    slack = 1e-5 if cfg.norm == "L1" else 1e-6
    assert np.asarray(flat_norm(jnp.asarray(x_adv) - x, cfg.norm)).max() <= cfg.eps * (1 + slack) + 2**-24
    # inactive rows untouched, never adversarial
    inactive = ~np.asarray(active)
    np.testing.assert_array_equal(x_adv[inactive], np.asarray(x)[inactive])
    assert not is_adv[inactive].any()
    # what the attack calls adversarial is misclassified; the rest is returned clean
    predicted = np.argmax(np.asarray(logits_fn(variables, jnp.asarray(x_adv))), 1)
    assert np.all(predicted[is_adv] != np.asarray(y)[is_adv])
    np.testing.assert_array_equal(x_adv[~is_adv], np.asarray(x)[~is_adv])
    clean_right = np.argmax(np.asarray(logits_fn(variables, x)), 1) == np.asarray(y)
    assert is_adv[np.asarray(active) & clean_right].any()  # the attack does something
    # same key, same result
    again = attack(variables, x, y, active, jax.random.key(1), ids)
    np.testing.assert_array_equal(np.asarray(again.x_adv), x_adv)


def test_restarts_only_add_successes(model, digits):
    logits_fn, variables = model
    x, y = jnp.asarray(digits[0][:64]), jnp.asarray(digits[1][:64])
    args = (variables, x, y, jnp.ones(64, bool), jax.random.key(3), jnp.arange(64))
    # Short runs, so that the extra restarts have something left to find.
    one = _attack(APGDConfig("Linf", 0.1, n_iter=3), logits_fn)(*args)
    two = _attack(APGDConfig("Linf", 0.1, n_iter=3, n_restarts=3), logits_fn)(*args)
    first, more = np.asarray(one.is_adv), np.asarray(two.is_adv)
    assert np.all(more[first])  # restart 0 is the same run in both
    np.testing.assert_array_equal(np.asarray(two.x_adv)[first], np.asarray(one.x_adv)[first])
    assert more.sum() > first.sum()


def test_batching_and_padding_do_not_change_results(model, digits):
    """397 points in one batch == four padded batches of 100; compiled once per batch shape (a second run on
    the same shapes traces nothing)."""
    logits_fn, variables = model
    x, y = jnp.asarray(digits[0]), jnp.asarray(digits[1])
    n = x.shape[0]
    cfg = APGDConfig("Linf", EPS["Linf"], n_iter=6)
    traces = []

    def traced(params, images):
        traces.append(images.shape)
        return logits_fn(params, images)

    attack = whole_attack(cfg, traced)
    key = jax.random.key(7)
    whole = attack(variables, x, y, jnp.ones(n, bool), key, jnp.arange(n))
    pieces_adv, pieces_x = [], []
    for start in range(0, n, 100):
        stop = min(start + 100, n)
        pad = 100 - (stop - start)
        xb = jnp.concatenate([x[start:stop], jnp.zeros((pad,) + x.shape[1:], x.dtype)])
        yb = jnp.concatenate([y[start:stop], jnp.zeros((pad,), y.dtype)])
        active = jnp.arange(100) < stop - start
        ids = jnp.arange(start, start + 100)
        part = attack(variables, xb, yb, active, key, ids)
        pieces_adv.append(np.asarray(part.is_adv)[: stop - start])
        pieces_x.append(np.asarray(part.x_adv)[: stop - start])
    seen = len(traces)
    attack(variables, xb, yb, active, key, ids)  # the last batch again: every program is cached
    assert len(traces) == seen and {t[0] for t in traces} >= {n, 100}
    batched_adv = np.concatenate(pieces_adv)
    batched_x = np.concatenate(pieces_x)
    # Per-point keys and masks make the computation per point; only float32 kernel differences
    # between batch sizes can move a chaotic trajectory.
    assert (batched_adv == np.asarray(whole.is_adv)).mean() >= 0.99
    same = np.abs(batched_x - np.asarray(whole.x_adv)).reshape(n, -1).max(1) <= 1e-5
    assert same.mean() >= 0.97
    assert 0.05 < np.asarray(whole.is_adv).mean() < 0.9  # the attack is neither idle nor trivial


def test_targeted_needs_enough_classes(model, digits):
    logits_fn, variables = model
    x, y = jnp.asarray(digits[0][:4]), jnp.asarray(digits[1][:4])
    cfg = APGDConfig("Linf", 0.1, n_iter=2, loss="dlr-targeted", n_target_classes=10)
    with pytest.raises(ValueError, match="at least 11 classes"):
        _attack(cfg, logits_fn)(variables, x, y, jnp.ones(4, bool), jax.random.key(0), jnp.arange(4))


def test_stochastic_model_eot(digits):
    """A stochastic logits_fn is called with a fresh key per pass; the gradient is the EOT mean."""
    from alignjax.attacks.apgd import _eot_loss_and_grad  # the EOT kernel itself

    rng = np.random.default_rng(0)
    weights = jnp.asarray(rng.normal(size=(64, 10)).astype(np.float32))

    def noisy(params, x, *, key):
        noise = jax.random.normal(key, (x.shape[0], 64), jnp.float32)
        return (x.reshape(x.shape[0], -1) * (1.0 + 0.5 * noise)) @ params

    noisy.stochastic = True
    x, y = jnp.asarray(digits[0][:8]), jnp.asarray(digits[1][:8])
    model_key = jax.random.key(5)
    grad, logits, _losses = _eot_loss_and_grad(
        noisy, weights, x, y, None, loss="ce", eot_iter=3, model_key=model_key
    )
    per_pass = [
        jax.grad(lambda v, k=k: jnp.sum(-jax.nn.log_softmax(noisy(weights, v, key=k))[jnp.arange(8), y]))(x)
        for k in (jax.random.fold_in(model_key, e) for e in range(3))
    ]
    np.testing.assert_allclose(grad, sum(per_pass) / 3.0, rtol=1e-5, atol=1e-6)
    last = noisy(weights, x, key=jax.random.fold_in(model_key, 2))
    np.testing.assert_allclose(logits, last, rtol=1e-6)
    assert not np.allclose(per_pass[0], per_pass[1])  # the passes really used different keys
    # and the whole attack runs under jit with such a model, deterministically per key
    cfg = APGDConfig("Linf", 0.1, n_iter=2, eot_iter=2)
    attack = _attack(cfg, noisy)
    args = (weights, x, y, jnp.ones(8, bool), jax.random.key(0), jnp.arange(8))
    np.testing.assert_array_equal(np.asarray(attack(*args).x_adv), np.asarray(attack(*args).x_adv))
