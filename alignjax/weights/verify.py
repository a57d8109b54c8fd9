"""The one digest check every downloader uses: known digests, torch-hub name prefixes, and a
trust-on-first-use lockfile for sources whose upstream publishes no digest.

A checkpoint source is *pinned* when its bytes are fixed by the registry itself: a full ``sha256``, a
torch-hub style file name carrying a sha256 prefix (``alexnet-owt-7be5be79.pth``, the rule of
``torch.hub.download_url_to_file(check_hash=True)``: ``-([a-f0-9]*)\\.`` on the file name), or a
Hugging Face source at a 40-hex commit revision (the hub serves that commit's bytes only). Anything
else (``hf://...@main``, a Google Drive id, a plain release URL, a registry entry's ``file://`` path)
is *locked* on first use: the sha256 of
the first file fetched is recorded in the lockfile, and every later fetch of that source must have the
same digest, or it is refused with a message that names both digests and how to accept a new file.

The lockfile is ``$ALIGNJAX_LOCKFILE``, else ``<cache root>/lock.json`` (``$ALIGNJAX_CACHE`` or
``~/.cache/alignjax``): JSON ``{"version": 1, "sources": {source: {"sha256", "size", "first_seen"}}}``,
rewritten atomically. It is per user (like pip's and Hugging Face's caches), so two users of one
machine each trust their own first download; check it into a project to share one trust root.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import re
import urllib.parse
from pathlib import Path

__all__ = [
    "LOCKFILE_VERSION",
    "ChecksumMismatchError",
    "hash_prefix_from_name",
    "is_pinned",
    "locked_digest",
    "lockfile_path",
    "pinning",
    "sha256_file",
    "unlock",
    "verify_file",
    "verify_locked",
]

LOCKFILE_VERSION = 1
_HASH_IN_NAME = re.compile(r"-([a-f0-9]+)\.")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")


class ChecksumMismatchError(ValueError):
    """A file's sha256 differs from what the registry or the lockfile knows; the file was not used."""


def sha256_file(path: str | Path) -> str:
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def hash_prefix_from_name(url_or_name: str) -> str | None:
    """The sha256 prefix of a torch-hub style file name: ``alexnet-owt-7be5be79.pth`` -> ``'7be5be79'``;
    None when the name carries no such prefix."""
    name = urllib.parse.urlparse(url_or_name).path.rsplit("/", 1)[-1]
    match = _HASH_IN_NAME.search(name)
    return match.group(1) if match else None


def verify_file(path: str | Path, *, sha256: str | None = None, hash_prefix: str | None = None,
                source: str | None = None) -> str:
    """Returns the file's sha256; raises ``ChecksumMismatchError`` when it contradicts ``sha256`` (the
    full digest) or ``hash_prefix`` (its leading hex digits)."""
    actual = sha256_file(path)
    for expected, kind in ((sha256, "sha256"), (hash_prefix, "sha256 prefix")):
        if expected is None:
            continue
        expected = expected.lower()
        if not re.fullmatch(r"[0-9a-f]{1,64}", expected) or (kind == "sha256" and len(expected) != 64):
            digits = "64" if kind == "sha256" else "1-64"
            raise ValueError(f"expected {kind} {expected!r} is not {digits} hex digits")
        if not actual.startswith(expected):
            origin = f" (from {source})" if source else ""
            error = ChecksumMismatchError(
                f"{kind} mismatch for {path}{origin}: expected {expected}, got {actual}. The file was not "
                "used: it is corrupt, truncated or a different version. Delete it and download again; if it "
                "keeps happening the source has changed, so fix the registry entry's source/sha256")
            error.expected, error.actual = expected, actual
            raise error
    return actual


def is_pinned(source: str, sha256: str | None = None) -> bool:
    """Whether the registry alone fixes the bytes of ``source`` (see the module docstring)."""
    if sha256:
        return True
    if source.startswith("hf://"):
        return bool(_COMMIT.match(source.rpartition("@")[2])) if "@" in source else False
    if source.startswith(("http://", "https://")):
        from alignjax.weights.google_drive import google_drive_id

        return google_drive_id(source) is None and hash_prefix_from_name(source) is not None
    # a registry entry naming a local file (file://) is locked like a download; bundled files ship with
    # the package, and bare paths are the user's own files
    return not source.startswith("file://")


def pinning(source: str, sha256: str | None = None) -> str:
    """How the bytes of ``source`` are fixed: ``'sha256'``, ``'hash-prefix'`` (torch-hub file name),
    ``'hf-revision'`` (a hub commit), ``'bundled'``, ``'local'`` or ``'lockfile'`` (trust on first use)."""
    if sha256:
        return "sha256"
    if not is_pinned(source, sha256):
        return "lockfile"
    if source.startswith("hf://"):
        return "hf-revision"
    if source.startswith(("http://", "https://")):
        return "hash-prefix"
    return "bundled" if source.startswith("bundled:") else "local"


def lockfile_path() -> Path:
    env = os.environ.get("ALIGNJAX_LOCKFILE")
    if env:
        return Path(env).expanduser()
    root = os.environ.get("ALIGNJAX_CACHE")
    return (Path(root).expanduser() if root else Path.home() / ".cache" / "alignjax") / "lock.json"


def _read_lock(path: Path) -> dict:
    if not path.is_file():
        return {"version": LOCKFILE_VERSION, "sources": {}}
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ChecksumMismatchError(
            f"the lockfile {path} cannot be read ({error}); nothing was trusted. Repair or delete it (set "
            "ALIGNJAX_LOCKFILE to use another)") from None
    if not isinstance(data, dict) or data.get("version") != LOCKFILE_VERSION or not isinstance(
            data.get("sources"), dict):
        raise ChecksumMismatchError(
            f"the lockfile {path} is not an alignjax lockfile of version {LOCKFILE_VERSION}; repair or delete it")
    return data


def _write_lock(path: Path, data: dict) -> None:
    from alignjax.files import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, indent=1, sort_keys=True) + "\n"
    atomic_write(path, lambda tmp: tmp.write_text(text))


def locked_digest(source: str) -> str | None:
    """The sha256 the lockfile holds for ``source``, or None."""
    entry = _read_lock(lockfile_path())["sources"].get(source)
    return None if entry is None else str(entry["sha256"])


def verify_locked(path: str | Path, source: str, *, actual: str | None = None) -> str:
    """Trust on first use: records ``path``'s sha256 for ``source`` in the lockfile the first time, and
    raises ``ChecksumMismatchError`` when a later file of the same source differs. Returns the digest."""
    actual = actual or sha256_file(path)
    lock = lockfile_path()
    data = _read_lock(lock)
    entry = data["sources"].get(source)
    if entry is None:
        data["sources"][source] = {
            "sha256": actual,
            "size": Path(path).stat().st_size,
            "first_seen": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        }
        _write_lock(lock, data)
        return actual
    if entry["sha256"] != actual:
        raise ChecksumMismatchError(
            f"{source} changed since it was first downloaded: the lockfile {lock} recorded sha256 "
            f"{entry['sha256']} on {entry.get('first_seen', '?')}, this file ({path}) has {actual}. It was "
            f"not used. If the upstream really republished the file, accept the new one with "
            f"`alignjax models --unlock '{source}'` (or delete its entry from {lock}) and fetch again")
    return actual


def unlock(source: str) -> bool:
    """Removes ``source`` from the lockfile; True if it was there."""
    lock = lockfile_path()
    data = _read_lock(lock)
    if data["sources"].pop(source, None) is None:
        return False
    _write_lock(lock, data)
    return True
