"""Noise-free count-rate images (DN/s, sky included) of the synthetic scene for one exposure.

Direct images (``NIS_IMAGE``): each source is a PSF-convolved Sersic profile (stars: the PSF)
normalised to ``10**(-0.4 * (mag - ZEROPOINT_AB[filter]))`` DN/s, on a uniform sky.

Dispersed images (``NIS_WFSS``): forward-modelled with grizli's ``GrismFLT`` and the synthetic
configuration of :mod:`.grismconf` under ``grizli_root`` — a direct reference image and a
segmentation map are built on the exposure WCS and every source is dispersed (all beams: 1st,
0th and 2nd order) with its :func:`.scene.spectrum`, then the sky (level times the WFSS sky flat
grizli will use) is added.

grizli facts used here (1.14.3):

* ``GrismFLT`` needs a grism FITS *file* (it calls ``os.path.exists``); ``direct_file=''`` makes it
  reuse the grism file as the direct image. We write a minimal file to a temporary folder: primary
  ``INSTRUME/DETECTOR/FILTER(grism)/PUPIL(blocking filter)/EXPTIME/FWCPOS``, ``SCI/ERR/DQ`` with the
  exposure WCS and ``CONFFILE`` (absolute path of the conf, so ``$GRIZLI`` need not be set before
  grizli was imported).
* The reference image and segmentation map are assigned directly (``flt.direct.data['REF']`` and
  ``flt.seg``, padded) instead of being blotted, which avoids drizzle and is exact.
* The pad must be symmetric (an asymmetric pad breaks the GR150R WCS after a save/reload).
* The conf is defined in grizli's rotated frame: ``transform_JWST_WFSS()`` rotates data, seg and
  model (``np.rot90``, k=-1 for GR150R, k=2 for GR150C); calling it again rotates back.
* With ``is_cgs=True`` the dispersed flux of a source is ``spectrum * sensitivity`` integrated over
  each pixel, distributed like the reference image *within the source's segment*: the reference
  image's units do not matter, only its shape.
* grizli's numba kernels are compiled on first use (not cached): the first grism render in a
  process pays a few seconds more.
"""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table
from scipy.signal import fftconvolve

from wfsspipe.atomic import atomic_path

from . import grismconf, instrument, scene

log = logging.getLogger(__name__)

# AB magnitude of a source giving 1 DN/s in the direct image: mag = ZP - 2.5 log10(DN/s).
# Values are grismconf.imaging_zeropoint() of the synthetic throughput model (JWST area
# 25.4 m2, peak throughputs 0.27/0.32/0.36, gain 1.61 e/DN); a unit test keeps them in step.
ZEROPOINT_AB = {"F115W": 26.851, "F150W": 26.998, "F200W": 27.180}
# Sky levels in DN/s per pixel. The dispersed sky is brighter than the direct one here and shaped
# by the WFSS sky flat (CONF/nis-{pupil}-{filter}_skyflat.fits in lower case, median 1).
SKY_DIRECT_DN_S = {"F115W": 0.20, "F150W": 0.25, "F200W": 0.32}
SKY_GRISM_DN_S = {"F115W": 0.45, "F150W": 0.55, "F200W": 0.75}
# PSF: Gaussian core (FWHM below) carrying PSF_CORE_FRACTION of the flux plus a 3x wider halo.
PSF_FWHM_ARCSEC = {"F115W": 0.040, "F150W": 0.050, "F200W": 0.066}
PSF_CORE_FRACTION = 0.85
PSF_HALO_SCALE = 3.0
OVERSAMPLE = 5  # sub-pixels per pixel per axis when rendering stamps
# Sources are truncated at MAX_STAMP_RADIUS - 1 px (1.9"): with scene.make_scene's default
# minimum separation of 4" (61 px) a circular aperture of MAX_STAMP_RADIUS px around any source
# holds all of its flux and none of its neighbours'.
MAX_STAMP_RADIUS = 30
GRISM_PAD = 256  # symmetric pad (px) so sources just off the detector still disperse onto it
SEGMENT_THRESHOLD = 1e-3  # segment = stamp pixels above this fraction of the stamp peak
IMAGING_TYPES = ("NIS_IMAGE",)
WFSS_TYPES = ("NIS_WFSS",)


@dataclass(frozen=True)
class Exposure:
    """Pointing and optical elements of one exposure, with JWST keyword meanings.

    ``filter`` is the FILTER keyword (``CLEAR`` for direct images, ``GR150R``/``GR150C`` for
    grism exposures) and ``pupil`` the PUPIL keyword (blocking filter ``F115W``/``F150W``/
    ``F200W``), as NIRISS writes them.
    """

    ra_ref: float
    dec_ref: float
    pa_aper: float
    filter: str
    pupil: str
    exp_type: str

    @classmethod
    def coerce(cls, value) -> Exposure:
        if isinstance(value, Exposure):
            return value
        if isinstance(value, Mapping) or hasattr(value, "colnames"):
            keys = ("ra_ref", "dec_ref", "pa_aper", "filter", "pupil", "exp_type")
            try:
                return cls(*(value[k] for k in keys))
            except KeyError as err:
                raise KeyError(f"exposure description lacks {err}; needs {keys}") from None
        raise TypeError(f"cannot read an exposure from {type(value).__name__}")

    def __post_init__(self):
        object.__setattr__(self, "filter", str(self.filter).upper())
        object.__setattr__(self, "pupil", str(self.pupil).upper())
        object.__setattr__(self, "exp_type", str(self.exp_type).upper())
        if self.pupil not in ZEROPOINT_AB:
            raise ValueError(f"PUPIL {self.pupil!r} is not a supported blocking filter")
        if self.exp_type in WFSS_TYPES and self.filter not in grismconf.GRISMS:
            raise ValueError(f"NIS_WFSS exposure needs FILTER GR150R/GR150C, got {self.filter!r}")
        if self.exp_type in IMAGING_TYPES and self.filter != "CLEAR":
            raise ValueError(f"NIS_IMAGE exposure needs FILTER CLEAR, got {self.filter!r}")
        if self.exp_type not in IMAGING_TYPES + WFSS_TYPES:
            raise ValueError(f"unsupported EXP_TYPE {self.exp_type!r}")

    @property
    def is_grism(self) -> bool:
        return self.exp_type in WFSS_TYPES


def exposure_meta(exposure) -> dict:
    """FITS keywords describing the rendered exposure (for the UNCAL writer)."""
    exposure = Exposure.coerce(exposure)
    meta = {
        "TELESCOP": "JWST",
        "INSTRUME": "NIRISS",
        "DETECTOR": "NIS",
        "FILTER": exposure.filter,
        "PUPIL": exposure.pupil,
        "EXP_TYPE": exposure.exp_type,
        "RA_REF": exposure.ra_ref,
        "DEC_REF": exposure.dec_ref,
        "PA_APER": exposure.pa_aper,
        "BUNIT": "DN/s",
        "ZP_AB": ZEROPOINT_AB[exposure.pupil],
        "SKYLEVEL": (SKY_GRISM_DN_S if exposure.is_grism else SKY_DIRECT_DN_S)[exposure.pupil],
    }
    if exposure.is_grism:
        meta["FWCPOS"] = grismconf.FWCPOS_REF[exposure.filter]
    return meta


def flux_dn_s(mag: float, filter_name: str) -> float:
    """Count rate (DN/s) of an AB magnitude in the direct image of ``filter_name``."""
    return float(10 ** (-0.4 * (mag - ZEROPOINT_AB[filter_name.upper()])))


# --- Source profiles ---------------------------------------------------------------------------
def _sersic_b(n: float) -> float:
    return 2.0 * n - 1.0 / 3.0 + 4.0 / (405.0 * n) + 46.0 / (25515.0 * n**2)


def _psf(dx: np.ndarray, dy: np.ndarray, sigma_px: float) -> np.ndarray:
    """Unnormalised core + halo PSF on pixel offsets."""
    r2 = dx**2 + dy**2
    halo = sigma_px * PSF_HALO_SCALE
    core = PSF_CORE_FRACTION / sigma_px**2 * np.exp(-0.5 * r2 / sigma_px**2)
    wide = (1 - PSF_CORE_FRACTION) / halo**2 * np.exp(-0.5 * r2 / halo**2)
    return core + wide


def _local_jacobian(wcs, x: float, y: float) -> np.ndarray:
    """2x2 matrix mapping pixel offsets to (east, north) arcsec at (x, y), 0-based."""
    world = wcs.all_pix2world(np.array([[x, y], [x + 1, y], [x, y + 1]]), 0)
    cos_dec = np.cos(np.deg2rad(world[0, 1]))
    d_ra = (world[1:, 0] - world[0, 0] + 180.0) % 360.0 - 180.0
    east = d_ra * cos_dec * 3600.0
    north = (world[1:, 1] - world[0, 1]) * 3600.0
    return np.array([east, north])  # columns: d/dx, d/dy


def _stamp(row, x0: float, y0: float, jac: np.ndarray, filter_name: str):
    """Normalised (sum 1) image of one source; returns (stamp, x_start, y_start)."""
    scale = np.sqrt(abs(np.linalg.det(jac)))  # arcsec per pixel
    sigma_px = PSF_FWHM_ARCSEC[filter_name] / 2.3548 / scale
    is_star = row["kind"] == "star" or row["re_arcsec"] <= 0
    re_px = 0.0 if is_star else row["re_arcsec"] / scale
    radius = int(np.clip(np.ceil(5 * re_px + 4 * sigma_px * PSF_HALO_SCALE), 8, MAX_STAMP_RADIUS))
    ix, iy = int(np.round(x0)), int(np.round(y0))
    size = 2 * radius + 1
    sub = (np.arange(size * OVERSAMPLE) + 0.5) / OVERSAMPLE - 0.5 - radius
    dxs = sub[None, :] + ix - x0
    dys = sub[:, None] + iy - y0
    if is_star:
        fine = _psf(dxs, dys, sigma_px)
    else:
        east = jac[0, 0] * dxs + jac[0, 1] * dys
        north = jac[1, 0] * dxs + jac[1, 1] * dys
        pa = np.deg2rad(row["pa_deg"])
        major = east * np.sin(pa) + north * np.cos(pa)
        minor = east * np.cos(pa) - north * np.sin(pa)
        r = np.hypot(major, minor / row["axis_ratio"])
        n = row["sersic_n"]
        fine = np.exp(-_sersic_b(n) * (r / row["re_arcsec"]) ** (1.0 / n))
        half = int(np.ceil(4 * sigma_px * PSF_HALO_SCALE * OVERSAMPLE))
        kgrid = np.arange(-half, half + 1) / OVERSAMPLE
        kernel = _psf(kgrid[None, :], kgrid[:, None], sigma_px)
        fine = fftconvolve(fine, kernel / kernel.sum(), mode="same")
    stamp = fine.reshape(size, OVERSAMPLE, size, OVERSAMPLE).sum(axis=(1, 3))
    # Circular footprint: pixel centres within radius - 1 of the source centre (so that the
    # whole footprint lies inside a circular aperture of ``radius`` px); total flux exactly 1.
    offsets = np.arange(size) - radius
    inside = np.hypot(offsets[None, :] + ix - x0, offsets[:, None] + iy - y0) <= radius - 1
    stamp = np.where(inside, np.clip(stamp, 0, None), 0.0)
    return stamp / stamp.sum(), ix - radius, iy - radius


def render_sources(truth: Table, wcs, filter_name: str, shape, offset: int = 0):
    """Source-only image (DN/s in ``filter_name``) and int32 segmentation map on a pixel grid.

    ``offset`` pads the grid: array index = detector pixel + ``offset`` (grizli's symmetric pad).
    Overlapping pixels belong to the source that contributes most.
    """
    filter_name = filter_name.upper()
    image = np.zeros(shape, dtype=np.float64)
    seg = np.zeros(shape, dtype=np.int32)
    best = np.zeros(shape, dtype=np.float64)
    xs, ys = wcs.all_world2pix(np.asarray(truth["ra"]), np.asarray(truth["dec"]), 0)
    for row, x_det, y_det in zip(truth, xs, ys):
        x0, y0 = x_det + offset, y_det + offset
        if not (
            -MAX_STAMP_RADIUS < x0 < shape[1] + MAX_STAMP_RADIUS
            and -MAX_STAMP_RADIUS < y0 < shape[0] + MAX_STAMP_RADIUS
        ):
            continue
        stamp, xs0, ys0 = _stamp(row, x0, y0, _local_jacobian(wcs, x_det, y_det), filter_name)
        stamp = stamp * flux_dn_s(row[scene.MAG_COLUMNS[filter_name]], filter_name)
        # Clip the stamp to the grid.
        y_lo, x_lo = max(ys0, 0), max(xs0, 0)
        y_hi = min(ys0 + stamp.shape[0], shape[0])
        x_hi = min(xs0 + stamp.shape[1], shape[1])
        if y_lo >= y_hi or x_lo >= x_hi:
            continue
        part = stamp[y_lo - ys0 : y_hi - ys0, x_lo - xs0 : x_hi - xs0]
        window = (slice(y_lo, y_hi), slice(x_lo, x_hi))
        image[window] += part
        claim = (part > SEGMENT_THRESHOLD * stamp.max()) & (part > best[window])
        seg[window][claim] = row["id"]
        best[window][claim] = part[claim]
    return image, seg


# --- Grism forward model -----------------------------------------------------------------------
def _conf_path(grizli_root: Path, exposure: Exposure) -> Path:
    path = Path(grizli_root) / "CONF" / grismconf.conf_filename(exposure.filter, exposure.pupil)
    if not path.exists():
        raise FileNotFoundError(
            f"grism configuration {path} not found; write it first with "
            f"wfsssim.grismconf.write_grizli_config({grizli_root!s})"
        )
    return path


def sip_header(wcs) -> fits.Header:
    """CD + SIP FITS header of ``wcs`` (zero SIP terms if it has no distortion).

    grizli's ``transform_JWST_WFSS`` rotates the WCS with ``utils.sip_rot90``, which needs
    ``CDi_j`` and ``A_ORDER``/``B_ORDER`` keywords (grizli-prepared JWST files carry a
    SIP approximation of the gwcs).
    """
    header = wcs.to_header(relax=True)
    for key in [k for k in header if k.startswith(("PC", "CDELT", "CD"))]:
        del header[key]
    cd = wcs.wcs.cd if wcs.wcs.has_cd() else wcs.pixel_scale_matrix
    for i in range(2):
        for j in range(2):
            header[f"CD{i + 1}_{j + 1}"] = float(cd[i, j])
    if wcs.sip is None:
        header["CTYPE1"], header["CTYPE2"] = "RA---TAN-SIP", "DEC--TAN-SIP"
        for axis in ("A", "B"):
            header[f"{axis}_ORDER"] = 2
            for i, j in ((2, 0), (1, 1), (0, 2)):
                header[f"{axis}_{i}_{j}"] = 0.0
    return header


def _write_grism_stub(path: Path, exposure: Exposure, conf_file: Path) -> None:
    """Minimal NIRISS WFSS file GrismFLT can open (zeros; the model is what we want)."""
    wcs = instrument.exposure_wcs(exposure.ra_ref, exposure.dec_ref, exposure.pa_aper)
    primary = fits.PrimaryHDU()
    for key, value in exposure_meta(exposure).items():
        primary.header[key] = value
    primary.header["EXPTIME"] = 1.0
    sci_header = sip_header(wcs)
    sci_header["CONFFILE"] = str(conf_file)
    sci_header["BUNIT"] = "DN/s"
    shape = instrument.DETECTOR_SHAPE
    hdul = fits.HDUList(
        [
            primary,
            fits.ImageHDU(np.zeros(shape, np.float32), header=sci_header, name="SCI"),
            fits.ImageHDU(np.ones(shape, np.float32), header=sci_header, name="ERR"),
            fits.ImageHDU(np.zeros(shape, np.int16), header=sci_header, name="DQ"),
        ]
    )
    hdul.writeto(path, overwrite=True)


def _spectrum_grid(pupil: str) -> np.ndarray:
    lo, hi = grismconf.FILTER_EDGES_ANGSTROM[pupil]
    return np.arange(lo - 1500.0, hi + 1500.0, 1.0)


def dispersed_sources(truth: Table, exposure, grizli_root: Path) -> np.ndarray:
    """grizli model (DN/s, no sky) of all sources for a grism exposure, detector frame."""
    from grizli import model as grizli_model

    exposure = Exposure.coerce(exposure)
    conf_file = _conf_path(grizli_root, exposure)
    wcs = instrument.exposure_wcs(exposure.ra_ref, exposure.dec_ref, exposure.pa_aper)
    ny, nx = instrument.DETECTOR_SHAPE
    padded_shape = (ny + 2 * GRISM_PAD, nx + 2 * GRISM_PAD)
    reference, seg = render_sources(truth, wcs, exposure.pupil, padded_shape, offset=GRISM_PAD)

    grizli_log = io.StringIO()
    with (
        tempfile.TemporaryDirectory(prefix="wfsspipe-render-") as tmp,
        contextlib.redirect_stdout(grizli_log),
    ):
        stub = Path(tmp) / "synthetic_rate.fits"
        _write_grism_stub(stub, exposure, conf_file)
        flt = grizli_model.GrismFLT(
            grism_file=str(stub),
            sci_extn=1,
            direct_file="",
            pad=(GRISM_PAD, GRISM_PAD),
            ref_file=None,
            seg_file=None,
            shrink_segimage=False,
            verbose=False,
        )
    if tuple(flt.direct.sh) != padded_shape:
        raise RuntimeError(f"grizli padded the frame to {flt.direct.sh}, expected {padded_shape}")
    flt.direct.data["REF"] = reference.astype(np.float32)
    flt.seg = seg.astype(np.float32)
    flt.transform_JWST_WFSS(verbose=False)  # into the conf's frame (dispersion towards +x)

    wave = _spectrum_grid(exposure.pupil)
    with contextlib.redirect_stdout(grizli_log):
        for row in truth:
            if not np.any(flt.seg == row["id"]):
                continue  # off the padded frame
            flt.compute_model_orders(
                id=int(row["id"]),
                compute_size=True,
                mag=-1,
                spectrum_1d=[wave, scene.spectrum(row, wave)],
                is_cgs=True,
                in_place=True,
                store=False,
                verbose=False,
            )
    flt.transform_JWST_WFSS(verbose=False)  # back to the detector frame
    if grizli_log.getvalue().strip():
        log.debug("grizli: %s", grizli_log.getvalue().strip())
    return np.asarray(flt.model[GRISM_PAD:-GRISM_PAD, GRISM_PAD:-GRISM_PAD], dtype=np.float64)


def read_skyflat(grizli_root: Path, exposure) -> np.ndarray:
    """The WFSS sky flat grizli will use for this exposure (median 1)."""
    exposure = Exposure.coerce(exposure)
    path = Path(grizli_root) / "CONF" / grismconf.skyflat_filename(exposure.filter, exposure.pupil)
    with fits.open(path) as hdul:
        flat = np.asarray(hdul[1 if len(hdul) > 1 else 0].data, dtype=np.float64)
    return flat / np.nanmedian(flat)


def render_rate(
    truth: Table,
    exposure,
    grizli_root: Path,
    sky: bool = True,
    pixel_flat: np.ndarray | None = None,
) -> np.ndarray:
    """Noise-free 2048x2048 float32 count-rate image (DN/s) of ``truth`` for one exposure.

    The reference-pixel border (``instrument.REFERENCE_PIXEL_BORDER``) is 0: it sees no light.

    ``exposure``: :class:`Exposure` or a mapping with ``ra_ref, dec_ref, pa_aper, filter, pupil,
    exp_type``. ``sky=False`` leaves the sky out (tests, QA). ``pixel_flat`` (detector pixel
    response, e.g. the synthetic CRDS flat) multiplies the whole image, so that flat-fielding in
    the pipeline recovers sources and sky as rendered; default: a perfect detector.
    """
    exposure = Exposure.coerce(exposure)
    if exposure.is_grism:
        image = dispersed_sources(truth, exposure, grizli_root)
        if sky:
            image += SKY_GRISM_DN_S[exposure.pupil] * read_skyflat(grizli_root, exposure)
    else:
        wcs = instrument.exposure_wcs(exposure.ra_ref, exposure.dec_ref, exposure.pa_aper)
        image, _ = render_sources(truth, wcs, exposure.pupil, instrument.DETECTOR_SHAPE)
        if sky:
            image += SKY_DIRECT_DN_S[exposure.pupil]
    if pixel_flat is not None:
        image *= pixel_flat
    border = instrument.REFERENCE_PIXEL_BORDER  # reference pixels see no light
    if border:
        image[:border, :] = image[-border:, :] = 0.0
        image[:, :border] = image[:, -border:] = 0.0
    return image.astype(np.float32)


def render_exposure(truth: Table, exposure, grizli_root: Path, **kwargs):
    """(rate image, metadata) for one exposure: what the UNCAL writer needs."""
    return render_rate(truth, exposure, grizli_root, **kwargs), exposure_meta(exposure)


# --- Helpers for checks and alignment ----------------------------------------------------------
def _to_grizli_frame(x, y, grism: str, n: int):
    """Detector (0-based, padded array of size n) -> grizli's rotated frame (np.rot90)."""
    if grism == "GR150R":  # k = -1: a[r, c] -> out[c, n-1-r]
        return n - 1 - np.asarray(y), np.asarray(x)
    return n - 1 - np.asarray(x), n - 1 - np.asarray(y)  # GR150C, k = 2


def _from_grizli_frame(xr, yr, grism: str, n: int):
    if grism == "GR150R":
        return np.asarray(yr), n - 1 - np.asarray(xr)
    return n - 1 - np.asarray(xr), n - 1 - np.asarray(yr)


def trace_position(
    exposure, grizli_root: Path, ra: float, dec: float, wavelength: float, beam: str = "A"
):
    """Detector pixel (x, y, 0-based) where the conf puts ``wavelength`` for a source at ra, dec.

    Follows grizli: the source position goes to the rotated, padded frame; the conf is evaluated
    at the 1-based unpadded position; a pixel ``dx`` away along +x receives wavelength
    ``lambda(dx)``; the trace centre is ``dy(dx)`` away across.
    """
    from grizli import grismconf as grizli_grismconf

    exposure = Exposure.coerce(exposure)
    conf = grizli_grismconf.load_grism_config(
        str(_conf_path(grizli_root, exposure)), warnings=False
    )
    wcs = instrument.exposure_wcs(exposure.ra_ref, exposure.dec_ref, exposure.pa_aper)
    n = instrument.DETECTOR_SHAPE[0] + 2 * GRISM_PAD
    x, y = wcs.all_world2pix(ra, dec, 0)
    xr, yr = _to_grizli_frame(x + GRISM_PAD, y + GRISM_PAD, exposure.filter, n)
    lo, hi = conf.conf[f"BEAM{beam}"]
    dx = np.arange(lo, hi + 1, 0.05)
    dy, lam = conf.get_beam_trace(x=xr + 1 - GRISM_PAD, y=yr + 1 - GRISM_PAD, dx=dx, beam=beam)
    order = np.argsort(lam)
    dx_at = float(np.interp(wavelength, lam[order], dx[order]))
    dy_at = float(np.interp(dx_at, dx, dy))
    xd, yd = _from_grizli_frame(xr + dx_at, yr + dy_at, exposure.filter, n)
    return float(xd) - GRISM_PAD, float(yd) - GRISM_PAD


def write_radec_catalog(
    truth: Table, path, max_mag: float | None = None, mag_column: str = "mag_f150w"
) -> None:
    """Alignment catalogue for grizli's ``radec`` arguments.

    grizli reads it with ``np.loadtxt``: two whitespace-separated columns ra dec (degrees), '#'
    comments allowed (``catalog.table_to_radec`` writes the same ``# ra dec`` layout).
    """
    keep = np.ones(len(truth), bool) if max_mag is None else truth[mag_column] < max_mag
    lines = ["# ra dec"] + [
        f"{ra:.8f} {dec:.8f}" for ra, dec in zip(truth["ra"][keep], truth["dec"][keep])
    ]
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
