"""The output folder of an evaluation: one run at a time, unique default names, nothing half-written.

``open_run_folder`` takes an exclusive lock on ``<out>/.lock`` (``alignjax.files.FolderLock``; the
kernel drops it when the process ends, ``kill -9`` included) *before* looking at what the folder
holds, so two runs on one ``--out`` cannot both proceed: the second is refused at once, naming the
first's process id. Holding the lock, it deletes what a killed run leaves besides its resumable state:
temporaries of interrupted atomic writes (``.points.parquet.<8 characters>.tmp`` and the like, only
those names) and, next to a summary.json, a state the run had no time to delete (it is deleted after
the summary is written, so that a kill in between resumes rather than starts over). Then a folder
with finished results is refused unless ``overwrite``, which removes the results *and* any
interrupted state. The lock file is deleted when the run releases it (``release_run_folder``), so a
finished folder holds only its results. Default folders are ``alignjax-runs/attack-<UTC time>-<random>``,
created exclusively, so two runs started in the same second never share one.
"""

from __future__ import annotations

import secrets
import shutil
import time
from pathlib import Path

from alignjax.attacks.engine.state import STATE_FILE
from alignjax.errors import InputError
from alignjax.files import FolderLock, FolderLockedError, remove_temporaries

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
        remove_temporaries(out, RESULT_FILES)
        remove_temporaries(out / STATE_FOLDER, (STATE_FILE,))
        if overwrite or (out / "summary.json").exists():  # a state next to a summary is a stale leftover
            shutil.rmtree(out / STATE_FOLDER, ignore_errors=True)
        if overwrite:
            for name in RESULT_FILES:
                (out / name).unlink(missing_ok=True)
        elif (out / "summary.json").exists():
            raise InputError(
                f"{out} already holds results (summary.json); choose another --out or pass --overwrite")
    except BaseException:
        release_run_folder(lock)
        raise
    return out, lock


def release_run_folder(lock: FolderLock) -> None:
    """Releases the run's lock and deletes the lock file (``FolderLock.release`` says why that is safe)."""
    lock.release(remove=True)
