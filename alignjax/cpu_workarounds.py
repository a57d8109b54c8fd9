"""The CPU-only XLA workarounds, switched in one place so that they can be measured and retired.

XLA's CPU backend runs a few operations far slower than their maths needs; alignjax replaces them there,
and only there, with forms that compute the same values (each is tested against the form it replaces):

- ``alignjax.models.fast_conv``: convolutions with very few input features, windows no larger than their
  stride (1x1, patch embeddings) and depthwise convolutions as matrix products or sums of shifted views;
- ``alignjax.models.max_pool``: max pooling's gradient without XLA's ``select_and_scatter`` (torch's
  first-maximum routing, the same values);
- ``alignjax.attacks.sorting``: a bitonic sorting network for the short rows the attacks sort.

Each choice is made when a program is lowered (``lax.platform_dependent``), so GPU and TPU programs keep
XLA's own operations. ``ALIGNJAX_CPU_WORKAROUNDS=0`` in the environment (read when a program is traced)
turns all three off, on every platform: the way to measure what they are still worth on a new jaxlib
(``benchmarks/attack_speed.py`` in two processes) and to retire them when XLA catches up. The measured
history is in ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from jax import lax

__all__ = ["ENVIRONMENT_VARIABLE", "enabled", "on_cpu"]

ENVIRONMENT_VARIABLE = "ALIGNJAX_CPU_WORKAROUNDS"


def enabled() -> bool:
    """False when ``ALIGNJAX_CPU_WORKAROUNDS`` is 0/false/no/off; read at trace time."""
    return os.environ.get(ENVIRONMENT_VARIABLE, "1").strip().lower() not in ("0", "false", "no", "off")


def on_cpu(*operands: Any, cpu: Callable[..., Any], default: Callable[..., Any]) -> Any:
    """``cpu(*operands)`` in CPU programs and ``default(*operands)`` elsewhere (``lax.platform_dependent``);
    ``default`` everywhere when the workarounds are switched off."""
    if not enabled():
        return default(*operands)
    return lax.platform_dependent(*operands, cpu=cpu, default=default)
