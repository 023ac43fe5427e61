#!/usr/bin/env python
"""Generate the synthetic NIRISS WFSS field (UNCAL ramps, CRDS cache, grism config, truth).

    python resources/scripts/simulateField.py --seed 1 --output demo/synthetic
        [--filters F150W F200W] [--ngroups 10] [--no-direct F115W] [--revisit F150W]
        [--revisit-dpa 90] [--force]

Reuses the folder when it already holds a field made with the same parameters. See README
("The synthetic field") for what is inside and how it stands in for MAST, CRDS and grizli's CONF.
"""

import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "workflow" / "scripts"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "simulator"))  # wfsssim

from wfsssim.field import FieldSpec, simulate_field


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--output", type=Path, default=Path("demo/synthetic"))
    parser.add_argument("--filters", nargs="+", default=list(FieldSpec.filters), metavar="FILTER")
    parser.add_argument(
        "--ngroups", type=int, default=FieldSpec.ngroups, help="groups per ramp (>= 7)"
    )
    parser.add_argument(
        "--no-direct", nargs="+", default=[], metavar="FILTER",
        help="grism filters observed without a direct image of their own",
    )  # fmt: skip
    parser.add_argument(
        "--revisit", nargs="+", default=[], metavar="FILTER",
        help="filters observed again at a second orient (PA + --revisit-dpa)",
    )  # fmt: skip
    parser.add_argument(
        "--revisit-dpa", type=float, default=FieldSpec.revisit_dpa,
        help="PA_APER of the revisit minus that of the first visit (degrees)",
    )  # fmt: skip
    parser.add_argument(
        "--one-over-f-dn", type=float, default=FieldSpec.one_over_f_dn,
        help="rms (DN) of each group's 1/f stripes; 0 leaves them out",
    )  # fmt: skip
    parser.add_argument(
        "--force", action="store_true", help="regenerate even if the field is there"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    for noisy in ("stpipe", "CRDS", "jwst", "stdatamodels"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        spec = FieldSpec(
            seed=args.seed,
            filters=tuple(f.upper() for f in args.filters),
            ngroups=args.ngroups,
            no_direct=tuple(f.upper() for f in args.no_direct),
            revisit=tuple(f.upper() for f in args.revisit),
            revisit_dpa=args.revisit_dpa,
            one_over_f_dn=args.one_over_f_dn,
        )
    except ValueError as error:
        parser.error(str(error))
    manifest = simulate_field(args.output, spec, force=args.force)
    print(
        f"synthetic field: {args.output} ({len(manifest['exposures'])} exposures, CRDS context {manifest['context']})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
