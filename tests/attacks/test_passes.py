"""Survivor compaction, batch back-off, Square's chunked stop test and FAB's class chunks give the
same per-point results as the whole-batch programs they replace (issue: attack speed)."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from alignjax.attacks import fab, square
from alignjax.attacks.apgd import APGDConfig
from alignjax.attacks.engine import batching, passes
from alignjax.attacks.engine.cascade import attack_key_for, run_autoattack
from alignjax.attacks.fab import FABConfig
from alignjax.attacks.square import SquareConfig
from alignjax.data.digits import digits_split
from alignjax.models import load_embedded
from alignjax.models.precision import with_compute_dtype
from alignjax.types import Model
from tests.attacks.engine_helpers import masked_attack

N = 48


@pytest.fixture(scope="module")
def digits():
    logits_fn, variables = load_embedded()
    test = digits_split("test")
    return logits_fn, variables, np.asarray(test.x[:N]), np.asarray(test.y[:N])


def whole_batch(cfg, digits):
    """The attack as one jitted program on the whole (unpacked) batch: the pre-compaction behaviour."""
    logits_fn, variables, x, y = digits
    key = jax.random.key(5)
    out = masked_attack(cfg, logits_fn)(variables, x, y, np.ones(len(x), bool), key, np.arange(len(x), dtype=np.int32))
    x_adv = np.asarray(out.x_adv)
    pred = np.asarray(jax.jit(logits_fn)(variables, x_adv)).argmax(1)
    return x_adv, pred != y


def assert_equals_whole_batch_program(cfg, digits, result):
    """``result`` (a cascade run with key 5) breaks the points, with the same x_adv, that the attack as
    one jitted program on the whole (unpacked) batch breaks; returns that program's result."""
    logits_fn, variables, x, y = digits
    # the cascade's attack key is derived from the run key; rerun the whole program with that key
    key = attack_key_for(jax.random.key(5), (cfg,), 0)
    clean = np.asarray(jax.jit(logits_fn)(variables, x)).argmax(1) == y
    out = masked_attack(cfg, logits_fn)(variables, x, y, clean, key, np.arange(len(x), dtype=np.int32))
    x_whole = np.asarray(out.x_adv)
    broken_whole = clean & (np.asarray(jax.jit(logits_fn)(variables, x_whole)).argmax(1) != y)
    assert 0 < broken_whole.sum() < clean.sum(), "choose eps so that the attack breaks some points, not all"
    np.testing.assert_array_equal(~result.robust & result.clean_correct, broken_whole)
    np.testing.assert_allclose(result.x_adv[broken_whole], x_whole[broken_whole], atol=1e-6)
    return out


CONFIGS = [
    APGDConfig("Linf", 0.12, n_iter=8, loss="dlr-targeted", n_target_classes=3),
    APGDConfig("L2", 0.6, n_iter=8, n_restarts=3),
    FABConfig("Linf", 0.12, n_iter=6, targeted=True, n_target_classes=3),
    SquareConfig("Linf", 0.12, n_queries=40, n_restarts=2),
]


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: f"{c.name}-{c.norm}")
def test_compacted_passes_equal_the_whole_batch_program(cfg, digits):
    logits_fn, variables, x, y = digits
    result = run_autoattack(logits_fn, variables, x, y, attacks=(cfg,), key=jax.random.key(5), batch_size=32,
                            run_checks=False)
    assert_equals_whole_batch_program(cfg, digits, result)


@pytest.mark.parametrize(("norm", "eps"), [("Linf", 0.25), pytest.param("L2", 1.2, marks=pytest.mark.slow),
                                          pytest.param("L1", 4.0, marks=pytest.mark.slow)])
def test_square_segments_repacked_equal_the_whole_batch_program(norm, eps, digits, monkeypatch):
    """Square's restarts cut into 8-iteration segments, the rows still attacked re-packed between them
    (``Attack.n_segments``), give what the whole-batch program gives: same broken points, points, query counts.
    The re-packing is the engine's, the same for every norm: Linf by default, L2 and L1 (35 and 60
    CPU-seconds) with ``-m slow``."""
    monkeypatch.setattr(square, "ITERATIONS_PER_SEGMENT", 8)
    passes.programs.cache_clear()  # compiled with the default segment length by other tests
    cfg = SquareConfig(norm, eps, n_queries=60, n_restarts=2)
    assert cfg.n_segments == 8
    logits_fn, variables, x, y = digits
    sizes = []  # the batch size of every segment that ran
    progs = passes.programs(cfg, Model.of(logits_fn), False, 1)
    segment = progs.segment
    monkeypatch.setattr(progs, "segment", lambda *a: sizes.append(len(a[1])) or segment(*a))
    result = run_autoattack(logits_fn, variables, x, y, attacks=(cfg,), key=jax.random.key(5), batch_size=32,
                            run_checks=False)
    passes.programs.cache_clear()
    assert sizes and min(sizes) < max(sizes), f"no re-packing between segments: {sizes}"
    out = assert_equals_whole_batch_program(cfg, digits, result)
    np.testing.assert_array_equal(result.n_queries, np.asarray(out.n_queries))


def test_bucket_sizes_are_two_per_octave_capped_by_the_batch():
    sizes = [batching.bucket_size(m, 500) for m in (1, 2, 3, 4, 5, 7, 64, 65, 97, 182, 193, 257, 385, 500)]
    assert sizes == [1, 2, 3, 4, 6, 8, 64, 96, 128, 192, 256, 384, 500, 500]
    for m in range(1, 501):  # the smallest size of the form 2^k or 3 * 2^k that holds m rows
        allowed = [s for k in range(10) for s in (2**k, 3 * 2**k) if s >= m]
        assert batching.bucket_size(m, 10_000) == min(allowed)
    assert batching.bucket_size(3, 500, n_devices=8) == 8
    assert batching.bucket_size(3, 6, n_devices=8) == 6


def test_out_of_memory_halves_the_batch_and_keeps_the_results(digits, monkeypatch):
    logits_fn, variables, x, y = digits
    cfg = APGDConfig("Linf", 0.12, n_iter=5)
    expected = run_autoattack(logits_fn, variables, x, y, attacks=(cfg,), key=jax.random.key(2), batch_size=16,
                              run_checks=False)
    real_batch = passes.attack_batch
    seen = []

    def batch_that_fits_only_8(progs, params, xb, *args):
        seen.append(len(xb))
        if len(xb) > 8:
            raise RuntimeError("RESOURCE_EXHAUSTED: Out of memory while trying to allocate 1.2GiB")
        return real_batch(progs, params, xb, *args)

    monkeypatch.setattr(passes, "attack_batch", batch_that_fits_only_8)
    logs = []
    result = run_autoattack(logits_fn, variables, x, y, attacks=(cfg,), key=jax.random.key(2), batch_size=32,
                            run_checks=False, log=logs.append)
    assert seen[:3] == [32, 16, 8] and set(seen[3:]) == {8}
    assert any("batch size lowered to 8" in line for line in logs)
    np.testing.assert_array_equal(result.robust, expected.robust)
    np.testing.assert_allclose(result.x_adv, expected.x_adv, atol=1e-6)


def test_other_errors_are_not_swallowed(digits, monkeypatch):
    logits_fn, variables, x, y = digits

    def broken(*_args):
        raise RuntimeError("INVALID_ARGUMENT: something else")

    monkeypatch.setattr(passes, "attack_batch", broken)
    with pytest.raises(RuntimeError, match="INVALID_ARGUMENT"):
        run_autoattack(logits_fn, variables, x, y, attacks=(APGDConfig("Linf", 0.1, n_iter=2),),
                       key=jax.random.key(0), batch_size=16, run_checks=False)


def test_square_stop_test_every_chunk_equals_every_iteration(digits, monkeypatch):
    cfg = SquareConfig("L2", 0.6, n_queries=37)
    chunked = whole_batch(cfg, digits)
    monkeypatch.setattr(square, "ITERATIONS_PER_STOP_TEST", 1)
    every = whole_batch(cfg, digits)
    np.testing.assert_array_equal(chunked[1], every[1])
    np.testing.assert_array_equal(chunked[0], every[0])


def test_fab_jacobian_in_class_chunks_equals_the_full_jacobian(digits, monkeypatch):
    cfg = FABConfig("L2", 0.6, n_iter=6)  # untargeted: the (b, k, d) Jacobian
    full = whole_batch(cfg, digits)
    per_image = 4 * N * 64
    monkeypatch.setattr(fab, "JACOBIAN_CHUNK_BYTES", 3 * per_image)  # 3 classes a chunk: 4 chunks, last padded
    assert fab._classes_per_chunk(N, 64, 10) == 3
    chunked = whole_batch(cfg, digits)
    np.testing.assert_array_equal(full[1], chunked[1])
    np.testing.assert_allclose(full[0], chunked[0], atol=1e-5)


def test_bf16_compute_keeps_float32_logits_and_close_accuracy(digits):
    logits_fn, variables, x, y = digits
    bf16 = with_compute_dtype(logits_fn, "bf16")
    assert with_compute_dtype(logits_fn, "fp32") is logits_fn
    logits32, logits16 = np.asarray(logits_fn(variables, x)), bf16(variables, x)
    assert logits16.dtype == np.float32
    assert np.abs(np.asarray(logits16) - logits32).max() > 0  # the model really ran in bfloat16
    np.testing.assert_allclose(np.asarray(logits16), logits32, atol=0.05 * np.abs(logits32).max())
    grad = jax.grad(lambda z: bf16(variables, z).sum())(x)
    assert grad.dtype == np.float32 and np.isfinite(np.asarray(grad)).all()
    cfg = APGDConfig("Linf", 0.1, n_iter=10)
    robust = [run_autoattack(fn, variables, x, y, attacks=(cfg,), key=jax.random.key(0), batch_size=N,
                             run_checks=False).robust_accuracy for fn in (logits_fn, bf16)]
    assert abs(robust[0] - robust[1]) <= 100 * 3 / N  # a few points of 48 at most
    with pytest.raises(ValueError, match="precision"):
        with_compute_dtype(logits_fn, "fp8")


SHARDED_RUN = """
import sys, jax, numpy as np
from alignjax.attacks.apgd import APGDConfig
from alignjax.attacks.engine.cascade import run_autoattack
from alignjax.attacks import square
from alignjax.attacks.square import SquareConfig
from alignjax.data.digits import digits_split
from alignjax.models import load_embedded
square.ITERATIONS_PER_SEGMENT = 8  # Square's restart in 3 segments, re-packed across the devices too
assert jax.local_device_count() == int(sys.argv[2]), jax.local_devices()
logits_fn, variables = load_embedded()
test = digits_split("test")
attacks = (APGDConfig("Linf", 0.12, n_iter=5, loss="dlr-targeted", n_target_classes=2),
           SquareConfig("Linf", 0.12, n_queries=20))
r = run_autoattack(logits_fn, variables, test.x[:40], test.y[:40], attacks=attacks, key=jax.random.key(3),
                   batch_size=16, run_checks=False)
np.savez(sys.argv[1], robust=r.robust, x_adv=r.x_adv, broken_by=r.broken_by.astype(str), n_queries=r.n_queries)
"""


def test_eight_devices_give_the_per_point_results_of_one(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    outs = {}
    for devices in (1, 8):
        env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}", JAX_PLATFORMS="cpu",
                   PYTHONPATH=str(root) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        out = tmp_path / f"{devices}.npz"
        subprocess.run([sys.executable, "-c", SHARDED_RUN, str(out), str(devices)], env=env, check=True,
                       timeout=600)
        outs[devices] = np.load(out)
    one, eight = outs[1], outs[8]
    assert 0 < one["robust"].sum() < 40
    np.testing.assert_array_equal(one["robust"], eight["robust"])
    np.testing.assert_array_equal(one["broken_by"], eight["broken_by"])
    np.testing.assert_array_equal(one["n_queries"], eight["n_queries"])
    np.testing.assert_allclose(one["x_adv"], eight["x_adv"], atol=1e-6)
