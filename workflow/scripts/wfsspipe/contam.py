"""contam: grism contamination models of a field (grizli ``GroupFLT``) and the extraction limit.

One job per field (rule ``contam``), run inside :func:`wfsspipe.grizli_env.grizli_session`:

1. **Groups.** The field's prepared grism exposures (visit table, ``kind == 'grism'``) are
   grouped by blocking filter; each group is a ``multifit.GroupFLT`` whose reference image is
   that filter's mosaic (``Mosaic/{field}-{filter}_drz_sci.fits``) or, for a grism filter the
   field has no direct image in (mixed-filter visits of PASSAGE and OutThere), the mosaic of
   the nearest direct filter in wavelength (:func:`reference_filters`; the manifest's
   ``reference_filter`` column and ``reference_filters`` metadata), with the IR segmentation
   image and detection catalogue (``MAG_AUTO`` is the IR magnitude). grizli blots the reference
   and segmentation onto every grism exposure. The pad is symmetric (``contam.pad``): an
   asymmetric pad breaks the GR150R WCS after a save and reload.
2. **First model**: every catalogue source brighter than ``contam.model_mag_limit`` dispersed
   with a flat polynomial spectrum (``init_coeffs``) scaled to its direct-image flux.
3. **Sky mode**: the mode of the pixels the model leaves empty is subtracted from each grism
   exposure (``contam.subtract_mode_background``; preprocess removed the sky already, so this
   is a small correction).
4. **Refinement** (``contam.refine_iterations``): grizli's ``refine_list`` fits a polynomial of
   order ``refine_poly_order`` to each source brighter than ``refine_mag_limits[1]`` in the
   data minus the other sources' models, and replaces its model; sources whose fit is absurd
   (more than ``max_coeff`` times their direct-image flux) keep the first model.
5. ``GroupFLT.save_full_data`` writes ``{exposure}.01.GrismFLT.fits`` (the grism exposure, its
   blotted reference and segmentation, and the model) and ``.GrismFLT.pkl``, and
   ``{exposure}.01.wcs.fits``: what extract loads (fast) instead of blotting again.
6. **Model images**: each grism exposure's contamination model drizzled onto the field's
   mosaic WCS (so they overlay the mosaics in the web map), summed per grism element and
   position angle in ``{field}-{grism}-pa{PA}-{filter}_model.fits``, and a colour image per
   grism and PA, ``{field}_{grism}-pa{PA}_models_rgb.png`` (filters by wavelength: reddest in
   red; one filter -> grey). PA is the dispersion axis's (:func:`dispersion_pa`), the angle
   grizli's 2D spectra are labelled with; the manifest keeps PA_V3 too.
   With ``products.keep: science`` the GrismFLT files and model images are tile-compressed
   losslessly (a model image's pixels are then in its ``MODEL`` extension; :mod:`wfsspipe.storage`).
   The overview figure ``{field}_contam_models.png`` shows, for the first exposure of each
   grism, filter and PA, the data, the model and data minus model, with colour bars (DN/s).
7. **Extraction limit** (:mod:`wfsspipe.extraction_limit`): unless ``extract.mag_limit`` is set,
   the IR magnitude at which the catalogue's detection S/N falls to ``extract.limit.direct_snr``
   (a fit of log S/N against magnitude over the catalogue's faint half), made deeper by the
   ratio of grism to direct exposure time per filter (``1.25 log10(t_grism/t_direct)``, the
   background-limited scaling) and shallower by ``extract.limit.dispersion_penalty_mag`` (the
   light of a source is spread over its spectrum). Written to the manifest with how it was made.

Products in ``{fields_dir}/{field}/Contam/`` (built in a temporary folder beside it and renamed
into place; the manifest ``{field}_contam.ecsv`` is written last, one row per grism exposure,
with the limit and the model images in its metadata).
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import atomic_path, folder_product, work_folder
from .extraction_limit import LimitSettings, extraction_limit
from .grizli_env import GrizliSettings, grizli_session
from .layout import (
    contam_manifest_name,
    contam_model_name,
    contam_overview_name,
    contam_rgb_name,
    grismflt_name,
)
from .logs import Progress
from .niriss import reference_filter
from .preprocess import read_visits
from .storage import (
    DEFAULT_KEEP,
    check_keep,
    compress_fits,
    expanded_copy,
    plain_inputs,
    write_image,
)

log = logging.getLogger(__name__)

MODEL_EXTENSION = "MODEL"  # the compressed model images' extension (products.keep: science)


class ContamError(RuntimeError):
    """The contamination models cannot be made; the message names the file or filter and why."""


@dataclass(frozen=True)
class ContamSettings:
    """``contam`` in config/config.yaml (documented in config/README.md)."""

    pad: int = 200
    model_mag_limit: float = 26.0
    init_coeffs: tuple[float, ...] = (1.1, -0.5)
    subtract_mode_background: bool = True
    refine_iterations: int = 2
    refine_poly_order: int = 1
    refine_mag_limits: tuple[float, float] = (16.0, 25.0)
    refine_fcontam: float = 0.5
    max_coeff: float = 5.0
    rgb_percentile: float = 99.5

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> ContamSettings:
        return cls(
            pad=int(section["pad"]),
            model_mag_limit=float(section["model_mag_limit"]),
            init_coeffs=tuple(float(c) for c in section["init_coeffs"]),
            subtract_mode_background=bool(section["subtract_mode_background"]),
            refine_iterations=int(section["refine_iterations"]),
            refine_poly_order=int(section["refine_poly_order"]),
            refine_mag_limits=tuple(float(m) for m in section["refine_mag_limits"]),
            refine_fcontam=float(section["refine_fcontam"]),
            max_coeff=float(section["max_coeff"]),
            rgb_percentile=float(section["rgb_percentile"]),
        )


def position_angle(angle: float) -> int:
    """An angle as a PA label: whole degrees in [0, 360)."""
    return int(np.round(angle)) % 360


def dispersion_pa(flt) -> int:
    """The PA label of a grism exposure: its dispersion axis (degrees East of North), the angle
    grizli labels spectra with (the ``PA`` of beams and stack panels). It is used for every
    product here, so model images, the web map and the 2D spectra agree; GR150R and GR150C of
    one pointing (one PA_V3) differ by about 90 degrees."""
    return position_angle(flt.get_dispersion_PA(decimals=None))


def reference_filters(
    field_name: str, grism_filters, filter_mosaics: Mapping[str, Any]
) -> dict[str, str]:
    """Grism filter -> the direct filter (upper case) whose mosaic models its sources: its own,
    or the nearest in wavelength for a grism filter without direct imaging (logged)."""
    direct = [f.upper() for f in filter_mosaics]
    references = {}
    for filt in grism_filters:
        reference = reference_filter(filt, direct)
        if reference is None:
            raise ContamError(
                f"{field_name}: grism exposures in {filt} have no direct mosaic to model them "
                "from (the field has no direct imaging)"
            )
        if reference != filt.upper():
            log.warning(
                "%s: no %s direct image: the %s grism exposures are modelled from the %s mosaic",
                field_name, filt, filt, reference,
            )  # fmt: skip
        references[filt] = reference
    return references


# --- The stage -------------------------------------------------------------------------------
@dataclass
class ContamResult:
    manifest: Path
    exposures: int
    mag_limit: float | None
    seconds: float = 0.0


def make_contam(
    field_name: str,
    visits_path: str | os.PathLike,
    prep_dir: str | os.PathLike,
    filter_mosaics: Mapping[str, str | os.PathLike],
    seg_file: str | os.PathLike,
    catalog_file: str | os.PathLike,
    contam_dir: str | os.PathLike,
    settings: ContamSettings,
    limit: LimitSettings,
    grizli: GrizliSettings,
    *,
    threads: int = 1,
    log_path: str | os.PathLike | None = None,
    keep: str = DEFAULT_KEEP,
) -> ContamResult:
    """Contamination models of every grism exposure of the field (see the module docs).

    ``keep`` (``products.keep``): ``science`` writes the GrismFLT files and model images
    losslessly tile-compressed (:mod:`wfsspipe.storage`); ``all`` as grizli writes them."""
    check_keep(keep)

    started = time.monotonic()
    contam_dir = Path(contam_dir)
    # grizli reads these inside its own working folder: relative paths would not resolve there.
    prep_dir, seg_file, catalog_file = (
        Path(p).absolute() for p in (prep_dir, seg_file, catalog_file)
    )
    filter_mosaics = {f: Path(p).absolute() for f, p in filter_mosaics.items()}
    scratch = work_folder(contam_dir.with_name(f"{contam_dir.name}-inputs"))
    try:
        return _make_contam(
            field_name, visits_path, prep_dir, filter_mosaics, seg_file, catalog_file,
            contam_dir, settings, limit, grizli, threads, log_path, keep, started, scratch,
        )  # fmt: skip
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _make_contam(
    field_name, visits_path, prep_dir, filter_mosaics, seg_file, catalog_file,
    contam_dir, settings, limit, grizli, threads, log_path, keep, started, scratch,
) -> ContamResult:  # fmt: skip
    from astropy.table import Table

    # grizli reads the reference and segmentation images' primary HDU: plain copies of
    # compressed ones (products.keep: science) in a scratch folder beside Contam/.
    names = list(filter_mosaics)
    *plain_mosaics, seg_file = plain_inputs([*filter_mosaics.values(), seg_file], scratch)
    filter_mosaics = dict(zip(names, plain_mosaics))
    visits = read_visits(visits_path)
    catalog = Table.read(catalog_file)
    grism = visits[(visits["kind"] == "grism") & (visits["status"] != "failed")]
    filters = sorted(set(grism["filter"]))
    references = reference_filters(field_name, filters, filter_mosaics)
    mag_limit, limit_record = extraction_limit(catalog, visits, limit, references)
    rows = []
    model_images: dict[tuple[str, int], dict[str, Path]] = {}
    panels: list[tuple[str, np.ndarray, np.ndarray]] = []
    progress = Progress(log, "grism exposures modelled", len(grism))
    with folder_product(contam_dir) as work:
        with grizli_session(work, grizli, log_path) as session:
            for filt in filters:
                group = grism[grism["filter"] == filt]
                for name in group["file"]:
                    source = prep_dir / name
                    if not source.is_file():
                        raise ContamError(
                            f"{field_name}: prepared grism exposure {source} is missing; rerun preprocess"
                        )
                    # grizli writes beside its input (and updates it): a plain, uncompressed copy
                    expanded_copy(source, work / name)
                    _ensure_sip(work / name)
                reference = filter_mosaics[references[filt].lower()]
                with session.step(f"{field_name} {filt}", "contamination model"):
                    grp = _model_filter(
                        group,
                        reference,
                        seg_file,
                        catalog_file,
                        settings,
                        threads,
                    )
                    rows += [
                        _manifest_row(row, flt, references[filt])
                        for row, flt in zip(group, grp.FLTs)
                    ]
                    panels += _overview_panels(group, grp)
                    images = _drizzle_models(
                        field_name, grp, group, reference, work, compress=keep == "science"
                    )
                    for key, path in images.items():
                        model_images.setdefault(key, {})[filt] = path
                for name in group["file"]:
                    (work / name).unlink()
                    if keep == "science":  # what extract loads: grizli reads it by name
                        compress_fits(work / grismflt_name(name))
                del grp
                progress.advance(filt, count=len(group))
            rgb = _model_rgbs(field_name, model_images, work, settings)
            _overview(field_name, panels, work / contam_overview_name(field_name))
        for leftover in work.glob("*.log"):
            leftover.unlink()
        manifest = _write_manifest(
            field_name, rows, rgb, mag_limit, limit_record, filter_mosaics, work
        )
    result = ContamResult(contam_dir / manifest.name, len(rows), mag_limit)
    result.seconds = time.monotonic() - started
    log.info(
        "%s: contamination models of %d grism exposures in %.0f s; extraction limit %s",
        field_name,
        len(rows),
        result.seconds,
        "none" if mag_limit is None else f"{mag_limit:.2f} mag",
    )
    return result


def _ensure_sip(path: Path) -> None:
    """Give a grism exposure whose WCS has no distortion terms zero SIP terms.

    ``GrismFLT.transform_JWST_WFSS`` rotates the WCS with ``utils.sip_rot90``, which reads
    ``A_ORDER``/``B_ORDER``. grizli's preprocessing writes a SIP approximation of the distortion
    when there is one; an exposure with a purely linear WCS (the synthetic field) keeps plain
    ``TAN`` and would fail there. Zero terms describe the same WCS.
    """
    from astropy.io import fits

    with fits.open(path, mode="update") as hdul:
        header = hdul["SCI"].header
        if "A_ORDER" in header:
            return
        header["CTYPE1"], header["CTYPE2"] = "RA---TAN-SIP", "DEC--TAN-SIP"
        for axis in ("A", "B"):
            header[f"{axis}_ORDER"] = 2
            for i, j in ((2, 0), (1, 1), (0, 2)):
                header[f"{axis}_{i}_{j}"] = 0.0


def _model_filter(group, ref_file, seg_file, catalog_file, settings: ContamSettings, threads: int):
    """A ``GroupFLT`` of one filter's grism exposures, modelled and refined, saved in ``./``."""
    import scipy.stats
    from grizli import multifit

    grp = multifit.GroupFLT(
        grism_files=list(group["file"]),
        direct_files=[],
        ref_file=str(Path(ref_file).resolve()),
        seg_file=str(Path(seg_file).resolve()),
        catalog=str(Path(catalog_file).resolve()),
        pad=(settings.pad, settings.pad),
        cpu_count=threads if threads > 1 else -1,
        verbose=False,
    )
    grp.compute_full_model(
        mag_limit=settings.model_mag_limit,
        coeffs=list(settings.init_coeffs),
        cpu_count=threads,
        verbose=False,
    )
    if settings.subtract_mode_background:
        for flt in grp.FLTs:
            data = flt.grism.data["SCI"]
            empty = (flt.model < flt.grism["ERR"] * 0.6) & (data != 0) & np.isfinite(data)
            values = data[empty]
            clip = np.ones(values.size, bool)
            for _ in range(3):  # Gaussian fit to the clipped distribution, as grizli does
                centre, sigma = scipy.stats.norm.fit(values[clip])
                clip = np.abs(values - centre) < 3 * sigma
            log.info("%s: sky mode %.4g subtracted", flt.grism.parent_file, centre)
            data -= centre
    wave = np.linspace(*grp.polyx[:2], 100) * 1.0e4
    for iteration in range(settings.refine_iterations):
        grp.refine_list(
            poly_order=settings.refine_poly_order,
            mag_limits=list(settings.refine_mag_limits),
            max_coeff=settings.max_coeff,
            fcontam=1.0 if iteration == 0 else settings.refine_fcontam,
            wave=wave,
            verbose=False,
        )
    grp.save_full_data(warn=False)
    return grp


def _manifest_row(row, flt, reference: str) -> dict[str, Any]:
    model = np.asarray(flt.model)
    return {
        "exposure": row["exposure"],
        "grism": row["element"],
        "filter": row["filter"],
        "reference_filter": reference,
        "pa": dispersion_pa(flt),
        "pa_v3": float(row["pa_v3"]),
        "exptime": float(row["exptime"]),
        "grismflt": grismflt_name(row["file"]),
        "modelled_sources": len(getattr(flt, "object_dispersers", {}) or {}),
        "model_max": float(np.nanmax(model)) if model.size else 0.0,
    }


def _drizzle_models(
    field_name, grp, group, ref_file, out: Path, compress: bool = True
) -> dict[tuple[str, int], Path]:
    """Each (grism, PA)'s contamination models drizzled onto the mosaic WCS, one FITS each
    (``compress``: in a losslessly tile-compressed extension ``MODEL``, else the primary)."""
    from astropy.io import fits
    from astropy.wcs import WCS
    from grizli import utils

    with fits.open(ref_file) as hdul:
        header = hdul[0].header.copy()
    output_wcs = WCS(header)
    output_wcs.pixel_shape = (header["NAXIS1"], header["NAXIS2"])
    output_wcs.pscale = utils.get_wcs_pscale(output_wcs)  # grizli's drizzle reads it
    written = {}
    angles = [dispersion_pa(flt) for flt in grp.FLTs]
    keys = sorted({(r["element"], angles[i]) for i, r in enumerate(group)})
    for grism, pa in keys:
        members = [i for i, r in enumerate(group) if r["element"] == grism and angles[i] == pa]
        models, weights, wcs_list = [], [], []
        for i in members:
            flt = grp.FLTs[i]
            models.append(np.asarray(flt.model, np.float32))
            good = (flt.grism["DQ"] == 0) & np.isfinite(flt.grism["ERR"]) & (flt.grism["ERR"] > 0)
            weights.append(good.astype(np.float32))
            wcs = flt.grism.wcs
            if wcs._naxis[0] == 0:
                wcs._naxis = list(flt.grism.sh[::-1])
            wcs_list.append(wcs)
        sci, _, _, _, _, _ = utils.drizzle_array_groups(
            models, weights, wcs_list, outputwcs=output_wcs, kernel="square", pixfrac=1.0,
            verbose=False,
        )  # fmt: skip
        filt = group["filter"][members[0]]
        name = contam_model_name(field_name, grism, pa, filt)
        image_header = output_wcs.to_header()
        image_header["GRISM"] = (grism, "grism element")
        image_header["FILTER"] = (filt, "blocking filter")
        image_header["PA"] = (pa, "PA of the dispersion axis (deg E of N), as grizli's")
        image_header["NEXP"] = (len(members), "grism exposures drizzled")
        image_header["BUNIT"] = ("DN/s", "contamination model")
        write_image(
            out / name, sci.astype(np.float32), image_header, compress=compress,
            name=MODEL_EXTENSION,
        )  # fmt: skip
        written[(grism, pa)] = out / name
    return written


def read_model_image(path: str | os.PathLike) -> np.ndarray:
    """A model image's pixels, compressed (``MODEL`` extension) or not (primary)."""
    from astropy.io import fits

    return fits.getdata(path)  # the first HDU with data


def _model_rgbs(field_name, model_images, out: Path, settings: ContamSettings):
    """A colour PNG per (grism, PA) from its per-filter model images; returns label -> name."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import image as mpl_image

    rgb = {}
    for (grism, pa), by_filter in sorted(model_images.items()):
        paths = {f: p for f, p in by_filter.items() if isinstance(p, Path)}
        if not paths:
            continue
        # NIRISS filter names carry their wavelength (F115W < F150W < F200W): bluest first.
        order = sorted(paths, key=lambda f: int("".join(c for c in f if c.isdigit()) or 0))
        images = {}
        for filt in order:
            images[filt] = np.nan_to_num(read_model_image(paths[filt]).astype(float))
        red, blue = images[order[-1]], images[order[0]]
        green = images[order[len(order) // 2]] if len(order) > 2 else 0.5 * (red + blue)
        channels = [red, green, blue]
        scale = np.percentile(
            np.concatenate([c[c > 0] for c in channels] or [np.ones(1)]), settings.rgb_percentile
        )
        image = np.clip(np.stack(channels, axis=-1) / max(scale, 1e-12), 0, 1)
        image = np.arcsinh(10 * image) / np.arcsinh(10)
        name = contam_rgb_name(field_name, grism, pa)
        with atomic_path(out / name) as tmp:
            mpl_image.imsave(tmp, image[::-1], format="png")  # FITS row 0 is the bottom
        rgb[f"{grism} PA {pa:03d}"] = name
    return rgb


OVERVIEW_PIXELS = 512  # panels are block means down to about this size


def _overview_panels(group, grp) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(label, data, model) of the first exposure of each grism and PA of one filter, binned
    for the overview figure."""
    panels, seen = [], set()
    for row, flt in zip(group, grp.FLTs):
        key = (row["element"], dispersion_pa(flt))
        if key in seen:
            continue
        seen.add(key)
        data = np.asarray(flt.grism.data["SCI"], dtype=np.float32)
        model = np.asarray(flt.model, dtype=np.float32)
        label = (
            f"{row['element']} {row['filter']} PA {key[1]:03d} ({row['file'].split('_rate')[0]})"
        )
        panels.append((label, _binned(data), _binned(model)))
    return panels


def _binned(image: np.ndarray) -> np.ndarray:
    factor = max(1, min(image.shape) // OVERVIEW_PIXELS)
    ny, nx = (image.shape[0] // factor) * factor, (image.shape[1] // factor) * factor
    trimmed = np.nan_to_num(image[:ny, :nx])
    return trimmed.reshape(ny // factor, factor, nx // factor, factor).mean(axis=(1, 3))


def _overview(field_name: str, panels, path: Path) -> None:
    """Data, model and residual of each (grism, filter, PA), one row each, with colour bars;
    or a note that there are no grism exposures."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = max(len(panels), 1)
    fig, axes = plt.subplots(rows, 3, figsize=(11, 3.6 * rows), squeeze=False, layout="constrained")
    for row_axes, (label, data, model) in zip(axes, panels):
        low, high = np.percentile(data, [1, 99.5])
        residual = data - model
        spread = float(np.percentile(np.abs(residual), 99)) or 1.0
        for ax, image, title, limits, cmap in (
            (row_axes[0], data, "data", (low, high), "viridis"),
            (row_axes[1], model, "model", (low, high), "viridis"),
            (row_axes[2], residual, "data - model", (-spread, spread), "RdBu_r"),
        ):
            shown = ax.imshow(image, origin="lower", cmap=cmap, vmin=limits[0], vmax=limits[1])
            ax.set_title(f"{label}\n{title}" if title == "data" else f"\n{title}", fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
            if title != "data":  # data and model share the first colour bar
                bar = fig.colorbar(shown, ax=row_axes[:2] if title == "model" else ax, shrink=0.8)
                bar.set_label("DN/s", fontsize=8)
    if not panels:
        axes[0][0].text(0.5, 0.5, f"{field_name}: no grism exposures", ha="center", va="center")
        for ax in axes[0]:
            ax.set_axis_off()
    fig.suptitle(f"{field_name}: grism data, contamination model and residual", fontsize=10)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=90)
    plt.close(fig)


def _write_manifest(field_name, rows, rgb, mag_limit, limit_record, filter_mosaics, out: Path):
    import json

    from astropy.table import Table

    names = [
        "exposure",
        "grism",
        "filter",
        "reference_filter",
        "pa",
        "pa_v3",
        "exptime",
        "grismflt",
        "modelled_sources",
        "model_max",
    ]
    table = (
        Table(rows=rows, names=names)
        if rows
        else Table(names=names, dtype=[str, str, str, str, int, float, float, str, int, float])
    )
    reference = next(iter(filter_mosaics.values()), None)
    table.meta.update(
        {
            "field": field_name,
            "extract_mag_limit": mag_limit,
            "extract_mag_limit_record": json.loads(json.dumps(limit_record)),
            "model_rgb": rgb,
            "model_rgb_wcs": str(Path(reference).name) if reference else "",
            "reference_filters": {str(r["filter"]): str(r["reference_filter"]) for r in rows},
            "comments": [
                "one row per grism exposure; GrismFLT files beside this table",
                "model_rgb: grism-model colour images on the mosaic WCS (model_rgb_wcs, in Mosaic/)",
            ],
        }
    )
    path = out / contam_manifest_name(field_name)
    with atomic_path(path) as tmp:
        table.write(tmp, format="ascii.ecsv", overwrite=True)
    return path


def read_manifest(path: str | os.PathLike):
    from astropy.table import Table

    table = Table.read(path, format="ascii.ecsv")
    for key in ("extract_mag_limit", "model_rgb"):
        if key not in table.meta:
            raise ContamError(f"{path} lacks '{key}' in its metadata: rerun the contam rule")
    return table


def contam_mem_mb(grism_exposures: int, threads: int = 1, attempt: int = 1) -> int:
    """Memory of a contam job: GroupFLT keeps each padded grism exposure, its blotted reference,
    segmentation and model (~0.5 GB each at full frame); workers copy them."""
    from .resources import grow

    base = 1500 + 600 * max(grism_exposures, 1) + 400 * max(threads - 1, 0)
    return grow(base, attempt)
