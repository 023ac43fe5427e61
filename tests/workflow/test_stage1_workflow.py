"""Snakemake on the synthetic field: download from the local archive, Stage 1, reruns."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from astropy.io import fits
from conftest import exposures, planned_jobs, snakemake
from support import TEST_TOKEN as TOKEN

from wfsspipe.integrity import sha256_of

pytestmark = [pytest.mark.workflow, pytest.mark.slow]

# The fixtures ``workdir`` and ``built`` (the default target, built once per session) live in
# tests/conftest.py; the helpers above in tests/workflow/conftest.py.


def test_downloads_are_the_archive_files_and_carry_the_token(
    built, synthetic_field, archive_server
):
    import requests

    table = exposures(built)
    stats = requests.get(f"{archive_server.base}/stats", timeout=5).json()
    for row in table:
        got = built / "FIELDS" / row["field"] / "UNCAL" / row["filename"]
        served = synthetic_field / "archive" / row["filename"]
        assert sha256_of(got) == sha256_of(served), f"{got} is not the archive's file"
        assert stats["authorized"][row["filename"]] >= 1
    logs = "".join(p.read_text() for p in (built / "FIELDS").rglob("*.log"))
    assert TOKEN not in logs and "with a MAST token" in logs


def test_rates_recover_the_injected_count_rates(built, synthetic_field):
    for row in exposures(built):
        rate_file = built / "FIELDS" / row["field"] / "RATE" / f"{row['obs_id']}_rate.fits"
        with fits.open(rate_file) as hdus:
            header = hdus[0].header
            rate, err, dq = hdus["SCI"].data, hdus["ERR"].data, hdus["DQ"].data
        truth = fits.getdata(synthetic_field / "rates" / f"{row['obs_id']}_truth_rate.fits", "SCI")
        good = (dq == 0) & np.isfinite(rate) & (err > 0)
        good[:4] = good[-4:] = False
        good[:, :4] = good[:, -4:] = False
        assert good.mean() > 0.95
        # 1/f: refpix measures each output's per-group offset on reference columns whose 1/f
        # differs from the mean of the row, which leaves the rate a small constant offset
        # (sky subtraction takes it later): it is bounded, and the sources keep their flux.
        offset = float(np.median((rate - truth)[good]))
        assert abs(offset) < 0.01, (row["obs_id"], offset)  # DN/s; the sky is 0.2-0.75 DN/s
        pulls = ((rate - offset - truth) / err)[good]
        # the injected sources' pixels hold their flux (to 2%: Stage 1's linearity, gain, dark)
        sources = good & (truth > 2 * np.median(truth))
        assert sources.sum() > 200, row["obs_id"]
        flux = np.sum((truth - np.median(truth))[sources])
        assert abs(np.sum((rate - offset - truth)[sources]) / flux) < 0.02, row["obs_id"]
        assert 0.9 < 1.4826 * np.median(np.abs(pulls - np.median(pulls))) < 1.1, row["obs_id"]
        # Provenance: pipeline versions, pinned context, column-jump settings and outcome.
        assert header["CRDS_CTX"] == "jwst_9000.pmap"
        assert header["CAL_VER"] and header["CJ_VER"] and header["WP_VER"]
        assert header["S_COLJMP"] == "COMPLETE" and header["CJ_NSIG1"] == 5.0
        assert header["R_DARK"].startswith("crds://")


def test_another_python_or_archive_address_reruns_no_download_or_stage1(built):
    """download and stage1 are shell: rules whose command lines start with this environment's
    Python, the script and the archive's address (wfsspipe.shell_job.Program): none of them is
    a rerun trigger, unlike the rules' params (a new Stage 1 setting reruns every exposure)."""
    venv = Path(sys.executable).parent
    shebang = (venv / "snakemake").read_text().splitlines()[0].removeprefix("#!")
    python = next(venv / name for name in ("python3", "python") if str(venv / name) != shebang)
    before = planned_jobs(built)  # {} on the session build; the comparisons hold either way
    assert planned_jobs(built, python=python) == before
    assert "stage1" not in before and "download" not in before
    moved = built / "moved-archive.yaml"
    moved.write_text(
        yaml.safe_dump({"download": {"archive_url": "http://127.0.0.1:9/moved", "retries": 1}})
    )
    # Only the provenance record, which holds the whole config, and what lists it.
    planned = planned_jobs(built, python=python, configfiles=(moved,))
    assert set(planned) - set(before) <= {"provenance", "field_summary", "all"}
    assert "provenance" in planned and "stage1" not in planned and "download" not in planned
    changed = built / "changed-stage1.yaml"
    changed.write_text(yaml.safe_dump({"stage1": {"jump": {"rejection_threshold": 4.5}}}))
    planned = planned_jobs(built, configfiles=(changed,))
    assert planned["stage1"] == len(exposures(built)) and "download" not in planned


def test_rerun_does_nothing_and_a_deleted_rate_alone_is_rebuilt(built):
    assert planned_jobs(built) == {}
    row = exposures(built)[1]
    rate = built / "FIELDS" / row["field"] / "RATE" / f"{row['obs_id']}_rate.fits"
    others = {p: p.stat().st_mtime_ns for p in rate.parent.glob("*_rate.fits") if p != rate}
    rate.unlink()
    # The field's grizli products depend on every RATE: they are planned again too.
    planned = planned_jobs(built)
    assert planned["stage1"] == 1 and "download" not in planned
    downstream = {"preprocess": 1, "mosaic": 1, "contam": 1, "extract": 1, "zfit": 1, "webmap": 1}
    assert {rule: planned.get(rule) for rule in downstream} == downstream
    snakemake(built, str(rate))
    assert rate.exists()
    assert {p: p.stat().st_mtime_ns for p in others} == others


def test_one_exposure_target_and_unknown_field(built):
    row = exposures(built)[0]
    target = f"{built}/FIELDS/{row['field']}/RATE/{row['obs_id']}_rate.fits"
    assert planned_jobs(built, target) == {}
    wrong = f"{built}/FIELDS/uma-42/RATE/{row['obs_id']}_rate.fits"
    result = snakemake(built, "-n", "--", wrong, check=False)
    assert result.returncode != 0
    assert "field 'uma-42' is not in" in result.stdout + result.stderr


def test_lint_is_clean(workdir):
    result = snakemake(workdir, "--lint", check=False)
    assert result.returncode == 0, result.stdout + result.stderr
