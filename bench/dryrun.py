#!/usr/bin/env python
"""Time `snakemake -n` over a generated table of many fields and exposures.

    .venv/bin/python bench/dryrun.py [--fields 300] [--per-field 20] [--repeat 3]

The table is made by `make_table` (a valid fields.csv: real-looking names, URIs and footprints),
so the benchmark measures the workflow's start-up and DAG building, not computeFields.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
CONSTELLATIONS = ["uma", "vir", "boo", "leo", "cet", "peg", "and", "ari", "tau", "ori"]


def make_table(fields: int, per_field: int) -> pd.DataFrame:
    rows = []
    for number in range(fields):
        name = f"{CONSTELLATIONS[number % 10]}-{number // 10:02d}"
        ra, dec = (number * 1.2) % 360, -60 + (number * 0.37) % 120
        for k in range(per_field):
            obs_id = f"jw01571{number % 1000:03d}001_02{(k // 4) % 10}0{k % 4 + 1}_{k + 1:05d}_nis"
            grism = k % 3 != 0
            rows.append(
                {
                    "field": name,
                    "obs_id": obs_id,
                    "filename": f"{obs_id}_uncal.fits",
                    "dataURI": f"mast:JWST/product/{obs_id}_uncal.fits",
                    "filter": ("GR150R" if k % 2 else "GR150C") if grism else "CLEAR",
                    "pupil": ["F115W", "F150W", "F200W"][k % 3],
                    "exp_type": "NIS_WFSS" if grism else "NIS_IMAGE",
                    "t_min": 60000 + number + k / 100,
                    "exptime": 1000.0,
                    "s_region": f"POLYGON ICRS {ra} {dec} {ra + 0.03} {dec} {ra + 0.03} {dec + 0.03} {ra} {dec + 0.03}",
                    "size": 84_000_000,
                    "proposal_id": "1571",
                    "s_ra": ra,
                    "s_dec": dec,
                    "t_obs_release": 60100.0,
                    "dataRights": "PUBLIC",
                }
            )
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fields", type=int, default=300)
    parser.add_argument("--per-field", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        table = Path(folder) / "fields.csv"
        make_table(args.fields, args.per_field).to_csv(table, index=False)
        command = [
            str(Path(sys.executable).parent / "snakemake"),
            "-n",
            "-q",
            "--snakefile",
            str(ROOT / "workflow" / "Snakefile"),
            "--directory",
            str(ROOT),
            "--config",
            f"fields_csv={table}",
            f"fields_dir={folder}/FIELDS",
        ]
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            result = subprocess.run(command, capture_output=True, text=True)
            times.append(time.perf_counter() - start)
            if result.returncode:
                sys.exit(result.stderr[-2000:])
        jobs = [line for line in result.stdout.splitlines() if line.strip().startswith("total")]
    print(
        f"{args.fields} fields, {args.fields * args.per_field} exposures: snakemake -n median {statistics.median(times):.1f} s "
        f"(runs: {', '.join(f'{t:.1f}' for t in times)}) {jobs[0].strip() if jobs else ''}"
    )


if __name__ == "__main__":
    main()
