"""Geometry of the synthetic NIRISS detector, shared by the scene renderer and the CRDS cache.

One source of truth: the distortion reference file in the synthetic CRDS cache must map pixels to
the sky exactly as :func:`exposure_wcs` does, so that jwst's ``assign_wcs`` and grizli see the
sources where the renderer put them.
"""

from __future__ import annotations

import numpy as np
from astropy.wcs import WCS

DETECTOR_SHAPE = (2048, 2048)  # full-frame NIS (columnjump needs full frame)
PIXEL_SCALE_ARCSEC = 0.0656  # NIRISS imaging pixel scale, square in the synthetic model
# Reference pixel of the full-frame aperture, 1-based FITS convention.
CRPIX = (1024.5, 1024.5)


def exposure_wcs(ra_ref: float, dec_ref: float, pa_aper: float) -> WCS:
    """Celestial TAN WCS of a full-frame exposure pointed at (``ra_ref``, ``dec_ref``) degrees.

    ``pa_aper`` is the position angle (degrees east of north) of the detector +y axis. With
    ``pa_aper = 0`` north is up and east is left, as on the sky.
    """
    theta = np.deg2rad(pa_aper)
    scale = PIXEL_SCALE_ARCSEC / 3600.0
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [ra_ref, dec_ref]
    wcs.wcs.crpix = list(CRPIX)
    wcs.wcs.cd = scale * np.array([[-np.cos(theta), np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    wcs.pixel_shape = DETECTOR_SHAPE[::-1]
    return wcs
