#!/usr/bin/env python
"""`make demo`: the whole workflow on the synthetic field, everything under one folder.

    python resources/scripts/demo.py [--output demo] [--cores 2] [--filters F150W F200W]

1. simulate the synthetic field into <output>/synthetic (reused when already there);
2. computeFields.py --from-table on its observation table -> <output>/FIELDS/fields.csv;
3. serve its UNCAL files on 127.0.0.1 like MAST (resources/scripts/archiveServer.py);
4. run Snakemake with config/config.yaml + <output>/config.yaml;
5. stop the server and say where the products are.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "resources" / "scripts"
PYTHON = sys.executable


def run(command: list, **kwargs) -> None:
    print("+", " ".join(str(c) for c in command), flush=True)
    subprocess.run([str(c) for c in command], check=True, cwd=ROOT, **kwargs)


def start_archive(root: Path, port_file: Path) -> subprocess.Popen:
    port_file.unlink(missing_ok=True)
    server = subprocess.Popen(
        [PYTHON, SCRIPTS / "archiveServer.py", "--root", root, "--port-file", port_file], cwd=ROOT
    )
    deadline = time.monotonic() + 30
    while not port_file.exists():
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            raise SystemExit("demo: the archive server did not start; see the messages above")
        time.sleep(0.1)
    return server


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=Path("demo"))
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--filters", nargs="+", default=["F150W", "F200W"])
    parser.add_argument("--ngroups", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("targets", nargs="*", help="Snakemake targets (default: everything)")
    args = parser.parse_args()
    output = (ROOT / args.output).resolve() if not args.output.is_absolute() else args.output
    synthetic = output / "synthetic"

    run(
        [
            PYTHON,
            SCRIPTS / "simulateField.py",
            "--seed",
            args.seed,
            "--output",
            synthetic,
            "--ngroups",
            args.ngroups,
            "--filters",
            *args.filters,
        ]
    )
    run(
        [
            PYTHON,
            SCRIPTS / "computeFields.py",
            "--from-table",
            synthetic / "observations.ecsv",
            "--proposal-ids",
            "9999",
            "--output-dir",
            output / "FIELDS",
        ]
    )

    server = start_archive(synthetic / "archive", output / "archive.port")
    try:
        port = int((output / "archive.port").read_text())
        config = yaml.safe_load((synthetic / "config.yaml").read_text())
        config.update(
            fields_csv=str(output / "FIELDS" / "fields.csv"),
            fields_dir=str(output / "FIELDS"),
            download={
                "archive_url": f"http://127.0.0.1:{port}/api/v0.1/Download/file",
                "token_env": "MAST_API_TOKEN",
                "retries": 4,
                "timeout": 60,
                "on_submit_host": True,
            },  # fmt: skip
        )
        (output / "config.yaml").write_text(
            "# Written by resources/scripts/demo.py\n" + yaml.safe_dump(config, sort_keys=False)
        )
        snakemake = Path(PYTHON).parent / "snakemake"
        run(
            [
                snakemake,
                "--cores",
                args.cores,
                "--configfile",
                "config/config.yaml",
                output / "config.yaml",
                *args.targets,
            ]
        )
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
    print(f"\ndemo finished: products under {output / 'FIELDS'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
