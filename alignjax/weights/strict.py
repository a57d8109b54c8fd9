"""Strict matching of converted checkpoints against what a Flax module expects.

Every converter produces flat ``{'params/conv1/kernel': array, 'batch_stats/bn1/mean': ...}``
variables; ``check_against_module`` compares them with the shapes from ``jax.eval_shape(module.init)``
and names every missing, unexpected and mis-shaped entry in one error (big_vision
``models/common.py:merge_params`` is the model). ``dont_load`` is a regex of expected entries that may
stay at their initial value (e.g. a new classifier head).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import jax
import numpy as np

from alignjax.models.embedded import unflatten
from alignjax.weights.errors import CheckpointMismatchError

__all__ = ["CheckpointMismatchError", "check_against_module", "expected_shapes", "is_flax_state", "strip_prefixes"]

COMMON_PREFIXES = ("module.", "model.", "_orig_mod.")


def strip_prefixes(state_dict: Mapping[str, Any], prefixes: tuple[str, ...] = COMMON_PREFIXES) -> dict:
    """Removes a prefix shared by all keys (``module.`` of DataParallel, ``model.`` wrappers), repeatedly."""
    out = dict(state_dict)
    changed = True
    while changed and out:
        changed = False
        for prefix in prefixes:
            if all(k.startswith(prefix) for k in out):
                out = {k[len(prefix):]: v for k, v in out.items()}
                changed = True
    return out


def is_flax_state(state: Mapping[str, Any]) -> bool:
    """Flax variable names (``params/...``, ``batch_stats/...``), as alignjax writes them."""
    return bool(state) and all(k.startswith(("params/", "batch_stats/")) for k in state)


def expected_shapes(module: Any, input_shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
    """Flat name -> shape of the variables ``module.init`` would create for a (1, *input_shape) input."""
    dummy = jax.ShapeDtypeStruct((1, *input_shape), np.float32)
    shapes = jax.eval_shape(lambda x: module.init(jax.random.key(0), x), dummy)
    leaves = jax.tree_util.tree_flatten_with_path(_to_dict(shapes))[0]
    return {"/".join(str(getattr(p, "key", p)) for p in path): tuple(leaf.shape) for path, leaf in leaves}


def check_against_module(
    module: Any,
    flat_variables: Mapping[str, np.ndarray],
    input_shape: tuple[int, ...],
    *,
    dont_load: str | None = None,
    source: str = "checkpoint",
) -> dict[str, Any]:
    """Checks converted flat variables against the module and returns them nested.

    Raises:
      CheckpointMismatchError: naming all missing, unexpected and mis-shaped entries.
    """
    expected = expected_shapes(module, input_shape)
    skip = re.compile(dont_load) if dont_load else None
    missing = sorted(k for k in expected if k not in flat_variables and not (skip and skip.search(k)))
    unexpected = sorted(k for k in flat_variables if k not in expected)
    misshaped = sorted(
        f"{k}: checkpoint {tuple(np.shape(v))} vs model {expected[k]}"
        for k, v in flat_variables.items()
        if k in expected and tuple(np.shape(v)) != expected[k]
    )
    if missing or unexpected or misshaped:
        lines = [f"{source} does not match {type(module).__name__}:"]
        for title, items in (("missing", missing), ("unexpected", unexpected), ("mis-shaped", misshaped)):
            if items:
                shown = items[:20] + ([f"... and {len(items) - 20} more"] if len(items) > 20 else [])
                lines.append(f"  {title} ({len(items)}): " + ", ".join(shown))
        lines.append("  check the architecture/variant, or the converter's key map")
        raise CheckpointMismatchError("\n".join(lines))
    return unflatten({k: np.asarray(v, dtype=np.float32) for k, v in flat_variables.items()})


def _to_dict(tree: Any) -> Any:
    if isinstance(tree, Mapping):
        return {k: _to_dict(v) for k, v in tree.items()}
    return tree
