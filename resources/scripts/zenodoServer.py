#!/usr/bin/env python
"""Serve synthetic grizli configuration archives like Zenodo (and grizli's own URLs), on 127.0.0.1.

    python resources/scripts/zenodoServer.py --root demo/zenodo [--build] [--port 8644] [--port-file F]

`--build` first writes the synthetic files (the NIRISS 221215 confs and sensitivities of Zenodo
record 7628094, the sky flats of record 13741413, grizli's 220725 confs and stellar templates) under
--root in their URL layout. The workflow's `grizli_config.sources` then point at
http://127.0.0.1:<port> with the same paths (wfsssim.zenodo.local_sources). Faults can
be queued with POST /faults (see resources/simulator/wfsssim/zenodo.py).
"""

import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "workflow" / "scripts"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "simulator"))  # wfsssim

from wfsssim.serving import serve
from wfsssim.zenodo import base_url, make_server, write_records


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, required=True, help="folder of the served files")
    parser.add_argument("--build", action="store_true", help="write the synthetic files first")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--port-file", type=Path, help="write the chosen port here once listening")
    parser.add_argument("--slow-seconds", type=float, default=5.0, help="pause per MB for 'slow'")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(message)s",
    )
    if args.build:
        write_records(args.root)
    if not (args.root / "records").is_dir():
        parser.error(f"--root {args.root} holds no records/ folder (use --build to write one)")
    server = make_server(args.root, args.port, slow_seconds=args.slow_seconds)
    return serve(server, args.port_file, f"serving {args.root} at {base_url(server)}")


if __name__ == "__main__":
    sys.exit(main())
