# The fields table, wildcard constraints and the input/resource functions of every rule.
import os
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(workflow.basedir) / "scripts"))

from snakemake.exceptions import WorkflowError
from wfsspipe.crdssync import job_environment
from wfsspipe.fieldtable import FieldTableError, load_field_table
from wfsspipe.products import EXPOSURE_PATTERN, FIELD_PATTERN
from wfsspipe.resources import stage1_mem_mb as _stage1_mem_mb

OUT = config["fields_dir"].rstrip("/")

try:
    FIELDS = load_field_table(config["fields_csv"], config["fields"])
except FieldTableError as error:
    raise WorkflowError(str(error)) from None


wildcard_constraints:
    field=FIELD_PATTERN,
    exposure=EXPOSURE_PATTERN,


def exposure_row(wildcards):
    """The table row of {field}/{exposure}; a clear error for anything not in the table."""
    try:
        return FIELDS.row(wildcards.field, wildcards.exposure)
    except FieldTableError as error:
        raise WorkflowError(str(error)) from None


def data_uri(wildcards):
    return exposure_row(wildcards)["dataURI"]


def expected_size(wildcards):
    size = exposure_row(wildcards)["size"]
    return None if size is None or pd.isna(size) else int(size)


def uncal_path(field="{field}", exposure="{exposure}"):
    return f"{OUT}/{field}/UNCAL/{exposure}_uncal.fits"


def rate_path(field="{field}", exposure="{exposure}"):
    return f"{OUT}/{field}/RATE/{exposure}_rate.fits"


def uncal_mb(wildcards, input=None):
    """Size of the UNCAL in MB: the file when it is there, else the table's size, else unknown."""
    if input is not None and os.path.exists(str(input[0])):
        return os.path.getsize(str(input[0])) / 1e6
    size = expected_size(wildcards)
    return None if size is None else size / 1e6


def stage1_mem_mb(wildcards, input, attempt):
    factor = config["resources"]["stage1_mem_factor"]
    return _stage1_mem_mb(uncal_mb(wildcards, input), attempt, factor)


def crds_settings():
    """CRDS environment for jwst and grizli jobs: shared cache, pinned context, no network."""
    return job_environment(config["crds"]["path"], config["crds"]["context"])


def crds_sync_record(field="{field}"):
    return f"{OUT}/{field}/crds_references.json"


def crds_ready(wildcards):
    """What a job needs before CRDS can answer offline: the field's sync, when syncing is on."""
    return [crds_sync_record(wildcards.field)] if config["crds"]["sync"] else []


def field_exposure_rows(wildcards):
    """The field's exposures as dicts (CRDS matches references on their filter, pupil, time)."""
    return [FIELDS.row(wildcards.field, e) for e in FIELDS.exposures(wildcards.field)]


def field_rates(field):
    return [rate_path(field, exposure) for exposure in FIELDS.exposures(field)]


def all_targets():
    """Every product of every selected field (the input of the default target)."""
    targets = [rate for field in FIELDS.fields for rate in field_rates(field)]
    for field in FIELDS.fields:
        targets += [visits_table(field), footprint_plot(field)]
        if field_direct_filters(field):  # a field without direct imaging has no mosaics
            targets += field_filter_mosaics(field) + list(mosaic_catalog_products(field).values())
    return targets


# --- grizli stages: preprocess, mosaic -----------------------------------------------------------
from wfsspipe.fields.sphere import parse_polygon
from wfsspipe.mosaic import catalog_mem_mb as _catalog_mem_mb
from wfsspipe.mosaic import catalog_names, filter_mosaic_names, mosaic_megapixels
from wfsspipe.mosaic import filter_mem_mb as _filter_mem_mb
from wfsspipe.preprocess import DEFAULT_RATE_MB
from wfsspipe.preprocess import preprocess_mem_mb as _preprocess_mem_mb


wildcard_constraints:
    filter=r"f\d{3}[wmn]",


def prep_dir(field="{field}"):
    return f"{OUT}/{field}/Prep"


def visits_table(field="{field}"):
    """The preprocess manifest: one row per prepared exposure in Prep/."""
    return f"{prep_dir(field)}/{field}_visits.ecsv"


def footprint_plot(field="{field}"):
    return f"{prep_dir(field)}/{field}_footprint.png"


def mosaic_dir(field="{field}"):
    return f"{OUT}/{field}/Mosaic"


def filter_mosaic(field="{field}", filter="{filter}"):
    """(sci, wht) of a filter mosaic; ``filter`` lower case, e.g. f150w."""
    sci, wht = filter_mosaic_names(field, filter)
    return [f"{mosaic_dir(field)}/{sci}", f"{mosaic_dir(field)}/{wht}"]


def mosaic_catalog_products(field="{field}"):
    """IR image, segmentation, catalogues and RGB image of a field, by name."""
    return {key: f"{mosaic_dir(field)}/{name}" for key, name in catalog_names(field).items()}


def _field_rows(field):
    rows = FIELDS.rows
    return rows[rows["field"] == field]


def field_direct_filters(field):
    """Blocking filters (lower case) with direct (NIS_IMAGE) exposures in the fields table."""
    rows = _field_rows(field)
    return sorted({p.lower() for p in rows.loc[rows["exp_type"] == "NIS_IMAGE", "pupil"]})


def field_filter_mosaics(field):
    return [path for f in field_direct_filters(field) for path in filter_mosaic(field, f)]


def field_rate_inputs(wildcards):
    if wildcards.field not in FIELDS.fields:
        raise WorkflowError(f"field {wildcards.field!r} is not in {FIELDS.path}")
    return field_rates(wildcards.field)


def direct_filter_visits(wildcards):
    """The visit table, for a filter the field has direct exposures in (else a clear error)."""
    filters = field_direct_filters(wildcards.field)
    if wildcards.filter not in filters:
        raise WorkflowError(
            f"field {wildcards.field} has no direct exposures in {wildcards.filter.upper()} "
            f"(direct filters: {', '.join(filters) or 'none'})"
        )
    return visits_table(wildcards.field)


def catalog_filter_mosaics(wildcards):
    if not field_direct_filters(wildcards.field):
        raise WorkflowError(
            f"field {wildcards.field} has no direct imaging in {FIELDS.path}: no mosaic, no "
            "catalogue (preprocess still prepares its grism exposures)"
        )
    return field_filter_mosaics(wildcards.field)


def mosaic_filters(wildcards):
    return field_direct_filters(wildcards.field)


def preprocess_params(wildcards):
    return {"preprocess": config["preprocess"], "grizli": config["grizli"], "crds": config["crds"]}


def mosaic_params(wildcards):
    return {"mosaic": config["mosaic"], "grizli": config["grizli"], "crds": config["crds"]}


def preprocess_threads(wildcards):
    """AstroDrizzle (CR rejection) works on a visit's exposures in parallel: up to 4 cores."""
    rows = _field_rows(wildcards.field)
    per_filter = rows[rows["exp_type"] == "NIS_IMAGE"].groupby("pupil").size()
    return int(min(4, max(1, per_filter.max() if len(per_filter) else 1)))


def preprocess_mem_mb(wildcards, input, threads, attempt):
    """Grows with the field's RATE data (files when there, else the table's count), the
    AstroDrizzle workers (threads) and the attempt."""
    rates = [str(path) for path in input.rates]
    sizes = [os.path.getsize(p) / 1e6 if os.path.exists(p) else DEFAULT_RATE_MB for p in rates]
    return _preprocess_mem_mb(sizes, threads, attempt)


def _mosaic_megapixels(field):
    regions = [parse_polygon(r) for r in _field_rows(field)["s_region"]]
    return mosaic_megapixels(
        regions, config["mosaic"]["pixel_scale"], config["mosaic"]["pad_arcsec"]
    )


def filter_mosaic_mem_mb(wildcards, attempt):
    """Grows with the mosaic's pixels (from the field's footprints), exposures and attempt."""
    rows = _field_rows(wildcards.field)
    direct = rows[
        (rows["exp_type"] == "NIS_IMAGE") & (rows["pupil"].str.lower() == wildcards.filter)
    ]
    return _filter_mem_mb(_mosaic_megapixels(wildcards.field), len(direct), attempt)


def catalog_mem_mb(wildcards, attempt):
    """Grows with the mosaic's pixels, the number of filters and the attempt."""
    filters = len(field_direct_filters(wildcards.field))
    return _catalog_mem_mb(_mosaic_megapixels(wildcards.field), filters, attempt)
