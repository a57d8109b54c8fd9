"""Square Attack: deterministic pieces against independent computations and the live reference,
invariants of the jitted runner, and (slow) robust-accuracy parity with pyautoattack."""

from __future__ import annotations

import functools
import math
from unittest import mock

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from pyautoattack.square import SquareAttack

from alignjax.attacks import square
from alignjax.attacks.norms import flat_norm
from alignjax.attacks.protocol import per_point_keys
from alignjax.attacks.square import (
    SquareConfig,
    SquareDraws,
    block_grid,
    eta_pattern,
    p_selection,
    sample_draws,
    side_length,
    square_step,
    start_delta,
)
from tests.attacks.engine_helpers import whole_attack
from tests.attacks.reference_oracles import exact_l1_box_projection

EPS = {"Linf": 0.1, "L2": 0.5, "L1": 2.0}


@pytest.fixture(autouse=True)
def _torch_one_thread():
    """The reference runs tiny torch ops here; with a thread pool on a busy 2-core machine each one costs
    tens of milliseconds instead of microseconds."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# ----------------------------------------------------------------------------------------------
# Config.


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"norm": "L3", "eps": 0.1}, "norm"),
        ({"norm": "Linf", "eps": 0.0}, "eps"),
        ({"norm": "Linf", "eps": float("nan")}, "eps"),
        ({"norm": "Linf", "eps": 0.1, "n_queries": 0}, "n_queries"),
        ({"norm": "Linf", "eps": 0.1, "p_init": 1.5}, "p_init"),
        ({"norm": "Linf", "eps": 0.1, "n_restarts": 0}, "n_restarts"),
        ({"norm": "Linf", "eps": 0.1, "resc_schedule": 1}, "resc_schedule"),
        ({"norm": "Linf", "eps": 0.1, "window": "random"}, "window"),
    ],
)
def test_config_rejects_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SquareConfig(**kwargs)


def test_config_is_hashable_and_named():
    cfg = SquareConfig("L2", 0.5)
    assert hash(cfg) == hash(SquareConfig("L2", 0.5)) and cfg.name == "square"
    assert (cfg.n_queries, cfg.p_init, cfg.n_restarts, cfg.resc_schedule, cfg.window) == (
        5000, 0.8, 1, False, "shared")


# ----------------------------------------------------------------------------------------------
# Schedule and side lengths.


def _p_rederived(p_init, it, n_queries, resc):
    """The paper's piecewise-constant schedule written as a table of (last iteration, divisor)."""
    if resc:
        it = math.floor(it * 10000 / n_queries + 1e-9)  # int(it / n * 10000) up to float rounding
    table = [(10, 1), (50, 2), (200, 4), (500, 8), (1000, 16), (2000, 32), (4000, 64), (6000, 128),
             (8000, 256)]
    for last, divisor in table:
        if it <= last:
            return p_init / divisor
    return p_init / 512


@pytest.mark.parametrize("resc, n_queries", [(False, 5000), (True, 5000), (True, 1000), (True, 137)])
def test_p_selection_matches_rederivation_and_reference(resc, n_queries):
    reference = SquareAttack(lambda x: x, n_queries=n_queries, p_init=0.8, resc_schedule=resc)
    iterations = range(12000) if not resc else range(n_queries)
    for it in iterations:
        ours = p_selection(0.8, it, n_queries, resc)
        assert ours == reference.p_selection(it), it
        assert ours == pytest.approx(_p_rederived(0.8, it, n_queries, resc), rel=1e-12), it


def _stage_sides(h, w, norm, c=1):
    return [side_length(0.8 / 2**k, h, w, norm, c) for k in range(8)]


def test_side_length_known_sequences():
    assert _stage_sides(32, 32, "Linf") == [29, 20, 14, 10, 7, 5, 4, 3]
    assert _stage_sides(32, 32, "L2") == [29, 21, 15, 11, 7, 5, 5, 3]
    assert _stage_sides(32, 32, "L1") == [29, 21, 15, 11, 7, 5, 5, 3]
    assert _stage_sides(224, 224, "Linf") == [200, 142, 100, 71, 50, 35, 25, 18]
    assert _stage_sides(8, 8, "Linf") == [7, 5, 4, 3, 2, 1, 1, 1]
    assert _stage_sides(8, 8, "L2") == [7, 5, 5, 3, 3, 3, 3, 3]


@pytest.mark.parametrize("h, w, c", [(8, 8, 1), (32, 32, 3), (224, 224, 3), (28, 28, 1), (5, 9, 2)])
@pytest.mark.parametrize("norm", ["Linf", "L2", "L1"])
def test_side_length_matches_reference_formula(h, w, c, norm):
    n_features = c * h * w
    for k in range(10):
        p = 0.8 / 2**k
        expected = round(math.sqrt(p * n_features / c))  # the reference's int(round(...)) expression
        if norm == "Linf":
            expected = max(expected, 1)
        else:
            expected = max(expected, 3)
            expected += expected % 2 == 0
        expected = min(expected, min(h, w))
        assert side_length(p, h, w, norm, c) == expected
        assert side_length(p, h, w, norm, c) <= min(h, w)


# ----------------------------------------------------------------------------------------------
# eta patterns.


def _reference_eta(side, norm):
    """The reference's ``SquareAttack.eta(side)`` without its random transposition."""
    attack = SquareAttack(lambda x: x, norm=norm, eps=1.0, device="cpu")
    with mock.patch.object(torch, "rand", lambda *args, **kwargs: torch.zeros(1)):
        return attack.eta(side).numpy()


@pytest.mark.parametrize("norm", ["L2", "L1"])
def test_eta_matches_reference(norm):
    for side in list(range(1, 32)) + [44, 45, 71]:
        ours = eta_pattern(side, norm)
        assert ours.shape == (side, side) and ours.dtype == np.float32
        np.testing.assert_allclose(ours, _reference_eta(side, norm), atol=1e-6, rtol=0, err_msg=str(side))
        total = np.sqrt(np.sum(ours.astype(np.float64) ** 2)) if norm == "L2" else np.abs(ours).sum()
        assert total == pytest.approx(1.0, abs=1e-5)
        assert np.all(ours[side // 2 :] < 0) and np.all(ours[: side // 2] > 0)


# ----------------------------------------------------------------------------------------------
# Window sampling.


@functools.cache
def _draw_many(cfg, shape):
    """Jitted draws of iterations 0..n-1 (the side is traced, so one compile serves every side)."""

    def draw(key, its, side):
        point_keys = per_point_keys(key, jnp.arange(shape[0]))
        return jax.vmap(lambda it: sample_draws(cfg, key, point_keys, it, side, shape))(its)

    return jax.jit(draw)


def _draws_over_iterations(cfg, shape, side, n_iter):
    return jax.device_get(_draw_many(cfg, shape)(jax.random.key(3), jnp.arange(n_iter), jnp.int32(side)))


@pytest.mark.parametrize("h, w, side", [(8, 8, 3), pytest.param(12, 7, 4, marks=pytest.mark.slow)])
def test_window_positions_uniform_and_never_h_minus_s(h, w, side):
    n_iter = 6000
    cfg = SquareConfig("L2", 0.5)
    draws = _draws_over_iterations(cfg, (3, h, w, 1), side, n_iter)
    for corners in (draws.corner[:, 0], draws.corner2[:, 0]):
        for axis, size in ((0, h), (1, w)):
            values = corners[:, axis]
            counts = np.bincount(values, minlength=size - side + 1)
            assert counts[size - side :].sum() == 0  # h - s itself is never drawn (floor(U*(h-s)))
            expected = n_iter / (size - side)
            # each count is binomial; 6 standard deviations is a generous but failing-capable bound
            assert np.all(np.abs(counts[: size - side] - expected) < 6 * np.sqrt(expected))
    # window 1 and window 2 are drawn independently
    assert np.mean(np.all(draws.corner[:, 0] == draws.corner2[:, 0], axis=1)) < 0.2
    assert 0.45 < draws.transpose[:, 0].mean() < 0.55
    # shared across the batch: corners and transposition; per image: the signs of eta
    assert np.all(draws.corner == draws.corner[:, :1]) and np.all(draws.transpose == draws.transpose[:, :1])
    assert np.mean(np.all(draws.signs == draws.signs[:, :1], axis=(1, 2))) < 0.5
    # a window as large as the image sits at the origin
    full = _draws_over_iterations(cfg, (3, h, w, 1), min(h, w), 50)
    assert np.all(full.corner[..., 0] == 0) if h <= w else np.all(full.corner[..., 1] == 0)


def test_per_example_draws_differ_between_images():
    cfg = SquareConfig("Linf", 0.1, window="per_example")
    per_image = _draws_over_iterations(cfg, (3, 8, 8, 2), 3, 400)
    assert np.mean(np.all(per_image.corner == per_image.corner[:, :1], axis=(1, 2))) < 0.2
    assert np.mean(np.all(per_image.signs == per_image.signs[:, :1], axis=(1, 2))) < 0.5
    assert set(np.unique(per_image.signs)) == {-1.0, 1.0}
    assert np.mean(per_image.signs[:, 0, 0] == per_image.signs[:, 0, 1]) < 0.6  # channels drawn separately


# ----------------------------------------------------------------------------------------------
# One update with injected draws, against an independent NumPy computation of the reference update.


def _oracle_step(norm, eps, x, x_best, side, draws):
    """The reference's update written per image in NCHW with slices, float64 (uses the reference's eta)."""
    eta = _reference_eta(side, norm).astype(np.float64) if norm != "Linf" else None
    out = []
    for i in range(x.shape[0]):
        xi = x[i].transpose(2, 0, 1).astype(np.float64)
        xb = x_best[i].transpose(2, 0, 1).astype(np.float64)
        c = xi.shape[0]
        (vh, vw), (vh2, vw2) = draws.corner[i], draws.corner2[i]
        window = (slice(None), slice(vh, vh + side), slice(vw, vw + side))
        window2 = (slice(None), slice(vh2, vh2 + side), slice(vw2, vw2 + side))
        sign = draws.signs[i].astype(np.float64)[:, None, None]
        if norm == "Linf":
            new = np.zeros_like(xi)
            new[window] = 2 * eps * sign
            x_new = np.clip(np.minimum(np.maximum(xb + new, xi - eps), xi + eps), 0, 1)
        else:
            delta = xb - xi
            union = np.zeros(delta.shape, bool)
            union[window] = union[window2] = True
            pattern = (eta.T if draws.transpose[i] else eta)[None] * sign
            if norm == "L2":
                n1 = np.sqrt(np.sum(delta[window] ** 2, axis=(1, 2)))[:, None, None]
                n_img = np.sqrt(np.sum(delta**2))
                n_union = np.sqrt(np.sum((delta * union) ** 2, axis=(1, 2)))[:, None, None]
                new = pattern + delta[window] / (1e-12 + n1)
                new_norm = np.sqrt(np.sum(new**2, axis=(1, 2)))[:, None, None]
                new = new / (1e-12 + new_norm) * np.sqrt(max(eps**2 - n_img**2, 0) / c + n_union**2)
            else:
                n1 = np.sum(np.abs(delta[window]), axis=(1, 2))[:, None, None]
                n_img = np.sum(np.abs(delta))
                n_union = np.sum(np.abs(delta * union), axis=(1, 2))[:, None, None]
                new = pattern + delta[window] / (1e-12 + n1)
                new_mass = np.sum(np.abs(new), axis=(1, 2))[:, None, None]
                new = new / (1e-12 + new_mass) * (max(eps - n_img, 0) / c + n_union) * c
            delta[window2] = 0.0
            delta[window] = new
            if norm == "L2":
                x_new = np.clip(xi + delta / (np.sqrt(np.sum(delta**2)) + 1e-12) * eps, 0, 1)
            else:
                r = exact_l1_box_projection(xi.ravel(), delta.ravel(), eps * (1 - 1e-6))
                x_new = xi + delta + r.reshape(delta.shape)
        out.append(x_new.transpose(1, 2, 0))
    return np.stack(out)


def _feasible_iterate(norm, eps, x, rng):
    """A point of the eps-ball ∩ box with some slack, like an iterate of the attack."""
    if norm == "Linf":
        return np.clip(x + eps * rng.choice([-1.0, 1.0], size=x.shape), 0, 1).astype(np.float32)
    direction = rng.normal(size=x.shape) * (rng.uniform(size=x.shape) < 0.5)
    flat = direction.reshape(len(x), -1)
    size = np.sqrt(np.sum(flat**2, 1)) if norm == "L2" else np.sum(np.abs(flat), 1)
    scale = (0.9 * eps / size)[:, None, None, None]
    return np.clip(x + direction * scale, 0, 1).astype(np.float32)


@pytest.mark.parametrize("norm", ["Linf", "L2", "L1"])
@pytest.mark.parametrize("h, w, c, side", [(8, 8, 1, 3), (8, 8, 1, 8), (10, 12, 3, 5)])
def test_step_matches_numpy_oracle(norm, h, w, c, side, rng):
    b, eps = 6, EPS[norm] * (3.0 if c == 3 else 1.0)
    x = rng.uniform(0.05, 0.95, size=(b, h, w, c)).astype(np.float32)
    x[0, :2] = 0.0  # pixels at the box boundary
    x_best = _feasible_iterate(norm, eps, x, rng)
    corner = np.stack([rng.integers(0, h - side + 1, b), rng.integers(0, w - side + 1, b)], 1)
    corner2 = np.stack([rng.integers(0, h - side + 1, b), rng.integers(0, w - side + 1, b)], 1)
    corner2[0] = corner[0]  # identical windows
    corner2[1] = np.minimum(corner[1] + 1, [h - side, w - side])  # overlapping windows
    corner[2] = [h - side, w - side]  # the bottom-right corner
    draws = SquareDraws(
        jnp.asarray(corner, jnp.int32), jnp.asarray(corner2, jnp.int32),
        jnp.asarray(rng.choice([-1.0, 1.0], size=(b, c)), jnp.float32),
        jnp.asarray(np.arange(b) % 2 == 1),
    )
    step = jax.jit(square_step, static_argnums=(0, 1, 4))
    ours = np.asarray(step(norm, eps, jnp.asarray(x), jnp.asarray(x_best), side, draws))
    expected = _oracle_step(norm, eps, x, x_best, side, jax.device_get(draws))
    np.testing.assert_allclose(ours, expected, atol=2e-6 if norm == "Linf" else 2e-5, rtol=0)
    assert np.all((ours >= 0) & (ours <= 1))
    size = np.asarray(flat_norm(jnp.asarray(ours - x), norm))
    assert np.all(size <= eps * (1 + 1e-5) + (1e-6 if norm == "Linf" else 0))
    assert not np.allclose(ours, x_best)  # the step moved something


@pytest.mark.parametrize("norm", ["L2", "L1"])
@pytest.mark.parametrize("h, w, c", [(8, 8, 1), (32, 32, 3), (11, 14, 2)])
def test_start_delta_matches_reference_loop(norm, h, w, c, rng):
    b = 3
    block, offset, n_rows, n_cols = block_grid(h, w)
    signs = rng.choice([-1.0, 1.0], size=(b, n_rows, n_cols, c)).astype(np.float32)
    flips = rng.uniform(size=(b, n_rows, n_cols)) < 0.5
    ours = np.asarray(start_delta(norm, jnp.asarray(signs), jnp.asarray(flips), h, w))
    eta = _reference_eta(block, norm)
    expected = np.zeros((b, c, h, w), np.float32)
    for i in range(b):  # the reference's double loop over blocks, in NCHW
        vh = offset
        for r in range(h // block):
            vw = offset
            for q in range(w // block):
                target = expected[i, :, vh : vh + block, vw : vw + block]
                pattern = (eta.T if flips[i, r, q] else eta)[None] * signs[i, r, q][:, None, None]
                target += pattern[:, : target.shape[1], : target.shape[2]]
                vw += block
            vh += block
    np.testing.assert_allclose(ours, expected.transpose(0, 2, 3, 1), atol=1e-7, rtol=0)


# ----------------------------------------------------------------------------------------------
# The jitted runner.


def _linear_logits(params, x):
    return x.reshape(x.shape[0], -1) @ params["w"] + params["b"][None, :]


def _dyadic_linear_model(n_features, scale, k=10, seed=0):
    """Weights and biases that are small dyadic rationals: on inputs that are multiples of 1/16 the
    logits are exact in float32 in any summation order (JAX and torch agree bit for bit)."""
    rng = np.random.default_rng(seed)
    return {"w": jnp.asarray(rng.integers(-3, 4, size=(n_features, k)) * scale, jnp.float32),
            "b": jnp.asarray(np.arange(k) / 1024, jnp.float32)}


@functools.cache
def _jitted(cfg, logits_fn):
    return whole_attack(cfg, logits_fn)


def _replay_reference(cfg, x, y, key, params, our_queries):
    """Runs the live reference ``SquareAttack.attack_single_run`` fed with the draws our runner made.

    The reference's ``random_int``, ``random_choice`` and the ``torch.rand`` of ``eta`` are replaced by
    iterators over our draws, in the reference's call order. Our per-point draws for the rows still
    attacked at iteration ``it`` are the rows with ``it < n_queries - 1`` in our result.
    """
    b, h, w, c = x.shape
    keys = square.streams(jax.random.fold_in(key, 0), jnp.arange(b))  # restart 0
    schedule = square.window_schedule(cfg, h, w, c)
    n_iter = int(our_queries.max()) - 1
    its = np.arange(n_iter, dtype=np.int32)
    sides = schedule.sides[np.searchsorted(schedule.starts, its, side="right") - 1]
    draw = jax.jit(jax.vmap(lambda it, side: square.sample_draws(cfg, keys.shared, keys.step_points, it, side,
                                                                 x.shape)))
    draws = jax.device_get(draw(jnp.asarray(its), jnp.asarray(sides)))
    start_signs, flips = jax.device_get(square.start_draws(cfg, keys, x.shape))
    ints, choices, rands = [], [], []
    if cfg.norm == "Linf":
        choices.append(start_signs.transpose(0, 3, 1, 2))  # (b, c, 1, w)
    else:
        _, _, n_rows, n_cols = block_grid(h, w)
        for r in range(n_rows):
            for q in range(n_cols):
                rands.append(flips[0, r, q])
                choices.append(start_signs[:, r, q, :, None, None])
    for it in range(n_iter):
        ints += list(draws.corner[it, 0])
        if cfg.norm == "Linf":
            choices.append(draws.signs[it, 0][:, None, None])
        else:
            ints += list(draws.corner2[it, 0])
            rands.append(draws.transpose[it, 0])
            choices.append(draws.signs[it][it < our_queries - 1][:, :, None, None])

    weight, bias = torch.from_numpy(np.array(params["w"])), torch.from_numpy(np.array(params["b"]))

    def model(xt):
        return xt.permute(0, 2, 3, 1).reshape(xt.shape[0], -1) @ weight + bias

    attack = SquareAttack(model, norm=cfg.norm, eps=cfg.eps, n_queries=cfg.n_queries, p_init=cfg.p_init,
                          resc_schedule=cfg.resc_schedule, device="cpu")
    ints, choices, rands = iter(ints), iter(choices), iter(rands)
    attack.random_int = lambda low=0, high=1, shape=(1,): torch.tensor([int(next(ints))])
    attack.random_choice = lambda shape: torch.from_numpy(np.array(next(choices), np.float32)).reshape(shape)
    xt = torch.from_numpy(np.array(np.asarray(x).transpose(0, 3, 1, 2), order="C"))
    yt = torch.from_numpy(np.array(y)).long()
    def fake_rand(*args, **kwargs):  # eta's transposition test is ``torch.rand([1]) > 0.5``
        return torch.tensor([0.75 if next(rands) else 0.25])

    with mock.patch.object(torch, "rand", fake_rand):
        attack.init_hyperparam(xt)
        queries, x_best = attack.attack_single_run(xt, yt)
    assert next(ints, None) is None and next(choices, None) is None  # every draw was consumed
    is_adv = (model(x_best).argmax(1) != yt).numpy()
    return queries.numpy(), x_best.numpy().transpose(0, 2, 3, 1), is_adv


@pytest.mark.parametrize(
    "norm, eps, shape, scale",
    [("Linf", 0.125, (32, 8, 8, 1), 1 / 64), ("L1", 2.0, (32, 8, 8, 1), 1 / 16),
     pytest.param("L2", 1.0, (12, 16, 16, 3), 1 / 64, marks=pytest.mark.slow)],
    ids=["Linf-8x8x1", "L1-8x8x1", "L2-16x16x3"],
)
def test_runner_replays_the_live_reference_trajectory(norm, eps, shape, scale):
    """Given our draws, the reference's own loop reaches the same points with the same query counts."""
    b, h, w, c = shape
    rng = np.random.default_rng(1)
    x = jnp.asarray(rng.integers(0, 17, size=shape) / 16, jnp.float32)
    params = _dyadic_linear_model(h * w * c, scale)
    y = jnp.argmax(_linear_logits(params, x), -1)
    cfg = SquareConfig(norm, eps, n_queries=200)
    key = jax.random.key(7)
    result = _jitted(cfg, _linear_logits)(params, x, y, jnp.ones((b,), bool), key, jnp.arange(b))
    ours_queries, ours_adv = np.asarray(result.n_queries), np.asarray(result.is_adv)
    assert 0 < ours_adv.sum() < b and ours_queries.max() == cfg.n_queries + 1  # both regimes occur
    queries, x_best, is_adv = _replay_reference(cfg, x, y, key, params, ours_queries)
    np.testing.assert_array_equal(ours_queries, queries.astype(np.int64))
    np.testing.assert_array_equal(ours_adv, is_adv)
    np.testing.assert_allclose(np.asarray(result.x_adv)[ours_adv], x_best[ours_adv], atol=1e-6, rtol=0)
    _check_invariants(cfg, _linear_logits, params, x, y, jnp.ones((b,), bool), result)


def _digits_batch(n):
    from alignjax.data.digits import digits_split

    test = digits_split("test")
    return jnp.asarray(test.x[:n]), jnp.asarray(test.y[:n])


def _digits_model():
    from alignjax.models import load_embedded

    return load_embedded()


def _check_invariants(cfg, logits_fn, params, x, y, active, result):
    x_adv = np.asarray(result.x_adv)
    x_np = np.asarray(x)
    is_adv, spent = np.asarray(result.is_adv), np.asarray(result.n_queries)
    assert x_adv.dtype == x_np.dtype and x_adv.shape == x_np.shape
    assert np.all((x_adv >= 0) & (x_adv <= 1))
    size = np.asarray(flat_norm(jnp.asarray(x_adv - x_np), cfg.norm))
    assert np.all(size <= cfg.eps * (1 + 1e-5) + (1e-6 if cfg.norm == "Linf" else 0)), size.max()
    assert np.all(spent <= cfg.n_restarts * (cfg.n_queries + 1)) and np.all(spent >= 0)
    inactive = ~np.asarray(active)
    assert np.all(x_adv[inactive] == x_np[inactive]) and not is_adv[inactive].any()
    assert np.all(spent[inactive] == 0)
    assert np.all(x_adv[~is_adv] == x_np[~is_adv])  # failed rows come back clean
    prediction = np.asarray(jnp.argmax(logits_fn(params, result.x_adv), -1))
    assert np.all(prediction[is_adv] != np.asarray(y)[is_adv])
    assert np.all(spent[np.asarray(active) & (prediction == np.asarray(y))] >= 1)


@pytest.mark.parametrize(
    "cfg",
    [pytest.param(SquareConfig("Linf", 0.3, n_queries=100), marks=pytest.mark.slow),
     SquareConfig("L2", 1.5, n_queries=100),
     pytest.param(SquareConfig("L1", 5.0, n_queries=100), marks=pytest.mark.slow)],
    ids=["Linf", "L2", "L1"],
)
def test_digits_invariants_determinism_and_padding(cfg):
    """The embedded model: feasibility, budget, inactive rows, same key same result, and the same
    points permuted among different inactive padding rows give the same per-point results."""
    logits_fn, params = _digits_model()
    x, y = _digits_batch(24)
    active = jnp.asarray(np.arange(24) < 18) & jnp.asarray(np.arange(24) % 7 != 3)
    ids = jnp.arange(24)
    attack = _jitted(cfg, logits_fn)
    result = attack(params, x, y, active, jax.random.key(0), ids)
    _check_invariants(cfg, logits_fn, params, x, y, active, result)
    assert 0 < np.asarray(result.is_adv).sum() < np.asarray(active).sum()  # informative regime
    assert np.asarray(result.n_queries).max() == cfg.n_queries + 1  # survivors spend the whole budget
    again = attack(params, x, y, active, jax.random.key(0), ids)
    for a, b in zip(result, again):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    other = attack(params, x, y, active, jax.random.key(1), ids)
    assert not np.array_equal(np.asarray(result.x_adv), np.asarray(other.x_adv))
    # rows 0..17 again, permuted, with 6 other inactive rows interleaved (points 300..305 of the set)
    x_more, y_more = _digits_batch(306)
    rows = np.concatenate([np.arange(18), np.arange(300, 306)])
    order = np.random.default_rng(1).permutation(24)
    rows = rows[order]
    moved_active = jnp.asarray(np.isin(rows, np.asarray(ids)[np.asarray(active)]))
    moved = attack(params, x_more[rows], y_more[rows], moved_active, jax.random.key(0), jnp.asarray(rows))
    real = rows < 24
    for name in ("is_adv", "n_queries", "x_adv"):
        np.testing.assert_array_equal(np.asarray(getattr(moved, name))[real],
                                      np.asarray(getattr(result, name))[rows[real]], err_msg=name)


def test_batch_size_does_not_change_results():
    """Shared draws depend on the key and the iteration only, per-image draws on the point id: one
    batch of 24 and the same points in padded batches of 10 give identical results."""
    logits_fn, params = _digits_model()
    x, y = _digits_batch(24)
    active = jnp.asarray(np.arange(24) % 5 != 2)
    cfg = SquareConfig("L2", 1.5, n_queries=100)  # the digits test's config: its compile is reused
    attack = _jitted(cfg, logits_fn)
    whole = attack(params, x, y, active, jax.random.key(0), jnp.arange(24))
    assert 0 < np.asarray(whole.is_adv).sum() < np.asarray(active).sum()
    parts = []
    for start in range(0, 24, 10):
        rows = np.arange(start, start + 10)
        real = rows < 24
        rows = np.where(real, rows, 0)
        part = attack(params, x[rows], y[rows], active[rows] & jnp.asarray(real), jax.random.key(0),
                      jnp.asarray(np.where(real, rows, 1000 + rows)))
        parts.append([np.asarray(a)[real] for a in part])
    for i, name in enumerate(("x_adv", "is_adv", "n_queries")):
        np.testing.assert_array_equal(np.concatenate([p[i] for p in parts]), np.asarray(getattr(whole, name)),
                                      err_msg=name)


def test_per_example_windows():
    """window='per_example' keeps every invariant and does not depend on where a point sits."""
    h = w = 32
    params = _dyadic_linear_model(h * w * 3, 1 / 256)
    x = jnp.asarray(np.random.default_rng(4).uniform(size=(8, h, w, 3)), jnp.float32)
    y = jnp.argmax(_linear_logits(params, x), -1)
    active = jnp.asarray(np.arange(8) != 6)
    cfg = SquareConfig("Linf", 0.03, n_queries=60, window="per_example")
    attack = _jitted(cfg, _linear_logits)
    result = attack(params, x, y, active, jax.random.key(0), jnp.arange(8))
    _check_invariants(cfg, _linear_logits, params, x, y, active, result)
    assert np.asarray(result.is_adv).any()
    order = np.asarray([3, 1, 7, 0, 5, 2, 6, 4])
    moved = attack(params, x[order], y[order], active[order], jax.random.key(0), jnp.asarray(order))
    for name in ("x_adv", "is_adv", "n_queries"):
        expected = np.asarray(getattr(result, name))[order]
        np.testing.assert_array_equal(np.asarray(getattr(moved, name)), expected, err_msg=name)


def _constant_logits(params, x):
    """Always predicts class 0 by a wide margin: Square can never succeed."""
    return jnp.broadcast_to(params["z"][None, :], (x.shape[0], params["z"].shape[0])) + 0.0 * jnp.sum(x)


def test_query_budget_is_exact_for_unbreakable_points():
    params = {"z": jnp.asarray([5.0, 0.0, -1.0], jnp.float32)}
    x = jnp.asarray(np.random.default_rng(0).uniform(size=(5, 8, 8, 1)), jnp.float32)
    y = jnp.asarray([0, 0, 1, 0, 0], jnp.int32)  # row 2 is misclassified from the start: not attacked
    active = jnp.asarray([True, True, True, True, False])
    cfg = SquareConfig("Linf", 0.1, n_queries=40, n_restarts=3)
    result = _jitted(cfg, _constant_logits)(params, x, y, active, jax.random.key(0), jnp.arange(5))
    expected = np.asarray([1, 1, 0, 1, 0]) * cfg.n_restarts * (cfg.n_queries + 1)
    np.testing.assert_array_equal(np.asarray(result.n_queries), expected)
    # as APGD and FAB: an active row misclassified from the start is adversarial as it is (x itself)
    np.testing.assert_array_equal(np.asarray(result.is_adv), [False, False, True, False, False])
    np.testing.assert_array_equal(np.asarray(result.x_adv), np.asarray(x))


def _fragile_logits(params, x):
    """Class 0 at the clean point, class 1 as soon as the input moves at all."""
    moved = jnp.sum(jnp.abs(x - params["x0"]), axis=(1, 2, 3))
    return jnp.stack([1.0 - 1e4 * moved, jnp.zeros_like(moved)], axis=-1)


@pytest.mark.parametrize("norm", ["Linf", pytest.param("L1", marks=pytest.mark.slow)])
def test_returns_after_the_start_when_every_point_starts_broken(norm):
    x = jnp.asarray(np.random.default_rng(0).uniform(0.2, 0.8, size=(4, 10, 10, 1)), jnp.float32)
    y = jnp.zeros((4,), jnp.int32)
    active = jnp.ones((4,), bool)
    cfg = SquareConfig(norm, EPS[norm], n_queries=50)
    result = _jitted(cfg, _fragile_logits)({"x0": x}, x, y, active, jax.random.key(0), jnp.arange(4))
    np.testing.assert_array_equal(np.asarray(result.n_queries), np.ones(4))
    assert np.asarray(result.is_adv).all()
    _check_invariants(cfg, _fragile_logits, {"x0": x}, x, y, active, result)


def test_restarts_continue_only_on_survivors():
    params = _dyadic_linear_model(64, 1 / 64)
    x = jnp.asarray(np.random.default_rng(5).integers(0, 17, size=(32, 8, 8, 1)) / 16, jnp.float32)
    y = jnp.argmax(_linear_logits(params, x), -1)
    active, ids = jnp.ones((32,), bool), jnp.arange(32)
    # the replay test's config and shapes: its compiled function is reused
    one = _jitted(SquareConfig("Linf", 0.125, n_queries=200), _linear_logits)(params, x, y, active,
                                                                             jax.random.key(0), ids)
    cfg = SquareConfig("Linf", 0.125, n_queries=200, n_restarts=2)
    two = _jitted(cfg, _linear_logits)(params, x, y, active, jax.random.key(0), ids)
    first = np.asarray(one.is_adv)
    assert first.any() and not first.all()
    assert np.all(np.asarray(two.is_adv)[first])
    # restart 0 is the same run; rows it broke are not attacked again
    np.testing.assert_array_equal(np.asarray(two.x_adv)[first], np.asarray(one.x_adv)[first])
    np.testing.assert_array_equal(np.asarray(two.n_queries)[first], np.asarray(one.n_queries)[first])
    assert np.all(np.asarray(two.n_queries)[~first] > np.asarray(one.n_queries)[~first])
    _check_invariants(cfg, _linear_logits, params, x, y, active, two)


def test_traces_once_per_config_and_batch_shape():
    traces = []
    cfg = SquareConfig("Linf", 0.1, n_queries=20)

    def traced(params, images):
        traces.append(images.shape)
        return _linear_logits(params, images)

    attack = whole_attack(cfg, traced)

    params = _dyadic_linear_model(64, 1 / 8)
    rng = np.random.default_rng(0)
    batches = [(jnp.asarray(rng.uniform(size=(6, 8, 8, 1)), jnp.float32), jnp.asarray(rng.integers(0, 10, 6), jnp.int32))
               for _ in range(3)]
    counts = []
    for _ in range(2):  # the second round meets only shapes the first compiled: nothing is traced again
        for seed, (x, y) in enumerate(batches):
            attack(params, x, y, jnp.ones((6,), bool), jax.random.key(seed), jnp.arange(6))
        counts.append(len(traces))
    assert counts[1] == counts[0] and (6, 8, 8, 1) in traces


# ----------------------------------------------------------------------------------------------
# Robust-accuracy parity with the live reference (slow; minutes on CPU).


@pytest.mark.slow
@pytest.mark.parametrize("norm", ["Linf", "L2", "L1"])
def test_robust_accuracy_matches_pyautoattack(norm):
    """397 digits test points, Square(5000, p_init 0.8) as AutoAttack runs it. Robust accuracy is
    averaged over 3 seeds on each side: single runs of either implementation differ from each other by
    up to ~2 pp for L1 on this model (Square's own seed-to-seed spread), the means by far less."""
    from pyautoattack import AutoAttack

    from alignjax.data.digits import digits_split
    from tests.torch_twins import digits_cnn_torch, nhwc_to_nchw

    seeds = (0, 1, 2)
    logits_fn, params = _digits_model()
    test = digits_split("test")
    x, y = jnp.asarray(test.x), jnp.asarray(test.y)
    clean = jnp.argmax(logits_fn(params, x), -1) == y
    attack = _jitted(SquareConfig(norm, EPS[norm]), logits_fn)
    ours = []
    for seed in seeds:
        result = attack(params, x, y, clean, jax.random.key(seed), jnp.arange(len(y)))
        _check_invariants(SquareConfig(norm, EPS[norm]), logits_fn, params, x, y, clean, result)
        ours.append(float(jnp.mean(clean & (jnp.argmax(logits_fn(params, result.x_adv), -1) == y))))

    model = digits_cnn_torch(params)
    xt, yt = nhwc_to_nchw(np.asarray(x)), torch.from_numpy(np.array(y)).long()
    theirs = []
    for seed in seeds:
        adversary = AutoAttack(model, norm=norm, eps=EPS[norm], version="custom", attacks=["square"],
                               seed=seed, device="cpu")
        with torch.no_grad():
            adv, _ = adversary.run_standard_evaluation(xt, yt, batch_size=250)
            theirs.append((model(adv).argmax(1) == yt).float().mean().item())
    assert abs(np.mean(ours) - np.mean(theirs)) <= 0.01, (ours, theirs)
