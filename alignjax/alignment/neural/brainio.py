"""Brain-Score's BrainIO files: where they live, their SHA-1 digests, and a verified download cache.

A stimulus set is a CSV of metadata plus a ZIP of images; a neural assembly is one NetCDF file
(brain-score/brainio ``docs/SPECIFICATION.md``). Brain-Score fetches them from the public S3 bucket
``brainscore-storage``, folder ``brainio-brainscore``, as ``stimulus_<id>.csv|zip`` and ``assy_<id>.nc``
with dots in the identifier turned into underscores, and checks each file's SHA-1
(brain-score/core@7436003 ``brainscore_core/supported_data_standards/brainio/s3.py::get_path``,
``fetch.py::verify_sha1``). The digests and S3 version ids below are those registered in
brain-score/vision@d07d3569 (unchanged at c642dbe4) ``brainscore_vision/data/majajhong2015/__init__.py``
and ``data/freemanziemba2013/__init__.py``. The ``private`` files need Brain-Score's credentials; the
``public`` ones download anonymously.

Files are cached under ``<cache>/brainio/`` (``$ALIGNJAX_CACHE`` or ``~/.cache/alignjax``); a copy that
Brain-Score already downloaded (``$BRAINIO_HOME`` or ``~/.brainio/<name>/<file>``) is reused when its
SHA-1 matches. Downloads go to ``<file>.part`` and are renamed only after the digest matches, so the
cache never holds an unverified file under its final name. ``base_url`` (or ``$ALIGNJAX_BRAINIO_URL``)
replaces the S3 address by a mirror: an http(s) URL or a local folder holding the same file names.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

BUCKET_URL = "https://brainscore-storage.s3.amazonaws.com/brainio-brainscore"
_CHUNK = 1 << 20


class ChecksumError(OSError):
    """A file whose SHA-1 differs from the registered one; it is not kept."""


@dataclasses.dataclass(frozen=True)
class RemoteFile:
    filename: str
    sha1: str
    version_id: str = "null"  # S3 object version; "null" for unversioned objects

    def url(self, base_url: str = BUCKET_URL) -> str:
        query = "" if self.version_id == "null" else f"?versionId={self.version_id}"
        return f"{base_url.rstrip('/')}/{self.filename}{query}"


@dataclasses.dataclass(frozen=True)
class StimulusSetEntry:
    identifier: str
    csv: RemoteFile
    zip: RemoteFile


@dataclasses.dataclass(frozen=True)
class AssemblyEntry:
    identifier: str
    file: RemoteFile
    stimulus_set: str


def _stimulus_set(identifier: str, csv_sha1: str, zip_sha1: str, csv_version: str = "null",
                  zip_version: str = "null") -> StimulusSetEntry:
    stem = f"stimulus_{identifier.replace('.', '_')}"
    return StimulusSetEntry(identifier, RemoteFile(f"{stem}.csv", csv_sha1, csv_version),
                            RemoteFile(f"{stem}.zip", zip_sha1, zip_version))


def _assembly(identifier: str, sha1: str, stimulus_set: str, version: str = "null") -> AssemblyEntry:
    return AssemblyEntry(identifier, RemoteFile(f"assy_{identifier.replace('.', '_')}.nc", sha1, version),
                         stimulus_set)


STIMULUS_SETS: dict[str, StimulusSetEntry] = {entry.identifier: entry for entry in (
    _stimulus_set("hvm-public", "5ca7a3da00d8e9c694a9cd725df5ba0ad6d735af",
                  "8aa44e038d7b551efa8077467622f9d48d72e473"),
    _stimulus_set("hvm-private", "6ff4981722fa05feb73a2bd26bbbba8b50dc29a6",
                  "d7b1ca1876dad87e15b0242b4c82c0203ff3cbd3"),
    _stimulus_set("FreemanZiemba2013.aperture-public", "194c9b301a4e3e9cff02481d4c19b39331d52660",
                  "3a6fec1fc28c212882d6833e267ea8654d289611"),
    _stimulus_set("FreemanZiemba2013.aperture-private", "65bee31483dd743ae2a19c6af03b9abe5f4d5a41",
                  "daa724a4797b23929df59c18744923790edf71cb", "Klo0lMygUX0IZPkLoypccXH55a1hZjf2",
                  "nZES.el0vF3KXuRrB2ELQOqzCcxumFMY"),
)}

ASSEMBLIES: dict[str, AssemblyEntry] = {entry.identifier: entry for entry in (
    _assembly("dicarlo.MajajHong2015.public", "13d28ca0ce88ee550b54db3004374ae19096e9b9", "hvm-public"),
    _assembly("dicarlo.MajajHong2015.private", "7a40d16148d6f82939155f0bd976d310857fb156", "hvm-private"),
    _assembly("movshon.FreemanZiemba2013.public", "761c08f796db4e342555cdb60eef23a4f19ead43",
              "FreemanZiemba2013.aperture-public", "W2vx7jdh9utZdVumHHarXa4L1zOrA8Fd"),
    _assembly("movshon.FreemanZiemba2013.private", "63f636fa2e2b51b47a676768a69b06ce95efdd8f",
              "FreemanZiemba2013.aperture-private", "wx5LB7Nq42SV74RQ8Cw6EtyabywsnSyG"),
)}


def cache_dir(root: str | os.PathLike | None = None) -> Path:
    if root is not None:
        return Path(root)
    env = os.environ.get("ALIGNJAX_CACHE")
    return (Path(env).expanduser() if env else Path.home() / ".cache" / "alignjax") / "brainio"


def sha1_file(path: str | os.PathLike) -> str:
    """The sha1 Brain-Score pins its BrainIO files with."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha1").hexdigest()


def _brainscore_copy(remote: RemoteFile) -> Path | None:
    home = Path(os.environ.get("BRAINIO_HOME", str(Path.home() / ".brainio"))).expanduser()
    candidate = home / Path(remote.filename).stem / remote.filename
    return candidate if candidate.is_file() and sha1_file(candidate) == remote.sha1 else None


def _copy_from_source(remote: RemoteFile, base_url: str, target: Path) -> None:
    if "://" not in base_url or base_url.startswith("file://"):  # a local mirror folder
        folder = urllib.request.url2pathname(base_url[len("file://"):]) if "://" in base_url else base_url
        source = Path(folder) / remote.filename
        if not source.is_file():
            raise FileNotFoundError(f"{remote.filename} is not in the mirror folder {base_url}")
        shutil.copyfile(source, target)
        return
    url = remote.url(base_url)
    if not url.startswith(("https://", "http://")):
        raise ValueError(f"only http(s) URLs or local folders can be fetched from, got {url}")
    try:
        with urllib.request.urlopen(url, timeout=120) as response, open(target, "wb") as out:
            shutil.copyfileobj(response, out, _CHUNK)
    except urllib.error.HTTPError as error:
        hint = (" (private Brain-Score data need the lab's credentials; place the file in the cache "
                "yourself)" if error.code in (401, 403) else "")
        raise FileNotFoundError(f"cannot download {url}: HTTP {error.code}{hint}") from None
    except (urllib.error.URLError, OSError) as error:
        raise FileNotFoundError(
            f"cannot download {url}: {error}; check the network, or put {remote.filename} into "
            f"{target.parent} (or set ALIGNJAX_BRAINIO_URL to a mirror)"
        ) from None


def fetch_file(remote: RemoteFile, *, cache: str | os.PathLike | None = None,
               base_url: str | None = None) -> Path:
    """Local path of ``remote``, downloaded and SHA-1-verified on first use.

    Raises:
      ChecksumError: the downloaded (or cached) file's SHA-1 differs; the file is removed.
      FileNotFoundError: not cached and not downloadable, with what to do about it.
    """
    folder = cache_dir(cache)
    target = folder / remote.filename
    if target.is_file():
        actual = sha1_file(target)
        if actual == remote.sha1:
            return target
        target.unlink()  # a stale or damaged copy: fetch again
    existing = _brainscore_copy(remote)
    if existing is not None:
        return existing
    folder.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    try:
        _copy_from_source(remote, base_url or os.environ.get("ALIGNJAX_BRAINIO_URL") or BUCKET_URL, partial)
        actual = sha1_file(partial)
        if actual != remote.sha1:
            raise ChecksumError(f"{remote.filename}: SHA-1 {actual} differs from the registered "
                                f"{remote.sha1}; file rejected")
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def extract_zip(zip_path: Path, destination: Path | None = None) -> Path:
    """Extracts ``zip_path`` (once) into ``destination`` (default: a folder named after the zip).

    Members that would land outside the folder (absolute paths, ``..``) are refused.
    """
    destination = destination or zip_path.with_suffix("")
    marker = destination / ".complete"
    if marker.is_file() and marker.read_text() == sha1_file(zip_path):
        return destination
    destination.mkdir(parents=True, exist_ok=True)
    root = destination.resolve()
    with zipfile.ZipFile(zip_path) as archive:
        for member in archive.namelist():
            resolved = (destination / member).resolve()
            if root != resolved and root not in resolved.parents:
                raise ValueError(f"{zip_path} holds a member outside its folder: {member!r}")
        archive.extractall(destination)
    marker.write_text(sha1_file(zip_path))
    return destination
