"""A stand-in for MAST's download service, on 127.0.0.1, with faults on request.

Serves the files of one folder at MAST-shaped URLs, ``/api/v0.1/Download/file?uri=mast:JWST/
product/<name>``, with Content-Length and Range support, so the workflow's real download code runs
against it unchanged. Faults are queued per file through ``POST /faults`` (JSON
``{"<name>": ["503", "drop", "truncate", "slow", "wrongsize"]}``): each request for that file takes
the next fault, then the file is served normally. ``GET /stats`` reports requests per file, how
many carried the expected token (the token itself is never stored) and how many resumed an earlier
transfer (a Range request served from an offset).

    python resources/scripts/archiveServer.py --root demo/archive --port 0 --port-file port.txt
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import defaultdict
from http import HTTPStatus
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from wfsspipe.layout import UNCAL_RE

from .serving import FileFaults, StandInHandler, local_server

log = logging.getLogger(__name__)

DOWNLOAD_PATH = "/api/v0.1/Download/file"
URI_PREFIX = "mast:JWST/product/"
FAULTS = {"500", "503", "drop", "truncate", "slow", "wrongsize"}


class ArchiveState(FileFaults):
    def __init__(self, root: Path, token: str | None, slow_seconds: float):
        super().__init__()
        self.root = Path(root)
        self.token_digest = hashlib.sha256(token.encode()).hexdigest() if token else None
        self.slow_seconds = slow_seconds
        self.authorized: dict[str, int] = defaultdict(int)
        self.resumed: dict[str, int] = defaultdict(int)


class ArchiveHandler(StandInHandler):
    FAULTS = frozenset(FAULTS)

    server_version = "wfsspipe-archive/1"
    state: ArchiveState  # set on the subclass made by make_server

    def log_message(self, fmt, *args):  # quiet by default; never logs headers
        log.debug("%s " + fmt, self.address_string(), *args)

    def do_GET(self):
        parsed = urlparse(self.path)
        if parsed.path == "/stats":
            with self.state.lock:
                body = {
                    "requests": dict(self.state.requests),
                    "authorized": dict(self.state.authorized),
                    "resumed": dict(self.state.resumed),
                }
            return self._json(body)
        if parsed.path != DOWNLOAD_PATH:
            return self.send_error(HTTPStatus.NOT_FOUND, "unknown endpoint")
        uri = parse_qs(parsed.query).get("uri", [""])[0]
        name = uri[len(URI_PREFIX) :] if uri.startswith(URI_PREFIX) else ""
        if not UNCAL_RE.match(name) or not (self.state.root / name).is_file():
            return self.send_error(HTTPStatus.NOT_FOUND, "no such product")
        self._count_token(name)
        self._serve(self.state.root / name, self.state.next_fault(name))

    def do_POST(self):
        if urlparse(self.path).path != "/faults":
            return self.send_error(HTTPStatus.NOT_FOUND, "unknown endpoint")
        return self._queue_faults()

    def _count_token(self, name: str) -> None:
        header = self.headers.get("Authorization", "")
        if self.state.token_digest and header.startswith("token "):
            given = hashlib.sha256(header[6:].encode()).hexdigest()
            if given == self.state.token_digest:
                with self.state.lock:
                    self.state.authorized[name] += 1

    def _serve(self, path: Path, fault: str | None) -> None:
        if fault in ("500", "503"):
            return self.send_error(int(fault), "injected fault")
        size = path.stat().st_size
        start = 0
        ranged = self.headers.get("Range", "")
        if ranged.startswith("bytes=") and ranged.endswith("-"):
            start = int(ranged[6:-1])
            if start >= size:
                self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
                self.send_header("Content-Range", f"bytes */{size}")
                self.end_headers()
                return
        if start:
            with self.state.lock:
                self.state.resumed[path.name] += 1
        length = size - start
        advertised = length + 2880 if fault == "wrongsize" else length
        self.send_response(HTTPStatus.PARTIAL_CONTENT if start else HTTPStatus.OK)
        self.send_header("Content-Type", "application/fits")
        self.send_header("Accept-Ranges", "bytes")
        if start:
            self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
        # "truncate" announces only what it sends (a 200 with a short, self-consistent body).
        send = length // 2 - (length // 2) % 2880 if fault == "truncate" else length
        self.send_header("Content-Length", str(send if fault == "truncate" else advertised))
        self.end_headers()
        if fault == "drop":
            send = length // 3
        with open(path, "rb") as handle:
            handle.seek(start)
            remaining = send
            while remaining > 0:
                chunk = handle.read(min(1 << 20, remaining))
                if fault == "slow":
                    time.sleep(self.state.slow_seconds)
                self.wfile.write(chunk)
                remaining -= len(chunk)
        if fault in ("drop", "wrongsize"):
            self.close_connection = True  # the client sees a body shorter than announced


def make_server(root: Path, port: int = 0, token: str | None = None, slow_seconds: float = 5.0):
    """A ThreadingHTTPServer on 127.0.0.1:``port`` (0: any free port) serving ``root``."""
    return local_server(ArchiveHandler, port, state=ArchiveState(root, token, slow_seconds))


def base_url(server) -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}{DOWNLOAD_PATH}"
