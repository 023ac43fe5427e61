"""Running the local stand-in servers (archive, CRDS, MAST): their scripts' serving loop, and
starting and stopping them as processes (``make demo`` and the tests)."""

from __future__ import annotations

import signal
import subprocess
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from ..atomic import write_text

ROOT = Path(__file__).resolve().parents[4]


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
