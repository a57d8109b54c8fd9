"""Image decoding and the input transforms of RobustBench, Brain-Score and timm/torchvision, in PIL.

Every transform maps a PIL RGB image to a PIL RGB image; ``to_uint8`` turns the result into an
(h, w, 3) uint8 array and ``to_float01`` turns uint8 batches into float32 in [0, 1] (torchvision's
``ToTensor``: ``x / 255`` in float32). Normalisation (mean/std) lives inside the models.

The transforms reproduce torchvision on PIL inputs, where ``Resize`` is PIL's ``Image.resize`` (PIL
always antialiases; its bilinear/bicubic filters are ``libImaging/Resample.c``) and ``CenterCrop`` uses
``int(round((h - th) / 2.0))`` and zero-pads crops larger than the image (torchvision >= 0.13
``transforms/functional.py``: ``_compute_resized_output_size``, ``center_crop``). Sources:
- RobustBench presets: ``robustbench/data.py::PREPROCESSINGS`` of the robustbench 1.1.1 wheel.
- Brain-Score loading and resizing: brain-score/vision@1438c5de
  ``brainscore_vision/model_helpers/activations/pytorch.py`` (``load_image``, ``Resize((S, S))``).
- Brain-Score visual-degree placement: brain-score/vision@018e2346
  ``brainscore_vision/benchmark_helpers/screen.py::ImageConverter.apply_ratio``; the model's field is
  8 degrees (``ModelCommitment``), Geirhos2021 stimuli span 3 (brainscore-and-paper.md, section 2.1).

Deliberate deviation: Brain-Score writes screen-placed stimuli back to disk under their original file
name, so JPEG stimuli get re-encoded (lossy); here placement stays in memory. PNG stimuli (all Geirhos
sets) are unaffected.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, UnidentifiedImageError

if TYPE_CHECKING:  # the data layer does not import the model package at run time
    from alignjax.models.registry import Preprocessing


Transform = Callable[[Image.Image], Image.Image]

INTERPOLATIONS = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
}
# PIL's ImageColor 'gray' is #808080: the background of Brain-Score's ``place_on_screen``.
SCREEN_GRAY = (128, 128, 128)
BRAINSCORE_VISUAL_DEGREES = 8.0


class CorruptImageError(ValueError):
    """An image file that cannot be opened or decoded; ``path`` names it."""

    def __init__(self, path: str, reason: str):
        super().__init__(f"cannot decode image {path}: {reason}")
        self.path = path


def decode_image(source: str | PathLike | bytes, *, name: str | None = None) -> Image.Image:
    """Reads a file path or encoded bytes fully and returns an RGB PIL image (torchvision's ``pil_loader``).

    Raises:
      CorruptImageError: naming the file (or ``name`` for bytes) when PIL cannot decode it, including
        truncated files.
    """
    label = name if name is not None else (str(source) if not isinstance(source, bytes) else "<bytes>")
    try:
        if isinstance(source, bytes):
            handle = io.BytesIO(source)
        else:
            handle = open(source, "rb")  # noqa: SIM115 - closed below
        with handle, Image.open(handle) as image:
            image.load()
            return image.convert("RGB")
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError) as error:
        if isinstance(error, FileNotFoundError):
            raise
        raise CorruptImageError(label, _what_pil_said(error)) from error


def _what_pil_said(error: BaseException) -> str:
    """PIL's reason, without the repr of the file object it names ("<_io.BytesIO object at 0x...>")."""
    if isinstance(error, UnidentifiedImageError):
        return "UnidentifiedImageError: not a format PIL recognises (not an image, or its header is corrupt)"
    return f"{type(error).__name__}: {error}"


def load_image_brainscore(path: str | PathLike) -> Image.Image:
    """Brain-Score's ``load_image``: RGB images are copied, 'L'/'A'/'P' modes are pasted on a black canvas."""
    try:
        with Image.open(path) as image:
            image.load()
            if not any(letter in image.mode.upper() for letter in ("L", "A", "P")):
                return image.copy()
            canvas = Image.new("RGB", image.size)
            canvas.paste(image)
            return canvas
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        if isinstance(error, FileNotFoundError):
            raise
        raise CorruptImageError(str(path), _what_pil_said(error)) from error


def _resample(interpolation: str) -> Image.Resampling:
    try:
        return INTERPOLATIONS[interpolation]
    except KeyError:
        raise ValueError(
            f"unknown interpolation {interpolation!r}; use one of {sorted(INTERPOLATIONS)}"
        ) from None


def resize_shorter(image: Image.Image, size: int, interpolation: str = "bilinear") -> Image.Image:
    """torchvision ``Resize(size)``: shorter side to ``size``, longer side ``int(size * long / short)``."""
    width, height = image.size
    short, long = (width, height) if width <= height else (height, width)
    new_long = int(size * long / short)
    new_width, new_height = (size, new_long) if width <= height else (new_long, size)
    if (new_width, new_height) == (width, height):
        return image
    return image.resize((new_width, new_height), _resample(interpolation))


def resize_exact(image: Image.Image, height: int, width: int, interpolation: str = "bilinear") -> Image.Image:
    """torchvision ``Resize((height, width))`` on a PIL image."""
    if image.size == (width, height):
        return image
    return image.resize((width, height), _resample(interpolation))


def center_crop(image: Image.Image, height: int, width: int | None = None) -> Image.Image:
    """torchvision ``CenterCrop``: zero padding if the crop is larger, then ``round((h - th) / 2)``."""
    width = height if width is None else width
    image_width, image_height = image.size
    if width > image_width or height > image_height:
        pad_left = (width - image_width) // 2 if width > image_width else 0
        pad_top = (height - image_height) // 2 if height > image_height else 0
        pad_right = (width - image_width + 1) // 2 if width > image_width else 0
        pad_bottom = (height - image_height + 1) // 2 if height > image_height else 0
        padded = Image.new(
            image.mode, (image_width + pad_left + pad_right, image_height + pad_top + pad_bottom)
        )
        padded.paste(image, (pad_left, pad_top))
        image = padded
        image_width, image_height = image.size
        if (image_width, image_height) == (width, height):
            return image
    top = round((image_height - height) / 2.0)
    left = round((image_width - width) / 2.0)
    return image.crop((left, top, left + width, top + height))


def place_on_screen(
    image: Image.Image, *, source_degrees: float, target_degrees: float = BRAINSCORE_VISUAL_DEGREES
) -> Image.Image:
    """Brain-Score's ``ImageConverter.apply_ratio``: shows a stimulus spanning ``source_degrees`` in a
    model's visual field of ``target_degrees``.

    With ``ratio = target / source`` and ``new = round(ratio * size)`` (NumPy rounding, half to even): a
    ratio >= 1 pastes the image on a gray (128) canvas of size ``new`` at ``round((new - size) / 2)``; a
    ratio < 1 centre-crops ``new`` at ``round((size - new) / 2)``. Equal degrees return the image
    unchanged. The resize to the model's input size happens afterwards.
    """
    if source_degrees <= 0 or target_degrees <= 0:
        raise ValueError(f"visual degrees must be positive, got {source_degrees=} {target_degrees=}")
    if source_degrees == target_degrees:
        return image
    ratio = target_degrees / source_degrees
    size = np.array(image.size)
    new_size = (ratio * size).round().astype(int)
    if ratio >= 1:
        canvas = Image.new("RGB", (int(new_size[0]), int(new_size[1])), SCREEN_GRAY)
        left, top = ((new_size - size) / 2).round().astype(int)
        canvas.paste(image, (int(left), int(top)))
        return canvas
    left, top = ((size - new_size) / 2).round().astype(int)
    right, bottom = np.array([left, top]) + new_size
    return image.crop((int(left), int(top), int(right), int(bottom)))


def compose(*transforms: Transform) -> Transform:
    def apply(image: Image.Image) -> Image.Image:
        for transform in transforms:
            image = transform(image)
        return image

    return apply


def identity(image: Image.Image) -> Image.Image:
    return image


ROBUSTBENCH_PRESETS: tuple[str | None, ...] = (
    None,
    "Res256Crop224",
    "BicubicRes256Crop224",
    "Crop288",
    "Res224",
)


def robustbench_transform(name: str | None) -> Transform:
    """RobustBench's ``PREPROCESSINGS[name]`` without ``ToTensor`` (None: CIFAR, images used as they are)."""
    if name is None:
        return identity
    if name == "Res256Crop224":
        return compose(lambda im: resize_shorter(im, 256, "bilinear"), lambda im: center_crop(im, 224))
    if name == "BicubicRes256Crop224":
        return compose(lambda im: resize_shorter(im, 256, "bicubic"), lambda im: center_crop(im, 224))
    if name == "Crop288":
        return lambda im: center_crop(im, 288)
    if name == "Res224":
        return lambda im: resize_exact(im, 224, 224, "bilinear")
    raise ValueError(f"unknown RobustBench preprocessing {name!r}; known: {ROBUSTBENCH_PRESETS}")


def spec_transform(spec: Preprocessing) -> Transform:
    """timm/torchvision eval transform of a ``Preprocessing``: shorter side to ``resize``, centre crop.

    Any object with ``resize``, ``crop`` and ``interpolation`` attributes works.
    """
    steps: list[Transform] = []
    if spec.resize is not None:
        steps.append(lambda im: resize_shorter(im, spec.resize, spec.interpolation))  # type: ignore[arg-type]
    if spec.crop is not None:
        steps.append(lambda im: center_crop(im, spec.crop))  # type: ignore[arg-type]
    _resample(spec.interpolation)  # fail early on an unknown interpolation
    return compose(*steps)


def brainscore_transform(
    image_size: int,
    *,
    source_degrees: float | None = None,
    target_degrees: float = BRAINSCORE_VISUAL_DEGREES,
    spec: Preprocessing | None = None,
) -> Transform:
    """Brain-Score's preprocessing: optional ``place_on_screen``, then ``Resize((S, S))`` bilinear.

    ``source_degrees=None`` skips placement (as Hermann2020 does); Geirhos2021 uses 3 degrees. A model
    plugin with its own resize/crop (e.g. ``Resize(256)`` + ``CenterCrop(224)``) passes it as ``spec``,
    which then replaces the square resize.
    """
    steps: list[Transform] = []
    if source_degrees is not None:
        steps.append(
            lambda im: place_on_screen(im, source_degrees=source_degrees, target_degrees=target_degrees)
        )
    if spec is None:
        steps.append(lambda im: resize_exact(im, image_size, image_size, "bilinear"))
    else:
        steps.append(spec_transform(spec))
    return compose(*steps)


def to_uint8(image: Image.Image, channels: int = 3) -> np.ndarray:
    """(h, w, 3) uint8 array of an image as RGB, or (h, w, 1) as grayscale (PIL's 'L': ITU-R 601-2 luma)
    when ``channels`` is 1 (a model that takes one channel, such as the embedded digits CNN)."""
    if channels not in (1, 3):
        raise ValueError(f"images have 1 or 3 channels, not {channels}")
    mode = "L" if channels == 1 else "RGB"
    array = np.asarray(image.convert(mode) if image.mode != mode else image, dtype=np.uint8)
    return np.ascontiguousarray(array[..., None] if channels == 1 else array)


def to_float01(images: np.ndarray) -> np.ndarray:
    """uint8 images -> float32 in [0, 1] (torchvision ``ToTensor`` without the transpose)."""
    if images.dtype != np.uint8:
        raise TypeError(f"expected uint8 images, got {images.dtype}")
    return images.astype(np.float32) / np.float32(255.0)


def load_and_transform(path: str | PathLike | bytes, transform: Transform = identity) -> np.ndarray:
    """Decodes one image, applies ``transform`` and returns uint8 HWC."""
    return to_uint8(transform(decode_image(path)))


def brainscore_images(
    paths: Sequence[str | Path], image_size: int, *, source_degrees: float | None = None
) -> np.ndarray:
    """Brain-Score's ``load_preprocess_images`` without normalisation: (n, S, S, 3) float32 in [0, 1]."""
    transform = brainscore_transform(image_size, source_degrees=source_degrees)
    arrays = [to_uint8(transform(load_image_brainscore(path))) for path in paths]
    return to_float01(np.stack(arrays))
