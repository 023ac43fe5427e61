"""The synthetic CRDS server (resources/scripts/crdsServer.py) in its own process, for the tests
that sync CRDS files through the real crds client. Imported as ``crds_server_process``."""

from __future__ import annotations

from pathlib import Path

import requests
from support import PYTHON, ROOT, start_server, stop_process


class CrdsServer:
    """Serves the CRDS cache ``root`` on 127.0.0.1; stopped by PID with :meth:`stop`."""

    def __init__(self, root: Path, workdir: Path):
        port_file = Path(workdir) / "crds.port"
        command = [PYTHON, ROOT / "resources/scripts/crdsServer.py", "--root", root,
                   "--port-file", port_file]  # fmt: skip
        self.process = start_server(command, port_file, "the CRDS server")
        self.url = f"http://localhost:{int(port_file.read_text())}"  # CRDS_SERVER_URL

    def stats(self) -> dict:
        """JSON-RPC calls per method and downloads per file so far."""
        return requests.get(f"{self.url}/stats", timeout=5).json()

    def faults(self, **names: list[str]) -> None:
        """Set the files served as missing or corrupt (none: no faults)."""
        requests.post(f"{self.url}/faults", json=names, timeout=5).raise_for_status()

    def stop(self) -> None:
        stop_process(self.process)
