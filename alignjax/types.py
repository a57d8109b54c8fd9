"""Array type aliases shared by the whole package (jaxtyping shapes; layout is NHWC)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import jax
from jaxtyping import Array, Bool, Float, Int, PRNGKeyArray

Images = Float[Array, "b h w c"]
Image = Float[Array, "h w c"]
Logits = Float[Array, "b k"]
Labels = Int[Array, " b"]
Mask = Bool[Array, " b"]
PointIds = Int[Array, " b"]
Key = PRNGKeyArray
Params = Any  # a pytree of arrays
LogitsFn = Callable[[Params, Images], Logits]
Norm = Literal["Linf", "L2", "L1"]
NORMS: tuple[str, ...] = ("Linf", "L2", "L1")


def call_model(logits_fn: Any, params: Params, x: Images, key: Key | None) -> jax.Array:
    """Calls a logits function under the project's two calling conventions.

    A deterministic ``logits_fn(params, x)``; or a stochastic one (the attribute ``stochastic = True``,
    e.g. VOneResNet-50 with its noise on, for ``version='rand'``), called as ``fn(params, x, key=key)``
    with a fresh key per forward pass. Attacks see only this convention, never a model class.
    """
    if getattr(logits_fn, "stochastic", False):
        if key is None:
            raise ValueError("this model is stochastic: it needs a key for every forward pass")
        return logits_fn(params, x, key=key)
    return logits_fn(params, x)
