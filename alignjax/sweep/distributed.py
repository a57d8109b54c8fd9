"""Several processes (hosts) on one sweep through ``jax.distributed``: each owns a disjoint set of units.

``jax.distributed.initialize`` is the standard JAX multi-process runtime (GPU clusters, TPU pods; on
Slurm, Open MPI or Cloud TPU it finds the coordinator by itself). Every process expands the same grid
in the same order, so process ``i`` of ``k`` can compute its share without talking to the others: the
work items (single units or stack groups) are cut into ``k`` contiguous, nearly equal blocks (a
model's units stay together, so each process loads few models) and process ``i`` runs block ``i``.
Inside a process, ``run_autoattack`` spreads batches over its local devices. Processes write only
their own units' files; nothing is shared but the read-only config record, written identically by all.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TypeVar

from alignjax.errors import InputError

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class ProcessInfo:
    index: int = 0
    count: int = 1


def initialize(coordinator: str | None = None, num_processes: int | None = None,
               process_id: int | None = None, *, auto: bool = False) -> ProcessInfo:
    """Starts the JAX distributed runtime (``auto``: let JAX detect the cluster) and returns this
    process's place; without arguments and without ``auto``, a single process."""
    given = [coordinator is not None, num_processes is not None, process_id is not None]
    if not auto and not any(given):
        return ProcessInfo()
    if not auto and not all(given):
        raise InputError("give --coordinator HOST:PORT, --num-processes K and --process-id I together "
                         "(or --distributed-auto on a cluster JAX detects by itself)")
    if num_processes is not None and (num_processes < 1 or not 0 <= (process_id or 0) < num_processes):
        raise InputError(f"--process-id must be in 0..{(num_processes or 1) - 1}, got {process_id}")
    import jax

    jax.distributed.initialize(coordinator_address=coordinator, num_processes=num_processes,
                               process_id=process_id)
    return ProcessInfo(jax.process_index(), jax.process_count())


def shutdown(info: ProcessInfo) -> None:
    if info.count > 1:
        import jax

        jax.distributed.shutdown()


def owned(items: Sequence[T], info: ProcessInfo) -> list[T]:
    """Process ``info.index``'s block of ``items``: contiguous, the sizes differing by at most one."""
    base, extra = divmod(len(items), info.count)
    start = info.index * base + min(info.index, extra)
    stop = start + base + (1 if info.index < extra else 0)
    return list(items[start:stop])
