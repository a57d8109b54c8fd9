"""The cascade's bookkeeping, with a toy attack whose outcome is known in advance.

The toy attack adds per-point uniform noise (drawn from the point's own key) to a linear model's
input; it is a real ``Attack``, so these tests exercise the same engine (batching, padding, masking,
re-verification and resume code paths) as APGD/FAB/Square.
"""

from __future__ import annotations

import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from alignjax.attacks.engine import passes
from alignjax.attacks.engine.cascade import run_autoattack
from alignjax.attacks.protocol import Attack, PassResult, keep_where, per_point_keys
from alignjax.attacks.report import prepare_output_dir, write_results
from alignjax.errors import InputError
from alignjax.types import Model

N, D, K = 37, 4, 3


TRACES = {"count": 0}


@dataclasses.dataclass(frozen=True)
class NoiseConfig(Attack):
    norm: str = "Linf"
    eps: float = 0.3
    amplitude: float = 0.3
    tag: str = "noise"

    @property
    def name(self) -> str:
        return self.tag

    @property
    def n_passes(self) -> int:
        return 1

    def run_pass(self, model: Model, params, x, y, robust, pass_index, *, key, point_ids) -> PassResult:
        TRACES["count"] += 1
        keys = per_point_keys(key, point_ids)
        noise = jax.vmap(lambda k: jax.random.uniform(k, x.shape[1:], minval=-self.amplitude,
                                                      maxval=self.amplitude))(keys)
        x_new = jnp.clip(x + noise, 0.0, 1.0)
        broken = robust & (jnp.argmax(model(params, x_new, key=key), -1) != y)
        return PassResult(keep_where(broken, x_new, x), broken, jnp.zeros(x.shape[0], jnp.int32))


def linear_logits(params, x):
    return x.reshape(x.shape[0], -1) @ params["w"]


@pytest.fixture
def problem():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(D, K)).astype(np.float32)
    x = rng.uniform(0.2, 0.8, size=(N, 2, 2, 1)).astype(np.float32)
    y = np.argmax(x.reshape(N, -1) @ w, 1).astype(np.int32)
    y[:5] = (y[:5] + 1) % K  # five clean errors
    return {"w": w}, x, y


def run(problem, **kw):
    params, x, y = problem
    kw.setdefault("attacks", (NoiseConfig(amplitude=0.05, tag="weak"), NoiseConfig(amplitude=0.3, tag="strong")))
    return run_autoattack(linear_logits, params, x, y, key=jax.random.key(1), run_checks=False, **kw)


def test_bookkeeping_matches_a_direct_computation(problem):
    params, x, y = problem
    result = run(problem, batch_size=8)
    clean_pred = np.argmax(x.reshape(N, -1) @ params["w"], 1)
    np.testing.assert_array_equal(result.clean_correct, clean_pred == y)
    assert not result.robust[:5].any() and (result.broken_by[:5] == "clean").all()
    # robust points come back clean; broken ones carry a misclassified example
    robust = result.robust
    np.testing.assert_array_equal(result.x_adv[robust], x[robust])
    broken = (result.broken_by == "weak") | (result.broken_by == "strong")
    adv_pred = np.argmax(result.x_adv.reshape(N, -1) @ params["w"], 1)
    assert broken.any()
    assert (adv_pred[broken] != y[broken]).all()
    np.testing.assert_array_equal(result.y_adv[broken], adv_pred[broken])
    # accuracy after each attack is over all n points and never goes up
    after = result.robust_accuracy_after()
    assert after["clean"] >= after["weak"] >= after["strong"] == pytest.approx(robust.mean() * 100)
    assert result.attacks[0].n_broken + result.attacks[1].n_broken + (~result.clean_correct).sum() == (~robust).sum()


def test_same_key_same_result_whatever_the_batch_size(problem):
    a = run(problem, batch_size=5)
    b = run(problem, batch_size=64)
    c = run(problem, batch_size=1)
    for other in (b, c):
        np.testing.assert_array_equal(a.robust, other.robust)
        np.testing.assert_array_equal(a.broken_by, other.broken_by)
        np.testing.assert_allclose(a.x_adv, other.x_adv, atol=1e-7)


def test_a_different_key_changes_the_noise(problem):
    params, x, y = problem
    a = run(problem, batch_size=8)
    b = run_autoattack(linear_logits, params, x, y, attacks=(NoiseConfig(amplitude=0.05, tag="weak"),
                       NoiseConfig(amplitude=0.3, tag="strong")), key=jax.random.key(2), run_checks=False)
    broken = (a.broken_by != "clean") & (b.broken_by != "clean") & ~a.robust & ~b.robust
    assert not np.allclose(a.x_adv[broken], b.x_adv[broken])


def test_one_compilation_per_config_and_batch_shape(problem):
    cfg = (NoiseConfig(amplitude=0.2, tag="trace-probe"),)
    TRACES["count"] = 0
    passes.programs.cache_clear()
    run(problem, attacks=cfg, batch_size=4)  # 32 clean-correct points -> 8 batches of one shape
    assert TRACES["count"] == 1


def test_cascade_never_unbreaks_a_point(problem):
    result = run(problem, attacks=(NoiseConfig(amplitude=0.3, tag="a"), NoiseConfig(amplitude=0.01, tag="b")), batch_size=7)
    single = run(problem, attacks=(NoiseConfig(amplitude=0.3, tag="a"),), batch_size=7)
    assert (~single.robust <= ~result.robust).all()  # broken after attack a stays broken


def test_individual_mode_runs_each_attack_on_all_clean_correct_points(problem):
    result = run(problem, individual=True, batch_size=8)
    weak, strong = result.individual["weak"], result.individual["strong"]
    alone = run(problem, attacks=(NoiseConfig(amplitude=0.3, tag="strong"),), batch_size=8)
    np.testing.assert_array_equal(strong, alone.robust)  # same key position -> same noise
    np.testing.assert_array_equal(result.robust, weak & strong)


def test_resume_after_interruption_gives_the_uninterrupted_result(problem, tmp_path):
    full = run(problem, batch_size=4)
    calls = {"n": 0}

    def interrupt(name, done, total, robust):  # called at each attack's start, then after each batch
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt

    state = tmp_path / "state"
    from alignjax.attacks.engine.state import CascadeState

    saves = []
    original = CascadeState.save
    CascadeState.save = lambda self, d, f: (saves.append(1), original(self, d, f))
    try:
        with pytest.raises(KeyboardInterrupt):
            run(problem, batch_size=4, state_dir=state, progress=interrupt)
    finally:
        CascadeState.save = original
    resumed = run(problem, batch_size=4, state_dir=state)
    np.testing.assert_array_equal(resumed.robust, full.robust)
    np.testing.assert_array_equal(resumed.broken_by, full.broken_by)
    np.testing.assert_allclose(resumed.x_adv, full.x_adv)


def test_resume_in_the_middle_of_an_attack(problem, tmp_path):
    full = run(problem, batch_size=4)
    calls = {"n": 0}

    def interrupt(name, done, total, robust):
        calls["n"] += 1
        if calls["n"] == 4:  # the first attack's start, then its third batch
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(problem, batch_size=4, state_dir=tmp_path, progress=interrupt, checkpoint_seconds=0.0)
    with np.load(tmp_path / "state.npz") as saved:
        meta = json.loads(str(saved["meta"]))
        assert meta["attack_index"] == 0 and saved["attempted"].sum() == 8  # two batches of 4 were saved
    seen = []
    resumed = run(problem, batch_size=4, state_dir=tmp_path, progress=lambda n, d, t, r: seen.append((n, d, t)))
    assert seen[0][1] == 8 and seen[1][1] == 12  # starts from, then picks up after, the 8 points attacked
    np.testing.assert_array_equal(resumed.robust, full.robust)
    np.testing.assert_array_equal(resumed.broken_by, full.broken_by)
    np.testing.assert_allclose(resumed.x_adv, full.x_adv)


def test_resume_refuses_the_state_of_another_evaluation(problem, tmp_path):
    run(problem, batch_size=4, state_dir=tmp_path)
    params, x, y = problem
    with pytest.raises(InputError, match="different evaluation"):
        run_autoattack(linear_logits, params, x[:-1], y[:-1], attacks=(NoiseConfig(),), key=jax.random.key(1),
                       state_dir=tmp_path, run_checks=False)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda x, y: (x * 255, y), "looks like 0..255"),
        (lambda x, y: (x - 0.5, y), r"must lie in \[0, 1\]"),
        (lambda x, y: (np.where(np.arange(N)[:, None, None, None] == 3, np.nan, x), y), "NaN or inf"),
        (lambda x, y: (x[:, :, :, 0], y), "4-D batch"),
        (lambda x, y: ((x * 255).astype(np.uint8), y), "divide by 255"),
        (lambda x, y: (x, y + K), "model has 3 classes"),
        (lambda x, y: (x, y[:-1]), "must have shape"),
        (lambda x, y: (x, y - 10), "negative labels"),
    ],
)
def test_bad_input_is_named(problem, mutate, message):
    params, x, y = problem
    bad_x, bad_y = mutate(x, y)
    with pytest.raises(InputError, match=message):
        run_autoattack(linear_logits, params, bad_x, bad_y, attacks=(NoiseConfig(),), key=jax.random.key(0),
                       run_checks=False)


def test_mixed_norms_are_refused(problem):
    params, x, y = problem
    with pytest.raises(InputError, match="share norm and eps"):
        run_autoattack(linear_logits, params, x, y, attacks=(NoiseConfig(), NoiseConfig(norm="L2")),
                       key=jax.random.key(0))


def test_results_are_written_and_an_existing_result_is_refused(problem, tmp_path):
    import polars as pl

    _, _, y = problem
    result = run(problem, batch_size=8)
    out = prepare_output_dir(tmp_path / "run", overwrite=False)
    write_results(out, result, y, {"note": "test"})
    frame = pl.read_parquet(out / "points.parquet")
    assert frame.height == N and frame["robust"].to_numpy().tolist() == result.robust.tolist()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["robust_accuracy"] == pytest.approx(result.robust_accuracy)
    assert [a["name"] for a in summary["attacks"]] == ["weak", "strong"]
    with pytest.raises(InputError, match="already holds results"):
        prepare_output_dir(out, overwrite=False)
    prepare_output_dir(out, overwrite=True)
    assert not (out / "summary.json").exists()


class NoisyLinear:
    """A randomised defence: Gaussian noise on the input, drawn from the key of each forward pass."""

    stochastic = True

    def __call__(self, params, x, key):
        noisy = x + 0.05 * jax.random.normal(key, x.shape)
        return noisy.reshape(x.shape[0], -1) @ params["w"]


def test_rand_version_runs_on_a_stochastic_model_and_checks_flag_it(problem):
    from alignjax.attacks import presets

    params, x, y = problem
    model = NoisyLinear()
    rand = run_autoattack(model, params, x, y, attacks=presets.rand("Linf", 0.2), key=jax.random.key(0),
                          batch_size=16)
    assert [a.name for a in rand.attacks] == ["apgd-ce", "apgd-dlr"]
    assert not any("randomized" in w for w in rand.warnings)  # the reference skips the check for 'rand'
    assert rand.robust_accuracy <= rand.clean_accuracy
    plain = run_autoattack(model, params, x, y, attacks=(NoiseConfig(amplitude=0.0),), key=jax.random.key(0))
    assert any("randomized defense" in w for w in plain.warnings)
