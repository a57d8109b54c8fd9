"""The output folder of an evaluation: one run at a time, unique default names, nothing half-written.

``open_run_folder`` takes an exclusive lock on ``<out>/.lock`` (``alignjax.files.FolderLock``; the
kernel drops it when the process ends, ``kill -9`` included) *before* looking at what the folder
holds, so two runs on one ``--out`` cannot both proceed: the second is refused at once, naming the
first's process id. Then a folder with finished results is refused unless ``overwrite``, which removes
the results *and* any interrupted state. Default folders are ``alignjax-runs/attack-<UTC time>-<random>``,
created exclusively, so two runs started in the same second never share one.
"""

from __future__ import annotations

import secrets
import shutil
import time
from pathlib import Path

from alignjax.errors import InputError
from alignjax.files import FolderLock, FolderLockedError

RESULT_FILES = ("points.parquet", "summary.json", "manifest.json")
STATE_FOLDER = "state"


def default_run_folder(root: str | Path = "alignjax-runs", prefix: str = "attack") -> Path:
    """Creates and returns a new, unique ``root/prefix-YYYYmmdd-HHMMSS-<6 hex>`` folder."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for _ in range(100):
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        folder = root / f"{prefix}-{stamp}-{secrets.token_hex(3)}"
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        return folder
    raise InputError(f"cannot create a new run folder under {root}; pass --out")  # pragma: no cover


def open_run_folder(out: str | Path, *, overwrite: bool) -> tuple[Path, FolderLock]:
    """Locks ``out`` (creating it) and prepares it; returns ``(folder, lock)``. Keep the lock until done.

    Raises:
      InputError: ``out`` is a file, another run holds it, or it holds results and not ``overwrite``.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} exists and is not a folder; choose another path")
    out.mkdir(parents=True, exist_ok=True)
    lock = FolderLock(out)
    try:
        lock.acquire()
    except FolderLockedError as err:
        raise InputError(
            f"{out} is in use by another alignjax run (process {err}); wait for it to finish or choose "
            "another --out") from None
    try:
        if overwrite:
            for name in RESULT_FILES:
                (out / name).unlink(missing_ok=True)
            shutil.rmtree(out / STATE_FOLDER, ignore_errors=True)
        elif (out / "summary.json").exists():
            raise InputError(
                f"{out} already holds results (summary.json); choose another --out or pass --overwrite")
    except BaseException:
        lock.release()
        raise
    return out, lock
