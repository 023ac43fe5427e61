"""computeFields.py in query mode: astroquery itself against a local MAST Portal API server.

The server (resources/scripts/mastServer.py) serves >2,000 observations of three programs from
the public table, plus level-3 source rows, exclusive-access rows and one malformed row. astroquery
finds it through its own configuration (``[mast] server`` in astroquery.cfg, under a private HOME),
so nothing of ours is replaced.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import requests
from astropy.table import Table
from support import PYTHON, ROOT, start_server, stop_process

from .helpers import Injection

pytestmark = pytest.mark.integration

# The first ROWS_PER_PROGRAM rows per program of the synthetic MAST-format table of all public
# exposures (../shared/data/fields/public.ecsv), kept in the repository so a clone has them.
PUBLIC = ROOT / "tests" / "data" / "mast_observations.ecsv"
ROWS_PER_PROGRAM = 800  # 3 programs: 2,400 observations
BATCH = 150
PAGESIZE = 500  # astroquery's pagesize, set in its config: every program query takes 2 pages
TOKEN = "mast-test-token-42"
TOKEN_ENV = "WFSSPIPE_TEST_MAST_TOKEN"
SCRIPT = ROOT / "resources" / "scripts" / "computeFields.py"

# For tests/README.md's inventory (tests/integration/inventory.py lists the modules it reads).
INJECTED = [
    Injection(
        "MAST answers 504 once mid-query", 1, "retried; same fields.csv", "test_mast_query.py"
    ),
    Injection(
        "MAST unreachable", 1, "exit 2 naming the program; nothing written", "test_mast_query.py"
    ),
    Injection(
        "level-3, exclusive-access and malformed MAST rows",
        16,
        "skipped, listed in rejected.csv; --strict: exit 2",
        "test_mast_query.py",
    ),
    Injection(
        "invalid MAST token with --proprietary", 1, "exit 2, login failed", "test_mast_query.py"
    ),
]


class MastServer:
    """mastServer.py in its own process, stopped by PID."""

    def __init__(self, table: Path, folder: Path):
        self.folder = folder
        self.home = folder / "home"
        self.home.mkdir()
        port_file = folder / "mast.port"
        self.dump = folder / "served.ecsv"
        command = [
            PYTHON, ROOT / "resources/scripts/mastServer.py", "--table", table, "--port-file",
            port_file, "--dump", self.dump, "--astroquery-config", folder / "config", "--pagesize",
            str(PAGESIZE), "--token-env", TOKEN_ENV,
        ]  # fmt: skip
        env = dict(os.environ, **{TOKEN_ENV: TOKEN})
        self.process = start_server(command, port_file, "the MAST server", env=env)
        self.url = f"http://127.0.0.1:{int(port_file.read_text())}"

    def env(self, config: Path | None = None, **extra) -> dict:
        """The environment of a user whose astroquery.cfg points at this server."""
        env = dict(
            os.environ, HOME=str(self.home), XDG_CONFIG_HOME=str(config or self.folder / "config")
        )
        env.pop("MAST_API_TOKEN", None)
        return {**env, **extra}

    def stats(self) -> dict:
        return requests.get(f"{self.url}/stats", timeout=10).json()

    def fail_once(self, status: int, after: int) -> None:
        requests.post(f"{self.url}/faults", json={"status": status, "after": after}, timeout=10)

    def stop(self) -> None:
        stop_process(self.process)


@pytest.fixture(scope="module")
def mast_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mast")
    public = Table.read(PUBLIC)
    programs = sorted(set(public["proposal_id"]))
    assert len(programs) == 3
    keep = [
        i
        for p in programs
        for i in list((public["proposal_id"] == p).nonzero()[0])[:ROWS_PER_PROGRAM]
    ]
    table = folder / "observations.ecsv"
    public[sorted(keep)].write(table)
    server = MastServer(table, folder)
    yield server
    server.stop()


def compute(env: dict, output: Path, *args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PYTHON, SCRIPT, "--output-dir", output, "--no-plot", "--retry-wait", "0", *args],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


@pytest.fixture(scope="module")
def reference(mast_server, tmp_path_factory) -> Path:
    """--from-table on exactly the rows the server serves."""
    output = tmp_path_factory.mktemp("from-table")
    result = compute(dict(os.environ), output, "--from-table", mast_server.dump)
    assert result.returncode == 0, result.stderr
    return output


def test_query_mode_matches_from_table_in_batches(mast_server, reference, tmp_path):
    before = mast_server.stats()
    result = compute(mast_server.env(), tmp_path / "FIELDS", "--batch-size", str(BATCH))
    assert result.returncode == 0, result.stderr
    stats = mast_server.stats()

    assert (tmp_path / "FIELDS/fields.csv").read_bytes() == (reference / "fields.csv").read_bytes()
    registry = json.loads((tmp_path / "FIELDS/field_names.json").read_text())
    assert registry == json.loads((reference / "field_names.json").read_text())
    fields = pd.read_csv(tmp_path / "FIELDS/fields.csv", dtype={"proposal_id": str})
    assert len(fields) == 3 * ROWS_PER_PROGRAM and fields["field"].nunique() > 10
    assert fields["dataURI"].str.endswith("_uncal.fits").all() and (fields["size"] > 0).all()

    # Every product request within the batch size; each program's exposures asked for once.
    asked = stats["product_obsids"][len(before["product_obsids"]) :]
    assert max(asked) <= BATCH
    assert sum(asked) == 3 * ROWS_PER_PROGRAM + 1  # the malformed row is only found later
    pages = stats["requests"]["invoke:Mast.Caom.Filtered"] - before["requests"].get(
        "invoke:Mast.Caom.Filtered", 0
    )
    assert pages == 3 * 2  # 800 + extras rows at pagesize 500: two pages per program

    # Level-3, exclusive-access and malformed rows: left out, reported, listed.
    rejected = pd.read_csv(tmp_path / "FIELDS/rejected.csv", dtype=str)
    kinds = rejected.groupby("kind")["obs_id"].apply(set).to_dict()
    assert len(kinds["level3"]) == 9 and all("_s0000" in o for o in kinds["level3"])
    assert len(kinds["exclusive"]) == 6 and len(kinds["malformed"]) == 1
    (malformed,) = kinds["malformed"]
    assert f"skipped {malformed}: s_region could not be parsed" in result.stdout
    assert "6 exclusive, 9 level3, 1 malformed" in result.stdout
    assert not set().union(*kinds.values()) & set(fields["obs_id"])
    assert rejected.equals(pd.read_csv(reference / "rejected.csv", dtype=str))
    assert "product batch 6/6" in result.stderr  # progress per program and batch


def test_a_504_mid_way_is_retried(mast_server, reference, tmp_path):
    before = mast_server.stats()
    mast_server.fail_once(504, after=5)  # inside the second program's product batches
    result = compute(mast_server.env(), tmp_path / "FIELDS", "--batch-size", str(BATCH))
    assert result.returncode == 0, result.stderr
    stats = mast_server.stats()
    assert stats["faults_served"][len(before["faults_served"]) :] == [504]
    assert stats["pending_faults"] == 0
    assert "504" in result.stderr and "Retrying" in result.stderr
    assert (tmp_path / "FIELDS/fields.csv").read_bytes() == (reference / "fields.csv").read_bytes()


def test_strict_refuses_the_malformed_row(mast_server, tmp_path):
    result = compute(mast_server.env(), tmp_path / "FIELDS", "--strict")
    assert result.returncode == 2
    assert "1 malformed row(s) and --strict" in result.stderr
    assert "_nis: s_region could not be parsed" in result.stderr
    assert "nothing was written" in result.stderr and not (tmp_path / "FIELDS").exists()


def test_proprietary_logs_in_through_astroquery(mast_server, tmp_path):
    result = compute(mast_server.env(), tmp_path / "NOTOKEN", "--proprietary")
    assert result.returncode == 2 and "needs a MAST token: set MAST_API_TOKEN" in result.stderr

    before = mast_server.stats()
    env = mast_server.env(MAST_API_TOKEN=TOKEN)
    result = compute(env, tmp_path / "FIELDS", "--proprietary", "--proposal-ids", "1571")
    assert result.returncode == 0, result.stderr
    stats = mast_server.stats()
    assert stats["requests"]["whoami"] - before["requests"].get("whoami", 0) == 1
    assert stats["authorized"] > before["authorized"]
    fields = pd.read_csv(tmp_path / "FIELDS/fields.csv", dtype=str)
    exclusive = {"jw01571990001_02101_00001_nis", "jw01571990001_02101_00002_nis"}
    assert exclusive <= set(fields["obs_id"])
    assert set(fields.loc[fields["obs_id"].isin(exclusive), "dataRights"]) == {"EXCLUSIVE_ACCESS"}

    result = compute(mast_server.env(MAST_API_TOKEN="wrong"), tmp_path / "BAD", "--proprietary")
    assert (
        result.returncode == 2
        and "logging in to MAST with the token in MAST_API_TOKEN failed" in result.stderr
    )


def test_unreachable_server_is_a_clear_error(mast_server, tmp_path):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = tmp_path / "config"
    (config / "astropy").mkdir(parents=True)
    (config / "astropy" / "astroquery.cfg").write_text(
        f"[mast]\nserver = http://127.0.0.1:{port}\n"
    )
    result = compute(mast_server.env(config), tmp_path / "FIELDS", "--proposal-ids", "1571")
    assert result.returncode == 2
    assert "MAST could not be reached for program 1571 after 5 attempts" in result.stderr
    assert "--from-table" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "FIELDS").exists()
