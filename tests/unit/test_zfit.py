"""zfit logic that needs no grizli: the results table, its quality flag and the alternative
redshift."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from astropy import units as u
from astropy.io import fits
from astropy.table import Table
from support import ROOT

from wfsspipe.zfit import (
    LINES,
    ZfitSettings,
    alternative_redshift,
    assess,
    coincident_lines,
    quality,
    read_fit,
    results_table,
)


def write_full_fits(path, z, z16, z84, lines):
    """A file with the keywords grizli writes in ``.full.fits`` (ZFIT_STACK, COVAR)."""
    primary = fits.PrimaryHDU()
    covar = fits.ImageHDU(np.zeros((2, 2)), name="COVAR")
    for i, (name, (flux, err)) in enumerate(lines.items()):
        covar.header[f"FLUX_{i:03d}"] = (flux, f"{name} line flux; erg / (s cm2)")
        covar.header[f"ERR_{i:03d}"] = (err, f"{name} line uncertainty; erg / (s cm2)")
    grid = np.array([z - 0.5, z - 0.4, z - 0.3, z, z + 0.3])  # chi2 minima at z and z - 0.4
    chi2 = np.array([1250.0, 1240.0, 1260.0, 1234.5, 1300.0])
    zfit = fits.BinTableHDU(Table({"zgrid": grid, "chi2": chi2, "pdf": np.exp(-(chi2 - 1234.5) / 2)}),
                            name="ZFIT_STACK")  # fmt: skip
    for key, value in {"Z_MAP": z, "Z16": z16, "Z84": z84, "Z02": z16 - 0.01,
                       "Z97": z84 + 0.01, "CHIMIN": 1234.5, "DOF": 1200}.items():  # fmt: skip
        zfit.header[key] = value
    fits.HDUList([primary, zfit, covar]).writeto(path)


def test_results_table_reads_fits_and_flags_quality(tmp_path):
    settings = ZfitSettings(max_width=0.01, min_line_sn=5.0)
    write_full_fits(tmp_path / "f-00_00001.full.fits", 1.3, 1.299, 1.301,
                    {"Ha": (2e-17, 1e-18), "SII": (1e-18, 1e-18)})  # fmt: skip
    write_full_fits(tmp_path / "f-00_00002.full.fits", 0.9, 0.6, 1.2, {"Ha": (2e-18, 1e-18)})
    (tmp_path / "f-00_00001.full.png").write_bytes(b"png")
    chosen = Table({"id": [1, 2, 3], "ra": [10.0, 10.1, 10.2], "dec": [-5.0, -5.1, -5.2]})
    rows = {
        1: {"id": 1, "status": "ok", "seconds": 12.0},
        2: {"id": 2, "status": "ok", "seconds": 9.0},
        3: {"id": 3, "status": "failed", "reason": "ValueError: boom", "seconds": 1.0},
    }
    table = results_table("f-00", chosen, rows, tmp_path, settings)
    assert list(table["id"]) == [1, 2, 3]
    # Source 1 rests on one line (SII's S/N is 1) and z = 0.9 fits within dchi2 5.5: ambiguous.
    assert list(table["quality"]) == [1, 1, 0]
    assert list(table["flag"]) == ["ambiguous", "poor", "no fit"]
    assert table["z_alt"][0] == pytest.approx(0.9) and table["dchi2_alt"][0] == pytest.approx(5.5)
    assert "z = 0.900 fits almost as well (dchi2 5.5)" in table["flag_reason"][0]
    assert table["z"][0] == pytest.approx(1.3) and table["z_lo"][0] == pytest.approx(1.299)
    assert table["flux_Ha"][0] == pytest.approx(2e-17) and table["sn_Ha"][0] == pytest.approx(20)
    assert table["nlines"][0] == 1  # SII at S/N 1 does not count
    assert np.isnan(table["z"][2]) and table["reason"][2] == "ValueError: boom"
    assert table["fit_plot"][0] == "f-00_00001.full.png" and table["fit_plot"][1] == ""
    assert table.meta["LINES"] == LINES
    for line in LINES:
        assert {f"flux_{line}", f"err_{line}", f"sn_{line}"} <= set(table.colnames)


def test_a_line_outside_the_coverage_is_not_measured_and_fluxes_have_units(tmp_path):
    # grizli gives a line template with no pixels in the spectra coefficient 0 and error 0.
    write_full_fits(tmp_path / "f-00_00001.full.fits", 1.3, 1.299, 1.301,
                    {"Ha": (2e-17, 1e-18), "OIII": (0.0, 0.0)})  # fmt: skip
    chosen = Table({"id": [1], "ra": [10.0], "dec": [-5.0]})
    rows = {1: {"id": 1, "status": "ok", "seconds": 3.0}}
    table = results_table("f-00", chosen, rows, tmp_path, ZfitSettings())
    assert np.isnan(table["flux_OIII"][0]) and np.isnan(table["err_OIII"][0])
    assert np.isnan(table["sn_OIII"][0]) and np.isnan(table["flux_OII"][0])  # not in the fit
    assert table["flux_Ha"][0] == pytest.approx(2e-17)
    assert table["flux_Ha"].unit == u.Unit("erg / (s cm2)") and table["ra"].unit == u.deg
    table.write(tmp_path / "t.fits")
    assert Table.read(tmp_path / "t.fits")["err_Ha"].unit == u.Unit("erg / (s cm2)")


def test_results_table_marks_unreadable_fit_products_failed(tmp_path):
    (tmp_path / "f-00_00001.full.fits").write_bytes(b"not fits")
    chosen = Table({"id": [1], "ra": [1.0], "dec": [2.0]})
    table = results_table("f-00", chosen, {1: {"id": 1, "status": "ok"}}, tmp_path, ZfitSettings())
    assert table["status"][0] == "failed" and "unreadable" in table["reason"][0]


def test_empty_results_table_is_valid(tmp_path):
    chosen = Table({"id": np.array([], int), "ra": np.array([]), "dec": np.array([])})
    table = results_table("f-00", chosen, {}, tmp_path, ZfitSettings())
    assert len(table) == 0 and "quality" in table.colnames
    table.write(tmp_path / "empty.fits")
    assert len(Table.read(tmp_path / "empty.fits")) == 0


def test_quality_needs_a_narrow_interval_and_a_line():
    settings = ZfitSettings(max_width=0.01, min_line_sn=5.0)
    good = {"status": "ok", "z": 1.0, "z_lo": 0.995, "z_hi": 1.005}
    assert quality(good, 6.0, settings) == 2
    assert quality(good, 4.0, settings) == 1
    assert quality({**good, "z_hi": 1.05}, 9.0, settings) == 1
    assert quality({**good, "status": "failed"}, 9.0, settings) == 0


def test_read_fit_roundtrip(tmp_path):
    write_full_fits(tmp_path / "a.full.fits", 2.0, 1.99, 2.01, {"OIII": (5e-17, 5e-18)})
    fit = read_fit(tmp_path / "a.full.fits")
    assert fit["z"] == 2.0 and fit["dof"] == 1200 and fit["lines"]["OIII"] == (5e-17, 5e-18)


def test_alternative_redshift_is_the_best_other_chi2_minimum():
    z = np.linspace(0.1, 3.0, 600)
    # the best fit at z = 1.3; other identifications at 0.36 (chi2 + 3) and 2.5 (chi2 + 40)
    chi2 = 1000 + 4000 * (z - 1.3) ** 2
    chi2 = np.minimum(chi2, 1003 + 4000 * (z - 0.36) ** 2)
    chi2 = np.minimum(chi2, 1040 + 4000 * (z - 2.5) ** 2)
    z_alt, dchi2 = alternative_redshift(z, chi2, separation=0.05)
    assert z_alt == pytest.approx(0.36, abs=0.01) and dchi2 == pytest.approx(3.0, abs=0.5)
    single = 1000 + 4000 * (z - 1.3) ** 2  # one minimum only
    assert np.isnan(alternative_redshift(z, single)[0])
    # a neighbour inside the separation is the same solution, not an alternative
    near = np.minimum(single, 1001 + 4000 * (z - 1.33) ** 2)
    assert np.isnan(alternative_redshift(z, near, separation=0.05)[0])


@pytest.mark.parametrize(
    ("nlines", "dchi2", "flag", "quality_value"),
    [(1, 3.1, "ambiguous", 1), (0, 3.1, "ambiguous", 1), (1, 25.0, "good", 2),
     (2, 3.1, "good", 2), (1, np.nan, "good", 2)],
)  # fmt: skip
def test_one_line_with_a_close_alternative_is_ambiguous(nlines, dchi2, flag, quality_value):
    settings = ZfitSettings(max_width=0.01, min_line_sn=5.0, ambiguous_dchi2=9.0)
    record = {"status": "ok", "z": 1.3, "z_lo": 1.299, "z_hi": 1.301, "nlines": nlines,
              "z_alt": 0.358, "dchi2_alt": dchi2}  # fmt: skip
    value, got, reason = assess(record, 20.0, settings)
    assert (value, got) == (quality_value, flag)
    if flag == "ambiguous":
        assert "z = 0.358" in reason and "dchi2 3.1" in reason
    assert assess({**record, "z_hi": 1.4}, 20.0, settings)[1] == "poor"
    assert assess({**record, "status": "failed", "reason": "boom"}, 20.0, settings) == (
        0,
        "no fit",
        "boom",
    )


def test_coincident_lines_read_each_detected_line_as_another():
    """Hα and [OIII] at z = 1.522 sit where Hβ and [OII] sit at z = 2.405 (the PASSAGE-like
    demo's misidentified emitter); at z = 0.455 nothing falls on them."""
    assert coincident_lines(["Ha", "OIII"], 1.522, 2.405, 0.01) == {"Ha": "Hb", "OIII": "OII"}
    assert coincident_lines(["Ha"], 1.522, 2.405, 0.01) == {"Ha": "Hb"}
    assert coincident_lines(["Ha", "OIII"], 1.522, 0.455, 0.01) is None
    assert coincident_lines([], 1.522, 2.405, 0.01) is None
    assert coincident_lines(["Ha"], 1.522, np.nan, 0.01) is None
    # 2% away in wavelength is another place for the grism (R ~ 150), even on a coarse grid
    assert coincident_lines(["Ha"], 1.522, 2.405 * 1.02 + 0.02, 0.01) is None


@pytest.mark.parametrize(
    ("z_alt", "dchi2", "flag"),
    [(2.405, 35.6, "ambiguous"), (2.405, 60.0, "good"), (0.455, 35.6, "good")],
)
def test_lines_read_as_other_lines_within_the_threshold_are_ambiguous(z_alt, dchi2, flag):
    """Two detected lines (so the one-line rule does not apply) whose alternative reads both as
    other lines: ambiguous below ``coincident_dchi2`` with the readings named; good above it or
    when the alternative puts no line on them."""
    settings = ZfitSettings(min_line_sn=5.0, ambiguous_dchi2=9.0, coincident_dchi2=50.0)
    record = {"status": "ok", "z": 1.522, "z_lo": 1.521, "z_hi": 1.523, "nlines": 2,
              "z_alt": z_alt, "dchi2_alt": dchi2, "sn_Ha": 14.2, "sn_OIII": 6.7, "sn_Hb": 1.0}  # fmt: skip
    value, got, reason = assess(record, 14.2, settings)
    assert got == flag and value == (1 if flag == "ambiguous" else 2)
    if flag == "ambiguous":
        assert f"z = {z_alt:.3f}" in reason and "OIII as OII, Ha as Hb" in reason, reason


@pytest.mark.parametrize(
    ("z", "flag"), [(0.1, "poor"), (0.105, "poor"), (3.39, "poor"), (0.13, "good"), (3.3, "good")]
)
def test_a_redshift_at_the_edge_of_the_range_is_poor(z, flag):
    """The best redshift at a bound of ``z_range`` (within a coarse step): the solution the chi2
    wants lies outside the range (a star's continuum fitted with galaxy templates does this)."""
    settings = ZfitSettings(z_range=(0.1, 3.4), dz=(0.01, 0.0005))
    record = {"status": "ok", "z": z, "z_lo": z - 0.001, "z_hi": z + 0.001, "nlines": 4,
              "z_alt": np.nan, "dchi2_alt": np.nan}  # fmt: skip
    value, got, reason = assess(record, 20.0, settings)
    assert got == flag and value == (1 if flag == "poor" else 2)
    if flag == "poor":
        assert "edge of the range searched (0.1-3.4)" in reason, reason


def test_one_line_read_as_another_past_the_one_line_threshold_is_ambiguous():
    """One detected line with an alternative past ``ambiguous_dchi2`` but within
    ``coincident_dchi2``: ambiguous, said in the singular."""
    settings = ZfitSettings(min_line_sn=5.0, ambiguous_dchi2=9.0, coincident_dchi2=50.0)
    record = {"status": "ok", "z": 1.522, "z_lo": 1.521, "z_hi": 1.523, "nlines": 1,
              "z_alt": 2.405, "dchi2_alt": 20.0, "sn_Ha": 14.2}  # fmt: skip
    assert assess(record, 14.2, settings) == (
        1, "ambiguous", "one line; z = 2.405 reads it as another line (Ha as Hb; dchi2 20.0)"
    )  # fmt: skip


def test_settings_defaults_are_the_config_defaults():
    """``ZfitSettings()`` (what tests and benchmarks build without a config) is
    config/config.yaml's ``zfit`` section: a default changed in one place only fails here."""
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["zfit"]
    assert ZfitSettings.from_config(config) == ZfitSettings()
