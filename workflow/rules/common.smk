# The fields table, wildcard constraints and the input/resource functions of every rule.
import os
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(workflow.basedir) / "scripts"))

from snakemake.exceptions import WorkflowError
from wfsspipe.configcheck import ConfigError, check_config
from wfsspipe.crdssync import job_environment
from wfsspipe.crdssync import stage1_reference_mb as _stage1_reference_mb
from wfsspipe.fieldtable import FieldTable, FieldTableError, FieldTableMissing
from wfsspipe.fieldtable import load_field_table
from wfsspipe.products import EXPOSURE_PATTERN, FIELD_PATTERN
from wfsspipe.products import absolute_prefix_pattern, rule_fields_dir
from wfsspipe.resources import DEFAULT_UNCAL_MB, FieldFacts, field_facts, grow
from wfsspipe.resources import stage1_mem_mb as _stage1_mem_mb
from wfsspipe.resources import grow as _grow

# The config before anything reads it (the Snakefile's validation): one short line per bad key,
# with a "did you mean", instead of jsonschema's dump of the schema.
try:
    check_config(config, Path(workflow.basedir) / "schemas" / "config.schema.yaml")
except ConfigError as error:
    raise WorkflowError(str(error)) from None

# Relative to the working folder when inside it: products are targets by relative path, and by
# absolute path through the {root} wildcard that starts every output (see product()).
OUT = rule_fields_dir(config["fields_dir"].rstrip("/"), os.getcwd())

try:
    FIELDS = load_field_table(config["fields_csv"], config["fields"])
    FIELDS_MISSING = ""
except FieldTableMissing as error:
    # Parsing (and `snakemake --lint`) works before computeFields.py ran; asking for any job
    # then fails with this message (require_fields()).
    FIELDS, FIELDS_MISSING = FieldTable.empty(config["fields_csv"]), str(error)
except FieldTableError as error:
    raise WorkflowError(str(error)) from None


# Per-field counts and sizes for the resource and input functions, from the table in one pass:
# they run for every job at every start, so they look up, never filter the table.
FIELD_FACTS = field_facts(FIELDS.rows.to_dict("records"))


def table_facts(field):
    """The field's FieldFacts (empty for a field not in the table)."""
    return FIELD_FACTS.get(field) or FieldFacts()


def require_fields():
    """Stop with the missing table's message (what to run) when there is no fields table."""
    if FIELDS_MISSING:
        raise WorkflowError(FIELDS_MISSING)


wildcard_constraints:
    field=FIELD_PATTERN,
    exposure=EXPOSURE_PATTERN,
    root=absolute_prefix_pattern(OUT, os.getcwd()),


def product(path):
    """An output, log or benchmark pattern for ``path`` that a target matches whether it is
    spelled relative to the working folder or absolute (``{root}`` is empty or that folder)."""
    return f"{{root}}{path}"


def exposure_row(wildcards):
    """The table row of {field}/{exposure}; a clear error for anything not in the table."""
    require_fields()
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


# Scratch disk as Snakemake's default asks for it (twice the inputs, at least 1000 MB), but from
# os.stat of the inputs that exist (the table's size for an UNCAL not downloaded yet): the
# default asks Snakemake for the size of every input, an asyncio round trip per file even when
# the file does not exist yet, for every job whose resources are evaluated (a third of the CPU
# of a dry run that prints its jobs, over 6,800 exposures: bench/RESULTS.md).
MIN_DISK_MB = 1000


def inputs_disk_mb(wildcards, input):
    sizes = [os.stat(p).st_size for p in map(str, input) if os.path.exists(p)]
    return max(MIN_DISK_MB, int(2 * sum(sizes) / 1e6))


def stage1_disk_mb(wildcards, input):
    return max(MIN_DISK_MB, int(2 * (uncal_mb(wildcards, input) or DEFAULT_UNCAL_MB)))


def crds_settings():
    """CRDS environment for jwst and grizli jobs: shared cache, pinned context, no network."""
    return job_environment(config["crds"]["path"], config["crds"]["context"])


def crds_sync_record(field="{field}"):
    return f"{OUT}/{field}/crds_references.json"


def crds_ready(wildcards):
    """What a job needs before CRDS can answer offline: the field's sync, when syncing is on."""
    return [crds_sync_record(wildcards.field)] if config["crds"]["sync"] else []


def crds_sync_uncals(wildcards):
    """The field's UNCAL files: the sync reads each one's CRDS parameters from its header."""
    require_fields()
    return [uncal_path(wildcards.field, e) for e in FIELDS.exposures(wildcards.field)]


def stage1_mem_with_references_mb(wildcards, input, attempt):
    """stage1_mem_mb plus what the exposure's dark costs, from the field's CRDS sync record
    (not there yet: Snakemake evaluates this again once it is)."""
    record = input.crds[0] if input.crds else None
    extra = _stage1_reference_mb(record, wildcards.exposure)
    return stage1_mem_mb(wildcards, input, attempt) + _grow(extra, attempt, minimum=0)


def field_rates(field):
    return [rate_path(field, exposure) for exposure in FIELDS.exposures(field)]


def all_targets(wildcards=None):
    """Every product of every selected field (the input of the default target; an input
    function, so a missing fields table stops the run, not the parsing)."""
    require_fields()
    targets = [rate for field in FIELDS.fields for rate in field_rates(field)]
    for field in FIELDS.fields:
        targets += [visits_table(field), footprint_plot(field)]
        if field_direct_filters(field):  # a field without direct imaging has no mosaics
            targets += field_filter_mosaics(field) + list(mosaic_catalog_products(field).values())
        targets += redshift_targets(field) + fitsmap_targets(field)
        targets += field_summary_targets(field)
    return targets + summary_targets()


# --- grizli_config: $GRIZLI built and verified on the submit host -------------------------------
# Parsing stops when a grism x filter of the fields table has no conf or sky flat in $GRIZLI and no
# configured source provides it (wfsspipe.grizli_config.table_problems).
from wfsspipe.grizli_config import manifest_path, sources_from_config
from wfsspipe.grizli_config import table_check_message, table_problems

GRIZLI_SOURCES = sources_from_config(config["grizli_config"]["sources"])
# The rule's output, an input of every grizli stage that reads CONF/ or templates/ (ancient: it
# orders the jobs and proves $GRIZLI complete; rebuilding $GRIZLI remakes no product by itself).
GRIZLI_MANIFEST = str(manifest_path(config["grizli"]["path"]))

_grizli_problems = table_problems(
    config["grizli"]["path"], GRIZLI_SOURCES, FIELDS.rows.to_dict("records")
)
if _grizli_problems:
    raise WorkflowError(table_check_message(config["grizli"]["path"], _grizli_problems))


def grizli_config_sources():
    """The sources without their URLs (the rule's params)."""
    return [
        {key: value for key, value in entry.items() if key != "url"}
        for entry in config["grizli_config"]["sources"]
    ]


# --- grizli stages: preprocess, mosaic -----------------------------------------------------------
from functools import cache

from wfsspipe.fields.sphere import parse_polygon
from wfsspipe.mosaic import catalog_mem_mb as _catalog_mem_mb
from wfsspipe.mosaic import catalog_names, filter_mosaic_names, mosaic_megapixels
from wfsspipe.mosaic import filter_mem_mb as _filter_mem_mb
from wfsspipe.preprocess import DEFAULT_RATE_MB
from wfsspipe.preprocess import preprocess_mem_mb as _preprocess_mem_mb
from wfsspipe.resources import catalog_runtime as _catalog_runtime
from wfsspipe.resources import mosaic_area_arcmin2
from wfsspipe.resources import mosaic_filter_runtime as _mosaic_filter_runtime
from wfsspipe.resources import preprocess_runtime as _preprocess_runtime


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


def field_direct_filters(field):
    """Blocking filters (lower case) with direct (NIS_IMAGE) exposures in the fields table."""
    return table_facts(field).direct_filters


def field_filter_mosaics(field):
    return [path for f in field_direct_filters(field) for path in filter_mosaic(field, f)]


def field_rate_inputs(wildcards):
    require_fields()
    if wildcards.field not in FIELD_FACTS:  # a dict: FIELDS.fields sorts the table's names
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
    return {
        "preprocess": config["preprocess"],
        "grizli": config["grizli"],
        "crds": config["crds"],
        "products": config["products"],
    }


def mosaic_params(wildcards):
    return {
        "mosaic": config["mosaic"],
        "grizli": config["grizli"],
        "crds": config["crds"],
        "products": config["products"],
    }


def preprocess_threads(wildcards):
    """AstroDrizzle (CR rejection) works on a visit's exposures in parallel: up to 4 cores."""
    return min(4, max(table_facts(wildcards.field).direct.values(), default=1))


def preprocess_mem_mb(wildcards, input, threads, attempt):
    """Grows with the field's RATE data (files when there, else the table's count), the
    AstroDrizzle workers (threads) and the attempt."""
    rates = [str(path) for path in input.rates]
    sizes = [os.path.getsize(p) / 1e6 if os.path.exists(p) else DEFAULT_RATE_MB for p in rates]
    return _preprocess_mem_mb(sizes, threads, attempt)


def preprocess_runtime(wildcards, attempt):
    """Minutes: grows with the field's exposures (from the table) and the attempt."""
    return _preprocess_runtime(table_facts(wildcards.field).exposures, attempt)


@cache  # once per field: several rules' resources ask for it
def _mosaic_megapixels(field):
    regions = [parse_polygon(FIELDS.row(field, e)["s_region"]) for e in FIELDS.exposures(field)]
    if not regions:
        return 0.0
    return mosaic_megapixels(
        regions, config["mosaic"]["pixel_scale"], config["mosaic"]["pad_arcsec"]
    )


def _mosaic_arcmin2(field):
    return mosaic_area_arcmin2(_mosaic_megapixels(field), config["mosaic"]["pixel_scale"])


def filter_mosaic_mem_mb(wildcards, attempt):
    """Grows with the mosaic's pixels (from the field's footprints), exposures and attempt."""
    direct = table_facts(wildcards.field).direct.get(wildcards.filter, 0)
    return _filter_mem_mb(_mosaic_megapixels(wildcards.field), direct, attempt)


def filter_mosaic_runtime(wildcards, attempt):
    """Minutes: grows with the mosaic's pixels, the filter's exposures and the attempt."""
    direct = table_facts(wildcards.field).direct.get(wildcards.filter, 0)
    return _mosaic_filter_runtime(_mosaic_megapixels(wildcards.field), direct, attempt)


def catalog_mem_mb(wildcards, attempt):
    """Grows with the mosaic's pixels, the number of filters and the attempt."""
    filters = len(field_direct_filters(wildcards.field))
    return _catalog_mem_mb(_mosaic_megapixels(wildcards.field), filters, attempt)


def catalog_runtime(wildcards, attempt):
    """Minutes: grows with the mosaic's pixels, the number of filters and the attempt."""
    filters = len(field_direct_filters(wildcards.field))
    return _catalog_runtime(_mosaic_megapixels(wildcards.field), filters, attempt)


# --- contam, extract, zfit -----------------------------------------------------------------------
from wfsspipe.contam import contam_mem_mb as _contam_mem_mb
from wfsspipe.contam import manifest_name as contam_manifest_name
from wfsspipe.contam import overview_name as contam_overview_name
from wfsspipe.niriss import reference_filter
from wfsspipe.extract import extract_mem_mb as _extract_mem_mb
from wfsspipe.extract import table_name as extract_table_name
from wfsspipe.resources import contam_runtime as _contam_runtime
from wfsspipe.resources import extract_runtime as _extract_runtime
from wfsspipe.resources import zfit_runtime as _zfit_runtime
from wfsspipe.zfit import results_names
from wfsspipe.zfit import zfit_mem_mb as _zfit_mem_mb


def contam_manifest(field="{field}"):
    return f"{OUT}/{field}/Contam/{contam_manifest_name(field)}"


def contam_overview(field="{field}"):
    return f"{OUT}/{field}/Contam/{contam_overview_name(field)}"


def extract_table(field="{field}"):
    return f"{OUT}/{field}/Extractions/{extract_table_name(field)}"


def redshift_results(field="{field}"):
    """(FITS, CSV) results tables of zfit."""
    fits_name, csv_name = results_names(field)
    return [f"{OUT}/{field}/Redshifts/{fits_name}", f"{OUT}/{field}/Redshifts/{csv_name}"]


def provenance_record(field="{field}"):
    return f"{OUT}/{field}/{field}_provenance.json"


def field_grism_filters(field):
    """Blocking filters (lower case) with grism (NIS_WFSS) exposures in the fields table."""
    return table_facts(field).grism_filters


def _grism_exposure_count(field):
    return table_facts(field).grism_exposures


def contam_filters(wildcards):
    """Direct filters whose mosaics the grism filters are modelled from: each grism filter's own,
    or the nearest in wavelength when the field has no direct image in it (mixed-filter visits,
    :func:`wfsspipe.niriss.reference_filter`)."""
    direct = field_direct_filters(wildcards.field)
    references = [reference_filter(f, direct) for f in field_grism_filters(wildcards.field)]
    return sorted({f for f in references if f is not None}, key=direct.index)


def contam_inputs(wildcards):
    """Visit table, the mosaics of the grism filters, segmentation image and catalogue."""
    catalog_filter_mosaics(wildcards)  # a clear error for a field without direct imaging
    products = mosaic_catalog_products(wildcards.field)
    return {
        "visits": visits_table(wildcards.field),
        "mosaics": [filter_mosaic(wildcards.field, f)[0] for f in contam_filters(wildcards)],
        "seg": products["seg"],
        "catalog": products["detection_catalog"],
    }


def detection_products(wildcards):
    products = mosaic_catalog_products(wildcards.field)
    return {"seg": products["seg"], "catalog": products["detection_catalog"]}


def _grizli_job_params(*sections):
    return {key: config[key] for key in (*sections, "grizli", "crds")}


def contam_params(wildcards):
    """What a contam job reads: its settings and how the extraction limit is made."""
    return _grizli_job_params("contam", "extract", "products")


def extract_params(wildcards):
    """What an extract job reads: its settings and the pad the models were made with."""
    params = _grizli_job_params("extract")
    params["contam"] = {"pad": config["contam"]["pad"]}
    return params


def zfit_params(wildcards):
    return _grizli_job_params("zfit")


def contam_threads(wildcards):
    """GroupFLT loads and models a filter's grism exposures in parallel: one core each."""
    most = max(table_facts(wildcards.field).grism.values(), default=1)
    return max(1, min(config["resources"]["grizli_threads"], most))


# extract and zfit work on sources in parallel: resources.grizli_threads processes (a constant:
# the rules' threads, no function per job).
SOURCE_THREADS = config["resources"]["grizli_threads"]


def contam_mem_mb(wildcards, threads, attempt):
    return _contam_mem_mb(_grism_exposure_count(wildcards.field), threads, attempt)


def contam_runtime(wildcards, attempt):
    """Minutes: grows with the field's grism exposures and the attempt."""
    return _contam_runtime(_grism_exposure_count(wildcards.field), attempt)


def extract_mem_mb(wildcards, threads, attempt):
    return _extract_mem_mb(_grism_exposure_count(wildcards.field), threads, attempt)


def extract_runtime(wildcards, threads, attempt):
    """Minutes: grows with the mosaic's area (sources expected), falls with threads."""
    return _extract_runtime(_mosaic_arcmin2(wildcards.field), threads, attempt)


def zfit_mem_mb(wildcards, threads, attempt):
    return _zfit_mem_mb(threads, threads, attempt)


def zfit_runtime(wildcards, threads, attempt):
    """Minutes: grows with the mosaic's area (sources expected), falls with threads."""
    return _zfit_runtime(_mosaic_arcmin2(wildcards.field), threads, attempt)


def provenance_inputs(wildcards):
    """Everything the record describes: the field's RATE files and its redshift results."""
    return {"rates": field_rates(wildcards.field), "results": redshift_results(wildcards.field)}


def redshift_targets(field):
    """Products of contam, extract and zfit for a field (one with direct imaging: the
    catalogue is made from it), and its provenance record."""
    if not field_direct_filters(field):
        return []
    return [contam_manifest(field), extract_table(field), *redshift_results(field),
            provenance_record(field)]  # fmt: skip


# --- fitsmap -------------------------------------------------------------------------------------


from wfsspipe.webmap import MapInputs, map_dir
from wfsspipe.webmap import fitsmap_mem_mb as _fitsmap_mem_mb


def fitsmap_index(field="{field}"):
    return f"{map_dir(OUT, field)}/index.html"


def fitsmap_inputs(wildcards):
    """Mosaics (RGB, IR grid, one per direct filter), contam table, redshift table."""
    filters = catalog_filter_mosaics(wildcards) and field_direct_filters(wildcards.field)
    inputs = MapInputs.for_field(OUT, wildcards.field, filters)
    return {
        "rgb": str(inputs.rgb),
        "grid": str(inputs.grid),
        "mosaics": [str(inputs.filter_mosaics[f]) for f in filters],
        "contam": str(inputs.contam),
        "redshifts": str(inputs.redshifts),
    }


def fitsmap_params(wildcards):
    """``fitsmap`` settings; ``assets_dir: null`` means resources/webmap/node_modules."""
    return config["fitsmap"]


def fitsmap_mem_mb(wildcards, threads, attempt):
    """Grows with the mosaic's pixels (from the field's footprints), the processes and attempt."""
    return _fitsmap_mem_mb(_mosaic_megapixels(wildcards.field), threads, attempt)


def fitsmap_targets(field):
    """The web map of a field with direct imaging, once its redshift products are targets."""
    if not field_direct_filters(field) or not redshift_targets(field):
        return []
    return [fitsmap_index(field)]


# --- summary: index page, combined catalogue -----------------------------------------------------


REPORT_FIELDS = "Fields"  # report category of the per-field QC plots (subcategory: the field)
REPORT_SURVEY = "Survey"  # report category of the plots over all fields


def field_report(path, caption, figure):
    """``path`` marked for the report under Fields > {field}, described by
    workflow/report/{caption}.rst, labelled ``figure`` (e.g. "footprints")."""
    return report(
        path,
        caption=f"../report/{caption}.rst",  # relative to workflow/rules
        category=REPORT_FIELDS,
        subcategory="{field}",
        labels={"figure": figure},
    )


def mosaic_outputs():
    """Outputs of the mosaic rule (mosaic_catalog_products()), the RGB image in the report."""
    products = {key: product(path) for key, path in mosaic_catalog_products().items()}
    products["rgb"] = field_report(products["rgb"], "rgb", "RGB image")
    return products


def summary_visits_plot(field="{field}"):
    """The visit layout plot of a field (exposures by filter, element, PA and time)."""
    return f"{OUT}/{field}/QC/{field}_visits.png"


def summary_redshift_table(field):
    """The zfit results of a field: read only once redshift_targets(field) lists it."""
    return f"{OUT}/{field}/Redshifts/{field}_redshifts.fits"


SUMMARY = {
    "index": f"{OUT}/index.html",
    "catalog_fits": f"{OUT}/catalog.fits",
    "catalog_csv": f"{OUT}/catalog.csv",
    "redshifts_plot": f"{OUT}/summary/redshifts.png",
    "truth_plot": f"{OUT}/summary/z_truth.png",
    "truth_table": f"{OUT}/summary/z_truth.ecsv",
}


def summary_catalog_fields(wildcards=None):
    """Fields of the combined catalogue (those with a photometric catalogue): their catalogue
    and, once zfit makes it, their redshift table (None before)."""
    fields = {}
    for field in FIELDS.fields:
        if field_direct_filters(field):
            redshifts = summary_redshift_table(field)
            fitted = redshifts in redshift_targets(field)
            fields[field] = {
                "phot": mosaic_catalog_products(field)["phot"],
                "redshifts": redshifts if fitted else None,
                "extractions": extract_table(field) if fitted else None,
            }
    return fields


def summary_catalog_inputs(wildcards):
    fields = summary_catalog_fields().values()
    return {
        "phot": [paths["phot"] for paths in fields],
        "redshifts": [paths["redshifts"] for paths in fields if paths["redshifts"]],
        "extractions": [paths["extractions"] for paths in fields if paths["extractions"]],
    }


def summary_catalog_mem_mb(wildcards, attempt):
    """Grows with the number of fields (their catalogues are held together) and the attempt."""
    return grow(1000 + 4 * len(FIELDS.fields), attempt)


def summary_field_targets(wildcards=None):
    """What each field's row on the index page links to: its web map, else its RGB image."""
    targets = {}
    for field in FIELDS.fields:
        maps = fitsmap_targets(field)
        if maps:
            targets[field] = [str(path) for path in maps]
        elif field_direct_filters(field):
            targets[field] = [mosaic_catalog_products(field)["rgb"]]
    return targets


def summary_index_links():
    """(label, input name) of the links at the top of the index page."""
    links = [
        ("catalogue (FITS)", "catalog_fits"),
        ("catalogue (CSV)", "catalog_csv"),
        ("redshift distribution", "redshifts_plot"),
    ]
    return links + ([("injected vs measured z", "truth_plot")] if summary_truth() else [])


def summary_index_inputs(wildcards):
    inputs = {name: SUMMARY[name] for _, name in summary_index_links()}
    inputs["fields_csv"] = str(FIELDS.path)
    inputs["maps"] = [path for paths in summary_field_targets().values() for path in paths]
    inputs["thumbnails"] = list(summary_thumbnails().values())
    return inputs


def summary_thumbnails(wildcards=None):
    """The RGB image each field with direct imaging shows small on the index page."""
    return {
        field: mosaic_catalog_products(field)["rgb"]
        for field in FIELDS.fields
        if field_direct_filters(field)
    }


def summary_truth():
    """The truth table of a synthetic field (summary.truth), or "" (no comparison)."""
    return config["summary"]["truth"]


def summary_truth_input(wildcards):
    if not summary_truth():
        raise WorkflowError(
            "set summary.truth to a truth table (id, ra, dec, z) to compare redshifts"
        )
    return summary_truth()


def summary_targets():
    """Products over all fields: index page, combined catalogue, QC plots."""
    targets = [summary_visits_plot(field) for field in FIELDS.fields]
    targets += [
        SUMMARY[name] for name in ("index", "catalog_fits", "catalog_csv", "redshifts_plot")
    ]
    if summary_truth():
        targets += [SUMMARY["truth_plot"], SUMMARY["truth_table"]]
    return targets


# --- field_summary: the run summary targets of a field (logs/fmap.log, ...) -----------------

# Targets and their stages: each summary covers the stages up to and including its own.
FIELD_SUMMARIES = {
    "fmap": ("every stage", ["stage1", "preprocess", "mosaic", "contam", "extract", "zfit",
                             "provenance", "fitsmap"]),
    "stage1": ("Stage 1", ["stage1"]),
    "mosaic": ("up to the mosaics", ["stage1", "preprocess", "mosaic"]),
}  # fmt: skip


wildcard_constraints:
    summary="|".join(FIELD_SUMMARIES),


def field_summary_path(field="{field}", summary="{summary}"):
    return f"{OUT}/{field}/logs/{summary}.log"


def field_stage_products(field):
    """{stage: products} of a field, for the stages the field has (a field without direct
    imaging stops after preprocess)."""
    products = {
        "stage1": field_rates(field),
        "preprocess": [visits_table(field), footprint_plot(field)],
    }
    if field_direct_filters(field):
        products["mosaic"] = field_filter_mosaics(field) + list(
            mosaic_catalog_products(field).values()
        )
    if redshift_targets(field):
        products["contam"] = [contam_manifest(field), contam_overview(field)]
        products["extract"] = [extract_table(field)]
        products["zfit"] = redshift_results(field)
        products["provenance"] = [provenance_record(field)]
    if fitsmap_targets(field):
        products["fitsmap"] = fitsmap_targets(field)
    return products


def field_summary_inputs(wildcards):
    """The products of the summary's stages, by stage (a clear error for an unknown field)."""
    field_rate_inputs(wildcards)
    products = field_stage_products(wildcards.field)
    stages = FIELD_SUMMARIES[wildcards.summary][1]
    return {stage: products[stage] for stage in stages if stage in products}


def field_summary_title(wildcards):
    return f"run summary ({FIELD_SUMMARIES[wildcards.summary][0]})"


def field_folder(wildcards):
    return f"{OUT}/{wildcards.field}"


def field_summary_targets(field):
    """The whole-field summary, a target of every field."""
    return [field_summary_path(field, "fmap")]
