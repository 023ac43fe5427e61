"""Truth catalogue of the synthetic field: determinism and physical consistency."""

from __future__ import annotations

import numpy as np
import pytest
from wfsssim import grismconf, scene

RA, DEC = 150.1, 2.2


@pytest.fixture(scope="module")
def truth():
    return scene.make_scene(seed=2026, ra=RA, dec=DEC)


def test_same_seed_same_table_other_seed_other_table(truth):
    again = scene.make_scene(seed=2026, ra=RA, dec=DEC)
    assert truth.colnames == again.colnames
    for column in truth.colnames:
        assert np.array_equal(truth[column], again[column]), column
    other = scene.make_scene(seed=2027, ra=RA, dec=DEC)
    assert not np.allclose(truth["ra"], other["ra"])
    assert not np.allclose(truth["z"], other["z"])


def test_population_and_redshifts(truth):
    kinds = list(truth["kind"])
    assert kinds.count("emitter") == 12
    assert kinds.count("continuum") == 3
    assert kinds.count("star") == 3
    assert list(truth["id"]) == list(range(1, len(truth) + 1))
    z_emit = np.sort(truth["z"][truth["kind"] == "emitter"])
    assert z_emit.min() > 0.5 and z_emit.max() < 3.0
    # Stratified: every 1/12 of the range holds exactly one emitter.
    bins = np.floor((z_emit - 0.5) / (2.5 / 12)).astype(int)
    assert list(bins) == list(range(12))
    assert np.all(truth["z"][truth["kind"] == "star"] == 0)


def test_positions_inside_central_field_and_separated(truth):
    east = (truth["ra"] - RA) * np.cos(np.deg2rad(DEC)) * 3600
    north = (truth["dec"] - DEC) * 3600
    assert np.all(np.abs(east) <= 60.0) and np.all(np.abs(north) <= 60.0)
    sep = np.hypot(east[:, None] - east[None, :], north[:, None] - north[None, :])
    sep[np.diag_indices(len(truth))] = np.inf
    assert sep.min() >= 4.0
    # The designed close pair (last emitter + first continuum galaxy) is 5-8" apart.
    pair = sep[11, 12]
    assert 5.0 <= pair <= 8.0


def test_lines_only_inside_1_to_2p2_micron(truth):
    lo, hi = scene.LINE_RANGE_ANGSTROM
    n_lines = 0
    for row in truth:
        for column, rest in scene.LINES.items():
            observed = rest * (1 + row["z"])
            if row["kind"] == "emitter" and lo <= observed <= hi:
                assert row[column] > 0, (row["id"], column, observed)
                n_lines += 1
            else:
                assert row[column] == 0, (row["id"], column, observed)
    assert n_lines >= 24  # two or more lines per emitter on average
    # Every emitter has a strong line (>= 5e-17 erg/s/cm2) somewhere in 1.0-2.2 um.
    for row in truth[truth["kind"] == "emitter"]:
        assert max(flux for _, flux in scene.observed_lines(row).values()) >= 5e-17


def test_spectrum_line_flux_integrates_to_table_value(truth):
    row = next(r for r in truth if r["kind"] == "emitter" and r["flux_halpha"] > 0)
    centre = scene.LINES["flux_halpha"] * (1 + row["z"])
    wave = np.linspace(centre - 60, centre + 60, 4001)
    continuum = row["cont_flambda"] * scene._continuum_shape(row, wave)
    line = np.trapz(scene.spectrum(row, wave) - continuum, wave)
    assert line == pytest.approx(row["flux_halpha"], rel=1e-3)


def test_magnitudes_are_synthetic_photometry_of_the_spectrum(truth):
    for filter_name, column in scene.MAG_COLUMNS.items():
        mags = truth[column]
        assert np.all((mags > 18.0) & (mags < 27.0)), column
        for row in truth:
            measured = grismconf.synthetic_mag(
                filter_name, scene.SPECTRUM_GRID, scene.spectrum(row, scene.SPECTRUM_GRID)
            )
            assert measured == pytest.approx(row[column], abs=1e-6)
    stars = truth[truth["kind"] == "star"]
    galaxies = truth[truth["kind"] == "continuum"]
    assert np.all((stars["mag_f150w"] > 20.0) & (stars["mag_f150w"] < 22.5))
    assert np.all(galaxies["mag_f150w"] < 23.0)
    # Lines brighten emitters: total magnitude is brighter than the continuum alone.
    for row in truth[truth["kind"] == "emitter"]:
        continuum = row["cont_flambda"] * scene._continuum_shape(row, scene.SPECTRUM_GRID)
        cont_mag = grismconf.synthetic_mag("F150W", scene.SPECTRUM_GRID, continuum)
        assert row["mag_f150w"] <= cont_mag + 1e-9


def test_shapes_in_documented_ranges(truth):
    galaxies = truth[truth["kind"] != "star"]
    assert np.all((galaxies["re_arcsec"] >= 0.08) & (galaxies["re_arcsec"] <= 0.45))
    assert np.all((galaxies["axis_ratio"] >= 0.4) & (galaxies["axis_ratio"] <= 1.0))
    assert np.all((galaxies["sersic_n"] >= 0.8) & (galaxies["sersic_n"] <= 2.5))
    stars = truth[truth["kind"] == "star"]
    assert np.all(stars["re_arcsec"] == 0) and np.all(stars["teff"] > 3000)


def test_galaxy_continua_are_grizli_fsps_mixes(truth):
    """A galaxy's continuum is its two FSPS templates (grizli's files), redshifted and mixed as
    the table says, 1 at 1.5 um; emitters' (young) continua are bluer than continuum galaxies'."""
    wave = np.linspace(10000.0, 22000.0, 500)
    colours = {"emitter": [], "continuum": []}
    for row in truth[truth["kind"] != "star"]:
        shape = scene._continuum_shape(row, wave)
        expected = np.zeros_like(wave)
        for number, weight in ((row["cont_template_a"], row["cont_mix"]),
                               (row["cont_template_b"], 1 - row["cont_mix"])):  # fmt: skip
            template_wave, flux = scene.fsps_template(int(number))
            rest = wave / (1 + row["z"])
            norm = np.interp(15000.0 / (1 + row["z"]), template_wave, flux)
            expected += weight * np.interp(rest, template_wave, flux) / norm
        assert np.allclose(shape, expected, rtol=1e-9, atol=0)
        assert scene._continuum_shape(row, np.array([15000.0]))[0] == pytest.approx(1.0)
        assert row["cont_template_a"] != row["cont_template_b"]
        # f_nu ratio blue/red end: higher is bluer
        colours[row["kind"]].append(shape[0] * wave[0] ** 2 / (shape[-1] * wave[-1] ** 2))
    assert np.median(colours["emitter"]) > np.median(colours["continuum"])
