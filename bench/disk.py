"""Disk kept by a built folder: bytes per product class and per exposure (issue 17).

    .venv/bin/python bench/disk.py demo            # a folder holding FIELDS/ (or FIELDS/ itself)
    .venv/bin/python bench/disk.py /tmp/copy --field sex-00

Counts allocated blocks as ``du`` does (hard links once). Exposures are the field's RATE files
(else its UNCAL files). "per exposure" divides the field's total by them; the table's last
line adds what lies outside the fields (survey summaries, index page, catalogue) and, for a
``make demo`` folder, the generated inputs (``synthetic/``, servers' files) that ``du -sh demo``
also counts.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import defaultdict
from pathlib import Path

# (class, test on the path relative to the field folder), first match wins.
CLASSES = [
    ("UNCAL", lambda p: p.parts[0] == "UNCAL"),
    ("RATE", lambda p: p.parts[0] == "RATE"),
    ("Prep exposures", lambda p: p.parts[0] == "Prep" and p.name.endswith("_rate.fits")),
    (
        "Prep visit images",
        lambda p: (
            p.parts[0] == "Prep"
            and p.name.endswith(("_drz_sci.fits", "_drz_wht.fits", "_bkg.fits", "_seg.fits"))
        ),
    ),
    ("Prep other", lambda p: p.parts[0] == "Prep"),
    ("Mosaic", lambda p: p.parts[0] == "Mosaic"),
    ("Contam GrismFLT", lambda p: p.parts[0] == "Contam" and ".GrismFLT." in p.name),
    ("Contam model images", lambda p: p.parts[0] == "Contam" and p.name.endswith("_model.fits")),
    ("Contam other", lambda p: p.parts[0] == "Contam"),
    ("Extractions", lambda p: p.parts[0] == "Extractions"),
    ("Redshifts", lambda p: p.parts[0] == "Redshifts"),
    ("fitsmap", lambda p: p.parts[0] == "fitsmap"),
    ("logs, benchmarks, records", lambda p: True),
]


def allocated(path: Path, seen: set) -> int:
    stat = path.lstat()
    key = (stat.st_dev, stat.st_ino)
    if key in seen:
        return 0
    seen.add(key)
    return stat.st_blocks * 512


def walk(folder: Path):
    for root, _dirs, files in os.walk(folder):
        for name in files:
            yield Path(root) / name


def field_usage(field_dir: Path, seen: set) -> dict[str, int]:
    usage: dict[str, int] = defaultdict(int)
    for path in walk(field_dir):
        relative = path.relative_to(field_dir)
        label = next(label for label, test in CLASSES if test(relative))
        usage[label] += allocated(path, seen)
    return usage


def exposures(field_dir: Path) -> int:
    for folder, pattern in (("RATE", "*_rate.fits"), ("UNCAL", "*_uncal.fits")):
        count = len(list((field_dir / folder).glob(pattern)))
        if count:
            return count
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", type=Path, help="a built folder (holding FIELDS/) or FIELDS/")
    parser.add_argument("--field", help="one field (default: every field folder)")
    args = parser.parse_args(argv)
    top = args.folder.resolve()
    fields_dir = top / "FIELDS" if (top / "FIELDS").is_dir() else top
    field_dirs = sorted(
        p for p in fields_dir.iterdir() if (p / "RATE").is_dir() or (p / "UNCAL").is_dir()
    )
    if args.field:
        field_dirs = [fields_dir / args.field]
    if not field_dirs or not all(d.is_dir() for d in field_dirs):
        print(f"no field folders (with RATE/ or UNCAL/) in {fields_dir}", file=sys.stderr)
        return 2
    seen: set = set()
    for field_dir in field_dirs:
        usage = field_usage(field_dir, seen)
        n = exposures(field_dir)
        total = sum(usage.values())
        print(f"{field_dir.name}: {n} exposures, {total / 1e6:.0f} MB")
        print("| class | MB | MB per exposure | share |\n|---|---:|---:|---:|")
        for label, _ in CLASSES:
            if usage.get(label):
                size = usage[label]
                print(
                    f"| {label} | {size / 1e6:.1f} | {size / 1e6 / max(n, 1):.1f} | "
                    f"{100 * size / total:.0f} % |"
                )
        print(f"| **field total** | **{total / 1e6:.0f}** | **{total / 1e6 / max(n, 1):.0f}** | |")
    rest = sum(allocated(p, seen) for p in walk(top))  # everything not counted above
    print(f"outside the field folders (summaries, inputs, caches): {rest / 1e6:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
