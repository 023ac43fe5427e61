"""The workflow's checks on its inputs: product names, the fields table, resource requests."""

from __future__ import annotations

import pandas as pd
import pytest

from wfsspipe.fieldtable import FieldTableError, load_field_table
from wfsspipe.layout import exposure_of, is_exposure, uncal_filename
from wfsspipe.resources import DEFAULT_UNCAL_MB, MIN_MEM_MB, stage1_mem_mb

GOOD = "jw01571001001_02101_00001_nis"


@pytest.mark.parametrize(
    "name",
    ["../../x", f"../{GOOD}_uncal.fits", f"{GOOD}_uncal.fits/..", f"/etc/{GOOD}_uncal.fits", f"{GOOD}_rate.fits",
     f"{GOOD}_uncal.fits;rm -rf ~", "jw01571001001_02101_00001_nrca1_uncal.fits", ""],
)  # fmt: skip
def test_unsafe_or_foreign_names_are_refused(name):
    with pytest.raises(ValueError, match="not a NIRISS UNCAL"):
        exposure_of(name)


def test_good_names_round_trip():
    assert exposure_of(uncal_filename(GOOD)) == GOOD
    assert is_exposure("jw04681003001_021zz_00003_nis")  # activity numbers are base 36
    with pytest.raises(ValueError):
        uncal_filename("jw01571-o001_t001_niriss_clear-f150w")


def test_stage1_memory_covers_measured_peaks_within_one_and_a_half():
    # Peaks measured by bench/stage1_memory.py (bench/RESULTS.md): UNCAL MB -> peak RSS MB.
    for uncal_mb, peak_mb in [(59, 1712), (84, 2260), (126, 2553), (168, 3322)]:
        assert peak_mb <= stage1_mem_mb(uncal_mb) <= 1.5 * peak_mb


def test_stage1_memory_grows_with_input_and_attempt():
    assert stage1_mem_mb(200) > stage1_mem_mb(100)
    first = stage1_mem_mb(100, attempt=1)
    assert stage1_mem_mb(100, attempt=2) == pytest.approx(1.5 * first, abs=1)
    assert stage1_mem_mb(100, attempt=3) == pytest.approx(2.0 * first, abs=1)
    assert stage1_mem_mb(None) == stage1_mem_mb(DEFAULT_UNCAL_MB) >= MIN_MEM_MB


def write_table(tmp_path, rows):
    path = tmp_path / "fields.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def row(number=1, field="vir-00", **changes):
    obs_id = f"jw01571{number:03d}001_02101_00001_nis"
    values = dict(
        field=field, obs_id=obs_id, filename=f"{obs_id}_uncal.fits", dataURI=f"mast:JWST/product/{obs_id}_uncal.fits",
        filter="CLEAR", pupil="F150W", exp_type="NIS_IMAGE", t_min=60000.0, exptime=500.0,
        s_region="POLYGON ICRS 1 1 1.01 1 1.01 1.01", size=84_000_000, proposal_id="01571",
        s_ra=1.0, s_dec=1.0, t_obs_release=60001.0, dataRights="PUBLIC",
    )  # fmt: skip
    values.update(changes)
    return values


def test_good_table_loads_and_selects(tmp_path):
    table = load_field_table(write_table(tmp_path, [row(1), row(2, field="uma-03")]), ["uma-03"])
    assert table.fields == ["uma-03"]
    assert table.row("uma-03", "jw01571002001_02101_00001_nis")["proposal_id"] == "01571"
    everything = load_field_table(write_table(tmp_path, [row(1), row(2, field="uma-03")]))
    with pytest.raises(FieldTableError, match="belongs to field uma-03"):
        everything.row("vir-00", "jw01571002001_02101_00001_nis")


@pytest.mark.parametrize(
    "rows, message",
    [
        ([row(1, filename="../../x")], "filename"),
        ([row(1, dataURI="http://evil.example/x.fits")], "dataURI"),
        ([row(1), row(1)], "duplicate obs_id"),
        ([row(1), dict(row(2), filename=row(1)["filename"])], "duplicate filename"),
        ([row(1, field="Not A Field")], "field"),
        ([row(1, exp_type="NRC_IMAGE")], "exp_type"),
        ([row(1, size=-5)], "size"),
        ([{k: v for k, v in row(1).items() if k != "dataURI"}], "lacks the column"),
    ],
)
def test_bad_tables_are_refused_with_the_reason(tmp_path, rows, message):
    with pytest.raises(FieldTableError, match=message):
        load_field_table(write_table(tmp_path, rows))


def test_unknown_fields_and_missing_table(tmp_path):
    path = write_table(tmp_path, [row(1)])
    with pytest.raises(FieldTableError, match="names uma-99, not in"):
        load_field_table(path, ["uma-99"])
    with pytest.raises(FieldTableError, match="computeFields.py"):
        load_field_table(tmp_path / "absent.csv")
    table = load_field_table(path)
    with pytest.raises(FieldTableError, match="field 'uma-99' is not in"):
        table.row("uma-99", "jw01571001001_02101_00001_nis")
    with pytest.raises(FieldTableError, match="exposure 'jw01571009001_02101_00001_nis' is not in"):
        table.row("vir-00", "jw01571009001_02101_00001_nis")
