"""A small hand-built field for the web map tests: the products of mosaic, contam and zfit that
``wfsspipe.webmap`` reads, in the layout and with the columns of the upstream stages' contract."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS
from PIL import Image

FIELD = "sex-00"
SHAPE = (520, 600)  # (ny, nx) of the mosaic grid: tiles at zoom 0-2 (1024-pixel square)
FILTERS = ("f150w", "f200w")
LINES = ["Ha", "OIII", "Hb"]
MODEL_RGB = {
    "GR150R PA 036": f"{FIELD}_gr150r-pa036_models_rgb.png",
    "GR150C PA 126": f"{FIELD}_gr150c-pa126_models_rgb.png",
}
# id, (x, y) 0-based mosaic pixel, status, z, z_lo, z_hi, quality, {line: (flux, err)}
SOURCES = [
    (11, (150.0, 120.0), "ok", 1.3512, 1.3490, 1.3531, 2,
     {"Ha": (2.1e-17, 1.7e-18), "OIII": (3.0e-18, 1.5e-18), "Hb": (np.nan, np.nan)}),
    (12, (420.0, 380.0), "ok", 0.8503, 0.8471, 0.8540, 1,
     {"Ha": (np.nan, np.nan), "OIII": (6.0e-18, 1.0e-18), "Hb": (1.0e-18, 1.0e-18)}),
    (13, (300.0, 250.0), "failed", np.nan, np.nan, np.nan, 0, {}),
]  # fmt: skip


def grid_wcs() -> WCS:
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [150.1, 2.2]
    wcs.wcs.crpix = [SHAPE[1] / 2 + 0.5, SHAPE[0] / 2 + 0.5]
    wcs.wcs.cd = [[-0.04 / 3600, 0], [0, 0.04 / 3600]]
    return wcs


def _image(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    data = rng.normal(0, 0.01, SHAPE).astype(np.float32)
    yy, xx = np.mgrid[: SHAPE[0], : SHAPE[1]]
    for _, (x, y), *_ in SOURCES:
        data += np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * 3.0**2)).astype(np.float32)
    data[:40, :] = 0  # an empty strip, as at a mosaic's edge
    return data


def _png(path: Path, size: tuple[int, int], colour: tuple[int, int, int]) -> None:
    """An RGB PNG of ``size`` (nx, ny): ``colour`` with a white disk at every source."""
    nx, ny = size
    yy, xx = np.mgrid[:ny, :nx]
    rgb = np.zeros((ny, nx, 3), np.uint8)
    rgb[...] = colour
    for _, (x, y), *_ in SOURCES:  # PNG rows run from the top (north): flip y
        near = (xx - x * nx / SHAPE[1]) ** 2 + (yy - (SHAPE[0] - 1 - y) * ny / SHAPE[0]) ** 2 < 36
        rgb[near] = 255
    Image.fromarray(rgb).save(path)


def _plot(path: Path, text_colour: int) -> None:
    Image.fromarray(np.full((60, 120, 3), text_colour, np.uint8)).save(path)


def make_field(fields_dir: Path) -> Path:
    """Write the field's Mosaic/, Contam/ and Redshifts/ products; returns the field folder."""
    root = fields_dir / FIELD
    mosaic, contam, redshifts = (root / d for d in ("Mosaic", "Contam", "Redshifts"))
    for folder in (mosaic, contam, redshifts):
        folder.mkdir(parents=True, exist_ok=True)
    header = grid_wcs().to_header()
    for seed, name in enumerate(("ir", *FILTERS)):
        fits.PrimaryHDU(_image(seed), header).writeto(
            mosaic / f"{FIELD}-{name}_drz_sci.fits", overwrite=True
        )
    # grizli's field_rgb draws the RGB at its own size (800 pixels on the demo field): half here
    _png(mosaic / f"{FIELD}_rgb.png", (SHAPE[1] // 2, SHAPE[0] // 2), (20, 20, 60))
    for colour, name in zip(((80, 0, 0), (0, 0, 80)), MODEL_RGB.values()):
        _png(contam / name, (SHAPE[1], SHAPE[0]), colour)
    fits.PrimaryHDU(header=header).writeto(contam / f"{FIELD}_models_wcs.fits", overwrite=True)
    table = Table({"id": [s[0] for s in SOURCES], "kind": ["galaxy"] * len(SOURCES)})
    table.meta["model_rgb"] = dict(MODEL_RGB)
    table.meta["model_rgb_wcs"] = f"{FIELD}_models_wcs.fits"
    table.write(contam / f"{FIELD}_contam.ecsv", overwrite=True)
    write_redshifts(redshifts)
    return root


def write_redshifts(folder: Path) -> Table:
    ra, dec = grid_wcs().wcs_pix2world([s[1][0] for s in SOURCES], [s[1][1] for s in SOURCES], 0)
    rows = []
    for (source, _, status, z, z_lo, z_hi, quality, lines), r, d in zip(SOURCES, ra, dec):
        row = {"id": source, "ra": r, "dec": d, "status": status, "z": z, "z_lo": z_lo,
               "z_hi": z_hi, "chi2": 812.3 if status == "ok" else np.nan,
               "dof": 790 if status == "ok" else 0, "quality": quality}  # fmt: skip
        for line in LINES:
            flux, err = lines.get(line, (np.nan, np.nan))
            row[f"flux_{line}"], row[f"err_{line}"] = flux, err
            row[f"sn_{line}"] = flux / err if np.isfinite(flux) else np.nan
        for column, suffix in (("fit_plot", "full"), ("spectrum_plot", "spec"),
                               ("line_plot", "line")):  # fmt: skip
            name = f"{FIELD}_{source:05d}.{suffix}.png" if status == "ok" else ""
            row[column] = name
            if name:
                _plot(folder / name, 200)
        rows.append(row)
    table = Table(rows=rows)
    table.meta["LINES"] = list(LINES)
    table.write(folder / f"{FIELD}_redshifts.fits", overwrite=True)
    table.write(folder / f"{FIELD}_redshifts.csv", overwrite=True)
    return table
