"""From an observation table (MAST ``query_criteria`` format) to the rows of ``fields.csv``."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..layout import UNCAL_SUFFIX, is_exposure
from .sphere import RegionError, oriented_convex_polygons, parse_polygon

if TYPE_CHECKING:
    from astropy.table import Table

log = logging.getLogger(__name__)

REQUIRED_COLUMNS = [
    "obs_id",
    "s_region",
    "s_ra",
    "s_dec",
    "t_min",
    "filters",
    "instrument_name",
    "proposal_id",
    "t_exptime",
]
EXPOSURE_TYPES = {"NIRISS/IMAGE": "NIS_IMAGE", "NIRISS/WFSS": "NIS_WFSS"}
# Columns of fields.csv, in order; workflow/schemas/fields.schema.yaml describes each.
OUTPUT_COLUMNS = [
    "field",
    "obs_id",
    "filename",
    "dataURI",
    "filter",
    "pupil",
    "exp_type",
    "t_min",
    "exptime",
    "s_region",
    "size",
    "proposal_id",
    "s_ra",
    "s_dec",
    "t_obs_release",
    "dataRights",
]


# Columns of rejected.csv: the rows left out, and why.
REJECTED_COLUMNS = ["obs_id", "proposal_id", "kind", "reason"]
# Kinds of rejection; only "malformed" rows are errors (fatal with --strict), the others are rows
# a query rightly returns and a pipeline must not use.
MALFORMED = "malformed"


class TableError(ValueError):
    """The observation table cannot be used; the message says why and what to do."""


@dataclass
class Rejection:
    obs_id: str
    proposal_id: str
    kind: str  # level3 | exclusive | no-uncal | malformed
    reason: str


def scope_problem(obs_id: str, data_rights: str, proprietary: bool) -> tuple[str, str] | None:
    """Why a row is not ours to use (a level-3 product, not public), or None."""
    if not is_exposure(obs_id):
        return ("level3", "not an exposure (a level-3 or combined product; it has no UNCAL)")
    rights = (data_rights or "").strip().upper()
    if rights and rights != "PUBLIC" and not proprietary:
        return (
            "exclusive",
            f"not public (dataRights={rights}); --proprietary with a MAST token includes it",
        )
    return None


def read_observation_table(path: str | Path) -> Table | pd.DataFrame:
    """Read an ECSV, CSV or FITS observation table, with a clear error when it cannot be read.

    A plain ECSV file (scalar string/number/bool columns, as MAST tables are) is read by
    :mod:`.ecsv` into a DataFrame, without importing astropy.table (start-up time); anything else
    by astropy into a Table. :func:`select_exposures` takes either and sees the same values.
    """
    path = Path(path)
    if not path.is_file():
        raise TableError(f"observation table {path} does not exist")
    formats = {".ecsv": "ascii.ecsv", ".csv": "ascii.csv", ".fits": "fits", ".fit": "fits"}
    kind = formats.get(path.suffix.lower())
    if kind is None:
        raise TableError(f"{path}: unknown table format {path.suffix!r}; use .ecsv, .csv or .fits")
    if kind == "ascii.ecsv":
        import csv

        from .ecsv import read_ecsv_frame

        try:
            frame = read_ecsv_frame(path)
        except (OSError, UnicodeDecodeError, csv.Error):
            frame = None  # astropy reads it or says what is wrong
        if frame is not None:
            return frame
    from astropy.table import Table

    try:
        return Table.read(path, format=kind)
    except Exception as error:  # astropy raises many kinds for a broken file
        raise TableError(f"{path} could not be read as {kind}: {error}") from None


def select_exposures(
    table: Table | pd.DataFrame,
    proposal_ids: list[str] | None,
    source: str,
    proprietary: bool = False,
) -> tuple[pd.DataFrame, list[Rejection]]:
    """NIRISS imaging/WFSS exposure rows of the programs, checked and with parsed footprints.

    Returns a DataFrame with the output columns (except ``field``) plus ``polygon`` (unit-vector
    vertices), and the rows left out with the reason (level-3 products, rows that are not public
    unless ``proprietary``, malformed rows). Raises :class:`TableError` naming ``source`` when the
    table is unusable as a whole or no row is left.
    """
    given = list(table.columns) if isinstance(table, pd.DataFrame) else table.colnames
    missing = [name for name in REQUIRED_COLUMNS if name not in given]
    if missing:
        raise TableError(
            f"{source} lacks the column(s) {', '.join(missing)}; an observation table needs "
            f"{', '.join(REQUIRED_COLUMNS)} (as returned by Observations.query_criteria)"
        )
    if len(table) == 0:
        raise TableError(f"{source} has no rows: nothing to group (check the programs queried)")
    frame = frame_of_table(table)
    frame = frame[frame["instrument_name"].isin(list(EXPOSURE_TYPES))]
    if proposal_ids:
        frame = frame[frame["proposal_id"].isin([str(p) for p in proposal_ids])]
    if frame.empty:
        programs = " ".join(proposal_ids or []) or "any program"
        raise TableError(f"{source} has no NIRISS imaging or WFSS rows for {programs}")
    if "productFilename" in frame:
        # A product-list join holds every product of an observation; the UNCAL row is the one.
        frame = frame[frame["productFilename"] == frame["obs_id"] + UNCAL_SUFFIX]
    frame = frame.drop_duplicates("obs_id", keep="first").reset_index(drop=True)

    rights = frame["dataRights"] if "dataRights" in frame else pd.Series("", index=frame.index)
    problems = [
        scope_problem(obs_id, str(right), proprietary)
        for obs_id, right in zip(frame["obs_id"], rights)
    ]
    raw_filters = frame["filters"].fillna("").tolist()
    split_filters = [text.upper().split(";") for text in raw_filters]
    numbers = ("t_min", "t_exptime", "s_ra", "s_dec")
    finite = np.isfinite(np.column_stack([frame[n].to_numpy(dtype=float) for n in numbers]))
    vertices = []
    for index, region in enumerate(frame["s_region"].tolist()):
        vertices.append(None)
        if problems[index]:
            continue
        parts = split_filters[index]
        if len(parts) != 2 or not all(parts):
            problems[index] = (
                MALFORMED,
                f"'filters' must read FILTER;PUPIL (e.g. GR150C;F150W), not {raw_filters[index]!r}",
            )
            continue
        if not finite[index].all():
            name = numbers[int(np.argmin(finite[index]))]
            problems[index] = (MALFORMED, f"{name} is missing or not finite")
            continue
        try:
            vertices[index] = parse_polygon(region)
        except RegionError as error:
            problems[index] = (
                MALFORMED,
                f"s_region could not be parsed: {error} in {str(region)[:60]!r}",
            )
    obs_ids, programs = frame["obs_id"].tolist(), frame["proposal_id"].tolist()
    rejected = [
        Rejection(obs_ids[i], programs[i], *problem)
        for i, problem in enumerate(problems)
        if problem
    ]
    keep = np.array([problem is None for problem in problems], dtype=bool)
    if not keep.any():
        shown = "; ".join(f"{r.obs_id}: {r.reason}" for r in rejected[:5])
        more = f" (and {len(rejected) - 5} more)" if len(rejected) > 5 else ""
        raise TableError(f"{source} has no usable NIRISS exposure rows: {shown}{more}")
    frame = frame[keep].reset_index(drop=True)
    vertices = [v for v, k in zip(vertices, keep) if k]
    filters = pd.DataFrame(
        [p for p, k in zip(split_filters, keep) if k], columns=["filter", "pupil"]
    )

    polygons, not_convex = oriented_convex_polygons(vertices)
    for index in not_convex:
        log.warning(
            "%s: footprint is not convex; using its convex hull", frame["obs_id"].iloc[index]
        )

    rows = pd.DataFrame(
        {
            "obs_id": frame["obs_id"],
            "filename": frame["obs_id"] + UNCAL_SUFFIX,
            "dataURI": _data_uris(frame),
            "filter": filters["filter"],
            "pupil": filters["pupil"],
            "exp_type": frame["instrument_name"].map(EXPOSURE_TYPES),
            "t_min": frame["t_min"].astype(float),
            "exptime": frame["t_exptime"].astype(float),
            "s_region": frame["s_region"],
            "size": _sizes(frame),
            "proposal_id": frame["proposal_id"],
            "s_ra": frame["s_ra"].astype(float) % 360.0,
            "s_dec": frame["s_dec"].astype(float),
            "t_obs_release": frame.get("t_obs_release", pd.Series(np.nan, index=frame.index)),
            "dataRights": frame.get("dataRights", pd.Series("", index=frame.index)).fillna(""),
        }
    )
    rows["polygon"] = polygons
    return rows, rejected


def rejected_frame(rejected: list[Rejection]) -> pd.DataFrame:
    frame = pd.DataFrame([vars(r) for r in rejected], columns=REJECTED_COLUMNS)
    return frame.sort_values(["proposal_id", "obs_id"], kind="stable").reset_index(drop=True)


def frame_of_table(table: Table | pd.DataFrame) -> pd.DataFrame:
    """A DataFrame of the table with masked values as NaN/empty and text columns as str.

    A DataFrame (from :mod:`.ecsv`, which already reads that way) is only copied.
    """
    if isinstance(table, pd.DataFrame):
        frame = table.copy()
    else:
        columns = {}
        for name in table.colnames:
            column = table[name]
            if column.dtype.kind in "SUO":
                values = np.asarray(column.filled("") if hasattr(column, "filled") else column)
                columns[name] = pd.Series(values.astype(str), dtype=object)
            elif column.dtype.kind in "fiub":
                filled = (
                    column.filled(np.nan)
                    if hasattr(column, "mask") and column.dtype.kind == "f"
                    else column
                )
                columns[name] = pd.Series(np.asarray(filled))
        frame = pd.DataFrame(columns)
    frame["proposal_id"] = frame["proposal_id"].astype(str).str.strip()
    frame["obs_id"] = frame["obs_id"].astype(str).str.strip().str.lower()
    return frame


def _data_uris(frame: pd.DataFrame) -> pd.Series:
    derived = "mast:JWST/product/" + frame["obs_id"] + UNCAL_SUFFIX
    if "dataURI" in frame:
        given = frame["dataURI"].fillna("")
        return given.where(given.str.endswith(UNCAL_SUFFIX), derived)
    return derived


def _sizes(frame: pd.DataFrame) -> pd.Series:
    """Product size in bytes where the table has it (MAST product lists do), else missing."""
    if "size" not in frame:
        return pd.Series(pd.NA, index=frame.index, dtype="Int64")
    return pd.to_numeric(frame["size"], errors="coerce").round().astype("Int64")
