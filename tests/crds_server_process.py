"""The synthetic CRDS server (resources/scripts/crdsServer.py) in its own process, for the tests
that sync CRDS files through the real crds client. Imported as ``crds_server_process``."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import requests
from support import PYTHON, ROOT


class CrdsServer:
    """Serves the CRDS cache ``root`` on 127.0.0.1; stopped by PID with :meth:`stop`."""

    def __init__(self, root: Path, workdir: Path):
        port_file = Path(workdir) / "crds.port"
        port_file.unlink(missing_ok=True)
        self.process = subprocess.Popen(
            [PYTHON, str(ROOT / "resources/scripts/crdsServer.py"), "--root", str(root),
             "--port-file", str(port_file)],
            cwd=ROOT,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while not port_file.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the CRDS server did not start")
            time.sleep(0.05)
        self.url = f"http://localhost:{int(port_file.read_text())}"  # CRDS_SERVER_URL

    def stats(self) -> dict:
        """JSON-RPC calls per method and downloads per file so far."""
        return requests.get(f"{self.url}/stats", timeout=5).json()

    def faults(self, **names: list[str]) -> None:
        """Set the files served as missing or corrupt (none: no faults)."""
        requests.post(f"{self.url}/faults", json=names, timeout=5).raise_for_status()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
