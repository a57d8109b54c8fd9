"""Fixtures of the sweep tests (see helpers.py for the grid): the setup folder and the reference run."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.sweep.helpers import CONFIG, run_sweep_cli, write_checkpoints


@pytest.fixture(scope="session")
def sweep_setup(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("sweep")
    write_checkpoints(root / "ckpt", 2)
    (root / "tiny.toml").write_text(CONFIG)
    return {"root": root, "config": root / "tiny.toml", "cache": root / "xla-cache"}


@pytest.fixture(scope="session")
def reference(sweep_setup):
    """The uninterrupted single-process, single-device run of the tiny grid."""
    from alignjax.sweep import read_run

    store = sweep_setup["root"] / "reference"
    run_sweep_cli(sweep_setup, store)
    tables = read_run(store)
    assert tables.invalid.height == 0 and not tables.missing
    return {"store": store, "summary": tables.summary, "points": tables.points.collect()}
