"""grizli stages on the synthetic field: preprocess (prepared exposures, visit table) and mosaic.

The products come from the session build (tests/workflow/conftest.py ``built``); the edge cases
run the library on subsets of the same RATE files.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS
from conftest import TEST_APERTURES_ARCSEC, exposures
from support import ROOT
from wfsssim import crdscache, render
from wfsssim.stripes import segment_fluxes, stripe_report

from wfsspipe.layout import VISIT_INTERMEDIATES
from wfsspipe.preprocess import read_visits
from wfsspipe.storage import image_header, is_compressed

pytestmark = [pytest.mark.workflow, pytest.mark.slow]

POSITION_TOLERANCE_ARCSEC = 0.1
MAG_TOLERANCE = 0.1
# Every injected source is brighter than this (the scene's faintest is ~24.9 AB): all must be
# found. Photometry is held to MAG_TOLERANCE where the catalogue's own error is small: below
# 0.02 mag, so that 0.1 mag is > 3 sigma of the true error (SEP's, 1.3x for the drizzled mosaic's
# correlation and ~1.16x for what the 1/f correction leaves; at 0.05 a 22.9 mag source with a
# 0.037 mag error sat at 0.109 on the session build, 2 sigma of its true error).
INJECTED_LIMIT = 25.5
PRECISE_MAG_ERROR = 0.02


def field_of(built: Path) -> str:
    (field,) = sorted(set(exposures(built)["field"]))
    return field


def truth(synthetic_field: Path) -> Table:
    return Table.read(synthetic_field / "truth.ecsv")


def direct_filters(built: Path) -> list[str]:
    table = exposures(built)
    return sorted(
        {p.lower() for p, e in zip(table["pupil"], table["exp_type"]) if e == "NIS_IMAGE"}
    )


def test_synthetic_calibration_matches_the_rendered_zeropoints():
    """The photom reference (which the catalogue's uJy follow) and the renderer's zeropoints
    (which the injected magnitudes follow) describe the same instrument."""
    for band, zeropoint in render.ZEROPOINT_AB.items():
        catalogue_zp = 8.9 - 2.5 * np.log10(crdscache.PHOTMJSR[band] * 1e6 * crdscache.PIXAR_SR)
        assert catalogue_zp == pytest.approx(zeropoint, abs=1e-6)


# --- preprocess ----------------------------------------------------------------------------------
def test_visit_table_lists_every_exposure_with_its_alignment(built):
    field = field_of(built)
    table = exposures(built)
    prep = built / "FIELDS" / field / "Prep"
    visits = read_visits(prep / f"{field}_visits.ecsv")
    assert sorted(visits["exposure"]) == sorted(table["obs_id"])
    by_exposure = {row["exposure"]: row for row in visits}
    for row in table:
        visit = by_exposure[row["obs_id"]]
        assert visit["filter"] == row["pupil"] and visit["element"] == row["filter"]
        assert visit["kind"] == ("grism" if row["exp_type"] == "NIS_WFSS" else "direct")
        assert (prep / visit["file"]).is_file()
        assert abs(visit["pa_v3"] - visits["pa_v3"][0]) < 0.01  # one pointing, one PA
    direct = visits[visits["kind"] == "direct"]
    grism = visits[visits["kind"] == "grism"]
    assert len(set(direct["visit"])) == len(direct_filters(built))
    assert set(grism["direct_visit"]) <= set(direct["visit"])  # every grism carries a direct WCS
    # Aligned to the synthetic catalogue: the injected pointing is exact, so the fit is ~0.
    assert set(visits["status"]) == {"aligned"}
    assert all(label.startswith("USER radec.txt") for label in visits["align_catalog"])
    assert set(visits["align_method"]) == {"local file"}
    assert np.all(direct["align_n"] >= 5)
    assert np.all(np.hypot(direct["align_dx"], direct["align_dy"]) < 0.5)  # visit pixels
    assert np.all(direct["align_rms"] < 0.2)
    assert visits.meta["crds_context"] == "jwst_9000.pmap" and visits.meta["skipped"] == []
    png = (prep / f"{field}_footprint.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000


def test_a_direct_visit_is_processed_once_for_all_its_grism_visits(built):
    """Each direct visit goes through grizli once, whatever the number of its grism visits; the
    exposures of every grism visit still get its tweak and absolute alignment. Here both grism
    exposures at a dither start from the same pipeline WCS, so they must end with the same WCS:
    one that missed the direct visit's tweak would differ by it (~0.01 pixel)."""
    field = field_of(built)
    prep = built / "FIELDS" / field / "Prep"
    visits = read_visits(prep / f"{field}_visits.ecsv")
    grism = visits[visits["kind"] == "grism"]
    log = (built / "FIELDS" / field / "logs" / "preprocess.log").read_text()
    direct_visits = set(grism["direct_visit"])
    assert len(set(grism["visit"])) == 2 * len(direct_visits)  # two grisms per direct visit
    calls = {
        line for line in log.splitlines() if line.startswith("prep.process_direct_grism_visit(")
    }
    assert len(calls) == len(direct_visits)  # grizli logs each call's arguments (twice)

    def wcs(path: Path, key: str = "") -> dict:
        """The exposure's WCS: "" as prepared, "A" as the pipeline made it (drizzlepac archives
        it), "B" after the tweak ("SHIFT")."""
        header = fits.getheader(path, "SCI")
        names = ("CRVAL1", "CRVAL2", "CRPIX1", "CRPIX2", "CD1_1", "CD1_2", "CD2_1", "CD2_2")
        return {name: header.get(name + key) for name in names}

    for direct_visit in direct_visits:
        assert f"{direct_visit}: processed once for its 2 grism visits" in log
        lines = (prep / f"{direct_visit}_shifts.log").read_text().splitlines()
        matches = [line.split("=", 1)[1] for line in lines if line.startswith("# match[")]
        shared = [m for m in matches if m.count("_rate.fits") == 2]
        assert shared, f"{direct_visit}: no direct exposure paired with both grism exposures"
        for match in shared:
            first, second = (prep / name.strip(" []'\"") for name in match.split(","))
            assert wcs(first, "A") == wcs(second, "A")  # the same pipeline WCS to begin with
            assert wcs(first, "B") == wcs(second, "B"), f"{second.name} missed the tweak"
            assert wcs(first) == wcs(second), f"{second.name}: not the same alignment"
            assert wcs(first, "B") != wcs(first, "A") and wcs(first) != wcs(first, "B")


def test_prepared_exposures_are_flat_fielded_and_sky_subtracted(built):
    field = field_of(built)
    prep = built / "FIELDS" / field / "Prep"
    visits = read_visits(prep / f"{field}_visits.ecsv")
    for row in visits:
        with fits.open(prep / row["file"]) as hdus:
            header = hdus[0].header
            assert header["TELESCOP"] == "JWST" and header["S_FLAT"] == "COMPLETE"
            # The alignment (to the user catalogue) is in every WCS, grism included.
            assert hdus["SCI"].header["WCSNAME"] == "USER"
            sci, dq = hdus["SCI"].data, hdus["DQ"].data
            good = (dq == 0) & np.isfinite(sci)
            if row["kind"] == "grism":
                # WFSS sky (0.75 DN/s injected, shaped by the sky flat) removed to < 3 %.
                assert abs(np.median(sci[good])) < 0.03 * render.SKY_GRISM_DN_S[row["filter"]]
                # grizli's fitted scale of the sky flat is the injected sky level.
                assert header["GSKY101"] == pytest.approx(
                    render.SKY_GRISM_DN_S[row["filter"]], rel=0.02
                )
            else:
                # Direct sky (MJy/sr after grizli's photom) measured, kept in the data, and
                # subtracted when drizzled: AstroDrizzle's MDRIZSKY plus the blotted BKG residual.
                sky = render.SKY_DIRECT_DN_S[row["filter"]] * crdscache.PHOTMJSR[row["filter"]]
                assert np.median(sci[good]) == pytest.approx(sky, rel=0.05)
                assert hdus["SCI"].header["MDRIZSKY"] == pytest.approx(sky, rel=0.05)
                assert abs(np.median(hdus["BKG"].data[good])) < 0.02 * sky


# Issue 16's bars for the 1/f correction (Stage 1's clean_flicker_noise, stage1.one_over_f).
STRIPE_POWER_REMOVED = 0.8
PHOTOMETRY_BIAS_MAG = 0.02


def test_one_over_f_correction_on_rate_and_prepared(built, synthetic_field):
    """Every RATE, and every prepared direct exposure, keeps less than 20% of the injected 1/f
    stripe power (measured against the truth rate and the stripes the simulator recorded), and
    the injected sources' flux in the direct images moves by less than 0.02 mag. A grism
    exposure's fit was flat-fielded by its CRDS WFSS background."""
    field = field_of(built)
    prep = built / "FIELDS" / field / "Prep"
    prepared = {row["file"]: row for row in read_visits(prep / f"{field}_visits.ecsv")}
    checked = {"rate": 0, "prepared": 0}
    for row in exposures(built):
        name = row["obs_id"]
        with fits.open(synthetic_field / "rates" / f"{name}_truth_rate.fits") as hdus:
            truth_rate, injected = hdus["SCI"].data, hdus["ONEOVERF"].data
        with fits.open(built / "FIELDS" / field / "RATE" / f"{name}_rate.fits") as hdus:
            header = hdus[0].header
            rate, dq = hdus["SCI"].data, hdus["DQ"].data
        assert header["S_CLNFNS"] == "COMPLETE" and header["ONEOVERF"] and header["OOF_CHAN"]
        grism = row["exp_type"] == "NIS_WFSS"
        bkg = crdscache.reference_name("bkg", row["pupil"], row["filter"]) if grism else None
        assert header.get("OOF_FREF") == bkg, name
        good = (dq == 0) & np.isfinite(rate)
        report = stripe_report(rate - truth_rate, good, injected)
        print(f"{name} RATE: {report}, removed {report.removed:.3f}")
        assert report.injected > 10 * report.floor, (name, report)  # there was much to remove
        assert report.removed >= STRIPE_POWER_REMOVED, (name, report)
        checked["rate"] += 1
        if grism:
            continue
        true_flux, measured = segment_fluxes(truth_rate, rate, good, threshold=0.5)
        bright = true_flux > 20.0  # DN/s: the flux's own noise is < 1%
        dmag = -2.5 * np.log10(measured[bright] / true_flux[bright])
        print(f"{name}: {bright.sum()} sources, median dmag {np.median(dmag):+.4f}")
        assert bright.sum() >= 5 and abs(np.median(dmag)) < PHOTOMETRY_BIAS_MAG, (name, dmag)
        # The prepared exposure: flat-fielded and in MJy/sr (grizli's photom), its sky kept.
        with fits.open(prep / f"{name}_rate.fits") as hdus:
            sci, pdq = hdus["SCI"].data.astype(np.float64), hdus["DQ"].data
            scale = hdus["SCI"].header["PHOTMJSR"]
        assert f"{name}_rate.fits" in prepared
        assert scale == pytest.approx(crdscache.PHOTMJSR[row["pupil"]], rel=1e-6)
        model = (
            scale * truth_rate / crdscache.read_flat(synthetic_field / "crds_cache", row["pupil"])
        )
        pgood = (pdq == 0) & np.isfinite(sci) & np.isfinite(model)
        offset = np.median((sci - model)[pgood])  # the sky level grizli measured, minus ours
        report = stripe_report(sci - model - offset, pgood, injected, scale=scale)
        print(f"{name} prepared: {report}, removed {report.removed:.3f}")
        assert report.injected > 10 * report.floor, (name, report)
        assert report.removed >= STRIPE_POWER_REMOVED, (name, report)
        checked["prepared"] += 1
    direct = [e for e in exposures(built)["exp_type"] if e == "NIS_IMAGE"]
    assert checked["rate"] == len(exposures(built)), checked
    assert checked["prepared"] == len(direct) >= 2, checked


def test_prep_keeps_compressed_exposures_and_no_visit_images(built):
    """products.keep: science (the default): grizli's visit-level images are gone, the prepared
    exposures are compressed losslessly and read by extension name as before."""
    field = field_of(built)
    prep = built / "FIELDS" / field / "Prep"
    visits = read_visits(prep / f"{field}_visits.ecsv")
    for visit in set(visits["visit"]):
        assert not [s for s in VISIT_INTERMEDIATES if (prep / f"{visit}{s}").exists()], visit
        if visit in set(visits["direct_visit"]):
            assert (prep / f"{visit}.cat.fits").is_file()  # small visit products stay
    for row in visits:
        with fits.open(prep / row["file"]) as hdus:
            assert isinstance(hdus["SCI"], fits.CompImageHDU), row["file"]
            assert hdus["SCI"].data.dtype == np.float32 and hdus["SCI"].data.shape == (2048, 2048)
            assert hdus["DQ"].data.dtype.kind in "iu"
    # Smaller than the RATE files they were made from (each holds more extensions).
    prepared = sum((prep / name).stat().st_size for name in visits["file"])
    rates = sum(p.stat().st_size for p in (built / "FIELDS" / field / "RATE").glob("*_rate.fits"))
    assert prepared < rates


# --- mosaic ---------------------------------------------------------------------------------------
def catalogue(built: Path) -> Table:
    field = field_of(built)
    return Table.read(built / "FIELDS" / field / "Mosaic" / f"{field}_phot.fits")


def test_mosaics_share_one_wcs_with_the_configured_scale(built):
    field = field_of(built)
    mosaic = built / "FIELDS" / field / "Mosaic"
    names = [f"{field}-{f}_drz_sci.fits" for f in direct_filters(built)] + [
        f"{field}-ir_drz_sci.fits"
    ]
    headers = [image_header(mosaic / name) for name in names]  # compressed or not
    reference = WCS(headers[0])
    scale = np.sqrt(abs(np.linalg.det(reference.pixel_scale_matrix))) * 3600
    assert scale == pytest.approx(0.04, rel=1e-6)  # mosaic.pixel_scale
    for header in headers[1:] + [image_header(mosaic / f"{field}-ir_seg.fits")]:
        assert (header["NAXIS1"], header["NAXIS2"]) == (headers[0]["NAXIS1"], headers[0]["NAXIS2"])
        assert np.allclose(WCS(header).wcs.crval, reference.wcs.crval, atol=1e-9)
        assert np.allclose(WCS(header).pixel_scale_matrix, reference.pixel_scale_matrix)
    assert headers[0]["KERNEL"] == "square" and headers[0]["PIXFRAC"] == 0.75
    # products.keep: science: every mosaic and the segmentation map compressed losslessly.
    for name in names + [f"{field}-ir_seg.fits"] + [n.replace("_sci", "_wht") for n in names]:
        assert is_compressed(mosaic / name), name
    # The direct-image sky is gone from every filter mosaic.
    for filt in direct_filters(built):
        sci = fits.getdata(mosaic / f"{field}-{filt}_drz_sci.fits")
        wht = fits.getdata(mosaic / f"{field}-{filt}_drz_wht.fits")
        sky = render.SKY_DIRECT_DN_S[filt.upper()] * crdscache.PHOTMJSR[filt.upper()]
        assert abs(np.median(sci[wht > 0])) < 0.02 * sky
    # The common WCS covers every exposure, grism included.
    ny, nx = headers[0]["NAXIS2"], headers[0]["NAXIS1"]
    for row in read_visits(built / "FIELDS" / field / "Prep" / f"{field}_visits.ecsv"):
        with fits.open(built / "FIELDS" / field / "Prep" / row["file"]) as hdus:
            corners = WCS(hdus["SCI"].header, fobj=hdus).calc_footprint()
        x, y = reference.all_world2pix(corners[:, 0], corners[:, 1], 0)
        assert np.all((x > 0) & (x < nx - 1) & (y > 0) & (y < ny - 1))


def test_catalogue_positions_match_the_injected_sources(built, synthetic_field):
    cat, injected = catalogue(built), truth(synthetic_field)
    bright = injected[injected[f"mag_{direct_filters(built)[0]}"] < INJECTED_LIMIT]
    assert len(bright) == len(injected)  # the limit is above every injected source
    found = SkyCoord(cat["ra"], cat["dec"], unit="deg")
    index, separation, _ = SkyCoord(bright["ra"], bright["dec"], unit="deg").match_to_catalog_sky(
        found
    )
    assert np.all(separation.arcsec < POSITION_TOLERANCE_ARCSEC), separation.arcsec
    assert len(set(index)) == len(bright)  # one detection per source, none merged
    assert len(cat) <= len(bright) + 2  # and next to nothing spurious
    assert np.median(separation.arcsec) < 0.02
    # The segmentation map holds every catalogue id at its detection.
    field = field_of(built)
    seg = fits.getdata(built / "FIELDS" / field / "Mosaic" / f"{field}-ir_seg.fits")
    x, y = np.round(cat["x"]).astype(int) - 1, np.round(cat["y"]).astype(int) - 1
    assert np.all(seg[y, x] == cat["id"])


def test_photometry_recovers_the_injected_magnitudes(built, synthetic_field):
    cat, injected = catalogue(built), truth(synthetic_field)
    found = SkyCoord(cat["ra"], cat["dec"], unit="deg")
    index, _, _ = SkyCoord(injected["ra"], injected["dec"], unit="deg").match_to_catalog_sky(found)
    total = len(TEST_APERTURES_ARCSEC) - 1  # 4" diameter: all of each source's light
    assert cat.meta[f"ASEC_{total}"] == pytest.approx(4.0)
    for filt in direct_filters(built):
        flux = cat[f"{filt}_flux_aper_{total}"][index]
        error = cat[f"{filt}_fluxerr_aper_{total}"][index]
        measured = 23.9 - 2.5 * np.log10(flux)
        mag_error = 1.0857 * error / flux
        delta = measured - injected[f"mag_{filt}"]
        precise = mag_error < PRECISE_MAG_ERROR
        assert precise.sum() >= 5, f"{filt}: too few precise sources"
        assert np.all(np.abs(delta[precise]) < MAG_TOLERANCE), (filt, delta[precise])
        # No bias: the error-weighted mean offset (a median over all 18, half of them faint with
        # 0.1-0.3 mag errors, moves by 0.03 with the noise realisation alone).
        weights = 1.0 / mag_error**2
        assert abs(np.sum(weights * delta) / np.sum(weights)) < 0.03, filt
        # 5 sigma: SEP's errors ignore the noise correlation of a drizzled mosaic (pixfrac 0.75
        # of a 0.066" pixel onto 0.04"), which underestimates them by about 1.3x, and the
        # stripes the 1/f correction leaves (its own column-median noise, coherent along each
        # column: about +35% to the variance of a 4" aperture, bench/RESULTS.md "1/f"); with 18
        # sources in two filters a 3-sigma bound failed by chance (F150W: one source at 3.5),
        # a 4-sigma one with the 1/f stripes (F200W: a 23.7 mag source at 4.1).
        assert np.all(np.abs(delta) < np.maximum(MAG_TOLERANCE, 5 * mag_error)), (filt, delta)


def test_rgb_image_shows_the_field(built):
    from matplotlib.image import imread

    field = field_of(built)
    image = imread(built / "FIELDS" / field / "Mosaic" / f"{field}_rgb.png")
    assert image.ndim == 3 and image.shape[0] > 500 and image.shape[1] > 500
    rgb = image[..., :3]
    # One filter (the lean field): the same image in all three channels, so the sky is grey.
    centre = rgb[
        rgb.shape[0] // 3 : 2 * rgb.shape[0] // 3, rgb.shape[1] // 3 : 2 * rgb.shape[1] // 3
    ]
    assert centre.max() > 0.5  # sources visible
    if len(direct_filters(built)) == 1:
        assert np.allclose(centre[..., 0], centre[..., 2], atol=0.02)


# --- edge cases, on subsets of the Stage 1 products ------------------------------------------------
# Each run is a fresh interpreter, as a Snakemake job is: crds keeps what it has read (its
# configuration, the CRDS_* variables at import) for the life of a process.
PREPROCESS_SCRIPT = """
import json, sys
from pathlib import Path
from wfsspipe.crds_sync import job_environment
from wfsspipe.grizli_env import GrizliError, GrizliSettings
from wfsspipe.preprocess import PreprocessSettings, preprocess_field
args = json.loads(sys.argv[1])
grizli = GrizliSettings(Path(args["grizli"]), job_environment(args["crds"], "jwst_9000.pmap"))
try:
    preprocess_field(args["field"], args["rates"], args["prep"],
                     PreprocessSettings(catalog=args["catalog"]), grizli)
except GrizliError as error:
    print("GRIZLI-ERROR", error)
    sys.exit(3)
"""


def run_preprocess(synthetic_field, field, rate_files, prep, crds=None, catalog=""):
    arguments = {
        "grizli": str(synthetic_field / "GRIZLI"),
        "crds": str(crds or synthetic_field / "crds_cache"),
        "field": field,
        "rates": [str(r) for r in rate_files],
        "prep": str(prep),
        "catalog": catalog,
    }
    env = dict(os.environ, PYTHONPATH=str(ROOT / "workflow" / "scripts"))
    command = [sys.executable, "-c", PREPROCESS_SCRIPT, json.dumps(arguments)]
    return subprocess.run(command, capture_output=True, text=True, env=env)


def rates(built: Path, exp_type: str, pupil: str = "F200W") -> list[Path]:
    """RATE files of the session build of one type, in one filter (each edge case needs no more)."""
    return [
        built / "FIELDS" / row["field"] / "RATE" / f"{row['obs_id']}_rate.fits"
        for row in exposures(built)
        if row["exp_type"] == exp_type and row["pupil"] == pupil
    ]


def test_grism_only_field_is_prepared_and_says_what_was_skipped(built, synthetic_field, tmp_path):
    grism = rates(built, "NIS_WFSS")
    result = run_preprocess(synthetic_field, "tst-01", grism, tmp_path / "Prep")
    assert result.returncode == 0, result.stderr[-3000:]
    visits = read_visits(tmp_path / "Prep" / "tst-01_visits.ecsv")
    assert sorted(visits["file"]) == sorted(p.name for p in grism)
    assert set(visits["kind"]) == {"grism"} and set(visits["direct_visit"]) == {""}
    assert all(status.startswith("not aligned") for status in visits["status"])
    assert any("no direct imaging in the field" in s for s in visits.meta["skipped"])
    for row in visits:
        with fits.open(tmp_path / "Prep" / row["file"]) as hdus:
            good = hdus["DQ"].data == 0
            sky = render.SKY_GRISM_DN_S[row["filter"]]
            assert abs(np.median(hdus["SCI"].data[good])) < 0.03 * sky
            assert hdus[0].header["GSKY101"] == pytest.approx(sky, rel=0.02)
    assert not list(tmp_path.glob(".Prep.tmp-*"))  # the work folder is gone


def test_one_direct_exposure_without_grism_is_aligned(built, synthetic_field, tmp_path):
    first_direct = rates(built, "NIS_IMAGE")[:1]
    catalog = str(synthetic_field / "radec.txt")
    result = run_preprocess(
        synthetic_field, "tst-02", first_direct, tmp_path / "Prep", catalog=catalog
    )
    assert result.returncode == 0, result.stderr[-3000:]
    visits = read_visits(tmp_path / "Prep" / "tst-02_visits.ecsv")
    assert list(visits["file"]) == [first_direct[0].name]
    assert visits["status"][0] == "aligned" and visits["align_n"][0] >= 5
    assert any("without grism" in s for s in visits.meta["skipped"])
    assert any("no grism exposures in the field" in s for s in visits.meta["skipped"])


def test_a_library_exit_names_the_exposure_and_the_cause(built, synthetic_field, tmp_path):
    """CRDS without its cached server configuration: stpipe calls sys.exit inside grizli."""
    broken = tmp_path / "crds_without_server_config"
    shutil.copytree(synthetic_field / "crds_cache" / "mappings", broken / "mappings")
    rate = rates(built, "NIS_IMAGE")[0]
    result = run_preprocess(synthetic_field, "tst-03", [rate], tmp_path / "Prep", crds=broken)
    assert result.returncode == 3, result.stdout[-2000:] + result.stderr[-2000:]
    (message,) = [line for line in result.stdout.splitlines() if line.startswith("GRIZLI-ERROR")]
    assert rate.name in message and "initialising" in message
    assert "SystemExit" in message and "CRDS" in message
    assert not (tmp_path / "Prep").exists() and not list(tmp_path.glob(".Prep.tmp-*"))
