"""A full disk: FIELDS/ on a small tmpfs volume. The job fails saying the disk is full, and no
half-written product survives under a product's name (nor a temporary file of it)."""

from __future__ import annotations

import shutil
import subprocess
from contextlib import contextmanager
from pathlib import Path

import pytest

from .helpers import (
    TOKEN,
    Injection,
    archive_counts,
    assert_products_whole,
    counts_since,
    files_containing,
    sha256,
)

pytestmark = [pytest.mark.integration]

# Volume sizes (MB) against the synthetic field's 58.7 MB UNCAL and 84 MB RATE: the first holds
# an UNCAL but not its RATE, the second not even the UNCAL.
STAGE1_VOLUME_MB = 70
DOWNLOAD_VOLUME_MB = 30

INJECTED = [
    Injection(f"full disk during Stage 1 ({STAGE1_VOLUME_MB} MB tmpfs: the UNCAL fits, the RATE "
              "does not)", 1, "job fails: 'the disk is full ... Free space'; no RATE, no "
              "temporary file; the UNCAL intact", "test_full_disk.py"),
    Injection(f"full disk during a download ({DOWNLOAD_VOLUME_MB} MB tmpfs)", 1,
              "job fails at once (no retry): 'No space left on device ... free space'; no UNCAL, "
              "no .part", "test_full_disk.py"),
]  # fmt: skip


@contextmanager
def small_volume(path: Path, megabytes: int):
    """A tmpfs of ``megabytes`` mounted at ``path`` (needs root or CAP_SYS_ADMIN)."""
    if not shutil.which("mount"):
        pytest.skip("no mount command: cannot make a small volume")
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={megabytes}m", "tmpfs", str(path)],
        capture_output=True, text=True,
    )  # fmt: skip
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        if subprocess.run(["umount", str(path)]).returncode:
            subprocess.run(["umount", "--lazy", str(path)], check=True)  # still busy: detach


def _leftovers(folder: Path) -> list[str]:
    """Everything on the volume but the logs and the UNCALs (products or temporaries)."""
    return sorted(
        str(path.relative_to(folder))
        for path in folder.rglob("*")
        if path.is_file() and "logs" not in path.parts and not path.name.endswith("_uncal.fits")
    )


def test_stage1_on_a_full_disk_leaves_no_rate(new_workflow, synthetic_field):
    workflow = new_workflow("full-disk-stage1")
    row = workflow.rows[0]
    rate = workflow.rate(row)
    with small_volume(workflow.fields_dir, STAGE1_VOLUME_MB):
        result = workflow.run("--", rate, label="full-disk-stage1")
        assert result.returncode != 0
        assert "Error in rule stage1" in result.output
        log = workflow.log("stage1", row).read_text()
        assert f"{rate}: the disk is full" in log and f"Free space in {rate.parent}" in log
        assert not rate.exists()
        # The atomic write cleaned up after itself: not even a temporary file is left.
        assert [name for name in _leftovers(workflow.fields_dir) if "benchmarks" not in name] == []
        uncal = workflow.uncal(row)
        assert sha256(uncal) == sha256(synthetic_field / "archive" / uncal.name)
        assert assert_products_whole(workflow, synthetic_field / "archive") == 1
        assert files_containing([workflow.folder], TOKEN) == []  # before the volume goes


def test_download_onto_a_full_disk_fails_at_once_and_leaves_nothing(
    new_workflow, archive_server, synthetic_field
):
    workflow = new_workflow("full-disk-download")
    row = workflow.rows[1]
    uncal = workflow.uncal(row)
    before = archive_counts(archive_server)
    with small_volume(workflow.fields_dir, DOWNLOAD_VOLUME_MB):
        result = workflow.run("--", uncal, label="full-disk-download")
        assert result.returncode != 0
        log = workflow.log("download", row).read_text()
        assert f"cannot write {uncal}.part" in log and "No space left on device" in log
        assert "free space (or fix permissions) there and rerun" in log
        # Not retried: another attempt would only fill the disk again.
        assert counts_since(archive_server, before)[row["filename"]] == 1
        assert "retrying" not in log
        assert not uncal.exists()
        assert _leftovers(workflow.fields_dir) == []
        assert not list(workflow.fields_dir.rglob("*.part"))
        assert assert_products_whole(workflow, synthetic_field / "archive") == 0
        assert files_containing([workflow.folder], TOKEN) == []
