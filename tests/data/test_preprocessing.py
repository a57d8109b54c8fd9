"""Preprocessing against an independent NumPy implementation of the same transforms (within 1/255).

The reference below re-implements PIL's separable resampling (``libImaging/Resample.c``: filter
support scaled by the downscaling factor, normalised weights in 22-bit fixed point, horizontal pass then
vertical pass, each rounded to uint8) with NumPy integer arithmetic, torchvision's shorter-side size and
centre-crop arithmetic, and Brain-Score's ``apply_ratio`` with NumPy slicing.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from alignjax.data import preprocessing as pp
from alignjax.models.registry import Preprocessing

TOLERANCE = 1  # uint8 steps, i.e. 1/255
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _triangle(x: np.ndarray) -> np.ndarray:
    return np.clip(1.0 - np.abs(x), 0.0, None)


def _cubic(x: np.ndarray, a: float = -0.5) -> np.ndarray:
    x = np.abs(x)
    near = ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
    far = (((x - 5.0) * x + 8.0) * x - 4.0) * a
    return np.where(x < 1.0, near, np.where(x < 2.0, far, 0.0))


FILTERS = {"bilinear": (_triangle, 1.0), "bicubic": (_cubic, 2.0)}


PRECISION_BITS = 22  # PIL: 32 - 8 (pixel) - 2 (headroom)


def _weights(in_size: int, out_size: int, interpolation: str) -> np.ndarray:
    """(out_size, in_size) fixed-point resampling matrix, computed as PIL computes its coefficients."""
    kernel, support = FILTERS[interpolation]
    scale = in_size / out_size
    filter_scale = max(scale, 1.0)
    support = support * filter_scale
    matrix = np.zeros((out_size, in_size), np.int64)
    for out in range(out_size):
        center = (out + 0.5) * scale
        low = max(int(center - support + 0.5), 0)
        high = min(int(center + support + 0.5), in_size)
        taps = np.arange(low, high)
        weights = kernel((taps + 0.5 - center) * (1.0 / filter_scale))
        weights = weights / weights.sum() * (1 << PRECISION_BITS)
        matrix[out, low:high] = np.trunc(weights + np.where(weights < 0, -0.5, 0.5)).astype(np.int64)
    return matrix


def _pass(matrix: np.ndarray, image: np.ndarray, subscripts: str) -> np.ndarray:
    total = np.einsum(subscripts, matrix, image.astype(np.int64)) + (1 << (PRECISION_BITS - 1))
    return np.clip(total >> PRECISION_BITS, 0, 255).astype(np.uint8)


def reference_resize(image: np.ndarray, width: int, height: int, interpolation: str) -> np.ndarray:
    """(h, w, c) uint8 -> (height, width, c) uint8: horizontal pass first, each pass rounded to uint8."""
    out = image
    if width != image.shape[1]:
        out = _pass(_weights(image.shape[1], width, interpolation), out, "ow,hwc->hoc")
    if height != image.shape[0]:
        out = _pass(_weights(image.shape[0], height, interpolation), out, "oh,hwc->owc")
    return out


def reference_shorter(image: np.ndarray, size: int, interpolation: str) -> np.ndarray:
    height, width = image.shape[:2]
    if width <= height:
        new_width, new_height = size, math.floor(size * height / width)
    else:
        new_width, new_height = math.floor(size * width / height), size
    return reference_resize(image, new_width, new_height, interpolation)


def reference_center_crop(image: np.ndarray, size: int) -> np.ndarray:
    height, width = image.shape[:2]
    pad_h, pad_w = max(size - height, 0), max(size - width, 0)
    image = np.pad(image, ((pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2), (0, 0)))
    height, width = image.shape[:2]
    top, left = round((height - size) / 2), round((width - size) / 2)  # Python round: half to even
    return image[top : top + size, left : left + size]


def reference_place_on_screen(image: np.ndarray, ratio: float) -> np.ndarray:
    height, width = image.shape[:2]
    new_height, new_width = np.round(ratio * height).astype(int), np.round(ratio * width).astype(int)
    if ratio >= 1:
        canvas = np.full((new_height, new_width, 3), 128, np.uint8)
        top, left = (
            np.round((new_height - height) / 2).astype(int),
            np.round((new_width - width) / 2).astype(int),
        )
        canvas[top : top + height, left : left + width] = image
        return canvas
    top, left = np.round((height - new_height) / 2).astype(int), np.round((width - new_width) / 2).astype(int)
    return image[top : top + new_height, left : left + new_width]


def _photo(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Smooth structure plus noise: exercises both flat and high-frequency content."""
    yy, xx = np.mgrid[0:height, 0:width]
    base = np.stack([xx * 255 / width, yy * 255 / height, (xx + yy) % 64 * 4], axis=-1)
    return np.clip(base + rng.normal(0, 40, base.shape), 0, 255).astype(np.uint8)


def _assert_close(actual: np.ndarray, expected: np.ndarray) -> None:
    assert actual.shape == expected.shape
    assert actual.dtype == np.uint8
    diff = np.abs(actual.astype(np.int16) - expected.astype(np.int16))
    assert diff.max() <= TOLERANCE, f"max difference {diff.max()} uint8 steps"


@pytest.mark.parametrize("interpolation", ["bilinear", "bicubic"])
@pytest.mark.parametrize("shape", [(375, 500), (333, 257), (200, 150), (256, 300)])
def test_resize_shorter_matches_reference(rng, interpolation, shape):
    image = _photo(rng, *shape)
    actual = pp.to_uint8(pp.resize_shorter(Image.fromarray(image), 256, interpolation))
    _assert_close(actual, reference_shorter(image, 256, interpolation))


def test_resize_shorter_size_uses_truncation():
    # torchvision: long side int(256 * 500 / 375) = 341, not round() = 341.33 -> 341; 257x333 -> 331.7 -> 331
    assert pp.resize_shorter(Image.new("RGB", (500, 375)), 256).size == (341, 256)
    assert pp.resize_shorter(Image.new("RGB", (257, 333)), 256).size == (256, 331)


@pytest.mark.parametrize("shape", [(257, 257), (256, 341), (300, 225), (200, 180), (223, 230)])
def test_center_crop_matches_reference(rng, shape):
    image = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    actual = pp.to_uint8(pp.center_crop(Image.fromarray(image), 224))
    np.testing.assert_array_equal(actual, reference_center_crop(image, 224))


def test_center_crop_rounds_half_to_even():
    # (257 - 224) / 2 = 16.5: torchvision's int(round(16.5)) = 16, so column 16 is the first kept.
    image = np.tile(np.arange(257, dtype=np.int64)[None, :, None] % 256, (257, 1, 3)).astype(np.uint8)
    cropped = pp.to_uint8(pp.center_crop(Image.fromarray(image), 224))
    assert cropped[0, 0, 0] == 16


@pytest.mark.parametrize("name", ["Res256Crop224", "BicubicRes256Crop224", "Crop288", "Res224"])
def test_robustbench_presets_on_jpegs(rng, tmp_path, name):
    for shape in [(375, 500), (500, 333), (260, 270)]:
        path = tmp_path / f"{shape[0]}x{shape[1]}.JPEG"
        Image.fromarray(_photo(rng, *shape)).save(path, quality=90)
        decoded = np.asarray(Image.open(path).convert("RGB"))
        if name == "Res256Crop224":
            expected = reference_center_crop(reference_shorter(decoded, 256, "bilinear"), 224)
        elif name == "BicubicRes256Crop224":
            expected = reference_center_crop(reference_shorter(decoded, 256, "bicubic"), 224)
        elif name == "Crop288":
            expected = reference_center_crop(decoded, 288)
        else:
            expected = reference_resize(decoded, 224, 224, "bilinear")
        _assert_close(pp.load_and_transform(path, pp.robustbench_transform(name)), expected)


def test_robustbench_cifar_is_to_tensor_only(rng):
    image = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    out = pp.to_uint8(pp.robustbench_transform(None)(Image.fromarray(image)))
    np.testing.assert_array_equal(out, image)
    floats = pp.to_float01(image[None])
    assert floats.dtype == np.float32
    np.testing.assert_array_equal(floats[0], image.astype(np.float32) / np.float32(255))


def test_unknown_preset_is_refused():
    with pytest.raises(ValueError, match="unknown RobustBench preprocessing"):
        pp.robustbench_transform("Res999")


@pytest.mark.parametrize(
    "spec",
    [
        Preprocessing(resize=256, crop=224, interpolation="bilinear"),
        Preprocessing(resize=248, crop=224, interpolation="bicubic"),  # timm crop_pct 0.9 at 224
        Preprocessing(resize=None, crop=None),
    ],
)
def test_spec_transform_matches_reference(rng, spec):
    image = _photo(rng, 300, 410)
    expected = image
    if spec.resize is not None:
        expected = reference_shorter(expected, spec.resize, spec.interpolation)
    if spec.crop is not None:
        expected = reference_center_crop(expected, spec.crop)
    _assert_close(pp.to_uint8(pp.spec_transform(spec)(Image.fromarray(image))), expected)


@pytest.mark.parametrize("source_degrees", [3.0, 8.8, 10.0, 4.0])
def test_place_on_screen_matches_reference(rng, source_degrees):
    image = rng.integers(0, 256, (224, 224, 3), dtype=np.uint8)
    placed = pp.to_uint8(pp.place_on_screen(Image.fromarray(image), source_degrees=source_degrees))
    np.testing.assert_array_equal(placed, reference_place_on_screen(image, 8.0 / source_degrees))


def test_place_on_screen_geirhos_geometry(rng):
    # 224 px at 3 degrees in an 8 degree field: canvas round(597.33) = 597, offset round(186.5) = 186.
    placed = pp.place_on_screen(Image.new("RGB", (224, 224), (255, 0, 0)), source_degrees=3.0)
    array = pp.to_uint8(placed)
    assert placed.size == (597, 597)
    assert tuple(array[0, 0]) == (128, 128, 128)
    assert tuple(array[186, 186]) == (255, 0, 0) and tuple(array[185, 185]) == (128, 128, 128)
    assert tuple(array[186 + 223, 186 + 223]) == (255, 0, 0) and tuple(array[186 + 224, 186 + 224]) == (
        128,
        128,
        128,
    )


def test_brainscore_pipeline_on_real_stimulus():
    path = FIXTURES / "texture-vs-shape/stimuli/style-transfer-preprocessed-512/bird/bird1-airplane2.png"
    raw = np.asarray(Image.open(path).convert("RGB"))
    expected = reference_resize(reference_place_on_screen(raw, 8.0 / 3.0), 224, 224, "bilinear")
    actual = pp.brainscore_images([path], 224, source_degrees=3.0)
    assert actual.shape == (1, 224, 224, 3) and actual.dtype == np.float32
    assert np.abs(actual[0] - expected.astype(np.float32) / 255).max() <= TOLERANCE / 255 + 1e-7
    unplaced = pp.brainscore_images([path], 160)  # Hermann2020: no placement, plain resize
    assert np.abs(unplaced[0] * 255 - reference_resize(raw, 160, 160, "bilinear")).max() <= TOLERANCE + 1e-4


def test_brainscore_placement_with_a_plugin_spec(rng):
    image = _photo(rng, 224, 224)
    spec = Preprocessing(resize=256, crop=224)
    transform = pp.brainscore_transform(224, source_degrees=3.0, spec=spec)
    expected = reference_center_crop(
        reference_shorter(reference_place_on_screen(image, 8 / 3), 256, "bilinear"), 224
    )
    _assert_close(pp.to_uint8(transform(Image.fromarray(image))), expected)


def test_brainscore_loader_pastes_grayscale_and_palette(tmp_path, rng):
    gray = rng.integers(0, 256, (40, 30), dtype=np.uint8)
    Image.fromarray(gray).save(tmp_path / "gray.png")
    loaded = np.asarray(pp.load_image_brainscore(tmp_path / "gray.png"))
    np.testing.assert_array_equal(loaded, np.repeat(gray[..., None], 3, axis=-1))
    Image.fromarray(gray).convert("P").save(tmp_path / "palette.png")
    assert pp.load_image_brainscore(tmp_path / "palette.png").mode == "RGB"


def test_corrupt_and_truncated_images_are_named(tmp_path, rng):
    bad = tmp_path / "not_an_image.JPEG"
    bad.write_bytes(b"this is not a JPEG")
    with pytest.raises(pp.CorruptImageError, match="not_an_image.JPEG") as info:
        pp.decode_image(bad)
    assert info.value.path == str(bad)
    buffer = io.BytesIO()
    Image.fromarray(_photo(rng, 64, 64)).save(buffer, format="JPEG")
    truncated = tmp_path / "truncated.JPEG"
    truncated.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(pp.CorruptImageError, match="truncated.JPEG"):
        pp.decode_image(truncated)
    with pytest.raises(FileNotFoundError):
        pp.decode_image(Path(tmp_path / "absent.png"))


def test_unknown_interpolation_is_refused():
    with pytest.raises(ValueError, match="unknown interpolation"):
        pp.spec_transform(Preprocessing(resize=256, crop=224, interpolation="lanczos7"))
