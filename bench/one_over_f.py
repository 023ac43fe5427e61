"""Where and how to correct 1/f stripes: Stage 1 variants on a synthetic field's exposures.

Runs the stage1 job (wfsspipe.stage1_job.run_stage1, as the rule does) on a direct and a grism
exposure of a synthetic field under each variant, and reports for each RATE the fraction of the
injected stripe power removed (wfsssim.stripes against the truth rate's ONEOVERF), the median
flux change of the bright sources of a direct image, and the wall time.

    .venv/bin/python bench/one_over_f.py --field demo/synthetic [--exposures A B] [--variants ...]

The field must be one made by simulateField.py (it holds truth rates with ONEOVERF; the tests'
field: ``simulateField.py --seed 1 --ngroups 7``). Variants:
  off           no correction (what refpix's side reference pixels take away alone)
  default       clean_flicker_noise as configured by default (median background, by output,
                n_sigma 3, flat-fielded; a WFSS exposure by its CRDS WFSS background)
  imaging-flat  WFSS only: the fit flat-fielded by the imaging flat (one_over_f_wfss_flat: flat)
  imaging-model WFSS only: the same with background_method = model (jwst's smooth 2D background)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "workflow" / "scripts"), str(ROOT / "resources" / "simulator")]

# Stage1Settings keywords and clean_flicker_noise parameters of each variant, and whether it
# differs from the default on a direct image.
VARIANTS = {
    "off": ({"one_over_f": False}, {}, True),
    "default": ({}, {}, True),
    "imaging-flat": ({"one_over_f_wfss_flat": "flat"}, {}, False),
    "imaging-model": ({"one_over_f_wfss_flat": "flat"}, {"background_method": "model"}, False),
}

JOB = """
import json, os, sys
sys.path[:0] = {paths!r}
from wfsspipe.crds_sync import job_environment
os.environ.update(job_environment({cache!r}, {context!r}))
from wfsspipe.stage1_job import ONE_OVER_F_DEFAULTS, Stage1Settings, run_stage1
keywords, params = json.loads({variant!r})
settings = Stage1Settings(
    one_over_f_exp_types=("NIS_IMAGE", "NIS_WFSS"),
    one_over_f_params={{**ONE_OVER_F_DEFAULTS, **params}},
    **keywords,
)
run_stage1({uncal!r}, {rate!r}, settings)
"""


def measure(field: Path, name: str, rate_path: Path) -> dict:
    import numpy as np
    from astropy.io import fits
    from wfsssim.stripes import segment_fluxes, stripe_report

    with fits.open(field / "rates" / f"{name}_truth_rate.fits") as hdus:
        truth, injected = hdus["SCI"].data, hdus["ONEOVERF"].data
        exp_type = hdus[0].header["EXP_TYPE"]
    with fits.open(rate_path) as hdus:
        rate, dq = hdus["SCI"].data, hdus["DQ"].data
    good = (dq == 0) & np.isfinite(rate)
    report = stripe_report(rate - truth, good, injected)
    out = {
        "exp_type": exp_type,
        "removed": report.removed,
        "injected_over_floor": report.injected / report.floor,
    }
    if exp_type == "NIS_IMAGE":
        true_flux, flux = segment_fluxes(truth, rate, good, threshold=0.5)
        bright = true_flux > 20.0
        out["sources"] = int(bright.sum())
        out["median_dmag"] = float(np.median(-2.5 * np.log10(flux[bright] / true_flux[bright])))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--field", type=Path, required=True, help="a simulateField.py output")
    parser.add_argument(
        "--exposures", nargs="+", help="obs_ids (default: first direct, first grism)"
    )
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    args = parser.parse_args()
    field = args.field.resolve()
    manifest = json.loads((field / "manifest.json").read_text())
    from astropy.io import fits

    names = args.exposures
    if not names:
        kinds = {
            n: fits.getval(field / "rates" / f"{n}_truth_rate.fits", "EXP_TYPE")
            for n in manifest["exposures"]
        }
        names = [
            next(n for n, k in kinds.items() if k == kind) for kind in ("NIS_IMAGE", "NIS_WFSS")
        ]
    paths = [str(ROOT / "workflow" / "scripts"), str(ROOT / "resources" / "simulator")]
    print(
        "| exposure | type | variant | stripe power removed | injected / noise floor | bright sources, median dmag | wall s |"
    )
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="bench-1f-") as tmp:
        for name in names:
            for variant in args.variants:
                keywords, params, on_direct = VARIANTS[variant]
                if (
                    not on_direct
                    and fits.getval(field / "rates" / f"{name}_truth_rate.fits", "EXP_TYPE")
                    == "NIS_IMAGE"
                ):
                    continue
                rate = Path(tmp) / f"{name}_{variant}_rate.fits"
                code = JOB.format(
                    paths=paths, cache=str(field / "crds_cache"), context=manifest["context"],
                    variant=json.dumps([keywords, params]), uncal=str(field / "archive" / f"{name}_uncal.fits"),
                    rate=str(rate),
                )  # fmt: skip
                started = time.perf_counter()
                subprocess.run(
                    [sys.executable, "-c", code], check=True, capture_output=True,
                    env=dict(os.environ, OMP_NUM_THREADS="1"),
                )  # fmt: skip
                wall = time.perf_counter() - started
                m = measure(field, name, rate)
                phot = f"{m['sources']}, {m['median_dmag']:+.4f}" if "sources" in m else "-"
                print(
                    f"| {name} | {m['exp_type']} | {variant} | {m['removed']:.3f} | "
                    f"{m['injected_over_floor']:.0f} | {phot} | {wall:.0f} |",
                    flush=True,
                )
                rate.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
