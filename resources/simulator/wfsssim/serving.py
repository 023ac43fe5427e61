"""Running the local stand-in servers (archive, CRDS, MAST): their scripts' serving loop, and
starting and stopping them as processes (``make demo`` and the tests)."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from collections import defaultdict, deque
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from wfsspipe.atomic import write_text

ROOT = Path(__file__).resolve().parents[4]


class FileFaults:
    """What the file servers' states (archive, Zenodo) share: the faults queued per file name by
    ``POST /faults`` (:class:`StandInHandler`), the requests counted per name, and one lock."""

    def __init__(self):
        self.faults: dict[str, deque[str]] = defaultdict(deque)
        self.requests: dict[str, int] = defaultdict(int)
        self.lock = threading.Lock()

    def next_fault(self, name: str) -> str | None:
        """Count a request for ``name``; the fault to serve it with (None: serve it whole)."""
        with self.lock:
            self.requests[name] += 1
            queue = self.faults.get(name)
            return queue.popleft() if queue else None


class StandInHandler(BaseHTTPRequestHandler):
    """What the stand-in servers' request handlers share: JSON replies, and the ``POST /faults``
    queue of the file servers (archive, Zenodo): ``{name: [fault, ...]}`` appended to
    ``state.faults[name]`` (a deque per name) under ``state.lock`` (:class:`FileFaults`)."""

    FAULTS: frozenset[str] = frozenset()  # the faults a file server can serve

    def _json(self, body) -> None:
        data = json.dumps(body).encode()
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _queue_faults(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        try:
            wanted = json.loads(self.rfile.read(length) or b"{}")
            assert isinstance(wanted, dict) and all(
                isinstance(v, list) and set(v) <= self.FAULTS for v in wanted.values()
            )
        except (ValueError, AssertionError):
            return self.send_error(
                HTTPStatus.BAD_REQUEST,
                f"faults must be {{name: [{', '.join(sorted(self.FAULTS))}]}}",
            )
        with self.state.lock:
            for name, faults in wanted.items():
                self.state.faults[name].extend(faults)
        return self._json({"queued": {k: len(v) for k, v in self.state.faults.items()}})


def local_server(
    handler: type[BaseHTTPRequestHandler], port: int = 0, **attributes
) -> ThreadingHTTPServer:
    """A ThreadingHTTPServer on 127.0.0.1:``port`` (0: any free port) whose requests are
    handled by ``handler`` with ``attributes`` (its state) bound as class attributes."""
    bound = type(f"Bound{handler.__name__}", (handler,), attributes)
    server = ThreadingHTTPServer(("127.0.0.1", port), bound)
    server.daemon_threads = True
    return server


def serve(server, port_file: Path | None, message: str) -> int:
    """Write the port to ``port_file`` (when given: what starters wait for), print ``message``,
    serve until interrupted (SIGINT), then close the socket."""
    if port_file:
        write_text(port_file, f"{server.server_address[1]}\n")
    print(message, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def start_process(command: list, port_file: Path, what: str, timeout: float = 60, **popen):
    """A server script started in its own process; returns once it has written ``port_file``
    (the port it listens on), else stops it and raises RuntimeError naming ``what``."""
    port_file.unlink(missing_ok=True)
    process = subprocess.Popen([str(c) for c in command], cwd=ROOT, **popen)
    deadline = time.monotonic() + timeout
    while not port_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            stop_process(process)
            raise RuntimeError(f"{what} did not start")
        time.sleep(0.05)
    return process


def stop_process(process: subprocess.Popen, first: int = signal.SIGTERM) -> None:
    """Stop a started process by PID: ``first`` (SIGINT lets a server close cleanly), then
    SIGKILL after 10 s."""
    if process.poll() is None:
        process.send_signal(first)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
