"""wfsspipe.photometry: the catalogue's band fluxes as grizli's joint grism + photometry fit
takes them, and the search templates' band-flux table checked against grizli's own integration."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy import units as u
from astropy.table import Table
from wfsssim import grismconf

from wfsspipe import photometry
from wfsspipe.photometry import (
    PhotometryError,
    PhotometryGrid,
    load_filters,
    phot_dict,
    read_catalog_photometry,
)


def fsps_and_line_templates() -> dict:
    """Three of grizli's FSPS continua (package data) and zfit's physical line templates."""
    import grizli
    from grizli import utils

    from wfsspipe.zfit import physical_line_templates

    folder = Path(grizli.__file__).parent / "data" / "templates" / "fsps"
    templates = {}
    for number in (1, 7, 11):
        data = np.loadtxt(folder / f"fsps_QSF_12_v3_nolines_{number:03d}.dat")
        templates[f"fsps {number}"] = utils.SpectrumTemplate(wave=data[:, 0], flux=data[:, 1])
    templates.update(physical_line_templates(1200.0))
    return templates


@pytest.fixture(scope="module")
def bands(tmp_path_factory) -> list:
    """The synthetic field's three throughputs (files, as the simulator writes them) and sedpy's
    real F150W curve."""
    files = grismconf.write_throughputs(tmp_path_factory.mktemp("filters"))
    synthetic = load_filters(["F115W", "F150W", "F200W"], files)
    return [*synthetic, load_filters(["F150W"])[0]]


def test_band_flux_table_matches_grizli_integration(bands):
    """Each template redshifted and integrated through each band agrees with grizli's
    ``zscale(z).integrate_filter(band) / (1+z)`` (the path it takes without a table) to 2% (a
    line on a band's edge between two steps: 1.6% at worst, the rest < 0.1%), on and between
    the table's steps, at z = 0 (grizli asks for it) and beyond the table."""
    templates = fsps_and_line_templates()
    grid = PhotometryGrid(templates, bands, (0.1, 3.4))
    assert len(templates) == grid.NTEMP
    for z in (0.0, 0.7003, 1.5223, 2.4, 3.39, 3.6):
        ours = grid(z)
        assert ours.shape == (len(templates), len(bands))
        theirs = np.array([[t.zscale(z, scalar=1).integrate_filter(b) / (1 + z) for b in bands]
                           for t in templates.values()])  # fmt: skip
        big = np.abs(theirs) > 1e-3 * np.abs(theirs).max()
        assert big.sum() > len(bands), z  # the comparison covers lines and continua
        assert np.allclose(ours[big], theirs[big], rtol=0.02, atol=0), (
            z,
            np.max(ours[big] / theirs[big]),
        )
        assert np.all(np.abs(ours[~big]) <= 2e-3 * np.abs(theirs).max())


def test_a_band_blue_of_lyman_alpha_is_refused(bands):
    with pytest.raises(PhotometryError, match="Lyman alpha at z = 9"):
        PhotometryGrid(fsps_and_line_templates(), bands, (0.1, 9.0))


def catalogue(path: Path, *, drop: str = "") -> Path:
    """A grizli-like multiband catalogue: apertures 0.5" and 1.0" (ASEC_0, ASEC_1), uJy."""
    table = Table()
    table["id"] = [1, 2, 3]
    table["flux_iso"] = [2.0, 3.0, 1.0] * u.uJy
    table["flux_aper_1"] = [1.0, 2.0, 0.0] * u.uJy  # source 3: no aperture flux
    for name, fluxes in (("f150w", [0.5, 1.0, 0.2]), ("f200w", [0.8, np.nan, 0.3])):
        table[f"{name}_flux_aper_1"] = fluxes * u.uJy
        table[f"{name}_fluxerr_aper_1"] = [0.01, 0.02, 0.05] * u.uJy
        table[f"{name}_flux_aper_0"] = np.array(fluxes) / 2 * u.uJy
        table[f"{name}_fluxerr_aper_0"] = [0.01, 0.01, 0.01] * u.uJy
    table.meta.update(ASEC_0=0.5, ASEC_1=1.0)
    if drop:
        del table[drop]
    table.write(path, overwrite=True)
    return path


def test_catalogue_fluxes_become_segment_fluxes(tmp_path):
    """Band fluxes in the aperture times flux_iso / flux_aper (the segment flux grizli's beam
    models are normalised to), errors alike with sys_err x flux in quadrature."""
    fluxes = read_catalog_photometry(
        catalogue(tmp_path / "phot.fits"), ["F150W", "F200W"], 1.0, 0.05
    )
    assert sorted(fluxes) == [1, 2, 3]
    flux, error = fluxes[1]
    assert flux == pytest.approx([1.0, 1.6])  # x 2.0 / 1.0
    assert error == pytest.approx(np.hypot([0.02, 0.02], 0.05 * np.array([1.0, 1.6])))
    flux, error = fluxes[2]  # scale 1.5; F200W not measured
    assert flux[0] == pytest.approx(1.5) and np.isnan(flux[1])
    assert np.all(np.isnan(fluxes[3][0]))  # no aperture flux: no scale, no photometry


def test_catalogue_problems_name_the_file_and_the_setting(tmp_path):
    path = catalogue(tmp_path / "phot.fits")
    with pytest.raises(ValueError, match=r'no 0.7" aperture.*zfit.photometry.aperture_arcsec'):
        read_catalog_photometry(path, ["F150W"], 0.7, 0.05)
    broken = catalogue(tmp_path / "broken.fits", drop="f200w_fluxerr_aper_1")
    with pytest.raises(PhotometryError, match=r"broken.fits lacks f200w_fluxerr_aper_1"):
        read_catalog_photometry(broken, ["F150W", "F200W"], 1.0, 0.05)
    with pytest.raises(PhotometryError, match=r"missing.fits does not exist"):
        read_catalog_photometry(tmp_path / "missing.fits", ["F150W"], 1.0, 0.05)


def test_phot_dict_is_what_grizli_takes(bands):
    """f_lambda (cgs) at each band's pivot, error -1 for a band without a usable error (grizli
    drops it), an array ext_corr (grizli's SED plot divides by it), and no min_err (run_all
    passes its own)."""
    grid = PhotometryGrid(fsps_and_line_templates(), bands[:3], (0.1, 3.4))
    flux = np.array([1.0, 2.0, np.nan])
    error = np.array([0.1, 0.2, 0.3])
    entry = phot_dict(flux, error, bands[:3], grid, 'phot.fits 1" aperture')
    pivots = np.array([grismconf.pivot_wavelength(f) for f in ("F115W", "F150W", "F200W")])
    assert np.allclose([photometry.pivot(b) for b in bands[:3]], pivots, rtol=1e-4)
    expected = 1e-29 * 2.99792458e18 / pivots[:2] ** 2 * flux[:2]
    # (cgs values ~1e-20: pytest.approx's default absolute tolerance, 1e-12, would pass anything)
    assert entry["flam"][:2] == pytest.approx(expected, rel=1e-6, abs=0)
    assert entry["eflam"][2] == -1
    assert entry["eflam"][0] == pytest.approx(expected[0] / 10, rel=1e-6, abs=0)
    assert entry["tempfilt"] is grid and entry["filters"] == bands[:3]
    assert isinstance(entry["ext_corr"], np.ndarray) and "min_err" not in entry
    assert phot_dict(np.full(3, np.nan), error, bands[:3], grid, "x") is None


def test_filters_from_files_or_sedpy(tmp_path):
    files = grismconf.write_throughputs(tmp_path)
    ours, real = load_filters(["F150W"], files)[0], load_filters(["f150w"])[0]
    assert ours.name == real.name == "f150w"
    assert photometry.pivot(ours) == pytest.approx(grismconf.pivot_wavelength("F150W"), rel=1e-4)
    assert photometry.pivot(real) == pytest.approx(14930, abs=30)  # JWST's NIRISS F150W
    with pytest.raises(PhotometryError, match=r"no throughput for F999W.*zfit.photometry.filters"):
        load_filters(["F999W"])
    bad = tmp_path / "bad.dat"
    bad.write_text("1 2 3\n")
    with pytest.raises(PhotometryError, match=r"bad.dat"):
        load_filters(["F150W"], {"F150W": bad})
    assert photometry.band_names("f200w, F150W,f115w") == ["F115W", "F150W", "F200W"]
    columns = [
        "id",
        "flux_aper_1",
        "f200w_flux_aper_1",
        "F150W_flux_aper_0",
        "f150w_fluxerr_aper_0",
    ]
    assert photometry.catalog_bands(columns) == ["F150W", "F200W"]
