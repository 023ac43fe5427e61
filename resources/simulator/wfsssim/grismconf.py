"""Synthetic NIRISS WFSS grism configuration in the layout grizli reads (``$GRIZLI``).

grizli ships no NIRISS configuration, sensitivity curves or WFSS sky flats. This module writes a
self-consistent synthetic set, so that the renderer (:mod:`.render`) and the real grizli steps of the
workflow (contamination models, extraction, redshift fits) use the *same* dispersion model::

    grizli_root/
      CONF/GR150{R,C}.{F115W,F150W,F200W}.221215.conf      aXe configuration (beams A, B, C)
      CONF/niriss_{grism}_{filter}_{beam}.sens.fits         sensitivity tables (WAVELENGTH, ...)
      CONF/nis-{f115w,f150w,f200w}-gr150{r,c}_skyflat.fits  WFSS sky flats (lower case!)
      templates -> <grizli package>/data/templates          redshift-fit templates

Facts about grizli 1.14.3 this relies on (see ``grizli/grismconf.py``, ``model.py``, ``prep.py``):

* ``grizli.GRIZLI_PATH`` is read from ``$GRIZLI`` **when grizli is first imported**; setting the
  variable later has no effect in that process. :mod:`.render` sidesteps this by putting the
  conf path in the grism header keyword ``CONFFILE``, which ``GrismFLT`` uses when present.
* ``get_config_filename('NIRISS', filter=<blocking filter>, grism=<GR150R|GR150C>)`` tries
  ``CONF/{grism}.{filter}.221215.conf``, then ``.220725.conf``, ``{grism}.{filter}.conf`` and
  ``NIRISS.{filter}.conf``. For NIRISS the FITS keyword ``FILTER`` holds the grism and ``PUPIL`` the
  blocking filter; ``GrismFLT`` passes ``PUPIL`` as the filter.
* The conf is defined in grizli's *rotated* frame, where wavelength increases towards +x:
  ``GrismFLT.transform_JWST_WFSS`` rotates the arrays with ``np.rot90(data, k)``, k = -1 for GR150R
  (detector dispersion towards -y, i.e. along columns) and k = 2 for GR150C (towards -x, along
  rows). ``multifit`` does this rotation itself; a bare ``GrismFLT`` is *not* rotated.
* ``load_grism_config`` applies NIRISS "hacks" keyed on the file name: a name containing ``.2212``
  (our ``221215``) gets no wavelength shift; any ``F150W`` conf has its beam-B (0th order)
  sensitivity multiplied by 1.5 after reading, so beam B must exist for F150W.
* Each beam needs ``BEAMx``, ``MMAG_EXTRACT_x``, ``XOFF_x``, ``YOFF_x``, ``DYDX_x_i``, ``DLDP_x_i``,
  ``SENSITIVITY_x`` (path relative to the conf file). ``DYDX_ORDER_x`` and ``FWCPOS_REF`` are read
  only when the grism header has ``FWCPOS`` (filter-wheel rotation); we write both, and an
  exposure whose ``FWCPOS`` equals ``FWCPOS_REF`` is unrotated. Lines containing a double quote
  are skipped by grizli's parser.
* Sensitivity: model counts in a pixel are ``integral f_lambda * SENSITIVITY d lambda`` over the
  pixel's wavelength range, so ``SENSITIVITY`` is (DN/s) / (erg/s/cm2/A), per A.
* ``prep.visit_grism_sky`` (via ``get_jwst_wfssbkg_file``) asks CRDS for the ``bkg`` reference,
  then uses ``$GRIZLI/CONF/nis-{PUPIL}-{FILTER}_skyflat.fits`` (lower case, e.g.
  ``nis-f150w-gr150r_skyflat.fits``) if it exists and its primary header has no ``DATE``. If CRDS
  answers ``N/A`` and ``ignoreNA`` is False (the default in ``process_direct_grism_visit``) grizli
  tries to open ``CONF/N/A``: the CRDS cache needs a NIS_WFSS ``bkg`` entry. It reads extension 1
  if the file has more than one HDU, else extension 0, and divides by the nan-median.
* ``utils.load_templates`` reads ``$GRIZLI/templates/*``; grizli ships those in
  ``grizli/data/templates``.
"""

from __future__ import annotations

import os
import shutil
import zlib
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table

from wfsspipe.atomic import atomic_path, write_text
from wfsspipe.niriss import FILTER_EDGES_ANGSTROM as NIRISS_FILTER_EDGES

from . import instrument

CONF_VERSION = "221215"  # the newest NIRISS conf name grizli 1.14.3 looks for
GRISMS = ("GR150R", "GR150C")
FILTERS = ("F115W", "F150W", "F200W")

# --- Throughput model --------------------------------------------------------------------------
# Blocking-filter half-power edges in Angstrom, of the filters the synthetic field has.
FILTER_EDGES_ANGSTROM = {f: NIRISS_FILTER_EDGES[f] for f in FILTERS}
# Peak total system throughput (telescope + NIRISS + filter + detector QE) in imaging mode.
PEAK_THROUGHPUT = {"F115W": 0.27, "F150W": 0.32, "F200W": 0.36}
TELESCOPE_AREA_CM2 = 25.4e4  # JWST unobstructed collecting area
GAIN_E_PER_DN = 1.61  # only used to express the throughput model in DN; not a CRDS gain
H_CGS = 6.62607015e-27
C_ANGSTROM_S = 2.99792458e18

# --- Dispersion model (synthetic, in grizli's rotated frame: wavelength increases to +x) -------
DISPERSION_A = 47.0  # Angstrom / pixel, first order (NIRISS GR150: ~47 A/px)
ZEROTH_ORDER_DX = -223.0  # pixels from the direct-image position to the 0th order (beam B)
# First order obeys the grating equation lambda = DISPERSION_A * (dx - ZEROTH_ORDER_DX); the second
# order has half the dispersion from the same origin.
GRISM_EFFICIENCY = {"A": 0.78, "B": 0.035, "C": 0.05}
# Synthetic filter-wheel reference positions; put FWCPOS = FWCPOS_REF[grism] in exposure headers.
FWCPOS_REF = {"GR150R": 354.0, "GR150C": 249.0}
SENSITIVITY_WAVE = np.arange(8000.0, 25000.0 + 1, 5.0)
# The workflow's grizli_config for a folder this module wrote: it is complete, so there is
# nothing to download (rule grizli_config verifies and records it). A synthetic field's
# config.yaml carries it; runners give it to an older field's config that lacks the key.
SYNTHETIC_GRIZLI_CONFIG = {"retries": 1, "timeout": 10, "sources": []}


def bandpass(filter_name: str, wave_angstrom: np.ndarray) -> np.ndarray:
    """Total imaging throughput of a NIRISS blocking filter (dimensionless, 0..~0.36).

    A smooth top hat with logistic edges (width ~1 % of the wavelength) and a gentle slope.
    """
    lo, hi = FILTER_EDGES_ANGSTROM[filter_name.upper()]
    wave = np.asarray(wave_angstrom, dtype=float)
    width = 0.006 * 0.5 * (lo + hi)
    centre = 0.5 * (lo + hi)
    edges = 1.0 / (1.0 + np.exp(-(wave - lo) / width)) / (1.0 + np.exp(-(hi - wave) / width))
    slope = 1.0 + 0.15 * (wave - centre) / (hi - lo)
    return PEAK_THROUGHPUT[filter_name.upper()] * edges * np.clip(slope, 0, None)


def write_throughputs(folder: Path) -> dict[str, str]:
    """``{folder}/{filter}.dat`` (wavelength in A, :func:`bandpass`) for every filter; returns
    filter -> path, as ``zfit.photometry.filters`` takes them."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name in FILTERS:
        wave = SENSITIVITY_WAVE
        rows = "".join(f"{w:.1f} {t:.6e}\n" for w, t in zip(wave, bandpass(name, wave)))
        path = folder / f"{name}.dat"
        write_text(path, f"# {name} synthetic imaging throughput: wavelength_A throughput\n{rows}")
        paths[name] = str(path)
    return paths


def pivot_wavelength(filter_name: str) -> float:
    """Pivot wavelength (Angstrom) of :func:`bandpass`."""
    wave = SENSITIVITY_WAVE
    thr = bandpass(filter_name, wave)
    return float(np.sqrt(np.trapz(thr * wave, wave) / np.trapz(thr / wave, wave)))


def counts_per_flambda(filter_name: str, wave_angstrom: np.ndarray, efficiency=1.0) -> np.ndarray:
    """(DN/s) per (erg/s/cm2/A) per A at each wavelength, for imaging times ``efficiency``."""
    wave = np.asarray(wave_angstrom, dtype=float)
    photons_per_erg = wave / (H_CGS * C_ANGSTROM_S)
    thr = bandpass(filter_name, wave) * efficiency
    return TELESCOPE_AREA_CM2 * thr * photons_per_erg / GAIN_E_PER_DN


def imaging_zeropoint(filter_name: str) -> float:
    """AB magnitude giving 1 DN/s in the imaging mode of :func:`bandpass`."""
    wave = SENSITIVITY_WAVE
    f_lambda_ab0 = 3631e-23 * C_ANGSTROM_S / wave**2
    rate = np.trapz(f_lambda_ab0 * counts_per_flambda(filter_name, wave), wave)
    return float(2.5 * np.log10(rate))


def synthetic_mag(filter_name: str, wave_angstrom: np.ndarray, f_lambda: np.ndarray) -> float:
    """AB magnitude of an f_lambda spectrum (cgs) through :func:`bandpass` (photon counting)."""
    wave = np.asarray(wave_angstrom, dtype=float)
    thr = bandpass(filter_name, wave)
    num = np.trapz(f_lambda * thr * wave, wave)
    den = np.trapz(3631e-23 * C_ANGSTROM_S / wave**2 * thr * wave, wave)
    return float(-2.5 * np.log10(num / den))


# --- Beams -------------------------------------------------------------------------------------
def _band_limits(filter_name: str, threshold=1e-3) -> tuple[float, float]:
    thr = bandpass(filter_name, SENSITIVITY_WAVE)
    inside = SENSITIVITY_WAVE[thr > threshold * thr.max()]
    return float(inside.min()), float(inside.max())


def beam_parameters(filter_name: str) -> dict[str, dict]:
    """Per-beam aXe parameters for one blocking filter (same for GR150R and GR150C).

    ``BEAMx`` ranges cover the band where the throughput exceeds 1e-3 of its peak, plus margin.
    """
    lo, hi = _band_limits(filter_name)
    centre = 0.5 * (lo + hi)
    disp_c = DISPERSION_A / 2.0
    beams = {
        # First order. Tiny field dependence (grizli evaluates coefficients at the source position
        # x, y of the rotated, unpadded frame, 1-based): trace offset and tilt, lambda_0 drift.
        "A": {
            "BEAM": (
                int(np.floor(lo / DISPERSION_A + ZEROTH_ORDER_DX)) - 4,
                int(np.ceil(hi / DISPERSION_A + ZEROTH_ORDER_DX)) + 4,
            ),
            "MMAG_EXTRACT": 30.0,
            "MMAG_MARK": 30.0,
            "XOFF": 0.0,
            "YOFF": 0.0,
            "DYDX": ([-0.5, 2.0e-4, -1.0e-4], [0.004, 1.0e-7, 0.0]),
            "DLDP": ([-DISPERSION_A * ZEROTH_ORDER_DX, 2.0e-3, -1.0e-3], [DISPERSION_A, 0.0, 0.0]),
        },
        # Zeroth order: compact, weakly dispersed (~1300 A/px) spot at ZEROTH_ORDER_DX.
        "B": {
            "BEAM": (int(ZEROTH_ORDER_DX) - 8, int(ZEROTH_ORDER_DX) + 8),
            "MMAG_EXTRACT": 27.0,
            "MMAG_MARK": 27.0,
            "XOFF": ZEROTH_ORDER_DX,
            "YOFF": 1.5,
            "DYDX": ([0.0], [0.0]),
            "DLDP": ([centre], [1300.0]),
        },
        # Second order: half the dispersion, twice as far from the 0th order.
        "C": {
            "BEAM": (
                int(np.floor(lo / disp_c + ZEROTH_ORDER_DX)) - 4,
                int(np.ceil(hi / disp_c + ZEROTH_ORDER_DX)) + 4,
            ),
            "MMAG_EXTRACT": 25.0,
            "MMAG_MARK": 25.0,
            "XOFF": 0.0,
            "YOFF": 0.0,
            "DYDX": ([-0.5, 2.0e-4, -1.0e-4], [0.008, 0.0, 0.0]),
            "DLDP": ([-disp_c * ZEROTH_ORDER_DX, 1.0e-3, -0.5e-3], [disp_c, 0.0, 0.0]),
        },
    }
    return beams


def conf_filename(grism: str, filter_name: str) -> str:
    """File name grizli looks for first, e.g. ``GR150R.F150W.221215.conf``."""
    return f"{grism.upper()}.{filter_name.upper()}.{CONF_VERSION}.conf"


def sensitivity_filename(grism: str, filter_name: str, beam: str) -> str:
    return f"niriss_{grism.lower()}_{filter_name.lower()}_{beam}.sens.fits"


def skyflat_filename(grism: str, filter_name: str) -> str:
    """``nis-{PUPIL}-{FILTER}_skyflat.fits`` in lower case, as ``prep.get_jwst_wfssbkg_file``."""
    return f"nis-{filter_name.lower()}-{grism.lower()}_skyflat.fits"


def conf_text(grism: str, filter_name: str) -> str:
    """aXe configuration text for one grism + blocking filter."""

    def fmt(values) -> str:
        return " ".join(f"{v:.8g}" for v in np.atleast_1d(values))

    lines = [
        f"# Synthetic NIRISS {grism} + {filter_name} configuration for grizli (wfsspipe).",
        "# Frame: grizli's rotated frame, wavelength increasing towards +x.",
        f"# First order: lambda = {DISPERSION_A} A/px * (dx - ({ZEROTH_ORDER_DX})).",
        "INSTRUMENT NIRISS",
        f"CAMERA {grism}",
        f"FWCPOS_REF {FWCPOS_REF[grism]}",
        "SCIENCE_EXT SCI",
        "ERRORS_EXT ERR",
        "DQ_EXT DQ",
        "DQMASK 8191",
        f"TELAREA {TELESCOPE_AREA_CM2:.1f}",
        f"DRZRESOLA {DISPERSION_A}",
        f"DRZSCALE {instrument.PIXEL_SCALE_ARCSEC}",
        f"DRZLAMB0 {pivot_wavelength(filter_name):.1f}",
        "",
    ]
    for beam, par in beam_parameters(filter_name).items():
        lines += [
            f"BEAM{beam} {par['BEAM'][0]} {par['BEAM'][1]}",
            f"MMAG_EXTRACT_{beam} {par['MMAG_EXTRACT']}",
            f"MMAG_MARK_{beam} {par['MMAG_MARK']}",
            f"XOFF_{beam} {par['XOFF']}",
            f"YOFF_{beam} {par['YOFF']}",
            f"DYDX_ORDER_{beam} {len(par['DYDX']) - 1}",
        ]
        lines += [f"DYDX_{beam}_{i} {fmt(c)}" for i, c in enumerate(par["DYDX"])]
        lines += [f"DISP_ORDER_{beam} {len(par['DLDP']) - 1}"]
        lines += [f"DLDP_{beam}_{i} {fmt(c)}" for i, c in enumerate(par["DLDP"])]
        lines += [f"SENSITIVITY_{beam} {sensitivity_filename(grism, filter_name, beam)}", ""]
    return "\n".join(lines) + "\n"


def sensitivity_table(filter_name: str, beam: str) -> Table:
    """Sensitivity in (DN/s) / (erg/s/cm2/A) per A for one beam; ERROR is 2 %."""
    wave = SENSITIVITY_WAVE
    efficiency = GRISM_EFFICIENCY[beam]
    if beam == "A":  # broad blaze, peaking near 1.4 um
        efficiency = efficiency * (1.0 - 0.08 * ((wave - 14000.0) / 6000.0) ** 2)
    sens = counts_per_flambda(filter_name, wave, efficiency)
    table = Table({"WAVELENGTH": wave, "SENSITIVITY": sens, "ERROR": 0.02 * sens})
    table["WAVELENGTH"].unit = "Angstrom"
    table.meta["FILTER"] = filter_name
    table.meta["BEAM"] = beam
    return table


def skyflat_image(grism: str, filter_name: str) -> np.ndarray:
    """Normalised (median 1) WFSS sky structure on the detector frame, values within 0.8..1.2.

    Smooth gradient along and across the dispersion direction, a broad vignetting roll-off at the
    detector edges and a few shallow round dips (like the NIRISS "occulting spots" in the
    dispersed sky). Deterministic per grism + filter.
    """
    ny, nx = instrument.DETECTOR_SHAPE
    y, x = np.mgrid[0:ny, 0:nx].astype(np.float32)
    u, v = (x - nx / 2) / nx, (y - ny / 2) / ny
    along, across = (v, u) if grism.upper() == "GR150R" else (u, v)
    flat = 1.0 + 0.06 * along - 0.03 * across + 0.04 * along**2
    edge = np.minimum.reduce([x, y, nx - 1 - x, ny - 1 - y])
    flat *= 1.0 - 0.08 * np.exp(-edge / 40.0)
    rng = np.random.default_rng(zlib.crc32(f"{grism.upper()}-{filter_name.upper()}".encode()))
    for _ in range(4):
        cx, cy = rng.uniform(200, nx - 200), rng.uniform(200, ny - 200)
        radius = rng.uniform(30, 90)
        flat *= 1.0 - 0.06 * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * radius**2))
    flat /= np.median(flat)
    return flat.astype(np.float32)


def _write_fits(path: Path, hdul: fits.HDUList) -> None:
    with atomic_path(path) as tmp:
        hdul.writeto(tmp, overwrite=True)


def write_grizli_config(grizli_root: Path, filters=FILTERS, copy_templates: bool = False) -> None:
    """Write the synthetic grism configuration under ``grizli_root`` (the ``$GRIZLI`` folder).

    Writes ``CONF/`` (confs, sensitivity tables, WFSS sky flats for both grisms and each filter)
    and makes ``templates`` point at grizli's shipped templates (a symlink to the installed
    package, or a copy with ``copy_templates=True`` when the tree moves to another environment).
    Every file is written atomically; re-running overwrites with identical content.
    """
    filters = [name.upper() for name in filters]
    unknown = [name for name in filters if name not in FILTER_EDGES_ANGSTROM]
    if unknown:
        raise ValueError(
            f"no synthetic throughput for filter(s) {', '.join(unknown)}; "
            f"known: {', '.join(FILTER_EDGES_ANGSTROM)}"
        )
    grizli_root = Path(grizli_root)
    conf_dir = grizli_root / "CONF"
    conf_dir.mkdir(parents=True, exist_ok=True)
    for filter_name in filters:
        for grism in GRISMS:
            for beam in ("A", "B", "C"):
                table = sensitivity_table(filter_name, beam)
                hdul = fits.HDUList([fits.PrimaryHDU(), fits.table_to_hdu(table)])
                _write_fits(conf_dir / sensitivity_filename(grism, filter_name, beam), hdul)
            write_text(conf_dir / conf_filename(grism, filter_name), conf_text(grism, filter_name))

            # No DATE keyword: grizli then uses the file without comparing it to CRDS.
            primary = fits.PrimaryHDU()
            for key, value in (
                ("INSTRUME", "NIRISS"),
                ("DETECTOR", "NIS"),
                ("FILTER", grism),
                ("PUPIL", filter_name),
                ("COMMENT", "Synthetic WFSS sky flat (wfsspipe), median 1"),
            ):
                primary.header[key] = value
            sci = fits.ImageHDU(skyflat_image(grism, filter_name), name="SCI")
            _write_fits(
                conf_dir / skyflat_filename(grism, filter_name), fits.HDUList([primary, sci])
            )

    _link_templates(grizli_root, copy_templates)


def _link_templates(grizli_root: Path, copy_templates: bool) -> None:
    import grizli

    source = Path(grizli.__file__).parent / "data" / "templates"
    target = grizli_root / "templates"
    if target.is_symlink() or target.is_file():
        target.unlink()
    elif target.is_dir():
        if not copy_templates:
            return  # a real copy is already there
        shutil.rmtree(target)
    if copy_templates:
        tmp = grizli_root / ".tmp-templates"
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(source, tmp)
        os.replace(tmp, target)
    else:
        tmp = grizli_root / ".tmp-templates-link"
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(source, target_is_directory=True)
        os.replace(tmp, target)
