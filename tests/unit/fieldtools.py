"""Builders of synthetic observation tables for the fields tests."""

from __future__ import annotations

import numpy as np
from astropy.table import Table

ARCSEC = 1 / 3600.0


def tangent_to_radec(ra0, dec0, x, y):
    """Inverse gnomonic projection: tangent-plane offsets (radians) about (ra0, dec0) to degrees.

    Straight lines in the tangent plane are great circles, so polygons built here have exactly
    great-circle edges.
    """
    ra0, dec0 = np.deg2rad(ra0), np.deg2rad(dec0)
    x, y = np.asarray(x, float), np.asarray(y, float)
    rho = np.hypot(x, y)
    c = np.arctan(rho)
    with np.errstate(invalid="ignore", divide="ignore"):
        dec = np.arcsin(
            np.cos(c) * np.sin(dec0) + np.where(rho > 0, y * np.sin(c) * np.cos(dec0) / rho, 0)
        )
        ra = ra0 + np.arctan2(
            x * np.sin(c), rho * np.cos(dec0) * np.cos(c) - y * np.sin(dec0) * np.sin(c)
        )
    return np.rad2deg(ra) % 360, np.rad2deg(dec)


def box_region(ra0, dec0, x0, x1, y0, y1):
    """POLYGON of the tangent-plane box [x0, x1] × [y0, y1] (arcsec) about (ra0, dec0)."""
    scale = np.deg2rad(ARCSEC)
    xs = np.tan(np.array([x0, x1, x1, x0]) * scale)
    ys = np.tan(np.array([y0, y0, y1, y1]) * scale)
    ra, dec = tangent_to_radec(ra0, dec0, xs, ys)
    centre = tangent_to_radec(
        ra0, dec0, np.tan((x0 + x1) / 2 * scale), np.tan((y0 + y1) / 2 * scale)
    )
    words = " ".join(f"{r:.13f} {d:.13f}" for r, d in zip(ra, dec))
    return f"POLYGON ICRS {words}", float(centre[0]), float(centre[1])


def exposure(number, region, t_min, program="1571", kind="NIRISS/WFSS", filters="GR150R;F150W"):
    text, ra, dec = region
    return {
        "obs_id": f"jw{int(program):05d}{number:03d}001_02101_00001_nis",
        "s_region": text,
        "s_ra": ra,
        "s_dec": dec,
        "t_min": float(t_min),
        "t_exptime": 1000.0,
        "filters": filters,
        "instrument_name": kind,
        "proposal_id": program,
        "dataURL": "",
        "t_obs_release": float(t_min) + 1,
        "dataRights": "PUBLIC",
    }


def table(rows) -> Table:
    return Table(rows=rows) if rows else Table(names=list(exposure(1, ("POLYGON", 0, 0), 60000)))
