"""The commands' persistent compilation cache: on by default, versioned, off by flag or environment.

The cache is only ever turned on in ``alignjax attack`` subprocesses here (conftest.py keeps it off in
this process: jaxlib once segfaulted writing it in a long pytest run), each with its own
``ALIGNJAX_CACHE``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import polars as pl
import pytest

from alignjax import compilation_cache
from alignjax.cli import build_parser
from tests.conftest import REPO_ROOT

COMMAND = [sys.executable, "-m", "alignjax.cli", "attack", "--n", "20", "--version", "custom", "--attacks",
           "apgd-ce", "--n-iter", "2", "--no-progress"]
VERSIONED = f"jax-{jax.__version__}-jaxlib-{jax.lib.__version__}-cpu"


def _attack(cache_root: Path, out: Path, *extra: str, switch: str | None = None) -> dict:
    """Runs the CLI with the cache root ``cache_root`` (and ``ALIGNJAX_COMPILATION_CACHE=switch`` if
    given); returns its manifest."""
    env = {key: value for key, value in os.environ.items()
           if key not in (compilation_cache.ENV_SWITCH, "JAX_COMPILATION_CACHE_DIR")}
    env.update({"ALIGNJAX_CACHE": str(cache_root), "JAX_PLATFORMS": "cpu",
                "PYTHONPATH": os.pathsep.join(sys.path)})
    if switch is not None:
        env[compilation_cache.ENV_SWITCH] = switch
    done = subprocess.run([*COMMAND, "--out", str(out), *extra], env=env, cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads((out / "manifest.json").read_text())


def _entries(folder: Path) -> dict[str, bytes]:
    """Cache entry name -> its last-access stamp (JAX's LRU bookkeeping, rewritten on every read)."""
    return {path.name.removesuffix("-cache"): (folder / path.name.replace("-cache", "-atime")).read_bytes()
            for path in folder.glob("*-cache")}


def test_second_run_reads_every_program_back_and_gives_the_same_points(tmp_path):
    root = tmp_path / "cache"
    folder = root / "xla" / VERSIONED
    first = _attack(root, tmp_path / "first")
    assert first["compilation_cache"] == {"enabled": True, "folder": str(folder),
                                          "max_bytes": compilation_cache.MAX_BYTES}
    written = _entries(folder)
    assert len(written) >= 5  # the cascade's programs, small ones included (no compile-time threshold)
    assert [p.name for p in (root / "xla").iterdir()] == [VERSIONED]

    second = _attack(root, tmp_path / "second")
    assert second["compilation_cache"] == first["compilation_cache"]
    read = _entries(folder)
    assert read.keys() == written.keys()  # nothing compiled anew ...
    assert all(read[key] != stamp for key, stamp in written.items())  # ... every entry was read back
    points = [pl.read_parquet(tmp_path / run / "points.parquet") for run in ("first", "second")]
    assert points[0].equals(points[1])
    summaries = [json.loads((tmp_path / run / "summary.json").read_text()) for run in ("first", "second")]
    assert summaries[0]["robust_accuracy"] == summaries[1]["robust_accuracy"]


@pytest.mark.parametrize(("extra", "switch"), [(("--no-compilation-cache",), None), ((), "0")],
                         ids=["flag", "environment"])
def test_switched_off_nothing_is_written(tmp_path, extra, switch):
    root = tmp_path / "cache"
    manifest = _attack(root, tmp_path / "run", *extra, switch=switch)
    assert manifest["compilation_cache"] == {"enabled": False, "folder": None, "max_bytes": None}
    assert not (root / "xla").exists()


def test_the_environment_switch_and_the_flag(monkeypatch):
    for value, off in (("0", True), ("false", True), (" OFF ", True), ("no", True), ("1", False),
                       ("", False)):
        monkeypatch.setenv(compilation_cache.ENV_SWITCH, value)
        assert compilation_cache.switched_off_by_environment() is off, value
    monkeypatch.setenv(compilation_cache.ENV_SWITCH, "0")
    assert compilation_cache.enable_for_command(argparse.Namespace(no_compilation_cache=False)) is None
    assert compilation_cache.enable_for_command(argparse.Namespace(no_compilation_cache=True),
                                                root=Path("unused")) is None
    assert compilation_cache.manifest_entry()["enabled"] is False


def test_every_compiling_command_has_the_flag(tmp_path):
    parser = build_parser()
    for argv in (["attack"], ["crosscheck"], ["align", "neural", "--model", "m"],
                 ["align", "behavior", "--model", "m"], ["sweep", "grid.toml"]):
        assert parser.parse_args([*argv, "--no-compilation-cache"]).no_compilation_cache, argv
        assert not parser.parse_args(argv).no_compilation_cache, argv
    chosen = parser.parse_args(["sweep", "grid.toml", "--compilation-cache", str(tmp_path)])
    assert chosen.compilation_cache == tmp_path
    with pytest.raises(SystemExit):  # one or the other
        parser.parse_args(["sweep", "grid.toml", "--compilation-cache", str(tmp_path),
                           "--no-compilation-cache"])
