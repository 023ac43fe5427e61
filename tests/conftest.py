"""Shared fixtures: the synthetic field (generated once per session) and the archive server."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
# The tests' lean synthetic field: one blocking filter, 7 groups (columnjump's minimum).
TEST_FIELD_ARGS = ["--seed", "1", "--filters", "F200W", "--ngroups", "7"]
# A MAST token as a user would set it; tests check it reaches the archive and nothing else.
TEST_TOKEN_ENV = "WFSSPIPE_TEST_TOKEN"
TEST_TOKEN = "test-token-0123456789"


@pytest.fixture(scope="session")
def synthetic_field(tmp_path_factory) -> Path:
    """A generated synthetic field; WFSSPIPE_TEST_FIELD=<dir> reuses one across sessions."""
    folder = (
        Path(os.environ["WFSSPIPE_TEST_FIELD"])
        if os.environ.get("WFSSPIPE_TEST_FIELD")
        else tmp_path_factory.mktemp("synthetic")
    )
    subprocess.run(
        [PYTHON, ROOT / "resources" / "scripts" / "simulateField.py", "--output", folder, *TEST_FIELD_ARGS],
        check=True, cwd=ROOT, capture_output=True,
    )  # fmt: skip
    return folder


class ArchiveServer:
    """The synthetic archive server in its own process, stopped by PID at the end."""

    def __init__(self, root: Path, workdir: Path, token: str = ""):
        self.port_file = workdir / "archive.port"
        self.port_file.unlink(missing_ok=True)
        command = [
            PYTHON,
            ROOT / "resources" / "scripts" / "archiveServer.py",
            "--root",
            root,
            "--port-file",
            self.port_file,
        ]
        env = dict(os.environ)
        if token:
            command += ["--token-env", TEST_TOKEN_ENV]
            env[TEST_TOKEN_ENV] = token
        self.process = subprocess.Popen([str(c) for c in command], cwd=ROOT, env=env)
        deadline = time.monotonic() + 30
        while not self.port_file.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the archive server did not start")
            time.sleep(0.05)
        self.port = int(self.port_file.read_text())
        self.base = f"http://127.0.0.1:{self.port}"
        self.download_url = f"{self.base}/api/v0.1/Download/file"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


@pytest.fixture(scope="session")
def archive_server(synthetic_field, tmp_path_factory):
    server = ArchiveServer(
        synthetic_field / "archive", tmp_path_factory.mktemp("archive"), token=TEST_TOKEN
    )
    yield server
    server.stop()
