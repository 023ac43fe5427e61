"""Geometry of the synthetic NIRISS detector, shared by the scene renderer and the CRDS cache.

One source of truth: the distortion reference file in the synthetic CRDS cache must map pixels to
the sky exactly as :func:`exposure_wcs` does, so that jwst's ``assign_wcs`` and grizli see the
sources where the renderer put them.

How the pieces fit (all verified to < 1e-6 mas, see ``tests/unit/test_synthetic_crds.py``):

* :func:`detector_to_v2v3` is the DISTORTION reference transform: 0-based DMS pixel ``(x, y)`` ->
  telescope ``(V2, V3)`` in arcsec. It is a SIAF-like ideal frame (square pixels, parity
  :data:`VIDL_PARITY`, rotated by :data:`V3_IDL_YANG_DEG`) deprojected exactly (TAN) around the
  aperture reference point ``(V2_REF, V3_REF)``.
* jwst ``assign_wcs`` then rotates ``(V2, V3)`` onto the sky with the exposure keywords
  ``V2_REF, V3_REF, RA_REF, DEC_REF, ROLL_REF`` (``jwst.assign_wcs.pointing.v23tosky``).
* With ``ROLL_REF = PA_APER - V3I_YANG`` (:func:`roll_ref_from_pa_aper`) the composition equals the
  TAN WCS of :func:`exposure_wcs` exactly: both are rigid rotations of the same tangent plane.
"""

from __future__ import annotations

import numpy as np
from astropy.wcs import WCS

DETECTOR_SHAPE = (2048, 2048)  # full-frame NIS (columnjump needs full frame)
PIXEL_SCALE_ARCSEC = 0.0656  # NIRISS imaging pixel scale, square in the synthetic model
# Reference pixel of the full-frame aperture, 1-based FITS convention.
CRPIX = (1024.5, 1024.5)
# Width of the reference-pixel frame around the full-frame NIS array (DMS rows/columns 0-3 and
# 2044-2047): no light, no dark current, only bias and read noise (used by jwst refpix and by
# columnjump, which reads DMS columns 0:4 and 2044:2048).
REFERENCE_PIXEL_BORDER = 4

# SIAF-like constants of the synthetic full-frame aperture (close to the real NIS_CEN values).
APERTURE_NAME = "NIS_CEN"
V2_REF_ARCSEC = -290.1
V3_REF_ARCSEC = -697.5
V3_IDL_YANG_DEG = -0.57
VIDL_PARITY = -1


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


def roll_ref_from_pa_aper(pa_aper: float) -> float:
    """ROLL_REF (position angle of V3 at the reference point, deg) for an aperture PA."""
    return float(pa_aper) - V3_IDL_YANG_DEG


def ideal_to_v2v3_matrix() -> np.ndarray:
    """2x2 matrix: ideal-frame offsets (x_idl, y_idl) -> tangent-plane (dV2, dV3), SIAF convention.

    ``dV2 = P x cos(b) + y sin(b)``, ``dV3 = -P x sin(b) + y cos(b)`` with ``P = VIDL_PARITY`` and
    ``b = V3_IDL_YANG_DEG``.
    """
    beta = np.deg2rad(V3_IDL_YANG_DEG)
    parity = VIDL_PARITY
    return np.array([[parity * np.cos(beta), np.sin(beta)], [-parity * np.sin(beta), np.cos(beta)]])


def detector_to_v2v3():
    """astropy model: 0-based DMS pixel (x, y) -> (V2, V3) arcsec; invertible and ASDF-serialisable.

    Chain: shift to the reference pixel, scale to degrees, rotate/flip into the V2/V3 tangent plane,
    deproject (TAN) around the pole, move the pole to (V2_REF, V3_REF) on the V2/V3 sphere, arcsec.
    ``CartesianToSpherical(wrap_lon_at=180)`` keeps V2 negative (the jwst convention) instead of
    wrapping to 359.9 deg.
    """
    from astropy.modeling import models
    from astropy.modeling.rotations import RotationSequence3D
    from gwcs.geometry import CartesianToSpherical, SphericalToCartesian

    x0, y0 = CRPIX[0] - 1.0, CRPIX[1] - 1.0
    matrix = (PIXEL_SCALE_ARCSEC / 3600.0) * ideal_to_v2v3_matrix()
    to_pole = RotationSequence3D([V3_REF_ARCSEC / 3600.0, -V2_REF_ARCSEC / 3600.0], axes_order="yz")
    model = (
        (models.Shift(-x0) & models.Shift(-y0))
        | models.AffineTransformation2D(matrix=matrix)
        | models.Pix2Sky_TAN()
        | models.RotateNative2Celestial(0.0, 0.0, 180.0)
        | SphericalToCartesian(wrap_lon_at=180)
        | to_pole
        | CartesianToSpherical(wrap_lon_at=180)
        | (models.Scale(3600.0) & models.Scale(3600.0))
    )
    model.name = "synthetic_nis_distortion"
    return model


def v2v3_to_sky(v2_arcsec, v3_arcsec, ra_ref: float, dec_ref: float, pa_aper: float):
    """(RA, Dec) in degrees of telescope (V2, V3) arcsec, with the rotation jwst assign_wcs uses.

    Same angles and axis order as ``jwst.assign_wcs.pointing._v23tosky`` (written with astropy and
    gwcs only, so this module does not import jwst).
    """
    from astropy.modeling.rotations import RotationSequence3D
    from gwcs.geometry import CartesianToSpherical, SphericalToCartesian

    angles = [
        V2_REF_ARCSEC / 3600.0,
        -V3_REF_ARCSEC / 3600.0,
        roll_ref_from_pa_aper(pa_aper),
        dec_ref,
        -ra_ref,
    ]
    model = (
        SphericalToCartesian(wrap_lon_at=180)
        | RotationSequence3D(angles, axes_order="zyxyz")
        | CartesianToSpherical(wrap_lon_at=360)
    )
    return model(np.asarray(v2_arcsec) / 3600.0, np.asarray(v3_arcsec) / 3600.0)


def pointing_keywords(ra_ref: float, dec_ref: float, pa_aper: float) -> dict[str, float | int]:
    """Pointing keywords of an exposure, consistent with :func:`exposure_wcs` and the DISTORTION.

    Keys are jwst datamodel attribute names: ``wcsinfo.*`` (what assign_wcs reads), plus the V1
    boresight (``pointing.ra_v1``, ``dec_v1``, ``pa_v3``) and ``aperture.position_angle``.
    """
    from astropy.coordinates import SkyCoord

    ra_v1, dec_v1 = v2v3_to_sky(0.0, 0.0, ra_ref, dec_ref, pa_aper)
    ra_up, dec_up = v2v3_to_sky(0.0, 1.0, ra_ref, dec_ref, pa_aper)  # 1" towards +V3 at V1
    v1 = SkyCoord(float(ra_v1), float(dec_v1), unit="deg")
    pa_v3 = v1.position_angle(SkyCoord(float(ra_up), float(dec_up), unit="deg")).deg
    return {
        "wcsinfo.ra_ref": float(ra_ref),
        "wcsinfo.dec_ref": float(dec_ref),
        "wcsinfo.roll_ref": roll_ref_from_pa_aper(pa_aper),
        "wcsinfo.v2_ref": V2_REF_ARCSEC,
        "wcsinfo.v3_ref": V3_REF_ARCSEC,
        "wcsinfo.v3yangle": V3_IDL_YANG_DEG,
        "wcsinfo.vparity": VIDL_PARITY,
        "wcsinfo.siaf_xref_sci": CRPIX[0],
        "wcsinfo.siaf_yref_sci": CRPIX[1],
        "aperture.position_angle": float(pa_aper),
        "pointing.ra_v1": float(ra_v1),
        "pointing.dec_v1": float(dec_v1),
        "pointing.pa_v3": float(pa_v3) % 360.0,
    }


# --- Readout ------------------------------------------------------------------------------------
# Full-frame NIRISS readout (JWST user documentation, jwst test suites): one frame of the 2048x2048
# array takes TFRAME = 10.73677 s. The NIS pattern averages NFRAMES = 4 frames on board into each
# downlinked group with no skipped frames, so TGROUP = 4 * TFRAME = 42.94708 s. (NISRAPID: 1 frame.)
FRAME_TIME_S = 10.73677
NIS_NFRAMES = 4
NIS_GROUPGAP = 0
AMPLIFIER_ROWS = 512  # four outputs; in DMS orientation each covers 512 rows (detector columns)


def group_time(nframes: int = NIS_NFRAMES, groupgap: int = NIS_GROUPGAP) -> float:
    """TGROUP in seconds."""
    return (nframes + groupgap) * FRAME_TIME_S


def group_mean_times(
    ngroups: int, nframes: int = NIS_NFRAMES, groupgap: int = NIS_GROUPGAP
) -> np.ndarray:
    """Mean exposure time (s since reset) of each group: the average of its frames' read times.

    Frame ``j`` (1-based) is read ``j * TFRAME`` after the reset; group ``g`` (0-based) averages
    frames ``g * (nframes + groupgap) + 1 ... + nframes``. The dark reference stores dark current
    times these times, and the ramp writer accumulates charge the same way.
    """
    first = np.arange(ngroups) * (nframes + groupgap) + 1
    return (first + (nframes - 1) / 2.0) * FRAME_TIME_S
