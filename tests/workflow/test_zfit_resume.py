"""A zfit killed part-way resumes with the sources still to do (wfsspipe.resume).

On a copy of the session build's extractions, restricted to a few sources: zfit (the package's
``fit_field``, in its own process as the rule runs it) is killed once some sources are kept; the
next run fits only the others, and its table equals the session build's uninterrupted one.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import textwrap
import time

import numpy as np
import pytest
import yaml
from astropy.table import Table
from support import PYTHON, ROOT, workflow_config

pytestmark = [pytest.mark.workflow, pytest.mark.slow]

FIELD = "sex-00"
SOURCES = 5  # fitted in all
KILL_AFTER = 2  # sources kept before the kill
COMPARED = ["id", "status", "z", "z_lo", "z_hi", "z02", "z97", "chi2", "dof", "nlines", "quality"]

RUN = """
import sys
from pathlib import Path

import yaml
from wfsspipe.grizli_env import GrizliSettings

config = yaml.safe_load(Path(sys.argv[1]).read_text())
grizli = GrizliSettings.from_config(config)
grizli.prepare_process(blas_threads=1)
from wfsspipe.logs import job_logging
from wfsspipe.zfit import ZfitSettings, fit_field

with job_logging(sys.argv[4], "zfit", {"field": "sex-00"}, stpipe=True):
    fit_field("sex-00", sys.argv[2], Path(sys.argv[3]), ZfitSettings.from_config(config["zfit"]),
              grizli, threads=1, log_path=sys.argv[4])
"""


def settings(built) -> dict:
    config = workflow_config(built)
    return {key: config[key] for key in ("zfit", "grizli", "crds")}


def run_zfit(tmp_path, table, out, log):
    command = [PYTHON, tmp_path / "run.py", tmp_path / "settings.yaml", table, out, log]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "workflow" / "scripts"))
    return subprocess.Popen([str(c) for c in command], env=env, start_new_session=True)


def test_a_killed_zfit_fits_only_the_rest_and_gives_the_same_table(built, tmp_path):
    source = built / "FIELDS" / FIELD / "Extractions"
    extractions = tmp_path / "FIELDS" / FIELD / "Extractions"
    shutil.copytree(source, extractions)
    table_path = next(extractions.glob("*_extract.ecsv"))
    table = Table.read(table_path, format="ascii.ecsv")
    extracted = np.flatnonzero(table["status"] == "extracted")
    assert len(extracted) >= SOURCES
    for row in extracted[SOURCES:]:  # a smaller field: the first SOURCES extracted sources
        table["status"][row] = "skipped"
    table.write(table_path, format="ascii.ecsv", overwrite=True)
    chosen = sorted(int(i) for i in table["id"][table["status"] == "extracted"])
    (tmp_path / "settings.yaml").write_text(yaml.safe_dump(settings(built)))
    (tmp_path / "run.py").write_text(textwrap.dedent(RUN))
    out = tmp_path / "FIELDS" / FIELD / "Redshifts"
    store = tmp_path / "FIELDS" / FIELD / ".Redshifts.done"

    first = run_zfit(tmp_path, table_path, out, tmp_path / "first.log")
    deadline = time.monotonic() + 900
    while len(list(store.glob("*.json"))) < KILL_AFTER:
        assert first.poll() is None, (tmp_path / "first.log").read_text()[-3000:]
        assert time.monotonic() < deadline, "zfit kept no source in 15 minutes"
        time.sleep(0.5)
    os.killpg(first.pid, signal.SIGKILL)  # the job and its workers, as a batch system does
    first.wait()
    kept = sorted(int(p.stem) for p in store.glob("*.json"))
    assert KILL_AFTER <= len(kept) < SOURCES and not out.exists()

    second = run_zfit(tmp_path, table_path, out, tmp_path / "second.log")
    assert second.wait(timeout=1800) == 0, (tmp_path / "second.log").read_text()[-3000:]
    log = (tmp_path / "second.log").read_text()
    rest = SOURCES - len(kept)
    assert f"{len(kept)} sources fitted by an earlier attempt are kept; {rest} to fit" in log
    fitted = {int(i) for i in re.findall(rf"zfit: \d+/{rest} sources .*?\((\d+): ok", log)}
    assert fitted == set(chosen) - set(kept)  # each source fitted once over the two runs
    assert not store.exists()

    resumed = Table.read(out / f"{FIELD}_redshifts.fits")
    whole = Table.read(built / "FIELDS" / FIELD / "Redshifts" / f"{FIELD}_redshifts.fits")
    whole = whole[np.isin(whole["id"], chosen)]
    resumed.sort("id")
    whole.sort("id")
    assert list(resumed["id"]) == list(whole["id"]) == chosen
    for name in COMPARED + [c for c in whole.colnames if c.startswith(("flux_", "err_"))]:
        mine, theirs = np.asarray(resumed[name]), np.asarray(whole[name])
        if mine.dtype.kind in "USO":
            assert list(mine) == list(theirs), name
        else:
            assert np.allclose(mine, theirs, rtol=1e-6, equal_nan=True), name
    for row in resumed:  # the kept sources' plots came back too
        assert (out / row["fit_plot"]).is_file(), row["id"]
