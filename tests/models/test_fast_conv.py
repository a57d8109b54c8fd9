"""fast_conv_general_dilated: same values and gradients as lax.conv_general_dilated."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from alignjax.models.fast_conv import fast_conv_general_dilated


def _case(shape, kernel, strides, padding, groups=1, dilation=(1, 1)) -> dict:
    return {"shape": shape, "kernel": kernel, "strides": strides, "padding": padding, "groups": groups,
            "dilation": dilation}


CASES = [
    _case((2, 9, 9, 3), (3, 3, 3, 5), (1, 1), "SAME"),
    _case((2, 9, 8, 4), (3, 3, 4, 6), (2, 2), ((1, 1), (1, 1))),
    _case((1, 11, 11, 2), (7, 7, 2, 4), (2, 2), ((3, 3), (3, 3))),
    _case((2, 10, 10, 4), (3, 3, 4, 4), (1, 1), "VALID", dilation=(2, 2)),
    _case((2, 8, 8, 6), (7, 7, 1, 6), (1, 1), "SAME", groups=6),
    _case((2, 8, 8, 4), (1, 1, 2, 6), (1, 1), "VALID", groups=2),
    # First layers: CPU runs these as patches @ kernel (forward: kh * kw * c_in <= 16; input gradient: c_in <= 4).
    _case((3, 8, 8, 1), (3, 3, 1, 16), (1, 1), "SAME"),
    _case((2, 9, 8, 1), (3, 3, 1, 4), (2, 2), ((1, 0), (2, 1))),
    _case((2, 11, 10, 1), (3, 2, 1, 3), (1, 2), "SAME", dilation=(2, 3)),
    _case((2, 7, 7, 2), (2, 2, 2, 5), (1, 1), "VALID"),
    _case((2, 6, 6, 3), (1, 1, 3, 4), (2, 2), "VALID"),
    _case((2, 12, 12, 4), (3, 3, 4, 8), (2, 2), "SAME"),
    # Disjoint windows (every 1x1, patch embeddings): CPU runs forward and both gradients as products.
    _case((2, 5, 5, 24), (1, 1, 24, 16), (1, 1), "VALID"),
    _case((2, 7, 6, 8), (1, 1, 8, 12), (2, 2), "SAME"),
    _case((2, 10, 11, 3), (4, 4, 3, 8), (4, 4), "VALID"),  # the last row and columns are dropped
    _case((2, 9, 9, 5), (2, 2, 5, 4), (3, 3), ((1, 2), (0, 1))),  # windows smaller than the stride
    # Depthwise (one input feature per group): CPU runs them as sums of shifted views.
    _case((2, 9, 9, 8), (7, 7, 1, 8), (1, 1), ((3, 3), (3, 3)), groups=8),  # ConvNeXt's
    _case((2, 8, 9, 3), (3, 3, 1, 6), (1, 1), "SAME", groups=3),  # two outputs per group
    _case((2, 9, 8, 4), (3, 3, 1, 4), (2, 2), "SAME", groups=4),
    _case((2, 9, 9, 4), (3, 2, 1, 4), (1, 1), ((3, 1), (0, 2)), groups=4, dilation=(2, 1)),
    _case((2, 7, 7, 2), (3, 3, 1, 2), (1, 1), ((4, 0), (1, 3)), groups=2),  # padding beyond the window
]


def _inputs(case):
    """Seeded normal images and kernel of ``case``, and its convolution keyword arguments."""
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=case["shape"]).astype(np.float32))
    k = jnp.asarray(rng.normal(size=case["kernel"]).astype(np.float32))
    kwargs = {"window_strides": case["strides"], "padding": case["padding"], "rhs_dilation": case["dilation"],
              "dimension_numbers": ("NHWC", "HWIO", "NHWC"), "feature_group_count": case["groups"]}
    return x, k, kwargs


@pytest.mark.parametrize("case", CASES)
def test_values_and_gradients_equal_lax(case):
    x, k, kwargs = _inputs(case)

    def loss(conv, x, k):
        return jnp.sum(jnp.tanh(conv(x, k, **kwargs)) * jnp.arange(1.0, 2.0, 1.0 / 7)[0])

    def values_and_gradients(conv):  # one jitted program per form (eagerly, every view is a compile)
        return jax.jit(lambda a, b: (conv(a, b, **kwargs), jax.grad(functools.partial(loss, conv), (0, 1))(a, b)))

    (ours, ours_grads), (ref, ref_grads) = (values_and_gradients(conv)(x, k)
                                            for conv in (fast_conv_general_dilated, lax.conv_general_dilated))
    # float32 sums in another order (up to 49 terms of magnitude ~1 here): last-bit differences only
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-5)
    for a, b in zip(ours_grads, ref_grads, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_backward_convolution_has_canonical_labels_inside_a_loop():
    """The reason the module exists: no swapped-feature ('oi') kernel labels in a while body."""
    x = jnp.ones((4, 8, 8, 3))
    k = jnp.ones((3, 3, 3, 5)) * 0.1
    kwargs = {"window_strides": (1, 1), "padding": "SAME", "dimension_numbers": ("NHWC", "HWIO", "NHWC")}

    def looped(conv):
        grad = jax.grad(lambda v: jnp.sum(jnp.tanh(conv(v, k, **kwargs))))
        return jax.jit(lambda v: lax.fori_loop(0, 3, lambda i, z: z + 1e-3 * grad(z), v))

    fast = looped(fast_conv_general_dilated).lower(x).compile().as_text()
    plain = looped(lax.conv_general_dilated).lower(x).compile().as_text()
    assert "01oi" in plain  # the slow form this module avoids (if XLA stops emitting it, this can go)
    assert "01oi" not in fast


def _conv_count(fn, *args) -> int:
    """Convolution ops in the compiled CPU program of ``fn``."""
    return jax.jit(fn).lower(*args).compile().as_text().count(" convolution(")


CONV_KWARGS = {"window_strides": (1, 1), "padding": "SAME", "dimension_numbers": ("NHWC", "HWIO", "NHWC")}


@pytest.mark.parametrize(("c_in", "forward_convs", "gradient_convs"), [
    (1, 0, 0),  # 3x3x1: forward and input gradient as matrix products
    (3, 1, 1),  # 3x3x3: forward convolution (27 > 16), input gradient as a product
    (16, 1, 2),  # 3x3x16: both convolutions
])
def test_cpu_first_layers_run_as_matrix_products(c_in, forward_convs, gradient_convs):
    if jax.default_backend() != "cpu":
        pytest.skip("the patches form is chosen for the CPU backend only")
    x, k = jnp.ones((4, 8, 8, c_in)), jnp.ones((3, 3, c_in, 8))

    def forward(v):
        return fast_conv_general_dilated(v, k, **CONV_KWARGS)

    def input_gradient(v):
        return jax.grad(lambda u: jnp.sum(jnp.tanh(forward(u))))(v)

    assert _conv_count(forward, x) == forward_convs
    assert _conv_count(input_gradient, x) == gradient_convs
    assert _conv_count(lambda v: lax.conv_general_dilated(v, k, **CONV_KWARGS), x) == 1


@pytest.mark.parametrize(("kernel", "strides", "groups"), [
    ((1, 1, 32, 16), (1, 1), 1),  # a bottleneck's 1x1
    ((1, 1, 32, 64), (2, 2), 1),  # a strided shortcut
    ((4, 4, 3, 16), (4, 4), 1),  # a patch embedding
    ((7, 7, 1, 32), (1, 1), 32),  # a depthwise 7x7
])
def test_cpu_disjoint_and_depthwise_convolutions_are_not_convolutions(kernel, strides, groups):
    """On CPU these run without XLA's convolution in the forward pass and in both gradients."""
    if jax.default_backend() != "cpu":
        pytest.skip("the product and sum forms are chosen for the CPU backend only")
    c_in = kernel[2] * groups
    x, k = jnp.ones((2, 16, 16, c_in)), jnp.ones(kernel) * 0.1
    kwargs = {"window_strides": strides, "padding": "SAME", "dimension_numbers": ("NHWC", "HWIO", "NHWC"),
              "feature_group_count": groups}

    def loss(v, w):
        return jnp.sum(jnp.tanh(fast_conv_general_dilated(v, w, **kwargs)))

    assert _conv_count(lambda v: fast_conv_general_dilated(v, k, **kwargs), x) == 0
    assert _conv_count(jax.grad(loss, argnums=(0, 1)), x, k) == 0
    assert _conv_count(lambda v: lax.conv_general_dilated(v, k, **kwargs), x) == 1


def _lowered_ops(fn, platform: str, *args) -> tuple[int, int]:
    """(convolutions, matrix products) in ``fn``'s StableHLO lowered for ``platform`` (no device needed)."""
    text = jax.export.export(jax.jit(fn), platforms=[platform])(*args).mlir_module()
    return text.count("stablehlo.convolution"), text.count("stablehlo.dot_general")


@pytest.mark.parametrize("platform", ["cuda", "rocm", "tpu"])
@pytest.mark.parametrize("case", CASES)
def test_accelerator_programs_keep_xla_convolution(case, platform):
    """The product and sum forms are CPU-only: a GPU/TPU program has lax's convolutions and no products."""
    x, k, kwargs = _inputs(case)

    def loss(conv):
        return lambda v, w: jnp.sum(jnp.tanh(conv(v, w, **kwargs)))

    grads = (jax.grad(loss(fast_conv_general_dilated), argnums=(0, 1)),
             jax.grad(loss(lax.conv_general_dilated), argnums=(0, 1)))
    ours, plain = (_lowered_ops(g, platform, x, k) for g in grads)
    assert ours == plain
    assert ours[0] == 3 and ours[1] == 0


@pytest.mark.parametrize("c_in", [1, 3])
def test_patches_form_is_batch_invariant(c_in):
    """Rows do not depend on the batch they are computed in (the attacks re-pack survivors).

    The form (patches @ kernel, or XLA's convolution) is chosen from the kernel alone, so every batch
    size runs the same kind of program; the product or convolution itself may round the last rows of a
    batch differently (CPU kernels treat the tail of a blocked dimension with another micro-kernel on
    some processors: 1 ulp seen on the CI machine), so rows agree to float32 rounding, not bit for bit."""
    rng = np.random.default_rng(1)
    x = jnp.asarray(rng.random((37, 8, 8, c_in), dtype=np.float32))
    k = jnp.asarray(rng.normal(size=(3, 3, c_in, 16)).astype(np.float32))
    g = jnp.asarray(rng.normal(size=(37, 8, 8, 16)).astype(np.float32))
    forward = jax.jit(lambda v: fast_conv_general_dilated(v, k, **CONV_KWARGS))
    input_gradient = jax.jit(
        lambda v, c: jax.vjp(lambda u: fast_conv_general_dilated(u, k, **CONV_KWARGS), v)[1](c)[0])
    full, full_grad = np.asarray(forward(x)), np.asarray(input_gradient(x, g))
    scale, grad_scale = np.abs(full).max(), np.abs(full_grad).max()
    convs = _conv_count(forward, x), _conv_count(input_gradient, x, g)
    for b in (1, 2, 5, 16, 24):
        assert (_conv_count(forward, x[:b]), _conv_count(input_gradient, x[:b], g[:b])) == convs
        np.testing.assert_allclose(np.asarray(forward(x[:b])), full[:b], rtol=0, atol=4e-7 * scale)
        np.testing.assert_allclose(np.asarray(input_gradient(x[:b], g[:b])), full_grad[:b],
                                   rtol=0, atol=4e-7 * grad_scale)


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16])
def test_patches_form_keeps_low_precision_dtypes(dtype):
    rng = np.random.default_rng(2)
    x = jnp.asarray(rng.random((2, 8, 8, 1), dtype=np.float32)).astype(dtype)
    k = jnp.asarray(rng.normal(size=(3, 3, 1, 8)).astype(np.float32)).astype(dtype)
    ours = fast_conv_general_dilated(x, k, **CONV_KWARGS)
    ref = lax.conv_general_dilated(x, k, **CONV_KWARGS)
    assert ours.dtype == ref.dtype == dtype
    np.testing.assert_allclose(np.asarray(ours, np.float32), np.asarray(ref, np.float32), rtol=2e-2, atol=2e-2)
    widened = fast_conv_general_dilated(x, k, **CONV_KWARGS, preferred_element_type=jnp.float32)
    assert widened.dtype == jnp.float32


def test_depthwise_form_is_batch_invariant_and_keeps_low_precision_dtypes():
    rng = np.random.default_rng(3)
    x = jnp.asarray(rng.random((37, 9, 9, 8), dtype=np.float32))
    k = jnp.asarray(rng.normal(size=(7, 7, 1, 8)).astype(np.float32))
    g = jnp.asarray(rng.normal(size=(37, 9, 9, 8)).astype(np.float32))
    kwargs = {**CONV_KWARGS, "feature_group_count": 8}
    forward = jax.jit(lambda v: fast_conv_general_dilated(v, k, **kwargs))
    input_gradient = jax.jit(lambda v, c: jax.vjp(lambda u: fast_conv_general_dilated(u, k, **kwargs), v)[1](c)[0])
    full, full_grad = np.asarray(forward(x)), np.asarray(input_gradient(x, g))
    for b in (1, 2, 5, 16):
        np.testing.assert_array_equal(np.asarray(forward(x[:b])), full[:b])
        np.testing.assert_array_equal(np.asarray(input_gradient(x[:b], g[:b])), full_grad[:b])
    low = fast_conv_general_dilated(x.astype(jnp.bfloat16), k.astype(jnp.bfloat16), **kwargs)
    assert low.dtype == jnp.bfloat16
    np.testing.assert_allclose(np.asarray(low, np.float32), full, rtol=5e-2, atol=5e-2)
