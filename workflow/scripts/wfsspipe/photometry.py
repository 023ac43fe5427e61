"""Direct-image photometry for the redshift fit (``zfit.photometry``).

grizli fits a source's grism spectra and its photometry together when ``fitting.run_all`` is
given ``phot=`` (``GroupFitter.set_photometry``): the same template coefficients must then
match the band fluxes too, so the continuum's shape across the bands weighs in on the
redshift. This module makes that input from the field's multiband catalogue:

* :func:`load_filters`: the bands as ``eazy.filters.FilterDefinition`` (wavelength in
  Angstrom, photon-counting throughput) from throughput files named in the config, or from
  the NIRISS curves shipped with sedpy (``jwst_niriss_{filter}``; JWST's post-launch
  throughputs). No network, no eazy ``FILTER.RES`` file.
* :func:`read_catalog_photometry`: per source the bands' fluxes in the catalogue aperture
  (``{filter}_flux_aper_{i}``, uJy) scaled by the detection image's ``flux_iso /
  flux_aper_{i}``: grizli normalises each beam's model to the source's flux inside its
  segment, so the band fluxes must be segment fluxes too. Errors scaled alike, with
  ``sys_err`` times the flux added in quadrature (grism and imaging calibrations, template
  mismatch).
* :class:`PhotometryGrid`: the search templates integrated through the bands on a fine
  log(1+z) grid, once per job, handed to grizli as its ``tempfilt``; without it grizli
  integrates every template through every band at every redshift of the search (0.35 s per
  step for 19 templates and 3 bands: about 80 s more per source).
* :func:`phot_dict`: what ``run_all(phot=...)`` takes (f_lambda cgs, filters, the grid).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

C_ANGSTROM_S = 2.99792458e18
UJY_CGS = 1e-29  # erg/s/cm2/Hz
GRID_STEP = 0.001  # of the band-flux table, in ln(1+z): lines move 0.1% between steps
SAMPLE_ANGSTROM = 4.0  # bands are integrated on this uniform grid (a line sigma >= 17 A)
LYMAN_ALPHA = 1216.0  # IGM absorption is not modelled: bands must lie redward of it


class PhotometryError(ValueError):
    """The photometry cannot be used; the message names the file or setting and why."""


# --- Filters ---------------------------------------------------------------------------------
def load_filters(names: Sequence[str], files: Mapping[str, str | Path] | None = None) -> list:
    """``FilterDefinition`` per band (names like ``F150W``): from ``files[name]`` (two columns,
    Angstrom and throughput) when given, else sedpy's ``jwst_niriss_{name}``."""
    from eazy.filters import FilterDefinition

    files = {k.upper(): v for k, v in (files or {}).items()}
    filters = []
    for name in names:
        key = name.upper()
        if key in files:
            path = Path(files[key])
            try:
                data = np.loadtxt(path, ndmin=2)
            except (OSError, ValueError) as error:
                raise PhotometryError(
                    f"zfit.photometry.filters: {key}'s throughput {path} cannot be read: {error}"
                ) from None
            if data.shape[0] < 2 or data.shape[1] < 2 or not np.all(np.diff(data[:, 0]) > 0):
                raise PhotometryError(
                    f"{path}: expected two columns, wavelength (Angstrom, increasing) and "
                    "throughput"
                )
            wave, throughput = data[:, 0], data[:, 1]
        else:
            from sedpy import observate

            try:
                curve = observate.Filter(f"jwst_niriss_{key.lower()}")
            except Exception as error:  # sedpy raises several types for an unknown name
                raise PhotometryError(
                    f"no throughput for {key}: sedpy has no jwst_niriss_{key.lower()} ({error}); "
                    "name a file for it in zfit.photometry.filters"
                ) from None
            wave, throughput = curve.wavelength, curve.transmission
        filters.append(
            FilterDefinition(name=key.lower(), wave=np.asarray(wave, float),
                             throughput=np.clip(np.asarray(throughput, float), 0, None))
        )  # fmt: skip
    return filters


def pivot(band) -> float:
    """Pivot wavelength (Angstrom) of a photon-counting band."""
    wave, throughput = band.wave, band.throughput
    return float(np.sqrt(np.trapz(throughput * wave, wave) / np.trapz(throughput / wave, wave)))


# --- Catalogue -------------------------------------------------------------------------------
def read_catalog_photometry(
    path: str | Path, names: Sequence[str], aperture_arcsec: float, sys_err: float
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """``{source id: (flux uJy per band, error uJy per band)}`` of the bands ``names`` (the
    order kept); NaN where a band has no measurement for a source."""
    from astropy.table import Table

    from .summary.catalog import aperture_index, column_in_ujy

    path = Path(path)
    if not path.is_file():
        raise PhotometryError(f"photometric catalogue {path} does not exist: rerun the mosaic rule")
    table = Table.read(path)
    index = aperture_index(table.meta, aperture_arcsec, path, "zfit.photometry.aperture_arcsec")
    needed = ["id", "flux_iso", f"flux_aper_{index}"]
    for name in names:
        needed += [f"{name.lower()}_flux_aper_{index}", f"{name.lower()}_fluxerr_aper_{index}"]
    missing = [c for c in needed if c not in table.colnames]
    if missing:
        raise PhotometryError(
            f"photometric catalogue {path} lacks {', '.join(missing)}: rerun the mosaic rule "
            "with these filters"
        )
    iso = column_in_ujy(table, "flux_iso", path)
    aperture = column_in_ujy(table, f"flux_aper_{index}", path)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where((aperture > 0) & (iso > 0), iso / aperture, np.nan)
    fluxes = np.column_stack(
        [column_in_ujy(table, f"{n.lower()}_flux_aper_{index}", path) for n in names]
    ) * scale[:, None]  # fmt: skip
    errors = np.column_stack(
        [column_in_ujy(table, f"{n.lower()}_fluxerr_aper_{index}", path) for n in names]
    ) * scale[:, None]  # fmt: skip
    errors = np.hypot(errors, sys_err * np.abs(fluxes))
    return {
        int(source): (fluxes[row], errors[row])
        for row, source in enumerate(np.asarray(table["id"], dtype=np.int64))
    }


# --- Template band fluxes --------------------------------------------------------------------
class PhotometryGrid:
    """grizli's ``tempfilt`` for a template set and bands: ``grid(z)`` is an (NTEMP, NBAND)
    array, each template redshifted as grizli's ``SpectrumTemplate.zscale`` does and integrated
    through each band as ``integrate_filter`` does (mean f_nu weighted by T/lambda), divided by
    (1 + z) (grizli multiplies it back). Tabulated from z = 0 (grizli asks for it) to the top
    of ``z_range``, linear in ln(1+z) between steps (within 0.1% of grizli's own integration,
    1.6% for a line on a band's edge); computed directly outside. About 1.5 s for 19
    templates and 3 bands."""

    def __init__(self, templates: Mapping, bands: Sequence, z_range: tuple[float, float]):
        z_max = z_range[1]
        blue = min(float(band.wave[band.throughput > 0].min()) for band in bands)
        if blue / (1 + z_max) < LYMAN_ALPHA:
            raise PhotometryError(
                f"a band starts at {blue:.0f} A, below Lyman alpha at z = {z_max:g}: the "
                "intergalactic absorption there is not modelled; lower zfit.z_range"
            )
        self.NTEMP = len(templates)
        self.names = [band.name for band in bands]
        self._templates = [(t.wave, t.flux) for t in templates.values()]
        self._bands = []
        for band in bands:
            inside = band.throughput > 0
            lo, hi = band.wave[inside].min(), band.wave[inside].max()
            wave = np.arange(lo, hi + SAMPLE_ANGSTROM, SAMPLE_ANGSTROM)
            weight = np.interp(wave, band.wave, band.throughput, left=0, right=0) / wave
            self._bands.append((wave, weight, np.trapz(weight, wave)))
        steps = int(np.ceil(np.log1p(z_max) / GRID_STEP)) + 1
        self.log1pz = np.linspace(0.0, np.log1p(z_max), steps)
        self.table = self._integrate(np.exp(self.log1pz))

    def _integrate(self, one_plus_z: np.ndarray) -> np.ndarray:
        """(len(one_plus_z), NTEMP, NBAND) band fluxes / (1 + z)."""
        table = np.zeros((len(one_plus_z), self.NTEMP, len(self._bands)))
        for j, (wave, weight, norm) in enumerate(self._bands):
            rest = wave[None, :] / one_plus_z[:, None]
            for i, (template_wave, flux) in enumerate(self._templates):
                flam = np.interp(rest, template_wave, flux, left=0, right=0)
                # zscale: f_lambda / (1+z) at lambda (1+z); f_nu = f_lambda lambda^2 / c
                fnu = flam / one_plus_z[:, None] * wave[None, :] ** 2 / C_ANGSTROM_S
                table[:, i, j] = np.trapz(fnu * weight[None, :], wave, axis=1) / norm
        return table / one_plus_z[:, None, None]

    def __call__(self, z: float) -> np.ndarray:
        x = np.log1p(z)
        if not self.log1pz[0] <= x <= self.log1pz[-1]:
            return self._integrate(np.array([1.0 + z]))[0]
        k = min(int(np.searchsorted(self.log1pz, x, side="right")) - 1, len(self.log1pz) - 2)
        t = (x - self.log1pz[k]) / (self.log1pz[k + 1] - self.log1pz[k])
        return (1 - t) * self.table[k] + t * self.table[k + 1]


def phot_dict(
    flux_ujy: np.ndarray, error_ujy: np.ndarray, bands: Sequence, grid: PhotometryGrid, label: str
) -> dict | None:
    """``run_all(phot=...)`` for one source (None without a usable band): f_lambda (cgs) at each
    band's pivot; a band without a finite, positive error gets error -1 (grizli drops it)."""
    pivots = np.array([pivot(band) for band in bands])
    to_flam = UJY_CGS * C_ANGSTROM_S / pivots**2
    usable = np.isfinite(flux_ujy) & np.isfinite(error_ujy) & (error_ujy > 0)
    if not usable.any():
        return None
    return {
        "flam": np.where(usable, flux_ujy * to_flam, 0.0),
        "eflam": np.where(usable, error_ujy * to_flam, -1.0),
        "filters": list(bands),
        "tempfilt": grid,
        "ext_corr": np.ones(len(bands)),  # the catalogue is not corrected for Galactic dust
        "source": label,
    }


def band_names(names: str | Sequence[str]) -> list[str]:
    """Filter names in wavelength order, upper case (``"f150w,F200W"`` -> F150W, F200W)."""
    from .summary.catalog import filter_order

    if isinstance(names, str):
        names = [n for n in re.split(r"[,\s]+", names) if n]
    return sorted({n.upper() for n in names}, key=filter_order)


def catalog_bands(columns: Sequence[str]) -> list[str]:
    """The bands a multiband catalogue measured (its ``{filter}_flux_aper_{i}`` columns, the
    pattern the combined catalogue reads them by), in wavelength order."""
    from .summary.catalog import FLUX_COLUMN

    return band_names([m["filter"] for m in map(FLUX_COLUMN.match, columns) if m])
