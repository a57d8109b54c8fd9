"""Brain-Score's neural pipeline for one model: commit a layer per region, then score that layer.

1. For each region, load the public benchmark (V1, V2: FreemanZiemba2013; V4, IT: MajajHong2015).
2. Show the model the stimuli (placed in its 8-degree field, resized) and commit the best candidate
   layer per region (``layer_selection.commit_layers``), optionally on activations reduced by a PCA
   fitted on ImageNet images (``pca_images``), cached per model.
3. Score the committed layer, unreduced, on the final benchmark: ``access='public'`` (the public data
   again; all that can be downloaded anonymously) or ``'private'`` (Brain-Score's held-out data, for
   whoever holds the files). With public data the final score is measured on the data the layer was
   chosen on, so it is optimistic relative to Brain-Score's leaderboard (private data).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from alignjax.alignment.neural.activations import FeatureModel, stimulus_images
from alignjax.alignment.neural.benchmarks import (
    PRIVATE_BENCHMARKS,
    PUBLIC_BENCHMARKS,
    REGIONS,
    BenchmarkData,
    load_benchmark_data,
)
from alignjax.alignment.neural.ceiling import DEFAULT_NORMALISATION
from alignjax.alignment.neural.layer_selection import (
    DEFAULT_MEMORY_BUDGET,
    Commitment,
    commit_layers,
    commitment_key,
    fit_layer_pcas,
    layer_grams,
)
from alignjax.alignment.neural.pca import BRAINSCORE_PCA_COMPONENTS
from alignjax.alignment.neural.scoring import NeuralScore, score_gram


@dataclasses.dataclass(frozen=True)
class ScoringConfig:
    regions: tuple[str, ...] = REGIONS
    access: str = "public"
    normalisation: str = DEFAULT_NORMALISATION
    pca_components: int = BRAINSCORE_PCA_COMPONENTS
    memory_budget: int = DEFAULT_MEMORY_BUDGET
    batch_size: int = 64
    dtype: str = "float64"


@dataclasses.dataclass(frozen=True, eq=False)
class ModelScores:
    scores: dict[str, NeuralScore]  # region -> final score of the committed layer
    commitment: Commitment


def pca_image_paths(root: str | os.PathLike, n_images: int = BRAINSCORE_PCA_COMPONENTS) -> list[Path]:
    """Brain-Score's PCA images (``model_helpers/activations/pca.py::_get_imagenet_val``) from a folder.

    With class subfolders (an ImageNet validation folder): ``(n - 1) // n_classes`` images of every
    class, then one more from each of the first ``(n - 1) % n_classes + 1`` classes, files in sorted
    order; for the 1000-class validation set and n = 1000 that is the first image of each class, as the
    reference's indices ``50 * i`` into its class-sorted file. A flat folder gives its first n images.
    """
    from alignjax.data.folders import has_image_extension

    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"--pca-images {root} is not a folder")
    classes = sorted(entry for entry in root.iterdir() if entry.is_dir())
    if not classes:
        files = sorted(path for path in root.iterdir() if has_image_extension(path.name))
        if len(files) < n_images:
            raise ValueError(f"{root} holds {len(files)} images; the PCA needs {n_images}")
        return files[:n_images]
    per_class = (n_images - 1) // len(classes)
    members = [sorted(p for p in folder.iterdir() if has_image_extension(p.name)) for folder in classes]
    paths = [path for files in members for path in files[:per_class]]
    for files in members[: (n_images - 1) % len(classes) + 1]:
        if len(files) <= per_class:
            raise ValueError(f"{files[0].parent if files else root} has too few images for the PCA selection")
        paths.append(files[per_class])
    return paths


def _images_by_region(model: FeatureModel, data: dict[str, BenchmarkData]) -> dict[str, np.ndarray]:
    """Stimuli per region; regions showing the same stimuli in the same order share one array."""
    loaded: dict[tuple, np.ndarray] = {}
    images = {}
    for region, region_data in data.items():
        ids = tuple(region_data.averaged.stimulus_ids.tolist())
        key = (region_data.benchmark.assembly, region_data.benchmark.visual_degrees, ids)
        if key not in loaded:
            paths = region_data.averaged.stimulus_set.paths(list(ids))
            loaded[key] = stimulus_images(paths, model.image_size, source_degrees=region_data.benchmark.visual_degrees)
        images[region] = loaded[key]
    return images


def score_model(model: FeatureModel, layers: Sequence[str], *, config: ScoringConfig = ScoringConfig(),
                pca_images: str | os.PathLike | None = None, data_cache: str | os.PathLike | None = None,
                base_url: str | None = None, commitment_cache: str | os.PathLike | None = None,
                log: Callable[[str], None] = lambda line: None) -> ModelScores:
    """Commits a layer per region on the public benchmarks and scores it on the final ones."""
    unknown = [region for region in config.regions if region not in REGIONS]
    if unknown:
        raise ValueError(f"unknown regions {unknown}; choose from {REGIONS}")
    if config.access not in ("public", "private"):
        raise ValueError(f"access must be 'public' or 'private', got {config.access!r}")
    for layer in layers:
        model.n_features(layer)
    public = {region: load_benchmark_data(PUBLIC_BENCHMARKS[region], cache=data_cache, base_url=base_url)
              for region in config.regions}
    public_images = _images_by_region(model, public)
    pca_label = "none"
    pcas = None
    if pca_images is not None:
        paths = pca_image_paths(pca_images, config.pca_components)
        pca_label = f"{config.pca_components} components on {len(paths)} images of {Path(pca_images).name}"
        log(f"fitting PCA ({pca_label})")
        pixels = stimulus_images(paths, model.image_size, source_degrees=None)
        pcas = fit_layer_pcas(model, pixels, layers, n_components=config.pca_components,
                              memory_budget=config.memory_budget, batch_size=config.batch_size)
    cache_file = None
    if commitment_cache is not None:
        key = commitment_key(model.name, layers, pca_label, model.image_size)
        cache_file = Path(commitment_cache) / f"{key}.json"
    commitment = commit_layers(
        model, public, public_images, layers, pcas=pcas, normalisation=config.normalisation,
        memory_budget=config.memory_budget, batch_size=config.batch_size, dtype=config.dtype,
        cache_file=cache_file,
        progress=lambda region, layer, score: log(f"  {region} {layer}: raw {score.raw:.3f} "
                                                  f"ceiled {score.score:.3f}"))
    log("committed: " + ", ".join(f"{region} -> {layer}" for region, layer in commitment.layers.items()))
    if config.access == "public":
        final = public
        final_images = public_images
    else:
        final = {region: load_benchmark_data(PRIVATE_BENCHMARKS[region], cache=data_cache, base_url=base_url)
                 for region in config.regions}
        final_images = _images_by_region(model, final)
    scores: dict[str, NeuralScore] = {}
    for region in config.regions:
        layer = commitment.layers[region]
        earlier = commitment.scores[region].get(layer)
        if config.access == "public" and pcas is None and isinstance(earlier, NeuralScore):
            scores[region] = earlier
            continue
        for _, gram, n_features in layer_grams(model, final_images[region], [layer],
                                               memory_budget=config.memory_budget,
                                               batch_size=config.batch_size, dtype=config.dtype):
            scores[region] = score_gram(gram, final[region], n_features=n_features, layer=layer,
                                        normalisation=config.normalisation, dtype=config.dtype)
    return ModelScores(scores, commitment)
