"""The synthetic field's web map and the index page of all fields in real headless Chromium
(Debian's, installed by tests/integration/browser/install.sh), driven by playwright.

The products come from the session build (``built`` of tests/conftest.py: the default target,
built once and shared with tests/workflow). ``WFSSPIPE_BROWSER_BUILT=<workflow folder>`` (e.g.
``demo``, with ``FIELDS/index.html`` and ``FIELDS/sex-00/fitsmap/`` already made) checks that
folder's products instead and builds nothing.

One Chromium and one ``python -m http.server`` on 127.0.0.1 (serving ``FIELDS/``) are shared by
the tests; each page blocks and records every request outside the folder (or server path) it is
allowed, and records console errors and failed requests. Checks:

* web map, served: the image tiles and the catalogue markers load, no console error, no request
  leaves the map's folder; a click on the marker of the best-fitted source (from
  ``Redshifts/{field}_redshifts.fits``: quality 2, else 1, with the highest line S/N) opens a
  popup with its fitted redshift, 68% interval, quality and brightest line, formatted as
  wfsspipe.webmap writes them, and a plot that loads;
* web map, from disk: its image tiles show and it asks for nothing outside its folder (the
  markers are fetched, which browsers refuse for ``file://`` pages: hence the server);
* index page, from disk and served: no console error, nothing asked for outside ``FIELDS/``, the
  field's row has the numbers of the combined catalogue ``catalog.fits``, the sky map (inline
  SVG) is drawn and links to the field; served, following the field's link opens its map with
  its tiles and markers.

Screenshots go to tests/artifacts/browser/ (gitignored; their paths are printed).
"""

from __future__ import annotations

import math
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
import pytest
import yaml
from astropy.table import Table
from astropy.wcs import WCS
from PIL import Image

from wfsspipe.storage import image_header
from wfsspipe.webmap import WebMapSettings

from .helpers import ROOT

pytestmark = [pytest.mark.integration]

ARTIFACTS = ROOT / "tests" / "artifacts" / "browser"
FIELD = "sex-00"  # the synthetic field (resources/scripts/simulateField.py)
BUILT_ENV = "WFSSPIPE_BROWSER_BUILT"
TIMEOUT_MS = 20_000
TILE_PIXELS = 256  # FITSMap's tile size
QUALITY_LABELS = {2: "good", 1: "poor"}
PLOT_COLUMNS = {"fit": "fit_plot", "spectrum": "spectrum_plot", "lines": "line_plot"}  # by label


# --- Products and what the pages must show -----------------------------------------------------
@pytest.fixture(scope="session")
def workflow_dir(request) -> Path:
    """The workflow folder whose products are checked: the session build, or $WFSSPIPE_BROWSER_BUILT."""
    if not os.environ.get(BUILT_ENV):
        return request.getfixturevalue("built")
    folder = Path(os.environ[BUILT_ENV]).resolve()
    needed = [
        folder / "FIELDS" / "index.html",
        folder / "FIELDS" / "catalog.fits",
        folder / "FIELDS" / FIELD / "fitsmap" / "index.html",
        folder / "FIELDS" / FIELD / "Redshifts" / f"{FIELD}_redshifts.fits",
    ]
    missing = [str(path) for path in needed if not path.is_file()]
    if missing:
        pytest.fail(f"{BUILT_ENV}={folder} lacks {', '.join(missing)}: build them first")
    return folder


@pytest.fixture(scope="session")
def fields_dir(workflow_dir) -> Path:
    return workflow_dir / "FIELDS"


def map_settings(workflow_dir: Path) -> WebMapSettings:
    """The ``fitsmap`` settings the map was made with: config/config.yaml and the folder's
    overlay (``config.yaml``), as the tests and the demo pass them to Snakemake."""
    section = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["fitsmap"]
    overlay = workflow_dir / "config.yaml"
    if overlay.is_file():
        section.update((yaml.safe_load(overlay.read_text()) or {}).get("fitsmap") or {})
    return WebMapSettings.from_config(section)


@dataclass(frozen=True)
class Source:
    """A source of the redshift table and what its marker's popup must say."""

    id: int
    lat_lng: tuple[float, float]  # marker position on the map: (y, x) mosaic pixels
    z: str
    z_68: str
    quality: str  # e.g. "2 (good)"
    line: str  # the line the popup lists first (or its "none at S/N >= ..." text)
    plots: dict[str, str]  # its plots (popup link label: file name under the map's plots/)


def _number(value) -> float:
    return math.nan if np.ma.is_masked(value) else float(value)


def _text(value) -> str:
    """A table cell as text ("" when masked: astropy masks empty strings of a FITS table)."""
    return "" if np.ma.is_masked(value) else str(value).strip()


def source_to_click(fields_dir: Path, settings: WebMapSettings) -> Source:
    """The source of the field to click: of the fitted ones, the best quality (2 good, else 1
    poor) with the highest line S/N; and its popup texts as wfsspipe.webmap.popup_rows formats
    them (z and 68% interval to 4 decimals, a line as ``name: flux(.3g) ± err(.2g) erg/s/cm²
    (S/N sn(.1f))``)."""
    path = fields_dir / FIELD / "Redshifts" / f"{FIELD}_redshifts.fits"
    table = Table.read(path)
    lines = table.meta["LINES"]
    lines = [lines] if isinstance(lines, str) else [str(line) for line in lines]
    fitted = table[
        (np.char.strip(table["status"].astype(str)) == "ok")
        & np.isfinite(np.ma.filled(np.asarray(table["z"], dtype=float), np.nan))
        & (table["quality"] >= 1)
    ]
    assert len(fitted), f"{path}: no fitted source to click on"
    sn = np.column_stack(
        [np.ma.filled(fitted[f"sn_{line}"], np.nan).astype(float) for line in lines]
    )
    sn[~np.isfinite(sn)] = -np.inf
    best_line = np.argmax(sn, axis=1)
    best_sn = sn[np.arange(len(fitted)), best_line]
    row_index = np.lexsort((best_sn, np.asarray(fitted["quality"])))[-1]
    row, line = fitted[row_index], lines[best_line[row_index]]
    flux, err, line_sn = (_number(row[f"{k}_{line}"]) for k in ("flux", "err", "sn"))
    if line_sn >= settings.line_sn_min:
        line_text = f"{line}: {flux:.3g} ± {err:.2g} erg/s/cm² (S/N {line_sn:.1f})"
    else:
        line_text = f"none at S/N ≥ {settings.line_sn_min:g}"
    assert math.isfinite(_number(row["z_lo"])) and math.isfinite(_number(row["z_hi"])), row
    # FITSMap puts a marker at the pixel centre: (0-based pixel + 0.5), as (lat, lng) = (y, x).
    wcs = WCS(image_header(fields_dir / FIELD / "Mosaic" / f"{FIELD}-ir_drz_sci.fits"))
    [[x, y]] = wcs.wcs_world2pix([[float(row["ra"]), float(row["dec"])]], 0)
    plots = {
        kind: Path(_text(row[column])).name
        for kind, column in PLOT_COLUMNS.items()
        if column in table.colnames
        and _text(row[column])
        and (path.parent / _text(row[column])).is_file()
    }
    return Source(
        id=int(row["id"]),
        lat_lng=(float(y) + 0.5, float(x) + 0.5),
        z=f"{float(row['z']):.4f}",
        z_68=f"[{float(row['z_lo']):.4f}, {float(row['z_hi']):.4f}]",
        quality=f"{int(row['quality'])} ({_flag_text(row)})",
        line=line_text,
        plots=plots,
    )


def _flag_text(row) -> str:
    """The popup's quality label as wfsspipe.webmap writes it: the flag, with its reason when
    ambiguous."""
    flag = _text(row["flag"]) if "flag" in row.colnames else ""
    flag = flag or QUALITY_LABELS[int(row["quality"])]
    return f"{flag}: {_text(row['flag_reason'])}" if flag == "ambiguous" else flag


def catalogue_counts(fields_dir: Path) -> dict[str, int]:
    """The field's numbers in the combined catalogue: sources, fitted (quality >= 1), good."""
    catalog = Table.read(fields_dir / "catalog.fits")
    quality = np.asarray(catalog["quality"], dtype=int)
    mine = np.char.strip(np.asarray(catalog["field"]).astype(str)) == FIELD
    assert mine.any(), f"{fields_dir / 'catalog.fits'} has no row of {FIELD}"
    return {
        "Sources": int(mine.sum()),
        "Fitted": int((mine & (quality >= 1)).sum()),
        "Good z": int((mine & (quality == 2)).sum()),
        "total sources": len(catalog),
        "total good": int((quality == 2).sum()),
    }


# --- Services ------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium, installed by tests/integration/browser/install.sh when missing."""
    result = subprocess.run(
        ["bash", ROOT / "tests" / "integration" / "browser" / "install.sh"],
        check=True, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def browser(chromium):
    """One headless Chromium for all the tests (each test opens its own context)."""
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        yield browser
        browser.close()
    finally:
        playwright.stop()


@pytest.fixture(scope="session")
def server(fields_dir):
    """``python -m http.server`` on 127.0.0.1 (a free port) serving ``FIELDS/``; stopped by PID."""
    process = subprocess.Popen(
        [sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1",
         "--directory", fields_dir],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        line = process.stdout.readline()  # "Serving HTTP on 127.0.0.1 port 41235 (...) ..."
        match = re.search(r"port (\d+)", line)
        assert match, f"http.server did not start: {line!r}"
        yield f"http://127.0.0.1:{match[1]}"
    finally:
        os.kill(process.pid, signal.SIGTERM)
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


class Page:
    """A Chromium page that records console errors and failed requests, and blocks requests
    outside ``allowed`` (a URL prefix)."""

    def __init__(self, browser, allowed: str):
        self.console_errors: list[str] = []
        self.blocked: list[str] = []
        self.failed: list[str] = []
        self.requests: list[str] = []
        self.allowed = allowed
        self.context = browser.new_context(viewport={"width": 1000, "height": 800})
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.console_errors.append(f"pageerror: {error}"))
        self.page.on("requestfailed", lambda request: self.failed.append(request.url))
        self.page.on(
            "response", lambda r: r.status >= 400 and self.failed.append(f"{r.status} {r.url}")
        )

    def __enter__(self) -> Page:
        return self

    def __exit__(self, *exc) -> None:
        self.context.close()

    def _route(self, route):
        url = route.request.url
        self.requests.append(url)
        if url.startswith(self.allowed):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()

    def _console(self, message):
        if message.type in ("error", "warning") or "Error" in message.text:
            self.console_errors.append(f"{message.type}: {message.text}")

    def assert_clean(self) -> None:
        """No console error, nothing blocked or failed, every request under ``allowed``."""
        assert self.console_errors == []
        assert self.blocked == []
        assert self.failed == []
        outside = [url for url in self.requests if not url.startswith(self.allowed)]
        assert outside == []


# --- Web map -------------------------------------------------------------------------------------
TILES_LOADED = """() => document.querySelectorAll("img.leaflet-tile-loaded").length > 0
    && !document.querySelector("img.leaflet-tile:not(.leaflet-tile-loaded)")"""

MARKERS_SHOWN = """() => { let n = 0;
    map.eachLayer(l => { if (l instanceof L.CircleMarker || l.options.icon) n++; });
    return n > 0; }"""


def map_state(page) -> dict:
    """Loaded image tiles, the source markers (asset path, screen position) and the cluster
    markers on the map."""
    return page.evaluate(
        """() => {
        const markers = [];
        let clusters = 0;
        map.eachLayer(layer => {
            if (layer instanceof L.CircleMarker && layer.options.assetPath) {
                const p = map.latLngToContainerPoint(layer.getLatLng());
                markers.push({asset: layer.options.assetPath, x: p.x, y: p.y});
            } else if (layer.options.icon && layer.options.icon.options.className
                       && layer.options.icon.options.className.includes("marker-cluster")) {
                clusters++;
            }
        });
        const tiles = [...document.querySelectorAll("img.leaflet-tile-loaded")];
        return {markers, clusters, tiles: tiles.map(t => t.src), maxZoom: map.getMaxZoom()};
    }"""
    )


MARKER_DIAGNOSIS = """() => ({zoom: map.getZoom(), layers: Object.keys(map._layers).length,
    catalogues: Object.entries(catalogs).map(([name, layer]) => ({name, onMap: map.hasLayer(layer),
        cached: Object.values(layer.tilePointCache).reduce((n, points) => n + points.length, 0)}))})"""


def wait_for_markers(page, view: Page) -> None:
    """Wait (polling every 100 ms, not per animation frame) until the map shows a marker; on a
    timeout, fail with what the map and the page's requests say about the marker tiles."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(MARKERS_SHOWN, timeout=TIMEOUT_MS, polling=100)
    except PlaywrightTimeout:
        tiles = [url for url in view.requests if url.endswith(".pbf")]
        pytest.fail(
            f"no marker after {TIMEOUT_MS / 1000:.0f} s: map {page.evaluate(MARKER_DIAGNOSIS)}; "
            f"{len(tiles)} marker tiles asked for {tiles[:10]}; failed {view.failed}; "
            f"blocked {view.blocked}; console {view.console_errors}"
        )


def wait_for_map(page) -> dict:
    page.wait_for_selector("#map", state="visible", timeout=TIMEOUT_MS)  # first layer loaded
    page.wait_for_function(TILES_LOADED, timeout=TIMEOUT_MS)
    return map_state(page)


def test_field_map_in_chromium(browser, server, fields_dir, workflow_dir, artifacts):
    started = time.monotonic()
    settings = map_settings(workflow_dir)
    source = source_to_click(fields_dir, settings)
    redshifts = Table.read(fields_dir / FIELD / "Redshifts" / f"{FIELD}_redshifts.fits")
    ids = {int(i) for i in redshifts["id"]}
    map_url = f"{server}/{FIELD}/fitsmap/"
    shot = artifacts / f"fitsmap-{FIELD}.png"
    popup_shot = artifacts / f"fitsmap-{FIELD}-popup.png"
    with Page(browser, map_url) as view:
        page = view.page
        page.goto(f"{map_url}index.html")
        wait_for_map(page)
        wait_for_markers(page, view)
        page.wait_for_function(TILES_LOADED, timeout=TIMEOUT_MS)
        state = map_state(page)
        assert len(state["tiles"]) >= 1
        assert all(re.match(rf"{map_url}RGB/\d+/\d+/\d+\.png$", t) for t in state["tiles"])
        assert state["markers"] or state["clusters"]
        page.screenshot(path=str(shot))

        # Zoomed in to the source's position (no clusters at the highest zoom), click its marker.
        page.evaluate("([latLng, zoom]) => map.setView(latLng, zoom, {animate: false})",
                      [list(source.lat_lng), state["maxZoom"]])  # fmt: skip
        asset = f"catalog_assets/redshifts/{source.id}.cbor"
        page.wait_for_function(
            """asset => { let found = false;
            map.eachLayer(l => { if (l.options && l.options.assetPath === asset) found = true; });
            return found; }""",
            arg=asset,
            timeout=TIMEOUT_MS,
        )
        page.wait_for_function(TILES_LOADED, timeout=TIMEOUT_MS)
        state = map_state(page)
        shown = {int(re.search(r"/(\d+)\.cbor$", m["asset"])[1]) for m in state["markers"]}
        assert shown <= ids, f"markers of sources not in the redshift table: {shown - ids}"
        marker = next(m for m in state["markers"] if m["asset"] == asset)
        assert abs(marker["x"] - 500) < 3 and abs(marker["y"] - 400) < 3, marker  # map centre
        page.mouse.click(marker["x"], marker["y"])
        popup = page.locator(".leaflet-popup-content")
        popup.wait_for(timeout=TIMEOUT_MS)
        page.wait_for_function(  # "Loading..." until the source's .cbor is fetched and shown
            "() => document.querySelector('.leaflet-popup-content table.catalog-table')",
            timeout=TIMEOUT_MS,
        )
        page.wait_for_function(  # faded in (for the screenshot)
            "() => getComputedStyle(document.querySelector('.leaflet-popup')).opacity === '1'",
            timeout=TIMEOUT_MS,
        )
        text = popup.inner_text()
        assert re.search(rf"\bid:\s*{source.id}\s", text), text
        assert re.search(rf"\bz:\s*{re.escape(source.z)}\s", text), text
        assert re.search(rf"\bz_68:\s*{re.escape(source.z_68)}\s", text), text
        assert re.search(rf"\bquality:\s*{re.escape(source.quality)}", text), text
        assert re.search(rf"\blines:\s*{re.escape(source.line)}", text), (source.line, text)
        # a link per plot (labelled by its kind), and the configured one shown, loaded
        links = popup.locator("a:not(:has(img))").evaluate_all(
            "as => as.map(a => [a.innerText.trim(), a.href])"
        )
        assert links == [[kind, f"{map_url}plots/{name}"] for kind, name in source.plots.items()]
        if settings.popup_plot in source.plots:
            page.wait_for_function(
                """() => { const i = document.querySelector('.leaflet-popup-content img');
                return i && i.complete && i.naturalWidth > 0; }""",
                timeout=TIMEOUT_MS,
            )
            image = popup.locator("img").get_attribute("src")
            assert image == f"plots/{source.plots[settings.popup_plot]}"
        else:
            assert popup.locator("img").count() == 0
        page.screenshot(path=str(popup_shot))

        view.assert_clean()
        assert any("/vendor/leaflet/leaflet.js" in url for url in view.requests)
    print(
        f"\nsource {source.id}: z {source.z}, quality {source.quality}; screenshots: {shot} {popup_shot} "
        f"({time.monotonic() - started:.1f} s)"
    )


def upsampling_residual(tile: np.ndarray, parent_quadrant: np.ndarray) -> float:
    """How much of a tile's structure its parent tile (one zoom level up) lacks: the variance
    of the tile minus the parent's quadrant blown up 2x, over the tile's variance. About 0 when
    the tile is an upsampled copy (the RGB drawn smaller than the mosaic, then resampled); the
    pixel-scale noise and detail of a full-resolution image give tens of percent."""
    up = np.kron(parent_quadrant, np.ones((2, 2)))
    return float(np.var(tile - up) / max(np.var(tile), 1e-9))


def test_deepest_rgb_tiles_are_full_resolution(
    browser, server, fields_dir, workflow_dir, artifacts
):
    """Zoomed to the deepest level in Chromium, the RGB tiles the map shows hold detail that the
    level above does not (they are not an upsampled copy of it)."""
    source = source_to_click(fields_dir, map_settings(workflow_dir))
    map_url = f"{server}/{FIELD}/fitsmap/"
    folder = fields_dir / FIELD / "fitsmap"
    with Page(browser, map_url) as view:
        page = view.page
        page.goto(f"{map_url}index.html")
        state = wait_for_map(page)
        page.evaluate("([latLng, zoom]) => map.setView(latLng, zoom, {animate: false})",
                      [list(source.lat_lng), state["maxZoom"]])  # fmt: skip
        page.wait_for_function(TILES_LOADED, timeout=TIMEOUT_MS)
        tiles = map_state(page)["tiles"]
        page.screenshot(path=str(artifacts / f"fitsmap-{FIELD}-deepest.png"))
        view.assert_clean()
    keys = [tuple(map(int, re.search(r"/RGB/(\d+)/(\d+)/(\d+)\.png$", t).groups())) for t in tiles]
    deepest = max(z for z, _, _ in keys)
    checked = []
    for z, y, x in keys:
        if z != deepest:
            continue
        with Image.open(folder / "RGB" / str(z) / str(y) / f"{x}.png") as image:
            tile = np.asarray(image.convert("L"), dtype=float)
        with Image.open(folder / "RGB" / str(z - 1) / str(y // 2) / f"{x // 2}.png") as image:
            parent = np.asarray(image.convert("L"), dtype=float)
        half = TILE_PIXELS // 2
        quadrant = parent[(y % 2) * half : (y % 2 + 1) * half, (x % 2) * half : (x % 2 + 1) * half]
        if tile.std() > 2:  # not a blank tile beyond the mosaic's edge
            checked.append(upsampling_residual(tile, quadrant))
    assert checked, f"no RGB tile with data at zoom {deepest}: {tiles}"
    # Measured on the session field: full resolution gives a median of about 0.5; grizli's
    # 800-pixel RGB resampled onto the 5,000-pixel grid (what the map showed before) 0.04.
    assert float(np.median(checked)) > 0.2, checked


def test_field_map_from_disk_requests_nothing_outside_its_folder(browser, fields_dir):
    folder = (fields_dir / FIELD / "fitsmap").resolve()
    with Page(browser, folder.as_uri() + "/") as view:
        view.page.goto((folder / "index.html").as_uri())
        state = wait_for_map(view.page)
        assert state["tiles"]
        assert all(t.startswith(f"{folder.as_uri()}/RGB/") for t in state["tiles"])
        assert view.blocked == []
        # the page's fetch() of marker tiles is refused for file:// (hence the server above)
        assert all(url.startswith(folder.as_uri() + "/") for url in view.requests)


# --- Index page ----------------------------------------------------------------------------------
def index_state(page) -> dict:
    """The index page's header line, the field's table row ({column: text}, link), the sky
    map (size, links) and the header links."""
    return page.evaluate(
        """field => {
        const headers = [...document.querySelectorAll("table thead th")].map(th => th.innerText.trim());
        const row = document.getElementById(field);
        const cells = row ? [...row.querySelectorAll("td")].map(td => td.innerText.trim()) : [];
        const link = row ? row.querySelector("td.text a") : null;
        const svg = document.querySelector("div.map svg");
        const box = svg ? svg.getBoundingClientRect() : null;
        const svgLinks = svg ? [...svg.querySelectorAll("a")].map(
            a => new URL(a.getAttribute("href") || a.getAttribute("xlink:href"), document.baseURI).href) : [];
        return {
            summary: document.querySelector("body > p").innerText,
            row: Object.fromEntries(headers.map((h, i) => [h, cells[i]])),
            rows: document.querySelectorAll("table tbody tr").length,
            link: link ? link.href : null,
            svg: box ? {width: box.width, height: box.height, paths: svg.querySelectorAll("path").length} : null,
            svgLinks,
            headerLinks: [...document.querySelectorAll("p.links a")].map(a => a.href),
        };
    }""",
        FIELD,
    )


def check_index(state: dict, counts: dict[str, int], base: str) -> None:
    """The field's row, the totals and the sky map of an index page opened at ``base``."""
    row = state["row"]
    assert row.get("Field") == FIELD, state
    for column in ("Sources", "Fitted", "Good z"):
        assert row[column] == str(counts[column]), (column, row, counts)
    assert int(row["Exposures"]) > 0 and float(row["WFSS time [ks]"]) > 0, row
    assert (
        f"{counts['total sources']} catalogue sources, {counts['total good']} good redshifts"
        in state["summary"]
    ), state["summary"]
    field_map = f"{base}{FIELD}/fitsmap/index.html"
    assert state["link"] == field_map
    assert state["svg"] and state["svg"]["width"] > 300 and state["svg"]["height"] > 150
    assert state["svg"]["paths"] > 10  # the grid, the footprints, the marker
    assert field_map in state["svgLinks"], state["svgLinks"]
    assert state["headerLinks"] and all(url.startswith(base) for url in state["headerLinks"])


def test_index_page_from_disk(browser, fields_dir, artifacts):
    counts = catalogue_counts(fields_dir)
    base = fields_dir.resolve().as_uri() + "/"
    shot = artifacts / "index-file.png"
    with Page(browser, base) as view:
        view.page.goto(f"{base}index.html")
        state = index_state(view.page)
        view.page.screenshot(path=str(shot), full_page=True)
        check_index(state, counts, base)
        for url in state["headerLinks"]:  # the catalogue and plots it links to are there
            assert Path(unquote(urlparse(url).path)).is_file(), url
        view.assert_clean()
    print(f"\nscreenshot: {shot}")


def test_index_page_served_links_to_the_field_map(browser, server, fields_dir, artifacts):
    started = time.monotonic()
    counts = catalogue_counts(fields_dir)
    base = f"{server}/"
    shot, map_shot = artifacts / "index.png", artifacts / f"index-to-fitsmap-{FIELD}.png"
    with Page(browser, base) as view:
        page = view.page
        page.goto(f"{base}index.html")
        state = index_state(page)
        page.screenshot(path=str(shot), full_page=True)
        check_index(state, counts, base)
        for url in state["headerLinks"]:
            assert page.request.head(url).status == 200, url

        before = len(view.requests)
        with page.expect_navigation(url=f"{base}{FIELD}/fitsmap/index.html"):
            page.locator(f"tr#{FIELD} td.text a").click()
        wait_for_map(page)
        wait_for_markers(page, view)
        tiles = map_state(page)["tiles"]
        page.screenshot(path=str(map_shot))
        assert tiles
        assert all(re.match(rf"{base}{FIELD}/fitsmap/RGB/\d+/\d+/\d+\.png$", t) for t in tiles)
        view.assert_clean()
        map_requests = view.requests[before:]  # the map asks for nothing outside its folder
        assert all(url.startswith(f"{base}{FIELD}/fitsmap/") for url in map_requests)
    print(f"\nscreenshots: {shot} {map_shot} ({time.monotonic() - started:.1f} s)")


# --- Index page of many fields: sorting and search -----------------------------------------------
def many_fields_table(path: Path) -> list[tuple[str, str, float]]:
    """A fields table of five fields (name, program, exposure time); returns them."""
    import pandas as pd

    fields = [("uma-00", "01571", 900.0), ("uma-01", "03383", 300.0), ("vir-02", "04681", 1500.0),
              ("leo-00", "01571", 600.0), ("sex-03", "03383", 1200.0)]  # fmt: skip
    rows = []
    for number, (name, program, exptime) in enumerate(fields):
        ra, dec = 10.0 + 20 * number, -20.0 + 10 * number
        obs_id = f"jw{program}{number + 1:03d}001_02101_00001_nis"
        rows.append(dict(
            field=name, obs_id=obs_id, filename=f"{obs_id}_uncal.fits",
            dataURI=f"mast:JWST/product/{obs_id}_uncal.fits", filter="GR150C", pupil="F150W",
            exp_type="NIS_WFSS", t_min=60000.0 + number, exptime=exptime, size=84_000_000,
            s_region=f"POLYGON ICRS {ra} {dec} {ra + 0.03} {dec} {ra + 0.03} {dec + 0.03} {ra} {dec + 0.03}",
            proposal_id=program, s_ra=ra, s_dec=dec, t_obs_release=60001.0, dataRights="PUBLIC",
        ))  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(path, index=False)
    return fields


TABLE_ROWS = """() => [...document.querySelectorAll("table.fields tbody tr")]
    .filter(tr => !tr.hidden).map(tr => tr.id)"""


def test_index_page_sorts_and_searches_in_chromium(browser, tmp_path, artifacts):
    """Written by wfsspipe.summary.index for five fields, opened from disk: a click on a header
    sorts by it (a second click reverses), the search box keeps the matching fields."""
    from wfsspipe.summary.index import write_index

    fields = many_fields_table(tmp_path / "FIELDS" / "fields.csv")
    write_index(tmp_path / "FIELDS" / "index.html", tmp_path / "FIELDS" / "fields.csv", [])
    base = (tmp_path / "FIELDS").as_uri() + "/"
    by_time = [name for name, _, _ in sorted(fields, key=lambda f: f[2])]
    with Page(browser, base) as view:
        page = view.page
        page.goto(f"{base}index.html")
        assert page.evaluate(TABLE_ROWS) == sorted(name for name, _, _ in fields)
        header = page.locator("table.fields th", has_text="Exposure time [ks]")
        header.click()
        assert page.evaluate(TABLE_ROWS) == by_time
        assert header.get_attribute("aria-sort") == "ascending"
        header.click()
        assert page.evaluate(TABLE_ROWS) == by_time[::-1]
        page.locator("table.fields th", has_text="Field").first.click()
        assert page.evaluate(TABLE_ROWS) == sorted(name for name, _, _ in fields)
        page.fill("#search", "uma")
        assert page.evaluate(TABLE_ROWS) == ["uma-00", "uma-01"]
        assert page.inner_text("#shown") == "2 of 5 fields shown"
        page.fill("#search", "3383")  # a program
        assert page.evaluate(TABLE_ROWS) == ["sex-03", "uma-01"]
        page.screenshot(path=str(artifacts / "index-search.png"), full_page=True)
        page.fill("#search", "")
        assert len(page.evaluate(TABLE_ROWS)) == 5
        view.assert_clean()
