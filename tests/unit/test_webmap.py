"""wfsspipe.webmap: a real FITSMap map of a small hand-built field (no ray, no CDN)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import cbor2
import numpy as np
import pytest
import webmapfields as wf
from astropy.table import Table
from PIL import Image

from wfsspipe import webmap
from wfsspipe.layout import map_index_relpath
from wfsspipe.webmap import (
    DEFAULT_ASSETS_DIR,
    MapInputs,
    WebMapError,
    WebMapSettings,
    build_map,
    fitsmap_mem_mb,
    localize_page,
    page_references,
    vendor_assets,
)

IMAGE_LAYERS = ["RGB", "F150W", "F200W", "GR150C_PA_126_model", "GR150R_PA_036_model"]


@pytest.fixture(scope="module")
def field(tmp_path_factory):
    fields_dir = tmp_path_factory.mktemp("fields")
    wf.make_field(fields_dir)
    inputs = MapInputs.for_field(fields_dir, wf.FIELD, wf.FILTERS)
    out = fields_dir / wf.FIELD / "fitsmap"
    manifest = build_map(inputs, out, WebMapSettings(), threads=2)  # a pool of 2 processes
    return inputs, out, manifest


def neighbour_correlation(image: np.ndarray) -> float:
    """Correlation of horizontally adjacent pixels: ~0 for independent noise, near 1 for an
    image resampled up from a smaller one."""
    left, right = image[:, :-1].ravel(), image[:, 1:].ravel()
    return float(np.corrcoef(left, right)[0, 1])


def read_marker(out: Path, source: int) -> list[str]:
    return cbor2.loads((out / "catalog_assets" / "redshifts" / f"{source}.cbor").read_bytes())["v"]


def test_page_loads_only_files_in_the_map_folder(field):
    _, out, manifest = field
    page = (out / "index.html").read_text()
    urls = page_references(page)
    assert "vendor/leaflet/leaflet.js" in urls and "vendor/pbf/pbf.js" in urls
    assert len(urls) >= 20
    for url in urls:
        assert not re.match(r"^([a-z]+:|//)", url), url
        assert (out / url).is_file(), url
    assert "cdnjs" not in page and "unpkg" not in page and "jsdelivr" not in page
    for name in ("leaflet.js", "leaflet.css", "cbor.js"):
        vendored = out / manifest["vendor"][name]
        origin = {"leaflet.js": "leaflet/dist/leaflet.js", "leaflet.css": "leaflet/dist/leaflet.css",
                  "cbor.js": "cbor-web/dist/cbor.js"}[name]  # fmt: skip
        assert vendored.read_bytes() == (DEFAULT_ASSETS_DIR / origin).read_bytes()
    # the images the style sheets load are there too
    assert (out / "vendor/leaflet/images/layers.png").is_file()
    assert (out / "vendor/leaflet-search/images/search-icon.png").is_file()


def test_every_layer_has_tiles_on_the_mosaic_grid(field):
    _, out, manifest = field
    assert manifest["image_layers"] == IMAGE_LAYERS
    assert manifest["shape"] == list(wf.SHAPE)
    script = (out / "js" / "index.js").read_text()
    for layer in IMAGE_LAYERS:
        assert f'L.tileLayer("{layer}/{{z}}/{{y}}/{{x}}.png"' in script
        # 600 x 520 pixels -> a 1024-pixel square: zooms 0..2; at zoom 2 (native) 3 x 3 tiles
        assert sorted(int(p.name) for p in (out / layer).iterdir()) == [0, 1, 2]
        tiles = sorted((out / layer / "2").rglob("*.png"))
        assert len(tiles) == 9, layer
        assert Image.open(tiles[0]).size == (256, 256)
    assert "layers: [RGB, redshifts]" in script  # markers shown when the page opens
    # The RGB layer is made from the filter mosaics at their resolution: a source is on the
    # native-zoom tile at its mosaic pixel (x 150, y 120: tile column 0, row 3 - 0 = 3 - 120//256),
    # bright but not clipped (its peak is 100 sigma), on a dark sky; and the sky keeps the
    # mosaics' pixel-to-pixel noise, which a resampled smaller image would have smoothed away.
    tile = np.asarray(Image.open(out / "RGB" / "2" / "3" / "0.png").convert("RGB")).astype(float)
    sky = tile[255 - 240 : 255 - 160, 20:120]
    assert 100 < tile[255 - 120, 150].max() < 250 and np.median(sky) < 40
    assert tile[255 - 120, 150].max() > tile[255 - 123, 150].max() + 10  # not flat: a core
    assert neighbour_correlation(sky.mean(axis=2)) < 0.3


def test_catalogue_markers_carry_the_redshift_fit_and_plot_links(field):
    inputs, out, manifest = field
    assert manifest["catalog_layers"] == ["redshifts"] and manifest["markers"] == 3
    columns = (out / "redshifts.columns").read_text().split(",")
    assert columns[:3] == ["id", "ra", "dec"]
    good = dict(zip(columns, read_marker(out, 11)))
    assert good["z"] == "1.3512" and good["z_68"] == "[1.3490, 1.3531]"
    assert good["quality"] == "2 (good)" and good["chi2_dof"] == "812.3 / 790"
    assert "Ha: 2.1e-17 &plusmn; 1.7e-18" in good["lines"] and "S/N 12.4" in good["lines"]
    assert "OIII" not in good["lines"]  # S/N 2 < line_sn_min
    for kind, name in (("fit", "full"), ("spectrum", "spec"), ("lines", "line")):
        link = f"plots/sex-00_00011.{name}.png"
        assert f"href='{link}'" in good["plots"] and f">{kind}</a>" in good["plots"]
        assert (out / link).read_bytes() == (inputs.redshifts.parent / Path(link).name).read_bytes()
    assert "<img src='plots/sex-00_00011.spec.png' width='360'" in good["plots"]
    second = dict(zip(columns, read_marker(out, 12)))
    assert (
        second["z"] == "0.8503" and "OIII: 6e-18" in second["lines"] and "Hb" not in second["lines"]
    )
    failed = dict(zip(columns, read_marker(out, 13)))
    assert failed["z"] == "no fit" and failed["plots"] == "" and failed["quality"] == "0 (no fit)"
    # marker position (FITSMap: y, x appended; pixel centre = 0-based pixel + 0.5)
    marker = read_marker(out, 11)
    assert float(marker[-3]) == pytest.approx(120.5, abs=2e-3)
    assert float(marker[-2]) == pytest.approx(150.5, abs=2e-3)
    assert marker[-1] == "redshifts"
    assert sorted(p.name for p in (out / "redshifts").iterdir()) == ["0", "1", "2"]
    script = (out / "js" / "index.js").read_text()
    assert '"redshifts": new Set(["0/0/0", "1/0/0", "2/0/0", "2/0/1", "2/1/1"])' in script


def test_no_ray_cluster_was_started(field):
    import ray

    assert not ray.is_initialized()
    assert json.loads((field[1] / "webmap.json").read_text())["fitsmap"] == "0.11.1"


def test_rebuild_replaces_the_folder_and_a_failed_build_keeps_the_old_map(field, tmp_path):
    fields_dir = tmp_path / "fields"
    wf.make_field(fields_dir)
    inputs = MapInputs.for_field(fields_dir, wf.FIELD, wf.FILTERS)
    out = fields_dir / wf.FIELD / "fitsmap"
    out.mkdir()
    (out / "stale.txt").write_text("from an older map")
    build_map(inputs, out, WebMapSettings(popup_plot=None), threads=1)
    assert not (out / "stale.txt").exists()
    assert "<img" not in read_marker(out, 11)[8]  # popup_plot: null -> links only
    first = (out / "index.html").stat().st_ino
    # a failure after the tiling (the page's packages are missing) leaves the map as it was
    empty = tmp_path / "no_node_modules"
    empty.mkdir()
    with pytest.raises(WebMapError, match=r"leaflet missing \(need 1\.7\.1\).*npm ci"):
        build_map(inputs, out, WebMapSettings(assets_dir=str(empty)), threads=1)
    assert (out / "index.html").stat().st_ino == first
    assert not [p.name for p in out.parent.iterdir() if ".tmp-" in p.name]


def test_missing_inputs_are_named_with_their_stage(tmp_path):
    wf.make_field(tmp_path)
    (tmp_path / wf.FIELD / "Redshifts" / f"{wf.FIELD}_redshifts.fits").unlink()
    (tmp_path / wf.FIELD / "Mosaic" / f"{wf.FIELD}-f200w_drz_sci.fits").unlink()
    inputs = MapInputs.for_field(tmp_path, wf.FIELD, wf.FILTERS)
    with pytest.raises(WebMapError) as error:
        build_map(inputs, tmp_path / wf.FIELD / "fitsmap")
    message = str(error.value)
    assert "sex-00_redshifts.fits (zfit stage)" in message
    assert "sex-00-f200w_drz_sci.fits (mosaic stage)" in message
    assert not (tmp_path / wf.FIELD / "fitsmap").exists()


def test_a_model_image_listed_but_missing_is_named(tmp_path):
    wf.make_field(tmp_path)
    missing = tmp_path / wf.FIELD / "Contam" / wf.MODEL_RGB["GR150R PA 036"]
    missing.unlink()
    inputs = MapInputs.for_field(tmp_path, wf.FIELD, wf.FILTERS)
    with pytest.raises(WebMapError, match=re.escape(str(missing))):
        build_map(inputs, tmp_path / wf.FIELD / "fitsmap")
    table = Table.read(inputs.contam)
    table.meta.pop("model_rgb")
    table.write(inputs.contam, overwrite=True)
    with pytest.raises(WebMapError, match="no 'model_rgb' mapping"):
        build_map(inputs, tmp_path / wf.FIELD / "fitsmap")


def test_localize_page_refuses_an_asset_it_does_not_vendor():
    page = "<html><head><script src='https://example.org/new-plugin.js'></script></head></html>"
    with pytest.raises(WebMapError, match="example.org/new-plugin.js"):
        localize_page(page, {k: f"vendor/{k}" for k in webmap.FITSMAP_CDN})


def test_vendor_assets_returns_relative_paths(tmp_path):
    copied = vendor_assets(tmp_path / "vendor")
    assert set(copied) == set(webmap.FITSMAP_CDN)
    for path in copied.values():
        assert not Path(path).is_absolute() and (tmp_path / "vendor" / path).stat().st_size > 100
    assert (tmp_path / "vendor" / "leaflet" / "LICENSE").is_file()


def test_index_path_and_memory():
    assert map_index_relpath("sex-00") == "sex-00/fitsmap/index.html"
    one = fitsmap_mem_mb(25.0, 1)
    assert 500 < one < 1200  # one 25-Mpix layer peaked at 634 MB (demo field)
    assert fitsmap_mem_mb(25.0, 2) > 2 * one * 0.9
    assert fitsmap_mem_mb(100.0, 1) > one
    assert fitsmap_mem_mb(25.0, 1, attempt=2) == pytest.approx(1.5 * one, abs=1)
