"""From a data source to what ``run_autoattack`` takes: ``attack_data(source) -> AttackData(images, labels)``.

``images`` is either the float32 array of a float ``.npz`` (already in memory) or ``StreamedImages``:
the data set's images decoded on demand, batch by batch, implementing ``AttackImages``
(``alignjax/attacks/images.py``). Streamed images stay encoded (files, parquet bytes) or uint8 until
the batch that needs them; each batch is decoded and transformed on a thread pool, ``prefetch``
batches ahead, while the attack works on the previous batch, then converted to float32 in [0, 1]
(``x / 255``, torchvision's ``ToTensor``). Host memory is therefore a few batches whatever the size of
the data set. Per-point results equal those of the same images given as a preprocessed float array
(keys are per point; the float conversion is the same).

    from alignjax.attacks import presets, run_autoattack
    from alignjax.data import attack_data

    data = attack_data("imagenet/", subset="robustbench", n=1000, preprocessing="Res256Crop224",
                       num_classes=1000)
    result = run_autoattack(logits_fn, params, data.images, data.labels,
                            attacks=presets.standard("Linf", 4 / 255), key=jax.random.key(0))
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import hashlib
import io
from collections.abc import Iterable, Iterator
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from alignjax.data.arrays import ArrayDataset, Dataset, check_count, check_fits_model, first_n, labels_of
from alignjax.data.named_preprocessing import default_preprocessing, named_transform
from alignjax.data.preprocessing import CorruptImageError, Transform, identity, to_float01
from alignjax.data.sources import open_dataset
from alignjax.data.streaming import load_source

if TYPE_CHECKING:
    from alignjax.models.registry import ModelSpec


def _describe(source: Any, index: int) -> str:
    return str(source) if isinstance(source, (str, Path)) else f"item {index}"


class StreamedImages:
    """A data set's images as ``AttackImages``: float32 (k, h, w, c) rows in [0, 1], decoded per chunk.

    Args:
      dataset: any ``Dataset`` (paths, encoded bytes, uint8 or float arrays).
      transform: PIL transform after decoding (a named protocol: ``named_preprocessing``).
      preprocessing: the transform's name (part of ``digest``).
      num_threads: decoding threads.
      prefetch: chunks decoded ahead of the one handed out (>= 0).
      channels: channels of decoded image files: 3 (RGB) or 1 (grayscale, for one-channel models).
    """

    def __init__(
        self,
        dataset: Dataset,
        *,
        transform: Transform = identity,
        preprocessing: str = "none",
        num_threads: int = 2,
        prefetch: int = 1,
        channels: int = 3,
    ):
        if num_threads < 1 or prefetch < 0:
            raise ValueError(f"need num_threads >= 1 and prefetch >= 0, got {num_threads} and {prefetch}")
        if len(dataset) == 0:
            raise ValueError(f"{dataset.description} holds no images")
        self.dataset, self.transform, self.preprocessing = dataset, transform, preprocessing
        self.num_threads, self.prefetch, self.channels = num_threads, prefetch, channels
        first = self._load(0)  # fails early on a corrupt first image; fixes the shape of every row
        if first.ndim != 3 or 0 in first.shape or first.shape[-1] not in (1, 3):
            raise ValueError(f"the first image of {dataset.description} has shape {first.shape}; need (h, w, 1 or 3)")
        self._shape, self._dtype = first.shape, first.dtype

    def __len__(self) -> int:
        return len(self.dataset)

    @property
    def image_shape(self) -> tuple[int, ...]:
        return tuple(self._shape)

    def _load(self, index: int) -> np.ndarray:
        source, _ = self.dataset[index]
        try:
            image = np.asarray(load_source(source, self.transform, self.channels))
        except CorruptImageError as error:
            if not isinstance(source, bytes):
                raise
            names = getattr(self.dataset, "names", None)  # parquet rows carry their file/row names
            name = names[index] if names else f"item {index} of {self.dataset.description}"
            raise CorruptImageError(name, str(error).removeprefix(f"cannot decode image {error.path}: ")) from None
        if hasattr(self, "_shape") and (image.shape != self._shape or image.dtype != self._dtype):
            raise ValueError(
                f"{_describe(source, index)} is {image.shape} {image.dtype} after preprocessing "
                f"{self.preprocessing!r} but the first image is {self._shape} {self._dtype}: choose a "
                "preprocessing that gives every image one size (e.g. Res256Crop224)"
            )
        return image

    def _to_float(self, batch: np.ndarray) -> np.ndarray:
        return to_float01(batch) if batch.dtype == np.uint8 else batch.astype(np.float32, copy=False)

    def rows(self, chunks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """One float32 array per chunk of indices, in order; ``prefetch`` chunks are decoded ahead.

        A corrupt image raises ``CorruptImageError`` naming its file when its chunk is due, after every
        earlier chunk has been handed out.
        """
        dataset = self.dataset
        if isinstance(dataset, ArrayDataset) and self.transform is identity:  # nothing to decode
            for chunk in chunks:
                yield self._to_float(dataset.x[np.asarray(chunk)])
            return
        pool = concurrent.futures.ThreadPoolExecutor(self.num_threads, thread_name_prefix="alignjax-attack-data")
        window: collections.deque[tuple[np.ndarray, list[concurrent.futures.Future]]] = collections.deque()
        pending = iter(chunks)

        def submit_next() -> None:
            chunk = next(pending, None)
            if chunk is not None:  # decode each distinct index once (padding repeats one)
                unique, inverse = np.unique(np.asarray(chunk), return_inverse=True)
                window.append((inverse, [pool.submit(self._load, int(index)) for index in unique]))

        try:
            for _ in range(self.prefetch + 1):
                submit_next()
            while window:
                inverse, futures = window.popleft()
                images = np.stack([future.result() for future in futures])
                yield self._to_float(images[inverse])  # meanwhile the next `prefetch` chunks decode
                submit_next()
        finally:
            for _, futures in window:
                for future in futures:
                    future.cancel()
            pool.shutdown(wait=True, cancel_futures=True)

    def digest(self) -> str:
        """sha256 over every item's content (file bytes, encoded bytes or pixels) and the preprocessing."""
        grayscale = " grayscale" if self.channels == 1 else ""
        digest = hashlib.sha256(f"{len(self)} {self.preprocessing}{grayscale}".encode())
        for index in range(len(self.dataset)):
            source, _ = self.dataset[index]
            if isinstance(source, np.ndarray):
                digest.update(np.ascontiguousarray(source).tobytes())
            elif isinstance(source, bytes):
                digest.update(source)
            else:
                with open(source, "rb") as handle:
                    for block in iter(lambda: handle.read(1 << 20), b""):
                        digest.update(block)
        return digest.hexdigest()


@dataclasses.dataclass(frozen=True)
class AttackData:
    """``images`` and ``labels`` for ``run_autoattack(logits_fn, params, images, labels, ...)``."""

    images: np.ndarray | StreamedImages
    labels: np.ndarray
    dataset: Dataset
    preprocessing: str

    @property
    def description(self) -> str:
        return f"{self.dataset.description}, preprocessing {self.preprocessing}"


def prepare_for_attack(
    dataset: Dataset,
    *,
    preprocessing: str | None = None,
    spec: ModelSpec | None = None,
    num_classes: int | None = None,
    num_threads: int = 2,
    prefetch: int = 1,
    channels: int = 3,
    image_size: int | None = None,
) -> AttackData:
    """``AttackData`` of a ``Dataset`` (arguments as ``attack_data``)."""
    floats = isinstance(dataset, ArrayDataset) and dataset.x.dtype != np.uint8
    if preprocessing is None:  # float arrays are taken as already preprocessed
        preprocessing = "none" if floats else default_preprocessing(spec)
    name = preprocessing
    transform = named_transform(name, spec=spec, image_size=image_size)
    if num_classes is not None:
        check_fits_model(dataset, num_classes)
    labels = labels_of(dataset)
    if floats:
        if transform is not identity:
            raise ValueError(
                f"preprocessing {name!r} resizes uint8 images, but {dataset.description} holds floats; "
                "store uint8 images (0..255), or give images already preprocessed with preprocessing 'none'"
            )
        return AttackData(dataset.x, labels, dataset, name)
    if transform is identity:
        check_one_size(dataset)
    images = StreamedImages(
        dataset, transform=transform, preprocessing=name, num_threads=num_threads, prefetch=prefetch,
        channels=channels,
    )
    return AttackData(images, labels, dataset, name)


def check_one_size(dataset: Dataset) -> None:
    """Refuses, before any decoding, image files of different sizes with no resizing preprocessing.

    Reads only each file's header (PIL's lazy open); arrays and unreadable files are left to the decoder.
    """
    first: tuple[int, int] | None = None
    for index in range(len(dataset)):
        source, _ = dataset[index]
        if isinstance(source, np.ndarray):
            return
        try:
            with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as image:
                size = image.size
        except (OSError, SyntaxError, ValueError):
            continue  # the decoder names a corrupt file when its batch is due
        if first is None:
            first = size
        elif size != first:
            raise ValueError(
                f"{_describe(source, index)} is {size[0]}x{size[1]} but the first image is {first[0]}x{first[1]}, "
                "and preprocessing 'none' keeps sizes: choose one that resizes (e.g. Res256Crop224, Res224)"
            )


def attack_data(
    source: str | PathLike | Dataset,
    *,
    preprocessing: str | None = None,
    spec: ModelSpec | None = None,
    num_classes: int | None = None,
    format: str = "auto",
    labels: str | PathLike | None = None,
    subset: str | None = None,
    split: str = "test",
    layout: str = "nhwc",
    label_column: str | None = None,
    n: int | None = None,
    num_threads: int = 2,
    prefetch: int = 1,
) -> AttackData:
    """Turns a data source into the images and labels ``run_autoattack`` takes (module docstring).

    Args:
      source: a path or ``hf://datasets/...`` (formats: ``sources.open_dataset``), or a ``Dataset``.
      preprocessing: a name of ``named_preprocessing.PREPROCESSING_NAMES``; default: 'none' for float
        arrays (taken as preprocessed), else 'model' when ``spec`` is given, else 'none'.
      spec: the registry model's ``ModelSpec`` (for 'model', and the input size of 'brainscore').
      num_classes: the model's outputs: labels and class mappings are checked against it here, before
        any attack starts.
      format, labels, subset, split, layout, label_column: as ``sources.open_dataset`` (paths only).
      n: keep the first n points (of a ``Dataset`` too); None keeps all.
      num_threads: decoding threads of a streamed source.
      prefetch: batches decoded ahead of the one being attacked.

    Returns:
      ``AttackData``: ``images`` (float32 array, or ``StreamedImages``) and ``labels`` (int32).

    Raises:
      TypeError: ``source`` or a count (``n``, ``num_classes``, ``num_threads``, ``prefetch``) of the wrong
        type, naming the argument.
      ValueError: path-only arguments given with a ``Dataset`` (they would be ignored), naming them.
    """
    if n is not None:
        check_count("n", n)
    if num_classes is not None:
        check_count("num_classes", num_classes)
    check_count("num_threads", num_threads)
    check_count("prefetch", prefetch, minimum=0)
    if isinstance(source, (str, PathLike)):
        dataset = open_dataset(
            source, format=format, labels=labels, subset=subset, split=split, layout=layout,  # type: ignore[arg-type]
            label_column=label_column, n=n,
        )
    elif isinstance(source, Dataset):
        given = {"format": format != "auto", "labels": labels is not None, "subset": subset is not None,
                 "split": split != "test", "layout": layout != "nhwc", "label_column": label_column is not None}
        if any(given.values()):
            raise ValueError(
                f"path-only argument(s) given with a Dataset: {', '.join(name for name, set_ in given.items() if set_)}; "
                "a Dataset is read as it is: open the path with sources.open_dataset(path, ...) or drop them"
            )
        dataset = first_n(source, n)
    else:
        raise TypeError(f"source must be a path, an hf://datasets/... string or a Dataset (len, indexing and a "
                        f"description), got {type(source).__name__}")
    return prepare_for_attack(
        dataset, preprocessing=preprocessing, spec=spec, num_classes=num_classes, num_threads=num_threads,
        prefetch=prefetch,
    )
