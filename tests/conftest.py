"""Session fixtures: the synthetic field (generated once per session), the archive server, and
one workflow run of the default target on it (``built``), shared by the workflow tests and the
browser tests.

``make test`` runs on two pytest-xdist workers (``-n 2``). The test modules that use ``built``
or ``workdir`` (:data:`BUILD_MODULES`) run on one worker, in collection order, as one unit: the
session build is made once, and the tests that write into it (a rebuilt RATE, ``-R zfit``) run
in the order they always have. The other worker takes the other modules, each module whole (its
module fixtures are set up once). Both workers share one
generated synthetic field, made under a file lock by the first worker that needs it."""

from __future__ import annotations

import contextlib
import fcntl
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

BUILD_GROUP = "session-build"
BUILD_FIXTURES = {"built", "workdir"}
# The modules that use the session build (``built``/``workdir``, also through getfixturevalue),
# run together on one xdist worker in collection order. Checked at collection and in ``built``.
BUILD_MODULES = frozenset({
    "tests/integration/test_browser.py",
    "tests/integration/test_interrupt_grizli.py",
    "tests/workflow/test_field_summary.py",
    "tests/workflow/test_grizli_stages.py",
    "tests/workflow/test_mixed_filters.py",
    "tests/workflow/test_redshift_stages.py",
    "tests/workflow/test_report.py",
    "tests/workflow/test_stage1_workflow.py",
    "tests/workflow/test_terminal.py",
    "tests/workflow/test_zfit_resume.py",
})  # fmt: skip


def _module(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def pytest_collection_modifyitems(config, items):
    unlisted = sorted(
        {_module(i.path) for i in items if BUILD_FIXTURES & set(i.fixturenames)} - BUILD_MODULES
    )
    if unlisted:
        raise pytest.UsageError(
            f"{', '.join(unlisted)} use(s) the session build: add to BUILD_MODULES in {__file__}"
        )


def pytest_xdist_make_scheduler(config, log):
    """``-n N`` (``--dist load`` or ``loadscope``): whole modules per worker, and the modules
    of :data:`BUILD_MODULES` as one unit, started first (xdist hands out the largest first)."""
    if config.getvalue("dist") not in ("load", "loadscope"):
        return None
    from xdist.scheduler import LoadScopeScheduling

    class SessionBuildScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return BUILD_GROUP if module in BUILD_MODULES else module

    return SessionBuildScheduling(config, log)


@contextlib.contextmanager
def _exclusive(lock: Path):
    with lock.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file is closed
        yield


@pytest.fixture(scope="session")
def synthetic_field(tmp_path_factory) -> Path:
    """A generated synthetic field; WFSSPIPE_TEST_FIELD=<dir> reuses one across sessions.

    Under xdist the workers share one, in the session's common temporary folder: the first
    generates it, the others wait on the lock and then reuse it (simulateField.py reuses a
    folder whose manifest matches the options)."""
    if os.environ.get("WFSSPIPE_TEST_FIELD"):
        folder, lock = Path(os.environ["WFSSPIPE_TEST_FIELD"]), contextlib.nullcontext()
    elif os.environ.get("PYTEST_XDIST_WORKER"):
        shared = tmp_path_factory.getbasetemp().parent  # one per session, above the workers'
        folder, lock = shared / "synthetic", _exclusive(shared / "synthetic.lock")
    else:
        folder, lock = tmp_path_factory.mktemp("synthetic"), contextlib.nullcontext()
    with lock:
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
    module = _module(request._pyfuncitem.path)  # the test that asked first (a session fixture)
    if os.environ.get("PYTEST_XDIST_WORKER") and module not in BUILD_MODULES:
        pytest.fail(f"{module} uses the session build: add it to BUILD_MODULES in {__file__}")
    workdir = request.getfixturevalue("workdir")
    result = snakemake(workdir)
    (workdir / TERMINAL_FILE).write_text(result.stdout + result.stderr)
    return workdir
