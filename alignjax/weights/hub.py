"""Checkpoint sources and where alignjax's network I/O starts: hub and URL downloads, verified.

Sources are strings:
  ``hf://org/repo/path/to/file.safetensors@<revision>`` (revision: a commit hash, tag or branch;
  omitted means 'main'), ``https://...`` (plain URLs and Google Drive links, e.g. RobustBench's and
  Brain-Score's release files), ``bundled:<file>`` (the ``weights/`` folder shipped with alignjax), or
  a local path (``file://`` optional).

Hub files come through ``huggingface_hub.hf_hub_download`` and its cache (``cache_dir``, else
``$ALIGNJAX_CACHE/hub``, else the Hugging Face default ``HF_HUB_CACHE``). URL files go through
``alignjax.weights.download`` (resumable, Drive confirm pages) into ``cache_dir``, else
``cache_root()/downloads``, as ``<host>/<file name>`` (Drive: ``drive.google.com/<file id>``); a file
saved there by hand is used as is. With ``HF_HUB_OFFLINE=1`` only the caches are used. A known
sha256, and the sha256 prefix of a torch-hub style file name (``alexnet-owt-7be5be79.pth``), are
checked before the file is handed out.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import urllib.parse
from pathlib import Path

from alignjax.weights.verify import ChecksumMismatchError, is_pinned, sha256_file, verify_file, verify_locked

__all__ = [
    "ChecksumMismatchError",
    "HubSource",
    "NotCachedError",
    "UrlSource",
    "cache_root",
    "fetch",
    "is_offline",
    "parse_source",
    "sha256_file",
    "verify_sha256",
]



class NotCachedError(FileNotFoundError):
    """Offline and the file is not in the cache; the message says how to fetch it."""


@dataclasses.dataclass(frozen=True)
class HubSource:
    repo_id: str
    filename: str
    revision: str = "main"

    def __str__(self) -> str:
        return f"hf://{self.repo_id}/{self.filename}@{self.revision}"


@dataclasses.dataclass(frozen=True)
class UrlSource:
    url: str

    def __str__(self) -> str:
        return self.url

    @property
    def cache_name(self) -> str:
        """``<host>/<file name>`` (``<host>/<url hash>-<file name>`` when a query picks the file);
        Google Drive links: ``drive.google.com/<file id>``."""
        from alignjax.weights.google_drive import google_drive_id

        drive_id = google_drive_id(self.url)
        if drive_id is not None:
            return f"drive.google.com/{drive_id}"
        parsed = urllib.parse.urlparse(self.url)
        name = parsed.path.rstrip("/").rsplit("/", 1)[-1]
        if not name or name in (".", ".."):
            raise ValueError(f"cannot name a cache file after {self.url!r}: the URL has no file name")
        if parsed.query:  # the query picks the file (e.g. ?id=...): keep URLs apart
            name = f"{hashlib.sha256(self.url.encode()).hexdigest()[:16]}-{name}"
        return f"{parsed.hostname}/{name}"

    @property
    def hash_prefix(self) -> str | None:
        """The sha256 prefix in a torch-hub style file name (None for Drive links and plain names)."""
        from alignjax.weights.google_drive import google_drive_id
        from alignjax.weights.verify import hash_prefix_from_name

        return None if google_drive_id(self.url) else hash_prefix_from_name(self.url)


def parse_source(source: str) -> HubSource | UrlSource | Path | str:
    """``hf://...`` -> HubSource; ``http(s)://...`` -> UrlSource; ``bundled:name`` -> the name (str);
    anything else -> a local Path."""
    if source.startswith("hf://"):
        rest, _, revision = source[len("hf://"):].partition("@")
        parts = rest.split("/")
        if len(parts) < 3 or not all(parts):
            raise ValueError(f"bad hub source {source!r}; expected hf://org/repo/path/file@revision")
        return HubSource("/".join(parts[:2]), "/".join(parts[2:]), revision or "main")
    if source.startswith(("http://", "https://")):
        return UrlSource(source)
    if source.startswith("bundled:"):
        return source[len("bundled:"):]
    return Path(source.removeprefix("file://")).expanduser()


def cache_root() -> Path:
    """``$ALIGNJAX_CACHE`` or ``~/.cache/alignjax``: converted weights live under ``converted/``."""
    env = os.environ.get("ALIGNJAX_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "alignjax"


def is_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def verify_sha256(path: str | Path, expected: str | None) -> str:
    """Returns the file's sha256; raises ChecksumMismatchError when ``expected`` is given and differs."""
    return verify_file(path, sha256=expected)


def _hub_cache_dir(cache_dir: str | Path | None) -> Path | None:
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get("ALIGNJAX_CACHE")
    return Path(env).expanduser() / "hub" if env else None


def fetch(source: str | HubSource, *, sha256: str | None = None, cache_dir: str | Path | None = None,
          offline: bool | None = None) -> Path:
    """Local path of a checkpoint source, downloaded (hub, URL) and sha256-verified when ``sha256`` is given.

    ``cache_dir`` is the hub cache for ``hf://`` sources and the download folder for URLs.

    Raises:
      NotCachedError: offline (``HF_HUB_OFFLINE=1`` or ``offline=True``) and not in the cache.
      ChecksumMismatchError: the file's digest differs from ``sha256`` (or a file name's hash prefix).
      FileNotFoundError: a local or bundled file does not exist.
      alignjax.weights.download.DownloadError: a URL download failed (the message says how to fix it).
    """
    parsed = parse_source(source) if isinstance(source, str) else source
    offline = is_offline() if offline is None else offline
    if isinstance(parsed, HubSource):
        path = _download(parsed, _hub_cache_dir(cache_dir), offline)
        actual = verify_file(path, sha256=sha256, source=str(parsed))
        if not is_pinned(str(parsed), sha256):
            verify_locked(path, str(parsed), actual=actual)
        return path
    if isinstance(parsed, UrlSource):
        path = _download_url(parsed, sha256, Path(cache_dir) if cache_dir else cache_root() / "downloads",
                             offline)
        if not is_pinned(str(parsed), sha256):
            verify_locked(path, str(parsed))
        return path
    explicit_file = isinstance(source, str) and source.startswith("file://")
    if isinstance(parsed, str):
        from alignjax.models.embedded import bundled_weights_dir

        path = bundled_weights_dir() / parsed
        if not path.is_file():
            raise FileNotFoundError(f"bundled weights {parsed!r} not found in {bundled_weights_dir()}")
    else:
        path = parsed
        if not path.is_file():
            raise FileNotFoundError(f"checkpoint file not found: {path}")
    actual = verify_file(path, sha256=sha256, source=str(path))
    if explicit_file and not is_pinned(source, sha256):
        verify_locked(path, source, actual=actual)
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
        why = ("downloading is disabled (HF_HUB_OFFLINE is set: unset it to download)" if is_offline()
               else "downloading is disabled (offline)" if offline
               else "the Hugging Face hub could not be reached (no network, or a proxy in the way)")
        raise NotCachedError(
            f"{source} is not in {where} and {why}. Download it on a machine with network: `hf download "
            f"{source.repo_id} {source.filename} --revision {source.revision}{cache_flag}` and copy the cache here"
        ) from err
    except (errors.RepositoryNotFoundError, errors.RevisionNotFoundError, errors.EntryNotFoundError) as err:
        raise FileNotFoundError(f"{source}: {type(err).__name__}: {err}") from err


def _download_url(source: UrlSource, sha256: str | None, folder: Path, offline: bool) -> Path:
    from alignjax.weights.download import download

    target = folder / source.cache_name
    if offline:
        if not target.is_file():
            unset = ": unset HF_HUB_OFFLINE to download" if is_offline() else ""
            raise NotCachedError(
                f"{source} is not in the download cache ({target}) and downloading is disabled (offline"
                f"{unset}). Download it on a machine with network and save it as that path")
        verify_file(target, sha256=sha256, hash_prefix=source.hash_prefix, source=str(source))
        return target
    return download(source.url, target, sha256=sha256, hash_prefix=source.hash_prefix)
