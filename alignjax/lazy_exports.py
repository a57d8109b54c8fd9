"""Package attributes imported on first use (PEP 562), so that ``import alignjax.data`` stays cheap.

A package lists ``name -> module`` and installs the module hooks and ``__all__`` in one call::

    _EXPORTS: dict[str, str] = {"load_model": "alignjax.weights.convert", ...}
    lazy_exports(__name__, _EXPORTS, globals())
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, exports: Mapping[str, str],
                 namespace: dict[str, Any]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Sets ``__getattr__``, ``__dir__`` and, unless the package has one, ``__all__`` (the exported names)
    in ``namespace`` (the package's ``globals()``): ``exports[name]`` is the module defining ``name``; the
    value is imported on first access and kept in ``namespace``. Returns the pair of hooks as well."""

    def __getattr__(name: str) -> Any:
        try:
            module = exports[name]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(exports))

    namespace.update(__getattr__=__getattr__, __dir__=__dir__)
    namespace.setdefault("__all__", list(exports))
    return __getattr__, __dir__
