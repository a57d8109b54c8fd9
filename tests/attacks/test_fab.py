"""FAB / FAB-T: config, exact behaviour on linear models, step-for-step parity with the reference
(pyautoattack.FABAttack_PT = fra31/auto-attack@a392200) on the digits CNN's torch twin, and invariants.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from pyautoattack import fab_base
from pyautoattack.fab_pt import FABAttack_PT

from alignjax.attacks.fab import FABConfig, FABState, fab_step, random_start
from alignjax.attacks.norms import flat_norm
from alignjax.data.digits import digits_split
from alignjax.models import load_embedded
from tests.attacks.engine_helpers import whole_attack
from tests.torch_twins import digits_cnn_torch, nchw_to_nhwc, nhwc_to_nchw

NORMS = ("Linf", "L2", "L1")
DUAL_ORD = {"Linf": 1, "L2": 2, "L1": np.inf}


def jitted(cfg, logits_fn):
    return whole_attack(cfg, logits_fn)


# ----------------------------------------------------------------------------------------------- config


def test_config_defaults_and_names():
    cfg = FABConfig("Linf", 8 / 255)
    assert (cfg.n_iter, cfg.n_restarts, cfg.n_target_classes) == (100, 5, 9)
    assert (cfg.alpha_max, cfg.eta, cfg.beta, cfg.targeted) == (0.1, 1.05, 0.9, False)
    assert cfg.name == "fab" and dataclasses.replace(cfg, targeted=True).name == "fab-t"
    assert hash(cfg) == hash(FABConfig("Linf", 8 / 255))


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"norm": "L0"}, ValueError, "norm"),
        ({"eps": 0.0}, ValueError, "eps"),
        ({"eps": float("nan")}, ValueError, "eps"),
        ({"eps": "0.3"}, TypeError, "eps"),
        ({"n_iter": 0}, ValueError, "n_iter"),
        ({"n_restarts": 1.0}, TypeError, "n_restarts"),
        ({"n_target_classes": True}, TypeError, "n_target_classes"),
        ({"targeted": 1}, TypeError, "targeted"),
        ({"alpha_max": 1.5}, ValueError, "alpha_max"),
        ({"eta": -1.0}, ValueError, "eta"),
        ({"beta": 1.2}, ValueError, "beta"),
    ],
)
def test_config_rejects_bad_values(changes, error, message):
    with pytest.raises(error, match=message):
        FABConfig(**{"norm": "L2", "eps": 0.5, **changes})


def test_too_many_targets_for_the_model():
    logits_fn = lambda params, x: x.reshape(x.shape[0], -1)[:, :3] @ params  # 3 classes
    cfg = FABConfig("L2", 0.5, targeted=True, n_target_classes=3)
    with pytest.raises(ValueError, match="n_target_classes=3"):
        whole_attack(cfg, logits_fn)(jnp.eye(3), jnp.zeros((2, 2, 2, 1)), jnp.zeros(2, jnp.int32),
                                     jnp.ones(2, bool), jax.random.key(0), jnp.arange(2))


def test_stochastic_models_are_refused():
    class Noisy:
        stochastic = True

        def __call__(self, params, x, key):
            return x.reshape(x.shape[0], -1)[:, :3] + jax.random.normal(key, (x.shape[0], 3))

    with pytest.raises(ValueError, match="deterministic"):
        whole_attack(FABConfig("L2", 0.5), Noisy())(None, jnp.zeros((2, 2, 2, 1)), jnp.zeros(2, jnp.int32),
                                                     jnp.ones(2, bool), jax.random.key(0), jnp.arange(2))


# ------------------------------------------------------------------------------------ linear models


def linear_problem(rng, norm, n_classes, batch=4, shape=(2, 2, 3)):
    """Linear logits x @ W + c (c per row), x near 0.5 so the box is out of the way.

    Row i's class-j boundary lies at ``norm`` distance ``dist[i, j]``; the closest one is at
    ``minimal[i]`` and every other one at least 3x further, so FAB's closest hyperplane never changes.
    """
    dim = int(np.prod(shape))
    w = rng.normal(size=(dim, n_classes)).astype(np.float32)
    x = (0.5 + 0.05 * rng.uniform(-1, 1, size=(batch, dim))).astype(np.float32)
    y = rng.integers(0, n_classes, size=batch).astype(np.int32)
    minimal = rng.uniform(0.05, 0.1, size=batch)
    dist = minimal[:, None] * rng.uniform(3.0, 4.0, size=(batch, n_classes))
    dist[np.arange(batch), rng.integers(0, n_classes, size=batch)] = minimal
    dist[np.arange(batch), y] = 0.0  # the true class: no boundary
    dual = np.linalg.norm(w[None, :, :] - w[:, y].T[:, :, None], ord=DUAL_ORD[norm], axis=1)
    margin = dist * dual  # z_y - z_j at x
    c = (-(x.astype(np.float64) @ w) - margin).astype(np.float32)
    dist[np.arange(batch), y] = np.inf
    minimal = dist.min(axis=1)
    return x.reshape(batch, *shape), y, (jnp.asarray(w), jnp.asarray(c)), minimal


def linear_logits(params, x):
    w, c = params
    return x.reshape(x.shape[0], -1) @ w + c


def fab_ratio_on_a_ray(n_iter, eta=1.05, beta=0.9, alpha_max=0.1):
    """FAB on a linear model without box constraints, as a scalar recurrence (float64).

    Every iterate is x0 + s d* with d* the minimal perturbation: the projection of x1 moves s to 1
    (length |1 - s|), that of x0 has length 1. Returns the best adversarial s, i.e. ||adv|| / ||d*||.
    """
    s, best = 0.0, np.inf
    for _ in range(n_iter):
        alpha = min(abs(1 - s) / (abs(1 - s) + 1), alpha_max)
        s = (s + eta * (1 - s)) * (1 - alpha) + eta * alpha
        if s > 1:
            best = min(best, s)
            s = beta * s
    return best


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize(("targeted", "n_iter"), [(True, 1), (False, 100)], ids=["fab-t-1-step", "fab-100-steps"])
def test_linear_model_exact_minimal_perturbation(norm, targeted, n_iter, rng):
    """On a linear model with the box out of the way the minimal perturbation is |f| / ||w||_dual.
    FAB-T's first step lands at exactly eta times it; after 100 steps untargeted FAB (4 classes, so
    it must pick the closest boundary) sits where its own recurrence predicts, 0.52% above it."""
    n_classes = 2 if targeted else 4  # FAB-T's first target is the only other class
    x, y, params, minimal = linear_problem(rng, norm, n_classes)
    ids, active = jnp.arange(len(y)), jnp.ones(len(y), bool)
    cfg = FABConfig(norm, 10.0, n_iter=n_iter, n_restarts=1, targeted=targeted, n_target_classes=n_classes - 1)
    result = jitted(cfg, linear_logits)(params, jnp.asarray(x), jnp.asarray(y), active, jax.random.key(0), ids)
    assert bool(result.is_adv.all())
    assert bool(jnp.all(jnp.argmax(linear_logits(params, result.x_adv), -1) != y))
    ratio = np.asarray(flat_norm(result.x_adv - x, norm)) / minimal
    np.testing.assert_allclose(ratio, fab_ratio_on_a_ray(n_iter), rtol=2e-5)
    assert np.all(ratio >= 1 - 1e-5)


def test_ray_recurrence():
    assert fab_ratio_on_a_ray(1) == pytest.approx(1.05, rel=1e-12)
    assert 1.004 < fab_ratio_on_a_ray(100) < 1.006


@pytest.mark.parametrize("norm", NORMS)
def test_random_start_radius(norm, getkey):
    """Restarts > 0 start at norm distance min(1e10, eps) / 2 (before clipping), per the reference."""
    x0 = jnp.full((3, 20), 0.5)
    keys = jax.random.split(getkey(), 3)
    start = random_start(FABConfig(norm, 0.2), x0, keys)
    np.testing.assert_allclose(flat_norm(start - x0, norm), 0.1, rtol=1e-5)
    assert not np.allclose(start[0], start[1])


# --------------------------------------------------------------------------------- reference parity


@pytest.fixture(scope="module")
def cnn():
    """The embedded digits CNN, its torch twin, and 12 test points it classifies correctly."""
    logits_fn, variables = load_embedded()
    test = digits_split("test")
    x, y = jnp.asarray(test.x[:40]), jnp.asarray(test.y[:40])
    keep = np.flatnonzero(np.asarray(jnp.argmax(logits_fn(variables, x), axis=-1) == y))[:12]
    assert len(keep) == 12
    return logits_fn, variables, digits_cnn_torch(jax.tree.map(np.array, variables)), x[keep], y[keep]


class _ProjectionRecorder:
    """Wraps the reference's projections to record their input points: rows [:b] are the iterates x1."""

    def __init__(self, monkeypatch):
        self.inputs = []
        for name in ("projection_linf", "projection_l2", "projection_l1"):
            original = getattr(fab_base, name)

            def wrapped(points, w, b, original=original):
                self.inputs.append(points.detach().clone().numpy())
                return original(points, w, b)

            monkeypatch.setattr(fab_base, name, wrapped)


@pytest.mark.parametrize(
    ("norm", "targeted"),
    [("Linf", True), ("L2", True), ("L1", True),
     pytest.param("L1", False, marks=pytest.mark.slow)],  # fast CI: untargeted L2 in the perturb test
    ids=["fab-t-Linf", "fab-t-L2", "fab-t-L1", "fab-L1"],
)
def test_step_for_step_matches_reference(norm, targeted, cnn, monkeypatch):
    """From the clean start, every iterate x1 and the final result of attack_single_run agree to 1e-5."""
    logits_fn, variables, torch_model, x, y = cnn
    if not targeted:  # untargeted FAB takes the full Jacobian: fewer points keep the test fast
        x, y = x[:8], y[:8]
    n_iter, batch = 8, x.shape[0]
    recorder = _ProjectionRecorder(monkeypatch)
    reference = FABAttack_PT(torch_model, norm=norm, n_iter=n_iter, eps=1.0, targeted=targeted)
    reference.target_class = 2
    with torch.no_grad():
        expected = reference.attack_single_run(nhwc_to_nchw(np.array(x)), torch.from_numpy(np.asarray(y, np.int64)),
                                               use_rand_start=False, is_targeted=targeted)
    assert len(recorder.inputs) == n_iter

    cfg = FABConfig(norm, 1.0, n_iter=n_iter, targeted=targeted)
    x0 = x.reshape(batch, -1)
    target = jnp.argsort(logits_fn(variables, x), axis=-1)[:, -2]
    step = jax.jit(lambda state: fab_step(cfg, logits_fn, variables, state, x0, y, target, x.shape[1:]))
    state = FABState(x1=x0, x_best=x0, norm_best=jnp.full((batch,), 1e10))
    for recorded in recorder.inputs:
        np.testing.assert_allclose(state.x1, recorded[:batch], atol=1e-5)
        state = step(state)
    found = np.asarray(state.norm_best < 1e10)
    assert found.sum() >= batch // 2  # the update and backward-step paths were exercised
    ours = np.where(found[:, None], state.x_best, x0).reshape(x.shape)
    np.testing.assert_allclose(ours, nchw_to_nhwc(expected), atol=1e-5)


@pytest.mark.parametrize(
    "cfg",
    [  # eps values split these 12 (untargeted: 8) points into broken and robust ones
        FABConfig("Linf", 0.17, n_iter=10, targeted=True, n_target_classes=3, n_restarts=1),
        FABConfig("L2", 0.85, n_iter=6, n_restarts=1),
        pytest.param(FABConfig("L2", 0.8, n_iter=10, targeted=True, n_target_classes=3, n_restarts=1),
                     marks=pytest.mark.slow),
        pytest.param(FABConfig("L1", 2.0, n_iter=10, targeted=True, n_target_classes=3, n_restarts=1),
                     marks=pytest.mark.slow),
    ],
    ids=["fab-t-Linf", "fab-L2", "fab-t-L2", "fab-t-L1"],
)
def test_perturb_matches_reference_and_invariants(cfg, cnn):
    """Deterministic settings (no random start): the whole attack equals FABAttack_PT.perturb to 1e-5,
    with some points rejected for lying beyond eps; every returned adversarial example is
    misclassified, within eps and in [0, 1]; inactive rows come back untouched."""
    logits_fn, variables, torch_model, x, y = cnn
    if not cfg.targeted:  # untargeted FAB takes the full Jacobian: fewer points keep the test fast
        x, y = x[:8], y[:8]
    batch = x.shape[0]
    reference = FABAttack_PT(torch_model, norm=cfg.norm, n_iter=cfg.n_iter, eps=cfg.eps,
                             targeted=cfg.targeted, n_restarts=cfg.n_restarts,
                             n_target_classes=cfg.n_target_classes)
    expected = nchw_to_nhwc(reference.perturb(nhwc_to_nchw(np.array(x)), torch.from_numpy(np.asarray(y, np.int64))))
    expected_adv = np.abs(expected - np.asarray(x)).reshape(batch, -1).max(axis=1) > 0

    active = jnp.arange(batch) != 3
    result = jitted(cfg, logits_fn)(variables, x, y, active, jax.random.key(0), jnp.arange(batch))
    is_adv = np.asarray(result.is_adv)
    np.testing.assert_array_equal(is_adv[3], False)
    np.testing.assert_array_equal(result.x_adv[3], x[3])
    np.testing.assert_array_equal(np.delete(is_adv, 3), np.delete(expected_adv, 3))
    np.testing.assert_allclose(np.delete(result.x_adv, 3, 0), np.delete(expected, 3, 0), atol=1e-5)
    assert 0 < is_adv.sum() < batch - 1  # both outcomes occur (eps binds)

    distance = flat_norm(result.x_adv - x, cfg.norm)
    assert bool(jnp.all(jnp.where(result.is_adv, distance <= cfg.eps, distance == 0)))
    assert bool(jnp.all((result.x_adv >= 0) & (result.x_adv <= 1)))
    predicted = jnp.argmax(logits_fn(variables, result.x_adv), axis=-1)
    np.testing.assert_array_equal(np.asarray(predicted != y), is_adv)  # row 3 is clean-correct
    np.testing.assert_array_equal(result.n_queries, 0)


# ----------------------------------------------------------------------------- batching invariants


def test_random_restarts_deterministic_and_batch_independent(cnn):
    """With random starts (FAB-T, 3 restarts): the same key gives identical results, and inactive
    padding rows (other images, other ids) in a smaller batch change no row."""
    logits_fn, variables, _, x, y = cnn
    cfg = FABConfig("Linf", 0.17, n_iter=5, n_restarts=3, targeted=True, n_target_classes=2)
    attack = jitted(cfg, logits_fn)
    ids, active = jnp.arange(12), jnp.ones(12, bool)
    first = attack(variables, x, y, active, jax.random.key(1), ids)
    again = attack(variables, x, y, active, jax.random.key(1), ids)
    np.testing.assert_array_equal(first.x_adv, again.x_adv)
    np.testing.assert_array_equal(first.is_adv, again.is_adv)
    assert 0 < int(first.is_adv.sum()) < 12  # restarts 2 and 3 ran on the rows left

    # rows 0..7 in a batch of 10 whose last two rows are inactive padding (other images, other ids)
    pad_x = jnp.concatenate([x[:8], x[10:12]])
    padded = attack(variables, pad_x, jnp.concatenate([y[:8], y[10:12]]),
                    jnp.arange(10) < 8, jax.random.key(1), jnp.concatenate([ids[:8], jnp.array([99, 98])]))
    np.testing.assert_allclose(padded.x_adv[:8], first.x_adv[:8], atol=1e-6)
    np.testing.assert_array_equal(padded.is_adv[:8], first.is_adv[:8])
    np.testing.assert_array_equal(padded.x_adv[8:], pad_x[8:])


# ------------------------------------------------------------------------------- live parity (slow)


@pytest.mark.slow
@pytest.mark.parametrize(("norm", "eps"), [("Linf", 0.1), ("L2", 0.5), ("L1", 2.0)])
def test_fab_t_robust_accuracy_matches_live_reference(norm, eps):
    """FAB-T with AutoAttack's standard settings (9 targets, 1 restart, 100 iterations) on the 397
    digits test points: robust accuracy within 1 pp of pyautoattack's FABAttack_PT on the torch twin."""
    logits_fn, variables = load_embedded()
    test = digits_split("test")
    x, y = jnp.asarray(test.x), jnp.asarray(test.y)
    clean = np.asarray(jnp.argmax(logits_fn(variables, x), axis=-1) == y)
    cfg = FABConfig(norm, eps, n_restarts=1, targeted=True)
    result = jitted(cfg, logits_fn)(variables, x, y, jnp.asarray(clean), jax.random.key(0), jnp.arange(len(y)))
    ours_robust = clean & np.asarray(jnp.argmax(logits_fn(variables, result.x_adv), axis=-1) == y)
    assert bool(jnp.all(flat_norm(result.x_adv - x, norm) <= eps))

    torch_model = digits_cnn_torch(jax.tree.map(np.array, variables))
    reference = FABAttack_PT(torch_model, norm=norm, eps=eps, n_restarts=1, targeted=True, seed=0)
    index = np.flatnonzero(clean)  # AutoAttack hands FAB only the clean-correct points
    with torch.no_grad():
        adv = reference.perturb(nhwc_to_nchw(np.array(x))[index], torch.from_numpy(np.asarray(y, np.int64))[index])
        reference_robust = np.zeros_like(clean)
        reference_robust[index] = torch_model(adv).argmax(1).numpy() == np.asarray(y)[index]
    assert abs(ours_robust.mean() - reference_robust.mean()) * 100 <= 1.0
