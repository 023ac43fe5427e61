"""zfit: redshift fits of the extracted sources, the field's results table.

One job per field (rule ``zfit``), in parallel over sources with the job's CPUs:

1. **Templates** (loaded once, before the workers fork): for the redshift search
   (``zfit.templates.search``) either grizli's ``line complexes`` (emission lines tied in
   groups with fixed ratios: [OII]+[NeIII]; [OIII]+Hβ+Hγ+Hδ; Hα+[NII]+[SII]+[SIII]+He I+Paβ)
   or ``free lines`` (every line its own template), each with grizli's FSPS continuum
   templates; for the final fit at the best redshift always free lines + FSPS (line fluxes).
   Line width ``zfit.templates.fwhm_kms``.
2. **Fit** (``fitting.run_all`` on the source's beams file): ``xfit_redshift`` over
   ``zfit.z_range`` on a grid of step ``zfit.dz[0]`` in log(1+z), zoomed to ``zfit.dz[1]``
   around the peaks of the coarse grid; then the template fit at the best redshift, the fit
   figure (``{field}_{id:05d}.full.png``), the 2D spectrum with the model
   (``.stack.png``/``.stack.fits``), the 1D spectrum (``.1D.fits``) and the fit products
   (``.full.fits``: redshift grid and p(z) in ``ZFIT_STACK``, line fluxes in the primary
   header, covariance, best-fit template). Drizzled line maps (``.line.png``) only with
   ``zfit.line_maps`` (they cost about as much as the fit). With ``zfit.photometry.use`` the
   source's direct-image photometry (:mod:`wfsspipe.photometry`: every band of the mosaic
   catalogue) is fitted with the spectra by the same templates (``run_all(phot=...)``), and
   grizli adds an SED figure (``.sed.png``).
3. **Results** ``{field}_redshifts.fits`` and ``.csv`` (written last): one row per extracted
   source: ``id``, ``ra``, ``dec``, ``status`` (``ok``/``failed``), ``z`` (maximum a
   posteriori), ``z_lo``/``z_hi`` (16th/84th percentiles of p(z)), ``z02``/``z97``, ``chi2``,
   ``dof``, ``nlines``, ``nphot`` (direct-image bands fitted with the spectra), per line of
   :data:`LINES` ``flux_{line}``/``err_{line}`` (erg/s/cm²; NaN for a line outside the spectra's coverage) and ``sn_{line}``, ``z_alt``/``dchi2_alt`` (the best other identification and how much worse
   it fits), ``quality`` (2 good, 1 poor or ambiguous, 0 no fit), ``flag`` and ``flag_reason``
   (:func:`assess`: good, poor, ambiguous, no fit, and why), ``fit_plot``/``spectrum_plot``/``line_plot`` (file names in the folder),
   ``seconds``, ``reason``. Table meta ``LINES``. A field with nothing extracted gets an empty
   but valid table that says why; a source whose fit fails is recorded and does not fail the
   field.

Products in ``{fields_dir}/{field}/Redshifts/`` (built in a temporary folder beside it and
renamed into place). Each finished source is kept in ``.Redshifts.done/`` as it comes
(:mod:`wfsspipe.resume`), so a killed job's next attempt fits only the sources still to do.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import atomic_path, folder_product
from .extract import read_extract_table
from .grizli_env import GrizliSettings, grizli_session
from .layout import BEAMS_SUFFIX, fit_product_name, redshift_results_names, source_stem
from .parallel import run_sources
from .resume import SourceStore, digest, store_folder

log = logging.getLogger(__name__)

# Lines reported in the results table (grizli's names), blue to red.
LINES = [
    "OII",
    "NeIII-3867",
    "Hb",
    "OIII-4959",
    "OIII",
    "Ha",
    "NII",
    "SII",
    "SIII",
    "HeI-1083",
    "PaB",
]
SEARCH_TEMPLATES = ("physical lines", "free lines", "line complexes")


class ZfitError(RuntimeError):
    """The redshift fits cannot run; the message names the file and why."""


@dataclass(frozen=True)
class ZfitSettings:
    """``zfit`` in config/config.yaml (documented in config/README.md)."""

    z_range: tuple[float, float] = (0.1, 3.4)
    dz: tuple[float, float] = (0.004, 0.0005)
    search_templates: str = "physical lines"
    fwhm_kms: float = 1200.0
    line_maps: bool = False
    max_width: float = 0.01
    min_line_sn: float = 5.0
    ambiguous_dchi2: float = 9.0
    alternative_dz: float = 0.05
    coincident_dchi2: float = 25.0
    photometry: bool = False
    phot_aperture_arcsec: float = 1.0
    phot_sys_err: float = 0.05
    phot_filters: tuple[tuple[str, str], ...] = ()  # (filter, throughput file); else sedpy's

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> ZfitSettings:
        search = str(section["templates"]["search"])
        if search not in SEARCH_TEMPLATES:
            raise ZfitError(
                f"zfit.templates.search is {search!r}; use one of {', '.join(SEARCH_TEMPLATES)}"
            )
        return cls(
            z_range=tuple(float(z) for z in section["z_range"]),
            dz=tuple(float(d) for d in section["dz"]),
            search_templates=search,
            fwhm_kms=float(section["templates"]["fwhm_kms"]),
            line_maps=bool(section["line_maps"]),
            max_width=float(section["quality"]["max_width"]),
            min_line_sn=float(section["quality"]["min_line_sn"]),
            ambiguous_dchi2=float(section["quality"]["ambiguous_dchi2"]),
            alternative_dz=float(section["quality"]["alternative_dz"]),
            coincident_dchi2=float(section["quality"]["coincident_dchi2"]),
            photometry=bool(section["photometry"]["use"]),
            phot_aperture_arcsec=float(section["photometry"]["aperture_arcsec"]),
            phot_sys_err=float(section["photometry"]["sys_err"]),
            phot_filters=tuple(
                sorted(
                    (str(k).upper(), str(v)) for k, v in section["photometry"]["filters"].items()
                )
            ),
        )


def load_templates(settings: ZfitSettings):
    """(search templates, final templates) from ``$GRIZLI/templates`` (see the module docs)."""
    from grizli import utils

    search = utils.load_templates(
        line_complexes=settings.search_templates == "line complexes",
        fsps_templates=True,
        fwhm=settings.fwhm_kms,
    )
    if settings.search_templates == "physical lines":
        search = OrderedDict((k, v) for k, v in search.items() if not k.startswith("line "))
        search.update(physical_line_templates(settings.fwhm_kms))
    final = utils.load_templates(line_complexes=False, fsps_templates=True, fwhm=settings.fwhm_kms)
    return search, final


# Case B hydrogen recombination (T = 10^4 K, n_e = 100 cm^-3), relative to Hbeta.
CASE_B = {"Ha": 2.86, "Hb": 1.0, "Hg": 0.468, "Hd": 0.259,
          "PaA": 0.332, "PaB": 0.162, "PaG": 0.0901, "PaD": 0.0553}  # fmt: skip
# Largest metal-to-hydrogen line ratios of star-forming galaxies and AGN (generous bounds):
# [OIII]5007/Hb <= 10, [OII]3727+9/Hb <= 6, [SIII]9531/Ha <= 0.5, [SII]6717+31/Ha <= 0.8,
# HeI 10830/Ha <= 0.5.
MAX_RATIO = {"OIII": ("Hb", 10.0), "OII": ("Hb", 6.0), "SIII": ("Ha", 0.5),
             "SII": ("Ha", 0.8), "HeI-1083": ("Ha", 0.5)}  # fmt: skip


def physical_line_templates(fwhm_kms: float) -> dict:
    """Emission-line templates whose non-negative combinations obey atomic physics.

    * ``line H-caseB``: the hydrogen lines in Case B ratios (Balmer and Paschen series);
    * ``line H-dust``: Halpha with its Paschen lines: more of it than Case B relative to Hbeta
      is what dust does (Halpha/Hbeta >= 2.86 then holds for any non-negative fit);
    * ``line {metal}``: each metal line (doublets in their fixed ratios) *with* the least
      hydrogen emission a galaxy can have for it (``MAX_RATIO``), so a strong [OIII] must come
      with some Hbeta and Halpha, a strong [SIII] with some Halpha.

    With grizli's free lines a single detected line fits equally well as any line at any
    redshift where the rest of that line's family falls outside the grism bands or happens to
    be absent; its line complexes fix ratios (Halpha with [SIII] and Pabeta, [OIII] with Hbeta)
    that real galaxies do not share. These templates sit between the two: free where physics
    lets lines vary, bounded where it does not. Fitted with non-negative least squares (grizli's
    ``nnls`` fitter for the redshift search). The final fit at the best redshift uses free lines.
    """
    from grizli import utils

    wavelengths, ratios = utils.get_line_wavelengths()

    def line(name: str):
        scale = np.asarray(ratios[name], float) / np.sum(ratios[name])
        template = None
        for wave, weight in zip(wavelengths[name], scale):
            component = (
                utils.SpectrumTemplate(central_wave=wave, fwhm=fwhm_kms, velocity=True) * weight
            )
            template = component if template is None else template + component
        return template

    def hydrogen(lines: dict):
        template = None
        for name, weight in lines.items():
            component = line(name) * weight
            template = component if template is None else template + component
        return template

    case_b = hydrogen(CASE_B)  # normalised to Hbeta = 1
    per_halpha = {
        k: v / CASE_B["Ha"] for k, v in CASE_B.items() if k in ("Ha", "PaA", "PaB", "PaG", "PaD")
    }
    templates = {"line H-caseB": case_b, "line H-dust": hydrogen(per_halpha)}
    for metal, (reference, ratio) in MAX_RATIO.items():
        strongest = ratios[metal][0] / np.sum(ratios[metal])  # flux fraction of the main line
        # Hbeta (or Halpha) that goes with a unit metal-line flux at the largest ratio.
        hydrogen_flux = strongest / ratio / (1.0 if reference == "Hb" else CASE_B["Ha"])
        templates[f"line {metal}"] = line(metal) + case_b * hydrogen_flux
    for name, template in templates.items():
        template.name = name
    return templates


# --- Workers ---------------------------------------------------------------------------------
def _fit_source(
    templates, field_name: str, source_id: int, settings: ZfitSettings
) -> dict[str, Any]:
    """Fit one source's beams with the loaded ``templates`` (search, final)."""
    import matplotlib.pyplot as plt
    from grizli import fitting

    search, final, photometry = templates
    fitting.run_all(
        source_id,
        phot=photometry.get(source_id),  # None: the grism alone
        t0=search,
        t1=final,
        fwhm=settings.fwhm_kms,
        zr=list(settings.z_range),
        dz=list(settings.dz),
        group_name=field_name,
        root=field_name,
        fit_only_beams=True,
        fit_beams=False,
        fit_stacks=False,
        use_phot_obj=False,
        get_ir_psfs=False,
        get_line_width=False,
        bad_pa_threshold=-1,
        min_line_sn=4 if settings.line_maps else np.inf,
        verbose=False,
    )
    plt.close("all")
    return {"id": source_id, "status": "ok", "reason": ""}


# --- The stage -------------------------------------------------------------------------------
@dataclass
class ZfitResult:
    table: Path
    fitted: int
    failed: int
    good: int
    seconds: float = 0.0


def fit_field(
    field_name: str,
    extract_table: str | os.PathLike,
    out_dir: str | os.PathLike,
    settings: ZfitSettings,
    grizli: GrizliSettings,
    *,
    phot_catalog: str | os.PathLike | None = None,
    threads: int = 1,
    log_path: str | os.PathLike | None = None,
) -> ZfitResult:
    """Fit every extracted source of the field (see the module docs); with
    ``settings.photometry``, jointly with its photometry in ``phot_catalog``."""
    started = time.monotonic()
    out_dir = Path(out_dir)
    extract_table = Path(extract_table).absolute()  # read inside grizli's working folder
    extracted = read_extract_table(extract_table)
    extract_dir = Path(extract_table).parent
    chosen = extracted[extracted["status"] == "extracted"]
    note = "" if len(chosen) else (extracted.meta.get("note") or "no source was extracted")
    rows: dict[int, dict[str, Any]] = {}
    beams_files = [extract_dir / row["beams"] for row in chosen]
    for beams in beams_files:
        if not beams.is_file():
            raise ZfitError(f"{field_name}: {beams} is missing; rerun the extract rule")
    # Sources finished by an earlier, killed attempt with the same settings and beams are kept.
    key = {"settings": dataclasses.asdict(settings), "grizli": _grizli_version()}
    used = [Path(phot_catalog)] if settings.photometry and phot_catalog else []
    if settings.photometry and not used:
        raise ZfitError(f"{field_name}: zfit.photometry.use is set but no catalogue was given")
    used += [Path(f) for _, f in settings.phot_filters] if used else []
    store = SourceStore(store_folder(out_dir), digest(key, beams_files + used))
    with folder_product(out_dir) as work:
        for source_id, row in store.done().items():
            store.restore(source_id, work)
            rows[source_id] = row
        todo = [int(i) for i in chosen["id"] if int(i) not in rows]
        if rows:
            log.info("%s: %d sources fitted by an earlier attempt are kept; %d to fit",
                     field_name, len(rows), len(todo))  # fmt: skip
        if todo:
            for beams in beams_files:  # grizli reads ./{field}_{id:05d}.beams.fits
                os.symlink(beams.resolve(), work / beams.name)
            with grizli_session(work, grizli, log_path) as session:
                with session.step(field_name, "loading the redshift-fit templates"):
                    search, final = load_templates(settings)
                phot = {}
                if settings.photometry:
                    with session.step(field_name, "reading the photometry for the fits"):
                        phot = source_photometry(phot_catalog, search, settings, todo)
                templates = (search, final, phot)
                log.info(
                    "%s: fitting %d sources, z %.2f-%.2f, dz %s, %s, %d process(es)",
                    field_name, len(todo), *settings.z_range, list(settings.dz),
                    settings.search_templates, threads,
                )  # fmt: skip
                for row in run_sources(
                    _fit_source, templates, field_name, todo, settings,
                    stage="zfit", store=store, work=work, processes=threads,
                ):  # fmt: skip
                    rows[row["id"]] = row
            for link in work.glob(f"*{BEAMS_SUFFIX}"):
                link.unlink()
        table = results_table(field_name, chosen, rows, work, settings)
        table.meta["NOTE"] = note
        fits_name, csv_name = redshift_results_names(field_name)
        with atomic_path(work / csv_name) as tmp:
            table.write(tmp, format="ascii.csv", overwrite=True)
        with atomic_path(work / fits_name) as tmp:
            table.write(tmp, format="fits", overwrite=True)
        for leftover in [*work.glob("*.log"), *work.glob("*.log_par")]:
            leftover.unlink()
    store.clear()  # the product is in place
    status = list(table["status"])
    result = ZfitResult(
        out_dir / fits_name,
        status.count("ok"),
        status.count("failed"),
        int(np.sum(table["quality"] == 2)) if len(table) else 0,
        time.monotonic() - started,
    )
    log.info(
        "%s: %d fitted (%d good), %d failed in %.0f s%s",
        field_name, result.fitted, result.good, result.failed, result.seconds,
        f" ({note})" if note else "",
    )  # fmt: skip
    return result


def source_photometry(
    catalog: str | os.PathLike, search: Mapping, settings: ZfitSettings, ids: list[int]
) -> dict[int, dict]:
    """``run_all(phot=...)`` per source id (:mod:`wfsspipe.photometry`): the catalogue's bands
    (every filter it measured), their curves and the search templates' band-flux table."""
    from astropy.io import fits

    from . import photometry

    with fits.open(catalog) as hdul:
        columns = hdul[1].columns.names
    names = photometry.catalog_bands(columns)
    if not names:
        raise ZfitError(f"{catalog} has no band fluxes ({{filter}}_flux_aper_i columns)")
    try:
        bands = photometry.load_filters(names, dict(settings.phot_filters))
        grid = photometry.PhotometryGrid(search, bands, settings.z_range)
        fluxes = photometry.read_catalog_photometry(
            catalog, names, settings.phot_aperture_arcsec, settings.phot_sys_err
        )
    except (photometry.PhotometryError, ValueError) as error:
        raise ZfitError(str(error)) from None
    label = f"{Path(catalog).stem} {settings.phot_aperture_arcsec:g}as"  # PHOTSRC: short
    result = {}
    for source_id in ids:
        if source_id in fluxes:
            entry = photometry.phot_dict(*fluxes[source_id], bands, grid, label)
            if entry is not None:
                result[source_id] = entry
    log.info("photometry in %s for %d of %d sources: %s", Path(catalog).name, len(result),
             len(ids), ", ".join(names))  # fmt: skip
    return result


def _grizli_version() -> str:
    from importlib import metadata

    return metadata.version("grizli")


# --- Results table ---------------------------------------------------------------------------
def read_fit(path: Path) -> dict[str, Any]:
    """Redshift, interval, chi², and line fluxes from a grizli ``.full.fits``."""
    from astropy.io import fits

    with fits.open(path) as hdul:
        primary = hdul[0].header
        zfit = hdul["ZFIT_STACK"].header
        values = {
            "z": float(zfit["Z_MAP"]),
            "z_lo": float(zfit["Z16"]),
            "z_hi": float(zfit["Z84"]),
            "z02": float(zfit["Z02"]),
            "z97": float(zfit["Z97"]),
            "chi2": float(zfit["CHIMIN"]),
            "dof": int(zfit["DOF"]),
            "nlines": 0,
            "nphot": int(zfit.get("NPHOT", 0)),  # bands fitted with the spectra
        }
        stack = hdul["ZFIT_STACK"].data  # the redshift grid and chi2 of the search
        names = stack.columns.names if stack is not None else []
        values["chi2_grid"] = (
            (np.asarray(stack["zgrid"], float), np.asarray(stack["chi2"], float))
            if "zgrid" in names and "chi2" in names
            else (np.array([]), np.array([]))
        )
        lines = {}
        # The final (free-line) fit's fluxes: COVAR keywords FLUX_nnn/ERR_nnn, the line's name
        # in the comment ("Ha line flux; erg / (s cm2)"). With line maps grizli also lists the
        # detected lines in the primary header (LINEnnn/FLUXnnn/ERRnnn).
        if "COVAR" in hdul:
            covar = hdul["COVAR"].header
            for key in covar:
                if key.startswith("FLUX_") and " line flux" in covar.comments[key]:
                    name = covar.comments[key].split(" line flux")[0]
                    error = covar.get(key.replace("FLUX_", "ERR_"), 0.0)
                    lines[name] = (float(covar[key]), float(error))
        for i in range(1, int(primary.get("NUMLINES", 0)) + 1):
            name = primary.get(f"LINE{i:03d}")
            if name is not None and name not in lines:
                lines[name] = (float(primary[f"FLUX{i:03d}"]), float(primary[f"ERR{i:03d}"]))
    values["lines"] = lines
    return values


def results_table(field_name, chosen, rows, folder: Path, settings: ZfitSettings):
    """The field's results table from the fit products in ``folder`` (see the module docs)."""
    from astropy.table import Table

    table_rows = []
    for entry in chosen:
        source_id = int(entry["id"])
        row = rows.get(source_id, {"status": "failed", "reason": "not fitted"})
        stem = source_stem(field_name, source_id)
        record: dict[str, Any] = {
            "id": source_id,
            "ra": float(entry["ra"]),
            "dec": float(entry["dec"]),
            "status": row["status"],
            "reason": row.get("reason", ""),
            "seconds": float(row.get("seconds", np.nan)),
        }
        fit = None
        if row["status"] == "ok":
            try:
                fit = read_fit(folder / fit_product_name(stem, "fit"))
            except (OSError, KeyError) as error:
                record.update(status="failed", reason=f"unreadable fit products: {error}")
        nan = np.nan
        record.update({k: nan for k in ("z", "z_lo", "z_hi", "z02", "z97", "chi2")})
        record.update(dof=0, nlines=0, nphot=0, z_alt=nan, dchi2_alt=nan)
        best_sn = 0.0
        for line in LINES:
            flux, err = fit["lines"].get(line, (nan, nan)) if fit else (nan, nan)
            if not (np.isfinite(err) and err > 0):
                # grizli gives a line outside the spectra's coverage coefficient 0 and error 0:
                # not measured, which is not a measured zero.
                flux, err = nan, nan
            sn = flux / err if np.isfinite(flux) else nan
            record[f"flux_{line}"], record[f"err_{line}"], record[f"sn_{line}"] = flux, err, sn
            if np.isfinite(sn):
                best_sn = max(best_sn, sn)
        if fit:
            record.update(
                {k: fit[k] for k in ("z", "z_lo", "z_hi", "z02", "z97", "chi2", "dof", "nphot")}
            )
            record["nlines"] = sum(
                1 for f, e in fit["lines"].values() if e > 0 and f / e >= settings.min_line_sn
            )
            record["z_alt"], record["dchi2_alt"] = alternative_redshift(
                *fit["chi2_grid"], settings.alternative_dz
            )
        record["quality"], record["flag"], record["flag_reason"] = assess(record, best_sn, settings)
        for key in ("fit_plot", "spectrum_plot", "line_plot"):
            name = fit_product_name(stem, key)
            record[key] = name if (folder / name).is_file() else ""
        table_rows.append(record)
    names = list(_empty_row())
    if table_rows:
        table = Table(rows=[[r[n] for n in names] for r in table_rows], names=names)
    else:
        template = _empty_row()
        table = Table(names=names, dtype=[type(template[n]) for n in names])
    for name, unit in column_units().items():
        table[name].unit = unit
    table.meta["FIELD"] = field_name
    table.meta["LINES"] = list(LINES)
    table.meta["ZRANGE"] = list(settings.z_range)
    table.meta["DZ"] = list(settings.dz)
    table.meta["TEMPLATE"] = settings.search_templates
    return table


def column_units() -> dict[str, str]:
    """Units of the results table's columns; the others are dimensionless or text."""
    units = {"ra": "deg", "dec": "deg", "seconds": "s"}
    for line in LINES:
        units[f"flux_{line}"] = units[f"err_{line}"] = "erg / (s cm2)"
    return units


def _empty_row() -> dict[str, Any]:
    row: dict[str, Any] = {"id": 0, "ra": 0.0, "dec": 0.0, "status": "", "z": 0.0, "z_lo": 0.0,
                           "z_hi": 0.0, "z02": 0.0, "z97": 0.0, "chi2": 0.0, "dof": 0, "nlines": 0,
                           "nphot": 0, "z_alt": 0.0, "dchi2_alt": 0.0}  # fmt: skip
    for line in LINES:
        row.update({f"flux_{line}": 0.0, f"err_{line}": 0.0, f"sn_{line}": 0.0})
    row.update(
        quality=0,
        flag="",
        flag_reason="",
        fit_plot="",
        spectrum_plot="",
        line_plot="",
        seconds=0.0,
        reason="",
    )
    return row


def quality(record: Mapping[str, Any], best_line_sn: float, settings: ZfitSettings) -> int:
    """2 good, 1 poor or ambiguous, 0 no fit (:func:`assess`)."""
    return assess(record, best_line_sn, settings)[0]


def assess(
    record: Mapping[str, Any], best_line_sn: float, settings: ZfitSettings
) -> tuple[int, str, str]:
    """(quality, flag, reason) of a fit: what the data support.

    * ``no fit`` (0): the fit failed;
    * ``poor`` (1): the redshift is at the edge of ``z_range`` (within one coarse grid step),
      the 68% interval is wider than ``max_width`` (1+z), or no line reaches ``min_line_sn``;
    * ``ambiguous`` (1): another identification (a chi² minimum more than ``alternative_dz``
      (1+z) away, ``z_alt``) is worse by less than ``ambiguous_dchi2`` while the redshift rests
      on at most one line above ``min_line_sn`` (the grism data cannot tell which line it
      is), or by less than ``coincident_dchi2`` while it puts a line on every detected one
      (:func:`coincident_lines`: the same features read as other lines, e.g. Hα and [OIII] at
      z = 1.52 for Hβ and [OII] at z = 2.40; only line ratios and the continuum tell them
      apart, which templates fit less surely than a missing line);
    * ``good`` (2): otherwise.
    """
    if record["status"] != "ok" or not np.isfinite(record["z"]):
        return 0, "no fit", str(record.get("reason") or "the fit failed")
    z_min, z_max = settings.z_range
    step = settings.dz[0]
    if record["z"] <= z_min + step * (1 + z_min) or record["z"] >= z_max - step * (1 + z_max):
        # The chi2 falls towards the bound: the best solution lies outside the range searched
        # (or the source is no galaxy: a star's continuum fitted with galaxy templates).
        edge = f"at the edge of the range searched ({z_min:g}-{z_max:g})"
        return 1, "poor", f"z = {record['z']:.3f} {edge}"
    width = (record["z_hi"] - record["z_lo"]) / (1 + record["z"])
    if width >= settings.max_width:
        return 1, "poor", f"68% interval {width:.3g} (1+z), wider than {settings.max_width:g}"
    if not best_line_sn >= settings.min_line_sn:
        return 1, "poor", f"no line at S/N >= {settings.min_line_sn:g} (best {best_line_sn:.1f})"
    lines = int(record.get("nlines", 2))
    dchi2, z_alt = float(record.get("dchi2_alt", np.nan)), float(record.get("z_alt", np.nan))
    what = "one line" if lines <= 1 else f"{lines} lines"
    if lines <= 1 and np.isfinite(dchi2) and dchi2 < settings.ambiguous_dchi2:
        return 1, "ambiguous", f"{what}; z = {z_alt:.3f} fits almost as well (dchi2 {dchi2:.1f})"
    if np.isfinite(dchi2) and dchi2 < settings.coincident_dchi2:
        detected = [
            line for line in LINES if record.get(f"sn_{line}", np.nan) >= settings.min_line_sn
        ]
        readings = coincident_lines(detected, record["z"], z_alt, settings.dz[0])
        if readings:
            other = ", ".join(f"{line} as {readings[line]}" for line in detected)
            them = "it as another line" if len(detected) == 1 else "them as other lines"
            reading = f"z = {z_alt:.3f} reads {them} ({other}; dchi2 {dchi2:.1f})"
            return 1, "ambiguous", f"{what}; {reading}"
    if np.isfinite(dchi2):
        return 2, "good", f"{what}; next identification z = {z_alt:.3f} at dchi2 {dchi2:.1f}"
    return 2, "good", what


@functools.cache
def line_centres() -> dict[str, float]:
    """Rest wavelength (Angstrom, vacuum) of each of :data:`LINES` as the grism sees it, from
    grizli's line list: the strongest component of a multiplet, or the mean of equally strong
    ones (the [OII], [SII] and He I blends)."""
    from grizli import utils

    wavelengths, ratios = utils.get_line_wavelengths()
    centres = {}
    for line in LINES:
        waves, weights = np.asarray(wavelengths[line], float), np.asarray(ratios[line], float)
        centres[line] = float(np.mean(waves[weights == weights.max()]))
    return centres


# Two readings put a line at the same place when they differ by less than the grism's line
# width (NIRISS R ~ 150: 0.7% FWHM) plus half a step of the coarse redshift grid (z_alt is a
# grid point).
LINE_WIDTH = 0.007


def coincident_lines(
    detected: list[str], z: float, z_alt: float, grid_step: float
) -> dict[str, str] | None:
    """``{line: other line}`` when a line at ``z_alt`` falls on each detected line at ``z`` (within
    :data:`LINE_WIDTH` + ``grid_step``/2 in dλ/λ), else None (also for no detected line)."""
    if not detected or not (np.isfinite(z) and np.isfinite(z_alt)):
        return None
    centres = line_centres()
    tolerance = LINE_WIDTH + grid_step / 2
    readings = {}
    for line in detected:
        observed = centres[line] * (1 + z)
        offsets = {
            other: abs(centres[other] * (1 + z_alt) / observed - 1)
            for other in LINES
            if other != line
        }
        other = min(offsets, key=offsets.get)
        if offsets[other] > tolerance:
            return None
        readings[line] = other
    return readings


def alternative_redshift(zgrid, chi2, separation: float = 0.05) -> tuple[float, float]:
    """The best other solution of a redshift fit: (z, chi² above the minimum) of the lowest
    local chi² minimum more than ``separation`` (1+z) from the best one; NaN if none."""
    zgrid, chi2 = np.asarray(zgrid, float), np.asarray(chi2, float)
    good = np.isfinite(zgrid) & np.isfinite(chi2)
    order = np.argsort(zgrid[good])
    z, c = zgrid[good][order], chi2[good][order]
    if z.size < 3:
        return np.nan, np.nan
    best = int(np.argmin(c))
    lower_left = np.r_[True, c[1:] <= c[:-1]]
    lower_right = np.r_[c[:-1] <= c[1:], True]
    minima = np.flatnonzero(lower_left & lower_right)
    far = minima[np.abs(z[minima] - z[best]) / (1 + z[best]) > separation]
    if far.size == 0:
        return np.nan, np.nan
    other = far[np.argmin(c[far])]
    return float(z[other]), float(c[other] - c[best])


def zfit_mem_mb(sources: int, threads: int = 1, attempt: int = 1) -> int:
    """The parent (templates) and one source's beams, fit and plots per worker: 1.4 GB summed
    over the process tree for 2 workers on the synthetic field (bench/RESULTS.md)."""
    from .resources import grow

    base = 600 + 500 * max(min(threads, max(sources, 1)), 1)
    return grow(base, attempt)
