"""Synthetic UNCAL ramps: metadata, ramp content, and recovery through jwst Detector1 +
columnjump (slow), plus grizli's ``initialize_jwst_image`` on the RATE files (slow)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from astropy.io import fits
from test_synthetic_crds import build_shared_cache, crds_environment_set
from wfsssim import crdscache, instrument, ramps

SHAPE = instrument.DETECTOR_SHAPE
IMAGE_META = {
    "OBS_ID": "jw01571001001_02101_00001_nis",
    "EXP_TYPE": "NIS_IMAGE",
    "FILTER": "CLEAR",
    "PUPIL": "F150W",
    "RA_REF": 150.1,
    "DEC_REF": 2.2,
    "PA_APER": 37.0,
    "EXPSTART": 60400.25,
}
WFSS_META = {
    **IMAGE_META,
    "OBS_ID": "jw01571001001_02101_00002_nis",
    "EXP_TYPE": "NIS_WFSS",
    "FILTER": "GR150C",
    "EXPSTART": 60400.26,
    "FWCPOS": -0.25,
}


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    root, context = build_shared_cache(tmp_path_factory)
    with crds_environment_set(root, context):
        yield root, context


def scene_rate(seed: int, sky: float = 0.4, nsources: int = 300) -> np.ndarray:
    """Sky plus Gaussian sources (DN/s), for tests."""
    rng = np.random.default_rng(seed)
    rate = np.full(SHAPE, sky, np.float32)
    for x0, y0, flux in zip(
        rng.uniform(40, 2008, nsources),
        rng.uniform(40, 2008, nsources),
        10 ** rng.uniform(0.5, 3.5, nsources),
        strict=True,
    ):
        ys, xs = slice(int(y0) - 12, int(y0) + 13), slice(int(x0) - 12, int(x0) + 13)
        yy, xx = np.mgrid[ys, xs]
        sigma = 1.6
        rate[ys, xs] += (
            flux
            * np.exp(-((xx - x0) ** 2 + (yy - y0) ** 2) / (2 * sigma**2))
            / (2 * np.pi * sigma**2)
        )
    return rate


def clipped_mean(values, nsigma: float = 5.0) -> float:
    """Mean after rejecting > nsigma outliers (cosmic rays, hot pixels) around the median."""
    values = np.asarray(values, dtype=np.float64).ravel()
    centre = np.median(values)
    sigma = 1.4826 * np.median(np.abs(values - centre))
    return float(values[np.abs(values - centre) < nsigma * sigma].mean())


# --- Metadata --------------------------------------------------------------------------------


def test_parse_obs_id():
    ids = ramps.parse_obs_id("jw01571001001_02101_00001_nis")
    assert ids == {
        "program": "01571",
        "observation": "001",
        "visit": "001",
        "visit_group": "02",
        "sequence": "1",
        "activity": "01",
        "exposure": "00001",
        "detector": "nis",
    }
    with pytest.raises(ValueError, match="jw01571001001_02101_00001_nrca1"):
        ramps.parse_obs_id("jw01571001001_02101_00001_nrca1")


def test_nis_exposure_times():
    times = ramps.exposure_times(ngroups=10, nints=1)
    assert times["frame_time"] == pytest.approx(10.73677)
    assert times["group_time"] == pytest.approx(42.94708)  # NIS: 4 frames averaged, no gap
    assert times["integration_time"] == pytest.approx(429.4708)  # EFFINTTM
    assert times["exposure_time"] == pytest.approx(429.4708)  # EFFEXPTM
    assert times["measurement_time"] == pytest.approx(9 * 42.94708)  # TMEASURE
    assert times["duration"] == pytest.approx(429.4708 + 10.73677)  # + 1 reset frame
    assert ramps.exposure_times(5, 3)["duration"] == pytest.approx(3 * 214.7354 + 3 * 10.73677)
    assert instrument.group_mean_times(2) == pytest.approx([2.5 * 10.73677, 6.5 * 10.73677])


def test_uncal_metadata_keywords():
    attrs = ramps.uncal_metadata(WFSS_META, ngroups=7, nints=1)
    assert attrs["visit.type"] == "PARALLEL_PURE"
    assert attrs["exposure.prime_parallel"] == "PARALLEL_PURE"
    assert attrs["exposure.readpatt"] == "NIS" and attrs["exposure.nframes"] == 4
    assert attrs["instrument.filter"] == "GR150C" and attrs["instrument.pupil"] == "F150W"
    assert attrs["instrument.filter_position"] == -0.25
    assert attrs["observation.program_number"] == "01571"
    assert attrs["observation.exposure_number"] == "00002"
    assert attrs["observation.obs_id"] == "V01571001001P0000000002101"
    assert attrs["wcsinfo.roll_ref"] == pytest.approx(37.0 - instrument.V3_IDL_YANG_DEG)
    assert attrs["wcsinfo.v2_ref"] == instrument.V2_REF_ARCSEC
    assert attrs["aperture.position_angle"] == 37.0
    assert attrs["exposure.end_time"] - attrs["exposure.start_time"] == pytest.approx(
        (7 * 42.94708 + 10.73677) / 86400
    )
    # the V1 axis is ~12.6 arcmin from the NIRISS aperture
    sep = np.hypot(
        (attrs["pointing.ra_v1"] - 150.1) * np.cos(np.deg2rad(2.2)),
        attrs["pointing.dec_v1"] - 2.2,
    )
    assert sep * 60 == pytest.approx(np.hypot(-290.1, -697.5) / 60, rel=0.01)
    with pytest.raises(ValueError, match="CLEAR"):
        ramps.uncal_metadata({**IMAGE_META, "FILTER": "GR150R"}, 7, 1)
    with pytest.raises(ValueError, match="GR150"):
        ramps.uncal_metadata({**WFSS_META, "FILTER": "CLEAR"}, 7, 1)
    with pytest.raises(KeyError, match="obs_id"):
        ramps.uncal_metadata({k: v for k, v in IMAGE_META.items() if k != "OBS_ID"}, 7, 1)


# --- Ramps -----------------------------------------------------------------------------------


def test_write_uncal_content(cache, tmp_path):
    from stdatamodels.jwst import datamodels as dm

    root = cache[0]
    rate = scene_rate(1)
    path = tmp_path / "jw01571001001_02101_00001_nis_uncal.fits"
    truth = ramps.write_uncal(
        path,
        rate,
        IMAGE_META,
        np.random.default_rng(11),
        ngroups=10,
        crds_root=root,
        column_jump_row=1000,
        one_over_f_dn=0.0,  # the white-noise model alone (the stripes have their own test)
    )
    assert truth.column_jump_rows == (1000,) and 4 <= truth.column_jump_group <= 7
    assert truth.one_over_f_rate is None
    assert 200 < truth.cosmic_rays[0] < 400
    assert not list(tmp_path.glob(".tmp-*"))

    with dm.Level1bModel(path) as model:
        assert model.data.dtype == np.uint16 and model.data.shape == (1, 10, *SHAPE)
        assert model.meta.filename == path.name
        assert model.meta.exposure.type == "NIS_IMAGE"
        assert model.meta.visit.type == "PARALLEL_PURE"
        assert model.meta.exposure.group_time == pytest.approx(42.94708)
        data = model.data[0].astype(np.float64)
    header = fits.getheader(path)
    assert header["READPATT"] == "NIS" and header["NGROUPS"] == 10 and header["PROGRAM"] == "01571"

    superbias = fits.getdata(crdscache.reference_path(root, "superbias"), "SCI")
    gain = np.median(fits.getdata(crdscache.reference_path(root, "gain"), "SCI")[520:990])
    readnoise = fits.getdata(crdscache.reference_path(root, "readnoise"), "SCI")[520:990]
    readnoise = np.sqrt(np.mean(readnoise**2))
    tgroup = 42.94708
    diffs = np.diff(data, axis=0)
    rows = slice(520, 990)  # one output (amplifier), away from the column jump row
    sky = np.abs(rate[rows, 8:2040] - 0.4) < 1e-4
    sky_diffs = diffs[:, rows, 8:2040][:, sky]
    # per-group bias drift of the output is common to all its pixels; reference pixels (DMS
    # columns 0-3) see it but no light: they measure it. Clipped means: the data are integers,
    # so medians would be quantised to 0.5 DN (1 % of the signal here).
    drift = np.array([clipped_mean(d) for d in diffs[:, rows, :4]])
    sky_rate = (np.array([clipped_mean(d) for d in sky_diffs]) - drift) / tgroup
    assert np.mean(sky_rate) == pytest.approx(0.4 + crdscache.DARK_RATE_DN_S, rel=0.01)
    # group-to-group noise: Poisson (0.6875 x electrons per group for 4-frame averages) and read
    # noise (CDS rn / 2 for a difference of two 4-frame averages)
    electrons = (0.4 + crdscache.DARK_RATE_DN_S) * gain * tgroup
    expected = np.hypot(np.sqrt(0.6875 * electrons) / gain, readnoise / 2.0)
    centred = sky_diffs - np.median(sky_diffs, axis=1, keepdims=True)
    robust = 1.4826 * np.median(np.abs(centred))
    assert robust == pytest.approx(expected, rel=0.04)
    # first group = superbias + charge averaged over frames 1-4 (2.5 frame times)
    level = clipped_mean(data[0][rows, 8:2040][sky] - superbias[rows, 8:2040][sky])
    offset = clipped_mean(data[0][rows, :4] - superbias[rows, :4])
    assert level - offset == pytest.approx(0.412 * 2.5 * 10.73677, abs=0.5)
    # the column jump: a step in the whole DMS row, reference pixels included, at one group
    g = truth.column_jump_group
    step = np.median(diffs[g - 1, 1000, :]) - np.median(diffs[g - 1, 996:1000, :])
    assert step == pytest.approx(25.0, abs=1.5)
    assert np.median(diffs[g - 1, 1000, :4]) - np.median(diffs[g - 1, 996:1000, :4]) > 20


def test_one_over_f_stripes(cache, tmp_path):
    """The 1/f stripes: constant along each output's rows, 1/f along the columns, half common to
    the outputs, 2.5 DN rms per group, and their rate as recorded in the truth."""
    root = cache[0]
    path = tmp_path / "jw01571001001_02101_00001_nis_uncal.fits"
    truth = ramps.write_uncal(
        path, np.full(SHAPE, 0.4, np.float32), IMAGE_META, np.random.default_rng(12),
        ngroups=7, crds_root=root, cosmic_rays=0, column_jump_dn=0.0,
    )  # fmt: skip
    assert truth.one_over_f_dn == ramps.DEFAULT_ONE_OVER_F_DN == 2.5
    assert truth.one_over_f_rate.shape == (1, 4, 2048)
    from jwst.datamodels import dqflags

    superbias = fits.getdata(crdscache.reference_path(root, "superbias"), "SCI")
    dead = (fits.getdata(crdscache.reference_path(root, "mask"), "DQ") & dqflags.pixel["DEAD"]) > 0
    data = np.ma.array(
        fits.getdata(path, "SCI")[0] - superbias, mask=np.broadcast_to(dead, (7, *SHAPE))
    )
    columns = slice(8, 2040)
    halves = []  # per group, output, half of the output's rows: mean along the rows per column
    for out in range(4):
        rows = data[:, out * 512 + 4 : (out + 1) * 512 - 4]
        halves.append(
            [rows[:, :252].mean(axis=1).filled(np.nan), rows[:, 252:].mean(axis=1).filled(np.nan)]
        )
    halves = np.array(halves)[..., columns]  # (output, half, group, column)
    halves -= np.median(halves, axis=-1, keepdims=True)  # bias, drift and sky are per output
    # the same stripes in both halves of an output: in the first group, where the pixels' noise is
    # least (read noise and one group of sky: ~0.3 DN in a half-column mean)
    top, bottom = halves[:, 0, 0].ravel(), halves[:, 1, 0].ravel()
    assert np.corrcoef(top, bottom)[0, 1] > 0.97
    stripes = halves.mean(axis=1)  # (output, group, column)
    assert np.sqrt(np.mean(stripes**2)) == pytest.approx(2.5, rel=0.1)
    # 1/f: the lowest 1/16 of the frequencies hold far more power than the highest half
    power = np.abs(np.fft.rfft(stripes, axis=-1)) ** 2
    freq = np.fft.rfftfreq(stripes.shape[-1])
    low, high = power[..., (freq > 0) & (freq <= 1 / 16)].sum(), power[..., freq >= 0.25].sum()
    assert low / high > 3.0  # white noise: 0.25; 1/f: ~7
    # half of the variance is common to the four outputs
    pairs = [
        np.corrcoef(stripes[a].ravel(), stripes[b].ravel())[0, 1]
        for a in range(4)
        for b in range(a)
    ]
    assert 0.3 < np.mean(pairs) < 0.7
    # the recorded rate is the stripes' least-squares slope over the groups
    g = np.arange(7) - 3.0
    slope = np.tensordot(g, stripes, axes=(0, 1)) / (g @ g) / instrument.group_time()
    recorded = truth.one_over_f_rate[0][:, columns]
    recorded = recorded - np.median(recorded, axis=-1, keepdims=True)
    # (the sky's Poisson noise accumulates along the ramp: ~0.0035 DN/s per column, against
    # 0.011 DN/s of stripes, hence a correlation of ~0.95)
    assert np.corrcoef(slope.ravel(), recorded.ravel())[0, 1] > 0.9
    assert np.std(slope) == pytest.approx(np.std(recorded), rel=0.1)


def test_write_uncal_is_deterministic(cache, tmp_path):
    root = cache[0]
    rate = scene_rate(2, nsources=20)
    paths = [tmp_path / f"jw01571001001_02101_0000{i}_nis_uncal.fits" for i in (1, 2, 3)]
    for path, seed in zip(paths, (5, 5, 6), strict=True):
        meta = {**IMAGE_META, "OBS_ID": path.name[:-11]}
        ramps.write_uncal(path, rate, meta, np.random.default_rng(seed), ngroups=2, crds_root=root)
    first, second, other = (fits.getdata(p, "SCI") for p in paths)
    assert np.array_equal(first, second)
    assert not np.array_equal(first, other)


def test_stripes_leave_the_other_noise_alone(cache, tmp_path):
    """Same seed with and without 1/f: the ramps differ by the stripes alone (a constant per
    output and column, to the rounding to whole DN)."""
    root = cache[0]
    rate = scene_rate(4, nsources=20)
    ramps_of = {}
    for dn in (0.0, 2.5):
        path = tmp_path / f"jw01571001001_02101_00001_nis_{dn}_uncal.fits"
        meta = {**IMAGE_META, "OBS_ID": "jw01571001001_02101_00001_nis"}
        ramps.write_uncal(
            path, rate, meta, np.random.default_rng(9), ngroups=2, crds_root=root, one_over_f_dn=dn
        )
        ramps_of[dn] = fits.getdata(path, "SCI")[0].astype(np.float64)
    difference = ramps_of[2.5] - ramps_of[0.0]
    per_column = difference.reshape(2, 4, 512, 2048).mean(axis=2, keepdims=True)
    assert np.sqrt(np.mean(per_column**2)) == pytest.approx(2.5, rel=0.15)
    residual = difference.reshape(2, 4, 512, 2048) - per_column
    assert np.abs(residual).max() <= 1.5 and residual.std() < 0.6  # rounding (and clipping) only


def test_write_uncal_rejects_bad_input(cache, tmp_path):
    with pytest.raises(ValueError, match="shape"):
        ramps.write_uncal(
            tmp_path / "x_uncal.fits",
            np.zeros((100, 100)),
            IMAGE_META,
            np.random.default_rng(1),
            crds_root=cache[0],
        )
    with pytest.raises(FileNotFoundError, match="build_crds_cache"):
        ramps.write_uncal(
            tmp_path / "x_uncal.fits",
            np.zeros(SHAPE),
            IMAGE_META,
            np.random.default_rng(1),
            crds_root=tmp_path / "nothing",
        )
    assert not (tmp_path / "x_uncal.fits").exists()


# --- Detector1 + columnjump + grizli (slow) ----------------------------------------------------


@pytest.fixture(scope="module")
def stage1_products(cache, tmp_path_factory):
    """Two 7-group exposures (direct image with sources, grism with flat-fielded sky) through
    Detector1 + columnjump with only the CRDS environment variables."""
    from wfsspipe import stage1

    root = cache[0]
    out = tmp_path_factory.mktemp("stage1")
    products = {}
    for meta, rate, seed in (
        (IMAGE_META, scene_rate(3), 21),
        (WFSS_META, 0.55 * crdscache.read_flat(root, "F150W"), 22),
    ):
        name = meta["OBS_ID"]
        truth = ramps.write_uncal(
            out / f"{name}_uncal.fits",
            rate,
            meta,
            np.random.default_rng(seed),
            ngroups=7,
            crds_root=root,
            one_over_f_dn=0.0,  # white noise only: Detector1 runs without clean_flicker_noise
        )
        result = stage1.run_detector1(truth.path, out / f"{name}_rate.fits")
        products[meta["EXP_TYPE"]] = (rate, truth, result)
    return products


@pytest.mark.slow
@pytest.mark.parametrize("exp_type", ["NIS_IMAGE", "NIS_WFSS"])
def test_detector1_recovers_injected_rate(cache, stage1_products, exp_type):
    rate, truth, result = stage1_products[exp_type]
    assert result.crds_context == cache[1]
    assert result.reference_files["dark"] == "crds://jwst_niriss_dark_9000.fits"
    # columnjump ran (NGROUPS=7) and corrected exactly the injected row
    assert result.columnjump_status == "COMPLETE"
    assert result.columnjump_rows == truth.column_jump_rows
    with fits.open(result.rate) as hdul:
        header = hdul[0].header
        assert header["CRDS_CTX"] == cache[1]
        assert header["S_COLJMP"] == "COMPLETE" and header["COLJMPN"] == 1
        for step in (
            "S_DQINIT",
            "S_SATURA",
            "S_SUPERB",
            "S_REFPIX",
            "S_LINEAR",
            "S_DARK",
            "S_JUMP",
            "S_RAMP",
        ):
            assert header[step] == "COMPLETE", step
        assert hdul["SCI"].header["BUNIT"] == "DN/s"
        sci, err, dq = hdul["SCI"].data, hdul["ERR"].data, hdul["DQ"].data
    border = instrument.REFERENCE_PIXEL_BORDER
    good = ((dq & 1) == 0) & (err > 0)
    good[:border] = good[-border:] = False
    good[:, :border] = good[:, -border:] = False
    good[list(truth.column_jump_rows)] = False  # columnjump leaves ~S/(n-j+1) of the step
    assert good.sum() > 0.99 * 2040 * 2040
    z = ((sci - rate) / err)[good]
    median = np.median(z)
    robust_sigma = 1.4826 * np.median(np.abs(z - median))
    print(f"{exp_type}: median z {median:+.4f}, robust sigma {robust_sigma:.4f}, N {z.size}")
    assert abs(median) < 0.1, f"median residual {median:.3f} sigma"
    assert 0.9 < robust_sigma < 1.1, f"robust scatter {robust_sigma:.3f} sigma"
    # bright pixels (up to ~40000 DN, a few % non-linear before correction) are unbiased too
    bright = good & (rate > 20) & (rate < 150)
    if exp_type == "NIS_IMAGE":
        assert bright.sum() > 500
        ratio = np.median(sci[bright] / rate[bright])
        print(f"bright pixels: {bright.sum()}, median rate ratio {ratio:.5f}")
        assert ratio == pytest.approx(1.0, abs=0.005), f"bright pixels: rate ratio {ratio:.4f}"
    assert not list(result.rate.parent.glob("*trapsfilled*"))
    assert not list(result.rate.parent.glob(".stage1-*"))


@pytest.mark.slow
@pytest.mark.parametrize("exp_type", ["NIS_IMAGE", "NIS_WFSS"])
def test_grizli_initialize_jwst_image(cache, stage1_products, exp_type, tmp_path, monkeypatch):
    """grizli prepares our RATE files with our CRDS cache: flat, photom (direct), distortion."""
    monkeypatch.setenv("GRIZLI", str(tmp_path))  # read when grizli is first imported
    (tmp_path / "CONF").mkdir(exist_ok=True)
    from grizli import jwst_utils

    jwst_utils.DO_PURE_PARALLEL_WCS = False  # it would query MAST
    _, _, result = stage1_products[exp_type]
    copy = tmp_path / result.rate.name
    shutil.copy(result.rate, copy)
    assert jwst_utils.initialize_jwst_image(str(copy)) is True
    with fits.open(copy) as hdul:
        header, sci_header = hdul[0].header, hdul["SCI"].header
        assert header["OEXP_TYP"] == exp_type
        assert header["R_DISTOR"] == "jwst_niriss_distortion_9000.asdf"
        assert header["R_FLAT"] == "jwst_niriss_flat_9002.fits"
        if exp_type == "NIS_IMAGE":
            assert header["R_PHOTOM"] == "jwst_niriss_photom_9000.fits"
        assert sci_header["CTYPE1"] == "RA---TAN-SIP"
        assert header["UPDA_CTX"] == cache[1]
        assert "TIME" in hdul
        from astropy.wcs import WCS

        wcs = WCS(sci_header, relax=True)
    x, y = np.meshgrid(np.linspace(10, 2037, 9), np.linspace(10, 2037, 9))
    truth = instrument.exposure_wcs(
        IMAGE_META["RA_REF"], IMAGE_META["DEC_REF"], IMAGE_META["PA_APER"]
    ).pixel_to_world(x, y)
    sep = wcs.pixel_to_world(x, y).separation(truth).to("mas").value
    assert sep.max() < 5.0  # grizli's SIP fit of the jwst gWCS
