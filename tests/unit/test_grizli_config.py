"""The parse-time check of grizli's configuration: every grism x filter of the fields table needs
its conf and sky flat in $GRIZLI or from a configured source; `snakemake -n` on a table needing
one that neither has fails naming the file."""

from __future__ import annotations

import csv
import subprocess
from pathlib import Path

import pytest
import yaml
from support import ROOT, SNAKEMAKE
from wfsssim import grismconf

from wfsspipe.grizli_config import Source, table_grism_filters, table_problems

LINT_TABLE = ROOT / "tests/data/fields-lint.csv"


def table_rows(*grism_filters: tuple[str, str]) -> list[dict]:
    """The lint table's direct exposure plus one grism exposure per (grism, filter)."""
    with open(LINT_TABLE, newline="") as handle:
        (direct,) = list(csv.DictReader(handle))
    rows = [direct]
    for number, (grism, filter_name) in enumerate(grism_filters, start=2):
        obs_id = f"jw01571001001_02101_{number:05d}_nis"
        rows.append(
            dict(direct, obs_id=obs_id, filename=f"{obs_id}_uncal.fits",
                 dataURI=f"mast:JWST/product/{obs_id}_uncal.fits", filter=grism,
                 pupil=filter_name, exp_type="NIS_WFSS", t_min=str(60000.0 + number / 100))
        )  # fmt: skip
    return rows


def write_rows(path: Path, rows: list[dict]) -> Path:
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def grizli_f150w(tmp_path_factory) -> Path:
    """A $GRIZLI holding the F150W confs and sky flats only (as a two-filter synthetic field's
    holds F150W and F200W)."""
    root = tmp_path_factory.mktemp("grizli") / "GRIZLI"
    grismconf.write_grizli_config(root, filters=["F150W"])
    return root


def test_table_pairs_come_from_filter_and_pupil():
    pairs = table_grism_filters(table_rows(("GR150C", "F115W"), ("GR150R", "F115W")))
    assert pairs == {
        ("GR150C", "F115W"): ["vir-00/jw01571001001_02101_00002_nis"],
        ("GR150R", "F115W"): ["vir-00/jw01571001001_02101_00003_nis"],
    }  # the direct (CLEAR) exposure needs no conf


def test_held_or_provided_files_pass_and_the_rest_are_named(grizli_f150w):
    rows = table_rows(("GR150C", "F150W"), ("GR150C", "F115W"), ("GR150C", "F115W"))
    problems = table_problems(grizli_f150w, [], rows)
    assert [p.split(":")[0] for p in problems] == [
        "CONF/GR150C.F115W.221215.conf",
        "CONF/nis-f115w-gr150c_skyflat.fits",
    ]
    assert "jw01571001001_02101_00003_nis and 1 more" in problems[0]
    conf = Source("niriss_config_221215.tar.gz", "https://example.org/c.tar.gz", None, "CONF",
                  ("GR150C.F115W.221215.conf",))  # fmt: skip
    flat = Source("nis-f115w-gr150c_skyflat.fits", "https://example.org/f.fits", None, "CONF")
    assert table_problems(grizli_f150w, [conf, flat], rows) == []
    assert [p.split(":")[0] for p in table_problems(grizli_f150w, [conf], rows)] == [
        "CONF/nis-f115w-gr150c_skyflat.fits"
    ]


def dry_run(tmp_path: Path, rows: list[dict], **config) -> subprocess.CompletedProcess:
    overlay = {"fields_csv": str(write_rows(tmp_path / "fields.csv", rows)), **config}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(overlay))
    command = [SNAKEMAKE, "--snakefile", ROOT / "workflow/Snakefile", "--directory", tmp_path,
               "--configfile", ROOT / "config/config.yaml", tmp_path / "config.yaml", "-n",
               "--cores", "1"]  # fmt: skip
    return subprocess.run([str(c) for c in command], capture_output=True, text=True)


def test_dry_run_fails_naming_the_missing_conf(grizli_f150w, tmp_path):
    rows = table_rows(("GR150R", "F150W"), ("GR150C", "F115W"))
    result = dry_run(
        tmp_path, rows,
        grizli={"path": str(grizli_f150w), "pure_parallel_wcs": False},
        grizli_config={"retries": 1, "timeout": 10, "sources": []},
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "CONF/GR150C.F115W.221215.conf: needed by the GR150C + F115W exposures" in output
    assert "CONF/nis-f115w-gr150c_skyflat.fits" in output
    assert str(grizli_f150w) in output and "Zenodo record 7628094" in output
    assert "F150W.221215" not in output  # held


def test_dry_run_plans_grizli_config_when_the_sources_provide_it(grizli_f150w, tmp_path):
    """The default sources (Zenodo, grizli's URLs) provide every NIRISS conf and sky flat: the
    plan builds $GRIZLI on the submit host before the grizli stages; nothing is fetched yet."""
    rows = table_rows(("GR150R", "F150W"), ("GR150C", "F115W"))
    grizli = tmp_path / "GRIZLI"
    result = dry_run(tmp_path, rows, grizli={"path": str(grizli), "pure_parallel_wcs": False})
    assert result.returncode == 0, result.stderr[-3000:]
    assert "grizli_config" in result.stdout and "preprocess" in result.stdout
    assert not grizli.exists()
