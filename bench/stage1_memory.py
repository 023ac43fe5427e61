#!/usr/bin/env python
"""Peak memory of Stage 1 against what the stage1 rule requests, for several NGROUPS.

    .venv/bin/python bench/stage1_memory.py [--ngroups 7 10 15 20] [--workdir /tmp/stage1-bench]

For each NGROUPS: one synthetic full-frame UNCAL (a direct image of the synthetic scene, made with
the project's generator and CRDS cache), Stage 1 run exactly as the rule runs it (run_stage1 with
the default config) in a fresh process under /usr/bin/time -v. Prints the UNCAL size, the peak RSS,
the request of wfsspipe.resources.stage1_mem_mb for attempt 1, and their ratio (the request must
cover the peak and stay within 1.5x of it).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))
sys.path.insert(0, str(ROOT / "resources" / "simulator"))  # wfsssim

from wfsspipe.resources import stage1_mem_mb  # noqa: E402

JOB = """
import os, sys, yaml
os.environ.update({env!r})
sys.path.insert(0, {scripts!r})
from wfsspipe.stage1_job import Stage1Settings, run_stage1
config = yaml.safe_load(open({config!r}))
run_stage1({uncal!r}, {rate!r}, Stage1Settings.from_config(config["stage1"]))
"""


def make_uncal(folder: Path, ngroups: int, crds_root: Path) -> Path:
    import numpy as np
    from wfsssim import crdscache, ramps, render, scene
    from wfsssim.field import FieldSpec, plan_exposures

    spec = FieldSpec(filters=("F200W",), ngroups=ngroups)
    exposure = plan_exposures(spec)[0]
    truth = scene.make_scene(spec.seed, spec.ra, spec.dec, field_arcsec=spec.scene_arcsec)
    flat = crdscache.read_flat(crds_root, exposure.pupil)
    keys = ("ra_ref", "dec_ref", "pa_aper", "filter", "pupil", "exp_type")
    rate, meta = render.render_exposure(
        truth, {k: getattr(exposure, k) for k in keys}, folder, pixel_flat=flat
    )
    meta.update(OBS_ID=exposure.obs_id, EXPSTART=exposure.expstart)
    path = folder / f"n{ngroups:02d}" / f"{exposure.obs_id}_uncal.fits"
    path.parent.mkdir(parents=True, exist_ok=True)
    ramps.write_uncal(
        path, rate, meta, np.random.default_rng(ngroups), ngroups=ngroups, crds_root=crds_root
    )
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ngroups", type=int, nargs="+", default=[7, 10, 15, 20])
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    from wfsssim import crdscache

    from wfsspipe.crds_sync import job_environment

    with tempfile.TemporaryDirectory() as scratch:
        folder = args.workdir or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        crds_root = folder / "crds_cache"
        context = crdscache.build_crds_cache(
            crds_root, filters=("F200W",), dark_ngroups=max(args.ngroups)
        )
        env = job_environment(str(crds_root), context)
        print(
            f"{'NGROUPS':>7} {'UNCAL MB':>8} {'peak MB':>8} {'request MB':>10} {'request/peak':>12} {'seconds':>7}"
        )
        for ngroups in args.ngroups:
            uncal = make_uncal(folder, ngroups, crds_root)
            rate = uncal.with_name(uncal.name.replace("_uncal", "_rate"))
            code = JOB.format(
                env=env,
                scripts=str(ROOT / "workflow" / "scripts"),
                config=str(ROOT / "config" / "config.yaml"),
                uncal=str(uncal),
                rate=str(rate),
            )
            started = time.perf_counter()
            result = subprocess.run(
                ["/usr/bin/time", "-v", sys.executable, "-c", code],
                capture_output=True,
                text=True,
                env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"},
            )
            seconds = time.perf_counter() - started
            if result.returncode:
                sys.exit(result.stderr[-3000:])
            peak_mb = (
                int(
                    re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr).group(
                        1
                    )
                )
                / 1024
            )
            size_mb = uncal.stat().st_size / 1e6
            request = stage1_mem_mb(size_mb, 1)
            print(
                f"{ngroups:>7} {size_mb:>8.0f} {peak_mb:>8.0f} {request:>10} {request / peak_mb:>12.2f} {seconds:>7.0f}",
                flush=True,
            )
            uncal.unlink()
            rate.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
