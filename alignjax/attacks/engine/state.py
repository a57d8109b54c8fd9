"""The resumable state of a cascade run, bound to everything that decides its result.

``CascadeState`` holds the host arrays of a run in progress (adversarial examples, predictions, which
point each attack broke, queries, which points the current attack has done), takes each batch's result
(``record``: a point keeps the first attack that broke it, as the reference's
``run_standard_evaluation``), and is saved as one npz file, replaced atomically (temporary name, fsync, rename), so a crash at any moment leaves either the
previous state or the new one, never half of each.

The state carries an *identity*: a flat mapping of named components (content hashes of the weights
and of the data, the attack configs, key, mode, library version, and whatever the caller adds:
architecture and its options, norm, eps, version...). Resuming compares it component by component and
refuses any difference with a message that names what differs, so an interrupted run can never be
continued with another model, data set, radius or seed.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jax
import numpy as np

from alignjax.errors import InputError
from alignjax.files import atomic_write

NOT_BROKEN = ""
CLEAN_ERROR = "clean"
STATE_FILE = "state.npz"
STATE_VERSION = 3  # 3: misclassified (the share of final draws)


def array_digest(*arrays: np.ndarray) -> str:
    """sha256 over dtype, shape and bytes of each array (content, not the object)."""
    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def params_digest(params: Any) -> str:
    """sha256 of a parameter pytree: every leaf's path, dtype, shape and bytes, in path order."""
    digest = hashlib.sha256()
    leaves = jax.tree_util.tree_flatten_with_path(params)[0]
    for path, leaf in sorted(leaves, key=lambda item: jax.tree_util.keystr(item[0])):
        array = np.ascontiguousarray(jax.device_get(leaf))
        digest.update(f"{jax.tree_util.keystr(path)}|{array.dtype.str}|{array.shape}|".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def _short(value: Any, limit: int = 90) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def identity_differences(saved: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """One line per component that differs (or exists on one side only)."""
    lines = []
    for name in sorted(set(saved) | set(current)):
        if name not in current:
            lines.append(f"{name}: {_short(saved[name])} in the state, not given now")
        elif name not in saved:
            lines.append(f"{name}: not in the state, {_short(current[name])} now")
        elif saved[name] != current[name]:
            lines.append(f"{name}: {_short(saved[name])} in the state, {_short(current[name])} now")
    return lines


class CascadeState:
    """Resumable cascade state (host arrays, one entry per point) with its identity; one atomic npz file in
    ``state_dir``.

    A field that is None (nothing to keep) is not saved and comes back as None."""

    FIELDS = ("x_adv", "y_adv", "robust", "broken_by", "n_queries", "perturbation_norm", "misclassified",
              "attempted")

    def __init__(self, x: np.ndarray | None, pred: np.ndarray, y: np.ndarray, misclassified: np.ndarray | None = None):
        """``x``: the clean images when they are held in memory (copied; adversarial examples replace
        them), or None for a streamed data set, whose adversarial examples are not kept. ``pred``: the
        clean predictions; ``misclassified``: the share of clean draws the model gets wrong (final draws
        of a stochastic model; by default 1 where ``pred != y``), which decides the clean errors."""
        self.x_adv = None if x is None else x.copy()
        self.y_adv = pred.astype(np.int32)
        self.misclassified = ((pred != y) if misclassified is None else misclassified).astype(np.float32)
        self.robust = self.misclassified < 0.5
        self.broken_by = np.where(self.robust, NOT_BROKEN, CLEAN_ERROR).astype(object)
        self.n_queries = np.zeros(len(y), np.int64)
        self.perturbation_norm = np.zeros(len(y), np.float32)
        self.attempted = np.zeros(len(y), bool)  # for the attack in progress
        self.attack_index = 0
        self.summaries: list[dict[str, Any]] = []
        self.elapsed = 0.0
        self.last_save = time.time()

    def record(self, name: str, idx: np.ndarray, x_adv: np.ndarray, prediction: np.ndarray, broken: np.ndarray,
               n_queries: np.ndarray, perturbation_norm: np.ndarray, misclassified: np.ndarray) -> np.ndarray:
        """Takes one batch of attack ``name`` on the points ``idx``; returns which of them it newly broke.

        A point keeps the adversarial example, prediction and norm of the first attack that broke it; a
        point still robust keeps the largest share of final draws any attack's candidate reached.
        """
        self.attempted[idx] = True
        self.n_queries[idx] += n_queries
        newly = broken & (self.broken_by[idx] == NOT_BROKEN)
        hit = idx[newly]
        self.robust[hit] = False
        self.broken_by[hit] = name
        if self.x_adv is not None:
            self.x_adv[hit] = x_adv[newly]
        self.perturbation_norm[hit] = perturbation_norm[newly]
        self.y_adv[hit] = prediction[newly]
        still = self.robust[idx]
        self.misclassified[idx] = np.where(newly, misclassified,
                                           np.where(still, np.maximum(self.misclassified[idx], misclassified),
                                                    self.misclassified[idx]))
        return newly

    def save(self, state_dir: Path, identity: Mapping[str, Any]) -> None:
        """Arrays and metadata in one file, replaced atomically: a crash leaves the old or the new state."""
        state_dir.mkdir(parents=True, exist_ok=True)
        arrays = {f: getattr(self, f) for f in self.FIELDS if getattr(self, f) is not None}
        arrays["broken_by"] = arrays["broken_by"].astype(str)
        meta = {"state_version": STATE_VERSION, "identity": dict(identity), "attack_index": self.attack_index,
                "summaries": self.summaries, "elapsed": self.elapsed}
        arrays["meta"] = np.array(json.dumps(meta))

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as file:
                np.savez(file, **arrays)

        atomic_write(state_dir / STATE_FILE, write)
        self.last_save = time.time()

    @classmethod
    def load(cls, state_dir: Path, identity: Mapping[str, Any]) -> CascadeState | None:
        """The saved state if there is one; refuses a state of another evaluation, naming what differs."""
        path = state_dir / STATE_FILE
        if not path.is_file():
            if (state_dir / "state.json").is_file():
                raise InputError(
                    f"{state_dir} holds the state of an older alignjax that records no model or data hashes; "
                    "pass --overwrite (or delete it) to start over")
            return None
        try:
            with np.load(path, allow_pickle=False) as saved:
                meta = json.loads(str(saved["meta"]))
                arrays = {f: saved[f].copy() if f in saved.files else None for f in cls.FIELDS}
        except (OSError, ValueError, KeyError, EOFError) as err:
            raise InputError(f"{path} is unreadable ({err}); pass --overwrite (or delete it) to start over") \
                from None
        if meta.get("state_version") != STATE_VERSION:
            raise InputError(f"{path} was written by another alignjax version (state version "
                             f"{meta.get('state_version')}, this one reads {STATE_VERSION}); pass --overwrite "
                             "(or delete it) to start over")
        differ = identity_differences(meta.get("identity", {}), json.loads(json.dumps(dict(identity))))
        if differ:
            raise InputError(
                f"{state_dir} holds an interrupted run of a different evaluation:\n  " + "\n  ".join(differ)
                + "\n  resume with the same arguments, choose another --out, or pass --overwrite to "
                "discard it")
        state = cls.__new__(cls)
        for name, value in arrays.items():
            setattr(state, name, value)
        state.broken_by = state.broken_by.astype(object)
        state.attack_index = int(meta["attack_index"])
        state.summaries = list(meta["summaries"])
        state.elapsed = float(meta["elapsed"])
        state.last_save = time.time()
        return state


def run_identity(params: Any, data_sha256: str, n: int, attacks: Sequence[object], key: Any,
                 individual: bool, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The components a state is bound to: ours (content hashes, configs, key, mode, version) + ``extra``.

    ``data_sha256`` is the content hash of the evaluated images and labels (``array_digest(x, y)``).
    """
    import alignjax

    identity: dict[str, Any] = {
        "weights_sha256": params_digest(params),
        "data_sha256": data_sha256,
        "n": int(n),
        "attacks": [repr(a) for a in attacks],
        "norm": str(getattr(attacks[0], "norm", "")),
        "eps": float(getattr(attacks[0], "eps", 0.0)),
        "key": np.asarray(jax.random.key_data(key)).ravel().tolist(),
        "mode": "individual" if individual else "cascade",
        "alignjax_version": alignjax.__version__,
    }
    for name, value in (extra or {}).items():
        if name in identity:
            raise ValueError(f"state identity component {name!r} is computed by the cascade itself")
        identity[name] = value
    return json.loads(json.dumps(identity, sort_keys=True, default=str))
