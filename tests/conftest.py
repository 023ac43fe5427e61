"""Session fixtures: the synthetic field (generated once per session), the archive server, and
one workflow run of the default target on it (``built``), shared by the workflow tests and the
browser tests."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from crds_server_process import CrdsServer
from support import (
    PYTHON,
    ROOT,
    TERMINAL_FILE,
    TEST_APERTURES_ARCSEC,
    TEST_FIELD_ARGS,
    TEST_TOKEN,
    ArchiveServer,
    make_workdir,
    snakemake,
)


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


@pytest.fixture(scope="session")
def crds_server(synthetic_field, tmp_path_factory):
    """The synthetic CRDS context served like the CRDS server (resources/scripts/crdsServer.py)."""
    server = CrdsServer(synthetic_field / "crds_cache", tmp_path_factory.mktemp("crds-server"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def workdir(synthetic_field, archive_server, crds_server, tmp_path_factory):
    """A working folder with fields.csv (from computeFields) and the workflow config overlay.

    CRDS as on a real login node: ``crds_sync`` fills an empty cache in the folder from the CRDS
    server (the real crds client in remote mode), and the jobs read it offline."""
    import yaml

    folder = tmp_path_factory.mktemp("workflow")
    context = yaml.safe_load((synthetic_field / "config.yaml").read_text())["crds"]["context"]
    return make_workdir(
        folder,
        synthetic_field,
        archive_server,
        crds={
            "path": str(folder / "crds_cache"),
            "context": context,
            "server_url": crds_server.url,
            "sync": True,
        },  # fmt: skip
        # The synthetic field's grizli configuration and alignment catalogue; offline.
        grizli={"path": str(synthetic_field / "GRIZLI"), "pure_parallel_wcs": False},
        preprocess={
            "alignment": {"remote_catalogs": [], "catalog": str(synthetic_field / "radec.txt")}
        },
        mosaic={"catalog": {"apertures_arcsec": TEST_APERTURES_ARCSEC}},
        summary={"truth": str(synthetic_field / "truth.ecsv")},
        # Lean: the 6 sources brighter than 22 mag (3 stars, 3 continuum galaxies, all
        # line-free) are not extracted or fitted; the 12 emission-line galaxies are.
        extract={"bright_limit": 22.0},
    )


@pytest.fixture(scope="session")
def built(request):
    """The default target built once per session: RATE files, grizli products, redshifts, web
    maps, index page and catalogue. What Snakemake printed (a user's terminal) is kept in
    ``terminal.txt`` (stdout, then stderr) for tests/workflow/test_terminal.py.

    WFSSPIPE_TEST_BUILT=<dir> uses a folder built so before (a copy of one, for developing
    tests against; tests may write into it) instead of building."""
    if os.environ.get("WFSSPIPE_TEST_BUILT"):
        return Path(os.environ["WFSSPIPE_TEST_BUILT"])
    workdir = request.getfixturevalue("workdir")
    result = snakemake(workdir)
    (workdir / TERMINAL_FILE).write_text(result.stdout + result.stderr)
    return workdir
