"""extract: 2D spectra (grizli beams files) of the catalogue sources brighter than the limit.

One job per field (rule ``extract``):

1. The contamination models of the contam stage are loaded once
   (``multifit.GroupFLT`` from the ``*.GrismFLT.fits``/``.pkl`` files in ``Contam/``, serially).
2. **Selection**: every source of the IR catalogue with ``extract.bright_limit < MAG_AUTO <=
   limit``, where the limit is ``extract.mag_limit`` or the one the contam stage derived from the
   catalogue depth and exposure times (in its manifest). Brightest first.
3. **Cut-outs**, in parallel over sources with the job's CPUs: the parent process loads the
   models, then forks ``threads`` workers (no pool inside a pool: grizli is told to load and
   model serially), each of which extracts its share of sources: ``GroupFLT.get_beams`` (first
   order, half-height ``extract.size`` px, pixels with sensitivity above ``extract.min_sens``),
   beams with fewer than 10 unmasked pixels dropped, ``multifit.MultiBeam`` (contamination
   weight ``extract.fcontam``, systematic error ``extract.sys_err``),
   ``MultiBeam.write_master_fits`` -> ``{field}_{id:05d}.beams.fits``, and a drizzled 2D
   spectrum per grism and PA with its figure, ``{field}_{id:05d}.stack.fits``/``.stack.png``.
   A source that fails is recorded with the reason; it does not fail the field.
4. **Table** ``{field}_extract.ecsv`` (written last): one row per catalogue source: ``id``,
   ``ra``, ``dec``, ``mag`` (IR ``MAG_AUTO``), ``status`` (``extracted``, ``skipped`` or
   ``failed``), ``reason``, ``beams`` (file name), ``nbeams``, ``grisms``; the limit and how it
   was made in the metadata. A field with no grism exposures, no sources or none bright enough
   gets an empty but valid table that says why.

Products in ``{fields_dir}/{field}/Extractions/`` (built in a temporary folder beside it and
renamed into place). Each extracted source is kept in ``.Extractions.done/`` as it comes
(:mod:`wfsspipe.resume`), so a killed job's next attempt extracts only the sources still to do.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import atomic_path, folder_product
from .contam import read_manifest
from .extraction_limit import LimitSettings
from .grizli_env import GrizliSettings, grizli_session
from .layout import beams_name, extract_table_name, stack_names
from .parallel import run_sources
from .resume import SourceStore, digest, store_folder
from .storage import plain_inputs
from .tables import read_ecsv_table

log = logging.getLogger(__name__)

COLUMNS = ["id", "ra", "dec", "mag", "status", "reason", "beams", "nbeams", "grisms"]
DTYPES = [int, float, float, float, str, str, str, int, str]
MIN_BEAM_PIXELS = 10


class ExtractError(RuntimeError):
    """Sources cannot be extracted; the message names the file and why."""


@dataclass(frozen=True)
class ExtractSettings:
    """``extract`` in config/config.yaml (documented in config/README.md)."""

    limit: LimitSettings
    size: int = 32
    min_sens: float = 0.05
    min_mask: float = 0.01
    fcontam: float = 0.2
    sys_err: float = 0.03
    max_sources: int | None = None
    stack_plots: bool = True

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> ExtractSettings:
        limit = section["max_sources"]
        return cls(
            limit=LimitSettings.from_config(section),
            size=int(section["size"]),
            min_sens=float(section["min_sens"]),
            min_mask=float(section["min_mask"]),
            fcontam=float(section["fcontam"]),
            sys_err=float(section["sys_err"]),
            max_sources=None if limit is None else int(limit),
            stack_plots=bool(section["stack_plots"]),
        )


def select_sources(catalog, mag_limit: float | None, bright_limit: float, max_sources=None):
    """(ids to extract brightest first, {id: reason} of the others)."""
    ids = np.asarray(catalog["NUMBER"], int)
    mags = np.asarray(catalog["MAG_AUTO"], float)
    skipped = {}
    chosen = []
    for source_id, mag in zip(ids, mags):
        if not np.isfinite(mag) or mag >= 90:
            skipped[int(source_id)] = "no magnitude"
        elif mag_limit is None:
            skipped[int(source_id)] = "no extraction limit (catalogue too small to measure depth)"
        elif mag > mag_limit:
            skipped[int(source_id)] = f"fainter than the limit ({mag:.2f} > {mag_limit:.2f})"
        elif mag <= bright_limit:
            skipped[int(source_id)] = f"brighter than extract.bright_limit ({mag:.2f})"
        else:
            chosen.append((mag, int(source_id)))
    chosen.sort()
    if max_sources is not None and len(chosen) > max_sources:
        for _mag, source_id in chosen[max_sources:]:
            skipped[source_id] = f"beyond extract.max_sources ({max_sources}) by magnitude"
        chosen = chosen[:max_sources]
    return [source_id for _, source_id in chosen], skipped


# --- Workers: forked after the models are loaded ---------------------------------------------
def _extract_source(
    group, field_name: str, source_id: int, settings: ExtractSettings
) -> dict[str, Any]:
    """Cut one source's beams from the loaded models (``group``, a GroupFLT) and plot its stack."""
    import matplotlib.pyplot as plt
    from grizli import multifit

    beams = group.get_beams(
        source_id, size=settings.size, beam_id="A", min_sens=settings.min_sens,
        min_mask=settings.min_mask,
    )  # fmt: skip
    beams = [b for b in beams if b.fit_mask.sum() >= MIN_BEAM_PIXELS]
    if not beams:
        return {
            "id": source_id,
            "status": "skipped",
            "reason": "no spectrum on the grism exposures",
        }
    mb = multifit.MultiBeam(
        beams, fcontam=settings.fcontam, group_name=field_name, psf=False, isJWST=True,
        sys_err=settings.sys_err, min_mask=settings.min_mask, min_sens=settings.min_sens,
    )  # fmt: skip
    name = beams_name(field_name, source_id)
    hdul = mb.write_master_fits(get_hdu=True, verbose=False)
    with atomic_path(name) as tmp:
        hdul.writeto(tmp, overwrite=True)
    if settings.stack_plots:
        hdu, fig = mb.drizzle_grisms_and_PAs(
            fcontam=0.5, flambda=False, kernel="point", size=settings.size, diff=False
        )
        stack_fits, stack_png = stack_names(field_name, source_id)
        with atomic_path(stack_png) as tmp:
            fig.savefig(tmp)
        with atomic_path(stack_fits) as tmp:
            hdu.writeto(tmp, overwrite=True)
        plt.close("all")
    grisms = sorted({b.grism.filter for b in mb.beams})
    return {
        "id": source_id,
        "status": "extracted",
        "reason": "",
        "beams": name,
        "nbeams": len(mb.beams),
        "grisms": ",".join(grisms),
    }


# --- The stage -------------------------------------------------------------------------------
@dataclass
class ExtractResult:
    table: Path
    extracted: int
    skipped: int
    failed: int
    seconds: float = 0.0


def extract_field(
    field_name: str,
    contam_manifest: str | os.PathLike,
    seg_file: str | os.PathLike,
    catalog_file: str | os.PathLike,
    out_dir: str | os.PathLike,
    settings: ExtractSettings,
    grizli: GrizliSettings,
    *,
    pad: int,
    threads: int = 1,
    log_path: str | os.PathLike | None = None,
) -> ExtractResult:
    """Extract the field's sources (see the module docs)."""
    from astropy.table import Table

    started = time.monotonic()
    out_dir = Path(out_dir)
    # grizli reads these inside its own working folder: relative paths would not resolve there.
    contam_manifest, seg_file, catalog_file = (
        Path(p).absolute() for p in (contam_manifest, seg_file, catalog_file)
    )
    manifest = read_manifest(contam_manifest)
    contam_dir = Path(contam_manifest).parent
    catalog = Table.read(catalog_file)
    mag_limit = settings.limit.mag_limit
    limit_record: Any = {"method": "config extract.mag_limit"}
    if mag_limit is None:
        mag_limit = manifest.meta["extract_mag_limit"]
        limit_record = manifest.meta.get("extract_mag_limit_record", {})
    ids, skipped = select_sources(
        catalog, mag_limit, settings.limit.bright_limit, settings.max_sources
    )
    note = ""
    if len(manifest) == 0:
        note = "the field has no grism exposures"
        skipped = {int(i): note for i in catalog["NUMBER"]}
        ids = []
    elif len(catalog) == 0:
        note = "the catalogue has no sources"
    elif not ids:
        note = "no source is bright enough to extract"
    rows_by_id: dict[int, dict[str, Any]] = {
        source_id: {"id": source_id, "status": "skipped", "reason": reason}
        for source_id, reason in skipped.items()
    }
    if ids:
        missing = [n for n in manifest["grismflt"] if not (contam_dir / n).is_file()]
        if missing:
            raise ExtractError(
                f"{field_name}: contamination models missing in {contam_dir}: "
                f"{', '.join(missing)}; rerun the contam rule"
            )
    # Sources extracted by an earlier, killed attempt from the same models are kept.
    inputs = [contam_manifest, seg_file, catalog_file,
              *(contam_dir / n for n in manifest["grismflt"])]  # fmt: skip
    key = {"settings": dataclasses.asdict(settings), "pad": pad, "ids": list(map(int, ids))}
    store = SourceStore(store_folder(out_dir), digest(key, inputs))
    with folder_product(out_dir) as work:
        kept = store.done()
        for source_id, row in kept.items():
            store.restore(source_id, work)
            rows_by_id[source_id] = row
        todo = [i for i in ids if i not in kept]
        if len(todo) < len(ids):
            log.info("%s: %d sources extracted by an earlier attempt are kept; %d to extract",
                     field_name, len(ids) - len(todo), len(todo))  # fmt: skip
        if todo:
            with grizli_session(work, grizli, log_path) as session:
                with session.step(field_name, "loading the contamination models"):
                    # grizli reads the segmentation map's primary: a plain copy of a
                    # compressed one (products.keep: science), in the job's folder.
                    (plain_seg,) = plain_inputs([seg_file], work)
                    group = _load_group(manifest, contam_dir, plain_seg, catalog_file, pad)
                    if plain_seg != seg_file:
                        plain_seg.unlink()
                log.info(
                    "%s: extracting %d sources (limit %.2f mag) with %d process(es)",
                    field_name, len(todo), mag_limit, threads,
                )  # fmt: skip
                for row in run_sources(
                    _extract_source, group, field_name, todo, settings,
                    stage="extract", store=store, work=work, processes=threads,
                ):  # fmt: skip
                    rows_by_id[row["id"]] = row
        table = _table(field_name, catalog, rows_by_id, mag_limit, limit_record, note)
        table.meta["bright_limit"] = settings.limit.bright_limit
        # The grism filters observed (with or without a direct image of their own): the summary's
        # miss reasons look for injected lines inside these, not the photometry's filters.
        if len(manifest):
            table.meta["grism_filters"] = sorted({str(f).upper() for f in manifest["filter"]})
        with atomic_path(work / extract_table_name(field_name)) as tmp:
            table.write(tmp, format="ascii.ecsv", overwrite=True)
        for leftover in work.glob("*.log"):
            leftover.unlink()
    store.clear()  # the product is in place
    status = list(table["status"])
    result = ExtractResult(
        out_dir / extract_table_name(field_name),
        status.count("extracted"),
        status.count("skipped"),
        status.count("failed"),
        time.monotonic() - started,
    )
    log.info(
        "%s: %d extracted, %d skipped, %d failed in %.0f s%s",
        field_name, result.extracted, result.skipped, result.failed, result.seconds,
        f" ({note})" if note else "",
    )  # fmt: skip
    return result


def _load_group(manifest, contam_dir: Path, seg_file, catalog_file, pad: int):
    from grizli import multifit

    files = [str((contam_dir / name).resolve()) for name in manifest["grismflt"]]
    return multifit.GroupFLT(
        grism_files=files,
        direct_files=[],
        ref_file=None,
        seg_file=str(Path(seg_file).resolve()),
        catalog=str(Path(catalog_file).resolve()),
        cpu_count=-1,  # serial: the workers below are the job's only processes
        sci_extn=1,
        pad=(pad, pad),
        verbose=False,
    )


def _table(field_name, catalog, rows_by_id, mag_limit, limit_record, note):
    from astropy.table import Table

    by_id = {int(r["NUMBER"]): r for r in catalog}
    rows = []
    for source_id in sorted(rows_by_id):
        row = rows_by_id[source_id]
        entry = by_id.get(source_id)
        rows.append(
            {
                "id": source_id,
                "ra": float(entry["RA"]) if entry is not None else np.nan,
                "dec": float(entry["DEC"]) if entry is not None else np.nan,
                "mag": float(entry["MAG_AUTO"]) if entry is not None else np.nan,
                "status": row["status"],
                "reason": row.get("reason", ""),
                "beams": row.get("beams", ""),
                "nbeams": int(row.get("nbeams", 0)),
                "grisms": row.get("grisms", ""),
            }
        )
    table = (
        Table(rows=[[r[c] for c in COLUMNS] for r in rows], names=COLUMNS, dtype=DTYPES)
        if rows
        else Table(names=COLUMNS, dtype=DTYPES)
    )
    table.meta.update(
        {
            "field": field_name,
            "mag_limit": mag_limit,
            "mag_limit_record": json.loads(json.dumps(limit_record)),
            "note": note,
        }
    )
    return table


def read_extract_table(path: str | os.PathLike):
    """The table written by :func:`extract_field` (for zfit and the summaries)."""
    text = ("status", "reason", "beams", "grisms")
    return read_ecsv_table(path, COLUMNS, text, ExtractError, "extract")


def extract_mem_mb(grism_exposures: int, threads: int = 1, attempt: int = 1) -> int:
    """The loaded models (~0.35 GB per padded full-frame grism exposure) plus what each forked
    worker writes to (its own copies of the pages it touches, plots)."""
    from .resources import grow

    base = 1200 + 450 * max(grism_exposures, 1) + 500 * max(threads - 1, 0)
    return grow(base, attempt)
