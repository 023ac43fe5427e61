"""Products over all fields on the session build: combined catalogue, index page, Snakemake report.

Reads the products of tests/workflow/conftest.py ``built`` (no second build); ``--report`` only
reads the finished workflow's metadata.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from astropy.table import Table
from conftest import exposures, snakemake

pytestmark = [pytest.mark.workflow, pytest.mark.slow]


def field_of(built: Path) -> str:
    (field,) = sorted(set(exposures(built)["field"]))
    return field


def test_combined_catalogue_and_index_page(built):
    field = field_of(built)
    out = built / "FIELDS"
    phot = Table.read(out / field / "Mosaic" / f"{field}_phot.fits")
    catalog = Table.read(out / "catalog.fits")
    assert len(catalog) == len(phot) > 0
    assert set(catalog["field"]) == {field}
    assert list(catalog["id"]) == list(phot["id"])
    filters = sorted({p.lower() for p in exposures(built)["pupil"]})
    assert [c for c in catalog.colnames if c.startswith("mag_")] == [f"mag_{f}" for f in filters]
    assert np.isfinite(catalog[f"mag_{filters[0]}"]).sum() >= len(catalog) // 2
    assert (out / "catalog.csv").read_text().count("\n") == len(catalog) + 1
    page = (out / "index.html").read_text()
    assert f'<tr id="{field}" data-search="{field} ' in page
    # how the field's visits were aligned (every visit of the synthetic field to radec.txt)
    visits = Table.read(out / field / "Prep" / f"{field}_visits.ecsv", format="ascii.ecsv")
    assert f'<td class="text">local file {len(set(visits["visit"]))}</td>' in page
    # one inline script (sorting and search), no script file; the thumbnail inline too
    assert page.count("<script") == 1 and "<script src" not in page
    assert re.search(rf'<img src="data:image/png;base64,[^"]+" alt="{field}"', page)
    hrefs = [
        h for h in re.findall(r'href="([^"]+)"', page) if not h.startswith("#")
    ]  # not SVG defs
    assert hrefs and all("://" not in h and not h.startswith("/") for h in hrefs), hrefs
    for href in hrefs:  # every link of the page leads to a file of the build
        assert (out / href).exists(), href
    assert f"{field}/Mosaic/{field}_rgb.png" in hrefs or f"{field}/fitsmap/index.html" in hrefs


def test_report_builds_with_the_qc_plots(built, tmp_path):
    field = field_of(built)
    report = tmp_path / "report.html"
    snakemake(built, "--report", str(report))
    text = report.read_text()  # Snakemake 9 writes one self-contained HTML file (zip: .zip)
    assert text.lstrip().lower().startswith("<!doctype html")
    for name in (
        f"{field}_footprint.png",
        f"{field}_visits.png",
        f"{field}_rgb.png",
        "redshifts.png",
    ):
        assert name in text, name
    for label in ("footprints", "visit layout", "RGB image", "redshift distribution"):
        assert label in text, label
    assert "Survey" in text and field in text
