"""Synthetic grism configuration and rendered count-rate images (direct and dispersed)."""

from __future__ import annotations

import os
import subprocess
import sys
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import sep
from astropy.io import fits
from wfsssim import grismconf, instrument, render, scene

RA, DEC, PA = 150.1, 2.2, 75.0


@pytest.fixture(scope="module")
def grizli_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("grizli")
    grismconf.write_grizli_config(root)
    return root


@pytest.fixture(scope="module")
def truth():
    return scene.make_scene(seed=2026, ra=RA, dec=DEC)


def grism_exposure(grism, filter_name="F150W", pa=PA):
    return render.Exposure(RA, DEC, pa, grism, filter_name, "NIS_WFSS")


@cache
def _cached_render(root: str, grism: str, with_lines: bool) -> np.ndarray:
    table = scene.make_scene(seed=2026, ra=RA, dec=DEC)
    if not with_lines:
        for column in scene.LINES:
            table[column] = 0.0
    return render.render_rate(table, grism_exposure(grism), Path(root), sky=False)


# --- grism configuration -----------------------------------------------------------------------
def test_grizli_finds_and_loads_the_configuration(grizli_root):
    """In a fresh interpreter with $GRIZLI set, grizli resolves our files by itself."""
    probe = (
        "import json, os\n"
        "from grizli import grismconf, utils\n"
        "out = {}\n"
        "for g in ('GR150R', 'GR150C'):\n"
        "    for f in ('F115W', 'F150W', 'F200W'):\n"
        "        name = grismconf.get_config_filename('NIRISS', f, g)\n"
        "        conf = grismconf.load_grism_config(name, warnings=False)\n"
        "        dy, lam = conf.get_beam_trace(x=1024, y=1024, dx=np.array([50.0, 51.0]), beam='A')\n"
        "        out[g + f] = [name, conf.beams, float(lam[1] - lam[0])]\n"
        "templates = utils.load_templates(line_complexes=True, fsps_templates=True)\n"
        "out['templates'] = len(templates)\n"
        "print(json.dumps(out))\n"
    )
    env = dict(os.environ, GRIZLI=str(grizli_root))
    result = subprocess.run(
        [sys.executable, "-c", "import numpy as np\n" + probe],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    import json

    out = json.loads(result.stdout.strip().splitlines()[-1])
    for grism in ("GR150R", "GR150C"):
        for filter_name in ("F115W", "F150W", "F200W"):
            name, beams, dispersion = out[grism + filter_name]
            assert name == str(grizli_root / "CONF" / f"{grism}.{filter_name}.221215.conf")
            assert beams == ["A", "B", "C"]
            assert dispersion == pytest.approx(47.0, abs=0.1)  # A per pixel, first order
    assert out["templates"] > 10


def test_sensitivity_curves_follow_the_blocking_filters(grizli_root):
    for filter_name, (lo, hi) in grismconf.FILTER_EDGES_ANGSTROM.items():
        path = grizli_root / "CONF" / grismconf.sensitivity_filename("GR150R", filter_name, "A")
        table = fits.getdata(path, 1)
        wave, sens = table["WAVELENGTH"], table["SENSITIVITY"]
        assert set(table.columns.names) == {"WAVELENGTH", "SENSITIVITY", "ERROR"}
        half = wave[sens > 0.5 * sens.max()]
        assert half.min() == pytest.approx(lo, abs=150) and half.max() == pytest.approx(hi, abs=150)
        assert 1e16 < sens.max() < 1e17  # (DN/s) / (erg/s/cm2/A) per A
    # Zeroth and second orders are much weaker than the first.
    sens = {
        b: fits.getdata(
            grizli_root / "CONF" / grismconf.sensitivity_filename("GR150C", "F150W", b), 1
        )["SENSITIVITY"].max()
        for b in "ABC"
    }
    assert sens["B"] < 0.1 * sens["A"] and sens["C"] < 0.1 * sens["A"]


def test_skyflat_in_the_format_grizli_reads(grizli_root):
    path = grizli_root / "CONF" / "nis-f150w-gr150r_skyflat.fits"  # nis-{pupil}-{filter}, lower
    with fits.open(path) as hdul:
        assert "DATE" not in hdul[0].header  # else grizli compares it with the CRDS file date
        flat = hdul[1].data
    assert flat.shape == instrument.DETECTOR_SHAPE
    assert np.median(flat) == pytest.approx(1.0, abs=1e-6)
    assert flat.min() > 0.8 and flat.max() < 1.2  # inside grizli's valid range 0.6-1.3
    assert flat.std() > 0.01  # structured, not flat
    other = fits.getdata(grizli_root / "CONF" / "nis-f150w-gr150c_skyflat.fits", 1)
    assert not np.allclose(flat, other)
    assert (grizli_root / "templates" / "fsps").is_dir()


def test_zeropoints_match_the_throughput_model():
    for filter_name, zeropoint in render.ZEROPOINT_AB.items():
        assert zeropoint == pytest.approx(grismconf.imaging_zeropoint(filter_name), abs=0.002)


# --- direct images -----------------------------------------------------------------------------
@pytest.mark.parametrize("filter_name", ["F115W", "F150W", "F200W"])
def test_direct_photometry_recovers_injected_magnitudes(truth, grizli_root, filter_name):
    exposure = render.Exposure(RA, DEC, PA, "CLEAR", filter_name, "NIS_IMAGE")
    rate = render.render_rate(truth, exposure, grizli_root)
    assert rate.dtype == np.float32 and rate.shape == (2048, 2048)
    sky = render.SKY_DIRECT_DN_S[filter_name]
    assert np.median(rate) == pytest.approx(sky, rel=1e-5)

    wcs = instrument.exposure_wcs(RA, DEC, PA)
    x, y = wcs.all_world2pix(truth["ra"], truth["dec"], 0)
    radius = render.MAX_STAMP_RADIUS
    inside = (x > radius) & (x < 2047 - radius) & (y > radius) & (y < 2047 - radius)
    assert inside.sum() >= 12
    data = rate.astype(np.float64) - sky
    flux, _, _ = sep.sum_circle(data, x[inside], y[inside], radius, subpix=5)
    mags = render.ZEROPOINT_AB[filter_name] - 2.5 * np.log10(flux)
    injected = truth[scene.MAG_COLUMNS[filter_name]][inside]
    assert np.max(np.abs(mags - injected)) < 0.05

    # Sources sit where the WCS puts them (flux-weighted centroid of the footprint within 0.1 px).
    yy, xx = np.mgrid[0:2048, 0:2048]
    for xi, yi in zip(x[inside], y[inside]):
        box = (
            slice(int(yi) - radius, int(yi) + radius + 2),
            slice(int(xi) - radius, int(xi) + radius + 2),
        )
        weight = data[box]
        assert (weight * xx[box]).sum() / weight.sum() == pytest.approx(xi, abs=0.1)
        assert (weight * yy[box]).sum() / weight.sum() == pytest.approx(yi, abs=0.1)


# --- dispersed images --------------------------------------------------------------------------
def _conf(grizli_root, grism, filter_name="F150W"):
    from grizli import grismconf as grizli_grismconf

    path = grizli_root / "CONF" / grismconf.conf_filename(grism, filter_name)
    return grizli_grismconf.load_grism_config(str(path), warnings=False)


def _predicted_line_pixel(conf, grism, x, y, wavelength):
    """Detector (x, y) of ``wavelength`` for a source at detector (x, y), derived from np.rot90.

    grizli pads the frame symmetrically, rotates it with np.rot90 (k=-1 GR150R, k=2 GR150C) so
    that dispersion runs to +x, and evaluates the conf at the 1-based unpadded rotated position.
    """
    pad = render.GRISM_PAD
    n = 2048 + 2 * pad
    k = -1 if grism == "GR150R" else 2
    cols, rows = np.meshgrid(np.arange(n), np.arange(n))
    rot_cols, rot_rows = np.rot90(cols, k), np.rot90(rows, k)
    # Affine map rotated -> detector from three reference pixels, and its inverse.
    src = np.array([[0, 0, 1], [1, 0, 1], [0, 1, 1]], float)  # (x', y', 1) in rotated frame
    dst = np.array(
        [
            [rot_cols[0, 0], rot_rows[0, 0]],
            [rot_cols[0, 1], rot_rows[0, 1]],
            [rot_cols[1, 0], rot_rows[1, 0]],
        ],
        float,
    )
    to_det = np.linalg.solve(src, dst)  # [x', y', 1] @ to_det = [x, y]
    full = np.vstack([to_det.T, [0, 0, 1]])
    to_rot = np.linalg.inv(full)
    xr, yr, _ = to_rot @ np.array([x + pad, y + pad, 1.0])
    lo, hi = conf.conf["BEAMA"]
    dx = np.arange(lo, hi + 1, 0.01)
    dy, lam = conf.get_beam_trace(x=xr + 1 - pad, y=yr + 1 - pad, dx=dx, beam="A")
    dx_line = np.interp(wavelength, lam, dx)
    dy_line = np.interp(dx_line, dx, dy)
    xd, yd = np.array([xr + dx_line, yr + dy_line, 1.0]) @ to_det
    return xd - pad, yd - pad


@pytest.mark.parametrize("grism", ["GR150R", "GR150C"])
def test_emission_lines_land_where_the_configuration_says(truth, grizli_root, grism):
    with_lines = _cached_render(str(grizli_root), grism, True).astype(np.float64)
    continuum = _cached_render(str(grizli_root), grism, False).astype(np.float64)
    line_only = with_lines - continuum
    conf = _conf(grizli_root, grism)
    sens = conf.sens["A"]
    wcs = instrument.exposure_wcs(RA, DEC, PA)
    lo, hi = grismconf.FILTER_EDGES_ANGSTROM["F150W"]

    checked, strong = 0, 0
    for row in truth[truth["kind"] == "emitter"]:
        lines = {c: v for c, v in scene.observed_lines(row).items() if lo + 150 < v[0] < hi - 150}
        if not lines:
            continue
        # Brightest line in counts.
        column = max(
            lines,
            key=lambda c: (
                lines[c][1] * np.interp(lines[c][0], sens["WAVELENGTH"], sens["SENSITIVITY"])
            ),
        )
        wavelength = lines[column][0]
        x, y = wcs.all_world2pix(row["ra"], row["dec"], 0)
        xp, yp = _predicted_line_pixel(conf, grism, float(x), float(y), wavelength)
        if not (40 < xp < 2007 and 40 < yp < 2007):
            continue
        # The brightest pixel of the line image near the prediction is the predicted pixel.
        xi, yi = int(np.round(xp)), int(np.round(yp))
        box = line_only[yi - 4 : yi + 5, xi - 4 : xi + 5]
        peak_y, peak_x = np.unravel_index(np.argmax(box), box.shape)
        assert abs(xi - 4 + peak_x - xp) <= 1.0 and abs(yi - 4 + peak_y - yp) <= 1.0, (
            row["id"],
            column,
            (xp, yp),
            (xi - 4 + peak_x, yi - 4 + peak_y),
        )
        # And a strong line stands out above the continuum there (3x3 pixels).
        line_peak = line_only[yi - 1 : yi + 2, xi - 1 : xi + 2].sum()
        cont_peak = continuum[yi - 1 : yi + 2, xi - 1 : xi + 2].sum()
        checked += 1
        if lines[column][1] >= 1e-16:
            strong += 1
            assert line_peak > 1.5 * cont_peak, (row["id"], column, line_peak, cont_peak)
        # The helper the workflow's QA uses agrees with this independent derivation.
        xh, yh = render.trace_position(
            grism_exposure(grism), grizli_root, row["ra"], row["dec"], wavelength
        )
        assert xh == pytest.approx(xp, abs=0.02) and yh == pytest.approx(yp, abs=0.02)
    assert checked >= 6 and strong >= 5


@pytest.mark.parametrize("grism, axis, sign", [("GR150R", 0, -1), ("GR150C", 1, -1)])
def test_traces_run_along_columns_for_r_and_rows_for_c(truth, grizli_root, grism, axis, sign):
    """GR150R disperses along detector columns (towards -y), GR150C along rows (towards -x)."""
    star = truth[truth["kind"] == "star"][:1]
    star["ra"], star["dec"] = RA, DEC  # on the reference pixel
    rate = render.render_rate(star, grism_exposure(grism), grizli_root, sky=False)
    x0, y0 = instrument.exposure_wcs(RA, DEC, PA).all_world2pix(RA, DEC, 0)
    # First order only: the 0th order sits ~223 px on the other side.
    yy, xx = np.mgrid[0:2048, 0:2048]
    along = (yy - y0) if axis == 0 else (xx - x0)
    across = (xx - x0) if axis == 0 else (yy - y0)
    first = (sign * along > 20) & (np.abs(across) < 15)
    flux = rate * first
    assert flux.sum() > 0.8 * rate.sum()
    mean_along = (flux * along).sum() / flux.sum()
    spread_along = np.sqrt((flux * along**2).sum() / flux.sum() - mean_along**2)
    mean_across = (flux * across).sum() / flux.sum()
    spread_across = np.sqrt((flux * across**2).sum() / flux.sum() - mean_across**2)
    assert sign * mean_along > 50  # the F150W first order is 60-170 px from the source
    assert spread_along > 15 * spread_across
    # Zeroth order: compact spot ~223 px on the opposite side.
    zeroth = (np.abs(along - sign * grismconf.ZEROTH_ORDER_DX) < 12) & (np.abs(across) < 12)
    assert rate[zeroth].sum() > 0.01 * rate.sum()


def test_dispersed_flux_matches_sensitivity_integral(truth, grizli_root):
    """Units: total DN/s of a dispersed star = sum over beams of integral f_lambda * S d lambda."""
    star = truth[truth["kind"] == "star"][:1]
    star["ra"], star["dec"] = RA, DEC
    for grism in ("GR150R", "GR150C"):
        rate = render.render_rate(star, grism_exposure(grism, "F200W"), grizli_root, sky=False)
        conf = _conf(grizli_root, grism, "F200W")
        expected = 0.0
        for beam in conf.beams:
            wave, sens = conf.sens[beam]["WAVELENGTH"], conf.sens[beam]["SENSITIVITY"]
            expected += np.trapz(scene.spectrum(star[0], wave) * sens, wave)
        assert rate.astype(np.float64).sum() == pytest.approx(expected, rel=0.005)


def test_grism_sky_is_level_times_skyflat(truth, grizli_root):
    rate = render.render_rate(truth[:0], grism_exposure("GR150C", "F115W"), grizli_root)
    flat = fits.getdata(grizli_root / "CONF" / "nis-f115w-gr150c_skyflat.fits", 1)
    b = instrument.REFERENCE_PIXEL_BORDER
    inner = (slice(b, 2048 - b), slice(b, 2048 - b))
    expected = render.SKY_GRISM_DN_S["F115W"] * flat
    np.testing.assert_allclose(rate[inner], expected[inner], rtol=1e-6)
    assert render.SKY_GRISM_DN_S["F115W"] > render.SKY_DIRECT_DN_S["F115W"]
    # Reference pixels see no light.
    if b:
        assert not rate[:b].any() and not rate[:, -b:].any()


def test_rendering_is_deterministic(truth, grizli_root):
    first = render.render_rate(truth, grism_exposure("GR150R"), grizli_root)
    second = render.render_rate(truth, grism_exposure("GR150R"), grizli_root)
    assert np.array_equal(first, second)
    assert first.std() > 0.01  # not trivially equal: sources and structured sky are there
    direct = render.Exposure(RA, DEC, PA, "CLEAR", "F200W", "NIS_IMAGE")
    assert np.array_equal(
        render.render_rate(truth, direct, grizli_root),
        render.render_rate(truth, direct, grizli_root),
    )


def test_exposure_validation_and_metadata():
    with pytest.raises(ValueError, match="GR150R/GR150C"):
        render.Exposure(RA, DEC, PA, "CLEAR", "F150W", "NIS_WFSS")
    with pytest.raises(ValueError, match="blocking filter"):
        render.Exposure(RA, DEC, PA, "GR150R", "F444W", "NIS_WFSS")
    meta = render.exposure_meta(
        {
            "ra_ref": RA,
            "dec_ref": DEC,
            "pa_aper": PA,
            "filter": "gr150c",
            "pupil": "f200w",
            "exp_type": "nis_wfss",
        }
    )
    assert meta["FILTER"] == "GR150C" and meta["PUPIL"] == "F200W"
    assert meta["FWCPOS"] == grismconf.FWCPOS_REF["GR150C"] and meta["BUNIT"] == "DN/s"


def test_radec_catalogue_reads_back_with_loadtxt(truth, tmp_path):
    path = tmp_path / "field.radec"
    render.write_radec_catalog(truth, path)
    table = np.loadtxt(path)  # what grizli's prep does with a radec file name
    assert table.shape == (len(truth), 2)
    np.testing.assert_allclose(table[:, 0], truth["ra"], atol=1e-8)
    np.testing.assert_allclose(table[:, 1], truth["dec"], atol=1e-8)
    assert path.read_text().startswith("# ra dec\n")
