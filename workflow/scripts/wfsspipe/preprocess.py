"""preprocess: a field's RATE files -> grizli-prepared exposures, a visit table, a footprint plot.

The steps are grizli's own functions (1.14.3), run inside :func:`wfsspipe.grizli_env.grizli_session`:

1. **Initialise** every exposure for grizli (``jwst_utils.set_jwst_to_hst_keywords(reset=True)``
   on a copy in ``RAW/``, which runs ``initialize_jwst_image``: CRDS flat, DQ clipping, photometry
   keywords, the gwcs as a FITS (SIP) header that drizzlepac and grizli read, then the JWST
   keywords restored). Needed before visits can be parsed: a Stage 1 RATE has no FITS WCS
   (``assign_wcs`` is a Stage 2 step) and ``parse_visits`` computes footprints from it. Direct
   images leave in MJy/sr (grizli applies the CRDS photom), grism exposures in DN/s. A
   ``SystemExit`` here (CRDS cannot answer) names the exposure. ``prep.fresh_flt_file``
   initialises again (idempotent: ``S_FLAT``/``GRIZLWCS`` guards) when it copies the file from
   ``../RAW`` into the visit's working folder.
2. **Parse visits** (``auto_script.parse_visits``): exposures grouped by filter, element and PA,
   and each grism visit associated with the direct visit of its blocking filter
   (``utils.parse_grism_associations``). For the known pure-parallel programs (1571, 3383, 4681)
   grizli itself gives a grism visit without a direct image of its filter the field's direct visit.
3. **Process each direct/grism pair** (``prep.process_direct_grism_visit``, as
   ``auto_script.preprocess`` does): fresh copy from ``../RAW`` (flat, WCS), relative alignment of
   the direct exposures (``tweak_align``), CR flagging (AstroDrizzle), absolute alignment of the
   visit mosaic to a catalogue (``align_drizzled_image``), the **direct-image sky**
   (AstroDrizzle's ``localmin`` sky per exposure in ``MDRIZSKY``, plus a SEP background of the
   sky-subtracted visit mosaic blotted into a ``BKG`` extension by ``blot_background``; the
   data keep the sky and ``utils.drizzle_from_visit`` subtracts both), then the direct solution
   copied to the grism exposures (``match_direct_grism_wcs``) and the **WFSS sky** subtracted
   (``visit_grism_sky``: the CRDS/GRIZLI sky flat scaled per exposure, plus column averages).
   A direct visit is processed **once**, with its first grism visit; its other grism visits
   (the second grism, a borrowing filter's) get only the grism half
   (:func:`_grism_on_aligned_direct`: what grizli's ``skip_direct=True`` would do, had that path
   not read ``isJWST`` before assigning it), and their exposures are copied beforehand and
   paired with the direct exposures during its tweak (:func:`_tweak_shared_with`) so that they
   get the same relative shifts. The prepared exposures are bit-identical to processing the
   direct visit again for each grism visit, as grizli's ``auto_script`` does, which cost about
   a minute per extra grism visit (bench/RESULTS.md, "preprocess").
   Direct visits without grism are processed alone; grism visits without any direct visit are
   only sky-subtracted (their WCS stays the pipeline's). With ``combine_same_pa`` grizli names
   a visit ``jw{observation}-nis-{filter}-{element}`` (e.g. ``jw001-nis-f150w-clear``: its key
   takes the observation number where the program was meant).
4. **Alignment catalogue**, per direct visit: the remote catalogues named in the config
   (``catalog.get_radec_catalog``; empty offline), else the config's catalogue (``ra dec`` text,
   ``{field}`` substituted), else the visit's own sources (grizli's ``radec="self"``: the visit
   is then only aligned internally).

Products, in ``{fields_dir}/{field}/Prep/`` (built in a temporary folder beside it that replaces
``Prep/`` in one rename; the visit table is written last):

``{exposure}_rate.fits``
    every prepared exposure, in grizli's "reset" state (JWST keywords): what ``model.GrismFLT``
    (grism) and ``utils.drizzle_from_visit`` (direct) read in the later stages.
``{field}_visits.ecsv``
    one row per exposure (columns in :data:`VISIT_COLUMNS`); metadata ``field``, ``grizli``,
    ``crds_context``, ``skipped`` (what could not be done and why). Later stages read it to find
    the prepared exposures and their visits.
``{field}_visits.yaml``
    grizli's own visit description (``auto_script.load_visit_info(field)`` reads it).
``{field}_footprint.png``
    the exposures' footprints on the sky, by filter and element.
``{visit}_drz_sci.fits``, ``{visit}.cat.fits``, ``{visit}_wcs.log``, ``{visit}_shifts.log`` ...
    grizli's visit-level products, for inspection.

With ``products.keep: science`` (the default) the visit-level images (``_drz_sci``,
``_drz_wht``, ``_bkg``, ``_seg``) are not kept and the prepared exposures are tile-compressed
losslessly (:mod:`wfsspipe.storage`); mosaic and contam read them as before.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import commit_folder, work_folder
from .grizli_env import GrizliSettings, grizli_session
from .layout import (
    RATE_SUFFIX,
    exposure_of_rate,
    footprint_name,
    visit_wcs_log_name,
    visits_table_name,
)
from .logs import Progress
from .storage import DEFAULT_KEEP, check_keep, compress_fits, drop_visit_intermediates
from .tables import read_ecsv_table

log = logging.getLogger(__name__)

VISIT_COLUMNS = (
    "exposure",  # exposure root, jw..._nis
    "file",  # prepared exposure in Prep/
    "visit",  # grizli visit (product) name
    "filter",  # blocking filter, e.g. F150W
    "element",  # CLEAR (direct) or GR150R / GR150C
    "kind",  # direct or grism
    "pa_v3",  # deg
    "expstart",  # MJD
    "exptime",  # s
    "direct_visit",  # the direct visit whose WCS solution the exposure carries ("" if none)
    "align_catalog",  # what the direct visit was aligned to (USER <file>, SELF, GAIA, ...)
    "align_method",  # remote catalogue, local file, self (relative only) or none
    "align_dx",  # pixels of the visit mosaic
    "align_dy",
    "align_rot",  # deg
    "align_scale",
    "align_rms",  # pixels
    "align_n",  # matched sources
    "status",
)
GRISMS = ("GR150R", "GR150C")
FOOTPRINT_STYLES = {"CLEAR": "-", "GR150R": "--", "GR150C": ":"}


class PreprocessError(RuntimeError):
    """The field cannot be preprocessed; the message says which exposure or visit and why."""


@dataclass(frozen=True)
class PreprocessSettings:
    """``preprocess`` in config/config.yaml (documented in config/README.md)."""

    combine_same_pa: bool = True
    max_gap_days: float = 0.5
    split_arcmin: float = 1.5
    remote_catalogs: tuple[str, ...] = ()
    catalog: str = ""
    mag_limits: tuple[float, float] = (14.0, 24.0)
    max_mag_error: float = 0.05
    rms_limit_pixels: float = 2.0
    tweak_max_shift_pixels: float = 5.0
    direct_sky_mesh_arcsec: float = 25.6
    grism_column_average: bool = True
    grism_sky_iterations: int = 10

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> PreprocessSettings:
        visits, align, sky = section["visits"], section["alignment"], section["sky"]
        return cls(
            combine_same_pa=bool(visits["combine_same_pa"]),
            max_gap_days=float(visits["max_gap_days"]),
            split_arcmin=float(visits["split_arcmin"]),
            remote_catalogs=tuple(align["remote_catalogs"]),
            catalog=str(align["catalog"] or ""),
            mag_limits=tuple(float(m) for m in align["mag_limits"]),
            max_mag_error=float(align["max_mag_error"]),
            rms_limit_pixels=float(align["rms_limit_pixels"]),
            tweak_max_shift_pixels=float(align["tweak_max_shift_pixels"]),
            direct_sky_mesh_arcsec=float(sky["direct_mesh_arcsec"]),
            grism_column_average=bool(sky["grism_column_average"]),
            grism_sky_iterations=int(sky["grism_iterations"]),
        )

    def catalog_for(self, field_name: str) -> Path | None:
        return Path(self.catalog.replace("{field}", field_name)).resolve() if self.catalog else None

    def visit_arguments(self, threads: int, pure_parallel_wcs: bool) -> dict[str, Any]:
        """Keyword arguments of ``prep.process_direct_grism_visit`` (a fresh dict per call:
        grizli pops keys from ``drizzle_params``)."""
        from grizli.pipeline import auto_script

        arguments = dict(auto_script.args["visit_prep_args"])  # grizli's pipeline defaults
        arguments.update(
            align_mag_limits=[*self.mag_limits, self.max_mag_error],
            align_rms_limit=self.rms_limit_pixels,
            tweak_max_dist=self.tweak_max_shift_pixels,
            # Mesh in arcsec: grizli scales bw/bh by pixel_scale / (image pixel scale).
            imaging_bkg_params={
                "bw": self.direct_sky_mesh_arcsec,
                "bh": self.direct_sky_mesh_arcsec,
                "fw": 3,
                "fh": 3,
                "pixel_scale": 1.0,
                "get_median": False,
            },
            column_average=self.grism_column_average,
            sky_iter=self.grism_sky_iterations,
            reference_catalogs=list(self.remote_catalogs),
            do_pure_parallel_wcs=pure_parallel_wcs,
            drizzle_params={"num_cores": max(1, threads)},
            # NIRCam / HST-only corrections and ones Stage 1 owns (1/f is stage1.one_over_f).
            oneoverf_kwargs=None,
            snowball_kwargs=None,
            nircam_wisp_kwargs=None,
            angle_background_kwargs=None,
            run_separate_chip_sky=False,
            miri_skyflat=False,
        )
        return arguments


@dataclass
class PreprocessResult:
    visits_table: Path
    footprint: Path
    exposures: int
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0


# --- The stage --------------------------------------------------------------------------------
def preprocess_field(
    field_name: str,
    rate_files: Sequence[str | os.PathLike],
    prep_dir: str | os.PathLike,
    settings: PreprocessSettings,
    grizli: GrizliSettings,
    *,
    threads: int = 1,
    log_path: str | os.PathLike | None = None,
    keep: str = DEFAULT_KEEP,
) -> PreprocessResult:
    """Prepare the field's exposures with grizli; products in ``prep_dir`` (see module docs).

    ``keep`` (``products.keep``): ``science`` drops the visit-level drizzles and compresses
    the prepared exposures losslessly (:mod:`wfsspipe.storage`); ``all`` keeps grizli's files."""
    check_keep(keep)
    started = time.monotonic()
    prep_dir = Path(prep_dir)
    rate_files = sorted(Path(f) for f in rate_files)
    missing = [str(f) for f in rate_files if not f.is_file()]
    if not rate_files or missing:
        raise PreprocessError(
            f"{field_name}: no RATE files given" if not rate_files else
            f"{field_name}: RATE file(s) missing: {', '.join(missing)}; run Stage 1 first"
        )  # fmt: skip
    work = work_folder(prep_dir)
    raw, out = work / "RAW", work / "Prep"
    raw.mkdir()
    out.mkdir()
    try:
        for rate in rate_files:
            shutil.copyfile(rate, raw / rate.name)
        with grizli_session(raw, grizli, log_path) as session:
            _initialise(session, [rate.name for rate in rate_files])
        with grizli_session(out, grizli, log_path) as session:
            result = _process(session, field_name, raw, out, settings, grizli, threads)
        if keep == "science":
            _slim(out, result.visits_table)
        result.seconds = time.monotonic() - started
        commit_folder(out, prep_dir)
        result.visits_table = prep_dir / result.visits_table.name
        result.footprint = prep_dir / result.footprint.name
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for message in result.skipped:
        log.warning("%s: skipped: %s", field_name, message)
    log.info(
        "%s: %d exposures prepared in %.0f s -> %s",
        field_name,
        result.exposures,
        result.seconds,
        prep_dir,
    )
    return result


def _slim(out: Path, visits_table: Path) -> None:
    """``products.keep: science``: no visit-level drizzles, prepared exposures compressed."""
    visits = read_visits(visits_table)
    before = sum(p.stat().st_size for p in out.iterdir() if p.is_file())
    drop_visit_intermediates(out, visits["visit"])
    for name in visits["file"]:
        compress_fits(out / name)
    after = sum(p.stat().st_size for p in out.iterdir() if p.is_file())
    log.info("Prep/: %.0f MB -> %.0f MB (products.keep: science)", before / 1e6, after / 1e6)


def _initialise(session, names: Sequence[str]) -> None:
    from grizli import jwst_utils

    progress = Progress(log, "exposures initialised", len(names))
    for name in names:
        with session.step(name, "initialising the exposure for grizli (CRDS flat, WCS)"):
            jwst_utils.set_jwst_to_hst_keywords(name, reset=True, oneoverf_correction=False)
        progress.advance(name)


def _process(session, field_name, raw, out, settings, grizli, threads) -> PreprocessResult:
    from grizli import prep
    from grizli.pipeline import auto_script

    with session.step(field_name, "parsing visits"):
        visits, groups, info = auto_script.parse_visits(
            files=sorted(str(p) for p in raw.glob(f"*{RATE_SUFFIX}")),
            field_root=field_name,
            RAW_PATH=str(raw),
            use_visit=True,
            combine_same_pa=settings.combine_same_pa,
            max_dt=settings.max_gap_days,
            visit_split_shift=settings.split_arcmin,
        )
    headers = {row["FILE"]: row for row in info}
    elements = {v["product"]: _visit_elements(v, raw) for v in visits}  # (filter, element)
    kinds = {p: "grism" if element in GRISMS else "direct" for p, (_, element) in elements.items()}
    skipped: list[str] = []
    alignment: dict[str, dict] = {}
    direct_of: dict[str, str] = {}

    def align_catalog(direct) -> str:
        if direct["product"] not in alignment:
            radec, label = _alignment_catalog(direct, headers, field_name, settings, skipped)
            alignment[direct["product"]] = {"radec": radec, "label": label}
        return alignment[direct["product"]]["radec"]

    processed_direct: set[str] = set()
    by_direct: dict[str, tuple[Mapping, list[Mapping]]] = {}  # grizli's order, per direct visit
    for group in groups:
        by_direct.setdefault(group["direct"]["product"], (group["direct"], []))[1].append(
            group["grism"]
        )
    progress = Progress(log, "direct+grism visit pairs aligned and sky-subtracted", len(groups))
    for direct, grisms in by_direct.values():
        radec = align_catalog(direct)
        arguments = settings.visit_arguments(threads, grizli.pure_parallel_wcs)
        first, others = grisms[0], grisms[1:]
        for grism in others:  # fresh copies first: the direct visit's tweak reaches them too
            for name in grism["files"]:
                with session.step(name, "copying a grism exposure for its visit"):
                    prep.fresh_flt_file(
                        name, oneoverf_correction=False, use_skyflats=arguments["use_skyflats"]
                    )  # as process_direct_grism_visit copies its grism exposures
        shared = [name for grism in others for name in grism["files"]]
        with (
            session.step(
                f"visits {direct['product']} + {first['product']} ({', '.join(direct['files'] + first['files'])})",
                "processing the direct/grism visit",
            ),
            _tweak_shared_with(prep, shared),
        ):
            prep.process_direct_grism_visit(direct=direct, grism=first, radec=radec, **arguments)
        processed_direct.add(direct["product"])
        direct_of[first["product"]] = direct["product"]
        progress.advance(f"{direct['product']} + {first['product']}")
        if others:
            log.info(
                "%s: processed once for its %d grism visits (%s)",
                direct["product"],
                len(grisms),
                ", ".join(grism["product"] for grism in grisms),
            )
        for grism in others:
            with session.step(
                f"visit {grism['product']} ({', '.join(grism['files'])}) on {direct['product']}",
                "processing a grism visit on its aligned direct visit",
            ):
                _grism_on_aligned_direct(
                    direct, grism, settings.visit_arguments(threads, grizli.pure_parallel_wcs)
                )  # a fresh dict: grizli popped keys from the first one's drizzle_params
            direct_of[grism["product"]] = direct["product"]
            progress.advance(f"{direct['product']} + {grism['product']}")

    for visit in visits:
        product = visit["product"]
        if kinds[product] == "direct" and product not in processed_direct:
            radec = align_catalog(visit)
            with session.step(
                f"visit {product} ({', '.join(visit['files'])})", "processing the direct visit"
            ):
                prep.process_direct_grism_visit(
                    direct=visit,
                    grism={},
                    radec=radec,
                    **settings.visit_arguments(threads, grizli.pure_parallel_wcs),
                )
            processed_direct.add(product)
            skipped.append(f"{product}: direct visit without grism exposures (images only)")
        elif kinds[product] == "grism" and product not in direct_of:
            _grism_without_direct(session, visit, grizli, settings)
            skipped.append(
                f"{product}: no direct imaging to align to; WCS from the pipeline, "
                "WFSS sky subtracted"
            )
    if not any(kinds[v["product"]] == "direct" for v in visits):
        skipped.append("no direct imaging in the field: no alignment, no mosaic")
    if not any(kinds[v["product"]] == "grism" for v in visits):
        skipped.append("no grism exposures in the field: imaging only")

    for product in processed_direct:
        alignment[product].update(_alignment_result(out, product))
    table = _visit_table(field_name, visits, elements, headers, direct_of, alignment, out, skipped)
    footprint = out / footprint_name(field_name)
    plot_footprints(visits, elements, field_name, footprint)
    visits_table = out / visits_table_name(field_name)
    table.write(visits_table, format="ascii.ecsv", overwrite=True)  # last: marks a finished Prep
    return PreprocessResult(visits_table, footprint, len(table), skipped)


def _visit_elements(visit: Mapping, raw: Path) -> tuple[str, str]:
    """(blocking filter, element) of a visit, from its first initialised exposure (JWST keywords:
    FILTER holds CLEAR or the grism, PUPIL the blocking filter)."""
    from astropy.io import fits

    header = fits.getheader(raw / visit["files"][0], 0)
    return str(header["PUPIL"]).upper(), str(header["FILTER"]).upper()


SELF_ALIGNED = "self"


def alignment_method(label: str) -> str:
    """How a visit was aligned, from its ``align_catalog`` label: ``remote catalogue`` (GAIA,
    LS_DR9, ... queried by grizli), ``local file`` (``USER <file>``, preprocess.alignment.catalog),
    ``self`` (only relative: the visit's own sources; absolute astrometry is the pipeline's) or
    ``none`` (no direct visit)."""
    label = str(label)
    if label == "SELF":
        return SELF_ALIGNED
    if label.startswith("USER "):
        return "local file"
    if label in ("", "none"):
        return "none"
    return "remote catalogue"


def _alignment_catalog(direct, headers, field_name, settings, skipped) -> tuple[str, str]:
    """(radec argument for grizli, label): remote catalogues, else the config's, else the visit."""
    product = direct["product"]
    if settings.remote_catalogs:
        from grizli import catalog

        centre = direct["footprint"].centroid
        first = headers[direct["files"][0]]
        try:
            found = catalog.get_radec_catalog(
                ra=centre.x,
                dec=centre.y,
                radius=3.0,  # arcmin: covers a NIRISS field (2.2') from its centre
                product=product,
                reference_catalogs=list(settings.remote_catalogs),
                date=float(first["EXPSTART"]),
                date_format="mjd",
            )
        except Exception as error:  # network errors of every kind: fall back, as offline
            log.warning("%s: remote catalogues failed (%s)", product, error)
            found = False
        if found:
            radec, reference = found
            return str(radec), str(reference)
        log.warning(
            "%s: none of %s answered; using the local catalogue", product, settings.remote_catalogs
        )
    path = settings.catalog_for(field_name)
    if path is not None:
        if path.is_file():
            return str(path), f"USER {path.name}"
        skipped.append(f"{product}: alignment catalogue {path} not found, aligned to itself")
    return "self", "SELF"


_WCS_LOG_ROW = re.compile(r"^\s*\d+\s+" + r"\s+".join([r"(-?[\d.]+(?:e[-+]?\d+)?)"] * 6) + r"\s*$")


def _alignment_result(out: Path, product: str) -> dict[str, Any]:
    """The last fit of grizli's ``{product}_wcs.log`` (ext xshift yshift rot scale rms N)."""
    result: dict[str, Any] = {"status": "aligned"}
    if (out / f"{product}.wcs_failed").exists():
        result["status"] = "alignment failed: WCS from tweak only"
    log_file = out / visit_wcs_log_name(product)
    rows = []
    if log_file.exists():
        rows = [m.groups() for m in map(_WCS_LOG_ROW.match, log_file.read_text().splitlines()) if m]
    if not rows:
        result["status"] = "alignment not logged"
        return result
    dx, dy, rot, scale, rms, n = (float(v) for v in rows[-1])
    result.update(dx=dx, dy=dy, rot=rot, scale=scale, rms=rms, n=int(n))
    if n < 3:
        result["status"] = "too few matches: WCS not changed"
    return result


@contextlib.contextmanager
def _tweak_shared_with(prep, files: Sequence[str]):
    """While a direct visit is processed with its first grism visit, its relative (tweak)
    alignment also reaches the exposures of its other grism visits.

    grizli applies each direct exposure's tweak shifts to the grism exposures that
    ``prep.find_direct_grism_pairs`` pairs with it (same pointing), and only to those of the grism
    visit it was given; with the other visits' exposures added to the pairing (each grism
    exposure is paired on its own), they get the same shifts, in the same order, as when the
    direct visit is processed again for them."""
    if not files:
        yield
        return
    original = prep.find_direct_grism_pairs

    def pairs(direct={}, grism={}, *args, **kwargs):  # noqa: B006 (grizli's signature)
        if "files" in grism:
            grism = {**grism, "files": [*grism["files"], *files]}
        return original(direct, grism, *args, **kwargs)

    prep.find_direct_grism_pairs = pairs
    try:
        yield
    finally:
        prep.find_direct_grism_pairs = original


def _grism_on_aligned_direct(direct: Mapping, grism: Mapping, arguments: Mapping) -> None:
    """The grism half of ``prep.process_direct_grism_visit`` (grizli 1.14.3, a JWST visit) for a
    grism visit whose direct visit is already processed and whose exposures were copied and
    tweaked with it (:func:`_tweak_shared_with`): what grizli's ``skip_direct=True`` would do
    if it worked for JWST. WCS from the direct visit's alignment, CR flags, WFSS sky, DFILTER."""
    import inspect

    from astropy.io import fits
    from drizzlepac.astrodrizzle import AstroDrizzle
    from grizli import jwst_utils, prep

    signature = inspect.signature(prep.process_direct_grism_visit).parameters
    arguments = {name: param.default for name, param in signature.items()} | dict(arguments)
    files, product = list(grism["files"]), grism["product"]

    def keywords(jwst: bool) -> None:  # grizli's JWST <-> pseudo-HST primary keywords
        for name in files:
            jwst_utils.set_jwst_to_hst_keywords(name, reset=jwst)

    if arguments["run_tweak_align"] and arguments["tweak_mosaic_iters"] > 0:
        keywords(jwst=False)  # the state grizli leaves its grism visit in after the tweak
    prep.match_direct_grism_wcs(direct=direct, grism=grism, get_fresh_flt=False)
    if arguments["snowball_kwargs"] is not None:
        prep.mask_snowballs(grism, **arguments["snowball_kwargs"])
    for name in files:
        with fits.open(name, mode="update") as hdul:
            hdul[3].data = hdul[3].data.astype(np.int16)
    keywords(jwst=False)
    several = len(files) > 1  # CR rejection needs more than one exposure
    drizzle = dict(
        output=product, preserve=False, skysub=True, clean=True, context=False, coeffs=True,
        driz_separate=several, driz_sep_wcs=several, median=several, blot=several,
        driz_cr=several, driz_cr_corr=False, driz_cr_snr="8.0 5.0", driz_cr_scale="2.5 0.7",
        driz_combine=True, final_bits=arguments["drizzle_params"].get("bits", 4),
        resetbits=4096, build=False, final_wht_type="IVM", gain="-99", rdnoise="-99",
        static=arguments["static_mask"],
    )  # fmt: skip
    AstroDrizzle(files, **drizzle)  # flags CRs in the exposures' DQ
    keywords(jwst=True)
    prep.visit_grism_sky(
        grism=grism,
        apply=True,
        sky_iter=arguments["sky_iter"],
        column_average=arguments["column_average"],
        verbose=True,
        ext=1,
        iter_atol=arguments["iter_atol"],
        skip_nircam=arguments["skip_nircam_grism_sky"],
    )
    skyfile = Path(f"{product}.skyfile")  # the sky is subtracted: drizzle with none
    skyfile.write_text("".join(f"{name} 0.0\n" for name in files))
    keywords(jwst=False)
    AstroDrizzle(
        files,
        skyfile=str(skyfile),
        driz_sep_bits=drizzle["final_bits"],
        final_pixfrac=1.0 if "par" in product else 0.8,
        **drizzle,
    )
    skyfile.unlink()
    prep.clean_drizzle(product)
    prep.set_grism_dfilter(direct, grism)
    keywords(jwst=True)


def _grism_without_direct(session, visit, grizli, settings) -> None:
    """Prepare grism exposures that have no direct visit: fresh copy, initialisation, WFSS sky."""
    from grizli import jwst_utils, prep

    for name in visit["files"]:
        with session.step(name, "preparing a grism exposure without direct imaging"):
            prep.fresh_flt_file(
                name,
                path="../RAW",
                oneoverf_correction=False,
                do_pure_parallel_wcs=grizli.pure_parallel_wcs,
                use_skyflats=True,
            )
            jwst_utils.set_jwst_to_hst_keywords(name, reset=True, oneoverf_correction=False)
    with session.step(f"visit {visit['product']}", "subtracting the WFSS sky"):
        prep.visit_grism_sky(
            grism=visit,
            apply=True,
            column_average=settings.grism_column_average,
            sky_iter=settings.grism_sky_iterations,
            verbose=True,
        )


def _visit_table(field_name, visits, elements, headers, direct_of, alignment, out, skipped):
    from astropy.table import Table
    from grizli import __version__ as grizli_version

    rows = []
    for visit in visits:
        product = visit["product"]
        filt, element = elements[product]
        kind = "grism" if element in GRISMS else "direct"
        direct = product if kind == "direct" else direct_of.get(product, "")
        aligned = alignment.get(direct, {})
        for name in visit["files"]:
            prepared = out / name
            if not prepared.exists():
                raise PreprocessError(
                    f"{field_name}: grizli did not write the prepared exposure {name} "
                    f"(visit {product}); see the log"
                )
            info = headers[name]
            rows.append({
                "exposure": exposure_of_rate(name), "file": name, "visit": product,
                "filter": filt, "element": element,
                "kind": kind, "pa_v3": float(info["PA_V3"]), "expstart": float(info["EXPSTART"]),
                "exptime": float(info["EXPTIME"]), "direct_visit": direct,
                "align_catalog": aligned.get("label", "none"),
                "align_method": alignment_method(aligned.get("label", "none")),
                "align_dx": aligned.get("dx", np.nan), "align_dy": aligned.get("dy", np.nan),
                "align_rot": aligned.get("rot", np.nan), "align_scale": aligned.get("scale", np.nan),
                "align_rms": aligned.get("rms", np.nan), "align_n": aligned.get("n", 0),
                "status": aligned.get("status", "not aligned: no direct visit"),
            })  # fmt: skip
    table = Table(rows=rows, names=VISIT_COLUMNS) if rows else Table(names=VISIT_COLUMNS)
    table.sort(["expstart"])
    selfish = sorted({r["direct_visit"] for r in rows if r["align_method"] == SELF_ALIGNED})
    if selfish:
        log.warning(
            "%s: %d direct visit(s) aligned only to themselves (%s): their absolute astrometry is "
            "the pipeline's WCS. Offline (e.g. on compute nodes) give a local catalogue in "
            "preprocess.alignment.catalog",
            field_name, len(selfish), ", ".join(selfish),
        )  # fmt: skip
    for column, unit in (("pa_v3", "deg"), ("exptime", "s"), ("align_rot", "deg")):
        table[column].unit = unit
    table.meta.update(
        field=field_name,
        grizli=grizli_version,
        crds_context=os.environ.get("CRDS_CONTEXT", ""),
        skipped=list(skipped),
    )
    return table


def read_visits(path: str | os.PathLike):
    """The visit table written by :func:`preprocess_field` (for the later stages)."""
    text = ("direct_visit", "align_catalog", "align_method", "status")
    return read_ecsv_table(path, VISIT_COLUMNS, text, PreprocessError, "preprocess")


def visit_alignment(path: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """How each visit of a visit table was aligned, in the table's order: visit -> kind, the
    direct visit it follows, method (:func:`alignment_method`), catalogue label, fit rms
    (pixels; None when not fitted) and matched sources. A grism visit carries its direct
    visit's alignment; one without a direct visit has method ``none``."""
    visits: dict[str, dict[str, Any]] = {}
    for row in read_visits(path):
        if row["visit"] in visits:
            continue
        rms = float(row["align_rms"])
        visits[str(row["visit"])] = {
            "kind": str(row["kind"]),
            "direct_visit": str(row["direct_visit"]),
            "method": str(row["align_method"]),
            "catalog": str(row["align_catalog"]),
            "rms_pixels": None if np.isnan(rms) else round(rms, 4),
            "sources": int(row["align_n"]),
        }
    return visits


# --- Footprint plot ----------------------------------------------------------------------------
def plot_footprints(visits, elements, field_name: str, path: Path) -> None:
    """Exposure footprints on the sky: colour by filter, line style by element."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from grizli.utils import SRegion

    filters = sorted({filt for filt, _ in elements.values()})
    colours = dict(zip(filters, plt.get_cmap("viridis")(np.linspace(0.1, 0.85, len(filters)))))
    fig, ax = plt.subplots(figsize=(6.5, 6.5))
    all_ra, all_dec, labels = [], [], set()
    for visit in visits:
        filt, element = elements[visit["product"]]
        for footprint in visit.get("footprints") or [visit["footprint"]]:
            for xy in SRegion(footprint).xy:
                ra, dec = np.asarray(xy).T
                label = f"{filt} {element}"
                ax.plot(
                    np.append(ra, ra[0]),
                    np.append(dec, dec[0]),
                    color=colours[filt],
                    ls=FOOTPRINT_STYLES.get(element, "-."),
                    lw=1.5,
                    label=None if label in labels else label,
                )
                labels.add(label)
                all_ra.extend(ra)
                all_dec.extend(dec)
    dec0 = np.mean(all_dec)
    ax.set_aspect(1.0 / np.cos(np.deg2rad(dec0)))
    ax.set_xlim(max(all_ra) + 0.003, min(all_ra) - 0.003)  # east to the left
    ax.set_xlabel("RA (deg)")
    ax.set_ylabel("Dec (deg)")
    n_grism = sum(len(v["files"]) for v in visits if elements[v["product"]][1] in GRISMS)
    n_direct = sum(len(v["files"]) for v in visits) - n_grism
    ax.set_title(f"{field_name}: {len(visits)} visits, {n_direct} direct + {n_grism} grism")
    ax.legend(fontsize=8, loc="best")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --- Resources ---------------------------------------------------------------------------------
# Peak memory of the preprocess job on the synthetic field (8 full-frame exposures, 672 MB of
# RATE files, 4 direct/grism pairs): 2.46 GB RSS in the job's process (/usr/bin/time -v), and
# 3.41 GB summed over the process tree (Snakemake benchmark max_rss): AstroDrizzle forks
# ``num_cores`` workers that share the parent's pages but count again in summed-RSS accounting
# (SLURM's jobacct_gather/linux). Visits are processed one after the other, so the peak is a
# base (jwst/grizli/drizzlepac, CRDS references) plus a visit's exposures, bounded by the
# field's total RATE size, plus one copy per extra worker.
PREPROCESS_BASE_MB = 1600
PREPROCESS_PER_RATE_MB = 1.3
PREPROCESS_PER_WORKER_MB = 950
PREPROCESS_MARGIN = 1.2
DEFAULT_RATE_MB = 84.0  # full-frame NIS RATE (SCI, ERR, DQ, VAR_*), when the file is not there


def preprocess_mem_mb(rate_mb: Sequence[float], threads: int = 1, attempt: int = 1) -> int:
    """Memory (MB) for preprocessing a field whose RATE files have the sizes ``rate_mb``."""
    from .resources import grow

    total = sum(rate_mb) if len(rate_mb) else DEFAULT_RATE_MB
    workers = max(threads, 1) - 1
    need = PREPROCESS_BASE_MB + PREPROCESS_PER_RATE_MB * total + PREPROCESS_PER_WORKER_MB * workers
    return grow(PREPROCESS_MARGIN * need, attempt)
