"""mosaic: RGB channels, mosaic size from the footprints, memory requests."""

from __future__ import annotations

import numpy as np
import pytest

from wfsspipe.mosaic import (
    MosaicError,
    catalog_mem_mb,
    filter_mem_mb,
    mosaic_megapixels,
    rgb_channels,
)


@pytest.mark.parametrize(
    ("pivots", "expected"),
    [
        ({"f200w": 19930.0}, ["f200w", "f200w", "f200w"]),
        ({"f200w": 19930.0, "f150w": 14934.0}, ["f200w", "sum", "f150w"]),
        ({"f115w": 11540.0, "f200w": 19930.0, "f150w": 14934.0}, ["f200w", "f150w", "f115w"]),
        ({"f090w": 9000.0, "f115w": 11540.0, "f150w": 14934.0, "f200w": 19930.0},
         ["f200w", "f150w", "f090w"]),
    ],
)  # fmt: skip
def test_rgb_channels_follow_the_pivot_wavelengths(pivots, expected):
    assert rgb_channels(pivots) == expected
    with pytest.raises(MosaicError):
        rgb_channels({})


def square(ra, dec, side_arcsec, angle_deg=0.0):
    half = side_arcsec / 2 / 3600
    corners = np.array([[-half, -half], [half, -half], [half, half], [-half, half]])
    theta = np.deg2rad(angle_deg)
    rotation = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    corners = corners @ rotation.T
    return np.column_stack([ra + corners[:, 0] / np.cos(np.deg2rad(dec)), dec + corners[:, 1]])


def test_mosaic_megapixels_of_a_footprint():
    # 120" square, 6" pad, 0.04"/px: (132 / 0.04)^2 = 10.89 Mpx; also across RA 0.
    assert mosaic_megapixels([square(150.0, 2.0, 120)], 0.04, 6.0) == pytest.approx(10.89, rel=1e-3)
    assert mosaic_megapixels([square(0.0, -30.0, 120)], 0.04, 6.0) == pytest.approx(10.89, rel=1e-3)
    # Rotated by 45 deg, the north-up box is twice the area.
    rotated = mosaic_megapixels([square(150.0, 2.0, 120, 45)], 0.04, 0.0)
    assert rotated == pytest.approx(2 * (120 / 0.04) ** 2 / 1e6, rel=1e-3)


def test_memory_requests_grow_with_the_mosaic_and_attempt():
    # Measured on the demo field: a 25 Mpx filter mosaic of 2 exposures 1.0 GB; the catalogue
    # of 2 filters 2.55 GB. Each request covers its measurement.
    assert 1000 < filter_mem_mb(25.0, 2) < 1.5 * 1000
    assert 2550 < catalog_mem_mb(25.0, 2) < 1.5 * 2550
    assert filter_mem_mb(50.0, 2) > filter_mem_mb(25.0, 2) < filter_mem_mb(25.0, 10)
    assert catalog_mem_mb(25.0, 3, attempt=3) == pytest.approx(2 * catalog_mem_mb(25.0, 3), abs=1)
