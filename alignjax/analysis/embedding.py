"""2-D embeddings of models by their benchmark-score vectors.

The paper (kyangl/alignment-security@3bafa26:plotting.py ``tsne_plot``) fills missing scores with 0,
drops the aggregate (parent) columns and runs sklearn's t-SNE (2 components, perplexity 20,
random_state 42), colouring models by robust accuracy at eps 0.001. ``embed`` does that with
``method="tsne"`` (with scikit-learn; without it PCA is shown and said so; perplexity is capped at (n - 1) / 3
for small model sets), or a deterministic PCA in numpy (``"pca"``, no extra dependency; signs fixed so the largest
loading of each component is positive, which the tests compare with sklearn's PCA).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from alignjax.errors import InputError


@dataclass(frozen=True)
class EmbeddingConfig:
    method: Literal["tsne", "pca"] = "tsne"
    perplexity: float = 20.0
    seed: int = 42
    fill: Literal["zero", "mean"] = "zero"


def fill_missing(matrix: np.ndarray, fill: str) -> np.ndarray:
    """NaN -> 0 (the paper) or -> the column mean over the models that have the score."""
    matrix = np.asarray(matrix, dtype=np.float64)
    if fill == "zero":
        return np.where(np.isfinite(matrix), matrix, 0.0)
    if fill == "mean":
        with np.errstate(invalid="ignore"):
            means = np.nanmean(np.where(np.isfinite(matrix), matrix, np.nan), axis=0)
        return np.where(np.isfinite(matrix), matrix, np.nan_to_num(means)[None, :])
    raise InputError(f"fill must be 'zero' or 'mean', got {fill!r}")


def pca_2d(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First two principal-component scores (n, 2) and explained-variance ratios (2,) via SVD."""
    centred = matrix - matrix.mean(axis=0, keepdims=True)
    _, singular, components = np.linalg.svd(centred, full_matrices=False)
    components = components[:2]
    signs = np.sign(components[np.arange(len(components)), np.abs(components).argmax(axis=1)])
    components = components * signs[:, None]
    total = (singular**2).sum()
    ratio = singular[:2] ** 2 / total if total > 0 else np.zeros(2)
    scores = centred @ components.T
    if scores.shape[1] < 2:
        scores = np.column_stack([scores, np.zeros((len(scores), 2 - scores.shape[1]))])
        ratio = np.concatenate([ratio, np.zeros(2 - len(ratio))])
    return scores, ratio


def embed(matrix: np.ndarray, config: EmbeddingConfig = EmbeddingConfig()) -> tuple[np.ndarray, str]:
    """(n_models, 2) coordinates of the rows of ``matrix`` (models x benchmarks) and a description."""
    filled = fill_missing(matrix, config.fill)
    n = filled.shape[0]
    if n < 3:
        raise InputError(f"a 2-D embedding needs at least 3 models, got {n}")
    if filled.shape[1] < 2:
        raise InputError(f"a 2-D embedding needs at least 2 leaf benchmarks, got {filled.shape[1]}")
    if config.method not in ("tsne", "pca"):
        raise InputError(f"embedding method must be 'tsne' or 'pca', got {config.method!r}")
    try:
        from sklearn.manifold import TSNE
    except ImportError:
        TSNE = None
    if config.method == "pca" or TSNE is None:
        scores, ratio = pca_2d(filled)
        fallback = " (t-SNE needs scikit-learn: pip install scikit-learn)" if config.method == "tsne" else ""
        return scores, (f"PCA{fallback} (explained variance {ratio[0]:.1%}, {ratio[1]:.1%}); missing scores "
                        f"filled with {config.fill}")
    perplexity = min(config.perplexity, (n - 1) / 3.0)
    coordinates = TSNE(n_components=2, perplexity=perplexity, random_state=config.seed).fit_transform(filled)
    return coordinates.astype(np.float64), (f"t-SNE (perplexity {perplexity:.3g}, seed {config.seed}); missing scores filled with "
                         f"{config.fill}")
