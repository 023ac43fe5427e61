"""Workflow fixtures shared by the test modules: one working folder and one build per session.

``built`` runs Snakemake's default target once (download, Stage 1, preprocess, mosaic on the lean
synthetic field); every workflow test module reads those products instead of building its own.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from astropy.table import Table
from support import ROOT, TEST_FIELD_ARGS, TEST_TOKEN, TEST_TOKEN_ENV, make_workdir

# Modules here that still import these from ``conftest`` find them in this file.
__all__ = [
    "TEST_FIELD_ARGS",
    "TEST_TOKEN",
    "TEST_TOKEN_ENV",
    "exposures",
    "planned_jobs",
    "snakemake",
]
SNAKEMAKE = Path(os.sys.executable).parent / "snakemake"
# Aperture diameters of the test catalogue: the last (4") holds all of every injected source's
# light (wfsspipe.synthetic.render truncates sources 1.9" from their centre).
TEST_APERTURES_ARCSEC = [0.36, 0.5, 0.7, 1.0, 1.5, 3.0, 4.0]


@pytest.fixture(scope="session")
def workdir(synthetic_field, archive_server, tmp_path_factory):
    """A working folder with fields.csv (from computeFields) and the workflow config overlay."""
    return make_workdir(
        tmp_path_factory.mktemp("workflow"),
        synthetic_field,
        archive_server,
        # The synthetic field's grizli configuration and alignment catalogue; offline.
        grizli={"path": str(synthetic_field / "GRIZLI"), "pure_parallel_wcs": False},
        preprocess={
            "alignment": {"remote_catalogs": [], "catalog": str(synthetic_field / "radec.txt")}
        },
        mosaic={"catalog": {"apertures_arcsec": TEST_APERTURES_ARCSEC}},
    )


def snakemake(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    command = [
        SNAKEMAKE, "--snakefile", ROOT / "workflow/Snakefile", "--directory", workdir,
        "--configfile", ROOT / "config/config.yaml", workdir / "config.yaml", "--cores", "2", *args,
    ]  # fmt: skip
    env = dict(os.environ, **{TEST_TOKEN_ENV: TEST_TOKEN})
    result = subprocess.run([str(c) for c in command], capture_output=True, text=True, env=env)
    if check and result.returncode:
        raise AssertionError(
            f"snakemake failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
        )
    return result


def planned_jobs(workdir: Path, *targets: str) -> dict[str, int]:
    """Jobs a dry run would run, by rule."""
    output = snakemake(workdir, "-n", "--quiet", "rules", "--", *targets).stdout
    jobs = {}
    for line in output.splitlines():
        words = line.split()
        if len(words) == 2 and words[1].isdigit() and words[0] not in ("total", "job"):
            jobs[words[0]] = int(words[1])
    return jobs


def exposures(workdir: Path) -> Table:
    return Table.read(workdir / "FIELDS/fields.csv")


@pytest.fixture(scope="session")
def built(workdir):
    """The default target built once per session: RATE files and the grizli products."""
    snakemake(workdir)
    return workdir
