"""Writing an evaluation: one parquet row per point, a JSON summary and a manifest, atomically.

Layout of an output folder:
  points.parquet   one row per point (schema ``POINT_SCHEMA``)
  summary.json     clean/robust accuracy, accuracy after each attack, times, warnings
  manifest.json    configs, key, versions, device, git SHA: enough to rerun
  state/           only while a run is in progress or was interrupted (resumed automatically)
``summary.json`` is written last: a folder without it holds no finished result.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jax
import numpy as np
import polars as pl

from alignjax.attacks.autoattack import AutoAttackResult
from alignjax.attacks.validation import InputError

RESULT_FILES = ("points.parquet", "summary.json", "manifest.json")

POINT_SCHEMA = pl.Schema({
    "index": pl.Int64,
    "label": pl.Int32,
    "clean_correct": pl.Boolean,
    "robust": pl.Boolean,
    "broken_by": pl.String,
    "adv_prediction": pl.Int32,
    "perturbation_norm": pl.Float64,
    "n_queries": pl.Int64,
})


def prepare_output_dir(out_dir: str | Path, *, overwrite: bool) -> Path:
    """Refuses a folder that already holds finished results unless ``overwrite``; creates it otherwise."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} exists and is not a folder; choose another path")
    if (out / "summary.json").exists():
        if not overwrite:
            raise InputError(
                f"{out} already holds results (summary.json); choose another --out or pass --overwrite"
            )
        for name in RESULT_FILES:
            (out / name).unlink(missing_ok=True)
        shutil.rmtree(out / "state", ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
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
        "perturbation_norm": np.asarray(result.perturbation_norm, np.float64),
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
        "n": int(len(result.robust)),
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
        "warnings": result.warnings,
    }


def environment() -> dict[str, Any]:
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
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
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def write_results(out: Path, result: AutoAttackResult, y: np.ndarray, manifest: dict[str, Any]) -> None:
    """Writes points.parquet, manifest.json, then summary.json (each via a temp file + rename)."""
    frame = points_frame(result, y)
    _atomic(out / "points.parquet", lambda p: frame.write_parquet(p))
    full_manifest = {**manifest, "environment": environment()}
    _atomic(out / "manifest.json", lambda p: Path(p).write_text(json.dumps(full_manifest, indent=2) + "\n"))
    summary = summary_dict(result)
    _atomic(out / "summary.json", lambda p: Path(p).write_text(json.dumps(summary, indent=2) + "\n"))
    shutil.rmtree(out / "state", ignore_errors=True)


def _atomic(path: Path, write) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write(str(tmp))
    os.replace(tmp, path)
