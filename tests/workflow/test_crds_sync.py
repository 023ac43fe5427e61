"""crds_sync resolves every reference a field needs through the real crds client (offline here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from wfsspipe.crdssync import STAGE1_REFTYPES

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.workflow]

SYNC = """
import json, sys
sys.path.insert(0, {scripts!r})
from astropy.table import Table
from wfsspipe.crdssync import OFFLINE_SERVER_URL, sync_references
rows = [dict(zip(r.colnames, r)) for r in Table.read({table!r})]
rows = [dict(r, filter=r["filters"].split(";")[0], pupil=r["filters"].split(";")[1],
             exp_type="NIS_WFSS" if r["instrument_name"].endswith("WFSS") else "NIS_IMAGE") for r in rows]
print(json.dumps(sync_references(rows, {cache!r}, "jwst_9000.pmap", OFFLINE_SERVER_URL, mode="local")))
"""


def test_sync_resolves_stage1_and_grizli_references(synthetic_field):
    code = SYNC.format(
        scripts=str(ROOT / "workflow/scripts"),
        table=str(synthetic_field / "observations.ecsv"),
        cache=str(synthetic_field / "crds_cache"),
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(found) == {
        f"{kind}/{element}/{filt}"
        for filt in ("F150W", "F200W")
        for kind, element in (
            ("NIS_IMAGE", "CLEAR"),
            ("NIS_WFSS", "GR150R"),
            ("NIS_WFSS", "GR150C"),
        )
    }
    for configuration, references in found.items():
        for reftype in (*STAGE1_REFTYPES, "flat", "distortion"):
            path = Path(references[reftype])
            assert path.is_file() and path.is_relative_to(synthetic_field / "crds_cache"), (
                configuration,
                reftype,
            )
    assert Path(found["NIS_WFSS/GR150R/F200W"]["bkg"]).is_file()
