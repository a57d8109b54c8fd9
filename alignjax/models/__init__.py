"""Flax model definitions (NHWC, inputs in [0, 1], normalisation inside) and their registries.

Every module in this package is imported here, so each architecture file registers itself with
``@register_architecture`` and named checkpoints register with ``register_model``.
"""

import importlib as _importlib
import pkgutil as _pkgutil

from alignjax.models.embedded import load_embedded
from alignjax.models.registry import (
    ARCHITECTURE_INPUT_SHAPES,
    ARCHITECTURES,
    MODELS,
    ModelSpec,
    Preprocessing,
    RobustAccuracy,
    architecture_input_shape,
    build_architecture,
    get_model_spec,
    register_architecture,
    register_model,
)

for _info in _pkgutil.iter_modules(__path__):
    _importlib.import_module(f"{__name__}.{_info.name}")

__all__ = [
    "ARCHITECTURES",
    "ARCHITECTURE_INPUT_SHAPES",
    "MODELS",
    "ModelSpec",
    "Preprocessing",
    "RobustAccuracy",
    "architecture_input_shape",
    "build_architecture",
    "get_model_spec",
    "load_embedded",
    "register_architecture",
    "register_model",
]
