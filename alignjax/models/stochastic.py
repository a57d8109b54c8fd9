"""Logits functions of stochastic models (e.g. VOneResNet-50 with its noise on), for ``version='rand'``.

A stochastic logits function has the attribute ``stochastic = True`` and is called as
``fn(params, x, key=key)``; every consumer (APGD's EOT passes, the cascade's clean pass and
re-verification) derives a fresh key per forward pass from its own explicit key.
"""

from __future__ import annotations

from typing import Any

from alignjax.models.module_logits import ModuleLogits
from alignjax.types import Images, Key, Logits, Params, call_model  # noqa: F401  (re-export)


class StochasticLogitsFn:
    """``module.apply(params, x, train=False, rngs={rng_name: key})`` with ``stochastic = True``."""

    stochastic = True

    def __init__(self, module: Any, rng_name: str = "noise"):
        self.module = module
        self.rng_name = rng_name

    def __call__(self, params: Params, x: Images, key: Key) -> Logits:
        return self.module.apply(params, x, train=False, rngs={self.rng_name: key})

    def _key(self) -> tuple[Any, ...]:
        return ModuleLogits(self.module)._key(), self.rng_name

    def __eq__(self, other: object) -> bool:
        """Equal modules and noise stream: one function (compiled programs are shared, as ``ModuleLogits``)."""
        if not isinstance(other, StochasticLogitsFn):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())
