#!/usr/bin/env python
"""Peak memory of Stage 1 with a small and a large dark, against the stage1 rule's request.

    .venv/bin/python bench/stage1_dark_memory.py [--dark-ngroups 20 130] [--ngroups 7]

For each dark size: a synthetic CRDS cache whose dark has that many groups (130 groups of
2048 x 2048 float32: 2.2 GB once read, like a real multi-GB NIRISS dark), one full-frame UNCAL
(bench/stage1_memory.py's), Stage 1 run as the rule runs it in a fresh process under
/usr/bin/time -v. The request is the rule's: wfsspipe.resources.stage1_mem_mb for the UNCAL plus
wfsspipe.crds_sync.stage1_reference_extra_mb for the dark (its in-memory size, as the sync
record lists it), attempt 1. The ratio request / peak should lie between 1.0 and 1.5.
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
sys.path.insert(0, str(ROOT / "bench"))

from stage1_memory import JOB, make_uncal  # noqa: E402

from wfsspipe.crds_sync import fits_data_mb, stage1_reference_extra_mb  # noqa: E402
from wfsspipe.resources import grow, stage1_mem_mb  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dark-ngroups", type=int, nargs="+", default=[20, 130])
    parser.add_argument("--ngroups", type=int, default=7, help="groups of the exposure")
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    from wfsssim import crdscache

    from wfsspipe.crds_sync import job_environment

    print(
        f"{'dark groups':>11} {'dark MB':>8} {'UNCAL MB':>8} {'peak MB':>8} {'request MB':>10} "
        f"{'request/peak':>12} {'seconds':>7}",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as scratch:
        base = args.workdir or Path(scratch)
        for dark_ngroups in args.dark_ngroups:
            folder = base / f"dark{dark_ngroups:03d}"
            folder.mkdir(parents=True, exist_ok=True)
            crds_root = folder / "crds_cache"
            context = crdscache.build_crds_cache(
                crds_root, filters=("F200W",), dark_ngroups=dark_ngroups
            )
            dark_mb = fits_data_mb(crdscache.reference_path(crds_root, "dark"))
            uncal = make_uncal(folder, args.ngroups, crds_root)
            rate = uncal.with_name(uncal.name.replace("_uncal", "_rate"))
            code = JOB.format(
                env=job_environment(str(crds_root), context),
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
            rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr)
            peak_mb = int(rss.group(1)) / 1024
            size_mb = uncal.stat().st_size / 1e6
            extra = grow(stage1_reference_extra_mb({"dark": dark_mb}), 1, minimum=0)
            request = stage1_mem_mb(size_mb, 1) + extra
            print(
                f"{dark_ngroups:>11} {dark_mb:>8.0f} {size_mb:>8.0f} {peak_mb:>8.0f} "
                f"{request:>10} {request / peak_mb:>12.2f} {seconds:>7.0f}",
                flush=True,
            )
            uncal.unlink()
            rate.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
