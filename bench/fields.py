#!/usr/bin/env python
"""Time computeFields.py --from-table on the public table and on 2x, 4x sky-shifted replicas.

    .venv/bin/python bench/fields.py [--table ../shared/data/fields/public.ecsv] [--repeat 5]

Each replica is the public table rotated on the sky (RA + 97 deg x k, new obs_ids), so fields stay
fields and the count of exposures grows by the factor. Prints median wall time (whole process,
imports and plot included) and peak RSS of `computeFields.py` per size.
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

import numpy as np
from astropy.table import Table, vstack

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "resources" / "scripts" / "computeFields.py"


def shifted(table: Table, k: int) -> Table:
    """The table moved by 97k degrees of RA with program-unique obs_ids."""
    copy = table.copy()
    if k == 0:
        return copy
    copy["s_ra"] = (copy["s_ra"] + 97.0 * k) % 360.0

    def move(region: str) -> str:
        words = region.split()
        numbers = np.array(words[2:], dtype=float).reshape(-1, 2)
        numbers[:, 0] = (numbers[:, 0] + 97.0 * k) % 360.0
        return " ".join(words[:2] + [f"{v:.9f}" for v in numbers.ravel()])

    copy["s_region"] = [move(r) for r in copy["s_region"]]
    # Observation numbers 500+ keep names valid and distinct from the original's.
    copy["obs_id"] = [
        re.sub(
            r"^(jw\d{5})(\d{3})",
            lambda m: f"{m.group(1)}{(int(m.group(2)) + 200 * k) % 1000:03d}",
            o,
        )
        for o in copy["obs_id"]
    ]
    return copy


def measure(table_path: Path, repeat: int) -> tuple[float, float, int]:
    times, rss = [], []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as output:
            start = time.perf_counter()
            result = subprocess.run(
                [
                    "/usr/bin/time",
                    "-f",
                    "%M",
                    sys.executable,
                    str(SCRIPT),
                    "--from-table",
                    str(table_path),
                    "--output-dir",
                    output,
                    "-q",
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            times.append(time.perf_counter() - start)
            rss.append(int(result.stderr.strip().splitlines()[-1]) / 1024)
            fields = len(set(Table.read(Path(output) / "fields.csv")["field"]))
    return statistics.median(times), statistics.median(rss), fields


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--table", type=Path, default=ROOT.parent / "shared" / "data" / "fields" / "public.ecsv"
    )
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    public = Table.read(args.table)
    print(f"{'size':>5} {'exposures':>9} {'fields':>6} {'median s':>8} {'peak MB':>8}")
    with tempfile.TemporaryDirectory() as folder:
        for factor in (1, 2, 4):
            path = Path(folder) / f"x{factor}.ecsv"
            vstack([shifted(public, k) for k in range(factor)]).write(path)
            seconds, peak, fields = measure(path, args.repeat)
            print(
                f"{factor:>4}x {len(public) * factor:>9} {fields:>6} {seconds:>8.2f} {peak:>8.0f}"
            )


if __name__ == "__main__":
    main()
