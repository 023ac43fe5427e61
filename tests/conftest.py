"""Session fixtures: the synthetic field (generated once per session) and the archive server."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from support import PYTHON, ROOT, TEST_FIELD_ARGS, TEST_TOKEN, ArchiveServer


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


@pytest.fixture(scope="session")
def archive_server(synthetic_field, tmp_path_factory):
    server = ArchiveServer(
        synthetic_field / "archive", tmp_path_factory.mktemp("archive"), token=TEST_TOKEN
    )
    yield server
    server.stop()
