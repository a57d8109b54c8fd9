"""Test configuration (equinox style): strict promotion, 4 virtual CPU devices, seeded data.

Real data the tests need is in ``tests/fixtures/`` (with its licence and source) or in the package;
nothing outside the checkout is read.
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=4")
# the commands' persistent compilation cache stays off here and in the CLI subprocesses tests start (they
# inherit the environment; session fixtures too, hence not a fixture): jaxlib once segfaulted writing that
# cache in a long pytest process (benchmarks/RESULTS.md), and no test writes to the user's ~/.cache.
# tests/test_compilation_cache.py turns it on in subprocesses of its own.
os.environ["ALIGNJAX_COMPILATION_CACHE"] = "0"

import jax
import numpy as np
import pytest

jax.config.update("jax_numpy_rank_promotion", "raise")
jax.config.update("jax_numpy_dtype_promotion", "strict")
jax.config.update("jax_default_matmul_precision", "highest")

try:  # torch is the test-only reference; with several threads it crawls on a busy 2-core machine
    import torch

    torch.set_num_threads(1)
except ImportError:  # pragma: no cover - the test extra installs it
    pass

from hypothesis import settings

# CI must not depend on which examples a run happens to draw: hypothesis draws the same ones each run
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.load_profile("ci")

REPO_ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture
def getkey():
    """A fresh, seeded PRNG key per call (equinox's getkey)."""
    state = {"key": jax.random.key(0)}

    def _getkey():
        state["key"], sub = jax.random.split(state["key"])
        return sub

    return _getkey


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _private_lockfile(tmp_path_factory, monkeypatch):
    """Every test trusts its own first downloads: the user's ``~/.cache/alignjax/lock.json`` is never
    read or written (``alignjax.weights.verify``)."""
    if "ALIGNJAX_LOCKFILE" not in os.environ:
        monkeypatch.setenv("ALIGNJAX_LOCKFILE", str(tmp_path_factory.mktemp("lock") / "lock.json"))
