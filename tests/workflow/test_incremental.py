"""New data for a survey: computeFields keeps every name, Snakemake plans only what changed.

Dry runs only (no field is built): the products of a first fields table are made as empty files
and marked up to date (``--touch``, which also records Snakemake's metadata), then the table
gains an exposure in one field and a new field, and Snakemake's own dry-run job list is read.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "unit"))  # the observation-table builders

from fieldtools import box_region, exposure, table  # noqa: E402

from wfsspipe.fields import compute  # noqa: E402

SNAKEMAKE = Path(sys.executable).parent / "snakemake"
UMA, VIR, LEO = (165.0, 56.0), (190.0, 2.0), (150.0, 20.0)
FIELD_RULES = {"preprocess", "mosaic_filter", "mosaic", "contam", "extract", "zfit",
               "provenance", "webmap", "summary_visits", "field_summary"}  # fmt: skip
SURVEY_RULES = {"summary_catalog", "summary_index", "summary_redshifts", "all"}


def box(centre, dx=0.0, half=60.0):
    return box_region(centre[0], centre[1], dx - half, dx + half, -half, half)


def visit(number, centre, t_min, dx=0.0):
    """A direct image and two grism exposures (F150W) at one pointing."""
    return [
        exposure(number, box(centre, dx), t_min, kind="NIRISS/IMAGE", filters="CLEAR;F150W"),
        exposure(number + 1, box(centre, dx), t_min + 0.01, filters="GR150R;F150W"),
        exposure(number + 2, box(centre, dx), t_min + 0.02, filters="GR150C;F150W"),
    ]


def compute_fields(folder: Path, rows) -> dict[str, str]:
    """computeFields on ``rows`` into folder/FIELDS; {obs_id: field}."""
    path = folder / "observations.ecsv"
    table(rows).write(path, overwrite=True)
    args = ["--from-table", str(path), "--output-dir", str(folder / "FIELDS"), "--no-plot"]
    assert compute.main(args) == 0
    fields = pd.read_csv(folder / "FIELDS" / "fields.csv")
    return dict(zip(fields["obs_id"], fields["field"]))


def snakemake(folder: Path, *args: str) -> str:
    command = [
        SNAKEMAKE, "--snakefile", ROOT / "workflow/Snakefile", "--directory", folder,
        "--configfile", ROOT / "config/config.yaml", folder / "config.yaml", "--cores", "1", *args,
    ]  # fmt: skip
    result = subprocess.run([str(c) for c in command], capture_output=True, text=True)
    assert result.returncode == 0, f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout + result.stderr


def planned(folder: Path) -> set[tuple[str, str]]:
    """(rule, field or exposure or "") of every job in Snakemake's dry-run job list."""
    output = snakemake(folder, "-n", "--quiet", "host")  # the block per job is back
    jobs, rule, where = set(), None, ""
    for line in output.splitlines() + ["rule end:"]:
        if line.startswith(("rule ", "localrule ")) and line.rstrip().endswith(":"):
            if rule is not None:
                jobs.add((rule, where))
            rule, where = line.split()[1].rstrip(":"), ""
        elif rule is not None and line.strip().startswith("wildcards:"):
            values = dict(w.split("=", 1) for w in line.split(":", 1)[1].strip().split(", "))
            where = values.get("exposure") or values.get("field", "")
    return jobs


def mark_built(folder: Path) -> None:
    """Every product of the current table as an empty file, then --touch in DAG order (up to
    date, with Snakemake's metadata), as after a finished run."""
    lines = snakemake(folder, "--summary").splitlines()  # output_file<TAB>date<TAB>rule...
    start = next(n for n, line in enumerate(lines) if line.startswith("output_file")) + 1
    for line in lines[start:]:
        path = folder / line.split("\t")[0]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    snakemake(folder, "--touch")
    assert not planned(folder), "a touched survey should have nothing left to do"


def test_new_exposures_and_a_new_field_rebuild_only_those_fields(tmp_path):
    (tmp_path / "config.yaml").write_text(
        "fields_csv: FIELDS/fields.csv\nfields_dir: FIELDS\n"
        "crds:\n  sync: false\n"  # no CRDS sync record to read (Stage 1 memory reads it)
    )
    first = visit(1, UMA, 60100) + visit(10, UMA, 60200, dx=3000) + visit(20, VIR, 60300)
    names = compute_fields(tmp_path, first)
    assert sorted(set(names.values())) == ["uma-00", "uma-01", "vir-00"]
    mark_built(tmp_path)

    added = exposure(4, box(UMA), 60400, filters="GR150C;F150W")  # joins uma-00
    second = first + [added] + visit(30, LEO, 60000)  # a new field, observed before all others
    renamed = compute_fields(tmp_path, second)
    assert {obs: renamed[obs] for obs in names} == names  # every name kept
    assert renamed[added["obs_id"]] == "uma-00"
    new_field = renamed[visit(30, LEO, 60000)[0]["obs_id"]]
    assert new_field == "leo-00"

    jobs = planned(tmp_path)
    fields_of = {where for _, where in jobs}
    # per exposure: only the new ones are downloaded and go through Stage 1
    new_exposures = {obs for obs, field in renamed.items() if obs not in names}
    assert {w for r, w in jobs if r in ("download", "stage1")} == new_exposures
    assert sum(r == "stage1" for r, _ in jobs) == 4
    # per field: every stage of the grown field and of the new one, nothing of the others
    for field in ("uma-00", new_field):
        assert {r for r, w in jobs if w == field} == FIELD_RULES, field
    assert not {"uma-01", "vir-00"} & fields_of
    assert not any(renamed.get(w) in ("uma-01", "vir-00") for w in fields_of)
    # over the survey: the summaries
    assert {r for r, w in jobs if w == ""} == SURVEY_RULES
