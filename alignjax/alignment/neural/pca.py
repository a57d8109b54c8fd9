"""Per-layer PCA for layer commitment, as Brain-Score's ``LayerPCA``.

Brain-Score reduces every candidate layer to 1000 principal components while it commits layers to
regions (brain-score/vision@d07d3569 ``model_helpers/brain_transformation/neural.py::LayerSelection``
hooks ``LayerPCA`` with ``n_components=1000``); the components are fitted on the layer's activations to
1000 ImageNet validation images (``model_helpers/activations/pca.py::_get_imagenet_val``: 1000 images,
one per class) with scikit-learn ``PCA(n_components=1000, random_state=0)`` (full SVD at this size),
and a layer with at most 1000 features is left as it is.

Here the principal axes come from the eigendecomposition of the n x n Gram matrix of the centred
activations (``V = Xc^T U / s``), which equals the SVD's right singular vectors up to sign; signs do
not change any regression score. Deviation: axes whose singular value is zero to rounding (with 1000
images the centred data have rank 999, so the reference's 1000th axis is an arbitrary unit vector from
LAPACK) are set to zero here, so that feature is 0 instead of an arbitrary projection.
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import numpy as np

from alignjax.alignment.neural.gram import FEATURE_CHUNK, gram_matrix, precision

BRAINSCORE_PCA_COMPONENTS = 1000


@dataclasses.dataclass(frozen=True, eq=False)
class LayerPCA:
    """``transform(x) = (x - mean) @ components``; ``components`` (n_features, n_components)."""

    mean: np.ndarray
    components: np.ndarray
    singular_values: np.ndarray

    @property
    def projection(self) -> dict[str, np.ndarray]:
        return {"mean": self.mean, "components": self.components}

    def transform(self, features: np.ndarray) -> np.ndarray:
        return (np.asarray(features, np.float32) - self.mean[None, :]) @ self.components


def fit_pca(features: np.ndarray, n_components: int = BRAINSCORE_PCA_COMPONENTS, *,
            dtype: str = "float64") -> LayerPCA | None:
    """Principal axes of ``features`` (n_images, n_features); None when ``n_features <= n_components``
    (the reference keeps such layers unreduced)."""
    features = np.asarray(features)
    n_images, n_features = features.shape
    if n_features <= n_components:
        return None
    if n_images < n_components:
        raise ValueError(f"PCA with {n_components} components needs at least as many images, got {n_images}")
    gram = gram_matrix(features, dtype=dtype)
    with precision(dtype):
        eigenvalues, eigenvectors = jnp.linalg.eigh(gram)
        order = jnp.argsort(-eigenvalues)[:n_components]
        eigenvalues, eigenvectors = eigenvalues[order], eigenvectors[:, order]
        singular = jnp.sqrt(jnp.maximum(eigenvalues, 0.0))
        cutoff = singular[0] * max(n_images, n_features) * jnp.finfo(gram.dtype).eps
        scale = jnp.where(singular > cutoff, 1.0 / jnp.where(singular > cutoff, singular, 1.0), 0.0)
        basis = np.asarray(eigenvectors * scale[None, :])
        singular = np.asarray(singular)
    mean = features.mean(axis=0, dtype=np.float64)
    components = np.empty((n_features, n_components), np.float32)
    for start in range(0, n_features, FEATURE_CHUNK):
        stop = start + FEATURE_CHUNK
        centred = features[:, start:stop].astype(np.float64) - mean[None, start:stop]
        components[start:stop] = (centred.T @ basis).astype(np.float32)
    return LayerPCA(mean.astype(np.float32), components, singular)
