"""``computeFields.py``: query (or read) NIRISS exposures, group them into fields, name them.

Writes into the output folder, each file atomically and only after every check passed:
``fields.csv`` (one row per UNCAL product), ``rejected.csv`` (rows left out, with the reason),
``field_names.json`` (the names registry) and ``fields.png`` (a sky plot of all fields).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..atomic import atomic_path
from ..layout import FIELDS_CSV, REGISTRY, REJECTED_CSV, SKY_PLOT

if TYPE_CHECKING:
    import pandas as pd

# numpy, pandas and astropy are imported where they are used: `--help` and argument errors
# answer at once.

log = logging.getLogger("computeFields")

DEFAULT_PROGRAMS = ["1571", "3383", "4681"]


class FieldsError(RuntimeError):
    """Anything that stops the fields from being computed; the message is for the user."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="computeFields.py",
        description="Group NIRISS imaging/WFSS exposures into sky fields and name them.",
    )
    parser.add_argument(
        "--proposal-ids",
        nargs="+",
        default=DEFAULT_PROGRAMS,
        metavar="ID",
        help="JWST programs to include (default: %(default)s)",
    )
    parser.add_argument(
        "--separation",
        type=float,
        default=30.0,
        metavar="ARCSEC",
        help="join fields whose footprints come closer than this, arcsec (default: %(default)s)",
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=Path("FIELDS"),
        metavar="DIR",
        help=f"where {FIELDS_CSV}, the names registry and the sky plot go (default: %(default)s)",
    )
    parser.add_argument(
        "--from-table",
        type=Path,
        metavar="OBS_TABLE",
        help="read this observation table (ECSV, CSV or FITS) instead of querying MAST",
    )
    parser.add_argument(
        "--names-from",
        type=Path,
        metavar="NAMES_YAML",
        help="seed the names registry from published names (NISPureParallel's resources/names.yaml:"
        " MAST visit key -> field name); fields holding those exposures keep those names",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="stop on a malformed row (bad s_region, filters, times) instead of skipping it",
    )
    parser.add_argument(
        "--proprietary",
        action="store_true",
        help="include exclusive-access data (query mode logs in with the token in $MAST_API_TOKEN)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=300,
        metavar="N",
        help="obsids per MAST product-list request (default: %(default)s)",
    )
    parser.add_argument(
        "--retry-wait",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="first wait before retrying a failed MAST request; doubles each time (default: %(default)s)",
    )
    parser.add_argument("--no-plot", action="store_true", help="skip the sky plot")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only warnings and errors")
    args = parser.parse_args(argv)
    if not args.separation >= 0:
        parser.error("--separation must be a non-negative number of arcsec")
    if args.batch_size < 1:
        parser.error("--batch-size must be at least 1")
    if not args.retry_wait >= 0:
        parser.error("--retry-wait must be a non-negative number of seconds")
    args.proposal_ids = [str(p).strip() for p in args.proposal_ids]
    return args


def compute_fields(
    exposures: pd.DataFrame, separation_arcsec: float, registry: dict
) -> tuple[pd.DataFrame, dict, dict]:
    """Group and name exposures. Returns (fields table, new registry, naming report)."""
    from .grouping import group_footprints
    from .naming import Component, assign_names
    from .table import OUTPUT_COLUMNS

    labels = group_footprints(list(exposures["polygon"]), separation_arcsec)
    exposures = exposures.assign(_label=labels).sort_values(["t_min", "obs_id"], kind="stable")
    components, label_order = [], []
    for label, members in exposures.groupby("_label", sort=False):
        components.append(
            Component(
                obs_ids=list(members["obs_id"]),
                t_min=list(members["t_min"]),
                ra=float(members["s_ra"].iloc[0]),
                dec=float(members["s_dec"].iloc[0]),
            )
        )
        label_order.append(label)
    naming = assign_names(components, registry)
    name_of_label = dict(zip(label_order, naming.names))
    table = exposures.assign(field=exposures["_label"].map(name_of_label))
    table = table.sort_values(["field", "t_min", "obs_id"], kind="stable")[OUTPUT_COLUMNS]
    report = {"new": naming.new, "merged": naming.merged, "split": naming.split}
    return table.reset_index(drop=True), naming.registry, report


def write_outputs(
    table: pd.DataFrame,
    registry: dict,
    output_dir: Path,
    plot: bool,
    rejected: pd.DataFrame,
) -> None:
    from .naming import save_registry

    output_dir.mkdir(parents=True, exist_ok=True)
    if plot:
        with atomic_path(output_dir / SKY_PLOT) as tmp:
            plot_fields(table, tmp)
    with atomic_path(output_dir / REJECTED_CSV) as tmp:
        rejected.to_csv(tmp, index=False)
    with atomic_path(output_dir / FIELDS_CSV) as tmp:
        table.to_csv(tmp, index=False, float_format="%.12g")
    # The registry goes last: a run that dies before it leaves the old names in force.
    save_registry(output_dir / REGISTRY, registry)


def plot_fields(table: pd.DataFrame, path: Path) -> None:
    """An all-sky (Mollweide) plot of the field centres, coloured by program (see .skyplot)."""
    from .skyplot import draw_sky_plot

    centres = table.groupby("field").agg(
        ra=("s_ra", "first"),
        dec=("s_dec", "first"),
        program=("proposal_id", "first"),
        exposures=("obs_id", "size"),
    )
    draw_sky_plot(
        centres["ra"].to_numpy(),
        centres["dec"].to_numpy(),
        centres["program"].to_numpy(),
        centres["exposures"].to_numpy(),
        f"{len(centres)} NIRISS WFSS fields, {len(table)} exposures (ICRS)",
        path,
    )


def rejection_summary(rejected: pd.DataFrame, limit: int = 10) -> list[str]:
    """Counts of rows left out per kind, then the malformed ones by name (they need a look)."""
    from .table import MALFORMED

    if rejected.empty:
        return []
    counts = rejected["kind"].value_counts()
    lines = [
        "rows left out: "
        + ", ".join(f"{count} {kind}" for kind, count in sorted(counts.items()))
        + f" (listed in {REJECTED_CSV})"
    ]
    bad = rejected[rejected["kind"] == MALFORMED]
    for row in bad.head(limit).itertuples():
        lines.append(f"skipped {row.obs_id}: {row.reason}")
    if len(bad) > limit:
        lines.append(f"... and {len(bad) - limit} more malformed rows")
    return lines


def summary(table: pd.DataFrame, report: dict) -> str:
    per_field = table.groupby("field").agg(
        exposures=("obs_id", "size"),
        programs=("proposal_id", lambda p: ",".join(sorted(set(p)))),
        filters=("pupil", lambda p: ",".join(sorted(set(p)))),
        grism=("exp_type", lambda e: int((e == "NIS_WFSS").sum())),
    )
    lines = [
        f"{len(per_field)} fields, {len(table)} exposures "
        f"({int((table['exp_type'] == 'NIS_WFSS').sum())} grism), "
        f"programs {' '.join(sorted(table['proposal_id'].unique()))}",
    ]
    if report["new"]:
        lines.append(f"new fields: {len(report['new'])}")
    for kept, aliases in report["merged"].items():
        lines.append(f"merged: {', '.join(aliases)} -> {kept} (kept the oldest name)")
    for name in report["split"]:
        lines.append(
            f"warning: the exposures of {name} are now in several fields; it kept its first"
        )
    lines.append(f"{'field':8} {'exp':>4} {'grism':>5}  {'programs':14} filters")
    for name, row in per_field.iterrows():
        lines.append(f"{name:8} {row.exposures:4d} {row.grism:5d}  {row.programs:14} {row.filters}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(levelname)s: %(message)s",
    )
    from .naming import RegistryError, load_registry
    from .table import (
        MALFORMED,
        TableError,
        read_observation_table,
        rejected_frame,
        select_exposures,
    )

    try:
        rejected = []
        if args.from_table:
            source = str(args.from_table)
            observations = read_observation_table(args.from_table)
        else:
            from .mast import MastUnavailable, query_observations

            source = f"the MAST query for programs {' '.join(args.proposal_ids)}"
            try:
                observations, rejected = query_observations(
                    args.proposal_ids,
                    batch_size=args.batch_size,
                    proprietary=args.proprietary,
                    retry_wait=args.retry_wait,
                )
            except MastUnavailable as error:
                raise FieldsError(str(error)) from None
            if len(observations) == 0:
                shown = "; ".join(f"{r.obs_id}: {r.reason}" for r in rejected[:5])
                raise FieldsError(
                    f"{source} found no usable NIRISS exposures" + (f" ({shown})" if shown else "")
                )
        exposures, skipped = select_exposures(
            observations, args.proposal_ids, source, proprietary=args.proprietary
        )
        rejected = rejected_frame(rejected + skipped)
        malformed = rejected[rejected["kind"] == MALFORMED]
        if args.strict and len(malformed):
            shown = "; ".join(f"{r.obs_id}: {r.reason}" for r in malformed.head(5).itertuples())
            raise FieldsError(
                f"{source}: {len(malformed)} malformed row(s) and --strict: {shown}. "
                "Fix the table, or run without --strict to skip them."
            )
        if args.quiet:  # otherwise the summary below says it
            for line in rejection_summary(rejected):
                log.warning("%s", line)
        registry = load_registry(args.output_dir / REGISTRY)
        from . import published

        if args.names_from:
            names = published.read_names(args.names_from)
            registry = published.seed(registry, names, str(args.names_from))
        registry, matched = published.resolve(registry, exposures)
        if args.names_from:
            log.info(
                "published names: %d of %d hold exposures of this run (the rest stay reserved)",
                len(matched),
                len(names),
            )
        table, registry, report = compute_fields(exposures, args.separation, registry)
        validate_fields_table(table)
        write_outputs(table, registry, args.output_dir, not args.no_plot, rejected)
    except (FieldsError, TableError, RegistryError) as error:
        print(f"computeFields: error: {error}", file=sys.stderr)
        print("computeFields: nothing was written.", file=sys.stderr)
        return 2
    if not args.quiet:
        print(summary(table, report))
        for line in rejection_summary(rejected):
            print(line)
        print(f"wrote {args.output_dir / FIELDS_CSV}")
    return 0


def validate_fields_table(table: pd.DataFrame) -> None:
    """Check the table against workflow/schemas/fields.schema.yaml, as the Snakefile does."""
    from ..schemas import validate_fields

    problems = validate_fields(table)
    if problems:
        raise FieldsError("the computed table breaks the fields schema: " + "; ".join(problems[:5]))
