"""Attack losses against independent NumPy oracles and the reference's own torch formulas."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from pyautoattack.autopgd_base import APGDAttack, APGDAttack_targeted

from alignjax.attacks.losses import cross_entropy, dlr_loss, dlr_targeted_loss, margin_loss
from tests.attacks.reference_oracles import dlr_numpy, dlr_targeted_numpy, margin_numpy


def _logits(rng, b=64, k=10, ties=False):
    z = rng.normal(size=(b, k)).astype(np.float32) * 3
    if ties:
        # Quantise hard so maxima and runner-ups tie often, including the label tying for the top.
        z = np.round(z).astype(np.float32)
    return z


def _labels(rng, z):
    y = rng.integers(0, z.shape[1], size=z.shape[0])
    # Make some labels the (possibly tied) argmax, where the tie rule matters.
    y[::3] = np.argmax(z[::3], axis=1)
    return y


@pytest.mark.parametrize("ties", [False, True])
def test_dlr_matches_oracle_and_reference(rng, ties):
    z = _logits(rng, ties=ties)
    y = _labels(rng, z)
    ours = np.asarray(dlr_loss(jnp.asarray(z), jnp.asarray(y)))
    np.testing.assert_allclose(ours, dlr_numpy(z, y), rtol=1e-6, atol=1e-6)
    reference = APGDAttack.dlr_loss(None, torch.tensor(z), torch.tensor(y)).numpy()
    np.testing.assert_allclose(ours, reference, rtol=1e-6, atol=1e-6)
    if ties:
        # The tie case was really exercised: some label ties for the top without being the last index.
        top = z.max(axis=1)
        tied_not_last = [
            z[i, y[i]] == top[i] and np.flatnonzero(z[i] == top[i])[-1] != y[i] for i in range(len(y))
        ]
        assert any(tied_not_last)


@pytest.mark.parametrize("ties", [False, True])
def test_targeted_dlr_matches_oracle_and_reference(rng, ties):
    z = _logits(rng, ties=ties)
    y = _labels(rng, z)
    t = (y + 1 + rng.integers(0, z.shape[1] - 1, size=y.shape)) % z.shape[1]
    ours = np.asarray(dlr_targeted_loss(jnp.asarray(z), jnp.asarray(y), jnp.asarray(t)))
    np.testing.assert_allclose(ours, dlr_targeted_numpy(z, y, t), rtol=1e-6, atol=1e-6)

    class Holder:
        y_target = torch.tensor(t)

    reference = APGDAttack_targeted.dlr_loss_targeted(Holder(), torch.tensor(z), torch.tensor(y)).numpy()
    np.testing.assert_allclose(ours, reference, rtol=1e-6, atol=1e-6)


def test_cross_entropy_matches_torch(rng):
    z = _logits(rng)
    y = _labels(rng, z)
    ours = np.asarray(cross_entropy(jnp.asarray(z), jnp.asarray(y)))
    reference = torch.nn.CrossEntropyLoss(reduction="none")(torch.tensor(z), torch.tensor(y)).numpy()
    np.testing.assert_allclose(ours, reference, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("ties", [False, True])
def test_margin_matches_oracle(rng, ties):
    z = _logits(rng, ties=ties)
    y = _labels(rng, z)
    ours = np.asarray(margin_loss(jnp.asarray(z), jnp.asarray(y)))
    np.testing.assert_allclose(ours, margin_numpy(z, y), rtol=1e-6, atol=1e-6)
    misclassified = np.argmax(z, 1) != y
    assert np.all(ours[misclassified] <= 0) and np.all(misclassified[ours < 0])


def test_dlr_denominator_epsilon():
    # z_(1) == z_(3): the denominator is exactly 1e-12 (in float32), as in the reference.
    z = jnp.array([[1.0, 1.0, 1.0, 0.0]], jnp.float32)
    y = jnp.array([3])
    assert float(dlr_loss(z, y)[0]) == pytest.approx(1.0 / float(np.float32(1e-12)), rel=1e-6)


@pytest.mark.parametrize(
    "fn, k, message",
    [
        (lambda z, y: dlr_loss(z, y), 2, "at least 3 classes"),
        (lambda z, y: dlr_targeted_loss(z, y, y), 3, "at least 4 classes"),
        (lambda z, y: margin_loss(z, y), 1, "at least 2 classes"),
    ],
)
def test_too_few_classes_raise_at_trace_time(fn, k, message):
    z = jnp.zeros((2, k), jnp.float32)
    y = jnp.zeros((2,), jnp.int32)
    with pytest.raises(ValueError, match=message):
        jax.jit(fn).lower(z, y)


def test_losses_have_finite_gradients(rng):
    z = jnp.asarray(_logits(rng))
    y = jnp.asarray(_labels(rng, np.asarray(z)))
    for fn in (cross_entropy, dlr_loss, margin_loss, lambda a, b: dlr_targeted_loss(a, b, (b + 1) % 10)):
        grad = jax.grad(lambda a, fn=fn: jnp.sum(fn(a, y)))(z)
        assert bool(jnp.all(jnp.isfinite(grad)))
