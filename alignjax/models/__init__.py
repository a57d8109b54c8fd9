"""Flax model definitions (NHWC, inputs in [0, 1], normalisation inside) and their registries."""

from alignjax.models import small_cnn  # noqa: F401  (registers 'small_cnn')
from alignjax.models.embedded import load_embedded
from alignjax.models.registry import (
    ARCHITECTURES,
    MODELS,
    ModelSpec,
    Preprocessing,
    build_architecture,
    get_model_spec,
    register_architecture,
    register_model,
)

__all__ = [
    "ARCHITECTURES",
    "MODELS",
    "ModelSpec",
    "Preprocessing",
    "build_architecture",
    "get_model_spec",
    "load_embedded",
    "register_architecture",
    "register_model",
]
