"""Downloader for the model-vs-human stimulus release (the 17 Geirhos et al. 2021 test sets), verified.

The stimuli are published as ``<dataset>.tar.gz`` at
https://github.com/bethgelab/model-vs-human/releases/tag/v0.1 (bethgelab/model-vs-human@79ed7cd
``modelvshuman/utils.py::try_download_dataset_from_github``); each unpacks to ``<dataset>/`` in the
layout ``geirhos2021.find_stimuli`` reads. The release publishes no checksums, so verification is by
content: the unpacked files must be exactly images the humans saw (every stimulus id of the shipped
trials, each with its class and condition, and nothing else), and the archive's sha256 is recorded in
``<dest>/<dataset>/VERIFIED.json``; pass ``sha256=`` to pin an archive you have verified before.
Archives are unpacked with tarfile's ``data`` filter (no links, devices or paths outside the target)
into a staging folder that is renamed into place only after verification.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tarfile
import urllib.error
import urllib.request
from os import PathLike
from pathlib import Path

from alignjax.alignment.behavioral import geirhos2021
from alignjax.data import human_trials

RELEASE_URL = "https://github.com/bethgelab/model-vs-human/releases/download/v0.1"
VERIFIED = "VERIFIED.json"
_CHUNK = 1 << 16


class ChecksumError(RuntimeError):
    """The archive's sha256 differs from the one asked for (the archive is not kept)."""


def _download(url: str, target: Path) -> str:
    part = target.with_name(target.name + ".part")
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=120) as source, open(part, "wb") as sink:
            for chunk in iter(lambda: source.read(_CHUNK), b""):
                digest.update(chunk)
                sink.write(chunk)
    except urllib.error.URLError as error:
        part.unlink(missing_ok=True)
        raise FileNotFoundError(f"cannot download {url}: {error}") from error
    os.replace(part, target)
    return digest.hexdigest()


def verify_dataset(root: str | PathLike, dataset: str) -> int:
    """Checks that ``root`` holds every image of ``dataset`` the humans saw and no other; returns the count."""
    table = geirhos2021.find_stimuli(root, dataset, exclude=False)
    expected = set(human_trials.load_human_trials(dataset)["stimulus_id"].to_list())
    missing = sorted(expected - set(table["stimulus_id"].to_list()))
    if missing:
        raise ValueError(
            f"{dataset} under {root} lacks {len(missing)} of {len(expected)} images, e.g. {missing[:3]}"
        )
    return table.height


def fetch_modelvshuman(
    dataset: str,
    dest: str | PathLike,
    *,
    base_url: str = RELEASE_URL,
    sha256: str | None = None,
    keep_archive: bool = False,
) -> Path:
    """Downloads, checks and unpacks one dataset into ``<dest>/<dataset>/``; returns ``dest``.

    A dataset already verified there (``VERIFIED.json``) is not downloaded again.

    Raises:
      ChecksumError: ``sha256`` given and the archive differs.
      ValueError: the archive is unsafe or does not hold exactly the human-tested images.
    """
    geirhos2021.check_dataset(dataset)
    if not base_url.startswith(("http://", "https://", "file://")):
        raise ValueError(f"unsupported base URL {base_url!r}: use http(s):// or file://")
    dest = Path(dest)
    final = dest / dataset
    if (final / VERIFIED).is_file():
        return dest
    dest.mkdir(parents=True, exist_ok=True)
    archive = dest / f"{dataset}.tar.gz"
    digest = _download(f"{base_url.rstrip('/')}/{dataset}.tar.gz", archive)
    if sha256 is not None and digest != sha256.lower():
        archive.unlink()
        raise ChecksumError(f"{dataset}.tar.gz has sha256 {digest}, expected {sha256}; archive rejected")
    staging = dest / f".{dataset}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        try:
            with tarfile.open(archive, "r:gz") as handle:
                handle.extractall(staging, filter="data")
        except (tarfile.TarError, EOFError, OSError) as error:
            raise ValueError(f"{dataset}.tar.gz is not a safe, readable archive: {error}") from error
        count = verify_dataset(staging, dataset)
        if final.exists():
            shutil.rmtree(final)
        os.replace(staging / dataset, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if not keep_archive:
            archive.unlink(missing_ok=True)
    record = {
        "dataset": dataset,
        "url": f"{base_url.rstrip('/')}/{dataset}.tar.gz",
        "archive_sha256": digest,
        "images": count,
        "checked_against": f"{human_trials.SOURCE_REPOSITORY}@{human_trials.SOURCE_COMMIT}",
    }
    (final / VERIFIED).write_text(json.dumps(record, indent=1) + "\n")
    return dest
