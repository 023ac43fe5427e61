#!/usr/bin/env python
"""Serve observation tables like the MAST Portal API (what astroquery.mast calls), on 127.0.0.1.

    python resources/scripts/mastServer.py --table OBS.ecsv [--table MORE.ecsv] [--port 8643]
        [--port-file F] [--astroquery-config DIR] [--dump ALL.ecsv] [--no-extras]

Point astroquery at it through its own configuration: ``[mast] server = http://127.0.0.1:<port>``
in ``astroquery.cfg``; ``--astroquery-config DIR`` writes DIR/astropy/astroquery.cfg, to be used
with ``XDG_CONFIG_HOME=DIR``. Besides the tables' rows it serves level-3 source rows,
exclusive-access rows and one malformed row (``--no-extras``: none). ``GET /stats`` counts the
requests; ``POST /faults`` with ``{"status": 504, "after": N}`` fails one later request (see
resources/simulator/wfsssim/mast_portal.py).
"""

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "workflow" / "scripts"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "simulator"))  # wfsssim

from wfsssim.mast_portal import (
    astroquery_config,
    build_observations,
    make_server,
    server_url,
)
from wfsssim.serving import serve

from wfsspipe.atomic import atomic_path, write_text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--table", type=Path, action="append", required=True, help="ECSV observation table"
    )
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--port-file", type=Path, help="write the chosen port here once listening")
    parser.add_argument("--token-env", default="", help="env variable holding the token to expect")
    parser.add_argument("--no-extras", action="store_true", help="serve only the tables' rows")
    parser.add_argument("--dump", type=Path, help="also write every served row to this ECSV")
    parser.add_argument(
        "--astroquery-config", type=Path, metavar="DIR", help="write DIR/astropy/astroquery.cfg"
    )
    parser.add_argument("--pagesize", type=int, default=50000, help="pagesize in that config")
    args = parser.parse_args()
    for table in args.table:
        if not table.is_file():
            parser.error(f"--table {table} does not exist")
    observations = build_observations(args.table, extras=not args.no_extras)
    if args.dump:
        with atomic_path(args.dump) as tmp:
            observations.write(tmp, format="ascii.ecsv", overwrite=True)
    token = os.environ.get(args.token_env) if args.token_env else None
    server = make_server(observations, args.port, token=token)
    url = server_url(server)
    if args.astroquery_config:
        config = args.astroquery_config / "astropy" / "astroquery.cfg"
        write_text(config, astroquery_config(url, pagesize=args.pagesize))
    return serve(server, args.port_file, f"serving {len(observations)} observations at {url}")


if __name__ == "__main__":
    sys.exit(main())
