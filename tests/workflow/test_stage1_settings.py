"""Stage 1 settings reach jwst (1/f switch, skipped steps, thresholds); broken UNCALs are refused."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))

from wfsspipe.stage1_job import Stage1Error, Stage1Settings, run_stage1  # noqa: E402

pytestmark = [pytest.mark.workflow, pytest.mark.slow]

JOB = """
import os, sys
sys.path.insert(0, {scripts!r})
from wfsspipe.crds_sync import job_environment
os.environ.update(job_environment({cache!r}, "jwst_9000.pmap"))
from astropy.io import fits
from wfsspipe.stage1_job import Stage1Settings, run_stage1
settings = Stage1Settings(one_over_f=True, skip_steps=("persistence",), rejection_threshold=5.5)
result = run_stage1({uncal!r}, {rate!r}, settings)
header = fits.getheader(result.rate)
print(result.rate, header["S_CLNFNS"], header["S_PERSIS"], header["J_REJTHR"], header["ONEOVERF"])
"""


def test_config_mapping_to_step_parameters():
    settings = Stage1Settings.from_config(
        {"columnjump": {"enabled": False, "nsigma1jump": 6, "nsigma2jumps": 4}, "jump": {"rejection_threshold": 5},
         "skip_steps": ["persistence"], "one_over_f": True, "keep_uncal": True}
    )  # fmt: skip
    assert settings.columnjump is False and settings.columnjump_params == {
        "nsigma1jump": 6.0,
        "nsigma2jumps": 4.0,
    }
    assert settings.step_parameters() == {
        "jump": {"rejection_threshold": 5.0},
        "clean_flicker_noise": {
            "skip": False,
            "fit_by_channel": True,
            "n_sigma": 3.0,
            "apply_flat_field": True,
        },
        "persistence": {"skip": True},
    }
    # grism exposures too, their fit flat-fielded by the file given (their CRDS bkg reference)
    wfss = settings.step_parameters("NIS_WFSS", "/cache/jwst_niriss_bkg_9005.fits")
    assert wfss["clean_flicker_noise"]["override_flat"] == "/cache/jwst_niriss_bkg_9005.fits"
    direct_only = Stage1Settings(one_over_f_exp_types=("NIS_IMAGE",))
    assert "clean_flicker_noise" not in direct_only.step_parameters("NIS_WFSS")
    assert "clean_flicker_noise" not in Stage1Settings(one_over_f=False).step_parameters()


def test_one_over_f_and_skipped_steps_reach_jwst(synthetic_field, tmp_path):
    uncal = sorted((synthetic_field / "archive").glob("*_uncal.fits"))[0]
    rate = tmp_path / uncal.name.replace("_uncal", "_rate")
    code = JOB.format(
        scripts=str(ROOT / "workflow/scripts"),
        cache=str(synthetic_field / "crds_cache"),
        uncal=str(uncal),
        rate=str(rate),
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split()[-5:] == [str(rate), "COMPLETE", "SKIPPED", "5.5", "True"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [rate.name]  # no temporary left behind


def test_truncated_uncal_is_refused_with_advice(synthetic_field, tmp_path):
    uncal = sorted((synthetic_field / "archive").glob("*_uncal.fits"))[0]
    broken = tmp_path / uncal.name
    broken.write_bytes(uncal.read_bytes()[: 2880 * 1000])
    with pytest.raises(Stage1Error, match=r"structure ends .* delete it and rerun"):
        run_stage1(broken, tmp_path / "out_rate.fits", Stage1Settings())
    assert not (tmp_path / "out_rate.fits").exists()


MISSING_BKG_JOB = """
import os, sys
sys.path.insert(0, {scripts!r})
from wfsspipe.crds_sync import job_environment
os.environ.update(job_environment({cache!r}, "jwst_9000.pmap"))
from wfsspipe.stage1_job import Stage1Error, Stage1Settings, one_over_f_flat
settings = Stage1Settings()
from pathlib import Path
print("FOUND", Path(one_over_f_flat(Path({uncal!r}), "NIS_WFSS", settings)).name)
os.remove({bkg!r})
try:
    one_over_f_flat(Path({uncal!r}), "NIS_WFSS", settings)
except Stage1Error as error:
    print("ERROR", error)
"""


def test_a_grism_exposure_without_its_wfss_background_is_refused_with_advice(
    synthetic_field, tmp_path
):
    """A WFSS exposure's 1/f fit is flat-fielded by its CRDS bkg reference; when the cache lacks
    it, Stage 1 says which exposure and what to do, before Detector1 starts."""
    from astropy.io import fits
    from wfsssim import crdscache

    uncal = next(
        p for p in sorted((synthetic_field / "archive").glob("*_uncal.fits"))
        if fits.getval(p, "EXP_TYPE") == "NIS_WFSS"
    )  # fmt: skip
    header = fits.getheader(uncal)
    name = crdscache.reference_name("bkg", header["PUPIL"], header["FILTER"])
    cache = tmp_path / "crds_cache"
    subprocess.run(["cp", "-al", str(synthetic_field / "crds_cache"), str(cache)], check=True)
    (bkg,) = cache.rglob(name)
    bkg.unlink()  # a copy of the link, so the shared cache keeps its file
    bkg.write_bytes((synthetic_field / "crds_cache" / bkg.relative_to(cache)).read_bytes())
    code = MISSING_BKG_JOB.format(
        scripts=str(ROOT / "workflow/scripts"), cache=str(cache), uncal=str(uncal), bkg=str(bkg)
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"FOUND {name}" in result.stdout
    error = result.stdout.split("ERROR ", 1)[1]
    assert uncal.name in error and "no WFSS background reference (bkg)" in error
    assert "crds.sync: true" in error and "one_over_f_wfss_flat: flat" in error
    assert (synthetic_field / "crds_cache" / bkg.relative_to(cache)).is_file()
