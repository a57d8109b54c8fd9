"""``alignjax attack --data SOURCE`` end to end: the same images as a JPEG folder in ImageNet wnid folders,
as a uint8 npz with RobustBench preprocessing, and as a preprocessed float npz give the same per-point
results; bad data files and class mappings that do not fit the model stop before anything is written.

The model is a random-weight ``small_cnn`` (widths 2 and 4) with 1000 outputs at 224 px, registered for
the test as a named model whose spec preprocessing is RobustBench's Res256Crop224 (so ``--model``'s
default protocol is exercised too). Labels are set from its own predictions so that most points are
clean-correct and get attacked.
"""

from __future__ import annotations

import json
import re

import jax
import numpy as np
import polars as pl
import pytest
from flax import traverse_util
from PIL import Image
from safetensors.numpy import save_file

from alignjax.cli import main
from alignjax.data.imagenet import imagenet_wnids
from alignjax.data.preprocessing import decode_image, robustbench_transform, to_float01, to_uint8
from alignjax.models import registry
from alignjax.models.embedded import unflatten
from alignjax.models.registry import CheckpointQuirks, ModelSpec, Preprocessing, build_architecture

TINY = "test-tiny-cnn-224"
ATTACK = ["--version", "custom", "--attacks", "apgd-ce", "--eps", "1/255", "--batch-size", "2", "--no-progress"]


@pytest.fixture
def tiny_model(tmp_path, monkeypatch):
    kwargs = (("widths", (2, 4)), ("hidden", 8))
    module = build_architecture("small_cnn", num_classes=1000, **dict(kwargs))
    shapes = jax.eval_shape(module.init, jax.random.key(0), np.zeros((1, 224, 224, 3), np.float32))
    rng = np.random.default_rng(0)  # LeCun-normal weights, zero biases: what module.init draws, without its cost
    flat = {
        name: (rng.normal(size=leaf.shape) / np.sqrt(np.prod(leaf.shape[:-1]))).astype(np.float32)
        if name.endswith("kernel") else np.zeros(leaf.shape, np.float32)
        for name, leaf in traverse_util.flatten_dict(dict(shapes), sep="/").items()
    }
    variables = unflatten(flat)
    weights = tmp_path / "tiny.safetensors"
    save_file(flat, str(weights))
    spec = ModelSpec(
        name=TINY, arch="small_cnn", num_classes=1000, input_shape=(224, 224, 3), source=str(weights),
        quirks=CheckpointQuirks(layout="flax"), preprocessing=Preprocessing(resize=256, crop=224, interpolation="bilinear"),
        arch_kwargs=kwargs,
    )
    monkeypatch.setitem(registry.MODELS, TINY, spec)
    return module, variables


def _points(out):
    return pl.read_parquet(out / "points.parquet")


def test_folder_uint8_npz_and_float_npz_give_the_same_points(tmp_path, tiny_model, capsys):
    module, variables = tiny_model
    rng = np.random.default_rng(0)
    count, transform = 4, robustbench_transform("Res256Crop224")
    raw = []  # decoded JPEG pixels: what the folder holds, exactly
    for index in range(count):
        yy, xx = np.mgrid[0:240, 0:300]
        base = np.stack([xx * 255 / 300, yy * 255 / 240, (xx + yy + 40 * index) % 256], -1)
        pixels = np.clip(base + rng.normal(0, 30, base.shape), 0, 255).astype(np.uint8)
        scratch = tmp_path / f"scratch{index}.JPEG"
        Image.fromarray(pixels).save(scratch, quality=90)
        raw.append(to_uint8(decode_image(scratch)))
    preprocessed = to_float01(np.stack([to_uint8(transform(Image.fromarray(image))) for image in raw]))
    predicted = np.asarray(module.apply(variables, preprocessed)).argmax(1)
    labels = np.where(np.arange(count) % 2 == 1, (predicted + 1) % 1000, predicted)  # 2 clean errors
    wnids = imagenet_wnids()
    folder = tmp_path / "imagenet" / "val"
    for index in range(count):
        path = folder / wnids[labels[index]] / f"ILSVRC2012_val_{index:08d}.JPEG"
        path.parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / f"scratch{index}.JPEG").rename(path)
    (folder / ".ipynb_checkpoints").mkdir()  # hidden entries are not classes, nor images
    Image.fromarray(raw[0]).save(folder / ".ipynb_checkpoints" / "stray.JPEG")
    (folder / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    # the folder's order: sorted wnid folders, then file names
    order = sorted(range(count), key=lambda i: (wnids[labels[i]], i))
    np.savez(tmp_path / "u8.npz", x=np.stack([raw[i] for i in order]), y=labels[order])
    np.savez(tmp_path / "f32.npz", x=preprocessed[order], y=labels[order])

    runs = {
        "folder": ["--model", TINY, "--data", str(tmp_path / "imagenet")],  # spec default: Res256Crop224
        "uint8": ["--model", TINY, "--data", str(tmp_path / "u8.npz"), "--preprocessing", "Res256Crop224"],
        "float": ["--model", TINY, "--data", str(tmp_path / "f32.npz")],
    }
    for name, argv in runs.items():
        assert main(["attack", *argv, *ATTACK, "--out", str(tmp_path / name)]) == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert "ImageNet val" in printed and "preprocessing model" in printed
    reference = _points(tmp_path / "float")
    assert reference.height == count and reference["label"].to_list() == labels[order].tolist()
    assert reference["clean_correct"].sum() == 2 and (reference["broken_by"] == "clean").sum() == 2
    assert (reference["broken_by"] == "apgd-ce").any()
    for name in ("folder", "uint8"):
        assert _points(tmp_path / name).equals(reference), name
        summary = json.loads((tmp_path / name / "summary.json").read_text())
        assert summary["robust_accuracy_after"] == json.loads(
            (tmp_path / "float" / "summary.json").read_text()
        )["robust_accuracy_after"]


def _write(path, content: bytes):
    path.write_bytes(content)
    return path


def _npz_bytes(**arrays) -> bytes:
    import io

    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


GOOD = {"x": np.zeros((4, 8, 8, 1), np.float32), "y": np.arange(4)}


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", r"is empty \(0 bytes\)"),
        (_npz_bytes(**GOOD)[:300], r"damaged \.npz \(truncated or corrupt"),
        (_npz_bytes(**GOOD)[:200] + bytes([_npz_bytes(**GOOD)[200] ^ 0xFF]) + _npz_bytes(**GOOD)[201:],
         "damaged .npz .*CRC"),
        (b"\x93NUMPY" + _npz_bytes(**GOOD)[6:], "is a .npy file holding one array"),
        (b"<!DOCTYPE html><html><body>Sign in</body></html>", "is a web page"),
        (_npz_bytes(x=np.float32(0.5), y=np.arange(1)), "x is a scalar"),
        (_npz_bytes(x=np.zeros((4, 0, 8, 1), np.float32), y=np.arange(4)), "images of height 0"),
        (_npz_bytes(x=np.zeros((4, 3, 32, 32), np.float32), y=np.arange(4)),
         r"x looks channels-first \(4, 3, 32, 32\): pass --layout nchw"),
        (_npz_bytes(x=np.array([None, 1], dtype=object), y=np.arange(2)), "object arrays"),
        (_npz_bytes(x=np.zeros((10, 8, 8, 1), np.uint8), y=np.arange(9)), "10 images but y has 9 labels"),
        (_npz_bytes(images=np.zeros((2, 8, 8, 1))), r"no array\(s\) named \['x', 'y'\]"),
    ],
    ids=["empty", "truncated", "crc", "npy", "html", "scalar", "height0", "nchw", "object", "lengths", "names"],
)
def test_bad_data_files_get_one_line_and_nothing_is_written(tmp_path, capsys, content, message):
    data = _write(tmp_path / "data.npz", content)
    out = tmp_path / "never"
    assert main(["attack", "--data", str(data), "--n", "2", "--no-progress", "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert len(error.strip().splitlines()) == 1 and "Traceback" not in error
    assert re.search(message, error), error
    assert "allow_pickle" not in error and "pickle.load" not in error
    assert not out.exists()


def test_class_mappings_that_do_not_fit_stop_before_the_attack(tmp_path, tiny_model, capsys):
    rng = np.random.default_rng(1)
    for name in ("cat/a.png", "dog/b.png", "emu/c.png"):
        (tmp_path / "zoo" / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)).save(tmp_path / "zoo" / name)
    base = ["attack", "--model", TINY, *ATTACK, "--out", str(tmp_path / "never")]
    assert main([*base, "--data", str(tmp_path / "zoo"), "--preprocessing", "Res224"]) == 2
    assert "3 classes but the model has 1000 outputs" in capsys.readouterr().err
    assert main([*base, "--data", str(tmp_path / "zoo"), "--preprocessing", "none"]) == 2
    assert "images are (20, 20, 3) after preprocessing 'none'" in capsys.readouterr().err
    assert not (tmp_path / "never").exists()


def test_a_folder_of_grayscale_pngs_is_attacked_with_the_bundled_model(tmp_path, capsys):
    """8x8 grayscale PNGs of the digits, one subfolder per class: decoded as one channel for the
    one-channel embedded model (not as RGB), with 'none' and with 'brainscore' (which resizes to the
    model's 8x8, not to 224); the closing line names all three result files."""
    from PIL import Image

    from alignjax.data.digits import digits_split

    test = digits_split("test")
    arrays = []
    for i in range(60):  # every class has images among the first 60
        folder = tmp_path / "digits" / str(int(test.y[i]))
        folder.mkdir(parents=True, exist_ok=True)
        pixels = (np.asarray(test.x[i])[..., 0] * 255).round().astype(np.uint8)
        Image.fromarray(pixels, "L").save(folder / f"{i:03d}.png")
        arrays.append(pixels)
    budget = ["--version", "custom", "--attacks", "apgd-ce", "--n-iter", "2"]
    for preprocessing in ("none", "brainscore"):
        out = tmp_path / preprocessing
        assert main(["attack", "--data", str(tmp_path / "digits"), "--preprocessing", preprocessing,
                     "--out", str(out), *budget]) == 0
        printed = capsys.readouterr().out
        assert f"results: {out}/points.parquet, {out}/summary.json, {out}/manifest.json" in printed
        summary = json.loads((out / "summary.json").read_text())
        assert summary["clean_accuracy"] > 90.0, summary
    np.testing.assert_array_equal(  # one channel, the file's own pixels
        np.asarray(Image.open(tmp_path / "digits" / str(int(test.y[0])) / "000.png")), arrays[0])
