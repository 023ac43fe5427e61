"""QC figures of the report: visit layout of a field, redshift distribution, injected vs measured.

Each figure is a PNG written atomically; matplotlib runs on the Agg backend (no display).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import Table

from ..atomic import atomic_path
from ..niriss import FILTER_EDGES_ANGSTROM
from . import SummaryError

log = logging.getLogger(__name__)

ELEMENT_COLOURS = {"CLEAR": "0.45", "GR150R": "tab:red", "GR150C": "tab:blue"}
QUALITY_STYLES = {2: ("good", "tab:blue"), 1: ("poor", "tab:orange"), 0: ("no fit", "0.6")}
VISIT_COLUMNS = ("exposure", "visit", "filter", "element", "pa_v3", "expstart", "exptime")
TRUTH_COLUMNS = ("id", "ra", "dec", "z")
OUTLIER_DZ = 0.05  # |dz|/(1+z) above this is a catastrophic outlier (the usual photo-z convention)
MATCH_DZ = 0.005  # |dz|/(1+z) below this is a recovered redshift
DETECTED_SN = 10.0  # a line at this S/N or more is one the data detect


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    plt = _pyplot()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, metadata={"Software": None})
    plt.close(fig)


def _floats(column) -> np.ndarray:
    """A column as floats, masked entries (FITS NaN reads back masked) as NaN."""
    return np.asarray(column.filled(np.nan) if hasattr(column, "filled") else column, dtype=float)


def _read_table(path: Path, what: str, required: tuple[str, ...]) -> Table:
    path = Path(path)
    if not path.is_file():
        raise SummaryError(f"{what} {path} does not exist")
    try:
        table = Table.read(path)
    except Exception as error:  # astropy raises many types for unreadable files
        raise SummaryError(f"{what} {path} cannot be read: {error}") from None
    missing = [c for c in required if c not in table.colnames]
    if missing:
        raise SummaryError(f"{what} {path} lacks the column(s) {', '.join(missing)}")
    return table


# --- Visit layout -------------------------------------------------------------------------------
def plot_visit_layout(visits_path: Path, field: str, path: Path, gap_hours: float = 12.0) -> None:
    """The field's exposures in the order they were taken: one row per filter + element, a bar
    per exposure (its length the exposure time, its colour the element, the PA_V3 beside it).

    The x axis is exposure time accumulated in time order, so that epochs months apart stay
    readable; a dashed line with the date marks each gap longer than ``gap_hours``.
    """
    from astropy.time import Time

    plt = _pyplot()
    visits = _read_table(visits_path, "visit table", VISIT_COLUMNS)
    if not len(visits):
        raise SummaryError(f"visit table {visits_path} lists no exposures: rerun preprocess")
    visits = visits[np.argsort(np.asarray(visits["expstart"], dtype=float), kind="stable")]
    start = np.asarray(visits["expstart"], dtype=float)
    lengths = np.asarray(visits["exptime"], dtype=float) / 1e3
    left = np.concatenate([[0.0], np.cumsum(lengths)[:-1]])
    rows = sorted({(str(f), str(e)) for f, e in zip(visits["filter"], visits["element"])})
    row_of = {key: number for number, key in enumerate(rows)}
    fig, ax = plt.subplots(figsize=(8.5, 1.4 + 0.45 * len(rows)), layout="constrained")
    labelled = set()
    previous_pa = None
    for visit, x, length in zip(visits, left, lengths):
        key = (str(visit["filter"]), str(visit["element"]))
        colour = ELEMENT_COLOURS.get(key[1], "tab:green")
        ax.barh(
            row_of[key],
            length,
            left=x,
            height=0.6,
            color=colour,
            edgecolor="k",
            linewidth=0.5,
            label=None if key[1] in labelled else key[1],
        )
        labelled.add(key[1])
        pa = round(float(visit["pa_v3"]))
        if pa != previous_pa:  # the PA once per change, not on every bar
            ax.annotate(
                f"{pa}°",
                (x, row_of[key] + 0.32),
                xytext=(0, 1),
                textcoords="offset points",
                va="bottom",
                fontsize=7,
            )
            previous_pa = pa
    gaps = np.flatnonzero(np.diff(start) * 24.0 > gap_hours) + 1
    for index in [0, *gaps]:
        ax.axvline(left[index], color="0.4", ls="--", lw=0.7)
        ax.annotate(
            Time(start[index], format="mjd").to_value("iso", subfmt="date"),
            (left[index], 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(2, -2),
            textcoords="offset points",
            va="top",
            fontsize=7,
            color="0.3",
        )
    ax.set_yticks(range(len(rows)), [f"{f} {e}" for f, e in rows])
    ax.set_ylim(-0.7, len(rows) - 0.1)
    ax.set_xlim(0, float(left[-1] + lengths[-1]) * 1.04)
    ax.set_xlabel("exposure time accumulated in time order [ks] (labels: PA_V3; dashes: new epoch)")
    ax.set_title(
        f"{field}: {len(visits)} exposures, {lengths.sum():.1f} ks, "
        f"{len(set(visits['visit']))} visits, {len(gaps) + 1} epoch(s)",
        fontsize=10,
    )
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    ax.grid(axis="x", alpha=0.3)
    _save(fig, path)


# --- Redshift distribution ----------------------------------------------------------------------
def plot_redshift_distribution(catalog_path: Path, path: Path, bin_width: float = 0.1) -> None:
    """Histogram of the fitted redshifts of every field, good and poor fits stacked."""
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    catalog = _read_table(catalog_path, "combined catalogue", ("field", "z", "quality"))
    z = _floats(catalog["z"])
    quality = np.asarray(catalog["quality"], dtype=int)
    fitted = np.isfinite(z) & (quality > 0)
    fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    if fitted.any():
        top = max(float(np.max(z[fitted])), bin_width)
        bins = np.arange(0.0, top + 2 * bin_width, bin_width)
        values = [z[fitted & (quality == q)] for q in (2, 1)]
        labels = [f"{QUALITY_STYLES[q][0]} ({len(v)})" for q, v in zip((2, 1), values)]
        colours = [QUALITY_STYLES[q][1] for q in (2, 1)]
        ax.hist(values, bins=bins, stacked=True, label=labels, color=colours)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(frameon=False)
    else:
        ax.text(0.5, 0.5, "no redshift fits yet", ha="center", va="center", transform=ax.transAxes)
    fields = len(set(np.asarray(catalog["field"]).tolist()))
    ax.set_xlabel("redshift")
    ax.set_ylabel(f"sources per {bin_width:g}")
    ax.set_title(
        f"{int(fitted.sum())} fitted of {len(catalog)} catalogue sources in {fields} field(s)",
        fontsize=10,
    )
    _save(fig, path)


# --- Injected versus measured -------------------------------------------------------------------
def match_truth(catalog: Table, truth: Table, radius_arcsec: float = 0.3) -> Table:
    """Each injected object with its nearest catalogue source within ``radius_arcsec``.

    Columns: ``truth_id``, ``kind`` (when the truth table has it), ``z_true``, then the matched
    source's ``field``, ``id``, ``separation`` (arcsec), ``z``, ``z_lo``, ``z_hi``, ``quality``,
    ``status``, ``flag``, ``flag_reason`` (``field`` empty, ``id`` -1 and NaN where nothing is
    within the radius).
    """
    result = Table()
    result["truth_id"] = np.asarray(truth["id"])
    if "kind" in truth.colnames:
        result["kind"] = np.asarray(truth["kind"]).astype(str)
    result["z_true"] = _floats(truth["z"])
    count = len(truth)
    field = np.full(count, "", dtype=object)
    ids = np.full(count, -1, dtype=np.int64)
    separation = np.full(count, np.nan)
    columns = {name: np.full(count, np.nan) for name in ("z", "z_lo", "z_hi")}
    quality = np.zeros(count, dtype=np.int16)
    status = np.full(count, "", dtype=object)
    flag = np.full(count, "", dtype=object)
    flag_reason = np.full(count, "", dtype=object)
    nearest = np.full(count, -1)
    if len(catalog) and count:
        sources = SkyCoord(catalog["ra"], catalog["dec"], unit="deg")
        injected = SkyCoord(truth["ra"], truth["dec"], unit="deg")
        nearest, distance, _ = injected.match_to_catalog_sky(sources)
        matched = distance < radius_arcsec * u.arcsec
        rows = nearest[matched]
        field[matched] = np.asarray(catalog["field"]).astype(str)[rows]
        ids[matched] = np.asarray(catalog["id"])[rows]
        separation[matched] = distance.to_value(u.arcsec)[matched]
        for name, values in columns.items():
            values[matched] = _floats(catalog[name])[rows]
        quality[matched] = np.asarray(catalog["quality"])[rows]
        status[matched] = np.asarray(catalog["status"]).astype(str)[rows]
        if "flag" in catalog.colnames:
            flag[matched] = np.asarray(catalog["flag"]).astype(str)[rows]
        if "flag_reason" in catalog.colnames:
            flag_reason[matched] = np.asarray(catalog["flag_reason"]).astype(str)[rows]
    result["field"] = field.astype(str)
    result["id"] = ids
    result["separation"] = separation
    result["separation"].unit = u.arcsec
    for name, values in columns.items():
        result[name] = values
    result["quality"] = quality
    result["status"] = status.astype(str)
    result["flag"] = flag.astype(str)
    result["flag_reason"] = flag_reason.astype(str)
    result["dz"] = (result["z"] - result["z_true"]) / (1 + result["z_true"])
    # The grism filters where the catalogue names them (a grism filter may have no direct image,
    # so no photometry); else the photometry's.
    names = catalog.meta.get("GRISM_FILTERS") or catalog.meta.get("FILTERS", "")
    filters = [f for f in str(names).upper().split(",") if f]
    rest = dict(truth.meta.get("line_rest_angstrom") or {})
    result["note"] = [
        miss_reason(
            result[i],
            _row(catalog, nearest[i]) if result["id"][i] >= 0 else None,
            truth[i],
            rest,
            filters,
        )  # fmt: skip
        for i in range(count)
    ]
    result.meta["radius_arcsec"] = radius_arcsec
    return result


def _row(table: Table, index) -> dict:
    return {name: table[name][int(index)] for name in table.colnames}


def miss_reason(matched, source: dict | None, injected, rest: dict, filters) -> str:
    """Why a galaxy's redshift was not recovered, in one phrase ("" when it was, or for a star):
    not detected, not extracted (and why), fit failed, no injected line inside the field's
    filters, lines too faint, or a line misidentified."""
    if "kind" in matched.colnames and matched["kind"] == "star":
        return ""
    if source is None:
        return "not in the catalogue"
    status = str(source.get("status", ""))
    reason = str(source.get("reason", "") or "").strip()
    if status == "not_extracted":
        return "not extracted" + (f": {reason}" if reason and reason != "not extracted" else "")
    if status != "ok":
        return "fit failed" + (f": {reason}" if reason else "")
    if np.isfinite(matched["dz"]) and abs(matched["dz"]) < MATCH_DZ:
        return ""
    if rest and filters:  # rest: the truth's flux_* columns -> rest wavelength (Angstrom)
        z = float(matched["z_true"])
        inside = [
            name
            for name, wavelength in rest.items()
            if float(injected[name] if name in injected.colnames else 0) > 0
            and any(
                lo <= wavelength * (1 + z) <= hi
                for f, (lo, hi) in FILTER_EDGES_ANGSTROM.items()
                if f in filters
            )  # fmt: skip
        ]
        if not inside:
            return f"no injected line inside {'+'.join(filters)}"
    sn = [float(v) for k, v in source.items() if k.startswith("sn_") and np.isfinite(float(v))]
    best = max(sn, default=float("nan"))
    if not best >= DETECTED_SN:
        return f"lines too faint (best S/N {best:.1f})" if np.isfinite(best) else "no line measured"
    detected = sum(1 for v in sn if v >= DETECTED_SN)
    return "one line, misidentified" if detected == 1 else f"{detected} lines, misidentified"


def truth_statistics(matched: Table) -> dict[str, float]:
    """Counts, median |dz|/(1+z) and outlier fraction of the good fits of galaxies."""
    galaxies = (
        np.asarray(matched["kind"]) != "star"
        if "kind" in matched.colnames
        else np.ones(len(matched), bool)
    )
    good = galaxies & (np.asarray(matched["quality"]) == 2) & np.isfinite(matched["dz"])
    dz = np.abs(np.asarray(matched["dz"], dtype=float)[good])
    return {
        "injected": int(galaxies.sum()),
        "matched": int((galaxies & (np.asarray(matched["id"]) >= 0)).sum()),
        "good": int(good.sum()),
        "median_abs_dz": float(np.median(dz)) if dz.size else float("nan"),
        "outlier_fraction": float(np.mean(dz > OUTLIER_DZ)) if dz.size else float("nan"),
    }


def plot_truth(
    catalog_path: Path,
    truth_path: Path,
    path: Path,
    table_path: Path,
    radius_arcsec: float = 0.3,
) -> Table:
    """Injected versus measured redshift (PNG) and the matched table (ECSV)."""
    plt = _pyplot()
    catalog = _read_table(
        catalog_path,
        "combined catalogue",
        ("field", "id", "ra", "dec", "z", "z_lo", "z_hi", "quality", "status"),
    )
    truth = _read_table(truth_path, "truth table (summary.truth)", TRUTH_COLUMNS)
    matched = match_truth(catalog, truth, radius_arcsec)
    statistics = truth_statistics(matched)
    matched.meta.update(statistics)
    with atomic_path(table_path) as tmp:
        matched.write(tmp, format="ascii.ecsv", overwrite=True)

    fig, ax = plt.subplots(figsize=(5.5, 5.5), layout="constrained")
    top = float(np.nanmax(np.concatenate([matched["z_true"], matched["z"], [1.0]]))) * 1.08
    ax.plot([0, top], [0, top], color="0.5", lw=0.8, zorder=0)
    edge = np.linspace(0, top, 50)
    for sign in (-1, 1):
        ax.plot(edge, edge + sign * OUTLIER_DZ * (1 + edge), color="0.7", ls=":", lw=0.8)
    for level in (2, 1):
        chosen = (np.asarray(matched["quality"]) == level) & np.isfinite(matched["z"])
        if not chosen.any():
            continue
        z = np.asarray(matched["z"], dtype=float)[chosen]
        low = np.clip(z - np.asarray(matched["z_lo"], dtype=float)[chosen], 0, None)
        high = np.clip(np.asarray(matched["z_hi"], dtype=float)[chosen] - z, 0, None)
        label, colour = QUALITY_STYLES[level]
        ax.errorbar(
            np.asarray(matched["z_true"])[chosen],
            z,
            yerr=np.nan_to_num([low, high]),
            fmt="o",
            ms=5,
            color=colour,
            label=f"{label} ({int(chosen.sum())})",
        )
    unfitted = (np.asarray(matched["id"]) >= 0) & ~np.isfinite(matched["z"])
    if unfitted.any():
        for z_true in np.asarray(matched["z_true"])[unfitted]:
            ax.axvline(z_true, color="0.85", lw=0.8, zorder=0)
        ax.plot([], [], color="0.85", label=f"matched, no fit ({int(unfitted.sum())})")
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_xlabel("injected redshift")
    ax.set_ylabel("measured redshift")
    ax.set_title(
        f"{statistics['good']} good of {statistics['injected']} injected galaxies: "
        f"median |dz|/(1+z) = {statistics['median_abs_dz']:.2g}, "
        f"outliers {statistics['outlier_fraction']:.0%}",
        fontsize=9,
    )
    ax.legend(loc="upper left", frameon=False, fontsize=8)
    _save(fig, path)
    log.info("truth: %s", statistics)
    return matched
