"""Max pooling whose gradient is torch's, without XLA's ``select_and_scatter``.

``flax.linen.max_pool`` is a ``reduce_window`` max; its gradient is XLA's ``select_and_scatter``, which
the CPU backend runs slowly. Measured on the 2-core CPU, one jitted forward+backward of the pooling
alone inside a ``fori_loop``: 6.4 ms vs 0.87 ms at (400, 8, 8, 32) 2x2 (the embedded digits CNN),
34 vs 7.5 ms at (64, 32, 32, 64) 2x2 (VGG), 319 vs 161 ms at (32, 112, 112, 64) 3x3/2 pad 1 (the
ResNet stem); a whole APGD step of the digits CNN gets ~1.6x faster.

Without differentiation the pooling is the same ``reduce_window`` max (init ``-inf``, a Python
scalar), so forward-only attacks such as Square pay nothing extra (the stacked form below is ~1.5x
slower as a forward alone). Under differentiation the forward pass takes the ``kh * kw`` window
positions as strided slices of the (-inf padded) input, stacked on a new leading axis, and keeps
each window's maximum and the index of its *first* maximum in row-major (dh, dw) order; the backward
pass sends each output's cotangent there, as torch's
``max_pool2d`` backward does (and XLA's ``select_and_scatter`` with ``ge``): ties, common where a
ReLU feature map is constant (image backgrounds), go to one position, not split. The slices'
linear transpose (pads and strided updates) scatters the cotangent back; overlapping windows add.
One of the CPU workarounds switched together in ``alignjax.cpu_workarounds``.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
from jax import lax

from alignjax import cpu_workarounds


def max_pool(
    x: jax.Array,
    window: Sequence[int],
    strides: Sequence[int] | None = None,
    padding: Sequence[tuple[int, int]] = ((0, 0), (0, 0)),
) -> jax.Array:
    """``torch.nn.functional.max_pool2d`` on NHWC input: ``window`` (kh, kw), ``strides`` (default
    ``window``), explicit ``padding`` ((top, bottom), (left, right)) that never wins the max.

    Output size ``(h + pads - kh) // sh + 1`` (``ceil_mode=False``), as torch and ``flax.linen.max_pool``.
    """
    kh, kw = (int(k) for k in window)
    sh, sw = (int(s) for s in (strides if strides is not None else window))
    (pt, pb), (pl, pr) = ((int(a), int(b)) for a, b in padding)
    h, w = x.shape[1:3]
    ho, wo = (h + pt + pb - kh) // sh + 1, (w + pl + pr - kw) // sw + 1
    if ho < 1 or wo < 1:
        raise ValueError(f"max_pool: window {(kh, kw)} larger than the padded input {(h + pt + pb, w + pl + pr)}")

    def windows(v: jax.Array, fill: float = -jnp.inf) -> jax.Array:
        """(kh * kw, n, ho, wo, c): every window position as a strided slice of the input padded with
        ``fill`` (-inf to pool; 0 makes it linear, for the transpose)."""
        if pt or pb or pl or pr:
            v = jnp.pad(v, ((0, 0), (pt, pb), (pl, pr), (0, 0)), constant_values=fill)
        return jnp.stack([
            v[:, i : i + sh * (ho - 1) + 1 : sh, j : j + sw * (wo - 1) + 1 : sw, :]
            for i in range(kh) for j in range(kw)
        ])

    def forward(v: jax.Array) -> jax.Array:
        pads = ((0, 0), (pt, pb), (pl, pr), (0, 0))
        return lax.reduce_window(v, -jnp.inf, lax.max, (1, kh, kw, 1), (1, sh, sw, 1), pads)

    if not cpu_workarounds.enabled():  # XLA's own gradient (select_and_scatter), the same values
        return forward(x)

    @jax.custom_vjp
    def pool(v):
        return forward(v)

    def pool_fwd(v):  # only when differentiating: the first maximum of each window (row-major) too
        stacked = windows(v)
        return jnp.max(stacked, axis=0), jnp.argmax(stacked, axis=0).astype(jnp.int32)

    def pool_bwd(first, g):
        positions = jnp.arange(kh * kw, dtype=first.dtype).reshape(-1, 1, 1, 1, 1)
        routed = jnp.where(positions == first[None], g[None], jnp.zeros((), g.dtype))
        (dx,) = jax.linear_transpose(lambda u: windows(u, 0.0), jax.ShapeDtypeStruct(x.shape, x.dtype))(routed)
        return (dx,)

    pool.defvjp(pool_fwd, pool_bwd)
    return pool(x)
