"""Perturbation radii as people write them: ``'8/255'``, ``'0.5/255'``, ``'0.031'``, ``'1e-3'``.

The one parser of eps text, used by the attack command, sweep configs, analysis protocols and the
RobustBench table (whose ``eps`` column holds ``'8/255'`` and ``'0.5'``); it imports nothing of the
project, so every layer can use it.
"""

from __future__ import annotations

import math

__all__ = ["parse_eps"]


def parse_eps(text: str | float) -> float:
    """'0.031', '1e-3', '8/255' or '0.5/255' (or a number) -> a float > 0 (a decimal numerator is allowed).

    Raises ValueError with a message naming the expected forms.
    """
    if isinstance(text, bool):  # a ValueError like every other bad eps: callers make it a usage error
        raise ValueError(f"eps must be a number or a fraction like 8/255 or 0.5/255, got {text!r}")  # noqa: TRY004
    numerator, slash, denominator = str(text).strip().partition("/")
    try:
        value = float(numerator) / (float(denominator) if slash else 1.0)
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"eps must be a number or a fraction like 8/255 or 0.5/255, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"eps must be positive and finite (> 0), got {text!r}")
    return value
