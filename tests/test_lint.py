"""``ruff check`` over the package, tests, benchmarks and scripts finds nothing.

The rules are the explicit list in ``pyproject.toml`` (``[tool.ruff.lint] select``) and ruff is pinned in
the test extra, so the verdict does not move with ruff's defaults.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHECKED = ("alignjax", "tests", "benchmarks", "scripts")


@pytest.mark.skipif(importlib.util.find_spec("ruff") is None,
                    reason="the ruff module is not installed (pip install -e '.[test]' installs it)")
def test_ruff_check_is_clean():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format",
                             "concise", *CHECKED], cwd=ROOT, capture_output=True, text=True, timeout=300,
                            check=False)
    assert result.returncode == 0, f"ruff check found problems:\n{result.stdout}{result.stderr}"


@pytest.mark.skipif(importlib.util.find_spec("mypy") is None,
                    reason="the mypy module is not installed (pip install -e '.[test]' installs it)")
def test_mypy_over_the_attacks_is_clean():
    """The attack runtime (protocol, engine, attacks) type-checks: the Attack interface and the engine's
    host/device shapes are where a newcomer's change is most likely to go wrong unnoticed."""
    result = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", "alignjax/attacks"], cwd=ROOT,
                            capture_output=True, text=True, timeout=600, check=False)  # settings: pyproject.toml
    assert result.returncode == 0, f"mypy found problems:\n{result.stdout}{result.stderr}"
