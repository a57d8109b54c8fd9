"""Google Drive's download confirm pages: where the file is when Drive answers with HTML.

Large Drive files answer ``https://drive.google.com/uc?export=download&id=<id>`` with a "can't scan
this file for viruses" page instead of the file. ``ConfirmPage(html).file_url(page_url, cookies)``
finds the file's URL in the three generations of that page that gdown
(``wkentaro/gdown@a59d00d:gdown/download.py``, ``get_url_from_gdrive_confirmation``) and RobustBench's
``download_gdrive`` (``RobustBench/robustbench@78fcc9e:robustbench/utils.py``) handle:

- today: ``<form id="download-form" action="https://drive.usercontent.google.com/download">`` whose
  hidden inputs (``id``, ``export``, ``confirm``, ``uuid``) complete the URL's query;
- before 2024: a link ``href="/uc?export=download&amp;confirm=<token>&amp;id=<id>"`` (or a
  ``"downloadUrl":"..."`` JSON field);
- older: a ``download_warning*`` cookie whose value is the ``confirm=`` token for the same URL.

``errors`` holds Drive's ``uc-error-subcaption`` text (quota exceeded, access denied). Parsing uses the
standard library's ``html.parser``; the logic is written from those descriptions, not copied.
"""

from __future__ import annotations

import html
import html.parser
import http.cookiejar
import re
import urllib.parse

DRIVE_HOSTS = ("drive.google.com", "docs.google.com", "drive.usercontent.google.com")


def google_drive_id(url: str) -> str | None:
    """The file id of a Google Drive URL (``uc?id=``, ``open?id=``, ``/file/d/<id>/view``), else None."""
    parsed = urllib.parse.urlparse(url)
    if parsed.hostname not in DRIVE_HOSTS:
        return None
    query = urllib.parse.parse_qs(parsed.query)
    if query.get("id"):
        return query["id"][0]
    match = re.match(r"^/file/d/([A-Za-z0-9_-]+)", parsed.path)
    return match.group(1) if match else None


class ConfirmPage(html.parser.HTMLParser):
    """A parsed confirm page: Drive's download form (action + hidden inputs), ``/uc?export=download``
    links, the ``uc-error-subcaption`` text and the title."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.page = page
        self.form_action: str | None = None
        self.form_inputs: dict[str, str] = {}
        self.links: list[str] = []
        self.errors: list[str] = []
        self.title = ""
        self._in_form = self._in_error = self._in_title = False
        self.feed(page)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {key: value or "" for key, value in attrs}
        if tag == "form" and attributes.get("id") == "download-form":
            self.form_action, self._in_form = attributes.get("action", ""), True
        elif tag == "input" and self._in_form and attributes.get("type") == "hidden" and attributes.get("name"):
            self.form_inputs[attributes["name"]] = attributes.get("value", "")
        elif tag == "a" and "export=download" in attributes.get("href", ""):
            self.links.append(attributes["href"])
        elif tag == "p" and "uc-error-subcaption" in attributes.get("class", "").split():
            self._in_error = True
        elif tag == "title":
            self._in_title = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False
        elif tag == "p":
            self._in_error = False
        elif tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_error and data.strip():
            self.errors.append(data.strip())
        if self._in_title:
            self.title += data


    def file_url(self, page_url: str, cookies: http.cookiejar.CookieJar) -> str | None:
        """The file's URL behind this page (served at ``page_url``), or None when it offers none."""
        if self.form_action is not None:
            action = urllib.parse.urljoin(page_url, self.form_action)
            parts = urllib.parse.urlsplit(action)
            query = dict(urllib.parse.parse_qsl(parts.query))
            query.update(self.form_inputs)
            return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))
        if self.links:
            return urllib.parse.urljoin(page_url, html.unescape(self.links[0]))
        match = re.search(r'"downloadUrl":"([^"]+)"', self.page)
        if match:
            return match.group(1).replace("\\u003d", "=").replace("\\u0026", "&")
        token = next((cookie.value for cookie in cookies if cookie.name.startswith("download_warning")), None)
        if token:
            parts = urllib.parse.urlsplit(page_url)
            query = dict(urllib.parse.parse_qsl(parts.query))
            if query.get("confirm") != token:
                query["confirm"] = token
                return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))
        return None
