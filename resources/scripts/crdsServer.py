#!/usr/bin/env python
"""Serve a CRDS cache folder (the synthetic context) like a CRDS server, on 127.0.0.1.

    python resources/scripts/crdsServer.py --root demo/synthetic/crds_cache [--port 8643] [--port-file F]

The crds client then works against it with CRDS_SERVER_URL=http://localhost:<port> (the workflow's
`crds.server_url`), e.g. in CRDS_MODE=remote as the crds_sync rule runs it. Missing or corrupt
files can be set with POST /faults (see resources/simulator/wfsssim/crdsserver.py).
"""

import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "workflow" / "scripts"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "simulator"))  # wfsssim

from wfsssim.crdsserver import base_url, make_server
from wfsssim.serving import serve


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, required=True, help="CRDS cache folder to serve")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--port-file", type=Path, help="write the chosen port here once listening")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args()
    if not (args.root / "mappings").is_dir():
        parser.error(f"--root {args.root} is not a CRDS cache (no mappings/ folder)")
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(message)s",
    )
    server = make_server(args.root, args.port)
    return serve(server, args.port_file, f"serving CRDS cache {args.root} at {base_url(server)}")


if __name__ == "__main__":
    sys.exit(main())
