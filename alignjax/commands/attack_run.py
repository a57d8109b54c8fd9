"""What ``alignjax attack`` does around the cascade: option checks, the output folder, the run's identity
and the manifest's provenance (hashes of weights and data, the command line).

The identity passed to ``run_autoattack(state_identity=...)`` adds to the cascade's own binding
(content hashes of parameters and data, attack configs, key, library version) what only the command
line knows: which model it built and with which options, the AutoAttack version and the seed.
"""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path
from typing import Any

import numpy as np

from alignjax.errors import InputError


def check_model_options(args: argparse.Namespace) -> None:
    """Refuses options the chosen model would silently ignore."""
    if args.num_classes is not None and args.arch is None:
        model = f"--model {args.model}" if args.model else "the embedded digits model"
        raise InputError(f"--num-classes applies to --arch only; {model} has a fixed class count")
    if args.arch_option and args.arch is None:
        raise InputError("--arch-option applies to --arch only")
    if args.attacks and args.version != "custom":
        raise InputError("--attacks needs --version custom")
    if args.version == "custom" and not args.attacks:
        raise InputError("--version custom needs --attacks, e.g. --attacks apgd-ce,apgd-t(n_iter=20)")


def attack_configs(args: argparse.Namespace, eps: float, n_classes: int) -> tuple[Any, ...]:
    """The attack list of ``--version`` (``--attacks`` for custom, with per-attack settings), with the
    budgets ``--n-iter``/``--n-queries``/``--n-restarts`` override."""
    from alignjax.attacks import presets
    from alignjax.attacks.custom_list import custom_attacks

    if args.version == "custom":
        attacks = custom_attacks(args.attacks, args.norm, eps)
    else:
        attacks = presets.version_attacks(args.version, args.norm, eps, n_classes=n_classes)
    return presets.with_budget(attacks, n_iter=args.n_iter, n_queries=args.n_queries, n_restarts=args.n_restarts)


def open_output(args: argparse.Namespace):
    """``(folder, lock)``: ``--out`` or a new unique default folder, locked for this run."""
    from alignjax.attacks.run_folder import default_run_folder, open_run_folder

    out = args.out if args.out is not None else default_run_folder()
    return open_run_folder(out, overwrite=args.overwrite)


def release_output(lock: Any) -> None:
    """Releases the folder's lock and deletes its lock file (``run_folder.release_run_folder``)."""
    from alignjax.attacks.run_folder import release_run_folder

    release_run_folder(lock)


def data_digest(x: Any, y: np.ndarray) -> str:
    """Content hash of the evaluated images and labels (what the state is bound to)."""
    from alignjax.attacks.engine.state import array_digest

    if hasattr(x, "digest"):  # images streamed from disk digest themselves
        return array_digest(np.frombuffer(x.digest().encode(), np.uint8), np.asarray(y))
    return array_digest(np.asarray(x), np.asarray(y))


def _in_memory(x: Any) -> bool:
    from alignjax.attacks.images import ArrayImages

    return isinstance(x, (ArrayImages, np.ndarray))


def file_sha256(path: Any) -> str | None:
    from alignjax.weights.hub import sha256_file

    return sha256_file(path) if path is not None and Path(path).is_file() else None


def run_identity_extras(args: argparse.Namespace, model_desc: str, model_options: dict[str, Any]) -> dict:
    """Identity components only the command line knows (the cascade adds content hashes itself)."""
    return {"model": model_desc, "model_options": model_options, "version": args.version, "seed": args.seed}


def provenance(args: argparse.Namespace, *, weights_file: Any, params: Any, x: Any, y: np.ndarray) -> dict:
    """Manifest entries: the command line and the hashes of the weights and data files and contents."""
    from alignjax.attacks.engine.state import params_digest

    data_file = Path(args.data) if args.data is not None else None
    return {
        "command_line": shlex.join(getattr(args, "argv", ["alignjax", "attack"])),
        "weights_file": str(weights_file) if weights_file is not None else None,
        "weights_file_sha256": file_sha256(weights_file),
        "weights_content_sha256": params_digest(params),
        "data_file_sha256": file_sha256(data_file),
        # a streamed data set would be read once more just to hash it: its files are named instead
        "data_content_sha256": data_digest(x, y) if _in_memory(x) else None,
    }
