"""Helpers of the sweep tests: a tiny grid on the embedded digits CNN, run in subprocesses.

The grid: two "checkpoints" of the digits CNN (the bundled weights and a perturbed copy) listed twice,
once stacked (vmapped together) and once one by one, on 48 test digits at Linf 0.1 with a two-attack
version of a few iterations: 4 units in 3 work items. Every subprocess shares one persistent XLA
compilation cache, so only the first run of each program shape pays for compiling.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
from safetensors.numpy import load_file, save_file

from tests.conftest import REPO_ROOT

BATCH_SIZE = 4
CONFIG = """
name = "tiny"
seeds = [0]
versions = ["tiny"]
checkpoint_seconds = 0

[[models]]
name = "seeds"
arch = "small_cnn"
num_classes = 10
input_shape = [8, 8, 1]
checkpoints = ["ckpt/seed0.safetensors", "ckpt/seed1.safetensors"]
stack = true

[[models]]
name = "seeds-single"
arch = "small_cnn"
num_classes = 10
input_shape = [8, 8, 1]
checkpoints = ["ckpt/seed0.safetensors", "ckpt/seed1.safetensors"]
stack = false

[[datasets]]
name = "digits-test"
kind = "digits"
n = 48

[[threats]]
norm = "Linf"
eps = [0.1]

[version.tiny]
attacks = [{ attack = "apgd-ce", n_iter = 4 }, { attack = "square", n_queries = 12 }]
"""

DISCRETE = ("unit_id", "model", "checkpoint", "dataset", "norm", "eps", "version", "seed", "index",
            "source_index", "label", "clean_correct", "robust", "robust_after", "broken_by", "adv_prediction",
            "n_queries")
CONTINUOUS = ("margin", "perturbation_norm")


def write_checkpoints(folder: Path, count: int, scale: float = 0.03) -> list[Path]:
    """The bundled digits CNN and ``count - 1`` copies with seeded Gaussian noise on every weight."""
    flat = load_file(str(REPO_ROOT / "weights" / "digits_cnn.safetensors"))
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        tensors = {k: (v + scale * i * rng.standard_normal(v.shape)).astype(np.float32) for k, v in flat.items()}
        paths.append(folder / f"seed{i}.safetensors")
        save_file(tensors, str(paths[-1]))
    return paths


def sweep_env(setup: dict[str, Path], devices: int = 1) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "PYTHONPATH": str(REPO_ROOT),
        "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}",
        "JAX_PLATFORMS": "cpu",
        "JAX_COMPILATION_CACHE_DIR": str(setup["cache"]),
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
        "HF_HUB_OFFLINE": "1",
    })
    return env


def sweep_command(setup: dict[str, Path], store: Path, *extra: str, batch_size: int = BATCH_SIZE) -> list[str]:
    return [sys.executable, "-m", "alignjax.cli", "sweep", str(setup["config"]), "--store", str(store),
            "--batch-size", str(batch_size), "--no-progress", *extra]


def run_sweep_cli(setup, store: Path, *extra: str, devices: int = 1, batch_size: int = BATCH_SIZE,
                  timeout: float = 600) -> subprocess.CompletedProcess:
    done = subprocess.run(sweep_command(setup, store, *extra, batch_size=batch_size), env=sweep_env(setup, devices),
                          capture_output=True, text=True, timeout=timeout, cwd=REPO_ROOT, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def assert_same_points(ours: pl.DataFrame, theirs: pl.DataFrame, *, on=("unit_id", "index"),
                       columns=DISCRETE) -> None:
    """Equal rows (no lost or duplicated ones), exact on discrete columns, 1e-6 on margins and norms."""
    assert ours.height == theirs.height
    assert ours.select(*on).is_duplicated().sum() == 0
    ours, theirs = ours.sort(*on), theirs.sort(*on)
    for column in columns:
        assert ours[column].to_list() == theirs[column].to_list(), column
    for column in CONTINUOUS:
        np.testing.assert_allclose(ours[column].to_numpy(), theirs[column].to_numpy(), rtol=0, atol=1e-6,
                                   err_msg=column)
