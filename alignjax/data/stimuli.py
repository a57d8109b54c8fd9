"""Geirhos et al. (ICLR 2019) stimulus sets: cue-conflict, edges and filled silhouettes.

Files live at ``<base>/stimuli/<folder>/<class>/<file>.png`` (github.com/rgeirhos/texture-vs-shape,
CC-BY-4.0). ``fetch_stimuli`` downloads them into ``<dest>/<folder>/<class>/<file>``, checks every file
against a sha256 manifest (TSV with header ``path  sha256  bytes``, paths relative to the repository
root), and is resumable: files that already verify are skipped, downloads go to ``<file>.part`` and are
renamed into place only after their hash matches, so an interrupted run leaves no unverified file under
a final name; over http(s) a ``.part`` is continued with a Range request
(``alignjax.weights.download``). A hash mismatch stops the run with ``ChecksumError`` naming the file,
which is not kept.

The default source is the repository pinned at commit ``ccd0c01`` on raw.githubusercontent.com
(``$ALIGNJAX_STIMULI_URL`` overrides it, e.g. for a mirror), and the default manifest is the one
shipped with alignjax (``alignjax/data/resources/texture-vs-shape/``: all 1600 files of that commit),
so ``fetch_stimuli('cue-conflict', dest)`` needs nothing else. A local source folder that holds its own
``MANIFEST.sha256.tsv`` is checked against that one instead.

Cue-conflict file names are ``<shape><i>-<texture><j>.png`` (shape class first, texture second).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import urllib.parse
import urllib.request
from collections.abc import Iterable, Sequence
from os import PathLike
from pathlib import Path
from typing import BinaryIO

import numpy as np
import polars as pl
from tqdm import tqdm

from alignjax.data.folders import FileDataset

SOURCE_COMMIT = "ccd0c01d42c0a8a834e90ec141e7f24fa915dc23"
DEFAULT_BASE_URL = f"https://raw.githubusercontent.com/rgeirhos/texture-vs-shape/{SOURCE_COMMIT}"
BASE_URL_ENV = "ALIGNJAX_STIMULI_URL"
MANIFEST_NAME = "MANIFEST.sha256.tsv"
BUNDLED_MANIFEST = Path(__file__).resolve().parent / "resources" / "texture-vs-shape" / MANIFEST_NAME
STIMULUS_FOLDERS = {
    "cue-conflict": "style-transfer-preprocessed-512",
    "edges": "edges",
    "filled-silhouettes": "filled-silhouettes",
}
_ALIASES = {"edge": "edges", "silhouette": "filled-silhouettes", "silhouettes": "filled-silhouettes"}
CATEGORIES = (
    "airplane", "bear", "bicycle", "bird", "boat", "bottle", "car", "cat",
    "chair", "clock", "dog", "elephant", "keyboard", "knife", "oven", "truck",
)  # fmt: skip
MANIFEST_SCHEMA = pl.Schema({"path": pl.String, "sha256": pl.String, "bytes": pl.Int64})
_CHUNK = 1 << 16
_MANIFEST_PATH = r"^stimuli/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$"
_CUE_CONFLICT_NAME = re.compile(r"^([a-z]+)(\d+)-([a-z]+)(\d+)\.png$")


class ChecksumError(RuntimeError):
    """A downloaded file whose sha256 differs from the manifest; ``path`` names it."""

    def __init__(self, path: str, expected: str, actual: str):
        super().__init__(
            f"checksum mismatch for {path}: expected sha256 {expected}, got {actual}; file rejected"
        )
        self.path = path


class MissingStimuliError(FileNotFoundError):
    """Manifest files that the source does not have."""


@dataclasses.dataclass(frozen=True)
class FetchReport:
    downloaded: tuple[str, ...]
    skipped: tuple[str, ...]  # already present and verified
    missing: tuple[str, ...]  # absent at the source (allowed by allow_missing)


def folder_of(set_name: str) -> str:
    name = _ALIASES.get(set_name, set_name)
    if name not in STIMULUS_FOLDERS:
        raise ValueError(f"unknown stimulus set {set_name!r}; known: {sorted(STIMULUS_FOLDERS)}")
    return STIMULUS_FOLDERS[name]


def read_manifest(path: str | PathLike) -> pl.DataFrame:
    """The sha256 manifest as a frame with ``MANIFEST_SCHEMA``."""
    frame = pl.read_csv(path, separator="\t", schema=MANIFEST_SCHEMA)
    bad = frame.filter(~pl.col("sha256").str.contains(r"^[0-9a-f]{64}$"))
    if bad.height:
        raise ValueError(f"{path}: malformed sha256 for {bad['path'][0]}")
    # paths become local file names: only stimuli/<folder>/<class>/<file>, never '..' or absolute
    unsafe = frame.filter(
        ~pl.col("path").str.contains(_MANIFEST_PATH) | pl.col("path").str.contains(r"(^|/)\.\.?(/|$)")
    )
    if unsafe.height:
        raise ValueError(f"{path}: unexpected manifest path {unsafe['path'][0]!r}")
    return frame


def parse_cue_conflict_name(name: str) -> tuple[str, str]:
    """``'bird3-bird2.png'`` -> ``('bird', 'bird')``: (shape class, texture class)."""
    match = _CUE_CONFLICT_NAME.match(Path(name).name)
    if match is None or match.group(1) not in CATEGORIES or match.group(3) not in CATEGORIES:
        raise ValueError(f"{name!r} is not a cue-conflict file name '<shape><i>-<texture><j>.png'")
    return match.group(1), match.group(3)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _is_url(base: str) -> bool:
    return "://" in base


def _open_source(base: str, relative: str) -> BinaryIO:
    """Opens ``<base>/<relative>`` of a local source; FileNotFoundError when the source lacks it."""
    return open(Path(base) / relative, "rb")


def _local_path(file_url: str) -> str:
    parsed = urllib.parse.urlparse(file_url)
    if parsed.netloc not in ("", "localhost"):
        raise ValueError(f"file URL {file_url!r} names a remote host")
    return urllib.request.url2pathname(parsed.path)


def _default_manifest(base: str) -> Path:
    """A local source's own manifest, else the one shipped with alignjax."""
    if not _is_url(base) and (Path(base) / MANIFEST_NAME).is_file():
        return Path(base) / MANIFEST_NAME
    return BUNDLED_MANIFEST


def _download(base: str, relative: str, target: Path, expected: str) -> None:
    if _is_url(base):
        from alignjax.weights.download import download
        from alignjax.weights.hub import ChecksumMismatchError

        url = f"{base.rstrip('/')}/{urllib.request.pathname2url(relative)}"
        try:
            download(url, target, sha256=expected, progress=False)
        except ChecksumMismatchError as error:
            raise ChecksumError(relative, expected, error.actual) from error
        return
    part = target.with_name(target.name + ".part")
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with _open_source(base, relative) as source, open(part, "wb") as sink:
        for chunk in iter(lambda: source.read(_CHUNK), b""):
            digest.update(chunk)
            sink.write(chunk)
    actual = digest.hexdigest()
    if actual != expected:
        part.unlink()
        raise ChecksumError(relative, expected, actual)
    os.replace(part, target)


def fetch_stimuli(
    set_name: str,
    dest: str | PathLike,
    *,
    base_url: str | PathLike | None = None,
    manifest: str | PathLike | None = None,
    subset: Iterable[str] | None = None,
    classes: Sequence[str] | None = None,
    allow_missing: bool = False,
    progress: bool = True,
) -> FetchReport:
    """Downloads and verifies one stimulus set into ``dest/<folder>/<class>/<file>``.

    Args:
      set_name: 'cue-conflict', 'edges' or 'filled-silhouettes' (aliases 'edge', 'silhouette').
      dest: local root.
      base_url: an http(s) or ``file://`` URL or a local folder holding ``stimuli/``; default
        ``$ALIGNJAX_STIMULI_URL``, else ``DEFAULT_BASE_URL`` (GitHub, pinned to ``SOURCE_COMMIT``).
      manifest: the sha256 TSV; default ``<base>/MANIFEST.sha256.tsv`` for local bases that have one,
        else the manifest shipped with alignjax (``BUNDLED_MANIFEST``).
      subset: only these files (``<class>/<file>.png`` or full manifest paths).
      classes: only these class folders.
      allow_missing: skip files the source lacks instead of raising ``MissingStimuliError``.
      progress: show a tqdm bar.

    Raises:
      ChecksumError: a file's hash differs from the manifest (the run stops; the file is not kept).
      MissingStimuliError: files absent at the source, unless ``allow_missing``.
      alignjax.weights.download.DownloadError: the source cannot be reached or refuses (the message
        says how to fix it); files fetched so far are kept and a new run resumes.
    """
    if base_url is None:
        base_url = os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
    base = os.fspath(base_url)
    if _is_url(base) and not base.startswith(("http://", "https://", "file://")):
        raise ValueError(f"unsupported base URL {base!r}: use http(s)://, file:// or a local folder")
    source = _local_path(base) if base.startswith("file://") else base
    prefix = f"stimuli/{folder_of(set_name)}/"
    table = read_manifest(manifest if manifest is not None else _default_manifest(source))
    table = table.filter(pl.col("path").str.starts_with(prefix)).sort("path")
    if classes is not None:
        unknown = sorted(set(classes) - set(CATEGORIES))
        if unknown:
            raise ValueError(f"unknown class(es) {unknown}; known: {CATEGORIES}")
        table = table.filter(pl.col("path").str.split("/").list.get(2).is_in(list(classes)))
    if subset is not None:
        wanted = {item if item.startswith("stimuli/") else prefix + item for item in subset}
        unknown = sorted(wanted - set(table["path"].to_list()))
        if unknown:
            raise ValueError(f"{len(unknown)} subset file(s) are not in the manifest: {unknown[:5]}")
        table = table.filter(pl.col("path").is_in(sorted(wanted)))
    if table.height == 0:
        raise ValueError(f"no manifest entries for {set_name!r} with the given filters")
    dest = Path(dest)
    downloaded, skipped, missing = [], [], []
    for row in tqdm(
        table.iter_rows(named=True), total=table.height, desc=f"fetch {set_name}", disable=not progress
    ):
        relative = row["path"]
        target = dest / relative[len("stimuli/") :]
        if target.is_file() and target.stat().st_size == row["bytes"] and sha256_of(target) == row["sha256"]:
            skipped.append(relative)
            continue
        try:
            _download(source, relative, target, row["sha256"])
        except FileNotFoundError:
            missing.append(relative)
            continue
        downloaded.append(relative)
    if missing and not allow_missing:
        raise MissingStimuliError(
            f"{len(missing)} of {table.height} {set_name} files are missing at {base} "
            f"(first: {missing[:3]}); pass allow_missing=True, classes= or subset= to fetch what is there"
        )
    return FetchReport(tuple(downloaded), tuple(skipped), tuple(missing))


def stimulus_table(root: str | PathLike, set_name: str) -> pl.DataFrame:
    """The files of a fetched set under ``root/<folder>``: path, file, category (folder), shape, texture.

    For cue-conflict, ``shape``/``texture`` come from the file name; otherwise both equal the category.
    """
    folder = Path(root) / folder_of(set_name)
    files = sorted(path for path in folder.glob("*/*.png"))
    if not files:
        raise FileNotFoundError(f"no stimuli under {folder}")
    categories = [path.parent.name for path in files]
    if _ALIASES.get(set_name, set_name) == "cue-conflict":
        pairs = [parse_cue_conflict_name(path.name) for path in files]
    else:
        pairs = [(category, category) for category in categories]
    return pl.DataFrame(
        {
            "path": [str(path) for path in files],
            "file": [f"{path.parent.name}/{path.name}" for path in files],
            "category": categories,
            "shape": [shape for shape, _ in pairs],
            "texture": [texture for _, texture in pairs],
        },
        schema=pl.Schema(
            {
                "path": pl.String,
                "file": pl.String,
                "category": pl.String,
                "shape": pl.String,
                "texture": pl.String,
            }
        ),
    )


def stimulus_dataset(root: str | PathLike, set_name: str, *, exclude_same: bool = False) -> FileDataset:
    """A fetched set as ``(path, shape-class index)`` items over ``CATEGORIES``.

    ``exclude_same`` drops cue-conflict images whose shape and texture classes agree (as the shape-bias
    analysis does).
    """
    table = stimulus_table(root, set_name)
    if exclude_same:
        table = table.filter(pl.col("shape") != pl.col("texture"))
    labels = np.array([CATEGORIES.index(shape) for shape in table["shape"]], dtype=np.int32)
    return FileDataset(
        tuple(Path(p) for p in table["path"]), labels, f"{set_name} stimuli at {root}", CATEGORIES
    )
