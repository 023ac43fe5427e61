"""The index page of all fields: ``{fields_dir}/index.html``.

A table (field, programs, filters, grisms, exposures, exposure time, centre, catalogue sources,
fitted and good redshifts) and an all-sky Mollweide map of the field footprints (from the fields
table's ``s_region`` polygons), each field linking to its web map (``{field}/fitsmap/index.html``)
or, before that exists, to its RGB image. Plain HTML and CSS with the map as inline SVG (its
markers are links too): no JavaScript, no remote assets, only relative links, so the page works
opened from disk (``file://``) and from any static server (``python -m http.server``).
"""

from __future__ import annotations

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

from ..atomic import write_text
from ..fields.sphere import parse_polygon, radec_to_xyz, xyz_to_radec
from ..fieldtable import FieldTableError, load_field_table
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
    polygons: list[np.ndarray] = field(default_factory=list)  # (n, 2) vertices, deg
    sources: int | None = None  # catalogue sources (None: no catalogue)
    fitted: int = 0  # quality >= 1
    good: int = 0  # quality == 2
    link: str | None = None  # relative URL of the field's page


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
        summaries.append(
            FieldSummary(
                field=str(name),
                programs=sorted({_program(r) for r in records}, key=lambda p: (len(p), p)),
                filters=sorted({str(r["pupil"]).upper() for r in records}, key=filter_order),
                grisms=sorted({str(r["filter"]).upper() for r in grism}),
                exposures=len(records),
                exptime=float(sum(float(r["exptime"]) for r in records)),
                grism_exptime=float(sum(float(r["exptime"]) for r in grism)),
                ra=ra,
                dec=dec,
                polygons=polygons,
            )
        )
    return summaries


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
"""

HEADERS = [
    ("Field", "text"),
    ("Programs", "text"),
    ("Filters", "text"),
    ("Grisms", "text"),
    ("Exposures", ""),
    ("Exposure time [ks]", ""),
    ("WFSS time [ks]", ""),
    ("RA [deg]", ""),
    ("Dec [deg]", ""),
    ("Sources", ""),
    ("Fitted", ""),
    ("Good z", ""),
]


def _cell(text, css: str = "") -> str:
    return f'<td class="{css}">{text}</td>' if css else f"<td>{text}</td>"


def render_index(
    summaries: Sequence[FieldSummary], links: Sequence[tuple[str, str]] = (), title: str = ""
) -> str:
    """The page's HTML: header links (label, relative URL), the map, the table."""
    title = title or "NIRISS WFSS fields"
    sources = sum(s.sources or 0 for s in summaries)
    good = sum(s.good for s in summaries)
    exptime = sum(s.exptime for s in summaries) / 1e3
    head = "".join(
        f'<th class="{css}">{html.escape(name)}</th>' if css else f"<th>{html.escape(name)}</th>"
        for name, css in HEADERS
    )
    body = []
    for s in summaries:
        name = html.escape(s.field)
        linked = f'<a href="{html.escape(s.link)}">{name}</a>' if s.link else name
        cells = [
            _cell(linked, "text"),
            _cell(html.escape(", ".join(s.programs)), "text"),
            _cell(html.escape(", ".join(s.filters)), "text"),
            _cell(html.escape(", ".join(s.grisms)), "text"),
            _cell(s.exposures),
            _cell(f"{s.exptime / 1e3:.1f}"),
            _cell(f"{s.grism_exptime / 1e3:.1f}"),
            _cell(f"{s.ra:.5f}"),
            _cell(f"{s.dec:+.5f}"),
            _cell("–" if s.sources is None else s.sources),
            _cell(s.fitted),
            _cell(s.good),
        ]
        body.append(f'<tr id="{name}">{"".join(cells)}</tr>')
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
            f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>",
            *body,
            "</tbody>\n</table>",
            "</body>",
            "</html>",
            "",
        ]
    )


def field_link(field_name: str, targets: Sequence[str | os.PathLike]) -> str | None:
    """The page a field links to among its products: its web map, else its RGB image."""
    paths = [Path(t) for t in targets]
    for path in paths:
        if path.name == "index.html" and path.parent.name == "fitsmap":
            return str(path)
    for path in paths:
        if path.name == f"{field_name}_rgb.png":
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
) -> list[FieldSummary]:
    """Write ``index_path``: ``fields`` of the fields table (all of it when empty), with counts
    from the combined catalogue; ``field_targets`` the products a field may link to
    (:func:`field_link`); ``links`` (label, path) for the header; every link made relative to
    the page's folder."""
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
    header = [(label, relative_url(path, folder)) for label, path in links]
    write_text(index_path, render_index(summaries, header, title))
    log.info("index page of %d fields -> %s", len(summaries), index_path)
    return summaries
