"""The streaming pipeline: fixed shapes, padding mask, dataset order, corrupt files, bounded memory."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import jax
import numpy as np
import pytest
from PIL import Image

from alignjax.data import streaming
from alignjax.data.arrays import ArrayDataset, check_fits_model
from alignjax.data.folders import FileDataset, image_folder
from alignjax.data.hub_parquet import ParquetImageDataset
from alignjax.data.preprocessing import CorruptImageError, load_and_transform, robustbench_transform


def _folder(tmp_path: Path, rng, n: int) -> FileDataset:
    for i in range(n):
        size = (int(rng.integers(230, 320)), int(rng.integers(230, 320)))
        path = tmp_path / f"class{i % 3}" / f"{i:03d}.JPEG"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(path)
    return image_folder(tmp_path)


def test_batches_match_direct_decoding_with_padding(tmp_path, rng):
    data = _folder(tmp_path, rng, 7)
    transform = robustbench_transform("Res256Crop224")
    batches = list(streaming.stream_batches(data, batch_size=3, transform=transform, num_threads=2, pad=True))
    assert len(batches) == 3
    for batch in batches:
        assert isinstance(batch.x, jax.Array)
        assert batch.x.shape == (3, 224, 224, 3) and batch.x.dtype == np.uint8
        assert batch.y.dtype == np.int32 and batch.valid.dtype == bool
    x = np.concatenate([jax.device_get(batch.x) for batch in batches])
    valid = np.concatenate([jax.device_get(batch.valid) for batch in batches])
    index = np.concatenate([jax.device_get(batch.index) for batch in batches])
    y = np.concatenate([jax.device_get(batch.y) for batch in batches])
    assert valid.tolist() == [True] * 7 + [False] * 2
    assert index.tolist() == list(range(7)) + [-1, -1]
    assert y[:7].tolist() == data.labels.tolist()
    for i in range(7):
        np.testing.assert_array_equal(x[i], load_and_transform(data.paths[i], transform))
    assert not x[7:].any()


def test_array_dataset_streams_unchanged(rng):
    images = rng.integers(0, 256, (10, 32, 32, 3), dtype=np.uint8)
    data = ArrayDataset(images, np.arange(10) % 10)
    batches = list(streaming.stream_batches(data, batch_size=4, num_threads=1, prefetch=0))
    x = np.concatenate([jax.device_get(batch.x) for batch in batches])
    np.testing.assert_array_equal(x[:10], images)


def test_corrupt_image_raises_with_path_or_is_skipped(tmp_path, rng):
    data = _folder(tmp_path, rng, 5)
    broken = data.paths[2]
    broken.write_bytes(b"garbage, not a JPEG")
    with pytest.raises(CorruptImageError, match=broken.name):
        list(streaming.stream_batches(data, batch_size=2, transform=robustbench_transform("Res224")))
    with pytest.warns(UserWarning, match=f"skipping corrupt image .*{broken.name}"):
        batches = list(
            streaming.stream_batches(
                data, batch_size=2, transform=robustbench_transform("Res224"), skip_corrupt=True, pad=True
            )
        )
    valid = np.concatenate([jax.device_get(batch.valid) for batch in batches])
    index = np.concatenate([jax.device_get(batch.index) for batch in batches])
    assert valid.tolist() == [True, True, False, True, True, False]
    assert index.tolist() == [0, 1, 2, 3, 4, -1]


def test_mixed_sizes_need_a_transform(tmp_path, rng):
    data = _folder(tmp_path, rng, 4)
    with pytest.raises(ValueError, match="give a transform that produces a fixed size"):
        list(streaming.stream_batches(data, batch_size=4))


def test_memory_is_bounded_on_a_large_dataset():
    """50k paths, a counting decoder (no real decoding): decoded-but-not-consumed images stay bounded."""
    size, batch_size, max_in_flight, prefetch = 50_000, 256, 512, 1
    data = FileDataset(
        tuple(Path(f"/nonexistent/{i}.JPEG") for i in range(size)), np.zeros(size, np.int32), "fake"
    )
    lock = threading.Lock()
    state = {"decoded": 0, "consumed": 0, "peak": 0}
    tile = np.zeros((4, 4, 3), np.uint8)

    def counting_decoder(path):
        with lock:
            state["decoded"] += 1
            state["peak"] = max(state["peak"], state["decoded"] - state["consumed"])
        return tile

    stream = streaming.stream_batches(
        data,
        batch_size=batch_size,
        decode=counting_decoder,
        num_threads=2,
        max_in_flight=max_in_flight,
        prefetch=prefetch,
        pad=True,
    )
    bound = max_in_flight + (prefetch + 1) * batch_size  # the bound stream_batches documents
    for step, _batch in enumerate(stream):
        with lock:
            state["consumed"] += batch_size
        if step == 5:
            # stopping early: only a bounded window beyond what was consumed was ever decoded
            assert state["decoded"] <= state["consumed"] + bound
    assert state["consumed"] == streaming.num_batches(data, batch_size) * batch_size
    assert state["decoded"] == size
    assert state["peak"] <= bound, state


def test_stopping_early_stops_decoding():
    size = 10_000
    data = FileDataset(tuple(Path(f"/x/{i}.png") for i in range(size)), np.zeros(size, np.int32), "fake")
    calls = []
    stream = streaming.stream_batches(
        data, batch_size=8, decode=lambda path: calls.append(path) or np.zeros((2, 2, 3), np.uint8)
    )
    next(stream)
    stream.close()
    assert (
        len(calls) <= 8 * 3 + 16 + 2
    )  # current + prefetched batches + the in-flight window (+ racing threads)


def test_one_trace_for_every_batch(rng):
    images = rng.integers(0, 256, (11, 8, 8, 3), dtype=np.uint8)
    data = ArrayDataset(images, np.zeros(11, np.int32))
    traces = []

    @jax.jit
    def masked_sum(x, valid):
        traces.append(1)
        per_image = x.astype(np.float32).sum(axis=(1, 2, 3))
        return (per_image * valid.astype(np.float32)).sum()

    total = sum(
        float(masked_sum(batch.x, batch.valid)) for batch in streaming.stream_batches(data, batch_size=4, pad=True)
    )
    assert len(traces) == 1
    assert total == pytest.approx(float(images.astype(np.float64).sum()))


def test_encoded_bytes_stream_like_files(rng):
    images = rng.integers(0, 256, (5, 16, 16, 3), dtype=np.uint8)
    encoded = []
    for image in images:
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="PNG")
        encoded.append(buffer.getvalue())
    data = ParquetImageDataset(
        tuple(encoded), np.arange(5, dtype=np.int32), "bytes", tuple(f"{i}" for i in range(5))
    )
    batches = list(streaming.stream_batches(data, batch_size=2))
    x = np.concatenate([jax.device_get(batch.x) for batch in batches])
    np.testing.assert_array_equal(x[:5], images)


def test_dataset_that_does_not_fit_the_model_is_refused(rng):
    data = ArrayDataset(rng.integers(0, 256, (3, 4, 4, 3), dtype=np.uint8), np.array([0, 1, 9]))
    check_fits_model(data, 10)
    with pytest.raises(ValueError, match=r"label\(s\) \[9\] >= 5"):
        check_fits_model(data, 5)
    named = ArrayDataset(data.x, np.array([0, 1, 2]), classes=("a", "b", "c"))
    with pytest.raises(ValueError, match="3 classes but the model has 1000 outputs"):
        check_fits_model(named, 1000)
