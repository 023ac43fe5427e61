#!/usr/bin/env python
"""Redshift fits per minute with 1 and 2 processes, the parallel speed-up of extraction and
fitting, and what a redshift grid or template set costs and recovers on the synthetic field.

    .venv/bin/python bench/zfit.py --field demo/FIELDS/sex-00 --truth demo/synthetic/truth.ecsv \
        --config demo/config.yaml [--threads 1 2] [--grids 0.004,0.0005 0.01,0.0005] \
        [--templates "free lines"] [--extract] [--workdir /tmp/zfit-bench]

The field must have been built through the extract stage (``make demo`` does). Each case runs
the workflow's own functions (``wfsspipe.zfit.fit_field``, ``wfsspipe.extract.extract_field``)
in a fresh process, as the rules run them, on the field's Contam/ and Extractions/ products.
Prints wall time, sources per minute and, against the truth table (matched within 0.3"), how
many emitters each case recovers to |dz|/(1+z) < 0.005, split at z = 2.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))

JOB = """
import os, sys, json, yaml
sys.path.insert(0, {scripts!r})
from wfsspipe.grizli_env import GrizliSettings
config = yaml.safe_load(open({config_default!r}))
overlay = yaml.safe_load(open({config!r}))
for key, value in overlay.items():
    config[key] = {{**config[key], **value}} if isinstance(value, dict) and isinstance(config.get(key), dict) else value
grizli = GrizliSettings.from_config(config)
os.environ.update(grizli.environment())
for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = "1"
case = json.loads({case!r})
if case["stage"] == "zfit":
    from wfsspipe.zfit import ZfitSettings, fit_field
    settings = ZfitSettings(z_range=tuple(case["z_range"]), dz=tuple(case["dz"]),
                            search_templates=case["templates"])
    result = fit_field(case["field"], case["table"], case["out"], settings, grizli,
                       threads=case["threads"])
    print(json.dumps({{"sources": result.fitted + result.failed, "table": str(result.table)}}))
else:
    from wfsspipe.extract import ExtractSettings, extract_field
    section = {{**config["extract"]}}
    result = extract_field(case["field"], case["manifest"], case["seg"], case["catalog"],
                           case["out"], ExtractSettings.from_config(section), grizli,
                           pad=int(config["contam"]["pad"]), threads=case["threads"])
    print(json.dumps({{"sources": result.extracted, "table": str(result.table)}}))
"""


def run_case(case: dict, config: Path) -> tuple[float, dict]:
    code = JOB.format(
        scripts=str(ROOT / "workflow" / "scripts"),
        config_default=str(ROOT / "config" / "config.yaml"),
        config=str(config),
        case=json.dumps(case),
    )
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    seconds = time.monotonic() - started
    if done.returncode:
        raise SystemExit(f"case {case} failed:\n{done.stderr[-3000:]}")
    return seconds, json.loads(done.stdout.strip().splitlines()[-1])


def recovered(table_path: str, truth_path: Path) -> tuple[int, int, int, int, list[str]]:
    from astropy.table import Table

    table, truth = Table.read(table_path), Table.read(truth_path)
    low = low_ok = high = high_ok = 0
    lines = []
    for source in truth[truth["kind"] == "emitter"]:
        d = np.hypot((table["ra"] - source["ra"]) * np.cos(np.radians(source["dec"])),
                     table["dec"] - source["dec"]) * 3600  # fmt: skip
        best = int(np.argmin(d))
        if d[best] > 0.3:
            continue
        dz = (table["z"][best] - source["z"]) / (1 + source["z"])
        ok = abs(dz) < 0.005
        if source["z"] < 2:
            low, low_ok = low + 1, low_ok + ok
        else:
            high, high_ok = high + 1, high_ok + ok
        lines.append(f"{source['z']:.4f}->{table['z'][best]:.4f}{'' if ok else ' X'}")
    return low_ok, low, high_ok, high, lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--field", type=Path, required=True, help="built field folder")
    parser.add_argument("--truth", type=Path, required=True)
    parser.add_argument("--config", type=Path, required=True, help="the field's config overlay")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--grids", nargs="+", default=["0.004,0.0005"])
    parser.add_argument("--templates", nargs="+", default=["free lines"])
    parser.add_argument("--z-range", default="0.1,3.4")
    parser.add_argument("--extract", action="store_true", help="also time extraction")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/zfit-bench"))
    args = parser.parse_args()
    field = args.field.name
    table = args.field / "Extractions" / f"{field}_extract.ecsv"
    z_range = [float(z) for z in args.z_range.split(",")]
    print(
        "| stage | threads | grid dz | templates | sources | wall s | sources/min | z<2 ok | z>2 ok |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    if args.extract:
        mosaic = args.field / "Mosaic"
        for threads in args.threads:
            case = {"stage": "extract", "field": field, "threads": threads,
                    "manifest": str(args.field / "Contam" / f"{field}_contam.ecsv"),
                    "seg": str(mosaic / f"{field}-ir_seg.fits"),
                    "catalog": str(mosaic / f"{field}-ir.cat.fits"),
                    "out": str(args.workdir / f"extract-{threads}")}  # fmt: skip
            seconds, out = run_case(case, args.config)
            rate = 60 * out["sources"] / seconds
            print(
                f"| extract | {threads} | | | {out['sources']} | {seconds:.0f} | {rate:.1f} | | |"
            )
    for templates in args.templates:
        for grid in args.grids:
            for threads in args.threads:
                dz = [float(d) for d in grid.split(",")]
                out_dir = args.workdir / f"zfit-{templates.replace(' ', '_')}-{grid}-{threads}"
                case = {"stage": "zfit", "field": field, "table": str(table), "out": str(out_dir),
                        "threads": threads, "dz": dz, "z_range": z_range, "templates": templates}  # fmt: skip
                seconds, out = run_case(case, args.config)
                low_ok, low, high_ok, high, lines = recovered(out["table"], args.truth)
                rate = 60 * out["sources"] / seconds
                print(f"| zfit | {threads} | {grid} | {templates} | {out['sources']} | "
                      f"{seconds:.0f} | {rate:.2f} | {low_ok}/{low} | {high_ok}/{high} |", flush=True)  # fmt: skip
                print("  " + ", ".join(lines), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
