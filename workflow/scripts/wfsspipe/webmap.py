"""webmap: the FITSMap web map of a field, offline and without a ray cluster.

One job per field (rule ``webmap``) writes ``{fields_dir}/{field}/fitsmap/`` (:func:`build_map`):

``index.html``, ``js/``, ``css/``, ``imgs/``
    FITSMap's page (fitsmap 0.11.1, ``cartographer.chart``), rewritten to load its JavaScript and
    CSS from ``vendor/`` (:func:`localize_page`).
image layers, one tile folder each (``{layer}/{z}/{y}/{x}.png``)
    ``RGB``, made here at the mosaics' full resolution from the filter mosaics
    (:func:`full_resolution_rgb`: reddest filter in red, bluest in blue, an asinh stretch that
    keeps galaxy cores from saturating), one per direct filter (``F150W``...:
    ``Mosaic/{field}-{filter}_drz_sci.fits``, stretched with ``fitsmap.norm``) and one per grism
    model RGB image listed by the contamination stage (``Contam/{field}_contam.ecsv``, meta
    ``model_rgb``; e.g. ``GR150R_PA_125_model``). Every layer is on the mosaic pixel grid
    (``Mosaic/{field}-ir_drz_sci.fits``; a PNG of another size is resampled onto it), so the
    layers and markers line up. The layer names are the map's layer control; no label is drawn
    into an image.
catalogue layer ``redshifts`` (``redshifts/{z}/{y}/{x}.pbf``, ``catalog_assets/redshifts/{id}.cbor``)
    one marker per row of ``Redshifts/{field}_redshifts.fits``: redshift and its 68% interval,
    fit quality, the lines with S/N >= ``fitsmap.line_sn_min`` (flux, error, S/N) and links to
    the source's plots (optionally one of them shown in the popup).
``plots/``
    the plots the popups link to (hard links to, or copies of, the ``Redshifts/`` PNGs), so every
    link is relative to the map folder.
``vendor/``
    the JavaScript and CSS FITSMap would fetch from CDNs (:func:`vendor_assets`).
``webmap.json``
    what the map holds: layers, number of markers, vendored assets.

The map is built in a temporary sibling folder and renamed onto ``fitsmap/`` at the end; an older
map is moved aside first and deleted after the rename (:func:`wfsspipe.atomic.commit_folder`), so
a killed job leaves the previous map or none, never a half-written one.

**What FITSMap does and what we do instead.** ``fitsmap.convert.files_to_map`` always calls
``ray.init()`` (a local ray cluster: a GCS server, raylets and a dashboard agent, over loopback
sockets; fragile on batch nodes and ignorant of the job's CPU allocation). Its serial paths still
need ray: the progress bars (``OutputManager``) and the catalogue parser of ``tile_markers`` put
their messages on ``ray.util.queue.Queue``, an actor whose creation starts a cluster. We call
FITSMap's lower-level functions ourselves:

* image layers: ``convert.tile_img(..., mp_procs=0)``, its serial path, with a progress reference
  whose queue is a plain Python object; the layers (independent folders) are tiled in parallel
  by a ``concurrent.futures`` process pool of ``threads`` workers (the job's CPUs), one layer per
  worker; with one thread everything runs in this process;
* the catalogue layer: :func:`tile_catalog`, the serial path of ``convert.tile_markers`` built
  from the same FITSMap functions (``line_to_json``, ``Supercluster``, ``make_marker_tile``),
  fed rows we format ourselves rather than a text catalogue;
* the page: ``cartographer.chart``, as ``files_to_map`` calls it.

``ray`` is still imported (``fitsmap.convert`` imports it), never initialised.

**Offline page.** fitsmap 0.11.1's ``index.html`` loads Leaflet 1.7.1 (CSS and JS, cdnjs),
leaflet-search 3.0.2 (JS, cdnjs) with the CSS of leaflet-search 2.9.8 (unpkg),
toolcool-color-picker (jsdelivr, unpinned: we pin 1.0.15), cbor-web 8.1.0 and pbf 3.0.5 (unpkg).
No PyPI package ships these files; the npm registry ships every one of them (unpkg and jsdelivr
serve npm packages; cdnjs's Leaflet and leaflet-search are minified from the same releases).
``resources/webmap/package.json`` and its ``package-lock.json`` pin them (with integrity hashes);
``npm ci --prefix resources/webmap`` (``make webmap-assets``, part of ``make venv``) installs them
and :func:`vendor_assets` copies them, with their licences, into the map folder. Opened from disk
the page shows every image layer; the catalogue markers and popups are fetched with ``fetch()``,
which browsers refuse for ``file://`` pages, so they need the folder served over HTTP (e.g.
``python -m http.server -d FIELDS/{field}/fitsmap``, or ``fitsmap serve``).
"""

from __future__ import annotations

import concurrent.futures
import html
import json
import logging
import math
import multiprocessing
import os
import re
import shutil
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import commit_folder, work_folder
from .layout import MAP_INDEX, MAP_MANIFEST, Layout
from .storage import expanded_copy, image_header, is_compressed

log = logging.getLogger(__name__)

CATALOG_LAYER = "redshifts"
RGB_LAYER = "RGB"
TILE_SIZE = 256
ROOT = Path(__file__).resolve().parents[3]
DEFAULT_ASSETS_DIR = ROOT / "resources" / "webmap" / "node_modules"
ASSETS_INSTALL = "make webmap-assets (npm ci --prefix resources/webmap)"
QUALITY_LABELS = {2: "good", 1: "poor", 0: "no fit"}
PLOT_COLUMNS = {"fit": "fit_plot", "spectrum": "spectrum_plot", "lines": "line_plot"}


class WebMapError(RuntimeError):
    """The web map cannot be made; the message names the missing or bad input and what to do."""


# --- Vendored JavaScript and CSS ----------------------------------------------------------------
@dataclass(frozen=True)
class Asset:
    """A file of an npm package (``package/path`` under node_modules) copied to ``dest``."""

    key: str  # what the file is, e.g. "leaflet.js"
    package: str  # folder under node_modules (an alias for leaflet-search 2.9.8)
    version: str
    source: str  # path inside the package
    dest: str  # path under the vendor folder
    cdn_url: str | None = None  # the URL of FITSMap's page it replaces


FITSMAP_CDN = {
    "leaflet.css": "https://cdnjs.cloudflare.com/ajax/libs/leaflet/1.7.1/leaflet.min.css",
    "leaflet.js": "https://cdnjs.cloudflare.com/ajax/libs/leaflet/1.7.1/leaflet.min.js",
    "leaflet-search.css": "https://unpkg.com/leaflet-search@2.9.8/dist/leaflet-search.src.css",
    "leaflet-search.js": (
        "https://cdnjs.cloudflare.com/ajax/libs/leaflet-search/3.0.2/leaflet-search.src.min.js"
    ),
    "toolcool-color-picker.js": (
        "https://cdn.jsdelivr.net/npm/toolcool-color-picker/dist/toolcool-color-picker.min.js"
    ),
    "cbor.js": "https://unpkg.com/cbor-web@8.1.0/dist/cbor.js",
    "pbf.js": "https://unpkg.com/pbf@3.0.5/dist/pbf.js",
}

ASSETS = (
    Asset("leaflet.css", "leaflet", "1.7.1", "dist/leaflet.css", "leaflet/leaflet.css"),
    Asset("leaflet.js", "leaflet", "1.7.1", "dist/leaflet.js", "leaflet/leaflet.js"),
    Asset("leaflet-search.js", "leaflet-search", "3.0.2", "dist/leaflet-search.min.js",
          "leaflet-search/leaflet-search.min.js"),
    # FITSMap pairs the 3.0.2 script with the 2.9.8 style sheet; the npm alias keeps both.
    Asset("leaflet-search.css", "leaflet-search-css", "2.9.8", "dist/leaflet-search.src.css",
          "leaflet-search/css/leaflet-search.src.css"),
    Asset("toolcool-color-picker.js", "toolcool-color-picker", "1.0.15",
          "dist/toolcool-color-picker.min.js",
          "toolcool-color-picker/toolcool-color-picker.min.js"),
    Asset("cbor.js", "cbor-web", "8.1.0", "dist/cbor.js", "cbor-web/cbor.js"),
    Asset("pbf.js", "pbf", "3.0.5", "dist/pbf.js", "pbf/pbf.js"),
)  # fmt: skip
# Files the style sheets load (url(...)), and each package's licence.
ASSET_EXTRAS = (
    ("leaflet", "dist/images", "leaflet/images"),
    ("leaflet", "LICENSE", "leaflet/LICENSE"),
    ("leaflet-search-css", "images", "leaflet-search/images"),
    ("leaflet-search", "license.txt", "leaflet-search/license.txt"),
    ("toolcool-color-picker", "LICENSE", "toolcool-color-picker/LICENSE"),
    ("cbor-web", "LICENSE.md", "cbor-web/LICENSE.md"),
    ("cbor-web", "dist/cbor.js.LICENSE.txt", "cbor-web/cbor.js.LICENSE.txt"),
    ("pbf", "LICENSE", "pbf/LICENSE"),
)


def _package_version(package_dir: Path) -> str | None:
    try:
        return json.loads((package_dir / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None


def vendor_assets(
    dest_dir: str | os.PathLike, source_dir: str | os.PathLike | None = None
) -> dict[str, str]:
    """Copy the JavaScript and CSS of a FITSMap page (and their images and licences) to ``dest_dir``.

    ``source_dir`` is the ``node_modules`` folder of ``resources/webmap`` (the default) where
    ``npm ci`` installed the pinned packages. Returns ``{key: path}`` for the JS/CSS files, the
    path relative to ``dest_dir`` in POSIX form (keys: ``leaflet.css``, ``leaflet.js``,
    ``leaflet-search.css``, ``leaflet-search.js``, ``toolcool-color-picker.js``, ``cbor.js``,
    ``pbf.js``). A page at ``dest_dir/..`` refers to them as ``vendor/<path>`` when
    ``dest_dir`` is its ``vendor`` folder.
    """
    source = Path(source_dir) if source_dir is not None else DEFAULT_ASSETS_DIR
    dest = Path(dest_dir)
    problems = []
    for package, version in sorted({(a.package, a.version) for a in ASSETS}):
        found = _package_version(source / package)
        if found != version:
            problems.append(f"{package} {found or 'missing'} (need {version})")
    if problems:
        raise WebMapError(
            f"the web map's JavaScript/CSS packages in {source} are not installed as pinned: "
            f"{', '.join(problems)}; run {ASSETS_INSTALL}, or set fitsmap.assets_dir"
        )
    copied = {}
    for asset in ASSETS:
        target = dest / asset.dest
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / asset.package / asset.source, target)
        copied[asset.key] = asset.dest
    for package, path, target in ASSET_EXTRAS:
        origin = source / package / path
        if origin.is_dir():
            shutil.copytree(origin, dest / target, dirs_exist_ok=True)
        elif origin.is_file():
            (dest / target).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(origin, dest / target)
    return copied


class _References(HTMLParser):
    """Every URL a page loads by itself: ``src`` of scripts and images, ``href`` of links."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in ("script", "img", "iframe", "source") and values.get("src"):
            self.urls.append(values["src"])
        elif tag == "link" and values.get("href"):
            self.urls.append(values["href"])


def page_references(page: str) -> list[str]:
    """The URLs an HTML page loads (scripts, style sheets, icons, images), in order."""
    parser = _References()
    parser.feed(page)
    return parser.urls


def localize_page(page: str, local: Mapping[str, str]) -> str:
    """FITSMap's ``index.html`` with its CDN URLs replaced by ``local`` paths ({key: path}).

    The integrity/crossorigin attributes go too: the CDN files are minified differently from the
    npm files (same release), and a ``crossorigin`` script fails to load from a ``file://`` page.
    Raises :class:`WebMapError` if the page still loads anything that is not a relative path.
    """
    for key, url in FITSMAP_CDN.items():
        page = page.replace(url, local[key])
    page = re.sub(r'\s+(integrity|crossorigin|referrerpolicy)="[^"]*"', "", page)
    remote = [u for u in page_references(page) if re.match(r"^([a-z][a-z0-9+.-]*:|//)", u, re.I)]
    if remote:
        raise WebMapError(
            f"FITSMap's page loads {', '.join(remote)}, which wfsspipe.webmap does not vendor "
            "(a FITSMap version other than 0.11.1?): add it to ASSETS and resources/webmap"
        )
    return page


# --- Settings and inputs ------------------------------------------------------------------------
@dataclass(frozen=True)
class WebMapSettings:
    """``fitsmap`` in config/config.yaml (documented in config/README.md)."""

    min_zoom: int = 0
    norm: Mapping[str, Any] = field(
        default_factory=lambda: {"stretch": "asinh", "min_percent": 1.0, "max_percent": 99.5}
    )
    line_sn_min: float = 3.0
    popup_plot: str | None = "spectrum"
    popup_plot_width: int = 360
    cluster_min_points: int = 2
    assets_dir: str | None = None

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> WebMapSettings:
        return cls(
            min_zoom=int(section["min_zoom"]),
            norm=dict(section["norm"]),
            line_sn_min=float(section["line_sn_min"]),
            popup_plot=section["popup_plot"],
            popup_plot_width=int(section["popup_plot_width"]),
            cluster_min_points=int(section["cluster_min_points"]),
            assets_dir=section.get("assets_dir"),
        )


@dataclass(frozen=True)
class MapInputs:
    """The products of the upstream stages that a field's map is made of."""

    field: str
    rgb: Path  # Mosaic/{field}_rgb.png: grizli's (800 px; the index page's thumbnail)
    grid: Path  # Mosaic/{field}-ir_drz_sci.fits: the pixel grid and WCS of every layer
    filter_mosaics: Mapping[str, Path]  # {filter (lower case): Mosaic/{field}-{filter}_drz_sci}
    contam: Path  # Contam/{field}_contam.ecsv (meta model_rgb)
    redshifts: Path  # Redshifts/{field}_redshifts.fits

    @classmethod
    def for_field(
        cls, fields_dir: str | os.PathLike, field_name: str, filters: Sequence[str]
    ) -> MapInputs:
        """The fixed paths of ``field_name``'s inputs under ``fields_dir``."""
        layout = Layout(str(fields_dir))
        catalog = layout.catalog(field_name)
        return cls(
            field=field_name,
            rgb=Path(catalog["rgb"]),
            grid=Path(catalog["ir_sci"]),
            filter_mosaics={
                f.lower(): Path(layout.filter_mosaic(field_name, f.lower())[0]) for f in filters
            },
            contam=Path(layout.contam_manifest(field_name)),
            redshifts=Path(layout.redshift_results(field_name)[0]),
        )

    def files(self) -> dict[str, Path]:
        """Every input file by what it is (for the rule's ``input:`` and the checks)."""
        files = {"rgb": self.rgb, "grid": self.grid, "contam": self.contam}
        files["redshifts"] = self.redshifts
        files.update({f"mosaic_{f}": p for f, p in self.filter_mosaics.items()})
        return files


_STAGE_OF = {
    "rgb": "mosaic",
    "grid": "mosaic",
    "contam": "contam",
    "redshifts": "zfit",
}


def check_inputs(inputs: MapInputs) -> None:
    """Raise :class:`WebMapError` naming every missing input and the stage that makes it."""
    missing = [
        f"{path} ({_STAGE_OF.get(key, 'mosaic')} stage)"
        for key, path in inputs.files().items()
        if not Path(path).is_file()
    ]
    if missing:
        raise WebMapError(
            f"{inputs.field}: the web map needs {len(missing)} missing input(s): "
            f"{'; '.join(missing)}. Run the workflow up to those stages first."
        )


def layer_name(label: str) -> str:
    """A FITSMap layer name (a JavaScript identifier, shown in the layer control) for a label."""
    name = re.sub(r"\W+", "_", label.strip()).strip("_")
    if not name:
        raise WebMapError(f"layer label {label!r} has no letters or digits")
    return f"L_{name}" if name[0].isdigit() else name


def model_rgb_layers(contam_table: str | os.PathLike) -> dict[str, Path]:
    """{layer name: PNG} of the grism model RGB images listed in the contam table's meta."""
    from astropy.table import Table

    path = Path(contam_table)
    meta = Table.read(path, format="ascii.ecsv").meta
    listed = meta.get("model_rgb")
    if not isinstance(listed, Mapping):
        raise WebMapError(
            f"{path}: no 'model_rgb' mapping in the table meta (label: PNG file name); "
            "rerun the contam stage"
        )
    layers, missing = {}, []
    for label, name in listed.items():
        png = path.parent / str(name)
        if not png.is_file():
            missing.append(str(png))
        layers[layer_name(f"{label} model")] = png
    if missing:
        raise WebMapError(
            f"{path} lists grism model images that do not exist: {', '.join(missing)}; "
            "rerun the contam stage"
        )
    return layers


# --- Catalogue ----------------------------------------------------------------------------------
def _finite(value: Any) -> bool:
    if np.ma.is_masked(value):
        return False
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        value = value.decode()
    return "" if value is None or np.ma.is_masked(value) else str(value).strip()


def _lines(row: Mapping[str, Any], lines: Sequence[str], sn_min: float) -> list[tuple]:
    """(line, flux, err, S/N) of the lines at or above ``sn_min``, brightest S/N first."""
    found = []
    for line in lines:
        flux, err, sn = (row.get(f"{k}_{line}") for k in ("flux", "err", "sn"))
        if _finite(sn) and float(sn) >= sn_min and _finite(flux):
            found.append((line, float(flux), float(err) if _finite(err) else math.nan, float(sn)))
    return sorted(found, key=lambda item: -item[3])


def popup_rows(
    table: Any,
    plot_names: Mapping[int, Mapping[str, str]],
    settings: WebMapSettings,
) -> tuple[list[str], list[list[str]]]:
    """(columns, rows) of the catalogue layer: text, some of it HTML, as the popups show it.

    ``plot_names`` maps a source id to {kind: file name under ``plots/``} for its plots.
    ``id``, ``ra`` and ``dec`` are FITSMap's required columns.
    """
    lines = [str(line) for line in table.meta.get("LINES", [])]
    columns = ["id", "ra", "dec", "z", "z_68", "quality", "chi2_dof", "lines", "plots"]
    rows = []
    for record in table:
        row = {name: record[name] for name in table.colnames}
        source = int(row["id"])
        ok = _text(row.get("status")) == "ok" and _finite(row.get("z"))
        z = f"{float(row['z']):.4f}" if ok else "no fit"
        z_68 = (
            f"[{float(row['z_lo']):.4f}, {float(row['z_hi']):.4f}]"
            if ok and _finite(row.get("z_lo")) and _finite(row.get("z_hi"))
            else ""
        )
        quality = int(row["quality"]) if _finite(row.get("quality")) else 0
        chi2_dof = (
            f"{float(row['chi2']):.1f} / {int(row['dof'])}"
            if _finite(row.get("chi2")) and _finite(row.get("dof"))
            else ""
        )
        detected = _lines(row, lines, settings.line_sn_min) if ok else []
        lines_html = "<br>".join(
            f"{html.escape(name)}: {flux:.3g} &plusmn; {err:.2g} erg/s/cm&sup2; (S/N {sn:.1f})"
            for name, flux, err, sn in detected
        ) or ("none at S/N &ge; " + f"{settings.line_sn_min:g}" if ok else "")
        plots = plot_names.get(source, {})
        links = " | ".join(
            f"<a href='plots/{html.escape(name, quote=True)}' target='_blank'>{kind}</a>"
            for kind, name in plots.items()
        )
        shown = plots.get(settings.popup_plot or "")
        if shown:
            links += (
                f"<br><a href='plots/{html.escape(shown, quote=True)}' target='_blank'>"
                f"<img src='plots/{html.escape(shown, quote=True)}' "
                f"width='{settings.popup_plot_width}' alt='{settings.popup_plot} plot'></a>"
            )
        rows.append(
            [
                str(source),
                f"{float(row['ra']):.8f}",
                f"{float(row['dec']):.8f}",
                z,
                z_68,
                f"{quality} ({_flag(row, quality)})",
                chi2_dof,
                lines_html,
                links,
            ]
        )
    return columns, rows


def _flag(row: Mapping[str, Any], quality: int) -> str:
    """The fit's flag (good, ambiguous, poor, no fit) and, when it has one, its reason."""
    flag = _text(row.get("flag", "")) or QUALITY_LABELS.get(quality, "?")
    reason = _text(row.get("flag_reason", ""))
    return f"{flag}: {html.escape(reason)}" if flag == "ambiguous" and reason else flag


def copy_plots(table: Any, redshift_dir: Path, plots_dir: Path) -> dict[int, dict[str, str]]:
    """Hard-link (or copy) each source's plots into ``plots_dir``; {id: {kind: file name}}.

    A plot named in the table but missing on disk is left out of the popup (and logged).
    """
    plots_dir.mkdir(parents=True, exist_ok=True)
    found: dict[int, dict[str, str]] = {}
    for record in table:
        source = int(record["id"])
        for kind, column in PLOT_COLUMNS.items():
            if column not in table.colnames:
                continue
            name = _text(record[column])
            if not name:
                continue
            origin = redshift_dir / name
            if not origin.is_file():
                log.warning("source %d: %s %s is missing: not linked", source, column, origin)
                continue
            target = plots_dir / Path(name).name
            if not target.exists():
                try:
                    os.link(origin, target)
                except OSError:  # another file system, or links not allowed
                    shutil.copyfile(origin, target)
            found.setdefault(source, {})[kind] = target.name
    return found


def catalog_max_zoom(max_dim: int) -> tuple[int, int]:
    """(max zoom, padded size) of the catalogue layer of a map whose largest image side is
    ``max_dim`` pixels: as ``fitsmap.convert.files_to_map`` computes them."""
    max_zoom = int(np.log2(2 ** np.ceil(np.log2(max_dim)) / TILE_SIZE))
    return max_zoom, int(2**max_zoom * TILE_SIZE)


def tile_catalog(
    out_dir: Path,
    name: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[str]],
    wcs: Any,
    max_dim: int,
    cluster_min_points: int = 2,
) -> int:
    """The catalogue layer ``name`` in ``out_dir``: the serial path of FITSMap's ``tile_markers``
    (without its ray queue) on rows given here. Returns the number of marker tiles written."""
    from fitsmap import convert
    from fitsmap.supercluster import Supercluster

    layer_dir = out_dir / name
    layer_dir.mkdir()
    (out_dir / f"{name}.columns").write_text(",".join(columns))
    assets = out_dir / "catalog_assets" / name
    assets.mkdir(parents=True)
    markers = [
        convert.line_to_json(wcs, list(columns), str(assets), list(row), catalog_starts_at_one=True)
        for row in rows
    ]
    max_zoom, size = catalog_max_zoom(max_dim)
    clusterer = Supercluster(
        min_zoom=0,
        max_zoom=max_zoom - 1,
        min_points=cluster_min_points,
        extent=TILE_SIZE,
        radius=max(size / TILE_SIZE, 40),
        node_size=max(np.log2(max(len(markers), 1)) * 2, 1),
        alternate_CRS=(size, size),
        update_f=None,
        log=False,
    ).load(markers)
    with warnings.catch_warnings():  # mapbox-vector-tile 1.2.1 on shapely 2: noise, not advice
        warnings.filterwarnings("ignore", "The 'type' attribute is deprecated")
        for z in range(max_zoom + 1):
            for y in range(2**z):
                for x in range(2**z):
                    convert.make_marker_tile(clusterer, str(layer_dir), (z, (y, x)))
    return sum(1 for _ in layer_dir.rglob("*.pbf"))


# --- Image layers -------------------------------------------------------------------------------
class _NoProgress:
    """Stands in for the ray queue of FITSMap's progress messages: they are dropped."""

    def put(self, item: Any) -> None:
        pass


def tile_layer(source: str, out_dir: str, min_zoom: int, norm: Mapping[str, Any]) -> str:
    """Tile one image (FITS or PNG) into ``out_dir/{layer}``: FITSMap's serial ``tile_img``.

    The layer is named after the file (``layer_name.png`` -> ``layer_name``). Runs in a worker
    process of :func:`build_map`'s pool; returns the layer name.
    """
    from fitsmap import convert

    started = time.monotonic()
    convert.tile_img(
        source,
        (0, _NoProgress()),
        tile_size=[TILE_SIZE, TILE_SIZE],
        min_zoom=min_zoom,
        out_dir=out_dir,
        mp_procs=0,
        norm_kwargs=dict(norm),
    )
    name = convert.get_map_layer_name(source)
    log.info("tiled %s in %.1f s", name, time.monotonic() - started)
    return name


RGB_Q = 8.0  # asinh softening (Lupton et al. 2004): linear below ~stretch, logarithmic above
RGB_STRETCH_SIGMA = 8.0  # the linear range: this many times the sky noise of the stacked image


def full_resolution_rgb(filter_mosaics: Mapping[str, Path], target: Path) -> tuple[int, int]:
    """An RGB PNG of the filter mosaics at their own resolution; returns its (ny, nx).

    Channels by wavelength (reddest red, bluest blue, the middle one or the mean of the two
    green), each divided by its sky noise so every filter's noise looks alike; then the Lupton
    asinh stretch of the summed intensity, which keeps the colours of bright cores instead of
    clipping them white: a pixel saturates only at about ``sinh(Q)/Q`` (186) times the linear
    range. FITS row 0 is the image's bottom, as FITSMap tiles PNGs from the top: flipped.
    """
    from astropy.io import fits
    from astropy.visualization import make_lupton_rgb
    from PIL import Image

    order = sorted(filter_mosaics, key=lambda f: int(re.sub(r"\D", "", f) or 0))
    images = {}
    for filt in order:
        data = np.nan_to_num(fits.getdata(filter_mosaics[filt]).astype(np.float32))
        images[filt] = data / max(_sky_sigma(data), 1e-30)
    red, blue = images[order[-1]], images[order[0]]
    green = images[order[len(order) // 2]] if len(order) > 2 else 0.5 * (red + blue)
    intensity_sigma = _sky_sigma((red + green + blue) / 3.0)
    rgb = make_lupton_rgb(red, green, blue, minimum=-1.0 * intensity_sigma,
                          stretch=RGB_STRETCH_SIGMA * intensity_sigma, Q=RGB_Q)  # fmt: skip
    Image.fromarray(np.ascontiguousarray(rgb[::-1])).save(target, compress_level=3)
    return rgb.shape[:2]


def _sky_sigma(data: np.ndarray) -> float:
    """Robust noise of the pixels with data (MAD of a subsample)."""
    values = data[data != 0].ravel()[:: max(1, data.size // 2_000_000)]
    if values.size == 0:
        return 1.0
    median = np.median(values)
    return float(1.4826 * np.median(np.abs(values - median))) or float(np.std(values)) or 1.0


def _stage_png(source: Path, target: Path, shape: tuple[int, int]) -> None:
    """``source`` as ``target`` on the mosaic grid (ny, nx): linked if it is, else resampled."""
    from PIL import Image

    with Image.open(source) as image:
        size = image.size  # (nx, ny)
        if size == (shape[1], shape[0]):
            os.symlink(source.resolve(), target)
            return
        log.info("%s is %dx%d: resampled onto the %dx%d mosaic grid", source.name, *size,
                 shape[1], shape[0])  # fmt: skip
        image.convert("RGBA").resize((shape[1], shape[0]), Image.Resampling.BICUBIC).save(target)


def tile_layers(
    tasks: Sequence[tuple[str, str, int, Mapping[str, Any]]], threads: int
) -> list[str]:
    """Run :func:`tile_layer` on every task: in a pool of ``threads`` processes, or here."""
    if threads <= 1 or len(tasks) <= 1:
        return [tile_layer(*task) for task in tasks]
    # fork, not spawn or forkserver: those re-import the main module, which for a Snakemake
    # script is the job itself. The job's process has no other threads to inherit.
    context = multiprocessing.get_context("fork")
    with concurrent.futures.ProcessPoolExecutor(min(threads, len(tasks)), context) as pool:
        return list(pool.map(tile_layer, *zip(*tasks)))


# --- Page finishing ----------------------------------------------------------------------------
def _tile_ranges(shape: tuple[int, int], z: int, max_zoom: int) -> tuple[range, range]:
    """(Leaflet tile rows, tile columns) at zoom ``z`` that overlap an image of ``shape``
    (ny, nx) drawn by FITSMap on its ``2**max_zoom * 256`` pixel square (rows from the top)."""
    side = TILE_SIZE * 2 ** (max_zoom - z)  # image pixels per tile at zoom z
    n_rows, n_cols = math.ceil(shape[0] / side), math.ceil(shape[1] / side)
    return range(2**z - n_rows, 2**z), range(n_cols)


def _fill(path: Path, blank: Path) -> bool:
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(blank, path)
    except OSError:
        shutil.copyfile(blank, path)
    return True


def fill_missing_tiles(out_dir: Path, image_layers: Sequence[str], shape: tuple[int, int]) -> int:
    """Write a blank tile wherever the page asks for an image tile that FITSMap left out (it
    skips fully transparent tiles), so that no tile request of the page fails.

    Returns the number of tiles added (hard links to one blank PNG).
    """
    from PIL import Image

    blank = out_dir / "imgs" / "blank-tile.png"
    blank.parent.mkdir(exist_ok=True)
    Image.new("RGBA", (TILE_SIZE, TILE_SIZE), (0, 0, 0, 0)).save(blank)
    max_zoom, _ = catalog_max_zoom(max(shape))
    added = 0
    for layer in image_layers:
        for z in sorted(int(d.name) for d in (out_dir / layer).iterdir() if d.name.isdigit()):
            rows, cols = _tile_ranges(shape, z, max_zoom)
            for y in rows:
                for x in cols:
                    added += _fill(out_dir / layer / str(z) / str(y) / f"{x}.png", blank)
    return added


def marker_tile_keys(out_dir: Path, layer: str) -> list[str]:
    """``z/y/x`` of the marker tiles FITSMap wrote for a catalogue layer (it skips empty ones)."""
    return sorted(
        "/".join(path.relative_to(out_dir / layer).with_suffix("").parts)
        for path in (out_dir / layer).rglob("*.pbf")
    )


# Prepended to FITSMap's index.js (tiledMarkers.js, loaded before it, defines the class).
INDEX_JS_HEADER = """// wfsspipe.webmap: every layer is bounded by the image, and a marker layer fetches only the
// tiles FITSMap wrote (tiledMarkers.js would fetch, and fail on, every empty tile).
const mapBounds = L.latLngBounds([[0, 0], [%(ny)d, %(nx)d]]);
const markerTiles = %(keys)s;
L.GridLayer.TiledMarkers.include({
    fitsmapCreateTile: L.GridLayer.TiledMarkers.prototype.createTile,
    createTile: function (coords) {
        const key = `${coords.z}/${2 ** coords.z - coords.y - 1}/${coords.x}`;
        if (this.options.tileKeys && !this.options.tileKeys.has(key)) {
            return L.DomUtil.create("canvas", "leaflet-tile");
        }
        return this.fitsmapCreateTile(coords);
    },
});
"""


def finish_index_js(
    script: str, shape: tuple[int, int], marker_tiles: Mapping[str, Sequence[str]]
) -> str:
    """FITSMap's ``js/index.js`` with every layer bounded by the image (Leaflet asks for no tile
    outside it), marker layers fetching only existing tiles (``marker_tiles``: {layer: keys}),
    and the marker layers shown when the page opens."""
    sets = [
        f"{json.dumps(name)}: new Set({json.dumps(list(keys))})"
        for name, keys in marker_tiles.items()
    ]
    keys = "{" + ", ".join(sets) + "}"
    header = INDEX_JS_HEADER % {"ny": shape[0], "nx": shape[1], "keys": keys}
    script, n_images = re.subn(r'(= L\.tileLayer\("[^"]+", \{ )', r"\1bounds: mapBounds, ", script)
    script, n_markers = re.subn(
        r"const (\w+) = L\.gridLayer\.tiledMarkers\(\{ ",
        lambda m: f"{m[0]}bounds: mapBounds, tileKeys: markerTiles[{json.dumps(m[1])}], ",
        script,
    )
    script, n_shown = re.subn(
        r"(\n    layers: \[)(\w+)\]",
        lambda m: f"{m[1]}{', '.join([m[2], *marker_tiles])}]",
        script,
    )
    if not n_images or n_markers != len(marker_tiles) or n_shown != 1:
        raise WebMapError(
            "FITSMap's js/index.js does not have the layout of fitsmap 0.11.1 "
            f"({n_images} image layers, {n_markers} marker layers, {n_shown} map): "
            "update wfsspipe.webmap.finish_index_js"
        )
    return header + script


# --- The map ------------------------------------------------------------------------------------
def build_map(
    inputs: MapInputs,
    out_dir: str | os.PathLike,
    settings: WebMapSettings | None = None,
    threads: int = 1,
) -> dict[str, Any]:
    """Make the web map of a field in ``out_dir`` (atomically); returns its manifest."""
    from astropy.table import Table
    from astropy.wcs import WCS
    from astropy.wcs.utils import proj_plane_pixel_scales
    from fitsmap import cartographer

    settings = settings or WebMapSettings()
    final = Path(out_dir)
    check_inputs(inputs)
    models = model_rgb_layers(inputs.contam)
    redshifts = Table.read(inputs.redshifts)
    for column in ("id", "ra", "dec", "status", "z", "z_lo", "z_hi", "quality"):
        if column not in redshifts.colnames:
            raise WebMapError(f"{inputs.redshifts}: no column {column!r}; rerun the zfit stage")
    header = image_header(inputs.grid)  # compressed (products.keep: science) or not
    shape = (int(header["NAXIS2"]), int(header["NAXIS1"]))
    wcs = WCS(header)
    pixel_scale = float(np.mean(proj_plane_pixel_scales(wcs.celestial)) * 3600.0)  # arcsec
    for path in inputs.filter_mosaics.values():
        size = image_header(path)
        if (size["NAXIS2"], size["NAXIS1"]) != shape:
            raise WebMapError(f"{path} is not on the grid of {inputs.grid}: rerun the mosaic stage")

    work = work_folder(final.with_name(f"{final.name}-layers"))
    build = work_folder(final)
    try:
        started = time.monotonic()
        # The layer names come from the file names: stage each source under its layer's name.
        sources = []
        rgb = work / f"{RGB_LAYER}.png"
        full_resolution_rgb(inputs.filter_mosaics, rgb)
        sources.append(rgb)
        for filt in sorted(inputs.filter_mosaics):
            link = work / f"{layer_name(filt.upper())}.fits"
            mosaic = Path(inputs.filter_mosaics[filt])
            if is_compressed(mosaic):  # FITSMap reads the primary HDU: a plain copy
                expanded_copy(mosaic, link)
            else:
                os.symlink(mosaic.resolve(), link)
            sources.append(link)
        for name, png in models.items():
            staged = work / f"{name}.png"
            _stage_png(png, staged, shape)
            sources.append(staged)
        for name in ("js", "css"):
            (build / name).mkdir()
        tasks = [(str(s), str(build), settings.min_zoom, settings.norm) for s in sources]
        image_layers = tile_layers(tasks, threads)
        empty = [n for n in image_layers if not any((build / n).rglob("*.png"))]
        if empty:
            raise WebMapError(f"{inputs.field}: FITSMap wrote no tiles for {', '.join(empty)}")

        plots = copy_plots(redshifts, inputs.redshifts.parent, build / "plots")
        columns, rows = popup_rows(redshifts, plots, settings)
        max_x, max_y = shape[1], shape[0]
        catalog_layers = []
        if rows:
            tile_catalog(
                build, CATALOG_LAYER, columns, rows, wcs, max(max_x, max_y),
                settings.cluster_min_points,
            )  # fmt: skip
            catalog_layers.append(CATALOG_LAYER)
        else:
            log.warning("%s: the redshift table has no rows: no catalogue layer", inputs.field)

        cartographer.chart(
            str(build),
            f"{inputs.field}: NIRISS WFSS",
            image_layers,
            catalog_layers,
            wcs,
            1,
            (max_x, max_y),
            pixel_scale,
            False,
        )
        index_js = build / "js" / "index.js"
        marker_tiles = {layer: marker_tile_keys(build, layer) for layer in catalog_layers}
        index_js.write_text(finish_index_js(index_js.read_text(), shape, marker_tiles))
        filled = fill_missing_tiles(build, image_layers, shape)
        log.info("%d blank tiles added where FITSMap wrote none", filled)
        local = vendor_assets(build / "vendor", settings.assets_dir)
        index = build / MAP_INDEX
        page = localize_page(index.read_text(), {k: f"vendor/{p}" for k, p in local.items()})
        index.write_text(page)
        missing = [u for u in page_references(page) if not (build / u).is_file()]
        if missing:
            raise WebMapError(f"{inputs.field}: the page refers to missing files {missing}")
        manifest = {
            "field": inputs.field,
            "fitsmap": metadata.version("fitsmap"),
            "image_layers": image_layers,
            "catalog_layers": catalog_layers,
            "markers": len(rows),
            "columns": columns,
            "shape": list(shape),
            "vendor": {k: f"vendor/{p}" for k, p in local.items()},
        }
        (build / MAP_MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
        commit_folder(build, final)  # readable by browsers: commit_folder sets the mode
        log.info(
            "%s: map with %d image layers and %d markers in %.1f s",
            inputs.field, len(image_layers), len(rows), time.monotonic() - started,
        )  # fmt: skip
        return manifest
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(build, ignore_errors=True)


# --- Resources ----------------------------------------------------------------------------------
# bench: tiling one 25-megapixel layer (demo field, 5030 x 5039) peaked at 440 MB (FITS) and
# 634 MB (RGBA PNG on the mosaic grid) in one process, about 250 MB of it the imports.
WORKER_BASE_MB = 300
WORKER_MB_PER_MPIX = 16.0
MARGIN = 1.3


def fitsmap_mem_mb(megapixels: float, threads: int, attempt: int = 1) -> int:
    """Memory (MB) to tile ``threads`` layers of ``megapixels`` at once (+ the main process)."""
    from .resources import grow

    per_worker = WORKER_BASE_MB + WORKER_MB_PER_MPIX * max(megapixels, 0.0)
    workers = max(int(threads), 1)
    main = WORKER_BASE_MB if workers > 1 else 0
    return grow(MARGIN * (main + workers * per_worker), attempt)
