#!/usr/bin/env python
"""Serve a folder of synthetic products like MAST's download service, on 127.0.0.1.

    python resources/scripts/archiveServer.py --root demo/archive [--port 8642] [--port-file F]

The workflow's `download.archive_url` then points at http://127.0.0.1:<port>/api/v0.1/Download/file.
Faults can be queued with POST /faults (see resources/simulator/wfsssim/archive.py).
"""

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "workflow" / "scripts"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "simulator"))  # wfsssim

from wfsssim.archive import base_url, make_server
from wfsssim.serving import serve


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, required=True, help="folder of *_uncal.fits files")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--port-file", type=Path, help="write the chosen port here once listening")
    parser.add_argument("--token-env", default="", help="env variable holding the token to expect")
    parser.add_argument("--slow-seconds", type=float, default=5.0, help="pause per MB for 'slow'")
    args = parser.parse_args()
    if not args.root.is_dir():
        parser.error(f"--root {args.root} is not a folder")
    token = os.environ.get(args.token_env) if args.token_env else None
    server = make_server(args.root, args.port, token=token, slow_seconds=args.slow_seconds)
    return serve(server, args.port_file, f"serving {args.root} at {base_url(server)}")


if __name__ == "__main__":
    sys.exit(main())
