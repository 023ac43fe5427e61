"""Helpers of the workflow tests. The session fixtures ``workdir`` and ``built`` (one build of
the default target on the synthetic field) are in tests/conftest.py, shared with the browser tests.
"""

from __future__ import annotations

from pathlib import Path

from astropy.table import Table
from support import TEST_APERTURES_ARCSEC, TEST_FIELD_ARGS, TEST_TOKEN, TEST_TOKEN_ENV, snakemake

# Modules here import these from ``conftest``.
__all__ = [
    "TEST_APERTURES_ARCSEC",
    "TEST_FIELD_ARGS",
    "TEST_TOKEN",
    "TEST_TOKEN_ENV",
    "exposures",
    "planned_jobs",
    "snakemake",
]


def planned_jobs(
    workdir: Path, *targets: str, flags: tuple[str, ...] = (), **how
) -> dict[str, int]:
    """Jobs a dry run would run, by rule (``flags``: more Snakemake options, e.g. -R zfit;
    ``how``: :func:`support.snakemake`'s python and configfiles)."""
    output = snakemake(workdir, "-n", "--quiet", "rules", *flags, "--", *targets, **how).stdout
    jobs = {}
    for line in output.splitlines():
        words = line.split()
        if len(words) == 2 and words[1].isdigit() and words[0] not in ("total", "job"):
            jobs[words[0]] = int(words[1])
    return jobs


def exposures(workdir: Path) -> Table:
    return Table.read(workdir / "FIELDS/fields.csv")
