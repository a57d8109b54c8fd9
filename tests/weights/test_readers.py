"""Checkpoint readers against torch.save / torch.load: every format, dtype and storage layout."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
import torch
from safetensors.numpy import save_file
from safetensors.torch import save_file as save_torch_safetensors

from alignjax.weights.readers import (
    CheckpointFormatError,
    detect_format,
    load_checkpoint,
    read_state_dict,
    select_state_dict,
)
from alignjax.weights.torch_archive import load_torch_legacy, load_torch_zip

FORMATS = {"zip": True, "legacy": False}


def _tensors() -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    base = torch.randn(6, 8, generator=gen)
    return {
        "float32": torch.randn(3, 4, generator=gen),
        "float16": torch.randn(5, generator=gen).half(),
        "bfloat16": torch.randn(2, 3, generator=gen).bfloat16(),
        "float64": torch.randn(3, generator=gen).double(),
        "int64": torch.arange(-3, 7),
        "int32": torch.arange(5, dtype=torch.int32),
        "uint8": torch.arange(250, 256, dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
        "transposed": base.t(),  # non-contiguous view
        "strided_slice": base[1:4, ::3],  # storage offset and strides
        "shared_base": base,  # same storage as the two views above
        "scalar": torch.tensor(3.5),
        "empty": torch.zeros(0, 3),
        "parameter": torch.nn.Parameter(torch.randn(2, 2, generator=gen)),
        "expanded": torch.randn(3, 1, generator=gen).expand(3, 4),  # zero stride
    }


def _expected(tensor: torch.Tensor) -> np.ndarray:
    tensor = tensor.detach()
    return tensor.float().numpy() if tensor.dtype == torch.bfloat16 else tensor.numpy()


def _assert_same(got: dict[str, np.ndarray], reference: dict[str, torch.Tensor]) -> None:
    assert sorted(got) == sorted(reference)
    for name, tensor in reference.items():
        expected = _expected(tensor)
        assert got[name].dtype == expected.dtype, name
        assert got[name].shape == expected.shape, name
        np.testing.assert_array_equal(got[name], expected, err_msg=name)
        assert got[name].flags.c_contiguous


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_matches_torch_load(tmp_path, fmt):
    path = tmp_path / "weights.pt"
    torch.save(_tensors(), path, _use_new_zipfile_serialization=FORMATS[fmt])
    loaded = load_checkpoint(path)
    assert loaded.format == f"torch_{fmt}" and loaded.key is None
    _assert_same(loaded.state_dict, torch.load(path, weights_only=True))


@pytest.mark.parametrize("fmt", FORMATS)
def test_shared_storage_gives_independent_arrays(tmp_path, fmt):
    base = torch.arange(12.0).reshape(3, 4)
    path = tmp_path / "shared.pt"
    torch.save({"a": base, "b": base[1]}, path, _use_new_zipfile_serialization=FORMATS[fmt])
    state = read_state_dict(path)
    state["a"][1, 0] = -1.0
    assert state["b"][0] == 4.0


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("wrapper", ["state_dict", "model", "model_state_dict"])
def test_nested_checkpoint_picks_weights_and_says_which(tmp_path, fmt, wrapper):
    weights = {"module.conv.weight": torch.ones(2, 3), "module.bn.num_batches_tracked": torch.tensor(5)}
    checkpoint = {wrapper: weights, "epoch": 3, "best_acc": 91.5, "optimizer": {"lr": 0.1, "state": {}}}
    path = tmp_path / "nested.pth"
    torch.save(checkpoint, path, _use_new_zipfile_serialization=FORMATS[fmt])
    loaded = load_checkpoint(path)
    assert loaded.key == wrapper
    assert list(loaded.state_dict) == ["conv.weight"]  # prefix stripped, counter dropped


def test_ordered_dict_state_dict_with_metadata(tmp_path):
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    for fmt in FORMATS.values():
        path = tmp_path / f"model_{fmt}.pt"
        torch.save(model.state_dict(), path, _use_new_zipfile_serialization=fmt)
        reference = {k: v for k, v in model.state_dict().items() if "num_batches" not in k}
        _assert_same(read_state_dict(path), reference)


@pytest.mark.parametrize("fmt", FORMATS)
def test_training_metadata_next_to_the_weights(tmp_path, fmt):
    """Namespace args, numpy scalars and arrays, bytes and sets load as plain data; weights are found."""
    history = np.arange(6.0).reshape(2, 3).T
    checkpoint = {"model": {"fc.weight": torch.ones(2, 2)}, "args": argparse.Namespace(lr=0.1, arch="wrn"),
                  "best_acc": np.float64(91.25), "history": history, "tag": b"v1", "seen": {1, 2}}
    path = tmp_path / "train.pt"
    torch.save(checkpoint, path, _use_new_zipfile_serialization=FORMATS[fmt])
    loaded = (load_torch_zip if fmt == "zip" else load_torch_legacy)(path)
    assert loaded["args"] == {"lr": 0.1, "arch": "wrn"}
    assert loaded["best_acc"] == 91.25 and loaded["tag"] == b"v1" and loaded["seen"] == {1, 2}
    np.testing.assert_array_equal(loaded["history"], history)
    assert load_checkpoint(path).key == "model"


def test_explicit_key_and_unclear_checkpoints():
    arrays = {"w": np.ones(2, np.float32)}
    assert select_state_dict({"ema": {"model": arrays}, "x": arrays}, key="ema.model")[1] == "ema.model"
    with pytest.raises(CheckpointFormatError, match="cannot tell where the weights are"):
        select_state_dict({"a": arrays, "b": arrays})
    with pytest.raises(KeyError, match="no entry 'nope'"):
        select_state_dict({"a": arrays}, key="nope")


def test_safetensors_numpy_and_torch_bfloat16(tmp_path):
    reference = {"w": torch.randn(3, 2), "h": torch.randn(4).half(), "b": torch.randn(2, 2).bfloat16()}
    path = tmp_path / "w.safetensors"
    save_torch_safetensors(reference, str(path))
    assert detect_format(path) == "safetensors"
    _assert_same(read_state_dict(path), reference)


def test_npz(tmp_path):
    arrays = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.array([1, 2], np.int64)}
    np.savez(tmp_path / "w.npz", **arrays)
    got = read_state_dict(tmp_path / "w.npz")
    assert got.keys() == arrays.keys() and all(np.array_equal(got[k], arrays[k]) for k in arrays)


@pytest.mark.parametrize("fmt", [*FORMATS, "safetensors"])
def test_truncated_file_is_a_clear_error(tmp_path, fmt):
    path = tmp_path / f"full.{fmt}"
    weights = {"w": torch.randn(64, 64), "v": torch.randn(64)}
    if fmt == "safetensors":
        save_torch_safetensors(weights, str(path))
    else:
        torch.save(weights, path, _use_new_zipfile_serialization=FORMATS[fmt])
    data = path.read_bytes()
    cut = tmp_path / f"cut.{fmt}"
    cut.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(CheckpointFormatError, match="cut"):
        read_state_dict(cut)


@pytest.mark.parametrize("fmt", FORMATS)
def test_corrupt_file_is_a_clear_error(tmp_path, fmt):
    path = tmp_path / "ok.pt"
    torch.save({"w": torch.randn(256)}, path, _use_new_zipfile_serialization=FORMATS[fmt])
    data = bytearray(path.read_bytes())
    if fmt == "zip":  # flip bytes inside the tensor data: the zip CRC catches it
        index = data.index(b"/data/0") + 200
        data[index:index + 16] = bytes(16)
    else:  # break the main pickle
        index = data.index(b"_rebuild_tensor_v2")
        data[index:index + 5] = b"\xff\xfe\xfd\xfc\xfb"
    bad = tmp_path / "bad.pt"
    bad.write_bytes(bytes(data))
    with pytest.raises((CheckpointFormatError,), match="bad.pt"):
        read_state_dict(bad)


def test_garbage_and_missing_files(tmp_path):
    html = tmp_path / "model.pth"
    html.write_text("<html>404 Not Found</html>")
    with pytest.raises(CheckpointFormatError, match="unrecognised checkpoint format"):
        read_state_dict(html)
    with pytest.raises(FileNotFoundError, match="nothing.pt"):
        read_state_dict(tmp_path / "nothing.pt")


def test_numpy_safetensors_round_trip(tmp_path):
    arrays = {"params/conv/kernel": np.ones((3, 3, 1, 2), np.float32)}
    save_file(arrays, str(tmp_path / "f.safetensors"))
    assert read_state_dict(tmp_path / "f.safetensors")["params/conv/kernel"].shape == (3, 3, 1, 2)
