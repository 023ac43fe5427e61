"""A MAST token given by environment reaches the archive's Authorization header and nowhere else.

Every Snakemake run of the integration tests has the token in its environment. This module makes
downloads of its own, then searches every file of every integration run still on disk (products
and their FITS headers, logs, benchmarks, Snakemake's metadata and run logs, the terminal output of
each run, a Snakemake report of each run with products) for the token, raw or base64-encoded.
Run alone, it also runs Stage 1 itself, so a Stage 1 log, benchmark and RATE are always searched.
"""

from __future__ import annotations

import pytest

from .helpers import (
    TOKEN,
    WORKFLOWS,
    Injection,
    archive_counts,
    counts_since,
    files_containing,
    product_files,
    secret_forms,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

INJECTED = [
    Injection("MAST token in the environment of every Snakemake run", 1,
              "every archive request carries it in Authorization; found in no output file, "
              "run output or report (raw or base64)", "test_secrets.py"),
]  # fmt: skip


@pytest.fixture(scope="module")
def searched(new_workflow, archive_server):
    """The secrets run, the folders to search, and the archive's counts for the run."""
    workflow = new_workflow("secrets")
    before = archive_counts(archive_server)
    targets = [workflow.uncal(row) for row in workflow.rows]
    if not any(
        path.name.endswith("_rate.fits") for other in WORKFLOWS for path in _products(other)
    ):
        targets.append(workflow.rate(workflow.rows[0]))  # run alone: Stage 1 here
    result = workflow.run("--", *targets, label="secrets")
    assert result.returncode == 0, result.output[-3000:]
    folders = [other.folder for other in WORKFLOWS if other.folder.exists()]
    for other in WORKFLOWS:
        if other is workflow or any(p.name.endswith("_rate.fits") for p in _products(other)):
            # The report of what ran there (Snakemake refuses a report whose QC plots were
            # never made, so the targets are the products the folder has, not everything).
            built = [p for p in _products(other) if p.parent.name in ("UNCAL", "RATE")]
            report = other.run(
                "--report", other.folder / "report.html", "--", *built, label="report"
            )
            assert report.returncode == 0, report.output[-3000:]
    return workflow, before, folders


def _products(workflow):
    return product_files(workflow.fields_dir) if workflow.fields_dir.exists() else []


def test_token_reaches_the_archive_on_every_request(searched, archive_server):
    workflow, before, _ = searched
    requests_made = counts_since(archive_server, before)
    with_token = counts_since(archive_server, before, "authorized")
    for row in workflow.rows:
        assert requests_made[row["filename"]] >= 1
        assert with_token[row["filename"]] == requests_made[row["filename"]]
    log = workflow.log("download", workflow.rows[0]).read_text()
    assert "with a MAST token" in log  # the log says a token was used, never which


def test_token_is_in_no_output(searched):
    _, _, folders = searched
    files = [path for folder in folders for path in folder.rglob("*") if path.is_file()]
    names = [str(path) for path in files]
    # What the search covered (so that a run producing less would fail here, not pass vacuously).
    for kind in ("/logs/download/", "/logs/stage1/", "/benchmarks/stage1/", "_rate.fits",
                 "_uncal.fits", "report.html", "/.snakemake/metadata/", "/.snakemake/log/",
                 "/runs/"):  # fmt: skip
        assert any(kind in name for name in names), f"no {kind} file was searched"
    assert files_containing(folders, TOKEN) == []


def test_the_search_finds_a_planted_token(tmp_path):
    """The search itself can fail: the token, raw or base64-encoded at any alignment, is found."""
    import base64

    for number, prefix in enumerate([b"", b"a", b"ab", b"abc"]):
        plain = tmp_path / f"plain{number}.txt"
        plain.write_bytes(prefix + TOKEN.encode() + b"\n")
        encoded = tmp_path / f"encoded{number}.html"
        encoded.write_bytes(b"data:;base64," + base64.b64encode(prefix + TOKEN.encode() + b"x"))
    assert len(files_containing([tmp_path], TOKEN)) == 8
    assert len(secret_forms(TOKEN)) == 4
