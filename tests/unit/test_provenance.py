"""The provenance record (wfsspipe.provenance) on small files: the field's rows of the fields table,
read with the workflow's loader, its RATE files and its redshift table."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from astropy.io import fits
from astropy.table import Table
from support import write_visit_table

from wfsspipe.fieldtable import FieldTableError
from wfsspipe.integrity import sha256_of
from wfsspipe.provenance import build_record, config_hash

CONFIG = {"crds": {"context": "jwst_1364.pmap", "path": "/crds"}, "zfit": {"dz": [0.004]}}


def fields_row(number, field, size=84_000_000):
    obs_id = f"jw01571{number:03d}001_02101_00001_nis"
    return dict(
        field=field, obs_id=obs_id, filename=f"{obs_id}_uncal.fits",
        dataURI=f"mast:JWST/product/{obs_id}_uncal.fits", filter="GR150R", pupil="F150W",
        exp_type="NIS_WFSS", t_min=60000.0, exptime=500.0,
        s_region="POLYGON ICRS 1 1 1.01 1 1.01 1.01", size=size, proposal_id="01571",
        s_ra=1.0, s_dec=1.0, t_obs_release=60001.0, dataRights="PUBLIC",
    )  # fmt: skip


@pytest.fixture
def products(tmp_path):
    csv = tmp_path / "fields.csv"
    rows = [fields_row(1, "vir-00"), fields_row(2, "vir-00", size=None), fields_row(3, "uma-03")]
    pd.DataFrame(rows).to_csv(csv, index=False)
    rates = []
    for number in (1, 2):
        rate = tmp_path / f"jw01571{number:03d}001_02101_00001_nis_rate.fits"
        header = fits.Header({"CRDS_CTX": "jwst_1364.pmap", "CAL_VER": "1.18.0"})
        fits.PrimaryHDU(np.zeros((4, 4), np.float32), header).writeto(rate)
        rates.append(rate)
    results = tmp_path / "vir-00_redshifts.fits"
    Table({"id": [1, 2, 3], "status": ["ok", "ok", "failed"], "quality": [2, 1, 0]}).write(results)
    visits = write_visit_table(tmp_path / "vir-00_visits.ecsv", [
        ("a-f150w-clear", "direct", "a-f150w-clear", "USER radec.txt"),
        ("a-f150w-gr150r", "grism", "a-f150w-clear", "USER radec.txt"),
        ("a-f150w-clear", "direct", "a-f150w-clear", "USER radec.txt"),  # its second exposure
        ("b-f200w-clear", "direct", "b-f200w-clear", "SELF"),
        ("f115w-gr150c", "grism", "", ""),  # no direct image in F115W: nothing aligned it
    ])  # fmt: skip
    return csv, rates, results, visits


def test_record_holds_the_fields_rows_as_the_workflow_reads_them(products):
    csv, rates, results, visits = products
    record = build_record("vir-00", CONFIG, csv, [str(r) for r in reversed(rates)], results, visits)
    record = json.loads(json.dumps(record))  # as write_record stores it
    exposures = record["inputs"]["exposures"]
    assert [e["obs_id"] for e in exposures] == [
        "jw01571001001_02101_00001_nis",
        "jw01571002001_02101_00001_nis",
    ]  # the field's rows only, in the table's order
    assert [e["size"] for e in exposures] == [84_000_000, None]  # a whole number, or none
    assert isinstance(exposures[0]["size"], int)  # not 84000000.0 beside a missing size
    assert exposures[0]["pupil"] == "F150W" and exposures[0]["exp_type"] == "NIS_WFSS"
    assert record["inputs"]["fields_csv"] == {"path": str(csv), "sha256": sha256_of(csv)}
    assert [r["file"] for r in record["inputs"]["rates"]] == [r.name for r in rates]
    assert record["crds"]["rate_contexts"] == ["jwst_1364.pmap"]
    assert record["config_sha256"] == config_hash(CONFIG)
    assert (record["results"]["sources"], record["results"]["fitted"]) == (3, 2)
    assert (record["results"]["failed"], record["results"]["good"]) == (1, 1)


def test_record_says_how_each_visit_was_aligned(products):
    csv, rates, results, visits = products
    record = json.loads(json.dumps(build_record("vir-00", CONFIG, csv, rates, results, visits)))
    assert record["inputs"]["visits"] == {"file": visits.name, "sha256": sha256_of(visits)}
    alignment = record["alignment"]
    assert list(alignment) == ["a-f150w-clear", "a-f150w-gr150r", "b-f200w-clear", "f115w-gr150c"]
    assert alignment["a-f150w-clear"] == {
        "kind": "direct", "direct_visit": "a-f150w-clear", "method": "local file",
        "catalog": "USER radec.txt", "rms_pixels": 0.31, "sources": 12,
    }  # fmt: skip
    assert alignment["a-f150w-gr150r"]["method"] == "local file"  # its direct visit's
    assert alignment["b-f200w-clear"]["method"] == "self"
    assert alignment["b-f200w-clear"]["rms_pixels"] is None
    assert alignment["f115w-gr150c"] == {
        "kind": "grism", "direct_visit": "", "method": "none", "catalog": "",
        "rms_pixels": None, "sources": 0,
    }  # fmt: skip


def test_a_table_that_breaks_the_schema_is_refused_naming_it(products):
    csv, rates, results, visits = products
    rows = pd.read_csv(csv)
    rows.loc[0, "dataURI"] = "http://elsewhere.example/x.fits"
    rows.to_csv(csv, index=False)
    with pytest.raises(FieldTableError, match=rf"{csv}.*dataURI"):
        build_record("vir-00", CONFIG, csv, rates, results, visits)


def test_config_hash_is_canonical():
    a = {"zfit": {"z_range": [0.1, 3.4], "dz": [0.004, 0.0005]}, "crds": {"context": "x"}}
    b = json.loads(json.dumps({"crds": {"context": "x"}, "zfit": a["zfit"]}))
    assert config_hash(a) == config_hash(b)
    assert config_hash(a) != config_hash({**a, "crds": {"context": "y"}})
