"""torch -> Flax key maps, one module per architecture family, registered by architecture name.

A converter takes a PyTorch-style state dict (``name -> np.ndarray``, prefixes already stripped) and
returns flat Flax variables (``'params/...'`` and ``'batch_stats/...'`` keys, float32 arrays). It
renames and transposes only; ``alignjax.weights.strict.check_against_module`` then verifies the result
against the module. Families register themselves at import of this package.

A *layout* converter handles a checkpoint written in another project's layout for an architecture
(timm's VGG with its convolutional classifier, lukemelas' EfficientNet ``_blocks.i`` names, BiT's
TensorFlow-named ``.npz``, files that already hold Flax variables): ``(state_dict, arch) -> flat Flax
variables``, registered by name with ``register_layout`` and named by a ``CheckpointQuirks.layout``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

import numpy as np

Converter = Callable[[Mapping[str, np.ndarray]], dict[str, np.ndarray]]

LayoutConverter = Callable[[Mapping[str, np.ndarray], str], dict[str, np.ndarray]]

CONVERTERS: dict[str, Converter] = {}
LAYOUTS: dict[str, LayoutConverter] = {}
_Entry = TypeVar("_Entry")


def register_converter(*arch_names: str) -> Callable[[Converter], Converter]:
    """Decorator registering one converter for one or more architecture names."""

    def decorate(fn: Converter) -> Converter:
        for name in arch_names:
            if name in CONVERTERS:
                raise ValueError(f"a converter for {name!r} is registered twice")
            CONVERTERS[name] = fn
        return fn

    return decorate


def register_layout(name: str) -> Callable[[LayoutConverter], LayoutConverter]:
    """Decorator registering a whole-layout converter ``(state_dict, arch) -> flat`` under ``name``."""

    def decorate(fn: LayoutConverter) -> LayoutConverter:
        if name in LAYOUTS:
            raise ValueError(f"a layout converter {name!r} is registered twice")
        LAYOUTS[name] = fn
        return fn

    return decorate


def get_layout(name: str) -> LayoutConverter:
    return _registered(LAYOUTS, name, "checkpoint layout converter")


def get_converter(arch: str) -> Converter:
    return _registered(CONVERTERS, arch, "torch->flax converter for architecture")


def _registered(table: Mapping[str, _Entry], name: str, what: str) -> _Entry:
    """``table[name]`` once every family module has registered itself; a KeyError listing the known ones."""
    _import_families()
    try:
        return table[name]
    except KeyError:
        known = ", ".join(sorted(table)) or "(none)"
        raise KeyError(f"no {what} {name!r}; known: {known}") from None


def _import_families() -> None:
    """Imports every family module in this package so that all converters are registered."""
    import importlib
    import pkgutil

    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")
