"""Named intermediate activations of any zoo model, batched and jitted, Brain-Score style.

Layers are read with Flax's ``capture_intermediates`` (a filter keeps only the requested module paths
and ``mutable=['intermediates']`` returns them), so no architecture file changes and the model's own
output is untouched. A layer is a module path joined by '/' (``layer4_2``, ``layer4_2/conv3``,
``blocks_11``); its activation is the output of that module's ``__call__`` (for a module called
several times, e.g. a recurrent CORnet area, the last call). ``default_layers`` lists the model's
top-level submodules in call order.

Like Brain-Score (brain-score/vision@d07d3569 ``model_helpers/activations/core.py::flatten``, PyTorch
(b, c, h, w) maps), every activation is flattened per stimulus, channel-major: NHWC maps are transposed
to (b, c, h, w) before the reshape, so feature k is the k-th feature of the PyTorch model.

Stimuli are shown Brain-Score's way (``model_helpers/activations/pytorch.py::load_preprocess_images``
after ``benchmark_helpers/screen.py::place_on_screen``): placed in the model's 8-degree field (scaled
and padded with gray, or cropped) and resized to ``image_size`` x ``image_size``; the model normalises.
Batches have a fixed size (the tail is padded and dropped), so each layer selection compiles once.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from alignjax.models import module_logits

ROOT_CALL = "__call__"


@dataclasses.dataclass(frozen=True)
class Output:
    """Columns ``start:stop`` of a layer's flattened (or PCA-projected) activation (``stop=None``: all)."""

    layer: str
    start: int = 0
    stop: int | None = None


@dataclasses.dataclass(frozen=True, eq=False)
class FeatureModel:
    """A Flax module with its variables, shown ``image_size`` x ``image_size`` RGB inputs in [0, 1]."""

    name: str
    module: nn.Module
    variables: Any
    image_size: int = 224

    @functools.cached_property
    def apply_kwargs(self) -> dict[str, Any]:
        takes_train = "train" in inspect.signature(type(self.module).__call__).parameters
        return {"train": False} if takes_train else {}

    @functools.cached_property
    def layer_shapes(self) -> dict[str, tuple[int, ...]]:
        """Every capturable layer and its per-stimulus activation shape, in call order."""
        probe = jax.ShapeDtypeStruct((1, self.image_size, self.image_size, 3), jnp.float32)
        order: list[str] = []

        def record(mdl: nn.Module, method_name: str) -> bool:  # called at trace time, in call order
            path = "/".join(mdl.path)
            if method_name == ROOT_CALL and path and path not in order:
                order.append(path)
            return method_name == ROOT_CALL

        def run(variables, x):
            return self.module.apply(variables, x, capture_intermediates=record, mutable=["intermediates"],
                                     **self.apply_kwargs)[1]

        state = jax.eval_shape(run, self.variables, probe)
        found = dict(_walk(state.get("intermediates", {})))
        shapes: dict[str, tuple[int, ...]] = {}
        for path in order:
            calls = found.get(path)
            last = calls[-1] if isinstance(calls, tuple) and calls else None
            if hasattr(last, "shape") and len(last.shape) >= 2:
                shapes[path] = tuple(last.shape[1:])
        return shapes

    @functools.cached_property
    def features_fn(self):
        """Jitted ``(variables, images, projections, outputs=...) -> tuple of (b, columns)`` arrays."""
        return jax.jit(functools.partial(_features, module=self.module, apply_kwargs=self.apply_kwargs),
                       static_argnames=("outputs",))

    def n_features(self, layer: str) -> int:
        try:
            return math.prod(self.layer_shapes[layer])
        except KeyError:
            raise KeyError(f"{self.name} has no layer {layer!r}; layers: {', '.join(self.layer_shapes)}") from None


def _walk(tree: dict, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, Any]]:
    for key, value in tree.items():
        if key == ROOT_CALL:
            yield "/".join(prefix), value
        elif isinstance(value, dict):
            yield from _walk(value, prefix + (key,))


def module_of(logits_fn: Any) -> nn.Module:
    """The Flax module behind what loaders return (``alignjax.models.module_logits.module_of``)."""
    owner = module_logits.module_of(logits_fn)
    if owner is None:
        raise TypeError(f"cannot find the Flax module behind {logits_fn!r}; pass the module itself")
    return owner


def default_layers(model: FeatureModel, min_features: int = 1) -> tuple[str, ...]:
    """The model's top-level submodules (depth 1) with at least ``min_features`` features, in call order."""
    return tuple(name for name in model.layer_shapes if "/" not in name and model.n_features(name) >= min_features)


def flatten_channel_major(activation: jax.Array) -> jax.Array:
    """(b, h, w, c) -> (b, c*h*w) in PyTorch's (c, h, w) order; other ranks flatten as they are."""
    if activation.ndim == 4:
        activation = jnp.transpose(activation, (0, 3, 1, 2))
    return activation.reshape(activation.shape[0], -1).astype(jnp.float32)


def _lookup(intermediates: dict, layer: str) -> jax.Array:
    node = intermediates
    for part in layer.split("/"):
        node = node[part]
    return node[ROOT_CALL][-1]


def _features(variables, images, projections, *, module, outputs, apply_kwargs):
    wanted = {output.layer for output in outputs}

    def keep(mdl: nn.Module, method_name: str) -> bool:
        return method_name == ROOT_CALL and "/".join(mdl.path) in wanted

    _, state = module.apply(variables, images, capture_intermediates=keep, mutable=["intermediates"],
                            **apply_kwargs)
    result = []
    for output in outputs:
        flat = flatten_channel_major(_lookup(state["intermediates"], output.layer))
        projection = projections.get(output.layer)
        if projection is not None:
            flat = (flat - projection["mean"][None, :]) @ projection["components"]
        result.append(flat[:, output.start:output.stop])
    return tuple(result)


def extract(model: FeatureModel, images: np.ndarray, outputs: Sequence[Output], *, batch_size: int = 64,
            projections: dict[str, dict[str, Any]] | None = None) -> dict[Output, np.ndarray]:
    """Activations of ``outputs`` for every image, as float32 host arrays (n_images, columns).

    Args:
      images: (n, image_size, image_size, 3) uint8, or float32 in [0, 1].
      batch_size: fixed batch; the tail batch is padded and the padding dropped.
      projections: optional ``{layer: {'mean': (f,), 'components': (f, k)}}`` applied on the device
        (a fitted ``pca.LayerPCA.projection``); those layers come back with k columns.
    """
    outputs = tuple(outputs)
    for output in outputs:
        model.n_features(output.layer)
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[1:] != (model.image_size, model.image_size, 3):
        raise ValueError(f"images must be (n, {model.image_size}, {model.image_size}, 3), got {images.shape}")
    projections = {layer: {key: jnp.asarray(value) for key, value in projection.items()}
                   for layer, projection in (projections or {}).items()}
    blocks: dict[Output, list[np.ndarray]] = {output: [] for output in outputs}
    for start in range(0, len(images), batch_size):
        batch = images[start:start + batch_size]
        valid = len(batch)
        if valid < batch_size:
            batch = np.concatenate([batch, np.zeros((batch_size - valid, *batch.shape[1:]), batch.dtype)])
        pixels = jnp.asarray(batch, jnp.float32) / 255.0 if batch.dtype == np.uint8 else jnp.asarray(batch)
        values = jax.device_get(model.features_fn(model.variables, pixels, projections, outputs=outputs))
        for output, value in zip(outputs, values):
            blocks[output].append(np.asarray(value[:valid]))
    return {output: np.concatenate(parts) for output, parts in blocks.items()}


def stimulus_images(paths: Sequence[str | Path], image_size: int, *, source_degrees: float | None,
                    num_threads: int = 2) -> np.ndarray:
    """(n, image_size, image_size, 3) uint8 stimuli placed in the 8-degree field and resized (bilinear)."""
    from alignjax.data.folders import FileDataset
    from alignjax.data.preprocessing import brainscore_transform, load_image_brainscore, to_uint8
    from alignjax.data.streaming import host_batches

    transform = brainscore_transform(image_size, source_degrees=source_degrees)
    dataset = FileDataset(tuple(Path(p) for p in paths), np.zeros(len(paths), np.int32), "stimuli")
    parts = [np.asarray(batch.x)[np.asarray(batch.valid)]
             for batch in host_batches(dataset, batch_size=64, num_threads=num_threads,
                                       decode=lambda path: to_uint8(transform(load_image_brainscore(path))))]
    return np.concatenate(parts)
