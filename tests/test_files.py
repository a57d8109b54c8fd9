"""``alignjax.files`` on a full disk: ``atomic_write`` raises an ``OSError`` naming the target (also when
the writer is polars, which reports the refusal as its own error) and leaves no temporary; a lock that
cannot write its process id leaves no lock file.

The disk is filled with ``RLIMIT_FSIZE`` in a child process (Python ignores SIGXFSZ, so a write past the
limit fails with EFBIG); the children import only ``alignjax.files``, numpy and polars (no jax)."""

from __future__ import annotations

import errno
import json
import os
import resource
import subprocess
import sys
import textwrap

import polars as pl
import pytest

from alignjax.files import FolderLock, atomic_write

CHILD = """
import json, resource, sys
from pathlib import Path

import numpy as np
import polars as pl

from alignjax.files import FolderLock, atomic_write

folder, limit = Path(sys.argv[1]), int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))  # here: a preexec_fn is unsafe in a threaded parent


def savez(path):
    with open(path, "wb") as file:  # np.savez(path) would append .npz to the temporary's name
        np.savez(file, a=np.arange(10_000))


writers = {
    "numpy": savez,
    "polars": lambda path: pl.DataFrame({"a": range(10_000)}).write_parquet(path),
    "text": lambda path: path.write_text("x" * 10_000),
}
caught = {}
for name, write in writers.items():
    try:
        atomic_write(folder / f"{name}.out", write)
    except OSError as err:
        caught[name] = [type(err).__name__, err.errno, err.filename]
try:
    FolderLock(folder / "locked").acquire()
except OSError as err:
    caught["lock"] = [type(err).__name__, err.errno, err.filename]
print(json.dumps(caught))
"""


def _run_with_file_size_limit(folder, limit: int) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(CHILD), str(folder), str(limit)], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_a_full_disk_is_an_os_error_naming_the_file_and_leaves_nothing(tmp_path):
    (tmp_path / "locked").mkdir()
    for name in ("numpy", "polars", "text"):  # what was there before stays as it was
        (tmp_path / f"{name}.out").write_text("before")
    caught = _run_with_file_size_limit(tmp_path, 0)
    for name in ("numpy", "polars", "text"):
        assert caught[name] == ["OSError", errno.EFBIG, str(tmp_path / f"{name}.out")], (name, caught)
        assert (tmp_path / f"{name}.out").read_text() == "before"
    assert caught["lock"][:2] == ["OSError", errno.EFBIG]
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["locked", "numpy.out", "polars.out", "text.out"]
    FolderLock(tmp_path / "locked").acquire().release(remove=True)  # nothing stale holds the folder


def test_the_same_writes_succeed_with_room(tmp_path):
    (tmp_path / "locked").mkdir()
    assert _run_with_file_size_limit(tmp_path, resource.RLIM_INFINITY) == {}
    assert pl.read_parquet(tmp_path / "polars.out").height == 10_000
    assert (tmp_path / "locked" / ".lock").read_text().strip().isdigit()


def test_a_polars_no_space_error_becomes_enospc(tmp_path):
    """ENOSPC from polars (Rust's io::Error wrapped in a ComputeError): an OSError naming the target."""

    def write(path):
        path.write_bytes(b"half")
        raise pl.exceptions.ComputeError("parquet: underlying IO error: No space left on device (os error 28)")

    with pytest.raises(OSError, match="No space left on device") as info:
        atomic_write(tmp_path / "points.parquet", write)
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(tmp_path / "points.parquet")
    assert isinstance(info.value.__cause__, pl.exceptions.ComputeError)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("error", [ValueError("not a file system error"), KeyboardInterrupt(),
                                   FileNotFoundError(errno.ENOENT, "gone", "/elsewhere/named")],
                         ids=["ValueError", "KeyboardInterrupt", "OSError naming its file"])
def test_other_errors_pass_through_unchanged(tmp_path, error):
    def write(path):
        raise error

    with pytest.raises(type(error)) as info:
        atomic_write(tmp_path / "summary.json", write)
    assert info.value is error and list(tmp_path.iterdir()) == []


def test_an_os_error_without_a_file_name_gets_the_target(tmp_path):
    def write(path):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with pytest.raises(OSError) as info:
        atomic_write(tmp_path / "summary.json", write)
    assert (info.value.errno, info.value.filename) == (errno.ENOSPC, str(tmp_path / "summary.json"))
