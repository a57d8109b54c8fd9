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
Models pass it to ``flax.linen.Conv(conv_general_dilated=...)`` through ``alignjax.models.layers.Conv``.
"""

from __future__ import annotations

from typing import Any

import jax
from jax import lax


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

    @jax.custom_vjp
    def f(x, k):
        return conv(x, k, dn)

    def fwd(x, k):
        return conv(x, k, dn), (x, k)

    def bwd(res, g):
        x, k = res
        k_swapped = lax.optimization_barrier(lax.transpose(k, perm))
        (dx,) = jax.linear_transpose(lambda v: conv(v, k_swapped, swapped_dn), x)(g)
        (dk,) = jax.linear_transpose(lambda w: conv(x, w, dn), k)(g)
        return dx, dk

    f.defvjp(fwd, bwd)
    return f(lhs, rhs)
