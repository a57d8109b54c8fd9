"""Writing files so that no crash or concurrent run leaves a half-written or clobbered result.

* ``atomic_write``: write to a unique temporary name in the same folder, fsync, rename over the
  target, fsync the folder; readers see the old file or the new one, never a mix.
* ``file_mode``: the mode an ordinary new file gets (``0o666`` minus the umask).
* ``FolderLock``: an exclusive ``fcntl.flock`` on ``<folder>/.lock``; the kernel releases it when the
  process ends, however it ends (``kill -9`` included), so a crashed run never leaves a stale lock.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks, runs are not protected
    fcntl = None  # type: ignore[assignment]

__all__ = ["FolderLock", "FolderLockedError", "atomic_write", "file_mode"]


def file_mode() -> int:
    """``0o666 & ~umask``: the permissions ``open(path, 'w')`` would give a new file."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _fsync_folder(folder: Path) -> None:
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms that cannot open folders
        return
    try:
        os.fsync(handle)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(handle)


def atomic_write(path: str | Path, write: Callable[[Path], Any]) -> Path:
    """Calls ``write(temporary_path)``, fsyncs it, renames it to ``path`` and fsyncs the folder.

    The temporary name is unique (``tempfile``), so concurrent writers never share one; on any error
    it is removed and ``path`` is left as it was.
    """
    path = Path(path)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    tmp = Path(name)
    try:
        write(tmp)
        with open(tmp, "rb+") as file:
            os.fsync(file.fileno())
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)
    return path


class FolderLockedError(RuntimeError):
    """Another process holds the folder's lock."""


class FolderLock:
    """Exclusive, non-blocking lock on ``folder/.lock`` for the lifetime of this object (or ``with``)."""

    NAME = ".lock"

    def __init__(self, folder: str | Path):
        self.path = Path(folder) / self.NAME
        self._handle: int | None = None

    def acquire(self) -> FolderLock:
        handle = os.open(self.path, os.O_RDWR | os.O_CREAT, file_mode())
        if fcntl is not None:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = os.read(handle, 64).decode(errors="replace").strip()
                os.close(handle)
                raise FolderLockedError(holder or "unknown") from None
        os.ftruncate(handle, 0)
        os.write(handle, f"{os.getpid()}\n".encode())
        self._handle = handle
        return self

    def release(self) -> None:
        if self._handle is not None:
            if fcntl is not None:
                fcntl.flock(self._handle, fcntl.LOCK_UN)
            os.close(self._handle)
            self._handle = None

    def __enter__(self) -> FolderLock:
        return self.acquire() if self._handle is None else self

    def __exit__(self, *exc: object) -> None:
        self.release()
