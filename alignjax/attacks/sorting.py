"""Stable ascending sorts of short rows, fast on XLA's CPU backend.

Why: FAB's projections and APGD's L1 projection and sparse step sort one short row per point in every
iteration, and XLA's CPU sort calls a compiled comparator per comparison. On CPU only
(``alignjax.cpu_workarounds.on_cpu``) and for rows of at most ``NETWORK_MAX_LENGTH`` values, a bitonic
sorting network of whole-array compare-exchange steps (the trips of one ``fori_loop``, two steps per trip)
sorts them instead; longer rows, accelerators and differentiated sorts (the DLR losses) keep
``jnp.argsort``/``jnp.sort``. Measurements: benchmarks/RESULTS.md ("The CPU workarounds' measured
history").

Both paths give the same answer: ``jnp.argsort(..., stable=True)``'s order, ties kept in index
order, ``-0.0`` equal to ``0.0``, every NaN after ``+inf`` (the network compares each value's
total-order integer key and its index, so the order is unique). Tests compare them on ties, zeros of
both signs, infinities, NaNs, lengths that are not powers of two, under ``jit`` and ``vmap``.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jax import lax
from jaxtyping import Array, Float, Int

from alignjax.cpu_workarounds import on_cpu

NETWORK_MAX_LENGTH = 1024
# Compare-exchange stages per loop trip (2: a little faster than 1, compiles nearly as fast).
NETWORK_UNROLL = 2
_INT32_MAX = 2**31 - 1


def _order_keys(values: Float[Array, "... n"]) -> Int[Array, "... n"]:
    """int32 keys ordered as the floats: -inf < ... < -0.0 == 0.0 < ... < inf < NaN (all NaNs equal)."""
    values = values.astype(jnp.float32)
    values = jnp.where(values == 0, jnp.zeros_like(values), values)  # -0.0 -> 0.0
    bits = lax.bitcast_convert_type(values, jnp.int32)
    keys = bits ^ ((bits >> 31) & jnp.int32(_INT32_MAX))  # negative floats: reverse their order
    return jnp.where(jnp.isnan(values), jnp.int32(_INT32_MAX), keys)


def _network_sort(keys: Int[Array, "... n"], payloads: tuple[Array, ...]) -> tuple[Array, ...]:
    """Bitonic network on (key, index) pairs; returns ``(indices, *payloads)`` in ascending order."""
    n = keys.shape[-1]
    lead = keys.shape[:-1]
    size = 1 << max(0, (n - 1).bit_length())
    index = lax.broadcasted_iota(jnp.int32, keys.shape, keys.ndim - 1)
    arrays = [keys, index, *payloads]
    if size > n:  # padding sorts after every real value (largest key, larger index)
        extra = (*lead, size - n)
        pads = [
            jnp.full(extra, _INT32_MAX, jnp.int32),
            jnp.broadcast_to(jnp.arange(n, size, dtype=jnp.int32), extra),
            *(jnp.zeros(extra, p.dtype) for p in payloads),
        ]
        arrays = [jnp.concatenate([a, pad], axis=-1) for a, pad in zip(arrays, pads, strict=True)]
    # One compare-exchange stage per trip of a loop (compiling the unrolled stages took seconds per
    # sort in a program); stage s pairs position i with i XOR half within bitonic blocks of ``block``.
    stages = np.array([(1 << b, 1 << h) for b in range(1, size.bit_length()) for h in range(b - 1, -1, -1)],
                      np.int32)
    stages_table = jnp.asarray(stages)
    position = jnp.arange(size, dtype=jnp.int32)

    def stage(s, arrays):
        block, half = stages_table[s, 0], stages_table[s, 1]
        is_low = (position & half) == 0

        def partner(a):  # a[..., i ^ half]: i + half for the low element of a pair, i - half for the high one
            doubled = jnp.concatenate([a, a], axis=-1)
            up = lax.dynamic_slice_in_dim(doubled, half, size, axis=-1)
            down = lax.dynamic_slice_in_dim(doubled, size - half, size, axis=-1)
            return jnp.where(is_low, up, down)

        other = [partner(a) for a in arrays]
        greater = (arrays[0] > other[0]) | ((arrays[0] == other[0]) & (arrays[1] > other[1]))
        # the low element keeps the smaller pair in ascending blocks, the larger in descending ones
        keeps_smaller = is_low == ((position & block) == 0)
        take = jnp.where(keeps_smaller, greater, ~greater)
        return [jnp.where(take, b, a) for a, b in zip(arrays, other, strict=True)]

    arrays = lax.fori_loop(0, len(stages), stage, arrays, unroll=NETWORK_UNROLL)
    return tuple(a[..., :n] for a in arrays[1:])


_NETWORK_DTYPES = tuple(jnp.dtype(t) for t in (jnp.float32, jnp.bfloat16, jnp.float16, jnp.int32, jnp.int16,
                                                 jnp.int8, jnp.uint16, jnp.uint8))


def _use_network(values: Array) -> bool:
    """Rows short enough, of a type whose keys fit int32 exactly (float64 and 64-bit ints: library sort)."""
    return values.ndim > 0 and 1 < values.shape[-1] <= NETWORK_MAX_LENGTH and values.dtype in _NETWORK_DTYPES


def _keys(values: Array) -> Int[Array, "... n"]:
    if jnp.issubdtype(values.dtype, jnp.floating):
        return _order_keys(values)
    return values.astype(jnp.int32)


def argsort(values: Array) -> Int[Array, "... n"]:
    """Indices that sort ``values`` ascending along the last axis; equal to ``jnp.argsort(values, stable=True)``."""
    values = jnp.asarray(values)
    if not _use_network(values):
        return jnp.argsort(values, axis=-1, stable=True)
    return on_cpu(
        _keys(values),
        cpu=lambda k: _network_sort(k, ())[0],
        default=lambda k: jnp.argsort(values, axis=-1, stable=True).astype(jnp.int32),
    )


def sort(values: Array) -> Array:
    """``values`` sorted ascending along the last axis; equal to ``jnp.sort(values)``."""
    values = jnp.asarray(values)
    if not _use_network(values):
        return jnp.sort(values, axis=-1)
    return on_cpu(
        _keys(values),
        cpu=lambda k: _network_sort(k, (values,))[1],
        default=lambda k: jnp.sort(values, axis=-1),
    )
