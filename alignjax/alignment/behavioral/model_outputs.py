"""A model's outputs on stimulus files: logits, or the readout features (the classifier head's input).

Images are decoded and transformed on the host (``alignjax.data.streaming``, fixed-size padded batches)
and the model runs under one ``jax.jit`` per output kind, so a run compiles once per batch shape.

Protocols (how a stimulus becomes the model input):
- ``brainscore``: Brain-Score's ``load_image`` + optional ``place_on_screen`` at the benchmark's visual
  degrees inside the model's 8 degrees + ``Resize((S, S))`` (``alignjax.data.preprocessing``;
  brain-score/vision ``model_helpers/activations/pytorch.py``, ``benchmark_helpers/screen.py``).
- ``modelvshuman``: model-vs-human's loader (bethgelab/model-vs-human@79ed7cd
  ``modelvshuman/datasets/dataloaders.py``): images of the model's input size are used as they are,
  others get ``Resize(S * 256/224)`` + ``CenterCrop(S)``; no placement.

Stochastic models (``types.Model.stochastic``) get ``fold_in(key, batch_index)`` per batch.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import flax.linen as nn
import jax
import numpy as np

from alignjax.data import preprocessing
from alignjax.data.streaming import stream_batches
from alignjax.types import call_model

Protocol = Literal["brainscore", "modelvshuman"]
PROTOCOLS: tuple[str, ...] = ("brainscore", "modelvshuman")
Decoder = Callable[[Any], np.ndarray]


@dataclasses.dataclass(frozen=True, eq=False)
class ImageModel:
    """A classifier seen as ``logits_fn(variables, images_nhwc_in_01)``, with its square input size."""

    logits_fn: Callable[..., Any]
    variables: Any
    image_size: int
    name: str

    @functools.cached_property
    def compiled_logits(self) -> Callable[..., Any]:
        """``(variables, uint8 images, key) -> logits``, jitted once per model."""
        return jax.jit(functools.partial(_forward, self.logits_fn, False))

    @functools.cached_property
    def compiled_features(self) -> Callable[..., Any]:
        """``(variables, uint8 images, key) -> classifier_input``, jitted once per model."""
        return jax.jit(functools.partial(_forward, self.logits_fn, True))


class _PathDataset:
    """``(path, 0)`` items for the streaming pipeline (labels are not used here)."""

    def __init__(self, paths: Sequence[str | Path], description: str):
        self.paths = [str(path) for path in paths]
        self.description = description

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[str, int]:
        return self.paths[index], 0


def decoder(
    image_size: int, protocol: Protocol = "brainscore", *, source_degrees: float | None = None
) -> Decoder:
    """path -> (S, S, 3) uint8 under ``protocol``; ``source_degrees`` places the image (Brain-Score only)."""
    if protocol == "brainscore":
        transform = preprocessing.brainscore_transform(image_size, source_degrees=source_degrees)
        return lambda path: preprocessing.to_uint8(transform(preprocessing.load_image_brainscore(path)))
    if protocol == "modelvshuman":
        if source_degrees is not None:
            raise ValueError("model-vs-human shows stimuli as they are: no visual-degree placement")
        resize = int(image_size * 256 / 224)

        def decode(path: Any) -> np.ndarray:
            image = preprocessing.decode_image(path)
            if image.size != (image_size, image_size):
                image = preprocessing.center_crop(preprocessing.resize_shorter(image, resize), image_size)
            return preprocessing.to_uint8(image)

        return decode
    raise ValueError(f"unknown protocol {protocol!r}; use one of {PROTOCOLS}")


def classifier_input(logits_fn: Callable[..., Any], variables: Any, x: Any, key: Any = None) -> jax.Array:
    """The input of the classifier head: the last ``nn.Dense`` call whose output has the logits' shape.

    Runs the model under ``flax.linen.intercept_methods``, so it works for every zoo architecture without
    naming layers (ResNet ``fc``, ViT ``head``, VGG ``classifier_6``, CORnet ``linear``, ...).
    """
    captured: list[tuple[Any, Any]] = []

    def interceptor(next_fun, args, kwargs, context):
        output = next_fun(*args, **kwargs)
        if isinstance(context.module, nn.Dense) and context.method_name == "__call__":
            captured.append((args[0], output))
        return output

    with nn.intercept_methods(interceptor):
        logits = call_model(logits_fn, variables, x, key)
    for inputs, output in reversed(captured):
        if output.shape == logits.shape:
            return inputs.reshape(inputs.shape[0], -1)
    raise ValueError(
        "the model has no dense classifier head whose output is the logits; cannot read out features"
    )


def _forward(
    logits_fn: Callable[..., Any], features: bool, variables: Any, x_uint8: Any, key: Any
) -> jax.Array:
    x = x_uint8.astype(np.float32) / np.float32(255.0)
    if features:
        return classifier_input(logits_fn, variables, x, key)
    return call_model(logits_fn, variables, x, key)


def _run(
    model: ImageModel,
    paths: Sequence[str | Path],
    decode: Decoder,
    *,
    batch_size: int,
    key: Any,
    features: bool,
    description: str,
) -> np.ndarray:
    if not paths:
        raise ValueError(f"no images to show the model ({description})")
    compiled = model.compiled_features if features else model.compiled_logits
    key = jax.random.key(0) if key is None else key
    outputs: list[np.ndarray] = []
    dataset = _PathDataset(paths, description)
    shape = (model.image_size, model.image_size, 3)
    for number, batch in enumerate(
        stream_batches(dataset, batch_size=batch_size, decode=decode, image_shape=shape)
    ):
        result = np.asarray(
            jax.device_get(compiled(model.variables, batch.x, jax.random.fold_in(key, number)))
        )
        outputs.append(result[np.asarray(jax.device_get(batch.valid))])
    return np.concatenate(outputs).astype(np.float32)


def logits_on(
    model: ImageModel,
    paths: Sequence[str | Path],
    decode: Decoder,
    *,
    batch_size: int = 64,
    key: Any = None,
    description: str = "stimuli",
) -> np.ndarray:
    """(n, classes) float32 logits of the images at ``paths``, in order."""
    return _run(model, paths, decode, batch_size=batch_size, key=key, features=False, description=description)


def features_on(
    model: ImageModel,
    paths: Sequence[str | Path],
    decode: Decoder,
    *,
    batch_size: int = 64,
    key: Any = None,
    description: str = "stimuli",
) -> np.ndarray:
    """(n, d) float32 readout features (``classifier_input``) of the images at ``paths``, in order."""
    return _run(model, paths, decode, batch_size=batch_size, key=key, features=True, description=description)
