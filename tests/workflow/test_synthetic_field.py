"""The synthetic field as a whole: complete, reusable, deterministic, and a valid MAST table."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from astropy.table import Table
from conftest import TEST_FIELD_ARGS

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))

from wfsspipe.fields.sphere import (  # noqa: E402
    contains,
    oriented_convex_polygon,
    parse_polygon,
    radec_to_xyz,
)

pytestmark = [pytest.mark.workflow, pytest.mark.slow]


def simulate(folder: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, ROOT / "resources/scripts/simulateField.py", "--output", folder, *TEST_FIELD_ARGS, *extra],
        check=True, capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip


def test_field_is_complete_and_reused(synthetic_field):
    manifest = json.loads((synthetic_field / "manifest.json").read_text())
    assert manifest["context"] == "jwst_9000.pmap"
    files = sorted(p.name for p in (synthetic_field / "archive").glob("*_uncal.fits"))
    assert files == sorted(f"{o}_uncal.fits" for o in manifest["exposures"]) and len(files) == 8
    before = {p: p.stat().st_mtime_ns for p in (synthetic_field / "archive").iterdir()}
    result = simulate(synthetic_field)
    assert "reusing the synthetic field" in result.stderr
    assert {p: p.stat().st_mtime_ns for p in before} == before


def test_same_seed_gives_identical_files(synthetic_field, tmp_path):
    """The seed alone fixes every file: the same seed again, here with the first filter only
    (half the work), gives byte-identical files of that filter's exposures and the same scene."""
    simulate(tmp_path / "again", "--filters", "F150W")
    first = json.loads((synthetic_field / "manifest.json").read_text())["checksums"]
    second = json.loads((tmp_path / "again" / "manifest.json").read_text())["checksums"]
    assert len(second) == len(first) // 2 and second == {k: first[k] for k in second}
    assert (synthetic_field / "truth.ecsv").read_text() == (
        tmp_path / "again" / "truth.ecsv"
    ).read_text()


def test_observation_table_covers_the_scene(synthetic_field):
    observations = Table.read(synthetic_field / "observations.ecsv")
    truth = Table.read(synthetic_field / "truth.ecsv")
    assert set(observations["instrument_name"]) == {"NIRISS/IMAGE", "NIRISS/WFSS"}
    assert sorted(set(observations["filters"])) == [
        "CLEAR;F150W", "CLEAR;F200W", "GR150C;F150W", "GR150C;F200W", "GR150R;F150W", "GR150R;F200W"
    ]  # fmt: skip
    points = radec_to_xyz(truth["ra"], truth["dec"])
    for row in observations:
        footprint = oriented_convex_polygon(parse_polygon(row["s_region"]))
        inside = contains(np.repeat(footprint[None], len(points), axis=0), points)
        assert inside.all(), row["obs_id"]
        archived = synthetic_field / "archive" / f"{row['obs_id']}_uncal.fits"
        assert row["size"] == archived.stat().st_size
