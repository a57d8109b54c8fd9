"""Writing an evaluation: one parquet row per point, a JSON summary and a manifest, atomically.

Layout of an output folder:
  points.parquet   one row per point (schema ``POINT_SCHEMA``)
  summary.json     clean/robust accuracy, accuracy after each attack, times, warnings
  manifest.json    configs, key, versions, device, git SHA: enough to rerun
  state/           only while a run is in progress or was interrupted (resumed automatically)
  .lock            only while a run uses the folder, or after it was killed (``run_folder.py``)
``summary.json`` is written last and the state deleted after it: a folder without a summary holds no
finished result, and a run killed just before writing it resumes from the complete state (a state
left next to a summary by a kill just after is deleted when the folder is next opened).
``n_queries`` counts the forward passes of query-counted attacks only (Square); APGD and FAB spend a
fixed budget.
"""

from __future__ import annotations

import datetime
import json
import platform
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jax
import numpy as np
import polars as pl

from alignjax.attacks.engine.cascade import AutoAttackResult
from alignjax.attacks.run_folder import RESULT_FILES, STATE_FOLDER, open_run_folder, release_run_folder
from alignjax.files import atomic_write

__all__ = ["POINT_SCHEMA", "RESULT_FILES", "points_frame", "prepare_output_dir", "summary_dict",
           "write_results"]

POINT_SCHEMA = pl.Schema({
    "index": pl.Int64,
    "label": pl.Int32,
    "clean_correct": pl.Boolean,
    "robust": pl.Boolean,
    "broken_by": pl.String,
    "adv_prediction": pl.Int32,
    "perturbation_norm": pl.Float32,
    "misclassified": pl.Float32,
    "n_queries": pl.Int64,
})


def prepare_output_dir(out_dir: str | Path, *, overwrite: bool) -> Path:
    """Prepares ``out_dir`` like ``run_folder.open_run_folder`` and releases its lock (for library callers
    that run nothing concurrently; the CLI keeps the lock for the whole run)."""
    out, lock = open_run_folder(out_dir, overwrite=overwrite)
    release_run_folder(lock)
    return out


def points_frame(result: AutoAttackResult, y: np.ndarray) -> pl.DataFrame:
    """One row per evaluated point."""
    data = {
        "index": np.arange(len(y), dtype=np.int64),
        "label": np.asarray(y, np.int32),
        "clean_correct": result.clean_correct,
        "robust": result.robust,
        "broken_by": result.broken_by.astype(str),
        "adv_prediction": np.asarray(result.y_adv, np.int32),
        "perturbation_norm": np.asarray(result.perturbation_norm, np.float32),
        "misclassified": np.asarray(result.misclassified, np.float32),
        "n_queries": np.asarray(result.n_queries, np.int64),
    }
    frame = pl.DataFrame(data, schema=POINT_SCHEMA)
    for name, robust in result.individual.items():
        frame = frame.with_columns(pl.Series(f"robust_{name}", robust.astype(bool)))
    return frame


def summary_dict(result: AutoAttackResult) -> dict[str, Any]:
    return {
        "norm": result.norm,
        "eps": result.eps,
        "n": len(result.robust),
        "clean_accuracy": result.clean_accuracy,
        "robust_accuracy": result.robust_accuracy,
        "robust_accuracy_after": result.robust_accuracy_after(),
        "attacks": [
            {"name": a.name, "robust_accuracy": a.robust_accuracy, "n_broken": a.n_broken,
             "seconds": round(a.seconds, 3), "config": a.config}
            for a in result.attacks
        ],
        "individual": bool(result.individual),
        "seconds": round(result.seconds, 3),
        "peak_device_memory_bytes": result.peak_device_memory_bytes,
        "warnings": result.warnings,
    }


def environment() -> dict[str, Any]:
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False,
                             cwd=Path(__file__).parent).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        sha = None
    import flax

    return {
        "alignjax_git_sha": sha,
        "jax": jax.__version__,
        "jaxlib": jax.lib.__version__ if hasattr(jax.lib, "__version__") else None,
        "flax": flax.__version__,
        "python": platform.python_version(),
        "device": str(jax.devices()[0]),
        "device_kind": jax.devices()[0].device_kind,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def write_results(out: Path, result: AutoAttackResult, y: np.ndarray, manifest: dict[str, Any]) -> None:
    """Writes points.parquet, manifest.json and summary.json, then removes the state; each file atomically
    (unique temporary name, fsync, rename): a folder with summary.json holds a complete result."""
    frame = points_frame(result, y)
    atomic_write(out / "points.parquet", lambda p: frame.write_parquet(p))
    full_manifest = {**manifest, "environment": environment()}
    text = json.dumps(full_manifest, indent=2) + "\n"
    atomic_write(out / "manifest.json", lambda p: Path(p).write_text(text))
    summary = json.dumps(summary_dict(result), indent=2) + "\n"
    atomic_write(out / "summary.json", lambda p: Path(p).write_text(summary))
    # the state goes only after summary.json is in place: a run killed before that resumes from the
    # complete state (and just writes the files again) instead of starting over; one killed after it
    # leaves a stale state next to the summary, which ``open_run_folder`` deletes
    shutil.rmtree(out / STATE_FOLDER, ignore_errors=True)
