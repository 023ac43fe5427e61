"""Download faults through real Snakemake runs against the local archive server.

Every fault ends in one of two ways: the archive's file, byte for byte, under the UNCAL's name, or a
failed job that says what went wrong after the configured attempts and leaves nothing behind (no
product, no ``.part``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from .helpers import (
    Injection,
    archive_counts,
    assert_products_whole,
    counts_since,
    inject,
    sha256,
)

pytestmark = [pytest.mark.integration]


@dataclass(frozen=True)
class Case:
    """Faults served for one exposure's UNCAL, in order, and what its table row says."""

    what: str  # the fault, as tests/README.md names it
    served: tuple[str, ...]  # archive faults (synthetic/archive.py), one per request
    table_size: str = "right"  # the table's size for the product: right, blank or wrong
    problems: tuple[str, ...] = ()  # regexes: the reasons the job log must give


# Exposure i of the field gets case i. Each recovers: its faults, then the whole file.
RECOVER_RETRIES = 4
RECOVERED = (
    Case("HTTP 500/503 burst", ("500", "503", "500"), problems=("HTTP 500", "HTTP 503")),
    Case("connection dropped mid-body (resumed with Range)", ("drop",),
         problems=("transfer interrupted after [1-9]",)),
    Case("truncated body served with 200 (no size in the table)", ("truncate",), "blank",
         problems=("FITS structure ends",)),
    Case("response slower than the timeout, then a Content-Length the table contradicts",
         ("slow", "wrongsize"),
         problems=("transfer interrupted after 0 bytes \\(no data for 2 s\\)", r"offers (\d+) bytes but the fields table says (?!\1)\d+")),
)  # fmt: skip
# MAST's sizes are unreliable: a file whose checksums verify is kept, with a warning, no retry.
KEPT = (
    Case("size in the fields table disagrees with the archive (the file's checksums verify)", (),
         "wrong", problems=(r"\d+ bytes where the fields table says \d+; kept: its FITS structure "
                            "and the CHECKSUM/DATASUM of every HDU verify",)),
)  # fmt: skip
# Each persists through every attempt: a clear failure, nothing left.
GIVE_UP_RETRIES = 3
FAILING = (
    Case("HTTP 503 on every attempt", ("503",) * GIVE_UP_RETRIES, problems=("HTTP 503",)),
    Case("truncated body with 200 on every attempt (no size in the table)",
         ("truncate",) * GIVE_UP_RETRIES, "blank", problems=("FITS structure ends",)),
    Case("slow, dropped, slow: never a whole body", ("slow", "drop", "slow"),
         problems=(r"transfer interrupted after \d+ bytes \(no data for 2 s\)",)),
)  # fmt: skip
WRONG_SIZE_EXTRA = 2880  # the "wrong" size: one FITS block more than the archive's file


def _injections() -> list[Injection]:
    test = "test_download_faults.py"
    rows = []
    for case in RECOVERED:
        outcome = f"retried; the archive's file (sha256) after {len(case.served) + 1} requests"
        rows.append(Injection(case.what, len(case.served), outcome, test))
    for case in KEPT:
        outcome = "kept with a warning naming both sizes; the archive's file after 1 request"
        rows.append(Injection(case.what, 1, outcome, test))
    for case in FAILING:
        times = len(case.served)
        outcome = (
            f"job fails after {GIVE_UP_RETRIES} attempts naming the last problem; "
            "no UNCAL, no .part"
        )
        rows.append(Injection(case.what, times, outcome, test))
    return rows


INJECTED = _injections()


def _rows_for(field_rows, cases):
    rows = [dict(row) for row in field_rows]
    assert len(rows) >= len(cases), "the synthetic field has fewer exposures than cases"
    for row, case in zip(rows, cases):
        if case.table_size == "blank":
            row["size"] = ""
        elif case.table_size == "wrong":
            row["size"] = str(int(row["size"]) + WRONG_SIZE_EXTRA)
    return rows[: len(cases)]


def _download(new_workflow, archive_server, field_rows, name, cases, retries, *flags):
    rows = _rows_for(field_rows, cases)
    # timeout: 2 s without data abandons a "slow" response (the server pauses 5 s per MB).
    workflow = new_workflow(name, rows, retries=retries, timeout=2)
    before = archive_counts(archive_server)
    inject(archive_server, {row["filename"]: case.served for row, case in zip(rows, cases)})
    # Downloads wait on the network, not the CPU: all four side by side.
    result = workflow.run(*flags, "--", *(workflow.uncal(row) for row in rows), cores=len(rows))
    return workflow, rows, before, result


@pytest.fixture(scope="module")
def recovered(new_workflow, archive_server, field_rows):
    return _download(
        new_workflow, archive_server, field_rows, "download-recover", RECOVERED, RECOVER_RETRIES
    )


@pytest.fixture(scope="module")
def failing(new_workflow, archive_server, field_rows):
    return _download(
        new_workflow, archive_server, field_rows, "download-give-up", FAILING, GIVE_UP_RETRIES,
        "--keep-going",
    )  # fmt: skip


def test_every_recoverable_fault_ends_in_the_archive_file(
    recovered, archive_server, synthetic_field
):
    workflow, rows, before, result = recovered
    assert result.returncode == 0, result.output[-4000:]
    requests_made = counts_since(archive_server, before)
    with_token = counts_since(archive_server, before, "authorized")
    for row, case in zip(rows, RECOVERED):
        name = row["filename"]
        assert sha256(workflow.uncal(row)) == sha256(synthetic_field / "archive" / name), case.what
        # Each fault cost exactly one request (and was used up), then one request succeeded.
        assert requests_made[name] == len(case.served) + 1, case.what
        assert with_token[name] == requests_made[name]
        log = workflow.log("download", row).read_text()
        assert f"attempt 1/{RECOVER_RETRIES} for mast:JWST/product/{name} failed" in log
        for problem in case.problems:
            assert re.search(problem, log), (case.what, problem, log[-2000:])
    assert not list(workflow.fields_dir.rglob("*.part"))
    assert assert_products_whole(workflow, synthetic_field / "archive") == len(rows)


@pytest.fixture(scope="module")
def kept(new_workflow, archive_server, field_rows):
    return _download(new_workflow, archive_server, field_rows, "download-kept", KEPT, 2)


def test_a_size_the_table_gets_wrong_is_kept_when_the_checksums_verify(
    kept, archive_server, synthetic_field
):
    workflow, rows, before, result = kept
    assert result.returncode == 0, result.output[-4000:]
    requests_made = counts_since(archive_server, before)
    for row, case in zip(rows, KEPT):
        name = row["filename"]
        assert sha256(workflow.uncal(row)) == sha256(synthetic_field / "archive" / name)
        assert requests_made[name] == 1  # no retry: the first copy was whole
        log = workflow.log("download", row).read_text()
        assert "failed" not in log, log[-2000:]
        for problem in case.problems:
            assert re.search(problem, log), (case.what, problem, log[-2000:])
        assert "WARNING" in log


def test_persistent_faults_fail_clearly_and_leave_nothing(failing, archive_server, synthetic_field):
    workflow, rows, before, result = failing
    assert result.returncode != 0
    assert result.output.count("Error in rule download") == len(FAILING)
    requests_made = counts_since(archive_server, before)
    for row, case in zip(rows, FAILING):
        name = row["filename"]
        assert not workflow.uncal(row).exists(), case.what
        assert requests_made[name] == GIVE_UP_RETRIES, case.what  # the configured attempts, no more
        log = workflow.log("download", row).read_text()
        assert f"mast:JWST/product/{name}: gave up after {GIVE_UP_RETRIES} attempts" in log
        assert "nothing was left at" in log
        last = log.split("last problem:")[-1]
        assert re.search(case.problems[0], last), (case.what, last[:500])
    assert not [p for p in workflow.fields_dir.rglob("*") if p.is_file() and "/logs/" not in str(p)]
    assert assert_products_whole(workflow, synthetic_field / "archive") == 0
