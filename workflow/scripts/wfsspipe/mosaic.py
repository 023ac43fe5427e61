"""mosaic: prepared direct exposures -> per-filter mosaics on one WCS, IR detection image, catalogue.

Two jobs per field, both grizli (1.14.3) functions run inside
:func:`wfsspipe.grizli_env.grizli_session`:

``mosaic_filter`` (one per direct filter of the field, :func:`drizzle_filter`)
    1. **Common WCS** (:func:`common_wcs`): ``utils.make_maximal_wcs`` over *every* prepared
       exposure of the field, direct and grism (the contamination models need direct-image
       coverage wherever a grism exposure sees dispersed light), north up, ``mosaic.pixel_scale``,
       ``mosaic.pad_arcsec``. Computed from the visit table alone, it is the same for every filter.
    2. ``utils.drizzle_from_visit`` of the filter's prepared direct exposures onto it with
       ``mosaic.kernel``/``mosaic.pixfrac``; the per-exposure ``BKG`` extension (the direct-image
       sky of preprocess) is subtracted; weights ``jwst`` (read noise + median Poisson variance).
       Without grizli's database lookups (``get_dbmask=False``, ``query_persistence_pixels=False``)
       and without deleting its inputs (``clean=False``: grizli's default removes the exposures).
       grizli's default ``rnoise_percentile=99`` masks the pixels with the highest read-noise
       variance, i.e. every pixel that saturated during the ramp: bright star cores vanish from
       the mosaic (3 mag lost on the synthetic 20.6 mag stars), which would also break their
       contamination models; ``mosaic.rnoise_percentile: null`` turns that clip off.
       ``mosaic.niriss_ghost_mask`` keeps grizli's NIRISS ghost mask (optical ghosts of bright
       sources, reflected about a fixed detector point). grizli also masks, whatever the
       settings, its own table of NIRISS bad pixels (``data/nis_badpix_20241001.fits.gz``,
       dilated; on the synthetic detector these are simply extra masked pixels) and, for
       persistence, pixels saturated in an earlier exposure of the filter within 10^4 s.

``mosaic`` (one per field, :func:`make_catalog`), in a temporary folder holding links to the
filter mosaics (grizli globs the working folder):
    3. **IR detection image**: ``auto_script.make_filter_combinations`` with the field's filters
       named explicitly in the ``ir`` group (grizli's default groups know NIRISS only as
       ``F150WN-CLEAR``-style names), weighted by ``PHOTFNU`` (``PHOTFNU`` = 1e-8 Jy per unit).
    4. **Catalogue**: ``auto_script.multiband_catalog``: SEP detection on the IR image, then
       aperture and Kron photometry in every filter at the detected positions. The mosaics are
       sky-subtracted already, and most of a north-up mosaic of a rotated field is empty: a SEP
       background fitted there goes negative at the edges and SEP then "detects" the mosaic
       border (masked pixels still count after filtering), so detection runs without a
       background by default (``mosaic.catalog.detection_background``).
    5. **RGB**: ``auto_script.field_rgb`` with the channels chosen here by pivot wavelength
       (``PHOTPLAM``, :func:`rgb_channels`): three or more filters -> reddest / middle / bluest;
       two -> red, grizli's ``'sum'`` (their mean), blue; one -> the same image in all three.
       grizli's own choice (``get_rgb_filters``) sorts bare NIRISS names wrongly (``f200w``
       before ``f150w``), and the usual work-around copies a mosaic to fake a missing filter.

Products in ``{fields_dir}/{field}/Mosaic/`` (fixed names; each written to a temporary name and
renamed):

``{field}-{filter}_drz_sci.fits``, ``{field}-{filter}_drz_wht.fits``
    per direct filter (lower case, e.g. ``f150w``), in the units of the prepared direct
    exposures (MJy/sr: grizli's initialisation applies the CRDS photom to direct images),
    ``PHOTFNU`` (Jy per unit), ``PHOTPLAM``, ``PHOTFLAM`` in the header: the reference images of
    the contamination stage (``GrismFLT(ref_file=...)``).
``{field}-ir_drz_sci.fits``, ``{field}-ir_drz_wht.fits``
    the detection image.
``{field}-ir_seg.fits``, ``{field}-ir.cat.fits``
    SEP segmentation map (values = catalogue ``id``) and detection catalogue: the ``seg_file``
    and catalogue of the contamination stage.
``{field}_phot.fits``
    the multiband catalogue: ``id``, ``ra``, ``dec``, detection-image columns, and per filter
    ``{filter}_flux_aper_{i}``/``{filter}_fluxerr_aper_{i}`` (uJy; aperture diameters
    ``mosaic.catalog.apertures_arcsec`` in order, also in the header as ``ASEC_{i}``),
    ``{filter}_flux_auto``, ``{filter}_tot_corr`` ...
``{field}_rgb.png``
    colour image of the field.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import work_folder
from .grizli_env import GrizliSettings, grizli_session
from .layout import DETECTION, RGB_SUFFIX, catalog_names, filter_mosaic_names
from .preprocess import read_visits
from .storage import (
    DEFAULT_KEEP,
    check_keep,
    compress_fits_primary,
    expanded_copy,
    is_compressed,
    write_image,
)

log = logging.getLogger(__name__)


class MosaicError(RuntimeError):
    """The mosaics cannot be made; the message says which filter or file and why."""


@dataclass(frozen=True)
class MosaicSettings:
    """``mosaic`` in config/config.yaml (documented in config/README.md)."""

    pixel_scale: float = 0.04
    kernel: str = "square"
    pixfrac: float = 0.75
    pad_arcsec: float = 6.0
    rnoise_percentile: float | None = None
    niriss_ghost_mask: bool = True
    threshold: float = 1.8
    apertures_arcsec: tuple[float, ...] = (0.36, 0.5, 0.7, 1.0, 1.2, 1.5, 3.0)
    background_mesh_arcsec: float = 3.84
    detection_background: bool = False
    photometry_background: bool = True
    rgb_scale_ab: float = 25.0

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> MosaicSettings:
        catalog = section["catalog"]
        percentile = section["rnoise_percentile"]
        return cls(
            pixel_scale=float(section["pixel_scale"]),
            kernel=str(section["kernel"]),
            pixfrac=float(section["pixfrac"]),
            pad_arcsec=float(section["pad_arcsec"]),
            rnoise_percentile=None if percentile is None else float(percentile),
            niriss_ghost_mask=bool(section["niriss_ghost_mask"]),
            threshold=float(catalog["threshold"]),
            apertures_arcsec=tuple(float(a) for a in catalog["apertures_arcsec"]),
            background_mesh_arcsec=float(catalog["background_mesh_arcsec"]),
            detection_background=bool(catalog["detection_background"]),
            photometry_background=bool(catalog["photometry_background"]),
            rgb_scale_ab=float(section["rgb_scale_ab"]),
        )


# --- Per filter ---------------------------------------------------------------------------------
def _prepared(visits_table: Path) -> tuple[Any, Path]:
    visits = read_visits(visits_table)
    prep_dir = visits_table.parent
    missing = [n for n in visits["file"] if not (prep_dir / n).is_file()]
    if missing:
        raise MosaicError(
            f"prepared exposures missing from {prep_dir}: {', '.join(missing[:5])}; "
            "rerun the preprocess rule"
        )
    return visits, prep_dir


def common_wcs(visits_table: str | os.PathLike, settings: MosaicSettings):
    """(header, WCS) covering every prepared exposure of the field (call inside a session)."""
    from grizli import utils

    visits, prep_dir = _prepared(Path(visits_table))
    header, wcs = utils.make_maximal_wcs(
        [str(prep_dir / name) for name in visits["file"]],
        pixel_scale=settings.pixel_scale,
        pad=settings.pad_arcsec,
        get_hdu=False,
        verbose=False,
    )
    return header, wcs


def drizzle_filter(
    field_name: str,
    filt: str,
    visits_table: str | os.PathLike,
    sci_path: str | os.PathLike,
    wht_path: str | os.PathLike,
    settings: MosaicSettings,
    grizli: GrizliSettings,
    *,
    log_path: str | os.PathLike | None = None,
    keep: str = DEFAULT_KEEP,
) -> tuple[int, int]:
    """Drizzle the field's prepared ``filt`` direct exposures onto the common WCS; (ny, nx).

    ``keep: science`` writes the mosaics losslessly tile-compressed (:mod:`wfsspipe.storage`)."""
    check_keep(keep)
    started = time.monotonic()
    filt = filt.upper()
    visits_table = Path(visits_table).absolute()  # read inside grizli's working folder
    visits, prep_dir = _prepared(visits_table)
    files = [
        str(prep_dir / name)
        for name, kind, f in zip(visits["file"], visits["kind"], visits["filter"])
        if kind == "direct" and f.upper() == filt
    ]
    if not files:
        raise MosaicError(
            f"{field_name} {filt}: no prepared direct exposures in {visits_table} although the "
            "fields table lists them; see the preprocess log"
        )
    work = work_folder(Path(sci_path))
    try:
        # Plain copies in the job's folder: the prepared exposures may be compressed
        # (products.keep: science) and grizli's drizzling reads them in many ways.
        files = [str(expanded_copy(f, work / Path(f).name)) for f in files]
        with grizli_session(work, grizli, log_path) as session:
            from grizli import utils

            with session.step(field_name, "computing the common mosaic WCS"):
                header, wcs = common_wcs(visits_table, settings)
            with session.step(f"{field_name} {filt} ({len(files)} exposures)", "drizzling"):
                sci, wht, _var, _ctx, drz_header, used, _wcs_table = utils.drizzle_from_visit(
                    {"product": f"{field_name}-{filt.lower()}", "files": files},
                    output=wcs,
                    pixfrac=settings.pixfrac,
                    kernel=settings.kernel,
                    clean=False,  # grizli's default deletes the exposures it drizzled
                    verbose=False,
                    scale_photom=False,
                    weight_type="jwst",
                    rnoise_percentile=settings.rnoise_percentile,
                    niriss_ghost_kwargs={} if settings.niriss_ghost_mask else None,
                    get_dbmask=False,
                    query_persistence_pixels=False,
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if len(used) != len(files):
        raise MosaicError(
            f"{field_name} {filt}: drizzled {len(used)} of {len(files)} exposures; "
            f"not used: {sorted(set(files) - set(used))}"
        )
    drz_header["FILTER"] = (filt, "blocking filter")
    drz_header["NDRIZIM"] = (len(files), "exposures drizzled")
    drz_header["FIELD"] = (field_name, "wfsspipe field")
    for data, path, name in ((sci, sci_path, "SCI"), (wht, wht_path, "WHT")):
        write_image(
            path, data.astype(np.float32), drz_header, compress=keep == "science", name=name
        )
    log.info(
        "%s %s: %d exposures -> %s (%d x %d) in %.0f s",
        field_name,
        filt,
        len(files),
        Path(sci_path).name,
        *sci.shape,
        time.monotonic() - started,
    )
    return sci.shape


# --- Per field -----------------------------------------------------------------------------------
def make_catalog(
    field_name: str,
    filter_mosaics: Mapping[str, tuple[str | os.PathLike, str | os.PathLike]],
    outputs: Mapping[str, str | os.PathLike],
    settings: MosaicSettings,
    grizli: GrizliSettings,
    *,
    log_path: str | os.PathLike | None = None,
    keep: str = DEFAULT_KEEP,
) -> int:
    """IR image, detection catalogue, multiband photometry and RGB image; returns the sources.

    ``keep: science`` compresses the IR image, its weight and the segmentation map losslessly.

    ``filter_mosaics``: filter -> (sci, wht) paths from :func:`drizzle_filter`; ``outputs``: the
    keys of :func:`catalog_names` -> final paths.
    """
    import astropy.units as u
    from astropy.io import fits

    started = time.monotonic()
    if not filter_mosaics:
        raise MosaicError(f"{field_name}: no direct-filter mosaics: nothing to detect on")
    filters = [f.lower() for f in filter_mosaics]
    names = catalog_names(field_name)
    work = work_folder(Path(outputs["phot"]))
    try:
        for filt, (sci, wht) in filter_mosaics.items():
            sci_name, wht_name = filter_mosaic_names(field_name, filt)
            # grizli finds the filter images by name in its working folder: links, or plain
            # copies of compressed mosaics (grizli reads the primary HDU).
            for source, name in ((sci, sci_name), (wht, wht_name)):
                if is_compressed(source):
                    expanded_copy(source, work / name)
                else:
                    (work / name).symlink_to(Path(source).resolve())
        with grizli_session(work, grizli, log_path) as session:
            from grizli.pipeline import auto_script

            with session.step(field_name, "combining the IR detection image"):
                auto_script.make_filter_combinations(
                    field_name,
                    weight_fnu=2,
                    filter_combinations={DETECTION: [f.upper() for f in filters]},
                )
            mesh = settings.background_mesh_arcsec
            with session.step(field_name, "detection and multiband photometry"):
                catalog = auto_script.multiband_catalog(
                    field_root=field_name,
                    threshold=settings.threshold,
                    detection_filter=DETECTION,
                    filters=filters,
                    detection_background=settings.detection_background,
                    photometry_background=settings.photometry_background,
                    phot_apertures=[a * u.arcsec for a in settings.apertures_arcsec],
                    # Mesh in arcsec: grizli scales bw/bh by pixel_scale / image pixel scale.
                    bkg_params={"bw": mesh, "bh": mesh, "fw": 3, "fh": 3, "pixel_scale": 1.0},
                    use_psf_filter=False,
                    rescale_weight=False,
                    prefer_var_image=False,
                )
            pivots = {f: float(fits.getval(work / filter_mosaic_names(field_name, f)[0],
                                           "PHOTPLAM")) for f in filters}  # fmt: skip
            with session.step(field_name, "the RGB image"):
                auto_script.field_rgb(
                    root=field_name,
                    HOME_PATH=None,
                    filters=filters,
                    force_rgb=rgb_channels(pivots),
                    scale_ab=settings.rgb_scale_ab,
                    suffix=RGB_SUFFIX,
                    output_format="png",
                    show_ir=False,
                    verbose=False,
                )
            import matplotlib.pyplot as plt

            plt.close("all")
        for key, name in names.items():
            if not (work / name).is_file():
                raise MosaicError(f"{field_name}: grizli did not write {name} ({key})")
        if keep == "science":
            for key in ("ir_sci", "ir_wht", "seg"):
                compress_fits_primary(work / names[key])
        for key, name in names.items():
            final = Path(outputs[key])
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(work / name, final)  # same file system: atomic
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log.info(
        "%s: %s detection image, %d sources in %.0f s",
        field_name,
        "+".join(f.upper() for f in filters),
        len(catalog),
        time.monotonic() - started,
    )
    return len(catalog)


def rgb_channels(pivots: Mapping[str, float]) -> list[str]:
    """[red, green, blue] for ``field_rgb(force_rgb=...)`` from filters' pivot wavelengths.

    ``'sum'`` (grizli's mean of red and blue) stands in for a missing middle filter.
    """
    ordered = sorted(pivots, key=pivots.get)  # blue to red
    if not ordered:
        raise MosaicError("no filters for the RGB image")
    if len(ordered) == 1:
        return [ordered[0]] * 3
    if len(ordered) == 2:
        return [ordered[1], "sum", ordered[0]]
    middle = 0.5 * (pivots[ordered[0]] + pivots[ordered[-1]])
    green = min(ordered[1:-1], key=lambda f: abs(pivots[f] - middle))
    return [ordered[-1], green, ordered[0]]


# --- Resources ---------------------------------------------------------------------------------
# Peak RSS on the synthetic field (25 Mpx common WCS at 0.04"/px; /usr/bin/time -v, one job at a
# time): a filter mosaic of 2 exposures 1.0 GB; the catalogue job with 2 filters 2.5 GB. The
# drizzle holds the output sci/wht/var/context images (~4 float32 per mosaic pixel) and every
# exposure's arrays; SEP holds ~15 images of the mosaic size, plus one set per filter.
FILTER_BASE_MB = 400
FILTER_MB_PER_MPIX = 20.0
FILTER_MB_PER_EXPOSURE = 80.0
CATALOG_BASE_MB = 500
CATALOG_MB_PER_MPIX = 70.0
CATALOG_MB_PER_MPIX_FILTER = 6.0
MARGIN = 1.25


def mosaic_megapixels(footprints: Sequence[np.ndarray], pixel_scale: float, pad: float) -> float:
    """Pixels (millions) of a north-up mosaic covering ``footprints`` ((n, 2) ra, dec degrees).

    The bounding box of the vertices in a tangent plane at their mean, plus ``pad`` arcsec on
    every side: what ``utils.make_maximal_wcs`` makes, to a few per cent.
    """
    vertices = np.concatenate([np.asarray(f, dtype=float) for f in footprints])
    ra0 = np.rad2deg(np.angle(np.mean(np.exp(1j * np.deg2rad(vertices[:, 0])))))
    dec0 = float(np.mean(vertices[:, 1]))
    x = ((vertices[:, 0] - ra0 + 180.0) % 360.0 - 180.0) * np.cos(np.deg2rad(dec0)) * 3600.0
    y = (vertices[:, 1] - dec0) * 3600.0
    width = np.ptp(x) + 2 * pad
    height = np.ptp(y) + 2 * pad
    return float(width * height / pixel_scale**2 / 1e6)


def filter_mem_mb(megapixels: float, n_exposures: int, attempt: int = 1) -> int:
    """Memory (MB) to drizzle ``n_exposures`` exposures onto a ``megapixels`` mosaic."""
    from .resources import grow

    need = FILTER_BASE_MB + FILTER_MB_PER_MPIX * megapixels + FILTER_MB_PER_EXPOSURE * n_exposures
    return grow(MARGIN * need, attempt)


def catalog_mem_mb(megapixels: float, n_filters: int, attempt: int = 1) -> int:
    """Memory (MB) for the IR image, catalogue and RGB image of ``n_filters`` mosaics."""
    from .resources import grow

    per_mpix = CATALOG_MB_PER_MPIX + CATALOG_MB_PER_MPIX_FILTER * max(n_filters, 1)
    return grow(MARGIN * (CATALOG_BASE_MB + per_mpix * megapixels), attempt)
