"""The single-field targets (``FIELDS/<field>/logs/fmap.log`` and the per-stage ones): what they
build, what the summary says, and forcing a stage with ``-R`` (Snakemake's own --forcerun).

The summary is read from the session build (``built``); the planning checks are dry runs, on the
session build or on a copy of its configuration with a second field added to the table.
"""

from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path

import pytest
from astropy.table import Table
from conftest import exposures, planned_jobs, snakemake

pytestmark = pytest.mark.workflow

# crds_sync runs where the config syncs CRDS references (crds.sync).
OPTIONAL = {"crds_sync"}
STAGE_RULES = {"download", "stage1", "preprocess", "mosaic_filter", "mosaic", "contam",
               "extract", "zfit", "provenance", "webmap", "field_summary"}  # fmt: skip


def field_of(workdir: Path) -> str:
    (field,) = sorted(set(exposures(workdir)["field"]))
    return field


def test_fmap_log_is_the_field_summary_naming_every_stage_product(built):
    field = field_of(built)
    folder = built / "FIELDS" / field
    text = (folder / "logs" / "fmap.log").read_text()
    for stage in ("stage1", "preprocess", "mosaic", "contam", "extract", "zfit", "provenance",
                  "webmap"):  # fmt: skip
        assert f"\n## {stage}:" in text, stage
    # Every product of the field, by its path relative to the field's folder.
    products = [p.relative_to(folder) for p in (folder / "RATE").glob("*_rate.fits")]
    products += [
        Path("Prep") / f"{field}_visits.ecsv",
        Path("Mosaic") / f"{field}_phot.fits",
        Path("Contam") / f"{field}_contam.ecsv",
        Path("Extractions") / f"{field}_extract.ecsv",
        Path("Redshifts") / f"{field}_redshifts.fits",
        Path("Redshifts") / f"{field}_redshifts.csv",
        Path(f"{field}_provenance.json"),
        Path("fitsmap") / "index.html",
    ]
    for path in products:
        assert (folder / path).exists(), path
        assert f"    {path}\n" in text, f"{path} not listed in the summary"
    # Key numbers equal the products'.
    rates = len(exposures(built))
    assert f"- RATE files: {rates}\n" in text
    redshifts = Table.read(folder / "Redshifts" / f"{field}_redshifts.fits")
    assert f"- sources fitted: {len(redshifts)}\n" in text
    extractions = Table.read(folder / "Extractions" / f"{field}_extract.ecsv")
    extracted = int((extractions["status"] == "extracted").sum())
    assert re.search(rf"- catalogue sources: {len(extractions)}; extracted {extracted},", text)
    skipped = [re.sub(r"\s*\([-+0-9.eE, ]*\)", "", str(r)).strip()
               for r, s in zip(extractions["reason"], extractions["status"]) if s == "skipped"]  # fmt: skip
    for reason in set(skipped):
        assert f"-   {skipped.count(reason)} {reason}\n" in text, f"skip reason {reason!r}"
    # Timings from the benchmarks, warnings from the logs.
    assert re.search(r"## stage1:.*?- jobs: \d+, wall \d+ s in all", text, re.S)
    assert re.search(r"## warnings: \d+ in \d+ job logs", text)


def test_stage1_log_target_is_built_once_every_rate_exists(built):
    field = field_of(built)
    target = f"FIELDS/{field}/logs/stage1.log"
    snakemake(built, "--", target)
    text = (built / target).read_text()
    assert "## stage1:" in text and "## preprocess:" not in text
    assert f"- RATE files: {len(exposures(built))}\n" in text


def test_field_target_relative_and_absolute_need_nothing_on_a_built_field(built):
    field = field_of(built)
    relative = f"FIELDS/{field}/logs/fmap.log"
    assert planned_jobs(built, relative) == {}
    assert planned_jobs(built, str(built / relative)) == {}


def test_forcerun_zfit_with_the_field_target_redoes_zfit_and_what_follows(built):
    field = field_of(built)
    planned = planned_jobs(built, f"FIELDS/{field}/logs/fmap.log", flags=("-R", "zfit"))
    assert planned == {"zfit": 1, "provenance": 1, "webmap": 1, "field_summary": 1}


@pytest.fixture
def two_fields(built, tmp_path) -> tuple[Path, str, str]:
    """A folder with the build's config and a fields table with a second field (copies of the
    exposures under other names), none of its products built."""
    field = field_of(built)
    other = "leo-00" if field != "leo-00" else "uma-00"
    (tmp_path / "FIELDS").mkdir()
    config = (built / "config.yaml").read_text().replace(str(built), str(tmp_path))
    (tmp_path / "config.yaml").write_text(config)
    shutil.copy(built / "FIELDS" / "field_names.json", tmp_path / "FIELDS")
    with (built / "FIELDS" / "fields.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    extra = []
    for row in rows:
        copy = dict(row, field=other)
        for key in ("obs_id", "filename", "dataURI"):
            copy[key] = row[key].replace("jw09999", "jw09998")
        extra.append(copy)
    with (tmp_path / "FIELDS" / "fields.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows + extra)
    return tmp_path, field, other


def test_field_target_plans_that_field_only(two_fields):
    workdir, field, other = two_fields
    for target in (f"FIELDS/{field}/logs/fmap.log", str(workdir / f"FIELDS/{field}/logs/fmap.log")):
        # --quiet host: Snakemake's per-job blocks (the default profile hides them)
        output = snakemake(workdir, "-n", "--quiet", "host", "--", target).stdout
        fields = set(re.findall(r"wildcards: .*?field=([a-z]{3}-\d{2})", output))
        assert fields == {field}, target
        assert set(planned_jobs(workdir, target)) - OPTIONAL == STAGE_RULES
    stage1 = planned_jobs(workdir, f"FIELDS/{other}/logs/stage1.log")
    assert set(stage1) - OPTIONAL == {"download", "stage1", "field_summary"}
    assert stage1["stage1"] == len(exposures(workdir)) // 2
