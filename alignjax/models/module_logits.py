"""A Flax module's logits function as a value: equal modules give equal functions.

The attack engine caches its compiled programs per model (``alignjax.attacks.engine.passes.programs``,
keyed by ``alignjax.types.Model``, itself keyed by its logits function). ``partial(module.apply,
train=False)`` and ``module.apply`` compare by identity, so every ``alignjax.models.load`` of the same
model (a second ``alignjax attack`` in one Python process, a notebook that reloads, a test suite)
compiled every program again. Flax modules are frozen dataclasses that compare and hash by their fields,
so ``ModuleLogits(module)`` of two equal modules is one cache key, and the second run compiles nothing.

``module_of`` finds the module behind the forms a logits function comes in (this class, ``module.apply``,
``partial(module.apply, ...)``), for the code that needs the module itself (bf16 rebuilding, layer
activations, the torch cross-check).
"""

from __future__ import annotations

import abc
import dataclasses
import functools
import inspect
from typing import Any

from flax import linen as nn

__all__ = ["ComparedByKey", "ModuleLogits", "logits_fn_for", "module_key", "module_of"]


def module_key(module: Any) -> tuple[Any, ...]:
    """What identifies a module's computation: its value (Flax modules compare and hash by their fields),
    or its identity when a field does not hash (an array)."""
    try:
        hash(module)
    except TypeError:
        return type(module), id(module)
    return type(module), module


class ComparedByKey(abc.ABC):
    """Equality and hashing by ``self._key()`` between objects of the same type."""

    @abc.abstractmethod
    def _key(self) -> tuple[Any, ...]:
        """What the object's value is: equal keys, equal objects."""

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._key() == other._key()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._key())


@dataclasses.dataclass(frozen=True, eq=False)
class ModuleLogits(ComparedByKey):
    """``module.apply(variables, x)``, with ``train=False`` when ``eval_mode`` (modules that take ``train``).

    Equal (and equally hashed) when the modules are equal; a module with an unhashable field (an array)
    is compared by identity, as ``module.apply`` is.
    """

    module: nn.Module
    eval_mode: bool = False

    def __call__(self, variables: Any, x: Any) -> Any:
        if self.eval_mode:
            return self.module.apply(variables, x, train=False)
        return self.module.apply(variables, x)

    def _key(self) -> tuple[Any, ...]:
        return module_key(self.module), self.eval_mode


def logits_fn_for(module: nn.Module) -> ModuleLogits:
    """The inference logits function of ``module``: ``train=False`` when its ``__call__`` takes ``train``."""
    return ModuleLogits(module, "train" in inspect.signature(type(module).__call__).parameters)


def module_of(logits_fn: Any) -> nn.Module | None:
    """The Flax module behind ``ModuleLogits``, ``module.apply`` or ``partial(module.apply, ...)``, else None."""
    if isinstance(logits_fn, ModuleLogits):
        return logits_fn.module
    function = logits_fn.func if isinstance(logits_fn, functools.partial) else logits_fn
    owner = getattr(function, "__self__", None)
    return owner if isinstance(owner, nn.Module) else None
