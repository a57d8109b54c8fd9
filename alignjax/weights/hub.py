"""Checkpoint sources and the only network I/O of alignjax: Hugging Face hub downloads, verified.

Sources are strings:
  ``hf://org/repo/path/to/file.safetensors@<revision>`` (revision: a commit hash, tag or branch;
  omitted means 'main'), ``bundled:<file>`` (the ``weights/`` folder shipped with alignjax), or a
  local path (``file://`` optional).

Files come through ``huggingface_hub.hf_hub_download`` and its cache (``cache_dir``, else
``$ALIGNJAX_CACHE/hub``, else the Hugging Face default ``HF_HUB_CACHE``). With ``HF_HUB_OFFLINE=1``
only the cache is used. A known sha256 is checked before the file is handed out.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
from pathlib import Path

__all__ = [
    "ChecksumMismatchError",
    "HubSource",
    "NotCachedError",
    "cache_root",
    "fetch",
    "is_offline",
    "parse_source",
    "sha256_file",
    "verify_sha256",
]

SHA256_PATTERN = re.compile(r"^[0-9a-f]{64}$")


class ChecksumMismatchError(ValueError):
    """A file's sha256 differs from the registry's; the file was not used."""


class NotCachedError(FileNotFoundError):
    """Offline and the file is not in the cache; the message says how to fetch it."""


@dataclasses.dataclass(frozen=True)
class HubSource:
    repo_id: str
    filename: str
    revision: str = "main"

    def __str__(self) -> str:
        return f"hf://{self.repo_id}/{self.filename}@{self.revision}"


def parse_source(source: str) -> HubSource | Path | str:
    """``hf://...`` -> HubSource; ``bundled:name`` -> the name (str); anything else -> a local Path."""
    if source.startswith("hf://"):
        rest, _, revision = source[len("hf://"):].partition("@")
        parts = rest.split("/")
        if len(parts) < 3 or not all(parts):
            raise ValueError(f"bad hub source {source!r}; expected hf://org/repo/path/file@revision")
        return HubSource("/".join(parts[:2]), "/".join(parts[2:]), revision or "main")
    if source.startswith("bundled:"):
        return source[len("bundled:"):]
    return Path(source[len("file://"):] if source.startswith("file://") else source).expanduser()


def cache_root() -> Path:
    """``$ALIGNJAX_CACHE`` or ``~/.cache/alignjax``: converted weights live under ``converted/``."""
    env = os.environ.get("ALIGNJAX_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "alignjax"


def is_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def sha256_file(path: str | Path, chunk_size: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def verify_sha256(path: str | Path, expected: str | None) -> str:
    """Returns the file's sha256; raises ChecksumMismatchError when ``expected`` is given and differs."""
    actual = sha256_file(path)
    if expected is not None:
        if not SHA256_PATTERN.match(expected.lower()):
            raise ValueError(f"expected sha256 {expected!r} is not 64 hex digits")
        if actual != expected.lower():
            raise ChecksumMismatchError(
                f"sha256 mismatch for {path}: expected {expected.lower()}, got {actual}. The file was not "
                "used; it is corrupt, truncated or a different version: delete it and download again, or "
                "fix the registry entry's sha256/revision")
    return actual


def _hub_cache_dir(cache_dir: str | Path | None) -> Path | None:
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get("ALIGNJAX_CACHE")
    return Path(env).expanduser() / "hub" if env else None


def fetch(source: str | HubSource, *, sha256: str | None = None, cache_dir: str | Path | None = None,
          offline: bool | None = None) -> Path:
    """Local path of a checkpoint source, downloaded (hub) and sha256-verified when ``sha256`` is given.

    Raises:
      NotCachedError: offline (``HF_HUB_OFFLINE=1`` or ``offline=True``) and not in the cache.
      ChecksumMismatchError: the file's digest differs from ``sha256``.
      FileNotFoundError: a local or bundled file does not exist.
    """
    parsed = parse_source(source) if isinstance(source, str) else source
    if isinstance(parsed, HubSource):
        path = _download(parsed, _hub_cache_dir(cache_dir), is_offline() if offline is None else offline)
    elif isinstance(parsed, str):
        from alignjax.models.embedded import bundled_weights_dir

        path = bundled_weights_dir() / parsed
        if not path.is_file():
            raise FileNotFoundError(f"bundled weights {parsed!r} not found in {bundled_weights_dir()}")
    else:
        path = parsed
        if not path.is_file():
            raise FileNotFoundError(f"checkpoint file not found: {path}")
    verify_sha256(path, sha256)
    return path


def _download(source: HubSource, cache_dir: Path | None, offline: bool) -> Path:
    import huggingface_hub
    from huggingface_hub import errors

    where = str(cache_dir) if cache_dir is not None else "the Hugging Face cache (HF_HUB_CACHE)"
    try:
        return Path(huggingface_hub.hf_hub_download(
            source.repo_id, source.filename, revision=source.revision, cache_dir=cache_dir,
            local_files_only=offline))
    except errors.LocalEntryNotFoundError as err:
        cache_flag = f" --cache-dir {cache_dir}" if cache_dir is not None else ""
        raise NotCachedError(
            f"{source} is not in {where} and downloading is {'disabled (offline)' if offline else 'failing'}."
            f" Download it on a machine with network: `hf download {source.repo_id} {source.filename} "
            f"--revision {source.revision}{cache_flag}` and copy the cache here, or unset HF_HUB_OFFLINE"
        ) from err
    except (errors.RepositoryNotFoundError, errors.RevisionNotFoundError, errors.EntryNotFoundError) as err:
        raise FileNotFoundError(f"{source}: {type(err).__name__}: {err}") from err
