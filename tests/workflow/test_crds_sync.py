"""crds_sync's code resolves, downloads and verifies every file each exposure of the synthetic
field needs, through the real crds client in remote mode against the local CRDS server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from astropy.table import Table
from crds_server_process import CrdsServer
from wfsssim import crdscache

from wfsspipe.crds_sync import STAGE1_REFTYPES

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.workflow]

SYNC = """
import glob, json, sys
sys.path.insert(0, {scripts!r})
from wfsspipe.crds_sync import sync_exposures
from wfsspipe.stage1_job import Stage1Settings
uncals = sorted(glob.glob({archive!r} + "/*_uncal.fits"))
record = sync_exposures(uncals, {cache!r}, "jwst_9000.pmap", {url!r},
                        Stage1Settings().step_parameters())
print(json.dumps(record))
"""


def test_sync_resolves_stage1_and_grizli_references(synthetic_field, tmp_path):
    server = CrdsServer(synthetic_field / "crds_cache", tmp_path)
    try:
        code = SYNC.format(
            scripts=str(ROOT / "workflow/scripts"),
            archive=str(synthetic_field / "archive"),
            cache=str(tmp_path / "cache"),
            url=server.url,
        )
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path
        )
    finally:
        server.stop()
    assert result.returncode == 0, result.stderr[-3000:]
    record = json.loads(result.stdout.strip().splitlines()[-1])
    observations = Table.read(synthetic_field / "observations.ecsv")
    assert set(record["exposures"]) == set(observations["obs_id"])
    for row in observations:
        element, pupil = row["filters"].split(";")
        refs = record["exposures"][row["obs_id"]]["references"]
        for reftype in (*STAGE1_REFTYPES, "distortion", "pars-jumpstep"):
            path = Path(record["files"][refs[reftype]]["path"])
            assert path.is_file() and path.is_relative_to(tmp_path / "cache"), (row, reftype)
        assert refs["flat"] == crdscache.reference_name("flat", pupil)
        if row["instrument_name"].endswith("WFSS"):
            assert refs["bkg"] == crdscache.reference_name("bkg", pupil, element)
            assert refs["photom"] == "N/A"
        else:
            assert refs["bkg"] == "N/A" and refs["photom"] == crdscache.reference_name("photom")
