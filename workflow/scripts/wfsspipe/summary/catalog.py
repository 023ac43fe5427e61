"""The combined catalogue: every field's catalogue sources with their magnitudes and redshifts.

One row per source of each field's photometric catalogue (``Mosaic/{field}_phot.fits``, see
:mod:`wfsspipe.mosaic`), whether or not it was extracted and fitted. Every column has a unit
or is dimensionless by design (:data:`DIMENSIONLESS`); a value that was not measured is masked
(NaN in the FITS file, which astropy reads as masked; an empty cell in the CSV), never 0. :func:`column_descriptions` gives
each column's meaning, as listed in ``FIELDS/README.md``:

``field``, ``id``, ``ra``, ``dec``
    the field and the source's catalogue id (unique within a field), position in degrees.
``mag_{filter}``, ``magerr_{filter}``
    AB magnitude and its error per filter (lower case, e.g. ``mag_f150w``, ordered by
    wavelength) from the ``{filter}_flux_aper_{i}`` flux (uJy) in the aperture of diameter
    ``summary.aperture_arcsec``: an *aperture* magnitude. Masked where the field has no mosaic
    in that filter or the flux is not positive.
``magtot_{filter}``
    total AB magnitude: the aperture flux times grizli's ``{filter}_tot_corr`` (the aperture
    correction from the source's Kron radius), where the catalogue has it.
``r_half``, ``a_axis``, ``b_axis``
    the half-light radius and the semi-axes of the source's ellipse on the detection image, in
    arcsec (grizli's ``flux_radius``, ``a_image``, ``b_image`` in pixels times the pixel scale).
``status``, ``z``, ``z_lo``, ``z_hi``, ``z02``, ``z97``, ``chi2``, ``dof``, ``nlines``, ``quality``,
``z_alt``, ``dchi2_alt``, ``flag``, ``flag_reason``
    from the field's redshift table (``Redshifts/{field}_redshifts.fits``): ``status`` ``ok`` or
    ``failed``; ``z_lo``/``z_hi`` the 16th/84th and ``z02``/``z97`` the 2.5th/97.5th
    percentiles; ``nlines`` lines above the S/N threshold; ``quality`` 2 good, 1 poor, 0 no
    fit. Sources that were not extracted have ``status`` ``not_extracted`` and quality 0.
``reason``
    why a source has no redshift (not extracted: the extraction's reason, e.g. too faint;
    failed: the fit's error), empty for a fitted source.
``fit_plot``
    the fit figure, relative to the field's ``Redshifts/`` folder.
``flux_{line}``, ``err_{line}``, ``sn_{line}``
    line fluxes, errors and S/N: the union of the lines of all fields, in the unit of the first
    table that has the line. Masked where the line was not measured (outside the spectra's
    coverage, not fitted, or a field whose fit has no such line).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.table import MaskedColumn, Table

from ..atomic import atomic_path
from . import SummaryError

log = logging.getLogger(__name__)

NOT_EXTRACTED = "not_extracted"
QUALITY_FLAGS = {2: "good", 1: "poor", 0: "no fit"}
AB_ZEROPOINT_UJY = 23.9  # m_AB = 23.9 - 2.5 log10(f / uJy)
APERTURE_TOLERANCE_ARCSEC = 0.005
PHOT_COLUMNS = ("id", "ra", "dec")
REDSHIFT_COLUMNS = ("id", "status", "z", "z_lo", "z_hi", "chi2", "dof", "quality")
REDSHIFT_FLOATS = ("z", "z_lo", "z_hi", "chi2", "dof")
# Columns of the redshift table that older results tables may lack (masked when absent).
OPTIONAL_FLOATS = ("z02", "z97", "nlines", "z_alt", "dchi2_alt")
# Sizes: grizli's (SEP's) column in pixels -> ours in arcsec, and what it is.
SIZE_COLUMNS = {"flux_radius": ("r_half", "half-light radius"),
                "a_image": ("a_axis", "semi-major axis"),
                "b_image": ("b_axis", "semi-minor axis")}  # fmt: skip
# Columns without a unit by design: names, ids, counts, text, redshifts and ratios.
DIMENSIONLESS = ("field", "id", "status", "z", "z_lo", "z_hi", "z02", "z97", "chi2", "dof",
                 "nlines", "z_alt", "dchi2_alt", "quality", "flag", "flag_reason", "reason",
                 "fit_plot")  # fmt: skip
DIMENSIONLESS_PREFIXES = ("sn_",)
FLUX_COLUMN = re.compile(r"^(?P<filter>[a-z]\d{3}[a-z]+)_flux_aper_(?P<index>\d+)$", re.I)
_LINE_COLUMN = re.compile(r"^flux_(?P<line>.+)$")


@dataclass(frozen=True)
class FieldProducts:
    """What the combined catalogue reads of one field (``redshifts`` None: not fitted yet)."""

    field: str
    phot: Path
    redshifts: Path | None = None
    extractions: Path | None = None  # the extract table: why a source was not extracted


def filter_order(name: str) -> tuple[int, str]:
    """Sort key of filter names by wavelength (``f115w`` < ``f150w`` < ``f200w``)."""
    digits = re.search(r"\d+", name)
    return (int(digits.group()) if digits else 0, name)


def ab_magnitudes(flux_ujy, error_ujy) -> tuple[np.ndarray, np.ndarray]:
    """AB magnitude and error of fluxes in uJy; NaN where the flux is not positive and finite."""
    flux = np.asarray(flux_ujy, dtype=float)
    error = np.asarray(error_ujy, dtype=float)
    good = np.isfinite(flux) & (flux > 0)
    safe = np.where(good, flux, 1.0)
    mag = np.where(good, AB_ZEROPOINT_UJY - 2.5 * np.log10(safe), np.nan)
    magerr = np.where(good, 2.5 / math.log(10) * error / safe, np.nan)
    return mag, magerr


def _read(path: Path, what: str) -> Table:
    if not Path(path).is_file():
        raise SummaryError(f"{what} {path} does not exist: rerun the rule that writes it")
    try:
        return Table.read(path)
    except Exception as error:  # astropy raises many types for unreadable files
        raise SummaryError(f"{what} {path} cannot be read: {error}") from None


def _float_column(table: Table, name: str) -> np.ndarray:
    column = table[name]
    values = column.filled(np.nan) if hasattr(column, "filled") else column
    return np.asarray(values, dtype=float)


def column_in_ujy(table: Table, name: str, path: Path) -> np.ndarray:
    """Column ``name`` in uJy (grizli writes uJy; a column without a unit is taken as uJy)."""
    values = _float_column(table, name)
    unit = table[name].unit
    if unit is None or unit == u.uJy:
        return values
    try:
        return (values * unit).to_value(u.uJy)
    except u.UnitConversionError:
        raise SummaryError(f"{path}: column {name} is in {unit}, not a flux density") from None


def aperture_index(
    meta, aperture_arcsec: float, path: Path, setting: str = "summary.aperture_arcsec"
) -> int:
    """Index ``i`` of the ``{filter}_flux_aper_{i}`` columns with the requested diameter (the
    error names ``setting``, the config key that asked for it)."""
    diameters = {}
    for key, value in meta.items():
        match = re.fullmatch(r"ASEC_(\d+)", str(key), re.I)
        if match:
            diameters[int(match.group(1))] = float(value)
    for index, diameter in sorted(diameters.items()):
        if abs(diameter - aperture_arcsec) < APERTURE_TOLERANCE_ARCSEC:
            return index
    known = ", ".join(f'{d:.2f}"' for _, d in sorted(diameters.items())) or "none in the header"
    raise SummaryError(
        f'{path} has no {aperture_arcsec:g}" aperture (diameters: {known}); set '
        f"{setting} to one of them or add it to mosaic.catalog.apertures_arcsec"
    )


def read_photometry(path: Path, aperture_arcsec: float) -> tuple[Table, list[str]]:
    """``id``, ``ra``, ``dec``, ``mag_{filter}``, ``magerr_{filter}`` of a mosaic catalogue."""
    path = Path(path)
    table = _read(path, "photometric catalogue")
    missing = [c for c in PHOT_COLUMNS if c not in table.colnames]
    if missing:
        raise SummaryError(
            f"photometric catalogue {path} lacks the column(s) {', '.join(missing)}: "
            "rerun the mosaic rule"
        )
    filters = sorted(
        {m["filter"].lower() for m in map(FLUX_COLUMN.match, table.colnames) if m},
        key=filter_order,
    )
    result = Table()
    result["id"] = np.asarray(table["id"], dtype=np.int64)
    result["ra"] = _float_column(table, "ra")
    result["dec"] = _float_column(table, "dec")
    if filters:
        index = aperture_index(table.meta, aperture_arcsec, path)
        for name in filters:
            flux, error = f"{name}_flux_aper_{index}", f"{name}_fluxerr_aper_{index}"
            for column in (flux, error):
                if column not in table.colnames:
                    raise SummaryError(f"photometric catalogue {path} lacks the column {column}")
            flux_ujy = column_in_ujy(table, flux, path)
            mag, magerr = ab_magnitudes(flux_ujy, column_in_ujy(table, error, path))
            result[f"mag_{name}"] = mag
            result[f"magerr_{name}"] = magerr
            if f"{name}_tot_corr" in table.colnames:
                total = flux_ujy * _float_column(table, f"{name}_tot_corr")
                result[f"magtot_{name}"] = ab_magnitudes(total, np.zeros(len(total)))[0]
    scale = _pixel_scale_arcsec(table.meta)
    for source, (name, _) in SIZE_COLUMNS.items():
        if source in table.colnames and scale:
            result[name] = _float_column(table, source) * scale
    if len(set(result["id"])) != len(result):
        raise SummaryError(f"photometric catalogue {path} repeats source ids")
    return result, filters


def _pixel_scale_arcsec(meta) -> float | None:
    """The detection image's pixel scale (grizli's catalogues carry ``ASEC_i`` and ``APER_i``:
    the aperture diameters in arcsec and in pixels)."""
    for key, value in meta.items():
        match = re.fullmatch(r"ASEC_(\d+)", str(key), re.I)
        pixels = meta.get(f"APER_{match.group(1)}") if match else None
        if pixels:
            return float(value) / float(pixels)
    return None


def redshift_lines(table: Table) -> list[str]:
    """The table's lines: meta ``LINES`` (list or comma/space separated) in that order, then
    any other ``flux_{line}`` column with its ``err_{line}``."""
    declared = table.meta.get("LINES", table.meta.get("lines", []))
    if isinstance(declared, str):
        declared = [word for word in re.split(r"[,\s]+", declared) if word]
    lines = [str(line) for line in declared]
    for name in table.colnames:
        match = _LINE_COLUMN.match(name)
        if match and match["line"] not in lines:
            lines.append(match["line"])
    return lines


def read_redshifts(path: Path) -> tuple[Table, list[str]]:
    """A field's redshift table (the zfit contract) and its lines, checked."""
    path = Path(path)
    table = _read(path, "redshift table")
    lines = redshift_lines(table)
    required = list(REDSHIFT_COLUMNS) + [
        f"{kind}_{line}" for line in lines for kind in ("flux", "err")
    ]
    missing = [c for c in required if c not in table.colnames]
    if missing:
        raise SummaryError(
            f"redshift table {path} lacks the column(s) {', '.join(missing)}: rerun the zfit rule"
        )
    ids = np.asarray(table["id"], dtype=np.int64)
    if len(set(ids)) != len(ids):
        raise SummaryError(f"redshift table {path} repeats source ids")
    return table, lines


@dataclass
class _Column:
    values: list[np.ndarray]
    unit: u.UnitBase | None = None
    description: str = ""


def combine_catalogs(products: Sequence[FieldProducts], aperture_arcsec: float) -> Table:
    """One table of every field's sources (see the module docstring for the columns)."""
    parts = []
    all_filters: set[str] = set()
    grism_filters: set[str] = set()
    all_lines: list[str] = []
    for item in products:
        phot, filters = read_photometry(item.phot, aperture_arcsec)
        all_filters.update(filters)
        grism_filters.update(_grism_filters(item))
        redshifts, lines = (None, []) if item.redshifts is None else read_redshifts(item.redshifts)
        all_lines += [line for line in lines if line not in all_lines]
        parts.append((item, phot, redshifts, lines))
    filters = sorted(all_filters, key=filter_order)

    columns: dict[str, _Column] = {
        "field": _Column([], description="field name"),
        "id": _Column([], description="source id in the field's catalogue"),
        "ra": _Column([], u.deg, "right ascension (ICRS)"),
        "dec": _Column([], u.deg, "declination (ICRS)"),
    }
    totals = sorted({c[len("magtot_"):] for _, p, _, _ in parts for c in p.colnames
                     if c.startswith("magtot_")}, key=filter_order)  # fmt: skip
    sizes = [n for n, _ in SIZE_COLUMNS.values() if any(n in p.colnames for _, p, _, _ in parts)]
    for name, column in column_descriptions(
        filters, totals, sizes, all_lines, aperture_arcsec
    ).items():
        columns.setdefault(name, _Column([], column[0], column[1]))

    for item, phot, redshifts, lines in parts:
        count = len(phot)
        columns["field"].values.append(np.full(count, item.field, dtype=object))
        for name in ("id", "ra", "dec"):
            columns[name].values.append(np.asarray(phot[name]))
        keys = [f"{p}_{n}" for n in filters for p in ("mag", "magerr")]
        keys += [f"magtot_{n}" for n in totals] + sizes
        for key in keys:
            columns[key].values.append(
                np.asarray(phot[key]) if key in phot.colnames else np.full(count, np.nan)
            )
        rows = _redshift_rows(item, phot, redshifts)
        fitted = rows >= 0
        status = np.full(count, NOT_EXTRACTED, dtype=object)
        quality = np.zeros(count, dtype=np.int16)
        reason = _extraction_reasons(item, phot)
        fit_plot = np.full(count, "", dtype=object)
        flag = np.full(count, "not fitted", dtype=object)
        flag_reason = np.full(count, "", dtype=object)
        if redshifts is not None:
            status[fitted] = [_text(v) for v in np.asarray(redshifts["status"])[rows[fitted]]]
            quality[fitted] = np.asarray(redshifts["quality"], dtype=np.int16)[rows[fitted]]
            pairs = (("reason", reason), ("fit_plot", fit_plot), ("flag", flag),
                     ("flag_reason", flag_reason))  # fmt: skip
            for name, target in pairs:
                if name in redshifts.colnames:
                    target[fitted] = [_text(v) for v in _text_column(redshifts, name)[rows[fitted]]]
            if "flag" not in redshifts.colnames:  # a table from before the flag: from quality
                flag[fitted] = [QUALITY_FLAGS.get(int(q), "") for q in quality[fitted]]
        reason[(status == NOT_EXTRACTED) & (reason == "")] = "not extracted"
        columns["status"].values.append(status)
        columns["quality"].values.append(quality)
        columns["reason"].values.append(reason)
        columns["fit_plot"].values.append(fit_plot)
        columns["flag"].values.append(flag)
        columns["flag_reason"].values.append(flag_reason)
        for name in (*REDSHIFT_FLOATS, *OPTIONAL_FLOATS):
            source = redshifts if redshifts is not None and name in redshifts.colnames else None
            columns[name].values.append(_gather(source, name, rows, columns[name], item))
        for line in all_lines:
            for kind in ("flux", "err", "sn"):
                key = f"{kind}_{line}"
                source = redshifts if line in lines and key in redshifts.colnames else None
                columns[key].values.append(_gather(source, key, rows, columns[key], item))

    table = Table()
    for name, column in columns.items():
        if column.values:
            values = np.concatenate(column.values)
        else:
            values = np.array([], dtype=_EMPTY_DTYPES.get(name, float))
        if name in TEXT_COLUMNS:
            values = values.astype(str)
        table[name] = values
        table[name].unit = column.unit
        table[name].description = column.description
    table["id"] = table["id"].astype(np.int64)
    # A count: 0 lines above the threshold where there was no fit (as quality is 0).
    table["nlines"] = np.nan_to_num(_float_column(table, "nlines")).astype(np.int16)
    table["nlines"].description = columns["nlines"].description
    table.meta["APERTURE"] = (aperture_arcsec, "diameter (arcsec) of the magnitudes")
    table.meta["NFIELDS"] = (len(products), "fields in the catalogue")
    table.meta["FILTERS"] = ",".join(filters)
    # Grism filters (a field may have one without a direct image, so without a magnitude column).
    table.meta["GRISM_FILTERS"] = ",".join(sorted(grism_filters, key=filter_order))
    table.meta["LINES"] = ",".join(all_lines)
    return table


_EMPTY_DTYPES = {"field": str, "id": np.int64, "status": str, "quality": np.int16, "reason": str,
                 "fit_plot": str, "flag": str, "flag_reason": str}  # fmt: skip
TEXT_COLUMNS = ("field", "status", "flag", "flag_reason", "reason", "fit_plot")


def column_descriptions(
    filters: Sequence[str],
    totals: Sequence[str],
    sizes: Sequence[str],
    lines: Sequence[str],
    aperture_arcsec: float,
) -> dict[str, tuple[u.UnitBase | None, str]]:
    """Each column of the combined catalogue: (unit or None if dimensionless, meaning)."""
    columns: dict[str, tuple[u.UnitBase | None, str]] = {}
    for name in filters:
        columns[f"mag_{name}"] = (u.mag, f'AB magnitude in {name.upper()}, {aperture_arcsec:g}" '
                                  "diameter aperture")  # fmt: skip
        columns[f"magerr_{name}"] = (u.mag, f"error of mag_{name}")
    for name in totals:
        columns[f"magtot_{name}"] = (u.mag, f"total AB magnitude in {name.upper()} (aperture "
                                     "magnitude with grizli's Kron-radius correction)")  # fmt: skip
    meaning = dict(SIZE_COLUMNS.values())
    for name in sizes:
        columns[name] = (u.arcsec, f"{meaning[name]} on the detection image")
    columns["status"] = (None, f"redshift fit: ok, failed or {NOT_EXTRACTED}")
    columns["z"] = (None, "redshift (maximum a posteriori)")
    columns["z_lo"] = (None, "16th percentile of p(z)")
    columns["z_hi"] = (None, "84th percentile of p(z)")
    columns["z02"] = (None, "2.5th percentile of p(z)")
    columns["z97"] = (None, "97.5th percentile of p(z)")
    columns["chi2"] = (None, "chi^2 of the best fit")
    columns["dof"] = (None, "degrees of freedom of the fit")
    columns["nlines"] = (None, "emission lines above the fit's S/N threshold")
    columns["z_alt"] = (None, "the best other redshift (another line identification)")
    columns["dchi2_alt"] = (None, "how much worse z_alt fits (chi^2 above the minimum)")
    columns["quality"] = (None, "2 good, 1 poor or ambiguous, 0 no fit")
    columns["flag"] = (None, "good, ambiguous, poor, no fit or not fitted")
    columns["flag_reason"] = (None, "why the fit has its flag")
    columns["reason"] = (None, "why the source has no redshift (empty when fitted)")
    columns["fit_plot"] = (None, "fit figure, in the field's Redshifts/ folder")
    for line in lines:
        columns[f"flux_{line}"] = (None, f"{line} line flux (unit from the redshift table)")
        columns[f"err_{line}"] = (None, f"error of flux_{line}")
        columns[f"sn_{line}"] = (None, f"signal-to-noise ratio of flux_{line}")
    return columns


def _text_column(table: Table, name: str) -> np.ndarray:
    column = table[name]
    return np.asarray(column.filled("") if hasattr(column, "filled") else column)


def _grism_filters(item: FieldProducts) -> list[str]:
    """The grism filters the field's extraction table names (none without the table)."""
    if item.extractions is None or not Path(item.extractions).is_file():
        return []
    return [
        str(f).upper()
        for f in _read(item.extractions, "extraction table").meta.get("grism_filters", [])
    ]


def _extraction_reasons(item: FieldProducts, phot: Table) -> np.ndarray:
    """Per catalogue source, why it was not extracted ("not extracted" without the table)."""
    reasons = np.full(len(phot), "", dtype=object)
    if item.redshifts is None:
        reasons[:] = "not extracted yet"
    if item.extractions is None or not Path(item.extractions).is_file():
        return reasons
    table = _read(item.extractions, "extraction table")
    by_id = {int(i): _text(r) for i, r, s in zip(table["id"], _text_column(table, "reason"),
                                                 _text_column(table, "status")) if _text(s) != "extracted"}  # fmt: skip
    for row, source in enumerate(phot["id"]):
        if int(source) in by_id:
            reasons[row] = by_id[int(source)] or "not extracted"
    return reasons


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _redshift_rows(item: FieldProducts, phot: Table, redshifts: Table | None) -> np.ndarray:
    """For each catalogue source, its row in the redshift table (-1: not there)."""
    rows = np.full(len(phot), -1, dtype=np.int64)
    if redshifts is None:
        return rows
    position = {int(source): row for row, source in enumerate(phot["id"])}
    unknown = []
    for row, source in enumerate(np.asarray(redshifts["id"], dtype=np.int64)):
        if int(source) in position:
            rows[position[int(source)]] = row
        else:
            unknown.append(int(source))
    if unknown:
        raise SummaryError(
            f"redshift table {item.redshifts} has source id(s) {unknown[:5]} that are not in "
            f"{item.phot}: the catalogue changed after the fits; rerun extract and zfit"
        )
    return rows


def _gather(
    redshifts: Table | None, name: str, rows: np.ndarray, column: _Column, item: FieldProducts
) -> np.ndarray:
    """Values of column ``name`` for each catalogue source (NaN where there is none), in the
    unit of the combined column (the first table with a unit sets it; a column without one is
    taken to be in that unit)."""
    values = np.full(len(rows), np.nan)
    if redshifts is None:
        return values
    source = _float_column(redshifts, name)
    unit = redshifts[name].unit
    if unit is not None:
        if column.unit is None:
            column.unit = unit
        elif unit != column.unit:
            try:
                source = (source * unit).to_value(column.unit)
            except u.UnitConversionError:
                raise SummaryError(
                    f"redshift table {item.redshifts}: column {name} is in {unit}, other fields "
                    f"have {column.unit}"
                ) from None
    values[rows >= 0] = source[rows[rows >= 0]]
    return values


def write_catalog(table: Table, fits_path: Path, csv_path: Path) -> None:
    """The combined catalogue as FITS and CSV, each written atomically."""
    with atomic_path(fits_path) as tmp:
        table.write(tmp, format="fits", overwrite=True)
    csv = table.copy(copy_data=False)
    for name in csv.colnames:
        if csv[name].dtype.kind == "f":  # not measured: an empty cell, as FITS has NaN
            csv[name] = MaskedColumn(csv[name], mask=~np.isfinite(np.asarray(csv[name])))
    with atomic_path(csv_path) as tmp:
        csv.write(tmp, format="ascii.csv", overwrite=True)
    log.info(
        "combined catalogue: %d sources of %s field(s) -> %s, %s",
        len(table),
        table.meta["NFIELDS"][0],
        fits_path,
        csv_path,
    )


def build_catalog(
    products: Sequence[FieldProducts], fits_path: Path, csv_path: Path, aperture_arcsec: float
) -> Table:
    table = combine_catalogs(products, aperture_arcsec)
    write_catalog(table, fits_path, csv_path)
    return table
