"""``conv_general_dilated`` with a backward pass that stays fast inside XLA CPU loops, and CPU forms of the
convolutions XLA's CPU backend runs slowly.

Why: inside a ``while`` body (the attacks' ``fori_loop``s) XLA's CPU backend keeps the swapped kernel
labels of JAX's input-gradient convolution and falls back to a slow convolution; here the backward pass
transposes the kernel physically (behind ``optimization_barrier``) and writes the input cotangent as the
exact linear transpose against it, so the gradient convolution has canonical labels (the same maths; on
GPU/TPU one small kernel copy). On CPU only (``alignjax.cpu_workarounds.on_cpu``, chosen when a program
is lowered), three kinds of convolution run without XLA's convolution, in the forward pass and both
gradients: first layers with 1-4 input features and windows of at most 3x3 (forward when kh*kw*c_in <= 16,
input gradient when c_in <= 4) as one product over explicit patches; disjoint windows (every 1x1, patch
embeddings) as one product over patches cut by a reshape; depthwise convolutions as sums of shifted
views (at stride 1 their input gradient too). Values differ from the convolution's by float rounding only;
tests compare values and gradients with ``lax.conv_general_dilated``. Measurements: benchmarks/RESULTS.md
("The CPU workarounds' measured history"). Models pass it to ``flax.linen.Conv(conv_general_dilated=...)``
through ``alignjax.models.layers.Conv``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from alignjax.cpu_workarounds import on_cpu

# First layers on CPU (see the module docstring): windows of at most CPU_PATCHES_MAX_WINDOW positions run
# as patches @ kernel, the forward pass when kh * kw * c_in <= CPU_PATCHES_FORWARD_MAX_CONTRACTION and
# the input gradient when c_in <= CPU_PATCHES_BACKWARD_MAX_CHANNELS. These rules, and those for
# disjoint windows and depthwise convolutions, depend on the kernel, strides and groups only, never on
# the batch size.
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
    static = {
        "window_strides": tuple(window_strides), "padding": padding,
        "lhs_dilation": None if lhs_dilation is None else tuple(lhs_dilation),
        "rhs_dilation": None if rhs_dilation is None else tuple(rhs_dilation),
        "feature_group_count": feature_group_count, "batch_group_count": batch_group_count,
        "precision": precision, "preferred_element_type": preferred_element_type,
    }
    out_axis, in_axis = dn.rhs_spec[0], dn.rhs_spec[1]
    swapped_dn = lax.ConvDimensionNumbers(dn.lhs_spec, (in_axis, out_axis, *dn.rhs_spec[2:]), dn.out_spec)
    perm = list(range(rhs.ndim))
    perm[out_axis], perm[in_axis] = in_axis, out_axis

    def conv(x, k, numbers):
        return lax.conv_general_dilated(x, k, dimension_numbers=numbers, **static)

    plan = _patch_plan(lhs.shape, rhs.shape, dn, static)
    window, c_in = rhs.shape[0] * rhs.shape[1], rhs.shape[2]  # HWIO whenever there is a plan
    dense = plan is not None and feature_group_count == 1
    depthwise = plan is not None and feature_group_count > 1 and c_in == 1  # one input feature per group
    small_window = dense and window <= CPU_PATCHES_MAX_WINDOW
    disjoint = dense and _windows_disjoint(rhs.shape, plan)
    patches_forward = depthwise or disjoint or (small_window and window * c_in <= CPU_PATCHES_FORWARD_MAX_CONTRACTION)
    patches_backward = depthwise or disjoint or (small_window and c_in <= CPU_PATCHES_BACKWARD_MAX_CHANNELS)
    patches_kernel_gradient = depthwise or disjoint

    def cpu_conv(x, k):
        return _depthwise_conv(x, k, plan, static) if depthwise else _patches_conv(x, k, plan, static)

    def forward(x, k):
        if not patches_forward:
            return conv(x, k, dn)
        return on_cpu(x, k, cpu=cpu_conv, default=lambda a, b: conv(a, b, dn))

    def input_cotangent(x, k, g):
        def swapped(g):
            k_swapped = lax.optimization_barrier(lax.transpose(k, perm))
            (dx,) = jax.linear_transpose(lambda v: conv(v, k_swapped, swapped_dn), x)(g)
            return dx

        def from_patches(g):
            (dx,) = jax.linear_transpose(lambda v: cpu_conv(v, k), x)(g)
            return dx

        def depthwise_sum(g):
            return _depthwise_input_cotangent(g, k, plan, x)

        if not patches_backward:
            return swapped(g)
        stride_one_depthwise = depthwise and plan.strides == (1, 1)
        return on_cpu(g, cpu=depthwise_sum if stride_one_depthwise else from_patches, default=swapped)

    @jax.custom_vjp
    def f(x, k):
        return forward(x, k)

    def fwd(x, k):
        return forward(x, k), (x, k)

    def kernel_cotangent(x, k, g):
        def by_convolution(g):
            (dk,) = jax.linear_transpose(lambda w: conv(x, w, dn), k)(g)
            return dk

        def from_patches(g):
            (dk,) = jax.linear_transpose(lambda w: cpu_conv(x, w), k)(g)
            return dk

        if not patches_kernel_gradient:
            return by_convolution(g)
        return on_cpu(g, cpu=from_patches, default=by_convolution)

    def bwd(res, g):
        x, k = res
        return input_cotangent(x, k, g), kernel_cotangent(x, k, g)

    f.defvjp(fwd, bwd)
    return f(lhs, rhs)


class _PatchPlan(NamedTuple):
    pads: tuple[tuple[int, int], tuple[int, int]]
    strides: tuple[int, int]
    dilation: tuple[int, int]
    out_hw: tuple[int, int]


def _patch_plan(lhs_shape, rhs_shape, dn: lax.ConvDimensionNumbers, static: dict[str, Any]) -> _PatchPlan | None:
    """How to run the convolution from explicit windows (``_patches_conv`` without groups,
    ``_depthwise_conv`` with one input feature per group), or None where no such form is offered: only
    NHWC/HWIO/NHWC 2-D convolutions (Flax's layout) without batch groups, input dilation or negative
    padding."""
    if (len(lhs_shape) != 4 or dn.lhs_spec != (0, 3, 1, 2) or dn.rhs_spec != (3, 2, 0, 1)
            or dn.out_spec != (0, 3, 1, 2)
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


def _windows_disjoint(rhs_shape, plan: _PatchPlan) -> bool:
    """Whether no two windows share a pixel: undilated windows no larger than the stride (every 1x1
    convolution, patch embeddings such as ViT's 16x16/16 and ConvNeXt's 4x4/4 stems)."""
    return plan.dilation == (1, 1) and rhs_shape[0] <= plan.strides[0] and rhs_shape[1] <= plan.strides[1]


def _patches_conv(x: jax.Array, k: jax.Array, plan: _PatchPlan, static: dict[str, Any]) -> jax.Array:
    """The convolution as one matrix product: each output pixel's window of the padded input, flattened
    in HWIO's row order, times the kernel as a ``(kh * kw * c_in, c_out)`` matrix."""
    kh, kw, c_in, c_out = k.shape
    patches = _disjoint_patches(x, k.shape, plan) if _windows_disjoint(k.shape, plan) else _shifted_patches(x, k.shape, plan)
    return lax.dot_general(patches, k.reshape(kh * kw * c_in, c_out), (((3,), (0,)), ((), ())),
                           precision=static["precision"], preferred_element_type=static["preferred_element_type"])


def _shifted_views(x: jax.Array, kh: int, kw: int, plan: _PatchPlan) -> list[jax.Array]:
    """The ``kh * kw`` shifted (strided, dilated) views of the padded input, each (n, ho, wo, c_in), in
    the row-major order of the window."""
    (sh, sw), (dh, dw), (ho, wo) = plan.strides, plan.dilation, plan.out_hw
    (top, bottom), (left, right) = plan.pads  # negative amounts crop (the depthwise input gradient's)
    xp = lax.pad(x, jnp.zeros((), x.dtype), ((0, 0, 0), (top, bottom, 0), (left, right, 0), (0, 0, 0)))
    n, c_in = x.shape[0], x.shape[3]
    return [
        lax.slice(xp, (0, i * dh, j * dw, 0), (n, i * dh + sh * (ho - 1) + 1, j * dw + sw * (wo - 1) + 1, c_in),
                  (1, sh, sw, 1))
        for i in range(kh) for j in range(kw)
    ]


def _shifted_patches(x: jax.Array, kernel_shape, plan: _PatchPlan) -> jax.Array:
    """The shifted views side by side on the feature axis: (n, ho, wo, kh * kw * c_in)."""
    views = _shifted_views(x, kernel_shape[0], kernel_shape[1], plan)
    return views[0] if len(views) == 1 else jnp.concatenate(views, axis=-1)


def _depthwise_conv(x: jax.Array, k: jax.Array, plan: _PatchPlan, static: dict[str, Any]) -> jax.Array:
    """A convolution with one input feature per group (depthwise, e.g. ConvNeXt's 7x7) as a sum over the
    window of shifted views times the kernel's per-feature weights: elementwise work XLA fuses into one
    loop, where XLA's CPU grouped convolution runs at 1.3-1.6 GFLOP/s (7x7, 192 features at 28x28, batch 4:
    forward 37.6 -> 1.3 ms on the 2-core CPU). Output feature ``o`` reads input feature ``o // multiplier``,
    as grouped convolutions do."""
    kh, kw, _, c_out = k.shape
    multiplier = c_out // x.shape[3]
    out_dtype = static["preferred_element_type"] or x.dtype
    x = jnp.repeat(x, multiplier, axis=3) if multiplier > 1 else x
    return _weighted_window_sum(x, k.reshape(kh, kw, c_out), plan).astype(out_dtype)


def _depthwise_input_cotangent(g: jax.Array, k: jax.Array, plan: _PatchPlan, x: jax.Array) -> jax.Array:
    """The input gradient of ``_depthwise_conv`` at stride 1, written as the same kind of sum: ``g``
    padded by the window's extent minus the forward padding (negative amounts crop) and weighted by the
    spatially flipped kernel, then summed over each group's ``multiplier`` outputs. (JAX's transpose of
    the forward sum materialises each weight broadcast to the whole map: 7x7, 96 features at 56x56,
    batch 4, forward + input gradient 16.8 ms that way, 8.7 ms this way, 148 ms as XLA's convolution.)"""
    kh, kw, _, c_out = k.shape
    (dh, dw), ((top, bottom), (left, right)) = plan.dilation, plan.pads
    extent_h, extent_w = (kh - 1) * dh, (kw - 1) * dw
    back = _PatchPlan(((extent_h - top, extent_h - bottom), (extent_w - left, extent_w - right)), (1, 1),
                      plan.dilation, x.shape[1:3])
    dx = _weighted_window_sum(g, k[::-1, ::-1].reshape(kh, kw, c_out), back)
    multiplier = c_out // x.shape[3]
    if multiplier > 1:
        dx = dx.reshape(*dx.shape[:3], x.shape[3], multiplier).sum(axis=4)
    return dx.astype(x.dtype)


def _weighted_window_sum(x: jax.Array, weights: jax.Array, plan: _PatchPlan) -> jax.Array:
    """``sum over (i, j) of view_ij(x) * weights[i, j]`` for (kh, kw, c) ``weights`` and the shifted views
    of ``plan``, accumulated in float32 at least (as the convolution accumulates)."""
    kh, kw, c = weights.shape
    accumulate = jnp.float64 if x.dtype == jnp.float64 else jnp.float32
    rows = weights.reshape(kh * kw, c).astype(accumulate)
    out = None
    for t, view in enumerate(_shifted_views(x, kh, kw, plan)):
        term = view.astype(accumulate) * rows[t][None, None, None, :]
        out = term if out is None else out + term
    return out


def _disjoint_patches(x: jax.Array, kernel_shape, plan: _PatchPlan) -> jax.Array:
    """The same patches when windows do not overlap (``_windows_disjoint``): the padded input cut into
    ``sh x sw`` blocks by a reshape, each block's top-left ``kh x kw`` corner kept. Its transpose is a
    reshape too, where the shifted views' transpose scatters ``kh * kw`` strided slices (a ViT's 16x16
    patch embedding: forward + input gradient 93 -> 10 ms at batch 4 on the 2-core CPU)."""
    kh, kw, c_in, _ = kernel_shape
    (sh, sw), (ho, wo) = plan.strides, plan.out_hw
    (top, _), (left, _) = plan.pads
    n, h, w, _ = x.shape
    # Exactly ho * sh by wo * sw: the high side padded or cropped (blocks may reach past the last window,
    # and padding past it is never read).
    high = ((0, 0, 0), (top, ho * sh - h - top, 0), (left, wo * sw - w - left, 0), (0, 0, 0))
    blocks = lax.pad(x, jnp.zeros((), x.dtype), high).reshape(n, ho, sh, wo, sw, c_in)[:, :, :kh, :, :kw, :]
    return blocks.transpose(0, 1, 3, 2, 4, 5).reshape(n, ho, wo, kh * kw * c_in)
