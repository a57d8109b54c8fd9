"""The one perturbation norm: per-example Linf, L2 or L1 of a (b, ...) array, in float32.

As the reference's ``L0_norm``/``L1_norm``/``L2_norm`` helpers and its ``max(abs(...))`` checks
(``fra31/auto-attack@a392200:autoattack/other_utils.py``, ``autoattack.py``): the norm of the flattened
difference per example. The attacks use it on device arrays; the engine on host arrays for the
``perturbation_norm`` of every output (``points.parquet`` of ``attack`` and of ``sweep``,
``AutoAttackResult``), which is therefore float32 everywhere, computed from float32 differences.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np

NORMS = ("Linf", "L2", "L1")


def flat_norm(delta: Any, norm: str) -> Any:
    """(b,) float32 norm of each row of ``delta`` (a NumPy array gives a NumPy array, a JAX array a JAX array).

    Raises:
      ValueError: ``norm`` is not 'Linf', 'L2' or 'L1'.
    """
    if norm not in NORMS:
        raise ValueError(f"unknown norm {norm!r}; use 'Linf', 'L2' or 'L1'")
    xp = np if isinstance(delta, np.ndarray) else jnp
    flat = delta.reshape(delta.shape[0], -1).astype(xp.float32)
    if norm == "Linf":
        if xp is np:
            return np.max(np.abs(flat), axis=1, initial=0.0).astype(np.float32)
        return jnp.max(jnp.abs(flat), axis=1)
    if norm == "L2":
        return xp.sqrt(xp.sum(flat * flat, axis=1, dtype=xp.float32))
    return xp.sum(xp.abs(flat), axis=1, dtype=xp.float32)


def perturbation_norms(x_adv: np.ndarray, x: np.ndarray, norm: str) -> np.ndarray:
    """(b,) float32 norm of ``x_adv - x`` per row (float32 differences; 0 where unchanged)."""
    return flat_norm(np.asarray(x_adv, np.float32) - np.asarray(x, np.float32), norm)
