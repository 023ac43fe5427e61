#!/usr/bin/env python
"""`make demo`: the whole workflow on the synthetic field, everything under one folder.

    python resources/scripts/demo.py [--output demo] [--cores 2] [--filters F115W F150W F200W]
        [--no-direct F115W] [--revisit F150W] [--ngroups 8]

1. simulate the synthetic field into <output>/synthetic (reused when already there): by default
   the PASSAGE-like field, 13 exposures of 8 groups: F115W's grisms without an F115W direct
   image, F150W and F200W with direct images and both grisms, F150W observed again at a second
   orient 90 degrees away (about 19 minutes on 2 quiet cores, bench/RESULTS.md);
   ``--filters F150W F200W --no-direct --revisit --ngroups 10`` makes the smaller two-filter
   field of earlier demos (8 exposures, one visit per filter);
2. serve its observation table like MAST's Portal API (resources/scripts/mastServer.py) and run
   computeFields.py in query mode against it, through astroquery, as a user would run it
   against MAST -> <output>/FIELDS/fields.csv;
3. serve its UNCAL files on 127.0.0.1 like MAST (resources/scripts/archiveServer.py), its
   CRDS context like the CRDS server (resources/scripts/crdsServer.py) and grizli's
   configuration archives like Zenodo (resources/scripts/zenodoServer.py: the real sources'
   names and URL paths, synthetic contents), from which rule grizli_config builds
   <output>/GRIZLI as it builds a user's $GRIZLI;
4. run Snakemake with config/config.yaml + <output>/config.yaml;
5. stop the servers and say where the products are.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))
sys.path.insert(0, str(ROOT / "resources" / "simulator"))  # wfsssim

from wfsssim.serving import start_process, stop_process  # noqa: E402
from wfsssim.zenodo import local_sources  # noqa: E402

SCRIPTS = ROOT / "resources" / "scripts"
PYTHON = sys.executable


def run(command: list, **kwargs) -> None:
    print("+", " ".join(str(c) for c in command), flush=True)
    subprocess.run([str(c) for c in command], check=True, cwd=ROOT, **kwargs)


def start_server(command: list, port_file: Path, what: str) -> subprocess.Popen:
    """Start a local server script; wait until it has written its port."""
    try:
        return start_process([PYTHON, *command, "--port-file", port_file], port_file, what)
    except RuntimeError as error:
        raise SystemExit(f"demo: {error}; see the messages above") from None


def stop_server(server: subprocess.Popen) -> None:
    stop_process(server, signal.SIGINT)  # the server closes its socket and exits


def compute_fields(synthetic: Path, output: Path) -> None:
    """computeFields.py in query mode against the local MAST server: astroquery reads the
    server's address from its own configuration (astroquery.cfg under a private config home)."""
    folder = output / "mast"
    server = start_server(
        [SCRIPTS / "mastServer.py", "--table", synthetic / "observations.ecsv", "--no-extras",
         "--astroquery-config", folder / "config"],
        output / "mast.port", "the MAST server",
    )  # fmt: skip
    try:
        (folder / "home").mkdir(parents=True, exist_ok=True)
        # astropy reads ~/.astropy/config first when it exists: a private HOME avoids a user's.
        env = dict(os.environ, HOME=str(folder / "home"), XDG_CONFIG_HOME=str(folder / "config"))
        run([PYTHON, SCRIPTS / "computeFields.py", "--proposal-ids", "9999", "--output-dir",
             output / "FIELDS"], env=env)  # fmt: skip
    finally:
        stop_server(server)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=Path("demo"))
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 2)
    # The PASSAGE-like field (issue 16); an empty --no-direct or --revisit turns that part off.
    parser.add_argument("--filters", nargs="+", default=["F115W", "F150W", "F200W"])
    parser.add_argument("--no-direct", nargs="*", default=["F115W"], metavar="FILTER")
    parser.add_argument("--revisit", nargs="*", default=["F150W"], metavar="FILTER")
    parser.add_argument("--ngroups", type=int, default=8)
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
            *(["--no-direct", *args.no_direct] if args.no_direct else []),
            *(["--revisit", *args.revisit] if args.revisit else []),
        ]
    )
    compute_fields(synthetic, output)

    server = start_server(
        [SCRIPTS / "archiveServer.py", "--root", synthetic / "archive"],
        output / "archive.port", "the archive server",
    )  # fmt: skip
    # The synthetic CRDS context served like the CRDS server: crds_sync fetches what the
    # exposures need into demo/crds_cache with the real crds client, as on a login node.
    crds_server = start_server(
        [SCRIPTS / "crdsServer.py", "--root", synthetic / "crds_cache"],
        output / "crds.port", "the CRDS server",
    )  # fmt: skip
    # grizli's configuration archives, served like Zenodo: grizli_config builds demo/GRIZLI
    # from them through the config's sources, as it builds a user's $GRIZLI.
    zenodo_server = start_server(
        [SCRIPTS / "zenodoServer.py", "--root", output / "zenodo", "--build"],
        output / "zenodo.port", "the Zenodo server",
    )  # fmt: skip
    try:
        port = int((output / "archive.port").read_text())
        config = yaml.safe_load((synthetic / "config.yaml").read_text())
        config["crds"].update(
            path=str(output / "crds_cache"),
            server_url=f"http://localhost:{int((output / 'crds.port').read_text())}",
            sync=True,
        )
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
            # Injected against measured redshift (FIELDS/summary/z_truth.png and .ecsv).
            summary={"truth": str(synthetic / "truth.ecsv")},
        )
        zenodo_url = f"http://127.0.0.1:{int((output / 'zenodo.port').read_text())}"
        defaults = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["grizli_config"]
        config["grizli"]["path"] = str(output / "GRIZLI")
        config["grizli_config"] = dict(
            defaults, sources=local_sources(defaults["sources"], zenodo_url, output / "zenodo")
        )
        (output / "config.yaml").write_text(
            "# Written by resources/scripts/demo.py\n" + yaml.safe_dump(config, sort_keys=False)
        )
        snakemake = Path(PYTHON).parent / "snakemake"
        run(
            [
                snakemake,
                *args.targets,  # before --configfile, which takes every path after it
                "--cores",
                args.cores,
                "--configfile",
                "config/config.yaml",
                output / "config.yaml",
            ]
        )
    finally:
        stop_server(server)
        stop_server(crds_server)
        stop_server(zenodo_server)
    print(f"\ndemo finished: products under {output / 'FIELDS'} (listed in FIELDS/README.md)")
    config_args = f"--configfile config/config.yaml {os.path.relpath(output / 'config.yaml', ROOT)}"
    print(f"Snakemake on the demo: .venv/bin/snakemake {config_args} -n (or --report report.html)")
    print_redshifts(output / "FIELDS" / "summary" / "z_truth.ecsv")
    index = output / "FIELDS" / "index.html"
    if index.exists():
        print(f"\nindex of all fields: {index}")
        print(f"  (or serve it: python -m http.server -d {index.parent}, then open /index.html)")
    return 0


def print_redshifts(path: Path) -> None:
    """Injected against measured redshift of every line emitter (the summary_truth table)."""
    from astropy.table import Table

    if not path.exists():
        print(f"no injected-vs-measured table ({path}): the zfit stage did not run")
        return
    table = Table.read(path, format="ascii.ecsv")
    emitters = table[table["kind"] == "emitter"]
    emitters.sort("z_true")
    print("\nline emitters: injected against measured redshift (|dz|/(1+z) < 0.005 is a match)")
    print(
        f"{'truth id':>8} {'source':>6} {'z injected':>10} {'z measured':>10} {'dz/(1+z)':>9} "
        "quality    flag       result                                  why this flag"
    )
    for row in emitters:
        dz = row["dz"]
        note = str(row["note"]) if "note" in emitters.colnames else ""
        flag = str(row["flag"]) if "flag" in emitters.colnames else ""
        # A miss says why in one phrase (wfsspipe.summary.plots.miss_reason).
        verdict = "match" if dz == dz and abs(dz) < 0.005 else f"missed: {note or 'wrong z'}"
        why = str(row["flag_reason"]) if "flag_reason" in emitters.colnames else ""
        print(f"{row['truth_id']:>8} {row['id']:>6} {row['z_true']:>10.4f} {row['z']:>10.4f} "
              f"{dz:>+9.4f} {row['quality']:>7}    {flag:<10} {verdict:<39} {why}")  # fmt: skip
    for label, chosen in (("z < 2", emitters["z_true"] < 2), ("z > 2", emitters["z_true"] >= 2)):
        ok = sum(abs(d) < 0.005 for d in emitters["dz"][chosen] if d == d)
        print(f"{label}: {ok}/{int(chosen.sum())} emitters recovered")


if __name__ == "__main__":
    sys.exit(main())
