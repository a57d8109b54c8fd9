"""Layer commitment: score every candidate layer on a region's public benchmark, keep the best.

Brain-Score's ``LayerSelection`` (brain-score/vision@d07d3569
``model_helpers/brain_transformation/neural.py``): each candidate layer is scored on the region's
public benchmark (V1, V2: FreemanZiemba2013 public; V4, IT: MajajHong2015 public) with activations
reduced to 1000 principal components fitted on ImageNet (``LayerPCA``), and the layer with the highest
ceiled score is committed to the region; the result is cached per model. The activations of all
candidate layers are computed in one run of the model (``PreRunLayers``).

Memory: the regressions only need each layer's stimulus Gram matrix, so layers are run in passes
whose activations fit ``memory_budget`` bytes; a layer larger than the budget is split into column
blocks, each block's Gram added to the layer's (exact: Gram matrices of column blocks sum).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

from alignjax.alignment.neural.activations import FeatureModel, Output, extract
from alignjax.alignment.neural.benchmarks import BenchmarkData
from alignjax.alignment.neural.ceiling import DEFAULT_NORMALISATION, Ceiling
from alignjax.alignment.neural.gram import gram_matrix
from alignjax.alignment.neural.pca import BRAINSCORE_PCA_COMPONENTS, LayerPCA, fit_pca
from alignjax.alignment.neural.scoring import NeuralScore, benchmark_ceiling, score_gram

DEFAULT_MEMORY_BUDGET = 4 << 30  # bytes of activations held on the host at once
_FLOAT_BYTES = 4


def plan_passes(sizes: Mapping[str, int], n_stimuli: int, memory_budget: int) -> list[list[Output]]:
    """Groups layers (``layer -> columns``) into model runs whose float32 activations fit the budget."""
    columns_per_pass = max(1, memory_budget // (_FLOAT_BYTES * max(n_stimuli, 1)))
    passes: list[list[Output]] = []
    current: list[Output] = []
    used = 0
    for layer, size in sizes.items():
        start = 0
        while start < size:
            if used == columns_per_pass:
                passes.append(current)
                current, used = [], 0
            take = min(size - start, columns_per_pass - used)
            current.append(Output(layer, start, start + take))
            used += take
            start += take
    if current:
        passes.append(current)
    return passes


def layer_grams(model: FeatureModel, images: np.ndarray, layers: Sequence[str], *,
                pcas: Mapping[str, LayerPCA | None] | None = None, memory_budget: int = DEFAULT_MEMORY_BUDGET,
                batch_size: int = 64, dtype: str = "float64") -> Iterator[tuple[str, np.ndarray, int]]:
    """Yields ``(layer, Gram matrix over the images, feature count)`` for each layer, in order.

    Layers with a fitted PCA are projected on the device; column blocks then refer to the components.
    """
    pcas = pcas or {}
    sizes = {layer: (pcas[layer].components.shape[1] if pcas.get(layer) is not None else model.n_features(layer))
             for layer in layers}
    projections = {layer: pca.projection for layer, pca in pcas.items() if pca is not None and layer in sizes}
    passes = plan_passes(sizes, len(images), memory_budget)
    accumulated: dict[str, np.ndarray] = {}
    remaining = dict(sizes)
    for outputs in passes:
        blocks = extract(model, images, outputs, batch_size=batch_size,
                         projections={o.layer: projections[o.layer] for o in outputs if o.layer in projections})
        for output in outputs:
            block = blocks.pop(output)
            gram = gram_matrix(block, dtype=dtype)
            accumulated[output.layer] = gram if output.layer not in accumulated else accumulated[output.layer] + gram
            remaining[output.layer] -= block.shape[1]
            if remaining[output.layer] == 0:
                yield output.layer, accumulated.pop(output.layer), sizes[output.layer]


def fit_layer_pcas(model: FeatureModel, images: np.ndarray, layers: Sequence[str], *,
                   n_components: int = BRAINSCORE_PCA_COMPONENTS, memory_budget: int = DEFAULT_MEMORY_BUDGET,
                   batch_size: int = 64) -> dict[str, LayerPCA | None]:
    """Brain-Score's ``LayerPCA`` fit: each layer's principal axes over ``images`` (ImageNet)."""
    pcas: dict[str, LayerPCA | None] = {}
    group: list[str] = []
    used = 0
    per_layer = {layer: 2 * _FLOAT_BYTES * len(images) * model.n_features(layer) for layer in layers}
    groups: list[list[str]] = []
    for layer in layers:
        if model.n_features(layer) <= n_components:
            pcas[layer] = None
            continue
        if group and used + per_layer[layer] > memory_budget:
            groups.append(group)
            group, used = [], 0
        group.append(layer)
        used += per_layer[layer]
    if group:
        groups.append(group)
    for members in groups:
        features = extract(model, images, [Output(layer) for layer in members], batch_size=batch_size)
        for layer in members:
            pcas[layer] = fit_pca(features.pop(Output(layer)), n_components)
    return pcas


@dataclasses.dataclass(frozen=True, eq=False)
class Commitment:
    """Per region: the committed layer and every candidate's score on the selection benchmark."""

    layers: dict[str, str]
    scores: dict[str, dict[str, NeuralScore | dict]]  # region -> layer -> score (or its cached summary)

    def to_json(self) -> dict:
        return {"layers": self.layers,
                "scores": {region: {layer: (score.summary() if isinstance(score, NeuralScore) else score)
                                    for layer, score in by_layer.items()}
                           for region, by_layer in self.scores.items()}}


def commitment_key(model_name: str, layers: Sequence[str], pca: str, image_size: int) -> str:
    """Names a model's commitment cache: what the chosen layers depend on, except the regions (both
    normalisations rank layers alike: the ceiling is common to all layers of a region)."""
    text = json.dumps([model_name, list(layers), pca, image_size])
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def commit_layers(model: FeatureModel, data: Mapping[str, BenchmarkData], images: Mapping[str, np.ndarray],
                  layers: Sequence[str], *, pcas: Mapping[str, LayerPCA | None] | None = None,
                  ceilings: Mapping[str, Ceiling] | None = None, normalisation: str = DEFAULT_NORMALISATION,
                  memory_budget: int = DEFAULT_MEMORY_BUDGET, batch_size: int = 64, dtype: str = "float64",
                  cache_file: str | os.PathLike | None = None, progress=None) -> Commitment:
    """Scores ``layers`` on each region's benchmark (``data[region]``) and commits the best per region.

    Args:
      images: region -> its stimuli (``activations.stimulus_images``) in ``data[region].averaged`` order;
        regions with the identical array object share one model run and one Gram per layer.
      cache_file: JSON file of this model's commitments (per region, with the benchmark used); regions
        found there are reused, the others scored and added.
    """
    stored: dict = {"layers": {}, "scores": {}, "benchmarks": {}}
    if cache_file is not None and Path(cache_file).is_file():
        stored = json.loads(Path(cache_file).read_text())
    reused = {region for region, region_data in data.items()
              if stored.get("benchmarks", {}).get(region) == region_data.benchmark.identifier
              and region in stored.get("layers", {})}
    ceilings = dict(ceilings or {})
    scores: dict[str, dict[str, NeuralScore | dict]] = {region: stored["scores"][region] for region in reused}
    shared: dict[int, list[str]] = {}
    for region in data:
        if region not in reused:
            shared.setdefault(id(images[region]), []).append(region)
            scores[region] = {}
    for regions in shared.values():
        for region in regions:
            ceilings.setdefault(region, benchmark_ceiling(data[region], dtype=dtype))
        for layer, gram, n_features in layer_grams(model, images[regions[0]], layers, pcas=pcas,
                                                   memory_budget=memory_budget, batch_size=batch_size,
                                                   dtype=dtype):
            for region in regions:
                scores[region][layer] = score_gram(gram, data[region], n_features=n_features, layer=layer,
                                                   normalisation=normalisation, ceiling=ceilings[region],
                                                   dtype=dtype)
                if progress is not None:
                    progress(region, layer, scores[region][layer])
    chosen = {region: (stored["layers"][region] if region in reused else _best(scores[region]))
              for region in data}
    commitment = Commitment(chosen, {region: scores[region] for region in data})
    if cache_file is not None and len(reused) < len(data):
        merged = commitment.to_json()
        merged = {"layers": {**stored.get("layers", {}), **merged["layers"]},
                  "scores": {**stored.get("scores", {}), **merged["scores"]},
                  "benchmarks": {**stored.get("benchmarks", {}),
                                 **{region: data[region].benchmark.identifier for region in data}}}
        Path(cache_file).parent.mkdir(parents=True, exist_ok=True)
        Path(cache_file).write_text(json.dumps(merged, indent=1, default=_json_default))
    return commitment


def _best(by_layer: Mapping[str, NeuralScore]) -> str:
    """The argmax of the ceiled score (NaN never wins; the first layer wins ties, as ``argmax``)."""
    values = np.array([score.score for score in by_layer.values()], dtype=np.float64)
    if not np.any(np.isfinite(values)):
        raise ValueError("no layer produced a finite score")
    return list(by_layer)[int(np.nanargmax(values))]


def _json_default(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    raise TypeError(f"cannot store {type(value)} in JSON")
