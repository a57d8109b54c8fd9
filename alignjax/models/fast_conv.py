"""``conv_general_dilated`` with a backward pass that stays fast inside XLA CPU loops.

Why: JAX differentiates a convolution with respect to its input by a convolution whose kernel
spec has input and output features swapped (``rev(k)`` with ``01oi`` labels). Outside a loop XLA
copies the kernel into the canonical layout; inside a ``while`` body (our attacks' ``fori_loop``s) the
CPU backend keeps the swapped labels and falls back to a slow convolution: measured on the digits CNN
(2-core CPU, batch 397), one input gradient costs 24 ms in a Python loop but 183 ms per step inside
``lax.fori_loop``.

What: the same forward convolution; in the backward pass the kernel is physically transposed (its
input and output feature axes swapped, behind ``optimization_barrier`` so that XLA cannot fold the
transpose back into the labels) and the input cotangent is the exact linear transpose of the
convolution written against that transposed kernel. The emitted gradient convolution then has
canonical labels. The maths is unchanged (tests check gradients equal ``lax.conv_general_dilated``'s
for strided, padded, dilated and grouped convolutions); on GPU/TPU it costs one small kernel copy.

First layers on CPU: XLA's CPU convolution is slow when the input has 1-4 features. There, for windows
of at most 3x3, the forward pass (kh * kw * c_in <= 16) and the input gradient (c_in <= 4) are run as
one matrix product over explicit patches (the kh * kw shifted views of the padded input side by side)
and its exact linear transpose; the choice is made when the program is lowered
(``lax.platform_dependent``), so GPUs and TPUs keep the convolution. Measured on the 2-core CPU inside
``fori_loop`` (batch 400 at 8x8, or 128 at 32x32): 1 -> 16 channels, forward 1.5-2.8x and input
gradient 3.2-3.3x faster; 3 -> 16 channels, input gradient 4.1-4.4x; 3 -> 64, about even; from 8
input channels on the convolution wins (0.2-0.4x), as it does for 7x7 and 11x11 stems' forward passes.
The embedded digits CNN: forward 2.45 -> 1.97 ms, forward+backward 8.3 -> 7.3 ms per batch of 400.
Values differ from the convolution's by float rounding only (another summation order).
Models pass it to ``flax.linen.Conv(conv_general_dilated=...)`` through ``alignjax.models.layers.Conv``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

# First layers on CPU (see the module docstring): windows of at most CPU_PATCHES_MAX_WINDOW positions run
# as patches @ kernel, the forward pass when kh * kw * c_in <= CPU_PATCHES_FORWARD_MAX_CONTRACTION and
# the input gradient when c_in <= CPU_PATCHES_BACKWARD_MAX_CHANNELS. The rule depends on the kernel
# only, never on the batch size, so rows stay batch-invariant.
CPU_PATCHES_MAX_WINDOW = 9
CPU_PATCHES_FORWARD_MAX_CONTRACTION = 16
CPU_PATCHES_BACKWARD_MAX_CHANNELS = 4


def fast_conv_general_dilated(
    lhs: jax.Array,
    rhs: jax.Array,
    window_strides: Any,
    padding: Any,
    lhs_dilation: Any = None,
    rhs_dilation: Any = None,
    dimension_numbers: Any = None,
    feature_group_count: int = 1,
    batch_group_count: int = 1,
    precision: Any = None,
    preferred_element_type: Any = None,
) -> jax.Array:
    """Drop-in for ``lax.conv_general_dilated`` (same arguments, same values, same gradients)."""
    dn = lax.conv_dimension_numbers(lhs.shape, rhs.shape, dimension_numbers)
    if isinstance(padding, list):
        padding = tuple(tuple(p) for p in padding)
    static = dict(
        window_strides=tuple(window_strides), padding=padding,
        lhs_dilation=None if lhs_dilation is None else tuple(lhs_dilation),
        rhs_dilation=None if rhs_dilation is None else tuple(rhs_dilation),
        feature_group_count=feature_group_count, batch_group_count=batch_group_count,
        precision=precision, preferred_element_type=preferred_element_type,
    )
    out_axis, in_axis = dn.rhs_spec[0], dn.rhs_spec[1]
    swapped_dn = lax.ConvDimensionNumbers(dn.lhs_spec, (in_axis, out_axis, *dn.rhs_spec[2:]), dn.out_spec)
    perm = list(range(rhs.ndim))
    perm[out_axis], perm[in_axis] = in_axis, out_axis

    def conv(x, k, numbers):
        return lax.conv_general_dilated(x, k, dimension_numbers=numbers, **static)

    plan = _patch_plan(lhs.shape, rhs.shape, dn, static)
    window, c_in = rhs.shape[0] * rhs.shape[1], rhs.shape[2]  # HWIO whenever there is a plan
    small_window = plan is not None and window <= CPU_PATCHES_MAX_WINDOW
    patches_forward = small_window and window * c_in <= CPU_PATCHES_FORWARD_MAX_CONTRACTION
    patches_backward = small_window and c_in <= CPU_PATCHES_BACKWARD_MAX_CHANNELS

    def forward(x, k):
        if not patches_forward:
            return conv(x, k, dn)
        return lax.platform_dependent(x, k, cpu=lambda a, b: _patches_conv(a, b, plan, static),
                                      default=lambda a, b: conv(a, b, dn))

    def input_cotangent(x, k, g):
        def swapped(g):
            k_swapped = lax.optimization_barrier(lax.transpose(k, perm))
            (dx,) = jax.linear_transpose(lambda v: conv(v, k_swapped, swapped_dn), x)(g)
            return dx

        def from_patches(g):
            (dx,) = jax.linear_transpose(lambda v: _patches_conv(v, k, plan, static), x)(g)
            return dx

        if not patches_backward:
            return swapped(g)
        return lax.platform_dependent(g, cpu=from_patches, default=swapped)

    @jax.custom_vjp
    def f(x, k):
        return forward(x, k)

    def fwd(x, k):
        return forward(x, k), (x, k)

    def bwd(res, g):
        x, k = res
        dx = input_cotangent(x, k, g)
        (dk,) = jax.linear_transpose(lambda w: conv(x, w, dn), k)(g)
        return dx, dk

    f.defvjp(fwd, bwd)
    return f(lhs, rhs)


class _PatchPlan(NamedTuple):
    pads: tuple[tuple[int, int], tuple[int, int]]
    strides: tuple[int, int]
    dilation: tuple[int, int]
    out_hw: tuple[int, int]


def _patch_plan(lhs_shape, rhs_shape, dn: lax.ConvDimensionNumbers, static: dict[str, Any]) -> _PatchPlan | None:
    """How to run the convolution as ``patches @ kernel``, or None where that form is not offered:
    only NHWC/HWIO/NHWC 2-D convolutions (Flax's layout) without groups, input dilation or negative
    padding."""
    if (len(lhs_shape) != 4 or dn.lhs_spec != (0, 3, 1, 2) or dn.rhs_spec != (3, 2, 0, 1)
            or dn.out_spec != (0, 3, 1, 2) or static["feature_group_count"] != 1
            or static["batch_group_count"] != 1 or any(d != 1 for d in static["lhs_dilation"] or (1, 1))):
        return None
    strides = tuple(static["window_strides"])
    dilation = tuple(static["rhs_dilation"] or (1, 1))
    window = tuple((k - 1) * d + 1 for k, d in zip(rhs_shape[:2], dilation))
    padding = static["padding"]
    pads = lax.padtype_to_pads(lhs_shape[1:3], window, strides, padding) if isinstance(padding, str) else padding
    pads = tuple((int(lo), int(hi)) for lo, hi in pads)
    if any(p < 0 for pair in pads for p in pair):
        return None
    out_hw = tuple((n + lo + hi - k) // s + 1 for n, (lo, hi), k, s in zip(lhs_shape[1:3], pads, window, strides))
    if min(out_hw) < 1:
        return None
    return _PatchPlan(pads, strides, dilation, out_hw)


def _patches_conv(x: jax.Array, k: jax.Array, plan: _PatchPlan, static: dict[str, Any]) -> jax.Array:
    """The convolution as one matrix product: the ``kh * kw`` shifted (strided, dilated) views of the
    padded input side by side on the feature axis, times the kernel as a ``(kh * kw * c_in, c_out)``
    matrix (the row order of HWIO)."""
    kh, kw, c_in, c_out = k.shape
    (sh, sw), (dh, dw), (ho, wo) = plan.strides, plan.dilation, plan.out_hw
    xp = jnp.pad(x, ((0, 0), *plan.pads, (0, 0)))
    n = x.shape[0]
    views = [
        lax.slice(xp, (0, i * dh, j * dw, 0), (n, i * dh + sh * (ho - 1) + 1, j * dw + sw * (wo - 1) + 1, c_in),
                  (1, sh, sw, 1))
        for i in range(kh) for j in range(kw)
    ]
    patches = views[0] if len(views) == 1 else jnp.concatenate(views, axis=-1)
    return lax.dot_general(patches, k.reshape(kh * kw * c_in, c_out), (((3,), (0,)), ((), ())),
                           precision=static["precision"], preferred_element_type=static["preferred_element_type"])
