"""The index page of all fields: ``{fields_dir}/index.html``.

A table (a thumbnail of the field's RGB image, field, programs, date of the first exposure,
filters, grisms, exposures, exposure time in all and per blocking filter, centre, catalogue
sources, fitted, good and ambiguous redshifts) and an all-sky Mollweide map of the field footprints (from
the fields table's ``s_region`` polygons), each field linking to its web map
(``{field}/fitsmap/index.html``) or, before that exists, to its RGB image. A click on a column
header sorts the table by it (again: the other way); the search box keeps the rows whose field
name or programs contain what is typed. The script, the styles and the thumbnails (small PNGs as
``data:`` URLs) are inside the page, the map is inline SVG (its markers are links too): no remote
assets, only relative links, so the page works opened from disk (``file://``) and from any static
server (``python -m http.server``).
"""

from __future__ import annotations

import base64
import collections
import html
import io
import logging
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pandas as pd
from astropy.table import Table

from .. import layout
from ..atomic import write_text
from ..fields.sphere import parse_polygon, radec_to_xyz, xyz_to_radec
from ..fieldtable import FieldTableError, load_field_table
from ..niriss import reference_filter
from ..preprocess import SELF_ALIGNED, visit_alignment
from . import SummaryError
from .catalog import filter_order

log = logging.getLogger(__name__)

GRISM_PREFIX = "GR"
LABEL_FIELDS_MAX = 40  # write field names on the map up to this many fields


@dataclass
class FieldSummary:
    """One row of the index page."""

    field: str
    programs: list[str]
    filters: list[str]  # blocking filters (upper case)
    grisms: list[str]
    exposures: int
    exptime: float  # s, all exposures
    grism_exptime: float  # s, WFSS exposures
    ra: float  # centre, deg
    dec: float
    exptime_by_filter: dict[str, float] = field(default_factory=dict)  # s, per blocking filter
    first_date: str = ""  # of the first exposure, YYYY-MM-DD (UTC)
    polygons: list[np.ndarray] = field(default_factory=list)  # (n, 2) vertices, deg
    sources: int | None = None  # catalogue sources (None: no catalogue)
    fitted: int = 0  # quality >= 1
    good: int = 0  # quality == 2
    ambiguous: int = 0  # flag "ambiguous": another reading of its lines fits almost as well
    ambiguous_reasons: list[str] = field(default_factory=list)  # "id: flag_reason" of those
    # grism filter -> the direct filter its sources are modelled from, for grism filters the
    # field has no direct image in (mixed-filter visits; contam makes the same choice)
    borrowed: dict[str, str] = field(default_factory=dict)
    # alignment method (remote catalogue, local file, self, none) -> visits, from Prep/'s visit
    # table (empty: no table given)
    alignment: dict[str, int] = field(default_factory=dict)
    link: str | None = None  # relative URL of the field's page
    thumbnail: str | None = None  # data: URL of a small RGB image


def _program(row: Mapping) -> str:
    proposal = str(row.get("proposal_id", "") or "").strip()
    if proposal and proposal.lower() != "nan":
        return proposal.lstrip("0") or "0"
    match = re.match(r"jw(\d{5})", str(row["obs_id"]))
    return match.group(1).lstrip("0") if match else "?"


def _centre(polygons: Sequence[np.ndarray]) -> tuple[float, float]:
    """Mean direction of all vertices (right across RA 0/360)."""
    vertices = np.concatenate(polygons)
    mean = radec_to_xyz(vertices[:, 0], vertices[:, 1]).mean(axis=0)
    ra, dec = xyz_to_radec(mean / np.linalg.norm(mean))
    return float(ra), float(dec)


def summarise_fields(rows: pd.DataFrame) -> list[FieldSummary]:
    """Per-field summaries from the fields table's rows (one row per exposure)."""
    summaries = []
    for name, group in rows.groupby("field", sort=True):
        records = group.to_dict("records")
        regions = sorted({str(r["s_region"]) for r in records})
        polygons = [parse_polygon(region) for region in regions]
        grism = [r for r in records if str(r["filter"]).upper().startswith(GRISM_PREFIX)]
        ra, dec = _centre(polygons)
        direct = sorted({str(r["pupil"]).upper() for r in records if r not in grism})
        borrowed = {
            g: reference_filter(g, direct)
            for g in sorted({str(r["pupil"]).upper() for r in grism}, key=filter_order)
            if g not in direct and direct
        }
        by_filter: dict[str, float] = {}
        for r in records:
            pupil = str(r["pupil"]).upper()
            by_filter[pupil] = by_filter.get(pupil, 0.0) + float(r["exptime"])
        summaries.append(
            FieldSummary(
                field=str(name),
                programs=sorted({_program(r) for r in records}, key=lambda p: (len(p), p)),
                filters=sorted({str(r["pupil"]).upper() for r in records}, key=filter_order),
                grisms=sorted({str(r["filter"]).upper() for r in grism}),
                exposures=len(records),
                exptime=float(sum(float(r["exptime"]) for r in records)),
                grism_exptime=float(sum(float(r["exptime"]) for r in grism)),
                exptime_by_filter=dict(sorted(by_filter.items(), key=lambda i: filter_order(i[0]))),
                first_date=_date(min(float(r["t_min"]) for r in records)),
                ra=ra,
                dec=dec,
                polygons=polygons,
                borrowed=borrowed,
            )
        )
    return summaries


def _date(mjd: float) -> str:
    from astropy.time import Time

    return Time(mjd, format="mjd").to_value("iso", subfmt="date") if np.isfinite(mjd) else ""


THUMBNAIL_PIXELS = 96


def thumbnail_url(image: str | os.PathLike, size: int = THUMBNAIL_PIXELS) -> str | None:
    """A ``data:`` URL of a small PNG copy of ``image`` (None when it cannot be read)."""
    from PIL import Image

    try:
        with Image.open(image) as picture:
            picture = picture.convert("RGB")
            picture.thumbnail((size, size))
            buffer = io.BytesIO()
            picture.save(buffer, format="PNG", optimize=True)
    except (OSError, ValueError) as error:
        log.warning("no thumbnail of %s: %s", image, error)
        return None
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def count_sources(summaries: Sequence[FieldSummary], catalog: Table) -> None:
    """Fill in the catalogue counts of each field from the combined catalogue."""
    fields = np.asarray(catalog["field"]).astype(str)
    quality = np.asarray(catalog["quality"], dtype=int)
    for summary in summaries:
        mine = fields == summary.field
        if mine.any():
            summary.sources = int(mine.sum())
            summary.fitted = int((mine & (quality >= 1)).sum())
            summary.good = int((mine & (quality == 2)).sum())
            if "flag" in catalog.colnames:
                flags = np.asarray(catalog["flag"]).astype(str)
                chosen = mine & (flags == "ambiguous")
                summary.ambiguous = int(chosen.sum())
                if "flag_reason" in catalog.colnames:
                    ids = np.asarray(catalog["id"])[chosen]
                    reasons = np.asarray(catalog["flag_reason"]).astype(str)[chosen]
                    summary.ambiguous_reasons = [f"{i}: {r}" for i, r in zip(ids, reasons)]


def relative_url(target: str | os.PathLike, start: str | os.PathLike) -> str:
    """URL of ``target`` relative to the folder ``start`` (forward slashes, percent-quoted)."""
    relative = os.path.relpath(os.path.abspath(target), os.path.abspath(start))
    return quote(relative.replace(os.sep, "/"))


# --- Sky map ------------------------------------------------------------------------------------
def _map_x(ra_deg) -> np.ndarray:
    """Mollweide longitude (radians) of right ascension: RA 0 in the centre, increasing to the
    left (east), wrapped into (-180, 180]."""
    wrapped = (np.asarray(ra_deg, dtype=float) + 180.0) % 360.0 - 180.0
    return np.radians(-wrapped)


def polygon_map_xy(vertices: np.ndarray, centre_ra: float) -> np.ndarray:
    """Map (x, y) radians of a polygon, kept in one piece across RA 0/360 (and 180: a field on
    the map's edge may reach a little past it rather than be cut in two)."""
    relative = (vertices[:, 0] - centre_ra + 180.0) % 360.0 - 180.0
    x = _map_x(centre_ra) - np.radians(relative)
    return np.column_stack([x, np.radians(vertices[:, 1])])


SKY_STYLE = {"svg.fonttype": "none", "svg.hashsalt": "wfsspipe-index", "font.size": 9}


def sky_map_figure(summaries: Sequence[FieldSummary]):
    """An all-sky Mollweide figure of the fields' footprints and centres; each centre marker
    (and name, up to :data:`LABEL_FIELDS_MAX` fields) carries the field's link as its URL."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Polygon

    fig = plt.figure(figsize=(9, 4.8))
    ax = fig.add_subplot(projection="mollweide")
    ax.grid(True, alpha=0.35)
    ticks = np.arange(-150, 180, 30)
    ax.set_xticks(np.radians(ticks), [f"{((-t) % 360) // 15:.0f}h" for t in ticks])
    for summary in summaries:
        for vertices in summary.polygons:
            ax.add_patch(
                Polygon(
                    polygon_map_xy(vertices, summary.ra),
                    closed=True,
                    facecolor="tab:orange",
                    edgecolor="tab:red",
                    alpha=0.6,
                    lw=0.6,
                )
            )
    if summaries:
        x = _map_x([s.ra for s in summaries])
        y = np.radians([s.dec for s in summaries])
        markers = ax.scatter(x, y, s=22, color="tab:red", edgecolor="k", lw=0.5, zorder=3)
        markers.set_urls([s.link for s in summaries])
        if len(summaries) <= LABEL_FIELDS_MAX:
            for summary, xi, yi in zip(summaries, x, y):
                ax.annotate(
                    summary.field,
                    (xi, yi),
                    xytext=(4, 3),
                    textcoords="offset points",
                    fontsize=8,
                    url=summary.link,
                )
    ax.set_title("field footprints (RA increases to the left)", fontsize=10, pad=14)
    fig.subplots_adjust(left=0.04, right=0.96, bottom=0.04, top=0.9)
    return fig


def sky_map_svg(summaries: Sequence[FieldSummary]) -> str:
    """:func:`sky_map_figure` as SVG text without the XML prologue (to inline in HTML)."""
    import matplotlib.pyplot as plt

    with plt.rc_context(SKY_STYLE):
        fig = sky_map_figure(summaries)
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
        plt.close(fig)
    svg = buffer.getvalue()
    return svg[svg.index("<svg") :]


# --- Page ---------------------------------------------------------------------------------------
CSS = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; margin-bottom: 0.2em; }
p.links a { margin-right: 1.2em; }
div.map svg { max-width: 100%; height: auto; }
table { border-collapse: collapse; font-size: 0.92em; }
th, td { padding: 0.25em 0.7em; border-bottom: 1px solid #ddd; text-align: right; }
th { background: #f2f2f2; position: sticky; top: 0; }
td.text, th.text { text-align: left; }
tr:hover td { background: #f7f7ff; }
th.sortable { cursor: pointer; user-select: none; }
th[aria-sort="ascending"]::after { content: " \\25B2"; }
th[aria-sort="descending"]::after { content: " \\25BC"; }
td.thumb img { display: block; width: 64px; height: auto; }
p.search input { font-size: 1em; padding: 0.2em 0.4em; width: 18em; }
span.note { color: #8a4b00; font-size: 0.85em; }
"""

# Sorting by a header click (numbers by data-sort, text by its letters) and filtering by the
# search box; rows keep their ids, so links to #<field> work after either.
SCRIPT = """
(function () {
  const table = document.querySelector("table.fields");
  const body = table.tBodies[0];
  const headers = [...table.tHead.rows[0].cells];
  const count = document.getElementById("shown");
  const key = (row, i) => {
    const cell = row.cells[i];
    const value = cell.dataset.sort !== undefined ? cell.dataset.sort : cell.innerText.trim();
    const number = parseFloat(value);
    return cell.dataset.sort !== undefined && !isNaN(number) ? number : value.toLowerCase();
  };
  headers.forEach((th, i) => {
    if (!th.classList.contains("sortable")) return;
    th.addEventListener("click", () => {
      const up = th.getAttribute("aria-sort") !== "ascending";
      headers.forEach(h => h.removeAttribute("aria-sort"));
      th.setAttribute("aria-sort", up ? "ascending" : "descending");
      const rows = [...body.rows];
      rows.sort((a, b) => {
        const x = key(a, i), y = key(b, i);
        const order = typeof x === "number" && typeof y === "number" ? x - y
          : String(x).localeCompare(String(y), undefined, {numeric: true});
        return up ? order : -order;
      });
      rows.forEach(row => body.appendChild(row));
    });
  });
  const search = document.getElementById("search");
  const filter = () => {
    const text = search.value.trim().toLowerCase();
    let shown = 0;
    for (const row of body.rows) {
      const match = !text || row.dataset.search.includes(text);
      row.hidden = !match;
      shown += match ? 1 : 0;
    }
    count.textContent = `${shown} of ${body.rows.length} fields shown`;
  };
  search.addEventListener("input", filter);
  filter();
})();
"""

# (header, css class of its cells); every column but the thumbnail sorts.
HEADERS = [
    ("", "thumb"),
    ("Field", "text"),
    ("Programs", "text"),
    ("First exposure", "text"),
    ("Filters", "text"),
    ("Grisms", "text"),
    ("Exposures", ""),
    ("Exposure time [ks]", ""),
    ("WFSS time [ks]", ""),
    ("Per filter [ks]", "text"),
    ("RA [deg]", ""),
    ("Dec [deg]", ""),
    ("Alignment [visits]", "text"),
    ("Sources", ""),
    ("Fitted", ""),
    ("Good z", ""),
    ("Ambiguous z", ""),
]


def _cell(text, css: str = "", sort=None, title: str = "") -> str:
    attributes = f' class="{css}"' if css else ""
    if sort is not None:
        attributes += f' data-sort="{html.escape(str(sort))}"'
    if title:
        attributes += f' title="{html.escape(title)}"'
    return f"<td{attributes}>{text}</td>"


MAX_REASONS = 20  # ambiguous sources listed in the cell's tooltip


def _reasons_title(reasons: Sequence[str]) -> str:
    """Tooltip of the ambiguous count: each source's id and why its redshift is ambiguous."""
    shown = list(reasons[:MAX_REASONS])
    if len(reasons) > MAX_REASONS:
        shown.append(f"... and {len(reasons) - MAX_REASONS} more (flag_reason in the catalogue)")
    return "\n".join(shown)


def _header(name: str, css: str) -> str:
    classes = " ".join(c for c in (css, "" if css == "thumb" else "sortable") if c)
    return f'<th class="{classes}">{html.escape(name)}</th>'


def _borrowed_note(borrowed: Mapping[str, str]) -> str:
    """Below a field's filters: which grism filters have no direct image of their own."""
    if not borrowed:
        return ""
    notes = "; ".join(f"{g} grism modelled from {d} direct" for g, d in borrowed.items())
    return f'<br><span class="note">{html.escape(notes)}</span>'


def _alignment_cell(alignment: Mapping[str, int]) -> str:
    """Visits per alignment method; visits aligned only to themselves are called out (their
    absolute astrometry is the pointing's, not a catalogue's)."""
    if not alignment:
        return "–"
    text = html.escape(", ".join(f"{method} {n}" for method, n in alignment.items()))
    if alignment.get(SELF_ALIGNED):
        text += '<br><span class="note">no absolute astrometry for the self-aligned</span>'
    return text


def render_index(
    summaries: Sequence[FieldSummary], links: Sequence[tuple[str, str]] = (), title: str = ""
) -> str:
    """The page's HTML: header links (label, relative URL), the map, the table."""
    title = title or "NIRISS WFSS fields"
    sources = sum(s.sources or 0 for s in summaries)
    good = sum(s.good for s in summaries)
    exptime = sum(s.exptime for s in summaries) / 1e3
    head = "".join(_header(name, css) for name, css in HEADERS)
    body = []
    for s in summaries:
        name = html.escape(s.field)
        linked = f'<a href="{html.escape(s.link)}">{name}</a>' if s.link else name
        thumb = f'<img src="{s.thumbnail}" alt="{name}" loading="lazy">' if s.thumbnail else ""
        if thumb and s.link:
            thumb = f'<a href="{html.escape(s.link)}">{thumb}</a>'
        per_filter = ", ".join(f"{f} {t / 1e3:.1f}" for f, t in s.exptime_by_filter.items())
        cells = [
            _cell(thumb, "thumb"),
            _cell(linked, "text"),
            _cell(html.escape(", ".join(s.programs)), "text"),
            _cell(html.escape(s.first_date), "text"),
            _cell(html.escape(", ".join(s.filters)) + _borrowed_note(s.borrowed), "text"),
            _cell(html.escape(", ".join(s.grisms)), "text"),
            _cell(s.exposures, sort=s.exposures),
            _cell(f"{s.exptime / 1e3:.1f}", sort=f"{s.exptime:.1f}"),
            _cell(f"{s.grism_exptime / 1e3:.1f}", sort=f"{s.grism_exptime:.1f}"),
            _cell(html.escape(per_filter), "text"),
            _cell(f"{s.ra:.5f}", sort=f"{s.ra:.6f}"),
            _cell(f"{s.dec:+.5f}", sort=f"{s.dec:.6f}"),
            _cell(_alignment_cell(s.alignment), "text"),
            _cell(
                "–" if s.sources is None else s.sources, sort=-1 if s.sources is None else s.sources
            ),
            _cell(s.fitted, sort=s.fitted),
            _cell(s.good, sort=s.good),
            _cell(s.ambiguous, sort=s.ambiguous, title=_reasons_title(s.ambiguous_reasons)),
        ]
        search = html.escape(" ".join([s.field, *s.programs]).lower())
        body.append(f'<tr id="{name}" data-search="{search}">{"".join(cells)}</tr>')
    header_links = " ".join(
        f'<a href="{html.escape(url)}">{html.escape(label)}</a>' for label, url in links
    )
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{html.escape(title)}</title>",
            f"<style>{CSS}</style>",
            "</head>",
            "<body>",
            f"<h1>{html.escape(title)}</h1>",
            f"<p>{len(summaries)} fields, {exptime:.1f} ks of exposures, {sources} catalogue "
            f"sources, {good} good redshifts.</p>",
            f'<p class="links">{header_links}</p>' if header_links else "",
            f'<div class="map">{sky_map_svg(summaries)}</div>',
            '<p class="search"><label>Find a field: <input id="search" type="search" '
            'placeholder="field name or program" autocomplete="off"></label> '
            '<span id="shown"></span></p>',
            f'<table class="fields">\n<thead><tr>{head}</tr></thead>\n<tbody>',
            *body,
            "</tbody>\n</table>",
            f"<script>{SCRIPT}</script>",
            "</body>",
            "</html>",
            "",
        ]
    )


def field_link(field_name: str, targets: Sequence[str | os.PathLike]) -> str | None:
    """The page a field links to among its products: its web map, else its RGB image."""
    paths = [Path(t) for t in targets]
    for path in paths:
        if path.name == layout.MAP_INDEX and path.parent.name == layout.MAP_DIR:
            return str(path)
    for path in paths:
        if path.name == layout.catalog_names(field_name)["rgb"]:
            return str(path)
    return str(paths[0]) if paths else None


def write_index(
    index_path: Path,
    fields_csv: Path,
    fields: Sequence[str],
    catalog_path: Path | None = None,
    field_targets: Mapping[str, Sequence[str]] | None = None,
    links: Sequence[tuple[str, str | os.PathLike]] = (),
    title: str = "",
    thumbnails: Mapping[str, str | os.PathLike] | None = None,
    visit_tables: Mapping[str, str | os.PathLike] | None = None,
) -> list[FieldSummary]:
    """Write ``index_path``: ``fields`` of the fields table (all of it when empty), with counts
    from the combined catalogue; ``field_targets`` the products a field may link to
    (:func:`field_link`); ``links`` (label, path) for the header; every link made relative to
    the page's folder; ``thumbnails`` field -> RGB image shown small in its row;
    ``visit_tables`` field -> its visit table (Prep/), for how its visits were aligned."""
    index_path = Path(index_path)
    folder = index_path.parent
    try:
        table = load_field_table(fields_csv, list(fields) or None)
    except FieldTableError as error:
        raise SummaryError(str(error)) from None
    summaries = summarise_fields(table.rows)
    if catalog_path is not None:
        catalog = Table.read(catalog_path)
        missing = [c for c in ("field", "quality") if c not in catalog.colnames]
        if missing:
            raise SummaryError(f"combined catalogue {catalog_path} lacks {', '.join(missing)}")
        count_sources(summaries, catalog)
    for summary in summaries:
        target = field_link(summary.field, (field_targets or {}).get(summary.field, []))
        summary.link = relative_url(target, folder) if target else None
        image = (thumbnails or {}).get(summary.field)
        summary.thumbnail = thumbnail_url(image) if image else None
        visits = (visit_tables or {}).get(summary.field)
        if visits:
            methods = [v["method"] for v in visit_alignment(visits).values()]
            summary.alignment = dict(collections.Counter(sorted(methods)))
    header = [(label, relative_url(path, folder)) for label, path in links]
    write_text(index_path, render_index(summaries, header, title))
    log.info("index page of %d fields -> %s", len(summaries), index_path)
    return summaries
