"""A scriptable http server on 127.0.0.1 for download tests (tests only; no outside network).

``LocalServer(root)`` serves the files under ``root`` with HTTP Range support (206 / 416, as S3, GitHub
raw and Drive do), plus routes registered with ``route(path, fn)``; ``fn(handler, query)`` answers one
request with the ``send_*`` helpers below. Every request is logged as ``(path, query, range header)``.
"""

from __future__ import annotations

import http.server
import re
import threading
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Self

Route = Callable[["_Handler", dict[str, str]], None]


class LocalServer:
    def __init__(self, root: Path | None = None):
        self.root = root
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str], str | None]] = []
        self._server: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def route(self, path: str, fn: Route) -> None:
        self.routes[path] = fn

    def url(self, path: str = "/") -> str:
        assert self._server is not None, "start the server first (use it as a context manager)"
        return f"http://127.0.0.1:{self._server.server_address[1]}{path}"

    def ranges(self, path_prefix: str = "/") -> list[str | None]:
        return [header for path, _, header in self.requests if path.startswith(path_prefix)]

    def __enter__(self) -> Self:
        handler = type("Handler", (_Handler,), {"owner": self})
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = False  # server_close() joins the handlers: no socket outlives a test
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        assert self._server is not None and self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


class _Handler(http.server.BaseHTTPRequestHandler):
    owner: LocalServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        pass

    def do_GET(self):
        parsed = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(parsed.path)
        query = dict(urllib.parse.parse_qsl(parsed.query))
        self.owner.requests.append((path, query, self.headers.get("Range")))
        if path in self.owner.routes:
            self.owner.routes[path](self, query)
            return
        root = self.owner.root
        file = (root / path.lstrip("/")).resolve() if root is not None else None
        if file is None or not file.is_file() or root.resolve() not in file.parents:
            send_status(self, 404, "Not Found")
            return
        send_bytes(self, file.read_bytes())


def send_status(handler: _Handler, code: int, text: str) -> None:
    body = text.encode()
    handler.send_response(code)
    handler.send_header("Content-Type", "text/plain")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def send_html(handler: _Handler, page: str, *, cookies: tuple[str, ...] = ()) -> None:
    body = page.encode()
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html; charset=utf-8")
    for cookie in cookies:
        handler.send_header("Set-Cookie", cookie)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def send_bytes(handler: _Handler, data: bytes, *, content_type: str = "application/octet-stream",
               ranges: bool = True, drop_after: int | None = None) -> None:
    """``data`` (or the requested range of it); ``drop_after``: close the connection after that many
    body bytes although ``Content-Length`` promised more."""
    start = 0
    match = re.fullmatch(r"bytes=(\d+)-", handler.headers.get("Range") or "")
    if ranges and match:
        start = int(match.group(1))
        if start >= len(data):
            handler.send_response(416)
            handler.send_header("Content-Range", f"bytes */{len(data)}")
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        handler.send_response(206)
        handler.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
    else:
        handler.send_response(200)
    body = data[start:]
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    handler.send_header("Accept-Ranges", "bytes" if ranges else "none")
    handler.end_headers()
    if drop_after is not None and drop_after < len(body):
        handler.wfile.write(body[:drop_after])
        handler.wfile.flush()
        handler.close_connection = True
        return
    handler.wfile.write(body)
