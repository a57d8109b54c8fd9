"""Logits functions of stochastic models (e.g. VOneResNet-50 with its noise on), for ``version='rand'``.

A stochastic logits function has the attribute ``stochastic = True`` and is called as
``fn(params, x, key=key)``; every consumer (APGD's EOT passes, the cascade's clean pass and
re-verification) derives a fresh key per forward pass from its own explicit key.
"""

from __future__ import annotations

from typing import Any

import jax

from alignjax.types import Images, Key, Logits, Params


class StochasticLogitsFn:
    """``module.apply(params, x, train=False, rngs={rng_name: key})`` with ``stochastic = True``."""

    stochastic = True

    def __init__(self, module: Any, rng_name: str = "noise"):
        self.module = module
        self.rng_name = rng_name

    def __call__(self, params: Params, x: Images, key: Key) -> Logits:
        return self.module.apply(params, x, train=False, rngs={self.rng_name: key})


def call_model(logits_fn: Any, params: Params, x: Images, key: Key | None) -> jax.Array:
    """Calls a deterministic ``logits_fn(params, x)`` or a stochastic one with ``key``."""
    if getattr(logits_fn, "stochastic", False):
        if key is None:
            raise ValueError("this model is stochastic: it needs a key for every forward pass")
        return logits_fn(params, x, key=key)
    return logits_fn(params, x)
