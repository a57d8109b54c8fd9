"""The images a cascade attacks: an array held in memory, or a source that produces rows on demand.

``run_autoattack`` reads images only through ``AttackImages.rows(chunks)``: for each array of point
indices (one padded batch) it receives those points' (k, h, w, c) float32 rows in [0, 1], in order.
A NumPy array is wrapped as ``ArrayImages``. A streamed data set
(``alignjax.data.attack_input.StreamedImages``: files decoded on host threads while the previous batch
is attacked) implements the same protocol, so the cascade holds a few batches of it, never all of it.
Per-point results do not change with the source: every point's randomness is
``fold_in(attack_key, point_index)``, so which rows share a batch, and where they came from, is
irrelevant.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from typing import Protocol, runtime_checkable

import numpy as np

from alignjax.attacks.validation import validate_images


@runtime_checkable
class AttackImages(Protocol):
    """What the cascade needs from its images.

    ``rows`` must yield exactly one float32 (len(chunk), h, w, c) array in [0, 1] per chunk, in chunk
    order, and may work ahead (decode the next chunks) while the caller uses the current one.
    ``digest`` is a content hash that binds a resumable run's state to these images.
    """

    def __len__(self) -> int: ...

    @property
    def image_shape(self) -> tuple[int, ...]: ...

    def rows(self, chunks: Iterable[np.ndarray]) -> Iterator[np.ndarray]: ...

    def digest(self) -> str: ...


class ArrayImages:
    """An (n, h, w, c) float array in [0, 1], validated once (``validate_images``) and indexed per chunk."""

    def __init__(self, x: np.ndarray):
        self.array = validate_images(x)

    def __len__(self) -> int:
        return len(self.array)

    @property
    def image_shape(self) -> tuple[int, ...]:
        return tuple(self.array.shape[1:])

    def rows(self, chunks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        for chunk in chunks:
            yield self.array[chunk]

    def digest(self) -> str:
        digest = hashlib.sha256(repr((self.array.shape, str(self.array.dtype))).encode())
        digest.update(np.ascontiguousarray(self.array).tobytes())
        return digest.hexdigest()


def as_attack_images(x: np.ndarray | AttackImages) -> AttackImages:
    """Wraps an array as ``ArrayImages``; anything with ``rows`` and ``digest`` is used as it is."""
    if hasattr(x, "rows") and hasattr(x, "digest"):
        return x  # type: ignore[return-value]
    return ArrayImages(x)  # type: ignore[arg-type]


def first_rows(images: AttackImages, count: int) -> np.ndarray:
    """The first ``count`` images (for the sanity checks on the first batch)."""
    (rows,) = list(images.rows([np.arange(min(count, len(images)))]))
    return rows
