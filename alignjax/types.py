"""Array type aliases shared by the whole package (jaxtyping shapes; layout is NHWC)."""

from __future__ import annotations

from typing import Any, Callable, Literal

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
