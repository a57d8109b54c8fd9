"""``alignjax.models.max_pool`` against torch's ``max_pool2d`` (values and gradients, ties included) and
against ``flax.linen.max_pool`` (the reduce_window it replaces)."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from alignjax.models.max_pool import max_pool

# (window, strides, padding, NHWC shape): every configuration the zoo uses, plus odd sizes
CASES = [
    ((2, 2), (2, 2), ((0, 0), (0, 0)), (3, 8, 8, 5)),  # digits CNN, VGG
    ((2, 2), (2, 2), ((0, 0), (0, 0)), (2, 9, 7, 3)),  # odd sizes: the remainder is dropped
    ((3, 3), (2, 2), ((1, 1), (1, 1)), (2, 11, 9, 4)),  # ResNet stem, CORnet
    ((3, 3), (2, 2), ((0, 0), (0, 0)), (2, 13, 13, 3)),  # AlexNet
]


def _torch_pool(x: np.ndarray, cotangent: np.ndarray, window, strides, padding):
    xt = torch.tensor(x).permute(0, 3, 1, 2).requires_grad_()
    out = torch.nn.functional.max_pool2d(xt, window, strides, padding=padding[0][0])
    out.backward(torch.tensor(cotangent).permute(0, 3, 1, 2))
    return out.detach().permute(0, 2, 3, 1).numpy(), xt.grad.permute(0, 2, 3, 1).numpy()


@pytest.mark.parametrize(("window", "strides", "padding", "shape"), CASES)
@pytest.mark.parametrize("values", ["ties", "continuous"])
def test_values_and_gradients_equal_torch(window, strides, padding, shape, values):
    rng = np.random.default_rng(0)
    # small integers: most windows hold several equal maxima, where the gradient goes to the first
    x = (rng.integers(0, 3, size=shape) if values == "ties" else rng.normal(size=shape)).astype(np.float32)
    out, vjp = jax.vjp(lambda v: max_pool(v, window, strides, padding), jnp.asarray(x))
    cotangent = rng.normal(size=out.shape).astype(np.float32)
    (grad,) = vjp(jnp.asarray(cotangent))
    torch_out, torch_grad = _torch_pool(x, cotangent, window, strides, padding)
    np.testing.assert_array_equal(np.asarray(out), torch_out)
    np.testing.assert_array_equal(np.asarray(grad), torch_grad)
    # and exactly what flax's reduce_window + select_and_scatter gives
    flax_out, flax_vjp = jax.vjp(lambda v: nn.max_pool(v, window, strides=strides, padding=padding), jnp.asarray(x))
    np.testing.assert_array_equal(np.asarray(out), np.asarray(flax_out))
    np.testing.assert_array_equal(np.asarray(grad), np.asarray(flax_vjp(jnp.asarray(cotangent))[0]))


def test_jit_grad_and_a_window_too_large():
    x = jnp.asarray(np.random.default_rng(1).normal(size=(2, 6, 6, 3)).astype(np.float32))
    grad = jax.jit(jax.grad(lambda v: jnp.sum(max_pool(v, (3, 3), (2, 2), ((1, 1), (1, 1))) ** 2)))(x)
    assert np.isfinite(np.asarray(grad)).all() and np.count_nonzero(np.asarray(grad)) > 0
    with pytest.raises(ValueError, match="larger than the padded input"):
        max_pool(x, (7, 7))
