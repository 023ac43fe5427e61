"""preprocess alone on a built field's RATE files: wall time, peak memory, and (optionally)
whether the prepared exposures equal those of another Prep/ folder.

Runs :func:`wfsspipe.preprocess.preprocess_field` in this process, with the settings a
preprocess job of that folder reads (config/config.yaml under the folder's config.yaml), on
``<built>/FIELDS/<field>/RATE/*_rate.fits``:

    /usr/bin/time -v .venv/bin/python bench/preprocess.py --built <workdir> --output <new dir> \
        [--field sex-00] [--compare <another Prep/>] [--code <checkout>]

``--code`` runs another checkout's wfsspipe (e.g. a ``git worktree`` of an older commit) on the
same RATEs; ``--compare`` then checks every prepared exposure HDU by HDU: data bit for bit,
headers key by key (all but the time stamps). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = ("preprocess", "grizli", "crds", "products")
TIME_STAMPS = {"DATE", "IRAF-TLM", "CHECKSUM", "DATASUM", "FILETIME"}


def differences(new: Path, old: Path) -> list[str]:
    """What differs between the prepared exposures (``*_rate.fits``) of two Prep/ folders."""
    import numpy as np
    from astropy.io import fits

    found = []
    names = {p.name for p in new.glob("*_rate.fits")}
    others = {p.name for p in old.glob("*_rate.fits")}
    found += [f"only in {new}: {n}" for n in sorted(names - others)]
    found += [f"only in {old}: {n}" for n in sorted(others - names)]
    for name in sorted(names & others):
        with fits.open(new / name) as a, fits.open(old / name) as b:
            if [h.name for h in a] != [h.name for h in b]:
                found.append(f"{name}: extensions differ")
                continue
            for x, y in zip(a, b):
                image = isinstance(x.data, np.ndarray) and x.data.dtype.fields is None
                if image and not np.array_equal(x.data, y.data, equal_nan=True):
                    found.append(f"{name}[{x.name}]: data differ")
                hx, hy = dict(x.header), dict(y.header)
                keys = sorted(k for k in set(hx) | set(hy) if k not in TIME_STAMPS)
                changed = [k for k in keys if hx.get(k) != hy.get(k) and not _both_nan(hx, hy, k)]
                if changed:
                    found.append(f"{name}[{x.name}]: header {', '.join(changed[:8])}")
    return found


def _both_nan(a: dict, b: dict, key: str) -> bool:
    x, y = a.get(key), b.get(key)
    return isinstance(x, float) and isinstance(y, float) and x != x and y != y


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--built", type=Path, required=True, help="a workflow folder after Stage 1")
    parser.add_argument("--field", default="sex-00")
    parser.add_argument("--output", type=Path, required=True, help="new folder for Prep/")
    parser.add_argument("--compare", type=Path, help="a Prep/ folder to compare with")
    parser.add_argument("--code", type=Path, default=ROOT, help="checkout whose wfsspipe runs")
    args = parser.parse_args(argv)

    import yaml
    from snakemake.utils import update_config  # how Snakemake merges its --configfile files

    sys.path.insert(0, str(args.code.resolve() / "workflow" / "scripts"))
    config = yaml.safe_load((args.code / "config" / "config.yaml").read_text())
    update_config(config, yaml.safe_load((args.built / "config.yaml").read_text()))
    settings = {key: config[key] for key in SETTINGS}
    from wfsspipe.grizli_env import GrizliSettings

    grizli = GrizliSettings.for_job(settings, blas_threads=2)
    from wfsspipe.preprocess import PreprocessSettings, preprocess_field

    rates = sorted((args.built / "FIELDS" / args.field / "RATE").glob("*_rate.fits"))
    prep = args.output / "Prep"
    args.output.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    result = preprocess_field(
        args.field,
        rates,
        prep,
        PreprocessSettings.from_config(settings["preprocess"]),
        grizli,
        threads=2,
        log_path=args.output / "preprocess.log",
        keep=settings["products"]["keep"],
    )
    report = {
        "code": str(args.code),
        "exposures": result.exposures,
        "seconds": round(time.monotonic() - started, 1),
    }
    if args.compare:
        report["differences"] = differences(prep, args.compare)
    print(json.dumps(report))
    return 1 if report.get("differences") else 0


if __name__ == "__main__":
    sys.exit(main())
