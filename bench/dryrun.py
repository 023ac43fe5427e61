#!/usr/bin/env python
"""Time `snakemake -n` over a generated table of many fields and exposures.

    .venv/bin/python bench/dryrun.py [--fields 300] [--per-field 20] [--repeat 3] [--profile OUT]
                                     [--workflow DIR | --floor]

The table is made by `make_table` (a valid fields.csv: real-looking names, URIs and footprints),
so the benchmark measures the workflow's start-up and DAG building, not computeFields. Each run
is timed under `/usr/bin/time -v` (wall and peak RSS of the snakemake process). `--profile OUT`
runs it once more under cProfile and writes the statistics to OUT (read them with pstats).
`--workflow DIR` times another checkout of the workflow (e.g. `git archive HEAD` unpacked in a
temporary folder) with this environment, for a before/after comparison on the same machine load.
`--floor` times instead a bare Snakefile (`FLOOR_SNAKEFILE`) with the workflow's job graph over
the same table: a download and a Stage 1 job per exposure, the per-field rules as a chain of
`PER_FIELD_RULES` jobs (the first asks for the field's UNCALs, the second for its RATEs, each
once), a final target; `shell:` rules with no log, benchmark, conda, params or resources. It is
what Snakemake itself costs for that many jobs, the least any version of the workflow can take.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
# The per-field jobs of the workflow's dry run (crds_sync, preprocess, mosaic_filter,
# summary_visits, mosaic, contam, extract, zfit, provenance, webmap, field_summary).
PER_FIELD_RULES = 11
FLOOR_SNAKEFILE = """
import pandas as pd

EXPOSURES = {f: list(g.obs_id) for f, g in pd.read_csv(config["fields_csv"]).groupby("field")}
OUT = config["fields_dir"]
STEPS = config["per_field_rules"]


rule all:
    input:
        [f"{OUT}/{field}/step{STEPS - 1}" for field in EXPOSURES],


rule download:
    output:
        f"{OUT}/{{field}}/UNCAL/{{exposure}}_uncal.fits",
    shell:
        "touch {output}"


rule stage1:
    input:
        f"{OUT}/{{field}}/UNCAL/{{exposure}}_uncal.fits",
    output:
        f"{OUT}/{{field}}/RATE/{{exposure}}_rate.fits",
    shell:
        "touch {output}"


# Step 0 asks for the field's UNCALs, step 1 for its RATEs; every step after 0 for the one before.
def step_inputs(step):
    kind = {0: "UNCAL", 1: "RATE"}.get(step)

    def inputs(w):
        files = [f"{OUT}/{w.field}/{kind}/{e}_{kind.lower()}.fits" for e in EXPOSURES[w.field]] if kind else []
        return files + ([f"{OUT}/{w.field}/step{step - 1}"] if step else [])

    return inputs


for step in range(STEPS):

    rule:
        name:
            f"step{step}"
        input:
            step_inputs(step),
        output:
            f"{OUT}/{{field}}/step{step}",
        shell:
            "touch {output}"
"""
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
    parser.add_argument("--profile", help="write cProfile statistics of one more run here")
    parser.add_argument("--workflow", type=Path, default=ROOT, help="checkout to time")
    parser.add_argument(
        "--floor", action="store_true", help="time the bare Snakefile of the same job graph"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        table = Path(folder) / "fields.csv"
        make_table(args.fields, args.per_field).to_csv(table, index=False)
        snakefile = args.workflow / "workflow" / "Snakefile"
        if args.floor:
            snakefile = Path(folder) / "Snakefile"
            snakefile.write_text(FLOOR_SNAKEFILE)
        command = [
            str(Path(sys.executable).parent / "snakemake"),
            "-n",
            "-q",
            "--snakefile",
            str(snakefile),
            "--directory",
            str(snakefile.parent if args.floor else args.workflow),
            "--config",
            f"fields_csv={table}",
            f"fields_dir={folder}/FIELDS",
            *([f"per_field_rules={PER_FIELD_RULES}"] if args.floor else []),
        ]
        times, peaks, cpus = [], [], []
        for _ in range(args.repeat):
            start = time.perf_counter()
            result = subprocess.run(
                ["/usr/bin/time", "-v", *command], capture_output=True, text=True
            )
            times.append(time.perf_counter() - start)
            if result.returncode:
                sys.exit(result.stderr[-2000:])
            peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr)
            peaks.append(int(peak.group(1)) / 1024 if peak else float("nan"))
            cpu = re.findall(r"(?:User|System) time \(seconds\): ([\d.]+)", result.stderr)
            cpus.append(sum(float(c) for c in cpu))
        jobs = [line for line in result.stdout.splitlines() if line.strip().startswith("total")]
        if args.profile:
            profiled = [sys.executable, "-m", "cProfile", "-o", args.profile, *command]
            subprocess.run(profiled, capture_output=True, text=True, check=True)
    print(
        f"{args.fields} fields, {args.fields * args.per_field} exposures: snakemake -n median "
        f"{statistics.median(times):.1f} s (runs: {', '.join(f'{t:.1f}' for t in times)}), "
        f"peak RSS median {statistics.median(peaks):.0f} MB "
        f"(runs: {', '.join(f'{m:.0f}' for m in peaks)}), CPU (user + system) median "
        f"{statistics.median(cpus):.1f} s {jobs[0].strip() if jobs else ''}"
    )


if __name__ == "__main__":
    main()
