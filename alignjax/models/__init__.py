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


def __getattr__(name: str):
    """``alignjax.models.load`` / ``LoadedModel`` are ``alignjax.loading``'s (imported on first use, so
    that defining models never imports the checkpoint machinery of ``alignjax.weights``)."""
    if name in ("load", "LoadedModel"):
        from alignjax import loading

        return getattr(loading, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "ARCHITECTURES",
    "ARCHITECTURE_INPUT_SHAPES",
    "MODELS",
    "LoadedModel",
    "ModelSpec",
    "Preprocessing",
    "RobustAccuracy",
    "architecture_input_shape",
    "build_architecture",
    "get_model_spec",
    "load",
    "load_embedded",
    "register_architecture",
    "register_model",
]
