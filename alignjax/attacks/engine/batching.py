"""Batches: padding to fixed shapes, survivor buckets, device placement, out-of-memory detection.

Inside ``jit`` shapes are static, so points are attacked in fixed-shape batches: the tail of a list of
points is padded (``pad_to``; padding rows repeat the first row and are masked invalid), and the rows
still attacked after a pass or a segment are re-packed into a batch of one of two sizes per octave
(``bucket_size``), so compilation stays bounded (about 2 log2(batch size) shapes per attack) while the
cost follows the survivors, as the reference's ``perturb`` indexes ``acc.nonzero()``
(``fra31/auto-attack@a392200:autoattack/autopgd_base.py``).

Batches are split over all local devices along a ``data`` mesh axis (``jax.jit`` with a
``NamedSharding``; no ``pmap``); batch sizes are multiples of the device count and parameters are
replicated. Every transfer is explicit, so the engine runs under ``jax.transfer_guard('disallow')``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec


def pad_to(rows: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """``rows`` padded to ``size`` with its first entry, and the validity mask."""
    valid = np.zeros(size, bool)
    valid[: len(rows)] = True
    padded = np.full(size, rows[0], dtype=np.int64)
    padded[: len(rows)] = rows
    return padded, valid


def padded_batches(indices: np.ndarray, batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yields (idx (batch_size,), valid (batch_size,)) chunks of ``indices``; the tail is padded."""
    for start in range(0, len(indices), batch_size):
        yield pad_to(indices[start : start + batch_size], batch_size)


def bucket_size(n_rows: int, batch_size: int, n_devices: int = 1) -> int:
    """The batch shape for ``n_rows`` survivors: the next size of the form ``2^k`` or ``3 * 2^k``
    (1, 2, 3, 4, 6, 8, 12, ..., 128, 192, 256, ...), rounded up to a multiple of ``n_devices``, at most
    ``batch_size`` (itself a multiple of ``n_devices``).

    Two sizes per octave: at most a third of a batch is padding (powers of two alone waste up to half:
    182 survivors ran in 256 rows), for at most twice as many compiled shapes (about 2 log2(batch)).
    """
    power = 1 << max(0, int(n_rows - 1).bit_length())
    size = 3 * power // 4 if power >= 4 and 3 * power // 4 >= n_rows else power
    size = -(-size // n_devices) * n_devices
    return min(size, batch_size)


class Placement:
    """Where batches and replicated values go: all local devices along a ``data`` mesh axis.

    On one device, plain ``device_put``. ``batch_axis`` is the axis of the points (1 for arrays with a
    leading checkpoint axis, in stacked runs).
    """

    def __init__(self, devices=None):
        self.devices = list(devices if devices is not None else jax.local_devices())
        self.mesh = Mesh(np.asarray(self.devices), ("data",)) if len(self.devices) > 1 else None

    @property
    def n_devices(self) -> int:
        return len(self.devices)

    def batch_size(self, batch_size: int) -> int:
        """``batch_size`` rounded up to a multiple of the device count (padding rows are masked)."""
        return -(-batch_size // self.n_devices) * self.n_devices

    def batch(self, *arrays: np.ndarray, batch_axis: int = 0) -> tuple[jax.Array, ...]:
        """Host arrays split along their batch axis over the devices."""
        if self.mesh is None:
            return tuple(jax.device_put(a) for a in arrays)
        sharding = NamedSharding(self.mesh, PartitionSpec(*([None] * batch_axis), "data"))
        return tuple(jax.device_put(a, sharding) for a in arrays)

    def replicate(self, tree: Any) -> Any:
        """A pytree (parameters, keys, scalars) copied to every device."""
        if self.mesh is None:
            return jax.device_put(tree)
        return jax.device_put(tree, NamedSharding(self.mesh, PartitionSpec()))


def is_out_of_memory(err: BaseException) -> bool:
    """Whether an error is XLA running out of device memory (then a smaller batch may fit)."""
    text = str(err)
    return "RESOURCE_EXHAUSTED" in text or "Out of memory" in text or "out of memory" in text
