"""Fixtures of the integration tests: the synthetic field's fields table and workflow folders."""

from __future__ import annotations

import subprocess
import sys

import pytest
from support import INTEGRATION_FILTER

from .helpers import ROOT, Workflow, make_workflow, read_table


@pytest.fixture(scope="session")
def field_rows(synthetic_field, tmp_path_factory) -> list[dict]:
    """The synthetic field's fields table (computeFields.py), as text rows: its
    INTEGRATION_FILTER exposures only (the machinery under test needs no second filter)."""
    folder = tmp_path_factory.mktemp("fields")
    subprocess.run(
        [sys.executable, ROOT / "resources/scripts/computeFields.py", "--from-table",
         synthetic_field / "observations.ecsv", "--proposal-ids", "9999", "--output-dir", folder,
         "--no-plot", "-q"],
        check=True,
    )  # fmt: skip
    rows = read_table(folder / "fields.csv")
    return [row for row in rows if row["pupil"] == INTEGRATION_FILTER]


@pytest.fixture(scope="session")
def new_workflow(synthetic_field, archive_server, field_rows, tmp_path_factory):
    """Make a workflow folder: ``new_workflow(name, rows=None, **download_settings)``."""

    def make(name: str, rows: list[dict] | None = None, **download) -> Workflow:
        rows = [dict(row) for row in (field_rows if rows is None else rows)]
        folder = tmp_path_factory.mktemp(name)
        return make_workflow(folder, rows, synthetic_field, archive_server.download_url, **download)

    return make
