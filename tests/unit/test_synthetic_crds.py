"""The synthetic offline CRDS cache: layout, mappings, best references, reference values, WCS."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from wfsssim import crdscache, grismconf, instrument

MAX_CACHE_MB = 300.0
MAS_TOLERANCE = 5.0


def build_shared_cache(tmp_path_factory) -> tuple[Path, str]:
    """Build the cache once per test session (both synthetic test modules use it).

    How long the build takes is a benchmark question, not a test's (it depends on the machine's
    load): ``bench/RESULTS.md``.
    """
    root = tmp_path_factory.getbasetemp() / "synthetic_crds"
    marker = root / "context.txt"
    if not marker.exists():
        context = crdscache.build_crds_cache(root)
        marker.write_text(f"{context}\n")
    return root, marker.read_text().strip()


class crds_environment_set:
    """Context manager: the cache's CRDS variables in os.environ, restored afterwards."""

    def __init__(self, root: Path, context: str):
        self.values = crdscache.crds_environment(root, context)

    def __enter__(self):
        self.saved = {k: os.environ.get(k) for k in self.values}
        os.environ.update(self.values)
        return self.values

    def __exit__(self, *exc):
        for key, value in self.saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    root, context = build_shared_cache(tmp_path_factory)
    with crds_environment_set(root, context):
        yield root, context


def _base_parameters(exp_type, filt, pupil, readpatt="NIS"):
    return {
        "meta.instrument.name": "NIRISS",
        "meta.instrument.detector": "NIS",
        "meta.instrument.filter": filt,
        "meta.instrument.pupil": pupil,
        "meta.exposure.type": exp_type,
        "meta.exposure.readpatt": readpatt,
        "meta.subarray.name": "FULL",
        "meta.observation.date": "2024-05-01",
        "meta.observation.time": "10:00:00.000",
        "meta.telescope": "JWST",
    }


def test_size_and_layout(cache):
    root, context = cache
    assert context == "jwst_9000.pmap"
    size_mb = sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) / 1e6
    assert 20 < size_mb < MAX_CACHE_MB
    info = ast.literal_eval((root / "config/jwst/server_config").read_text())
    for key in (
        "observatory",
        "operational_context",
        "bad_files_list",
        "force_remote_mode",
        "last_synced",
    ):
        assert key in info
    assert info["operational_context"] == context and info["force_remote_mode"] is False
    assert (root / "config/jwst/ref_cache_subdir_mode").read_text() == "instrument"
    refs = sorted(p.name for p in (root / "references/jwst/niriss").iterdir())
    assert len(refs) == 25  # 14 single + 2 step parameters + 3 flats + 6 WFSS backgrounds
    assert "jwst_niriss_distortion_9000.asdf" in refs
    assert not list(root.rglob(".tmp-*"))


def test_environment_never_contacts_a_server(cache):
    env = crdscache.crds_environment(*cache[:2])
    assert env["CRDS_MODE"] == "local" and env["CRDS_READONLY_CACHE"] == "1"
    # crds.client.proxy refuses JSON-RPC to any URL containing "serverless", without a socket
    assert "serverless" in env["CRDS_SERVER_URL"]


def test_mappings_have_valid_checksums(cache, tmp_path):
    from crds.core import rmap
    from crds.core.exceptions import ChecksumError, MappingError

    root, context = cache
    pmap = rmap.load_mapping(str(root / "mappings/jwst" / context), ignore_checksum=False)
    imap = pmap.get_imap("NIRISS")
    assert imap.get_rmap("superbias").filekind.upper() == "SUPERBIAS"
    rmap_path = root / "mappings/jwst/jwst_niriss_gain_9000.rmap"
    rmap.load_mapping(str(rmap_path), ignore_checksum=False)
    tampered = tmp_path / rmap_path.name
    tampered.write_text(rmap_path.read_text().replace("'NIS', 'FULL'", "'NIS', 'SUB80'"))
    with pytest.raises((ChecksumError, MappingError), match="sha1sum"):
        rmap.load_mapping(str(tampered), ignore_checksum=False)


@pytest.mark.parametrize(
    ("exp_type", "filt", "pupil", "expected"),
    [
        (
            "NIS_IMAGE",
            "CLEAR",
            "F150W",
            {
                "flat": "jwst_niriss_flat_9002.fits",
                "photom": "jwst_niriss_photom_9000.fits",
                "area": "jwst_niriss_area_9000.fits",
                "bkg": "N/A",
            },
        ),
        (
            "NIS_WFSS",
            "GR150R",
            "F200W",
            {
                "flat": "jwst_niriss_flat_9003.fits",
                "photom": "N/A",
                "area": "N/A",
                "bkg": "jwst_niriss_bkg_9006.fits",
            },
        ),
    ],
)
def test_best_references_resolve_offline(cache, exp_type, filt, pupil, expected):
    import crds

    root = cache[0]
    detector_types = [
        "mask",
        "saturation",
        "superbias",
        "linearity",
        "dark",
        "gain",
        "readnoise",
        "trapdensity",
        "trappars",
        "persat",
    ]
    na_types = [
        "ipc",
        "refpix",
        "rscd",
        "reset",
        "sirskernel",
        "specwcs",
        "camera",
        "pars-detector1pipeline",
        "pars-rampfitstep",
    ]
    types = detector_types + na_types + ["distortion", "filteroffset", *expected]
    refs = crds.getreferences(
        _base_parameters(exp_type, filt, pupil), reftypes=types, observatory="jwst"
    )
    niriss = root / "references/jwst/niriss"
    for reftype in detector_types:
        assert refs[reftype] == str(niriss / crdscache.reference_name(reftype))
        assert Path(refs[reftype]).exists()
    assert refs["distortion"].endswith("jwst_niriss_distortion_9000.asdf")
    for reftype, name in expected.items():
        if name == "N/A":
            assert "N/A" in refs[reftype].upper()
        else:
            assert Path(refs[reftype]).name == name
    for reftype in na_types:
        assert "N/A" in refs[reftype].upper()


def test_step_parameter_files_are_what_stpipe_reads(cache):
    """pars-jumpstep resolves for imaging and WFSS; stpipe's own loader gives the non-default
    value, and merging it under a caller's parameter keeps the caller's."""
    import crds
    from stpipe import config_parser

    for exp_type, filt in (("NIS_IMAGE", "CLEAR"), ("NIS_WFSS", "GR150C")):
        refs = crds.getreferences(
            _base_parameters(exp_type, filt, "F150W"),
            reftypes=["pars-jumpstep", "pars-chargemigrationstep"],
            observatory="jwst",
        )
        assert Path(refs["pars-jumpstep"]).name == "jwst_niriss_pars-jumpstep_9000.asdf"
    pars = config_parser.load_config_file(refs["pars-jumpstep"])
    assert pars["class"] == "jwst.jump.jump_step.JumpStep" and pars["name"] == "jump"
    value = crdscache.PARS_JUMP_THREE_GROUP_THRESHOLD
    assert pars["three_group_rejection_threshold"] == value != 6.0  # jwst's default is 6.0
    from jwst.jump import JumpStep

    step = JumpStep.from_config_section(pars)
    assert step.three_group_rejection_threshold == value and step.rejection_threshold == 4.0
    charge = config_parser.load_config_file(refs["pars-chargemigrationstep"])
    assert charge["signal_threshold"] == 25000.0 and "skip" not in charge


def test_unsupported_modes_fail_clearly(cache):
    import crds
    from crds.core.exceptions import CrdsLookupError

    with pytest.raises(CrdsLookupError):  # the dark is built for NIS (NFRAMES=4) only
        crds.getreferences(
            _base_parameters("NIS_IMAGE", "CLEAR", "F150W", readpatt="NISRAPID"),
            reftypes=["dark"],
            observatory="jwst",
        )
    with pytest.raises(ValueError, match="F444W"):
        crdscache.build_crds_cache(cache[0] / "unused", filters=("F444W",))
    with pytest.raises(KeyError, match="flat"):
        crdscache.reference_name("flat", "F444W")


def test_reference_files_are_plausible_datamodels(cache):
    from stdatamodels.jwst import datamodels as dm

    root = cache[0]

    def open_ref(reftype, pupil=None, grism=None):
        return dm.open(crdscache.reference_path(root, reftype, pupil, grism))

    border = instrument.REFERENCE_PIXEL_BORDER
    inner = (slice(border, -border), slice(border, -border))
    with open_ref("gain") as m:
        assert isinstance(m, dm.GainModel)
        assert abs(np.median(m.data) - 1.61) < 0.07 and 0.01 < np.std(m.data) < 0.08
    with open_ref("readnoise") as m:
        assert abs(np.median(m.data) - 11.0) < 0.6
    with open_ref("superbias") as m:
        assert isinstance(m, dm.SuperBiasModel)
        assert abs(np.median(m.data) - 12000) < 500 and 20 < np.std(m.data) < 600
    with open_ref("saturation") as m:
        assert np.percentile(m.data, 1) > 60000 and np.percentile(m.data, 99) <= 65000
    with open_ref("linearity") as m:
        assert m.coeffs.shape == (3, 2048, 2048)
        assert np.all(m.coeffs[0] == 0) and np.all(m.coeffs[1] == 1)
        assert 6e-7 < np.median(m.coeffs[2][inner]) < 1e-6
    with open_ref("dark") as m:
        assert isinstance(m, dm.DarkModel) and m.meta.exposure.nframes == 4
        assert m.data.shape[0] == crdscache.DEFAULT_DARK_NGROUPS
        t_last = instrument.group_mean_times(m.data.shape[0])[-1]
        assert abs(np.median(m.data[-1][inner]) / t_last - crdscache.DARK_RATE_DN_S) < 0.002
    with open_ref("mask") as m:
        from jwst.datamodels import dqflags

        bad = (m.dq[inner] & dqflags.pixel["DO_NOT_USE"]) > 0
        assert 250 <= bad.sum() <= 400
        refpix = (m.dq & dqflags.pixel["REFERENCE_PIXEL"]) > 0
        assert refpix.sum() == 2048 * 2048 - 2040 * 2040
        # refpix and columnjump ignore reference pixels that are also DO_NOT_USE
        assert not np.any(m.dq[refpix] & dqflags.pixel["DO_NOT_USE"])
    for pupil in crdscache.BLOCKING_FILTERS:
        with open_ref("flat", pupil) as m:
            flat = m.data[inner]
            assert abs(np.median(flat) - 1) < 1e-3 and 0.005 < np.std(flat) < 0.05
            assert flat.min() > 0.85 and flat.max() < 1.15
    with open_ref("bkg", "F150W", "GR150C") as m:
        assert isinstance(m, dm.WfssBkgModel)
        assert m.meta.instrument.filter == "GR150C" and m.meta.instrument.pupil == "F150W"
        # the dispersed sky's shape on the detector: the pixel flat times the WFSS sky flat
        with open_ref("flat", "F150W") as flat:
            expected = flat.data * grismconf.skyflat_image("GR150C", "F150W")
        assert np.allclose(m.data, expected, rtol=1e-6)
    with open_ref("photom") as m:
        table = {row["pupil"]: row["photmjsr"] for row in m.phot_table}
        assert table["F150W"] == pytest.approx(crdscache.PHOTMJSR["F150W"], rel=1e-6)


def test_detector_model_is_deterministic():
    a, b, c = crdscache._Detector(7), crdscache._Detector(7), crdscache._Detector(8)
    assert np.array_equal(a.superbias(), b.superbias())
    assert np.array_equal(a.flat("F115W"), b.flat("F115W"))
    assert not np.array_equal(a.superbias(), c.superbias())


@pytest.mark.parametrize(
    ("ra", "dec", "pa"), [(150.1, 2.2, 37.0), (53.1, -27.8, 250.0), (10.0, 80.0, 0.0)]
)
def test_distortion_model_reproduces_exposure_wcs(ra, dec, pa):
    from astropy.coordinates import SkyCoord

    x, y = np.meshgrid(np.linspace(0, 2047, 17), np.linspace(0, 2047, 17))
    v2, v3 = instrument.detector_to_v2v3()(x, y)
    ra1, dec1 = instrument.v2v3_to_sky(v2, v3, ra, dec, pa)
    truth = instrument.exposure_wcs(ra, dec, pa).pixel_to_world(x, y)
    sep = SkyCoord(ra1, dec1, unit="deg").separation(truth).to("mas").value
    assert sep.max() < 1e-3
    assert np.all(v2 < 0)  # jwst convention, no wrap to 359.9 deg


@pytest.mark.slow
def test_assign_wcs_matches_exposure_wcs(cache, tmp_path):
    """jwst AssignWcsStep, with the DISTORTION from CRDS and the pointing keywords ramps.py
    writes, places every pixel where instrument.exposure_wcs does (< 5 mas)."""
    from astropy.coordinates import SkyCoord
    from jwst.assign_wcs import AssignWcsStep
    from stdatamodels.jwst import datamodels as dm
    from wfsssim import ramps

    root = cache[0]
    ra, dec, pa = 214.8, 52.8, 123.4
    meta = {
        "obs_id": "jw01571002001_02101_00001_nis",
        "exp_type": "NIS_IMAGE",
        "filter": "CLEAR",
        "pupil": "F200W",
        "ra_ref": ra,
        "dec_ref": dec,
        "pa_aper": pa,
        "expstart": 60200.25,
    }
    uncal = tmp_path / "jw01571002001_02101_00001_nis_uncal.fits"
    rate = np.full(instrument.DETECTOR_SHAPE, 0.3, np.float32)
    ramps.write_uncal(uncal, rate, meta, np.random.default_rng(3), ngroups=2, crds_root=root)
    with dm.Level1bModel(uncal) as raw:
        image = dm.ImageModel(data=np.zeros(instrument.DETECTOR_SHAPE, np.float32))
        image.update(raw)
    result = AssignWcsStep.call(image, sip_approx=False)
    assert result.meta.cal_step.assign_wcs == "COMPLETE"
    assert result.meta.ref_file.distortion.name == "crds://jwst_niriss_distortion_9000.asdf"
    x, y = np.meshgrid(np.linspace(0, 2047, 33), np.linspace(0, 2047, 33))
    ra1, dec1 = result.meta.wcs(x, y)
    truth = instrument.exposure_wcs(ra, dec, pa).pixel_to_world(x, y)
    sep = SkyCoord(ra1, dec1, unit="deg").separation(truth).to("mas").value
    assert sep.max() < MAS_TOLERANCE


def test_cache_works_in_a_fresh_process(cache, tmp_path):
    """Only the environment variables: a new interpreter resolves references offline."""
    root, context = cache
    code = (
        "import crds; r = crds.getreferences({'meta.instrument.name': 'NIRISS', "
        "'meta.instrument.detector': 'NIS', 'meta.subarray.name': 'FULL', "
        "'meta.exposure.type': 'NIS_IMAGE', 'meta.observation.date': '2024-01-01', "
        "'meta.observation.time': '00:00:00'}, reftypes=['gain'], observatory='jwst'); "
        "print(r['gain'])"
    )
    env = {**os.environ, **crdscache.crds_environment(root, context)}
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=True,
    )
    assert out.stdout.strip().endswith("jwst_niriss_gain_9000.fits")
