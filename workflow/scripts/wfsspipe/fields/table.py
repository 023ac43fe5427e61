"""From an observation table (MAST ``query_criteria`` format) to the rows of ``fields.csv``."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
from astropy.table import Table

from ..products import is_exposure
from .sphere import RegionError, oriented_convex_polygons, parse_polygon

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


class TableError(ValueError):
    """The observation table cannot be used; the message says why and what to do."""


def read_observation_table(path: str | Path) -> Table:
    """Read an ECSV, CSV or FITS observation table, with a clear error when it cannot be read."""
    path = Path(path)
    if not path.is_file():
        raise TableError(f"observation table {path} does not exist")
    formats = {".ecsv": "ascii.ecsv", ".csv": "ascii.csv", ".fits": "fits", ".fit": "fits"}
    kind = formats.get(path.suffix.lower())
    if kind is None:
        raise TableError(f"{path}: unknown table format {path.suffix!r}; use .ecsv, .csv or .fits")
    try:
        return Table.read(path, format=kind)
    except Exception as error:  # astropy raises many kinds for a broken file
        raise TableError(f"{path} could not be read as {kind}: {error}") from None


def select_exposures(table: Table, proposal_ids: list[str] | None, source: str) -> pd.DataFrame:
    """NIRISS imaging/WFSS exposure rows of the programs, checked and with parsed footprints.

    Returns a DataFrame with the output columns (except ``field``) plus ``polygon`` (unit-vector
    vertices). Raises :class:`TableError` naming ``source`` for anything unusable.
    """
    missing = [name for name in REQUIRED_COLUMNS if name not in table.colnames]
    if missing:
        raise TableError(
            f"{source} lacks the column(s) {', '.join(missing)}; an observation table needs "
            f"{', '.join(REQUIRED_COLUMNS)} (as returned by Observations.query_criteria)"
        )
    if len(table) == 0:
        raise TableError(f"{source} has no rows: nothing to group (check the programs queried)")
    frame = _to_frame(table)
    frame = frame[frame["instrument_name"].isin(list(EXPOSURE_TYPES))]
    if proposal_ids:
        frame = frame[frame["proposal_id"].isin([str(p) for p in proposal_ids])]
    if frame.empty:
        programs = " ".join(proposal_ids or []) or "any program"
        raise TableError(f"{source} has no NIRISS imaging or WFSS rows for {programs}")
    exposure = frame["obs_id"].map(is_exposure)
    if not exposure.all():
        # Level-3 (combined) observations share the table with exposures; they have no UNCAL.
        log.info("skipping %d rows that are not single exposures", int((~exposure).sum()))
        frame = frame[exposure]
        if frame.empty:
            raise TableError(f"{source} has no exposure-level NIRISS rows (jw..._nis)")
    if "productFilename" in frame:
        frame = frame[frame["productFilename"] == frame["obs_id"] + "_uncal.fits"]
    frame = frame.drop_duplicates("obs_id", keep="first").reset_index(drop=True)

    filters = frame["filters"].str.split(";", n=1, expand=True)
    if filters.shape[1] != 2 or filters.isna().any().any():
        bad = frame.loc[
            filters.isna().any(axis=1) if filters.shape[1] == 2 else frame.index, "obs_id"
        ]
        raise TableError(
            f"{source}: 'filters' must read FILTER;PUPIL (e.g. GR150C;F150W) — not so for "
            f"{', '.join(bad[:5])}"
        )
    for name in ("t_min", "t_exptime", "s_ra", "s_dec"):
        bad = frame.loc[~np.isfinite(frame[name].to_numpy(dtype=float)), "obs_id"]
        if len(bad):
            raise TableError(f"{source}: {name} is missing or not finite for {', '.join(bad[:5])}")

    vertices, problems = [], []
    for obs_id, region in zip(frame["obs_id"], frame["s_region"]):
        try:
            vertices.append(parse_polygon(region))
        except RegionError as error:
            problems.append(f"{obs_id}: {error} in {str(region)[:60]!r}")
    if problems:
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise TableError(
            f"{source}: s_region could not be parsed for {len(problems)} exposure(s): "
            + "; ".join(problems[:5])
            + more
        )
    polygons, not_convex = oriented_convex_polygons(vertices)
    for index in not_convex:
        log.warning(
            "%s: footprint is not convex; using its convex hull", frame["obs_id"].iloc[index]
        )

    rows = pd.DataFrame(
        {
            "obs_id": frame["obs_id"],
            "filename": frame["obs_id"] + "_uncal.fits",
            "dataURI": _data_uris(frame),
            "filter": filters[0].str.upper(),
            "pupil": filters[1].str.upper(),
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
    return rows


def _to_frame(table: Table) -> pd.DataFrame:
    """A DataFrame of the table with masked values as NaN/empty and text columns as str."""
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
    derived = "mast:JWST/product/" + frame["obs_id"] + "_uncal.fits"
    if "dataURI" in frame:
        given = frame["dataURI"].fillna("")
        return given.where(given.str.endswith("_uncal.fits"), derived)
    return derived


def _sizes(frame: pd.DataFrame) -> pd.Series:
    """Product size in bytes where the table has it (MAST product lists do), else missing."""
    if "size" not in frame:
        return pd.Series(pd.NA, index=frame.index, dtype="Int64")
    return pd.to_numeric(frame["size"], errors="coerce").round().astype("Int64")
