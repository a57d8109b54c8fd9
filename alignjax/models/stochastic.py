"""Logits functions of stochastic models (e.g. VOneResNet-50 with its noise on), for ``version='rand'``.

A stochastic logits function has the attribute ``stochastic = True`` and is called as
``fn(params, x, key=key)``; every consumer (APGD's EOT passes, the cascade's clean pass and
re-verification) derives a fresh key per forward pass from its own explicit key.
"""

from __future__ import annotations

from typing import Any

from alignjax.models.module_logits import ComparedByKey, module_key
from alignjax.types import Images, Key, Logits, Params, call_model  # noqa: F401  (re-export)


class StochasticLogitsFn(ComparedByKey):
    """``module.apply(params, x, train=False, rngs={rng_name: key})`` with ``stochastic = True``."""

    stochastic = True

    def __init__(self, module: Any, rng_name: str = "noise"):
        self.module = module
        self.rng_name = rng_name

    def __call__(self, params: Params, x: Images, key: Key) -> Logits:
        return self.module.apply(params, x, train=False, rngs={self.rng_name: key})

    def _key(self) -> tuple[Any, ...]:  # equal modules and noise stream: one function, as ``ModuleLogits``
        return module_key(self.module), self.rng_name
