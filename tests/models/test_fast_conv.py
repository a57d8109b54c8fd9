"""fast_conv_general_dilated: same values and gradients as lax.conv_general_dilated."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from alignjax.models.fast_conv import fast_conv_general_dilated

CASES = [
    dict(shape=(2, 9, 9, 3), kernel=(3, 3, 3, 5), strides=(1, 1), padding="SAME", groups=1, dilation=(1, 1)),
    dict(shape=(2, 9, 8, 4), kernel=(3, 3, 4, 6), strides=(2, 2), padding=((1, 1), (1, 1)), groups=1,
         dilation=(1, 1)),
    dict(shape=(1, 11, 11, 2), kernel=(7, 7, 2, 4), strides=(2, 2), padding=((3, 3), (3, 3)), groups=1,
         dilation=(1, 1)),
    dict(shape=(2, 10, 10, 4), kernel=(3, 3, 4, 4), strides=(1, 1), padding="VALID", groups=1, dilation=(2, 2)),
    dict(shape=(2, 8, 8, 6), kernel=(7, 7, 1, 6), strides=(1, 1), padding="SAME", groups=6, dilation=(1, 1)),
    dict(shape=(2, 8, 8, 4), kernel=(1, 1, 2, 6), strides=(1, 1), padding="VALID", groups=2, dilation=(1, 1)),
]


@pytest.mark.parametrize("case", CASES)
def test_values_and_gradients_equal_lax(case):
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=case["shape"]).astype(np.float32))
    k = jnp.asarray(rng.normal(size=case["kernel"]).astype(np.float32))
    kwargs = dict(window_strides=case["strides"], padding=case["padding"], rhs_dilation=case["dilation"],
                  dimension_numbers=("NHWC", "HWIO", "NHWC"), feature_group_count=case["groups"])

    def loss(conv, x, k):
        return jnp.sum(jnp.tanh(conv(x, k, **kwargs)) * jnp.arange(1.0, 2.0, 1.0 / 7)[0])

    np.testing.assert_allclose(fast_conv_general_dilated(x, k, **kwargs), lax.conv_general_dilated(x, k, **kwargs),
                               rtol=1e-6, atol=1e-6)
    ours = jax.grad(lambda a, b: loss(fast_conv_general_dilated, a, b), argnums=(0, 1))(x, k)
    ref = jax.grad(lambda a, b: loss(lax.conv_general_dilated, a, b), argnums=(0, 1))(x, k)
    for a, b in zip(ours, ref):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_backward_convolution_has_canonical_labels_inside_a_loop():
    """The reason the module exists: no swapped-feature ('oi') kernel labels in a while body."""
    x = jnp.ones((4, 8, 8, 3))
    k = jnp.ones((3, 3, 3, 5)) * 0.1
    kwargs = dict(window_strides=(1, 1), padding="SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))

    def looped(conv):
        grad = jax.grad(lambda v: jnp.sum(jnp.tanh(conv(v, k, **kwargs))))
        return jax.jit(lambda v: lax.fori_loop(0, 3, lambda i, z: z + 1e-3 * grad(z), v))

    fast = looped(fast_conv_general_dilated).lower(x).compile().as_text()
    plain = looped(lax.conv_general_dilated).lower(x).compile().as_text()
    assert "01oi" in plain  # the slow form this module avoids (if XLA stops emitting it, this can go)
    assert "01oi" not in fast
