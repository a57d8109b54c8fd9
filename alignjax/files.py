"""Writing files so that no crash or concurrent run leaves a half-written or clobbered result.

* ``atomic_write``: write to a unique temporary name in the same folder, fsync, rename over the
  target, fsync the folder; readers see the old file or the new one, never a mix. A process killed
  mid-write leaves its temporary (``.<name>.<8 random characters>.tmp``): ``remove_temporaries``
  deletes those of given names, for the next writer that holds the folder.
* ``file_mode``: the mode an ordinary new file gets (``0o666`` minus the umask).
* ``FolderLock``: an exclusive ``fcntl.flock`` on ``<folder>/.lock``; the kernel releases it when the
  process ends, however it ends (``kill -9`` included), so a crashed run never leaves a stale lock.
  ``release(remove=True)`` also deletes the lock file (``acquire`` retries when the file it locked was
  deleted meanwhile, so that is safe). An ``acquire`` that cannot write its process id (a full disk)
  raises the ``OSError`` and leaves no lock file.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks, runs are not protected
    fcntl = None  # type: ignore[assignment]

__all__ = ["FolderLock", "FolderLockedError", "atomic_write", "file_mode", "remove_temporaries"]


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

    Raises:
      OSError: naming ``path`` when the file system refuses the write (a full disk: ENOSPC, or EFBIG
        beyond a file size limit), also when ``write`` reported it as its own error type (polars).
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
    except BaseException as err:
        tmp.unlink(missing_ok=True)
        refusal = _file_system_refusal(err, path)
        if refusal is None:
            raise
        raise refusal from err
    _fsync_folder(path.parent)
    return path


# how Rust's std::io::Error ends its message; polars wraps it in its own errors (ComputeError)
_RUST_OS_ERROR = re.compile(r"\(os error (\d+)\)")


def _file_system_refusal(err: BaseException, path: Path) -> OSError | None:
    """``err`` as an ``OSError`` that names ``path``, when it is the file system's refusal and does not
    say which file already; None for anything else (which is re-raised as it is)."""
    if isinstance(err, OSError):
        return OSError(err.errno, err.strerror, str(path)) if err.errno and not err.filename else None
    match = _RUST_OS_ERROR.search(str(err)) if isinstance(err, Exception) else None
    if match is None:
        return None
    code = int(match[1])
    return OSError(code, os.strerror(code), str(path))


def _temporary_pattern(name: str) -> re.Pattern[str]:
    # tempfile.mkstemp(prefix=".<name>.", suffix=".tmp"): 8 characters of tempfile's alphabet between them
    return re.compile(rf"\.{re.escape(name)}\.[a-z0-9_]{{8}}\.tmp")


def remove_temporaries(folder: str | Path, names: tuple[str, ...] | list[str]) -> list[Path]:
    """Deletes the temporaries that ``atomic_write`` of ``folder/<name>`` left when its process was killed.

    Only regular files whose name is exactly ``.<name>.<8 characters>.tmp`` for one of ``names`` are
    touched, never other files. Call it only while no one else can be writing those files (holding the
    folder's ``FolderLock``): another writer's temporary in flight would go too.

    Returns:
      The deleted paths.
    """
    folder = Path(folder)
    patterns = [_temporary_pattern(name) for name in names]
    removed = []
    try:
        entries = list(folder.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return removed
    for path in entries:
        if any(p.fullmatch(path.name) for p in patterns) and path.is_file() and not path.is_symlink():
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


class FolderLockedError(RuntimeError):
    """Another process holds the folder's lock."""


class FolderLock:
    """Exclusive, non-blocking lock on ``folder/.lock`` for the lifetime of this object (or ``with``)."""

    NAME = ".lock"

    def __init__(self, folder: str | Path):
        self.path = Path(folder) / self.NAME
        self._handle: int | None = None

    def acquire(self) -> FolderLock:
        while True:
            handle = os.open(self.path, os.O_RDWR | os.O_CREAT, file_mode())
            if fcntl is None:
                break
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = os.read(handle, 64).decode(errors="replace").strip()
                os.close(handle)
                raise FolderLockedError(holder or "unknown") from None
            if self._is_current(handle):
                break
            # the previous holder deleted the file between our open and our flock (release(remove=True)):
            # a lock on that deleted file guards nothing, since the next process creates a new one; retry
            os.close(handle)
        self._handle = handle
        try:
            os.ftruncate(handle, 0)
            os.write(handle, f"{os.getpid()}\n".encode())
        except OSError:  # a full disk (ENOSPC, EFBIG): no lock is held and no lock file is left behind
            self.release(remove=True)
            raise
        return self

    def _is_current(self, handle: int) -> bool:
        """Whether ``handle`` is still the file at ``self.path`` (not one deleted since it was opened)."""
        try:
            on_disk = os.stat(self.path)
        except FileNotFoundError:
            return False
        opened = os.fstat(handle)
        return (opened.st_dev, opened.st_ino) == (on_disk.st_dev, on_disk.st_ino)

    def release(self, *, remove: bool = False) -> None:
        """Unlocks; with ``remove``, deletes the lock file first, while still holding it.

        Deleting it is safe because ``acquire`` checks, once locked, that the file it locked is still the
        one at the path: a process that opened the file before the deletion and locks it after the
        release retries on a new file instead of holding a lock on a deleted one alongside another
        process that created the new file.
        """
        if self._handle is not None:
            if remove:
                try:
                    self.path.unlink(missing_ok=True)
                except OSError:  # a read-only folder: the lock file stays, as it did before
                    pass
            if fcntl is not None:
                fcntl.flock(self._handle, fcntl.LOCK_UN)
            os.close(self._handle)
            self._handle = None

    def __enter__(self) -> Self:
        return self.acquire() if self._handle is None else self

    def __exit__(self, *exc: object) -> None:
        self.release()
