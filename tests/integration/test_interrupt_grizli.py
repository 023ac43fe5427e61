"""SIGKILL of Snakemake in the middle of the grizli ``preprocess`` stage, then a rerun as a user
would do it (``--unlock``, ``--rerun-incomplete``): the rerun completes, the products equal an
uninterrupted run's, and nothing half-written ever carries a product's name.

Stage 1 does not run here: both folders get copies of the session build's UNCAL and RATE files of
the field's F150W exposures (modification times kept, and ``--rerun-triggers mtime``, since the
folders have no Snakemake metadata for them), so only ``preprocess`` runs. grizli's preprocess of the
same RATE files gave bit-identical prepared SCI arrays in the rebuilt and the uninterrupted run
(two processes, two threads each), so they are compared with ``np.array_equal``.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from astropy.io import fits

from wfsspipe.preprocess import read_visits

from .helpers import Injection, fits_problem, kill_group, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# SIGKILL Snakemake (and its job) once the preprocess log shows grizli aligning the first direct
# visit: after the exposures' initialisation, well before the visit table is written.
KILL_PREPROCESS_AT = "# prep.iterate_tweak_align"
MTIME_ONLY = ("--rerun-triggers", "mtime")
TEXT_COLUMNS = ("exposure", "file", "visit", "filter", "element", "kind", "direct_visit",
                "align_catalog", "align_method", "status")  # fmt: skip
SHIFT_COLUMNS = ("align_dx", "align_dy", "align_rot", "align_scale", "align_rms")

INJECTED = [
    Injection("SIGKILL of Snakemake during grizli preprocess (visit alignment)", 1,
              "no Prep/ product (only a .Prep.tmp-* folder); --unlock, then --rerun-incomplete "
              "rebuilds Prep/; visit table and prepared SCI arrays equal an uninterrupted run's",
              "test_interrupt_grizli.py"),
]  # fmt: skip


def test_sigkill_in_preprocess_then_rerun_incomplete_gives_the_same_prep(
    new_workflow, field_rows, built
):
    # One direct and one grism exposure: a visit to align and a grism visit to prepare, at
    # half the cost of the filter's four exposures.
    rows = [
        next(r for r in field_rows if r["exp_type"] == kind) for kind in ("NIS_IMAGE", "NIS_WFSS")
    ]
    reference = new_workflow("grizli-uninterrupted", rows)
    fields = {row["field"] for row in reference.rows}
    assert len(fields) == 1, fields
    field = fields.pop()

    killed = new_workflow("grizli-killed", rows)
    for row in reference.rows:  # copies of the session build's Stage 1 products, no Stage 1 here
        uncal = built / "FIELDS" / field / "UNCAL" / row["filename"]
        rate = built / "FIELDS" / field / "RATE" / f"{row['obs_id']}_rate.fits"
        for workflow in (reference, killed):
            for source, target in ((uncal, workflow.uncal(row)), (rate, workflow.rate(row))):
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)

    uninterrupted = reference.run(*MTIME_ONLY, "--", _visits(reference, field), label="preprocess")
    assert uninterrupted.returncode == 0, uninterrupted.output[-3000:]

    visits, log = _visits(killed, field), killed.fields_dir / field / "logs" / "preprocess.log"
    prep = visits.parent
    process = killed.start(*MTIME_ONLY, "--", visits, label="killed-preprocess")
    wait_for(
        lambda: log.exists() and KILL_PREPROCESS_AT in log.read_text(errors="replace"),
        process,
        KILL_PREPROCESS_AT,
        timeout=600,
    )
    kill_group(process)
    assert process.returncode == -9
    # Nothing under a product's name: Prep/ absent or empty (Snakemake may create it for the
    # job's outputs), the half-done work only in the job's temporary folder beside it.
    assert not visits.exists()
    assert not prep.exists() or not list(prep.iterdir()), sorted(prep.iterdir())
    leftovers = sorted(p.name for p in prep.parent.iterdir() if p.name.startswith(".Prep"))
    assert leftovers and all(name.startswith(".Prep.tmp-") for name in leftovers), leftovers
    assert list((killed.folder / ".snakemake/incomplete").iterdir())  # Snakemake knows

    rerun = killed.run(*MTIME_ONLY, "--rerun-incomplete", "--", visits, label="rerun")
    assert rerun.returncode != 0 and "--unlock" in rerun.output, rerun.output[-3000:]
    unlocked = killed.run("--unlock", label="unlock")
    assert unlocked.returncode == 0, unlocked.output[-2000:]
    rerun = killed.run(*MTIME_ONLY, "--rerun-incomplete", "--", visits, label="rerun")
    assert rerun.returncode == 0, rerun.output[-3000:]
    for output in (path.read_text() for path in (killed.folder / "runs").iterdir()):
        assert "rule stage1:" not in output and "rule download" not in output
    assert not [p for p in prep.parent.iterdir() if p.name.startswith(".Prep")]  # cleaned up

    _assert_same_prep(prep, _visits(reference, field).parent, field)


def _visits(workflow, field):
    return workflow.fields_dir / field / "Prep" / f"{field}_visits.ecsv"


def _assert_same_prep(rebuilt, expected, field):
    """The same files, visit rows and prepared exposures as the uninterrupted run's Prep/."""
    assert sorted(p.name for p in rebuilt.iterdir()) == sorted(p.name for p in expected.iterdir())
    new, old = (
        read_visits(rebuilt / f"{field}_visits.ecsv"),
        read_visits(expected / f"{field}_visits.ecsv"),
    )
    assert len(new) == len(old) > 0
    for name in TEXT_COLUMNS:
        assert list(new[name]) == list(old[name]), name
    assert list(new["align_n"]) == list(old["align_n"])
    for name in SHIFT_COLUMNS:
        assert np.allclose(new[name], old[name], rtol=0, atol=1e-6, equal_nan=True), name
    for name in new["file"]:
        assert fits_problem(rebuilt / name) is None, name
        with fits.open(rebuilt / name) as a, fits.open(expected / name) as b:
            assert a["SCI"].data.shape == (2048, 2048), name
            difference = np.nanmax(np.abs(a["SCI"].data - b["SCI"].data))
            assert np.array_equal(a["SCI"].data, b["SCI"].data, equal_nan=True), (name, difference)
