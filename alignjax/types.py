"""Array type aliases shared by the whole package (jaxtyping shapes; layout is NHWC)."""

from __future__ import annotations

import dataclasses
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


@dataclasses.dataclass(frozen=True)
class Model:
    """A classifier as the attacks and benchmarks see it: ``model(params, x, key=None) -> logits``.

    ``apply`` is the pure logits function: ``apply(params, x)``, or, when ``stochastic`` (VOneResNet-50
    with its noise on, for ``version='rand'``), ``apply(params, x, key=key)`` with a fresh key for every
    forward pass. Calling a deterministic model with a key ignores it; calling a stochastic one without a
    key is refused. Frozen and hashable (by ``apply``'s hash), so compiled programs are cached per model; the
    loaders' ``apply`` (``alignjax.models.module_logits.ModuleLogits``) compares by its Flax module's value,
    so a model loaded again reuses them.
    """

    apply: Callable[..., Logits]
    stochastic: bool = False

    def __call__(self, params: Params, x: Images, *, key: Key | None = None) -> Logits:
        if not self.stochastic:
            return self.apply(params, x)
        if key is None:
            raise ValueError("this model is stochastic: it needs a key for every forward pass")
        return self.apply(params, x, key=key)

    @classmethod
    def of(cls, fn: Any) -> Model:
        """``fn`` itself if it is a ``Model``; else a ``Model`` around a logits function, stochastic when
        the function says so (its ``stochastic`` attribute: ``models.stochastic.StochasticLogitsFn``)."""
        if isinstance(fn, Model):
            return fn
        if not callable(fn):
            raise TypeError(f"a model is a logits function (params, images) -> logits, got {type(fn).__name__}")
        return cls(fn, bool(getattr(fn, "stochastic", False)))


def call_model(logits_fn: Any, params: Params, x: Images, key: Key | None) -> jax.Array:
    """``Model.of(logits_fn)(params, x, key=key)``: one forward pass under the project's model convention."""
    return Model.of(logits_fn)(params, x, key=key)
