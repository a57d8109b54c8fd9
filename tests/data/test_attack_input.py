"""Streamed images for the cascade: rows equal direct decoding, decoding stays a bounded window ahead,
a corrupt file ends the stream after every earlier batch, and ``run_autoattack`` on a streamed folder
gives exactly the per-point results of the same images as an array (resume included)."""

from __future__ import annotations

import threading
from pathlib import Path

import jax
import numpy as np
import pytest
from PIL import Image

from alignjax.attacks.apgd import APGDConfig
from alignjax.attacks.engine.cascade import run_autoattack
from alignjax.data import streaming
from alignjax.data.arrays import ArrayDataset
from alignjax.data.attack_input import StreamedImages, attack_data
from alignjax.data.folders import image_folder
from alignjax.data.preprocessing import (
    CorruptImageError,
    load_and_transform,
    robustbench_transform,
    to_float01,
)


def _png_folder(root: Path, images: np.ndarray, labels: np.ndarray) -> None:
    for index, (image, label) in enumerate(zip(images, labels, strict=True)):
        path = root / f"class{label}" / f"{index:03d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(path)


def test_rows_equal_direct_decoding_and_padding_repeats(tmp_path, rng):
    for index in range(5):
        path = tmp_path / f"c{index % 2}" / f"{index}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        size = (int(rng.integers(230, 300)), int(rng.integers(230, 300)))
        Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(path)
    data = image_folder(tmp_path)
    transform = robustbench_transform("Res224")
    images = StreamedImages(data, transform=transform, preprocessing="Res224")
    assert len(images) == 5 and images.image_shape == (224, 224, 3)
    chunks = [np.array([0, 1, 2]), np.array([3, 4, 3])]  # the cascade pads with a repeated index
    rows = list(images.rows(chunks))
    expected = to_float01(np.stack([load_and_transform(path, transform) for path in data.paths]))
    np.testing.assert_array_equal(rows[0], expected[:3])
    np.testing.assert_array_equal(rows[1], expected[[3, 4, 3]])
    assert rows[0].dtype == np.float32
    digest = images.digest()
    assert digest == StreamedImages(data, transform=transform, preprocessing="Res224").digest()
    assert digest != StreamedImages(data, transform=transform, preprocessing="other").digest()
    data.paths[4].write_bytes(data.paths[4].read_bytes()[:-1] + b"\0")
    assert digest != images.digest()


class _CountingDataset:
    """uint8 items that count how often they are fetched (decoding stands in for reading files)."""

    description = "counting"

    def __init__(self, size: int):
        self.size, self.fetched, self.lock = size, 0, threading.Lock()

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int):
        with self.lock:
            self.fetched += 1
        return np.full((2, 2, 3), index % 256, np.uint8), 0


def test_decoding_stays_a_bounded_window_ahead():
    size, chunk, prefetch = 2_000, 50, 1
    data = _CountingDataset(size)
    images = StreamedImages(data, prefetch=prefetch, num_threads=2)
    consumed = 0
    for rows in images.rows(np.arange(start, start + chunk) for start in range(0, size, chunk)):
        consumed += len(rows)
        with data.lock:  # the first image (shape probe) + this chunk + `prefetch` chunks ahead
            assert data.fetched <= 1 + consumed + prefetch * chunk
    assert consumed == size


def test_a_corrupt_file_ends_the_stream_after_every_earlier_batch(tmp_path, rng):
    images = rng.integers(0, 256, (6, 8, 8, 3), dtype=np.uint8)
    _png_folder(tmp_path, images, np.zeros(6, np.int64))
    data = image_folder(tmp_path)
    broken = data.paths[4]
    broken.write_bytes(b"<html>not a PNG</html>")
    streamed = StreamedImages(data, prefetch=1)
    delivered = []
    with pytest.raises(CorruptImageError, match=broken.name):
        for rows in streamed.rows([np.array([0, 1]), np.array([2, 3]), np.array([4, 5])]):
            delivered.append(rows)  # noqa: PERF402 - the loop is cut short by the error
    assert len(delivered) == 2
    np.testing.assert_array_equal(delivered[1], to_float01(images[2:4]))
    batches = []
    with pytest.raises(CorruptImageError, match=broken.name):
        for batch in streaming.stream_batches(data, batch_size=2, prefetch=1):
            batches.append(batch)  # noqa: PERF402 - the loop is cut short by the error
    assert len(batches) == 2 and np.asarray(jax.device_get(batches[1].index)).tolist() == [2, 3]


def test_unpadded_batches_need_no_mask(rng):
    images = rng.integers(0, 256, (5, 4, 4, 3), dtype=np.uint8)
    batches = list(streaming.host_batches(ArrayDataset(images, np.arange(5)), batch_size=2))
    assert [len(batch.x) for batch in batches] == [2, 2, 1]
    np.testing.assert_array_equal(np.concatenate([batch.x for batch in batches]), images)
    assert np.concatenate([batch.index for batch in batches]).tolist() == [0, 1, 2, 3, 4]


def _linear(params, x):
    return x.reshape(x.shape[0], -1) @ params["w"]


def test_streamed_folder_gives_the_array_results_and_resumes(tmp_path, rng):
    n, classes = 30, 4
    images = rng.integers(0, 256, (n, 4, 4, 3), dtype=np.uint8)
    floats = to_float01(images)
    params = {"w": rng.normal(size=(48, classes)).astype(np.float32)}
    labels = np.asarray(_linear(params, floats)).argmax(1)
    labels[::5] = (labels[::5] + 1) % classes  # some clean errors
    labels[1:5] = np.arange(classes)  # every class folder exists, so folder index = label
    _png_folder(tmp_path / "data", images, labels)
    data = attack_data(tmp_path / "data", num_classes=classes)  # PNG is lossless: the same pixels
    order = np.array([int(path.stem) for path in data.dataset.paths])
    assert isinstance(data.images, StreamedImages) and data.labels.tolist() == labels[order].tolist()
    attacks = (APGDConfig("Linf", 0.03, n_iter=5, n_restarts=1, loss="ce"),)
    options = {"attacks": attacks, "key": jax.random.key(0), "batch_size": 7, "run_checks": False}
    in_memory = run_autoattack(_linear, params, floats[order], data.labels, **options)
    streamed = run_autoattack(_linear, params, data.images, data.labels, **options)
    assert streamed.x_adv is None and in_memory.x_adv is not None
    for field in ("clean_correct", "robust", "broken_by", "y_adv", "n_queries", "perturbation_norm"):
        np.testing.assert_array_equal(getattr(streamed, field), getattr(in_memory, field), err_msg=field)
    assert 0 < streamed.robust.sum() < streamed.clean_correct.sum()  # some broken, some robust
    broken = ~in_memory.robust & in_memory.clean_correct
    norms = np.abs(in_memory.x_adv - floats[order]).reshape(n, -1).max(1)
    np.testing.assert_allclose(in_memory.perturbation_norm[broken], norms[broken], rtol=1e-6)

    calls = {"n": 0}

    def interrupt(name, done, total, robust):  # the attack's start, its first batch, then stop
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt

    state = tmp_path / "state"
    with pytest.raises(KeyboardInterrupt):
        run_autoattack(_linear, params, data.images, data.labels, state_dir=state, progress=interrupt,
                       checkpoint_seconds=0.0, **options)
    with np.load(state / "state.npz") as saved:  # streamed: per-point results only, no images
        assert "x_adv" not in saved.files and 0 < saved["attempted"].sum() < n
    resumed = run_autoattack(_linear, params, data.images, data.labels, state_dir=state, **options)
    for field in ("robust", "broken_by", "y_adv", "perturbation_norm"):
        np.testing.assert_array_equal(getattr(resumed, field), getattr(streamed, field), err_msg=field)
    with pytest.raises(ValueError, match="4 classes but the model has 3"):
        attack_data(tmp_path / "data", num_classes=3)


def test_mixed_sizes_without_resizing_are_refused_before_decoding(tmp_path, rng):
    for name, size in (("a/1.png", (6, 6)), ("a/2.png", (7, 5))):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(tmp_path / name)
    with pytest.raises(ValueError, match=r"2\.png is 7x5 but the first image is 6x6.*Res224"):
        attack_data(tmp_path, preprocessing="none")
    assert attack_data(tmp_path, preprocessing="Res224").images.image_shape == (224, 224, 3)


def test_a_corrupt_parquet_row_is_named(rng):
    import io

    from alignjax.data.hub_parquet import ParquetImageDataset

    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)).save(buffer, format="PNG")
    data = ParquetImageDataset(
        (buffer.getvalue(), b"\x89PNG truncated"), np.array([0, 1], np.int32), "rows", ("a.png", "test.parquet[1]")
    )
    with pytest.raises(CorruptImageError, match=r"test\.parquet\[1\]"):
        list(StreamedImages(data).rows([np.array([0]), np.array([1])]))
