#!/usr/bin/env python
"""Time computeFields.py --from-table on the public table and on 2x, 4x sky-shifted replicas,
and in query mode through astroquery against the local MAST server (mastServer.py) on the public
table.

    .venv/bin/python bench/fields.py [--table ../shared/data/fields/public.ecsv] [--repeat 5]
        [--no-query]

Each replica is the public table rotated on the sky (RA + 97 deg x k, new obs_ids), so fields stay
fields and the count of exposures grows by the factor. Prints median wall time (whole process,
imports and plot included), its CPU time and peak RSS of `computeFields.py` per size; for the query
mode the median wall time and the requests the server counted per run.
"""

from __future__ import annotations

import argparse
import json
import os
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


def measure(table_path: Path, repeat: int) -> tuple[float, float, float, int]:
    times, rss, cpu = [], [], []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as output:
            start = time.perf_counter()
            result = subprocess.run(
                [
                    "/usr/bin/time",
                    "-f",
                    "%U %S %M",
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
            user, system, peak = result.stderr.strip().splitlines()[-1].split()
            rss.append(int(peak) / 1024)
            cpu.append(float(user) + float(system))
            fields = len(set(Table.read(Path(output) / "fields.csv")["field"]))
    return statistics.median(times), statistics.median(cpu), statistics.median(rss), fields


def measure_query(table_path: Path, repeat: int) -> None:
    """Query mode against mastServer.py serving the table (plus its level-3/exclusive extras)."""
    import requests

    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        (folder / "home").mkdir()
        server = subprocess.Popen(
            [sys.executable, ROOT / "resources/scripts/mastServer.py", "--table", table_path,
             "--port-file", folder / "port", "--astroquery-config", folder / "config"],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            while not (folder / "port").exists():
                if server.poll() is not None:
                    raise RuntimeError("mastServer.py did not start")
                time.sleep(0.1)
            url = f"http://127.0.0.1:{int((folder / 'port').read_text())}"
            env = dict(
                os.environ, HOME=str(folder / "home"), XDG_CONFIG_HOME=str(folder / "config")
            )
            times, before = [], requests.get(f"{url}/stats", timeout=10).json()
            for _ in range(repeat):
                with tempfile.TemporaryDirectory() as output:
                    start = time.perf_counter()
                    subprocess.run(
                        [sys.executable, SCRIPT, "--output-dir", output, "-q"],
                        env=env, check=True, capture_output=True,
                    )  # fmt: skip
                    times.append(time.perf_counter() - start)
                    exposures = len(Table.read(Path(output) / "fields.csv"))
            stats = requests.get(f"{url}/stats", timeout=10).json()
        finally:
            server.terminate()
            server.wait(timeout=10)
    counts = {
        key: (value - before["requests"].get(key, 0)) // repeat
        for key, value in stats["requests"].items()
    }
    largest = max(stats["product_obsids"])
    print(
        f"query mode: {exposures} exposures, median {statistics.median(times):.2f} s; "
        f"requests per run {json.dumps(counts, sort_keys=True)}; largest product request "
        f"{largest} obsids"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--table", type=Path, default=ROOT.parent / "shared" / "data" / "fields" / "public.ecsv"
    )
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-query", action="store_true", help="skip the query-mode run")
    args = parser.parse_args()
    public = Table.read(args.table)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'size':>5} {'exposures':>9} {'fields':>6} {'median s':>8} {'cpu s':>6} {'peak MB':>8}")
    with tempfile.TemporaryDirectory() as folder:
        for factor in (1, 2, 4):
            path = Path(folder) / f"x{factor}.ecsv"
            vstack([shifted(public, k) for k in range(factor)]).write(path)
            seconds, cpu, peak, fields = measure(path, args.repeat)
            print(
                f"{factor:>4}x {len(public) * factor:>9} {fields:>6} {seconds:>8.2f} {cpu:>6.2f}"
                f" {peak:>8.0f}"
            )
    if not args.no_query:
        measure_query(args.table, args.repeat)


if __name__ == "__main__":
    main()
