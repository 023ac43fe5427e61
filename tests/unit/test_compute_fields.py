"""computeFields.py end to end on small tables: naming, stable names, bad inputs, MAST boundary."""

import json

import pandas as pd
import pytest
from fieldtools import box_region, exposure, table

from wfsspipe.fields import compute

# Ursa Major, Virgo: two constellations with fields far apart.
UMA = (165.0, 56.0)
VIR = (190.0, 2.0)


def box(centre, dx=0.0, half=60.0):
    return box_region(centre[0], centre[1], dx - half, dx + half, -half, half)


def run(tmp_path, rows, *extra, output="FIELDS"):
    path = tmp_path / "obs.ecsv"
    table(rows).write(path, overwrite=True)
    code = compute.main(
        ["--from-table", str(path), "--output-dir", str(tmp_path / output), "--no-plot", *extra]
    )
    return code


def read_fields(tmp_path, output="FIELDS"):
    return pd.read_csv(tmp_path / output / "fields.csv", dtype={"proposal_id": str})


def names_by_obs(tmp_path):
    fields = read_fields(tmp_path)
    return dict(zip(fields["obs_id"], fields["field"]))


def test_naming_order_follows_first_observation(tmp_path):
    rows = [
        exposure(1, box(UMA, dx=0), t_min=60100),
        exposure(2, box(UMA, dx=2000), t_min=60050),  # second UMa field, observed first
        exposure(3, box(UMA, dx=4000), t_min=60050),  # same start: obs_id breaks the tie
        exposure(4, box(VIR), t_min=60200, kind="NIRISS/IMAGE", filters="CLEAR;F200W"),
    ]
    assert run(tmp_path, rows) == 0
    names = names_by_obs(tmp_path)
    obs = [row["obs_id"] for row in rows]
    assert names[obs[1]] == "uma-00"
    assert names[obs[2]] == "uma-01"
    assert names[obs[0]] == "uma-02"
    assert names[obs[3]] == "vir-00"
    fields = read_fields(tmp_path).set_index("obs_id")
    assert fields.loc[obs[3], "filter"] == "CLEAR" and fields.loc[obs[3], "pupil"] == "F200W"
    assert fields.loc[obs[3], "exp_type"] == "NIS_IMAGE"
    assert fields.loc[obs[0], "filename"] == f"{obs[0]}_uncal.fits"
    assert fields.loc[obs[0], "dataURI"] == f"mast:JWST/product/{obs[0]}_uncal.fits"


def test_names_are_stable_when_data_arrive(tmp_path):
    first = [exposure(1, box(UMA, dx=0), 60100), exposure(2, box(UMA, dx=2000), 60200)]
    assert run(tmp_path, first) == 0
    before = names_by_obs(tmp_path)
    assert sorted(before.values()) == ["uma-00", "uma-01"]

    # New exposures: one in an existing field, one new field observed *earlier* than both.
    second = first + [exposure(3, box(UMA, dx=50), 60300), exposure(4, box(UMA, dx=6000), 60000)]
    assert run(tmp_path, second) == 0
    after = names_by_obs(tmp_path)
    for obs_id, name in before.items():
        assert after[obs_id] == name
    assert after[second[2]["obs_id"]] == after[first[0]["obs_id"]]
    assert after[second[3]["obs_id"]] == "uma-02"  # next free index, not a renumbering

    # A bridge between uma-00 and uma-01 merges them: the oldest name survives.
    bridge = exposure(5, box(UMA, dx=1000, half=1000), 60400)
    assert run(tmp_path, second + [bridge]) == 0
    merged = names_by_obs(tmp_path)
    assert set(merged[r["obs_id"]] for r in first + [bridge]) == {"uma-00"}
    registry = json.loads((tmp_path / "FIELDS" / "field_names.json").read_text())
    assert registry["aliases"] == {"uma-01": "uma-00"}
    assert "uma-01" in registry["fields"]["uma-00"]["aliases"]

    # A later new field never reuses the retired index.
    assert run(tmp_path, second + [bridge, exposure(6, box(UMA, dx=9000), 60500)]) == 0
    assert names_by_obs(tmp_path)["jw01571006001_02101_00001_nis"] == "uma-03"


def test_program_filter_and_level3_rows(tmp_path):
    rows = [exposure(1, box(VIR), 60000), exposure(2, box(UMA), 60000, program="9999")]
    level3 = dict(rows[0], obs_id="jw01571-o001_t001_niriss_clear-f150w")
    assert run(tmp_path, rows + [level3]) == 0
    fields = read_fields(tmp_path)
    assert list(fields["obs_id"]) == [rows[0]["obs_id"]]
    assert run(tmp_path, rows, "--proposal-ids", "9999", output="OTHER") == 0
    assert list(read_fields(tmp_path, "OTHER")["proposal_id"]) == ["9999"]


def existing_outputs(tmp_path):
    rows = [exposure(1, box(VIR), 60000)]
    assert run(tmp_path, rows) == 0
    folder = tmp_path / "FIELDS"
    return {path.name: path.read_bytes() for path in folder.iterdir()}


@pytest.mark.parametrize(
    "mutate, message",
    [
        (
            lambda rows: [{k: v for k, v in r.items() if k != "s_region"} for r in rows],
            "lacks the column",
        ),
        (
            lambda rows: [dict(r, s_region="POLYGON ICRS 1 2 3") for r in rows],
            "s_region could not be parsed",
        ),
        (lambda rows: [dict(r, s_region="CIRCLE ICRS 1 2 0.1") for r in rows], "only POLYGON"),
        (lambda rows: [], "no rows"),
        (lambda rows: [dict(r, instrument_name="NIRCAM/IMAGE") for r in rows], "no NIRISS"),
        (lambda rows: [dict(r, filters="F150W") for r in rows], "FILTER;PUPIL"),
    ],
)
def test_bad_input_is_refused_and_leaves_fields_untouched(tmp_path, capsys, mutate, message):
    before = existing_outputs(tmp_path)
    capsys.readouterr()
    rows = mutate([exposure(7, box(UMA), 60500)])
    assert run(tmp_path, rows) == 2
    err = capsys.readouterr().err
    assert message in err and "obs.ecsv" in err and "nothing was written" in err
    after = {path.name: path.read_bytes() for path in (tmp_path / "FIELDS").iterdir()}
    assert after == before


def test_missing_or_unreadable_table(tmp_path, capsys):
    assert (
        compute.main(["--from-table", str(tmp_path / "nope.ecsv"), "--output-dir", str(tmp_path)])
        == 2
    )
    assert "does not exist" in capsys.readouterr().err
    broken = tmp_path / "broken.fits"
    broken.write_bytes(b"SIMPLE  = not a fits file")
    assert compute.main(["--from-table", str(broken), "--output-dir", str(tmp_path)]) == 2
    assert "could not be read" in capsys.readouterr().err


def test_malformed_rows_are_skipped_reported_or_fatal_with_strict(tmp_path, capsys):
    good = [exposure(1, box(VIR), 60000), exposure(2, box(UMA), 60100)]
    bad_region = dict(exposure(3, box(UMA, dx=4000), 60200), s_region="POLYGON ICRS 1 2 3")
    bad_filters = dict(exposure(4, box(UMA, dx=8000), 60300), filters="F150W")
    level3 = dict(good[0], obs_id="jw01571-o001_s00012_niriss_f150w-gr150r")
    private = dict(exposure(5, box(VIR, dx=3000), 60400), dataRights="EXCLUSIVE_ACCESS")
    rows = good + [bad_region, bad_filters, level3, private]
    assert run(tmp_path, rows) == 0
    out = capsys.readouterr().out
    assert f"skipped {bad_region['obs_id']}: s_region could not be parsed" in out
    assert f"skipped {bad_filters['obs_id']}: 'filters' must read FILTER;PUPIL" in out
    assert "1 exclusive, 1 level3, 2 malformed" in out
    assert sorted(read_fields(tmp_path)["obs_id"]) == sorted(r["obs_id"] for r in good)
    rejected = pd.read_csv(tmp_path / "FIELDS" / "rejected.csv", dtype=str).set_index("obs_id")
    assert rejected.loc[bad_region["obs_id"], "kind"] == "malformed"
    assert rejected.loc[level3["obs_id"], "kind"] == "level3"
    assert rejected.loc[private["obs_id"], "kind"] == "exclusive"
    assert len(rejected) == 4

    # --proprietary keeps the exclusive-access exposure; --strict refuses the malformed rows.
    assert run(tmp_path, rows, "--proprietary", output="PRIVATE") == 0
    assert private["obs_id"] in set(read_fields(tmp_path, "PRIVATE")["obs_id"])
    before = (tmp_path / "FIELDS" / "fields.csv").read_bytes()
    assert run(tmp_path, rows, "--strict") == 2
    err = capsys.readouterr().err
    assert "2 malformed row(s) and --strict" in err and bad_region["obs_id"] in err
    assert (tmp_path / "FIELDS" / "fields.csv").read_bytes() == before


def test_names_from_a_published_names_file(tmp_path, capsys):
    rows = [
        exposure(1, box(UMA, dx=0), 60100),
        exposure(2, box(UMA, dx=50), 60150),  # same field as 1
        exposure(3, box(UMA, dx=3000), 60050),
        exposure(4, box(VIR), 60200, kind="NIRISS/IMAGE", filters="CLEAR;F200W"),
        exposure(5, box(UMA, dx=6000), 60000),  # earliest, but not published: a new name
    ]
    names = tmp_path / "names.yaml"
    names.write_text(
        "V01571001001P0000000002101: uma-07\n"  # a prime visit: program 1571, obs 001, visit 001
        "V01243004001P0157100302101: uma-03\n"  # a pure parallel: 1571 obs 003, any visit
        "V09999001001P0000000002101: vir-12\n"  # no exposures here: reserved
    )
    assert run(tmp_path, rows, "--names-from", str(names)) == 0
    got = names_by_obs(tmp_path)
    obs = [row["obs_id"] for row in rows]
    assert got[obs[0]] == got[obs[1]] == "uma-07"
    assert got[obs[2]] == "uma-03"
    assert got[obs[4]] == "uma-08"  # new fields continue after the published numbers
    assert got[obs[3]] == "vir-13"
    registry = json.loads((tmp_path / "FIELDS" / "field_names.json").read_text())
    assert registry["fields"]["vir-12"]["obs_ids"] == []
    assert registry["fields"]["vir-12"]["published_key"] == "V09999001001P0000000002101"

    # Later runs keep them without the file, and a reserved name finds its exposures when they come.
    later = rows + [exposure(1, box(VIR, dx=5000), 60300, program="9999")]
    assert run(tmp_path, later, "--proposal-ids", "1571", "9999") == 0
    assert names_by_obs(tmp_path)[later[5]["obs_id"]] == "vir-12"
    assert names_by_obs(tmp_path)[obs[0]] == "uma-07"

    # Conflicts are errors: a published name the registry gives to other exposures, and
    # published exposures that a registered field already holds.
    capsys.readouterr()
    names.write_text("V01571005001P0000000002101: uma-03\n")
    assert run(tmp_path, rows, "--names-from", str(names)) == 2
    assert "uma-03 (for V01571005001P0000000002101) is already a field" in capsys.readouterr().err
    names.write_text("V01571005001P0000000002101: uma-20\n")
    assert run(tmp_path, rows, "--names-from", str(names)) == 2
    assert "uma-20's exposures already belong to uma-08" in capsys.readouterr().err
    names.write_text("not-a-key: uma-1\n")
    assert run(tmp_path, rows, "--names-from", str(names)) == 2
    assert "is not a MAST visit key" in capsys.readouterr().err
