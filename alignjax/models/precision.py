"""Compute precision of the attacked model: float32 by default, bfloat16 on request.

The attacks do their own arithmetic (steps, projections, losses, FAB's hyperplanes, Square's windows)
in float32 whatever the model computes in (STYLE.md, dtype policy). ``with_compute_dtype`` runs the
model itself in another dtype: a Flax module behind the logits function is rebuilt with that compute
``dtype`` (parameters stay stored in float32; Flax casts them per layer), other functions get their
floating parameters and input cast on entry, and the logits come back as float32, so gradients reach
the attack in float32. On GPUs and TPUs bfloat16 roughly
doubles the throughput of the convolutions and matmuls; robust accuracy must then be checked against
the float32 run on the same points (``benchmarks/attack_speed.py`` reports both).

float32 matmuls follow JAX's default precision (TF32 on Ampere and newer GPUs, like torch's default
for convolutions); ``jax.default_matmul_precision('highest')`` forces full float32.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from alignjax.models.module_logits import ModuleLogits, module_of
from alignjax.types import Images, Key, Logits, Params

PRECISIONS = {"fp32": jnp.float32, "bf16": jnp.bfloat16}


def _cast_floating(tree: Any, dtype: Any) -> Any:
    return jax.tree.map(lambda a: a.astype(dtype) if jnp.issubdtype(jnp.result_type(a), jnp.floating) else a, tree)


@dataclasses.dataclass(frozen=True)
class ComputeDtypeLogitsFn:
    """``logits_fn`` evaluated in ``dtype``; hashable, so compiled attacks are cached per wrapper."""

    logits_fn: Any
    dtype: Any

    @property
    def stochastic(self) -> bool:
        return bool(getattr(self.logits_fn, "stochastic", False))

    def __call__(self, params: Params, x: Images, key: Key | None = None) -> Logits:
        params, x = _cast_floating(params, self.dtype), x.astype(self.dtype)
        if self.stochastic:
            return self.logits_fn(params, x, key=key).astype(jnp.float32)
        return self.logits_fn(params, x).astype(jnp.float32)


def _rebuilt_in(logits_fn: Any, dtype: Any) -> Any:
    """The same logits function around a clone of its Flax module with compute ``dtype``, where the
    function is a ``ModuleLogits``, ``module.apply`` (possibly in a ``functools.partial``) or holds
    ``.module``; else itself."""
    if isinstance(logits_fn, ModuleLogits):
        if not hasattr(logits_fn.module, "dtype"):
            return logits_fn
        return dataclasses.replace(logits_fn, module=logits_fn.module.clone(dtype=dtype))
    if hasattr(logits_fn, "module") and isinstance(logits_fn.module, nn.Module) and hasattr(logits_fn.module, "dtype"):
        clone = dataclasses.replace(logits_fn) if dataclasses.is_dataclass(logits_fn) else None
        if clone is None:
            clone = type(logits_fn).__new__(type(logits_fn))
            clone.__dict__.update(logits_fn.__dict__)
        clone.module = logits_fn.module.clone(dtype=dtype)
        return clone
    module = module_of(logits_fn)
    if not (isinstance(module, nn.Module) and hasattr(module, "dtype")):
        return logits_fn
    apply = module.clone(dtype=dtype).apply
    if isinstance(logits_fn, functools.partial):
        return functools.partial(apply, *logits_fn.args, **logits_fn.keywords)
    return apply


def with_compute_dtype(logits_fn: Any, precision: str) -> Any:
    """``logits_fn`` run in ``precision`` ('fp32': unchanged, 'bf16': bfloat16 model, float32 logits)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {sorted(PRECISIONS)}, got {precision!r}")
    if precision == "fp32":
        return logits_fn
    dtype = PRECISIONS[precision]
    return ComputeDtypeLogitsFn(_rebuilt_in(logits_fn, dtype), dtype)
