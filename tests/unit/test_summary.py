"""Products over all fields: combined catalogue, index page, sky map, truth matching, QC plots."""

from __future__ import annotations

import base64
import io
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from astropy import units as u
from astropy.table import Table
from support import write_visit_table

from wfsspipe.summary import SummaryError
from wfsspipe.summary.catalog import (
    DIMENSIONLESS,
    DIMENSIONLESS_PREFIXES,
    NOT_EXTRACTED,
    FieldProducts,
    ab_magnitudes,
    build_catalog,
    combine_catalogs,
)
from wfsspipe.summary.index import (
    FieldSummary,
    _centre,
    _map_x,
    field_link,
    polygon_map_xy,
    relative_url,
    sky_map_svg,
    write_index,
)
from wfsspipe.summary.plots import (
    match_truth,
    plot_redshift_distribution,
    plot_truth,
    plot_visit_layout,
)

APERTURES = [0.36, 0.5, 1.0, 3.0]  # the 1" aperture is index 2


# --- Hand-built inputs --------------------------------------------------------------------------
def phot_table(path, ids, ra, dec, fluxes, apertures=APERTURES, unit=u.uJy):
    """A mosaic catalogue: ``fluxes`` {filter: flux per source in the 1" aperture}; the other
    apertures hold 10x that (so a wrong aperture index shows in the magnitudes)."""
    table = Table()
    table["id"] = np.asarray(ids, dtype=np.int32)
    table["ra"] = np.asarray(ra, dtype=float) * u.deg
    table["dec"] = np.asarray(dec, dtype=float) * u.deg
    for name, values in fluxes.items():
        for index, diameter in enumerate(apertures):
            scale = 1.0 if diameter == 1.0 else 10.0
            table[f"{name}_flux_aper_{index}"] = np.asarray(values, dtype=float) * scale * unit
            table[f"{name}_fluxerr_aper_{index}"] = np.full(len(ids), 0.1) * unit
        table[f"{name}_tot_corr"] = np.full(len(ids), 2.0)  # total = 2 x aperture flux
    table["flux_radius"] = np.full(len(ids), 5.0)  # pixels of 0.1"
    table["a_image"] = np.full(len(ids), 4.0)
    table["b_image"] = np.full(len(ids), 2.0)
    for index, diameter in enumerate(apertures):
        table.meta[f"ASEC_{index}"] = diameter
        table.meta[f"APER_{index}"] = diameter / 0.1
    table.write(path, overwrite=True)
    return path


def redshift_table(path, rows, lines):
    """A zfit results table: rows (id, status, z, quality, {line: flux}) with the contract's columns."""
    table = Table()
    table["id"] = np.array([r[0] for r in rows], dtype=np.int64)
    table["ra"] = np.zeros(len(rows))
    table["dec"] = np.zeros(len(rows))
    table["status"] = [r[1] for r in rows]
    table["z"] = [r[2] for r in rows]
    table["z_lo"] = [r[2] - 0.01 for r in rows]
    table["z_hi"] = [r[2] + 0.01 for r in rows]
    table["chi2"] = np.full(len(rows), 100.0)
    table["dof"] = np.full(len(rows), 90)
    table["quality"] = np.array([r[3] for r in rows], dtype=np.int16)
    for line in lines:
        table[f"flux_{line}"] = [r[4].get(line, np.nan) for r in rows] * u.Unit(
            "1e-17 erg / (s cm2)"
        )
        table[f"err_{line}"] = np.full(len(rows), 0.5) * u.Unit("1e-17 erg / (s cm2)")
        table[f"sn_{line}"] = np.asarray(table[f"flux_{line}"]) / 0.5
    for name in ("fit_plot", "spectrum_plot", "line_plot"):
        table[name] = [f"{name}_{r[0]}.png" for r in rows]
    table.meta["LINES"] = " ".join(lines)
    table.write(path, overwrite=True)
    return path


@pytest.fixture
def two_fields(tmp_path):
    """vir-00: F115W + F150W, 3 sources, 2 fitted (Ha, OIII); uma-03: F150W + F200W, 2 sources,
    1 fitted (Ha, PaB); 1 uJy <-> 23.9 AB."""
    vir = FieldProducts(
        "vir-00",
        phot_table(tmp_path / "vir_phot.fits", [1, 2, 3], [10.0, 10.001, 10.002], [5.0] * 3,
                   {"f115w": [1.0, 10.0, -1.0], "f150w": [100.0, 1.0, 1.0]}),
        redshift_table(tmp_path / "vir_z.fits",
                       [(1, "ok", 1.5, 2, {"ha": 3.0, "oiii": 4.0}), (3, "failed", np.nan, 0, {})],
                       ["ha", "oiii"]),
    )  # fmt: skip
    extractions = tmp_path / "vir_extractions.ecsv"
    Table({"id": [1, 2, 3], "status": ["extracted", "skipped", "extracted"],
           "reason": ["", "fainter than the limit 26.0 (27.1)", ""]},
          meta={"grism_filters": ["F200W", "F115W"]}).write(extractions)  # fmt: skip
    vir = FieldProducts(vir.field, vir.phot, vir.redshifts, extractions)
    uma = FieldProducts(
        "uma-03",
        phot_table(tmp_path / "uma_phot.fits", [7, 8], [200.0, 200.001], [-30.0] * 2,
                   {"f200w": [1.0, 1.0], "f150w": [1.0, 1.0]}),
        redshift_table(tmp_path / "uma_z.fits", [(8, "ok", 0.9, 1, {"ha": 2.0, "pab": 1.0})],
                       ["ha", "pab"]),
    )  # fmt: skip
    return vir, uma


# --- Combined catalogue -------------------------------------------------------------------------
def test_ab_magnitudes_from_microjansky():
    mag, err = ab_magnitudes([1.0, 3631e6, 100.0, 0.0, -2.0, np.nan], [0.1, 1.0, 1.0, 1, 1, 1])
    assert mag[:3] == pytest.approx([23.9, 0.0, 18.9], abs=1e-3)  # 3631 Jy is AB zero
    assert np.isnan(mag[3:]).all()
    assert err[0] == pytest.approx(2.5 / np.log(10) * 0.1)
    assert np.isnan(err[3:]).all()


def test_catalogue_rows_columns_and_missing_filters(two_fields):
    vir, uma = two_fields
    table = combine_catalogs([vir, uma], aperture_arcsec=1.0)
    assert len(table) == 5
    assert list(table["field"]) == ["vir-00"] * 3 + ["uma-03"] * 2
    assert list(table["id"]) == [1, 2, 3, 7, 8]
    # filters in wavelength order, line union in order of appearance
    assert [c for c in table.colnames if c.startswith("mag_")] == [
        "mag_f115w",
        "mag_f150w",
        "mag_f200w",
    ]
    assert [c for c in table.colnames if c.startswith("flux_")] == [
        "flux_ha",
        "flux_oiii",
        "flux_pab",
    ]
    assert table["sn_ha"][0] == pytest.approx(6.0) and np.isnan(table["sn_ha"][1])
    assert list(table["fit_plot"]) == ["fit_plot_1.png", "", "fit_plot_3.png", "", "fit_plot_8.png"]
    # why a source has no redshift: the extraction's reason, the fit's error
    assert table["reason"][1] == "fainter than the limit 26.0 (27.1)"
    assert table["reason"][0] == "" and table["reason"][3] == "not extracted"
    # magnitudes from the 1" aperture (the others are 10x brighter)
    assert table["mag_f115w"][:2] == pytest.approx([23.9, 21.4], abs=1e-6)
    assert np.isnan(table["mag_f115w"][2])  # negative flux
    assert table["mag_f150w"][0] == pytest.approx(18.9)
    assert np.isnan(table["mag_f115w"][3:]).all()  # uma-03 has no F115W
    assert np.isnan(table["mag_f200w"][:3]).all()  # vir-00 has no F200W
    assert table["mag_f200w"][3:] == pytest.approx([23.9, 23.9])
    assert table["ra"].unit == u.deg and table["mag_f150w"].unit == u.mag
    # redshifts joined by id; the rest not extracted
    assert list(table["status"]) == ["ok", NOT_EXTRACTED, "failed", NOT_EXTRACTED, "ok"]
    assert list(table["quality"]) == [2, 0, 0, 0, 1]
    # these tables predate the flag column: it follows the quality
    assert list(table["flag"]) == ["good", "not fitted", "no fit", "not fitted", "poor"]
    assert table["z"][0] == 1.5 and table["z"][4] == 0.9 and np.isnan(table["z"][1])
    assert table["z_lo"][0] == pytest.approx(1.49) and table["z_hi"][4] == pytest.approx(0.91)
    assert table["flux_ha"][0] == 3.0 and table["flux_ha"][4] == 2.0
    assert np.isnan(table["flux_oiii"][4]) and np.isnan(
        table["flux_pab"][0]
    )  # line not fitted there
    assert table["flux_pab"][4] == 1.0 and table["err_pab"][4] == 0.5
    assert table["flux_ha"].unit == u.Unit("1e-17 erg / (s cm2)")
    assert table.meta["FILTERS"] == "f115w,f150w,f200w"
    # The grism filters come from the extraction tables (uma-03 has none: not extracted yet).
    assert table.meta["GRISM_FILTERS"] == "F115W,F200W"


def test_catalogue_without_redshifts_yet_and_without_fields(two_fields):
    vir, _ = two_fields
    table = combine_catalogs([FieldProducts(vir.field, vir.phot)], 1.0)
    assert len(table) == 3 and (table["quality"] == 0).all()
    assert set(table["status"]) == {NOT_EXTRACTED} and np.isnan(table["z"]).all()
    assert set(table["reason"]) == {"not extracted yet"}
    empty = combine_catalogs([], 1.0)
    assert len(empty) == 0 and {"field", "id", "ra", "dec", "z", "quality"} <= set(empty.colnames)


def test_catalogue_total_magnitudes_sizes_and_units(two_fields):
    table = combine_catalogs(list(two_fields), 1.0)
    assert table["magtot_f150w"][0] == pytest.approx(18.9 - 2.5 * np.log10(2.0))
    assert np.isnan(table["magtot_f200w"][0])  # vir-00 has no F200W
    assert table["r_half"][0] == pytest.approx(0.5) and table["r_half"].unit == u.arcsec
    assert table["a_axis"][0] == pytest.approx(0.4) and table["b_axis"][0] == pytest.approx(0.2)
    assert np.isnan(table["z02"]).all()  # these redshift tables predate z02: masked, not 0
    for name in table.colnames:
        dimensionless = name in DIMENSIONLESS or name.startswith(DIMENSIONLESS_PREFIXES)
        assert (table[name].unit is not None) != dimensionless, name
        assert table[name].description, name


def test_unmeasured_values_are_masked_not_zero(two_fields, tmp_path):
    fits, csv = tmp_path / "catalog.fits", tmp_path / "catalog.csv"
    build_catalog(two_fields, fits, csv, 1.0)
    back = Table.read(fits)  # NaN read back as masked
    assert back["flux_oiii"].mask[4] and back["err_oiii"].mask[4] and back["z"].mask[1]
    lines = csv.read_text().splitlines()
    header, row = lines[0].split(","), lines[5].split(",")  # uma-03 id 8: OIII not fitted
    assert row[header.index("flux_oiii")] == "" and row[header.index("err_oiii")] == ""
    assert row[header.index("flux_ha")] == "2.0"


def test_fluxes_in_other_units_are_converted(tmp_path):
    path = phot_table(tmp_path / "p.fits", [1], [1.0], [1.0], {"f150w": [1000.0]}, unit=u.nJy)
    table = combine_catalogs([FieldProducts("vir-00", path)], 1.0)
    assert table["mag_f150w"][0] == pytest.approx(23.9)


def test_catalogue_files_are_written_atomically(two_fields, tmp_path, monkeypatch):
    fits, csv = tmp_path / "out" / "catalog.fits", tmp_path / "out" / "catalog.csv"
    build_catalog(two_fields, fits, csv, 1.0)
    back = Table.read(fits)
    assert len(back) == 5 and back["mag_f150w"].unit == u.mag
    frame = pd.read_csv(csv)
    assert list(frame["field"]) == ["vir-00"] * 3 + ["uma-03"] * 2
    assert frame["mag_f115w"].isna().sum() == 3  # NaN where a field lacks the filter
    before = fits.read_bytes()

    def broken(self, *args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(Table, "write", broken)
    with pytest.raises(OSError, match="disk full"):
        build_catalog(two_fields, fits, csv, 1.0)
    assert fits.read_bytes() == before
    assert sorted(p.name for p in fits.parent.iterdir()) == ["catalog.csv", "catalog.fits"]


def test_missing_aperture_names_the_file_and_the_diameters(two_fields):
    vir, _ = two_fields
    with pytest.raises(
        SummaryError, match=r'vir_phot.fits has no 0.7" aperture .*0.36", 0.50", 1.00", 3.00"'
    ):
        combine_catalogs([vir], 0.7)


@pytest.mark.parametrize(
    "drop, message",
    [("quality", r"uma_z.fits lacks the column\(s\) quality: rerun the zfit rule"),
     ("err_pab", r"uma_z.fits lacks the column\(s\) err_pab")],
)  # fmt: skip
def test_malformed_redshift_table_is_named(two_fields, drop, message):
    vir, uma = two_fields
    table = Table.read(uma.redshifts)
    table.remove_column(drop)
    table.write(uma.redshifts, overwrite=True)
    with pytest.raises(SummaryError, match=message):
        combine_catalogs([vir, uma], 1.0)


def test_malformed_photometry_and_stale_redshifts_are_named(two_fields, tmp_path):
    vir, uma = two_fields
    table = Table.read(vir.phot)
    table.remove_column("dec")
    table.write(tmp_path / "bad.fits")
    with pytest.raises(SummaryError, match=r"bad.fits lacks the column\(s\) dec: rerun the mosaic"):
        combine_catalogs([FieldProducts("vir-00", tmp_path / "bad.fits")], 1.0)
    with pytest.raises(SummaryError, match="does not exist"):
        combine_catalogs([FieldProducts("vir-00", tmp_path / "absent.fits")], 1.0)
    (tmp_path / "junk.fits").write_text("not a table")
    with pytest.raises(SummaryError, match="junk.fits cannot be read"):
        combine_catalogs([FieldProducts("vir-00", tmp_path / "junk.fits")], 1.0)
    stale = FieldProducts("uma-03", uma.phot, vir.redshifts)  # ids 1, 3 are not in uma-03
    with pytest.raises(
        SummaryError, match=r"vir_z.fits has source id\(s\) \[1, 3\] that are not in"
    ):
        combine_catalogs([stale], 1.0)


# --- Index page ---------------------------------------------------------------------------------
def fields_row(
    number, field, filt="CLEAR", pupil="F150W", exptime=500.0, region=None, proposal="01571"
):
    exp_type = "NIS_IMAGE" if filt == "CLEAR" else "NIS_WFSS"
    obs_id = f"jw{proposal}{number:03d}001_02101_00001_nis"
    return dict(
        field=field, obs_id=obs_id, filename=f"{obs_id}_uncal.fits", dataURI=f"mast:JWST/product/{obs_id}_uncal.fits",
        filter=filt, pupil=pupil, exp_type=exp_type, t_min=60000.0, exptime=exptime,
        s_region=region or "POLYGON ICRS 10 5 10.03 5 10.03 5.03 10 5.03", size=84_000_000,
        proposal_id=proposal, s_ra=10.0, s_dec=5.0, t_obs_release=60001.0, dataRights="PUBLIC",
    )  # fmt: skip


ACROSS_ZERO = "POLYGON ICRS 359.99 -30 0.02 -30 0.02 -29.97 359.99 -29.97"


@pytest.fixture
def fields_csv(tmp_path):
    rows = [
        fields_row(1, "vir-00", exptime=100.0),
        fields_row(2, "vir-00", "GR150R", exptime=1000.0),
        fields_row(3, "vir-00", "GR150C", "F200W", exptime=1000.0, proposal="04681"),
        fields_row(4, "uma-03", pupil="F200W", exptime=250.0, region=ACROSS_ZERO),
        fields_row(5, "uma-03", "GR150C", pupil="F200W", exptime=750.0, region=ACROSS_ZERO),
        fields_row(6, "leo-01", "GR150C", pupil="F115W", exptime=300.0),  # no direct imaging
    ]
    path = tmp_path / "FIELDS" / "fields.csv"
    path.parent.mkdir()
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs, self.scripts, self.rows, self._row = [], 0, [], None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in ("href", "xlink:href", "src"):
            if name in attrs:
                self.hrefs.append(attrs[name])
        self.scripts += tag == "script"
        if tag == "tr":
            self._row = []

    def handle_data(self, data):
        if self._row is not None and data.strip():
            self._row.append(data.strip())

    def handle_endtag(self, tag):
        if tag == "tr":
            self.rows.append(self._row)
            self._row = None


def test_index_page_table_links_and_no_remote_assets(fields_csv, two_fields, tmp_path):
    vir, uma = two_fields
    out = fields_csv.parent
    catalog = out / "catalog.fits"
    build_catalog([vir, uma], catalog, out / "catalog.csv", 1.0)
    targets = {
        "vir-00": [str(out / "vir-00/fitsmap/index.html"), str(out / "vir-00/fitsmap/tiles")],
        "uma-03": [str(out / "uma-03/Mosaic/uma-03_rgb.png")],
    }
    from PIL import Image

    rgb = tmp_path / "rgb.png"
    Image.new("RGB", (800, 600), (200, 40, 10)).save(rgb)
    summaries = write_index(
        out / "index.html", fields_csv, [], catalog, targets,
        [("catalogue (CSV)", out / "catalog.csv"), ("redshifts", out / "summary" / "redshifts.png")],
        thumbnails={"uma-03": rgb},
        visit_tables={
            "vir-00": write_visit_table(tmp_path / "vir-00_visits.ecsv", [
                ("f150w-clear", "direct", "f150w-clear", "USER radec.txt"),
                ("f150w-gr150r", "grism", "f150w-clear", "USER radec.txt"),
                ("f200w-gr150r", "grism", "", ""),
            ]),
            "uma-03": write_visit_table(tmp_path / "uma-03_visits.ecsv", [
                ("f150w-clear", "direct", "f150w-clear", "SELF"),
                ("f150w-gr150c", "grism", "f150w-clear", "SELF"),
            ]),
        },  # leo-01: no visit table (yet)
    )  # fmt: skip
    assert [s.field for s in summaries] == ["leo-01", "uma-03", "vir-00"]
    assert [s.alignment for s in summaries] == [{}, {"self": 2}, {"local file": 2, "none": 1}]
    page = (out / "index.html").read_text()
    parser = Links()
    parser.feed(page)
    assert parser.scripts == 1 and "<script src" not in page  # the sorting/search script, inline
    svg_namespaces = {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}
    thumbnails = [h for h in parser.hrefs if h.startswith("data:")]
    assert len(thumbnails) == 1 and thumbnails[0].startswith("data:image/png;base64,")
    with Image.open(io.BytesIO(base64.b64decode(thumbnails[0].split(",", 1)[1]))) as small:
        assert small.size == (96, 72) and small.getpixel((10, 10)) == (200, 40, 10)
    for href in parser.hrefs:
        if href.startswith("data:"):
            continue
        assert "://" not in href and not href.startswith("/"), href  # relative links only
    assert not set(re.findall(r'(?:href|src)="(https?://[^"]+)"', page)) - svg_namespaces
    assert "catalog.csv" in parser.hrefs and "summary/redshifts.png" in parser.hrefs
    assert "vir-00/fitsmap/index.html" in parser.hrefs  # table and map marker
    assert parser.hrefs.count("vir-00/fitsmap/index.html") >= 2
    assert "uma-03/Mosaic/uma-03_rgb.png" in parser.hrefs
    rows = {row[0]: row for row in parser.rows if row and row[0] != "Field"}
    # vir-00's F200W grism has no F200W direct image: the note under its filters says what
    # models it (the contam stage's choice, wfsspipe.niriss.reference_filter)
    assert rows["vir-00"].pop(4) == "F200W grism modelled from F150W direct"
    assert [s.borrowed for s in summaries] == [{}, {}, {"F200W": "F150W"}]
    # field, programs, first exposure, filters, grisms, exposures, time, WFSS time, per filter,
    # ra, dec, alignment, sources, fitted, good, ambiguous (the thumbnail cell has no text)
    assert rows["vir-00"][1:9] == [
        "1571, 4681",
        "2023-02-25",  # MJD 60000
        "F150W, F200W",
        "GR150C, GR150R",
        "3",
        "2.1",
        "2.0",
        "F150W 1.1, F200W 1.0",  # direct + grism time per blocking filter
    ]
    assert rows["vir-00"][11:] == ["local file 2, none 1", "3", "1", "1", "0"]
    # visits aligned only to themselves are called out under the counts
    assert rows["uma-03"][11:] == [
        "self 2", "no absolute astrometry for the self-aligned", "2", "1", "0", "0",
    ]  # fmt: skip
    assert rows["leo-01"][0] == "leo-01" and rows["leo-01"][11:] == [
        "–",
        "–",
        "0",
        "0",
        "0",
    ]  # no visit table, no link, no catalogue
    assert float(rows["uma-03"][9]) == pytest.approx(0.005, abs=1e-3)  # centre across RA 0
    assert 'data-sort="3"' in page and 'data-search="vir-00 1571 4681"' in page
    assert "3 fields, 3.4 ks of exposures, 5 catalogue sources, 1 good redshifts" in page
    assert sorted(p.name for p in out.iterdir()) == [
        "catalog.csv",
        "catalog.fits",
        "fields.csv",
        "index.html",
    ]


def test_index_selects_fields_and_names_a_bad_table(fields_csv, tmp_path):
    summaries = write_index(tmp_path / "index.html", fields_csv, ["uma-03"])
    assert [s.field for s in summaries] == ["uma-03"] and summaries[0].sources is None
    with pytest.raises(SummaryError, match="names zzz-99, not in"):
        write_index(tmp_path / "index.html", fields_csv, ["zzz-99"])


def test_field_links_prefer_the_web_map_and_are_relative(tmp_path):
    assert (
        field_link("vir-00", ["F/vir-00/fitsmap/tiles", "F/vir-00/fitsmap/index.html"])
        == "F/vir-00/fitsmap/index.html"
    )
    assert field_link("vir-00", ["F/vir-00/Mosaic/vir-00_rgb.png"]).endswith("vir-00_rgb.png")
    assert field_link("vir-00", []) is None
    assert relative_url(tmp_path / "F" / "a b" / "x.html", tmp_path / "F") == "a%20b/x.html"


# --- Sky map across RA 0/360 --------------------------------------------------------------------
def test_sky_map_keeps_fields_across_ra_zero_in_one_piece():
    ra, dec = _centre(
        [np.array([[359.99, -30.0], [0.02, -30.0], [0.02, -29.97], [359.99, -29.97]])]
    )
    assert ra == pytest.approx(0.005, abs=1e-6)  # not 180
    assert dec == pytest.approx(-29.985, abs=1e-3)
    # RA increases to the left: 10 deg is left of centre, 350 deg right of it
    assert _map_x(10.0) < 0 < _map_x(350.0)
    assert _map_x(0.0) == pytest.approx(0.0)
    for centre in (0.005, 359.995):
        xy = polygon_map_xy(np.array([[359.99, -30.0], [0.02, -30.0], [0.02, -29.97]]), centre)
        assert np.ptp(xy[:, 0]) == pytest.approx(np.radians(0.03), rel=1e-6)  # not ~2 pi
    edge = polygon_map_xy(np.array([[179.99, 0.0], [180.02, 0.0], [180.02, 0.03]]), 180.0)
    assert np.ptp(edge[:, 0]) == pytest.approx(np.radians(0.03), rel=1e-6)


def test_sky_map_svg_links_each_field():
    polygon = np.array([[359.99, -30.0], [0.02, -30.0], [0.02, -29.97]])
    summaries = [
        FieldSummary("uma-03", ["1571"], ["F150W"], [], 1, 1.0, 0.0, 0.005, -29.985, [polygon], link="uma-03/fitsmap/index.html"),
        FieldSummary("vir-00", ["1571"], ["F150W"], [], 1, 1.0, 0.0, 180.0, 10.0, [], link=None),
    ]  # fmt: skip
    svg = sky_map_svg(summaries)
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert svg.count('xlink:href="uma-03/fitsmap/index.html"') == 2  # marker and name
    assert ">vir-00<" in svg  # names as text (svg.fonttype none)


# --- Truth matching and plots -------------------------------------------------------------------
def truth_and_catalog():
    arcsec = 1 / 3600
    truth = Table(
        {"id": [1, 2, 3, 4], "ra": [150.0, 150.01, 150.02, 150.03], "dec": [2.0, 2.0, 2.0, 2.0],
         "z": [1.0, 2.0, 0.5, 0.0], "kind": ["emitter", "emitter", "continuum", "star"]}
    )  # fmt: skip
    catalog = Table(
        {"field": ["sex-00"] * 4, "id": [11, 12, 13, 14],
         "ra": [150.0 + 0.1 * arcsec, 150.01 + 0.5 * arcsec, 150.02, 150.03 + 0.2 * arcsec],
         "dec": [2.0, 2.0, 2.0 + 0.25 * arcsec, 2.0],
         "z": [1.002, 2.5, np.nan, 0.7], "z_lo": [0.99, 2.4, np.nan, 0.6], "z_hi": [1.01, 2.6, np.nan, 0.8],
         "quality": [2, 2, 0, 1], "status": ["ok", "ok", "not_extracted", "ok"]}
    )  # fmt: skip
    return truth, catalog


def test_truth_matching_within_radius():
    truth, catalog = truth_and_catalog()
    matched = match_truth(catalog, truth, radius_arcsec=0.3)
    assert list(matched["id"]) == [11, -1, 13, 14]  # object 2 is 0.5" away
    assert matched["separation"][0] == pytest.approx(0.1 * np.cos(np.radians(2.0)), abs=1e-3)
    assert matched["dz"][0] == pytest.approx(0.001)
    assert np.isnan(matched["z"][1]) and matched["field"][1] == ""
    assert list(match_truth(catalog, truth, radius_arcsec=0.6)["id"]) == [11, 12, 13, 14]


def test_each_missed_redshift_says_why():
    arcsec = 1 / 3600
    rest = {"flux_halpha": 6564.61, "flux_oiii_5007": 5008.24}
    truth = Table(
        {"id": [1, 2, 3, 4, 5, 6, 7], "ra": 150.0 + np.arange(7) * 0.01, "dec": np.full(7, 2.0),
         "z": [1.3, 3.2, 1.4, 1.35, 1.2, 1.25, 1.1], "kind": ["emitter"] * 7,
         "flux_halpha": np.full(7, 1e-17), "flux_oiii_5007": np.full(7, 1e-17)},
        meta={"line_rest_angstrom": rest},
    )  # fmt: skip
    # 1: right; 2: Ha at 2.76 um, [OIII] at 2.1 um -> try F150W only: nothing inside; 3: faint;
    # 4: one strong line read as another; 5: not extracted; 6: failed; 7: not detected (far).
    catalog = Table(
        {"field": ["sex-00"] * 6, "id": [11, 12, 13, 14, 15, 16],
         "ra": 150.0 + np.arange(6) * 0.01, "dec": np.full(6, 2.0) + np.r_[0, 0, 0, 0, 0, 0] * arcsec,
         "z": [1.3001, 1.0, 2.0, 0.5, np.nan, np.nan], "z_lo": np.zeros(6), "z_hi": np.zeros(6),
         "quality": [2, 2, 1, 2, 0, 0], "status": ["ok", "ok", "ok", "ok", "not_extracted", "failed"],
         "reason": ["", "", "", "", "fainter than the limit 25.0 (26.1)", "ValueError: boom"],
         "sn_Ha": [40.0, 12.0, 3.8, 25.0, np.nan, np.nan], "sn_OIII": [20.0, np.nan, 2.0, 4.0, np.nan, np.nan]},
        meta={"FILTERS": "f150w"},
    )  # fmt: skip
    notes = list(match_truth(catalog, truth, radius_arcsec=0.3)["note"])
    assert notes == [
        "",
        "no injected line inside F150W",
        "lines too faint (best S/N 3.8)",
        "one line, misidentified",
        "not extracted: fainter than the limit 25.0 (26.1)",
        "fit failed: ValueError: boom",
        "not in the catalogue",
    ]
    # A grism filter without photometry (no direct image of its own) still counts: z = 3.2 puts
    # [OIII] at 2.1 um, inside F200W's grism.
    catalog.meta["GRISM_FILTERS"] = "F150W,F200W"
    notes = list(match_truth(catalog, truth, radius_arcsec=0.3)["note"])
    assert notes[1] == "one line, misidentified"


def test_truth_plot_and_table(tmp_path):
    truth, catalog = truth_and_catalog()
    catalog.write(tmp_path / "catalog.fits")
    truth.write(tmp_path / "truth.ecsv")
    plot_truth(
        tmp_path / "catalog.fits", tmp_path / "truth.ecsv", tmp_path / "z.png", tmp_path / "z.ecsv"
    )
    assert (tmp_path / "z.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = Table.read(tmp_path / "z.ecsv")
    assert table.meta["injected"] == 3 and table.meta["matched"] == 2 and table.meta["good"] == 1
    assert table.meta["median_abs_dz"] == pytest.approx(0.001)
    bad = truth.copy()
    bad.remove_column("z")
    bad.write(tmp_path / "bad.ecsv")
    with pytest.raises(
        SummaryError, match=r"truth table \(summary.truth\) .*bad.ecsv lacks the column\(s\) z"
    ):
        plot_truth(
            tmp_path / "catalog.fits",
            tmp_path / "bad.ecsv",
            tmp_path / "z.png",
            tmp_path / "z.ecsv",
        )


def test_redshift_distribution_and_visit_layout(tmp_path):
    _, catalog = truth_and_catalog()
    catalog.write(tmp_path / "catalog.fits")
    plot_redshift_distribution(tmp_path / "catalog.fits", tmp_path / "z.png")
    assert (tmp_path / "z.png").stat().st_size > 5000
    visits = Table(
        {"exposure": ["a", "b", "c"], "visit": ["v1", "v1", "v2"], "filter": ["F150W"] * 3,
         "element": ["CLEAR", "GR150R", "CLEAR"], "pa_v3": [10.0, 10.0, 190.0],
         "expstart": [60000.0, 60000.01, 60100.0], "exptime": [300.0, 1000.0, 300.0]}
    )  # fmt: skip
    visits.write(tmp_path / "visits.ecsv")
    plot_visit_layout(tmp_path / "visits.ecsv", "vir-00", tmp_path / "visits.png")
    assert (tmp_path / "visits.png").stat().st_size > 5000
    visits.remove_column("pa_v3")
    visits.write(tmp_path / "bad.ecsv")
    with pytest.raises(SummaryError, match=r"visit table .*bad.ecsv lacks the column\(s\) pa_v3"):
        plot_visit_layout(tmp_path / "bad.ecsv", "vir-00", tmp_path / "visits.png")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp")) == []


def test_fields_readme_describes_every_catalogue_column(two_fields):
    """FIELDS/README.md's column table names each column the catalogue has, with its unit."""
    readme = (Path(__file__).parents[2] / "FIELDS" / "README.md").read_text()
    section = readme.split("## The combined catalogue's columns")[1]
    documented = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`"):
            for name in re.findall(r"`([^`]+)`", cells[0]):
                documented[name] = cells[1]
    table = combine_catalogs(list(two_fields), 1.0)
    lines = table.meta["LINES"].split(",")
    filters = table.meta["FILTERS"].split(",")
    for name in table.colnames:
        pattern = name
        for value, placeholder in [(f, "{filter}") for f in filters] + [
            (line, "{line}") for line in lines
        ]:
            if name.endswith("_" + value):
                pattern = name[: -len(value)] + placeholder
                break
        assert pattern in documented, f"{name} ({pattern}) is not in FIELDS/README.md"
        if table[name].unit == u.mag:
            assert documented[pattern] == "mag", name
        elif table[name].unit is not None and not pattern.startswith(("flux_", "err_")):
            assert documented[pattern] == table[name].unit.to_string(), name


def test_ambiguous_count_says_why_each_is_ambiguous():
    """The index page's ambiguous count carries each such source's id and flag reason (the
    cell's tooltip), at most MAX_REASONS of them."""
    from wfsspipe.summary import index

    summary = FieldSummary(field="sex-00", programs=["9999"], filters=["F150W"], grisms=["GR150C"],
                           exposures=2, exptime=1000.0, grism_exptime=500.0, ra=150.1, dec=2.2)  # fmt: skip
    reasons = [f"2 lines; z = {z:.3f} reads them as other lines" for z in (2.405, 0.414)]
    catalog = Table({"field": ["sex-00", "sex-00", "sex-00", "other"], "id": [3, 8, 9, 8],
                     "quality": [2, 1, 1, 1], "flag": ["good", "ambiguous", "ambiguous", "ambiguous"],
                     "flag_reason": ["", reasons[0], reasons[1], "elsewhere"]})  # fmt: skip
    index.count_sources([summary], catalog)
    assert summary.ambiguous == 2
    assert summary.ambiguous_reasons == [f"8: {reasons[0]}", f"9: {reasons[1]}"]
    page = index.render_index([summary])
    assert f'title="8: {reasons[0]}\n9: {reasons[1]}">2</td>' in page
    many = [f"{i}: reason" for i in range(index.MAX_REASONS + 5)]
    title = index._reasons_title(many)
    assert title.count("\n") == index.MAX_REASONS and title.endswith(
        "and 5 more (flag_reason in the catalogue)"
    )
