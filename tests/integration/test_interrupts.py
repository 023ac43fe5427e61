"""Interrupted and broken runs: SIGKILL in the middle of Stage 1 and of a download, then a rerun
as a user would do it; a corrupt UNCAL already on disk with --keep-going.

Stage 1 is deterministic given the UNCAL (two runs give identical arrays; only the header DATE
differs), so "the same products as an uninterrupted run" is checked array by array.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from astropy.io import fits

from .helpers import (
    Injection,
    archive_counts,
    assert_products_whole,
    counts_since,
    inject,
    kill_group,
    sha256,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# The keep-going run: Stage 1 of exposure 1, whose UNCAL on disk is cut to whole FITS blocks short
# of its end (what a copy onto a full disk leaves), and of exposure 0, moved to a second field.
# Exposure 0's download is served a 503 first, so its Stage 1 can only start after exposure 1's
# job has failed: only --keep-going lets it start.
CORRUPT = 1
GOOD = 0
SECOND_FIELD = "sex-01"
TRUNCATED_BLOCKS = 10_000  # 28.8 MB of 58.7 MB
# SIGKILL Snakemake (and its job) once the Stage 1 log shows this step running.
KILL_STAGE1_AT = "Step jump running"
KILLED_EXPOSURE = GOOD  # compared with the keep-going run's RATE of the same exposure
KILLED_DOWNLOAD = 3  # served slowly ("slow"), killed once part of it is on disk

INJECTED = [
    Injection("corrupt (truncated) UNCAL on disk, run with --keep-going", 1,
              "its job fails naming the file and saying delete it and rerun; Stage 1 of another "
              "field's exposure starts after the failure and finishes", "test_interrupts.py"),
    Injection(f"SIGKILL of Snakemake during Stage 1 ({KILL_STAGE1_AT.split()[1]} step)", 1,
              "only .tmp-*/.stage1-* leftovers; --unlock, then --rerun-incomplete rebuilds the "
              "RATE; arrays equal an uninterrupted run's", "test_interrupts.py"),
    Injection("SIGKILL of Snakemake during a download (mid-body)", 1,
              "only the .part is left; --unlock, then --rerun-incomplete resumes it; the archive's "
              "file", "test_interrupts.py"),
]  # fmt: skip

ARRAYS = ("SCI", "ERR", "DQ", "VAR_POISSON", "VAR_RNOISE")


@pytest.fixture(scope="module")
def keep_going(new_workflow, field_rows, synthetic_field, archive_server):
    """Stage 1 of two exposures in two fields, one with a corrupt UNCAL on disk."""
    rows = [dict(row) for row in field_rows]
    rows[GOOD]["field"] = SECOND_FIELD
    workflow = new_workflow("keep-going", rows)
    broken = workflow.uncal(rows[CORRUPT])
    broken.parent.mkdir(parents=True)
    with open(synthetic_field / "archive" / broken.name, "rb") as source:
        broken.write_bytes(source.read(2880 * TRUNCATED_BLOCKS))
    inject(archive_server, {rows[GOOD]["filename"]: ["503"]})  # 2 s of backoff
    targets = [workflow.rate(rows[CORRUPT]), workflow.rate(rows[GOOD])]
    result = workflow.run("--keep-going", "--", *targets, label="keep-going")
    return workflow, rows, result


def _job_start(output: str, rule: str, exposure: str) -> int:
    """Where Snakemake's output announces the job of ``rule`` for ``exposure``."""
    block = rf"(?:local)?rule {rule}:\n(?:    .*\n)*?    wildcards: (?:root=\S*, )?field=\S+ exposure={exposure}\n"
    match = re.search(block, output)
    assert match, f"no {rule} job for {exposure} in the output"
    return match.start()


def test_corrupt_uncal_fails_clearly_and_the_rest_finishes(keep_going, synthetic_field):
    workflow, rows, result = keep_going
    assert result.returncode != 0
    assert result.output.count("Error in rule stage1") == 1
    broken = workflow.uncal(rows[CORRUPT])
    named = broken.relative_to(workflow.folder)  # as the user types it, in the run folder
    message = workflow.log("stage1", rows[CORRUPT]).read_text()
    assert f"{named}: FITS structure ends at byte" in message
    assert "delete it and rerun Snakemake, which downloads it again" in message
    assert f"{named}: FITS structure ends" in result.output  # also on the user's terminal
    assert not workflow.rate(rows[CORRUPT]).exists()
    # The other field's Stage 1 started after the failure (what --keep-going is for) and finished.
    failed_at = result.output.index("Error in rule stage1")
    assert _job_start(result.output, "stage1", rows[GOOD]["obs_id"]) > failed_at
    good = workflow.rate(rows[GOOD])
    assert good.exists() and good.parent.parent.name == SECOND_FIELD
    # Doing what the message says: delete it, rerun, and the archive's file comes back.
    broken.unlink()
    rerun = workflow.run("--", broken, label="refetch")
    assert rerun.returncode == 0, rerun.output[-3000:]
    assert assert_products_whole(workflow, synthetic_field / "archive") == 3  # 2 UNCAL, 1 RATE


def test_sigkill_in_stage1_then_rerun_incomplete_gives_the_same_rate(
    keep_going, new_workflow, field_rows, synthetic_field
):
    reference_run, reference_rows, _ = keep_going
    reference = reference_run.rate(reference_rows[GOOD])
    workflow = new_workflow("sigkill-stage1")
    row = workflow.rows[KILLED_EXPOSURE]
    rate, log = workflow.rate(row), workflow.log("stage1", row)

    process = workflow.start("--", rate, label="killed-stage1")
    wait_for(lambda: log.exists() and KILL_STAGE1_AT in log.read_text(), process, KILL_STAGE1_AT)
    kill_group(process)
    assert process.returncode == -9
    # Nothing under the product's name: at most temporary leftovers of the killed job.
    assert not rate.exists()
    assert all(path.name.startswith(".") for path in rate.parent.iterdir())
    assert list((workflow.folder / ".snakemake/incomplete").iterdir())  # Snakemake knows

    _rerun_as_a_user(workflow, rate)
    with fits.open(rate) as rebuilt, fits.open(reference) as uninterrupted:
        for name in ARRAYS:
            assert np.array_equal(rebuilt[name].data, uninterrupted[name].data, equal_nan=True), (
                name
            )
        for key in ("CRDS_CTX", "S_COLJMP", "COLJMPN", "R_DARK", "FILENAME"):
            assert rebuilt[0].header[key] == uninterrupted[0].header[key], key
    assert assert_products_whole(workflow, synthetic_field / "archive") == 2


def test_sigkill_during_a_download_then_rerun_resumes(
    new_workflow, archive_server, synthetic_field
):
    workflow = new_workflow("sigkill-download")
    row = workflow.rows[KILLED_DOWNLOAD]
    uncal = workflow.uncal(row)
    part = uncal.with_name(uncal.name + ".part")
    before = archive_counts(archive_server)
    inject(archive_server, {row["filename"]: ["slow"]})  # 1 MB per 5 s: time to kill mid-body

    process = workflow.start("--", uncal, label="killed-download")
    wait_for(lambda: part.exists() and part.stat().st_size > 0, process, "a partial download")
    kill_group(process)
    assert not uncal.exists()
    assert 0 < part.stat().st_size < int(row["size"])

    _rerun_as_a_user(workflow, uncal)
    assert sha256(uncal) == sha256(synthetic_field / "archive" / row["filename"])
    assert not part.exists()
    # Two requests: the slow one that was killed, then one that resumed from the part's end.
    assert counts_since(archive_server, before)[row["filename"]] == 2
    assert counts_since(archive_server, before, "resumed")[row["filename"]] == 1
    assert assert_products_whole(workflow, synthetic_field / "archive") == 1


def _rerun_as_a_user(workflow, target):
    """Rerun with --rerun-incomplete; a SIGKILLed Snakemake leaves its lock, which the rerun
    refuses with advice to run --unlock: follow it, then rerun."""
    result = workflow.run("--rerun-incomplete", "--", target, label="rerun")
    if result.returncode:
        assert "--unlock" in result.output, result.output[-3000:]
        unlocked = workflow.run("--unlock", label="unlock")
        assert unlocked.returncode == 0, unlocked.output[-2000:]
        result = workflow.run("--rerun-incomplete", "--", target, label="rerun")
    assert result.returncode == 0, result.output[-3000:]
    return result
