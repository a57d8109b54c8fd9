"""Plain http(s) and Google Drive downloads: resumable, verified, with errors that say what to do.

``download(url, target, sha256=..., hash_prefix=...)`` streams ``url`` into ``<target>.part`` and
renames it to ``target`` only after the digest checks out, so an interrupted or rejected download
never leaves a file under its final name. What it handles:

- **Resuming.** A ``.part`` left by an earlier run (or by a connection dropped mid-file) is continued
  with an HTTP ``Range: bytes=<size>-`` request. A ``206`` with a matching ``Content-Range`` appends;
  a ``200`` (server without range support) starts over; a ``416`` means the part is already whole.
  A dropped connection (or a 500/502/503/504 answer) is retried ``retries`` times, each time from
  where it stopped.
- **Google Drive.** Large Drive files answer ``uc?export=download&id=...`` with an HTML "can't scan
  for viruses" page instead of the file; ``alignjax.weights.google_drive.ConfirmPage`` finds the file's
  URL in it (the ``confirm=`` cookie, link and ``download-form`` generations of that page), and Drive's
  own error text (quota exceeded, no access) is passed on. Any HTML answer is read this way, whatever
  the host, so a mirror of Drive's flow works too.
- **Verification.** ``sha256`` (full digest) and ``hash_prefix`` (the torch-hub convention: a file
  named ``name-<first hex digits of its sha256>.ext``, see ``hash_prefix_from_name``) are checked
  before the file is renamed into place; a mismatch deletes the part and raises
  ``ChecksumMismatchError`` with both digests (a mismatch after resuming an old part is first retried
  once from byte 0, since the old part itself may have been the corrupt piece).
- **Clear errors.** An HTML page where a checkpoint was expected, an HTTP error (404 ...), an
  unreachable host, or a transfer that keeps breaking raise ``DownloadError`` naming the URL, what
  happened, and how to get the file by hand (whose local path alignjax accepts everywhere).

Only the standard library is used (``urllib`` with a cookie jar); Hugging Face hub sources go through
``huggingface_hub`` in ``alignjax.weights.hub``.
"""

from __future__ import annotations

import http.client
import http.cookiejar
import logging
import os
import re
import socket
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from tqdm import tqdm

from alignjax.weights.google_drive import ConfirmPage, google_drive_id
from alignjax.weights.verify import ChecksumMismatchError, hash_prefix_from_name, verify_file

__all__ = [
    "DownloadError",
    "NotAFileError",
    "RemoteFileNotFoundError",
    "download",
    "google_drive_id",  # re-exported from alignjax.weights.google_drive
    "hash_prefix_from_name",
    "verify_file",
]

log = logging.getLogger(__name__)

CHUNK_SIZE = 1 << 20
MAX_PAGE_BYTES = 1 << 20  # an HTML answer is read whole only up to this size
MAX_CONFIRM_HOPS = 3
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) alignjax"  # Drive answers bare clients differently
_HTML_START = re.compile(rb"^\s*(<!doctype html|<html|<head|<body)", re.IGNORECASE)
_TRANSIENT_STATUS = (500, 502, 503, 504)  # retried like a dropped connection
_NETWORK_ERRORS = (http.client.IncompleteRead, ConnectionError, TimeoutError, socket.timeout)


class DownloadError(OSError):
    """A download that failed; the message names the URL, the cause and a way to get the file by hand."""


class NotAFileError(DownloadError):
    """The server answered with a web page (login, consent, quota, moved) instead of the file."""


class RemoteFileNotFoundError(DownloadError, FileNotFoundError):
    """HTTP 404: the source does not have the file."""


def download(url: str, target: str | Path, *, sha256: str | None = None, hash_prefix: str | None = None,
             retries: int = 3, timeout: float = 60.0, progress: bool | None = None) -> Path:
    """Downloads ``url`` to ``target`` (resuming ``<target>.part``), verified; returns ``target``.

    An existing ``target`` that verifies is returned as is; one that does not is downloaded again.

    Args:
      url: http(s) URL; Google Drive share links are followed through their confirm pages.
      target: final path; the partial file is ``<target>.part`` next to it.
      sha256: full hex digest, when known.
      hash_prefix: leading hex digits of the sha256 (torch-hub file names), when known.
      retries: how many times a dropped transfer is resumed before giving up.
      timeout: seconds without data before a read counts as dropped.
      progress: tqdm bar (None: only on a terminal).

    Raises:
      ChecksumMismatchError: the finished file's digest differs (the file was deleted).
      NotAFileError: an HTML page came where the file was expected.
      DownloadError: HTTP errors, unreachable host, or transfers that kept breaking (the part is kept).
    """
    if urllib.parse.urlparse(url).scheme not in ("http", "https"):
        raise ValueError(f"unsupported URL {url!r}: only http(s) downloads are supported")
    target = Path(target)
    if target.is_file():
        try:
            verify_file(target, sha256=sha256, hash_prefix=hash_prefix)
            return target
        except ChecksumMismatchError:
            log.warning("%s does not match its expected digest; downloading it again", target)
            target.unlink()
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    resumed = part.exists()
    for attempt in ("resumed", "fresh") if resumed else ("fresh",):
        _Transfer(url, part, retries=retries, timeout=timeout, progress=progress).run()
        if _looks_like_html(part):
            part.unlink()
            raise NotAFileError(f"{url} sent an HTML page, not a file. {_by_hand(part)}")
        try:
            verify_file(part, sha256=sha256, hash_prefix=hash_prefix, source=url)
            break
        except ChecksumMismatchError:
            part.unlink()
            if attempt == "fresh":
                raise
            log.warning("%s: the resumed %s did not verify; downloading it again from the start", url, part)
    os.replace(part, target)
    return target


_BY_HAND = ("Open the URL in a browser (it may need a login, a consent click, or a later retry when a "
            "download quota is exhausted) and save the file as {target}: the next run uses it as is")


def _by_hand(part: Path) -> str:
    """How to fetch the file by hand: the browser, then the exact path the next run looks at."""
    return _BY_HAND.format(target=part.with_name(part.name.removesuffix(".part")))


def _looks_like_html(path: Path) -> bool:
    with open(path, "rb") as file:
        return bool(_HTML_START.match(file.read(512)))


class _Transfer:
    """One resumable transfer of ``url`` into ``part`` (see ``download``)."""

    def __init__(self, url: str, part: Path, *, retries: int, timeout: float, progress: bool | None):
        self.url, self.part, self.retries, self.timeout, self.progress = url, part, retries, timeout, progress
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))
        self.failures = 0

    def run(self) -> None:
        url, hops = self.url, 0
        while True:
            offset = self.part.stat().st_size if self.part.exists() else 0
            request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
            if offset:
                request.add_header("Range", f"bytes={offset}-")
            try:
                response = self.opener.open(request, timeout=self.timeout)
            except urllib.error.HTTPError as error:
                error.close()  # it holds the connection
                if error.code == 416 and offset:  # nothing left to send: the part is whole
                    return
                if error.code in _TRANSIENT_STATUS:
                    self._count_failure(url, f"HTTP {error.code} {error.reason}")
                    continue
                raise self._http_error(url, error) from error
            except (urllib.error.URLError, *_NETWORK_ERRORS) as error:
                self._count_failure(url, f"cannot connect ({getattr(error, 'reason', error)})")
                continue
            with response:
                if response.headers.get_content_type() == "text/html":
                    page = response.read(MAX_PAGE_BYTES).decode("utf-8", "replace")
                    url, hops = self._follow(page, response.geturl(), hops), hops + 1
                    continue
                if self._stream(response, offset):
                    return

    def _follow(self, text: str, page_url: str, hops: int) -> str:
        page = ConfirmPage(text)
        next_url = page.file_url(page_url, self.cookies)
        if next_url is not None and hops < MAX_CONFIRM_HOPS:
            return next_url
        if page.errors:
            raise DownloadError(f"Google Drive refused {page_url}: {' '.join(page.errors)}. {_by_hand(self.part)}")
        raise NotAFileError(
            f"{self.url} answered with a web page ({page.title.strip() or 'no title'!r}) instead of the "
            f"file, and no download link was found in it. {_by_hand(self.part)}")

    def _stream(self, response: http.client.HTTPResponse, offset: int) -> bool:
        """Appends (206) or writes (200) the body to the part; False when the transfer broke."""
        resumed = offset > 0 and response.status == 206
        if resumed:
            start = re.match(r"bytes (\d+)-", response.headers.get("Content-Range", ""))
            if start is None or int(start.group(1)) != offset:
                self.part.unlink()  # a range we did not ask for: start over
                self._count_failure(self.url, f"server sent range {response.headers.get('Content-Range')!r}")
                return False
        length = response.headers.get("Content-Length")
        total = (int(length) + (offset if resumed else 0)) if length is not None else None
        written = offset if resumed else 0
        with open(self.part, "ab" if resumed else "wb") as sink, tqdm(
            total=total, initial=written, unit="B", unit_scale=True, desc=self.part.name[: -len(".part")],
            disable=None if self.progress is None else not self.progress, leave=False,
        ) as bar:
            while True:
                try:
                    chunk = response.read(CHUNK_SIZE)
                except _NETWORK_ERRORS as error:
                    self._count_failure(self.url, f"connection lost after {written} bytes ({error!r})")
                    return False
                if not chunk:
                    break
                sink.write(chunk)
                written += len(chunk)
                bar.update(len(chunk))
        if total is not None and written < total:
            self._count_failure(self.url, f"connection closed after {written} of {total} bytes")
            return False
        return True

    def _count_failure(self, url: str, what: str) -> None:
        self.failures += 1
        if self.failures > self.retries:
            kept = (f"; the {self.part.stat().st_size} bytes received are kept in {self.part} and the next "
                    "run resumes from there" if self.part.exists() and self.part.stat().st_size else "")
            raise DownloadError(
                f"downloading {url} failed {self.failures} times ({self.retries} retries), last: {what}{kept}. "
                f"Check the network or proxy and run again. {_by_hand(self.part)}")
        log.warning("%s: %s; resuming (retry %d of %d)", url, what, self.failures, self.retries)

    def _http_error(self, url: str, error: urllib.error.HTTPError) -> DownloadError:
        hint = {
            404: "the file is not (or no longer) at this address: check the registry entry's source",
            403: "access is denied (a private file, or a quota): check the link in a browser",
            429: "too many requests: wait and run again",
        }.get(error.code, "the server refused the request")
        kind = RemoteFileNotFoundError if error.code == 404 else DownloadError
        return kind(f"{url}: HTTP {error.code} {error.reason}; {hint}. {_by_hand(self.part)}")
