"""The embedded default: the adversarially trained digits CNN bundled under ``weights/``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import numpy as np
from safetensors.numpy import load_file

from alignjax.models.module_logits import logits_fn_for
from alignjax.models.small_cnn import SmallCNN
from alignjax.types import LogitsFn

EMBEDDED_WEIGHTS = "digits_cnn.safetensors"


def bundled_weights_dir() -> Path:
    """``weights/`` of the repository (editable install) or its copy inside the wheel."""
    packaged = Path(__file__).resolve().parents[1] / "_bundled_weights"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "weights"


def unflatten(flat: dict[str, np.ndarray], sep: str = "/") -> dict[str, Any]:
    """{'a/b/c': arr} -> {'a': {'b': {'c': arr}}}."""
    tree: dict[str, Any] = {}
    for name, value in flat.items():
        node = tree
        *parents, leaf = name.split(sep)
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return tree


def flatten(tree: dict[str, Any], sep: str = "/", prefix: str = "") -> dict[str, np.ndarray]:
    """Inverse of ``unflatten``."""
    out: dict[str, np.ndarray] = {}
    for name, value in tree.items():
        key = f"{prefix}{sep}{name}" if prefix else name
        if isinstance(value, dict):
            out.update(flatten(value, sep, key))
        else:
            out[key] = np.asarray(value)
    return out


def load_embedded(path: str | Path | None = None) -> tuple[LogitsFn, dict[str, Any]]:
    """``(logits_fn, variables)`` of the embedded digits CNN (float32, NHWC 8x8x1 in [0, 1])."""
    path = Path(path) if path is not None else bundled_weights_dir() / EMBEDDED_WEIGHTS
    if not path.is_file():
        raise FileNotFoundError(
            f"embedded weights not found at {path}; reinstall alignjax or run scripts/train_digits_cnn.py"
        )
    variables = unflatten(load_file(str(path)))
    return logits_fn_for(SmallCNN()), jax.tree.map(np.asarray, variables)
