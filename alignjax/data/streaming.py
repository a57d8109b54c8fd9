"""Batches from any dataset: parallel host decoding, bounded memory, device prefetch.

Images are decoded and transformed on a thread pool (PIL releases the GIL while decoding and
resampling) and stay uint8 until they reach the device. At most ``max_in_flight`` images are
submitted ahead of the batch being assembled (a bounded window of futures, in dataset order), so host
memory is bounded whatever the dataset size. ``host_batches`` yields NumPy batches, ``stream_batches``
puts the next batch on the device (``jax.device_put``, asynchronous) before the current one is handed out.

By default a batch holds exactly the data's rows (the last one may be shorter) and nothing needs
masking. With ``pad=True`` every batch has ``batch_size`` rows: the tail is padded with zeros and
marked invalid in ``valid`` (big_vision ``pad_shard_unpad``), so a jitted consumer traces once.

A corrupt image raises ``CorruptImageError`` naming it, after every batch before it has been handed
out. With ``skip_corrupt=True`` it is warned about and left out (``pad=True``: its row is zero-filled
and marked invalid); ``index`` keeps each row's dataset index, so results stay aligned with the data.
"""

from __future__ import annotations

import collections
import concurrent.futures
import math
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np
from PIL import Image

from alignjax.data.arrays import Dataset, ImageSource
from alignjax.data.preprocessing import CorruptImageError, Transform, decode_image, identity, to_uint8

Decoder = Callable[[ImageSource], np.ndarray]


class Batch(NamedTuple):
    """One batch. ``x``: (b, h, w, c) uint8 (float32 for float array datasets); ``y``: (b,) int32;
    ``valid``: (b,) bool, False only for padding and skipped images (``pad=True``); ``index``: (b,)
    int32 dataset index, -1 for padding."""

    x: Any
    y: Any
    valid: Any
    index: Any


def load_source(source: ImageSource, transform: Transform = identity, channels: int = 3) -> np.ndarray:
    """Decodes a path or bytes (arrays pass through) and applies ``transform``; returns HWC with
    ``channels`` channels for decoded images (1: grayscale)."""
    if isinstance(source, np.ndarray):
        if transform is identity:
            return source
        if source.dtype != np.uint8:
            raise TypeError(f"a transform needs uint8 images, got a {source.dtype} array")
        return to_uint8(transform(Image.fromarray(source.squeeze(-1) if source.shape[-1] == 1 else source)),
                        source.shape[-1])
    return to_uint8(transform(decode_image(source)), channels)


def _describe(source: ImageSource, index: int) -> str:
    return str(source) if isinstance(source, (str, Path)) else f"item {index}"


def host_batches(
    dataset: Dataset,
    *,
    batch_size: int,
    transform: Transform = identity,
    decode: Decoder | None = None,
    num_threads: int = 2,
    max_in_flight: int | None = None,
    skip_corrupt: bool = False,
    image_shape: tuple[int, ...] | None = None,
    pad: bool = False,
) -> Iterator[Batch]:
    """NumPy batches in dataset order; arguments as ``stream_batches`` (module docstring)."""
    if batch_size < 1 or num_threads < 1:
        raise ValueError(f"batch_size and num_threads must be positive, got {batch_size}, {num_threads}")
    max_in_flight = 2 * batch_size if max_in_flight is None else max_in_flight
    if max_in_flight < 1:
        raise ValueError(f"max_in_flight must be positive, got {max_in_flight}")
    load = decode if decode is not None else (lambda source: load_source(source, transform))
    size = len(dataset)

    def work(index: int) -> tuple[np.ndarray | None, int, str, CorruptImageError | None]:
        source, label = dataset[index]
        try:
            return np.asarray(load(source)), label, _describe(source, index), None
        except CorruptImageError as error:
            return None, label, _describe(source, index), error

    pool = concurrent.futures.ThreadPoolExecutor(num_threads, thread_name_prefix="alignjax-decode")
    pending: collections.deque[concurrent.futures.Future] = collections.deque()
    next_index = 0
    shape, dtype = (tuple(image_shape), np.dtype(np.uint8)) if image_shape is not None else (None, None)
    try:
        for start in range(0, size, batch_size):
            count = min(batch_size, size - start)
            rows: list[np.ndarray | None] = []
            labels = np.zeros(batch_size, np.int32)
            for offset in range(count):
                while next_index < size and len(pending) < max_in_flight:
                    pending.append(pool.submit(work, next_index))
                    next_index += 1
                image, label, name, error = pending.popleft().result()
                if error is not None:
                    if not skip_corrupt:
                        raise error
                    warnings.warn(f"skipping corrupt image {error.path}: {error}", stacklevel=2)
                elif shape is None:
                    shape, dtype = image.shape, image.dtype
                elif image.shape != shape or image.dtype != dtype:
                    raise ValueError(
                        f"{name} has shape {image.shape} {image.dtype}, the batch has {shape} {dtype}: "
                        "give a transform that produces a fixed size"
                    )
                rows.append(image)
                labels[offset] = label
            if shape is None:
                raise ValueError("no image of the first batch could be decoded; pass image_shape")
            if pad:
                x = np.zeros((batch_size, *shape), dtype)
                valid = np.zeros(batch_size, bool)
                for offset, image in enumerate(rows):
                    if image is not None:
                        x[offset] = image
                        valid[offset] = True
                index = np.full(batch_size, -1, np.int32)
                index[:count] = np.arange(start, start + count, dtype=np.int32)
                yield Batch(x, labels, valid, index)
                continue
            kept = [offset for offset, image in enumerate(rows) if image is not None]
            if kept:
                x = np.stack([rows[offset] for offset in kept])  # type: ignore[misc]
                kept_array = np.array(kept, np.int64)
                yield Batch(x, labels[kept_array], np.ones(len(kept), bool), (start + kept_array).astype(np.int32))
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)


def stream_batches(
    dataset: Dataset,
    *,
    batch_size: int,
    transform: Transform = identity,
    decode: Decoder | None = None,
    num_threads: int = 2,
    max_in_flight: int | None = None,
    skip_corrupt: bool = False,
    image_shape: tuple[int, ...] | None = None,
    device: jax.Device | jax.sharding.Sharding | None = None,
    prefetch: int = 1,
    pad: bool = False,
) -> Iterator[Batch]:
    """Device batches of ``dataset``: ``host_batches`` put on ``device`` ``prefetch`` batches ahead.

    Args:
      dataset: any ``Dataset`` (arrays, paths or encoded bytes).
      batch_size: rows per batch (the last batch may be shorter unless ``pad``).
      transform: PIL transform applied after decoding (e.g. ``robustbench_transform('Res256Crop224')``).
      decode: replaces decode + transform (source -> HWC array).
      num_threads: decoding threads.
      max_in_flight: images submitted ahead (default ``2 * batch_size``).
      skip_corrupt: warn and leave corrupt images out instead of raising ``CorruptImageError``.
      image_shape: needed only if every image of the first batch may be corrupt.
      device: a device or sharding for ``jax.device_put`` (default device when None).
      prefetch: batches on the device ahead of the one handed out (>= 0).
      pad: fixed-shape batches: pad the tail with zeros marked invalid (for one jit trace).

    Yields:
      ``Batch`` of ``jax.Array``s. The host holds at most ``max_in_flight + (prefetch + 1) * batch_size``
      decoded images at any time. An error (a corrupt image) ends the stream after every batch
      decoded before it has been handed out.
    """
    if prefetch < 0:
        raise ValueError(f"prefetch must be >= 0, got {prefetch}")
    host = host_batches(
        dataset,
        batch_size=batch_size,
        transform=transform,
        decode=decode,
        num_threads=num_threads,
        max_in_flight=max_in_flight,
        skip_corrupt=skip_corrupt,
        image_shape=image_shape,
        pad=pad,
    )
    queue: collections.deque[Batch] = collections.deque()
    failure: Exception | None = None
    try:
        try:
            for batch in host:
                queue.append(Batch(*jax.device_put(tuple(batch), device)))
                if len(queue) > prefetch:
                    yield queue.popleft()
        except Exception as error:  # noqa: BLE001 - re-raised below, after the batches decoded before it
            failure = error
        while queue:
            yield queue.popleft()
        if failure is not None:
            raise failure
    finally:
        host.close()


def num_batches(dataset: Dataset, batch_size: int) -> int:
    return math.ceil(len(dataset) / batch_size)
