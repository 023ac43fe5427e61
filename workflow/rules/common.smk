# The config check, the fields table, the product layout, wildcard constraints, what several
# stages share, and the final target. Each stage's own input, param and resource functions are
# in its rule file (download.smk, stage1.smk, ...).
import gc
import os
import sys
from functools import cache
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "scripts"))

from snakemake.exceptions import WorkflowError
from wfsspipe.configcheck import ConfigError, check_config
from wfsspipe.crds_sync import job_environment
from wfsspipe.fields.sphere import parse_polygon
from wfsspipe.fieldtable import FieldTable, FieldTableError, FieldTableMissing
from wfsspipe.fieldtable import load_field_table
from wfsspipe.layout import EXPOSURE_PATTERN, FIELD_PATTERN, Layout
from wfsspipe.layout import absolute_prefix_pattern, rule_fields_dir
from wfsspipe.mosaic import mosaic_megapixels
from wfsspipe.resources import FieldFacts, field_facts, grow, mosaic_area_arcmin2
from wfsspipe.shell_job import JsonParam, Program, job_python

# The config before anything reads it (the Snakefile's validation): one short line per bad key,
# with a "did you mean", instead of jsonschema's dump of the schema.
try:
    check_config(config, Path(workflow.basedir) / "schemas" / "config.schema.yaml")
except ConfigError as error:
    raise WorkflowError(str(error)) from None

# The Python of a `shell:` rule's Program (download and stage1, see wfsspipe.shell_job): the
# job's environment's under --sdm conda or apptainer (as for `script:`), else this one.
PYTHON = job_python(workflow.deployment_settings.deployment_method, sys.executable)
SCRIPTS = Path(workflow.basedir) / "scripts"

# Relative to the working folder when inside it: products are targets by relative path, and by
# absolute path through the {root} wildcard that starts every output (see product()).
OUT = rule_fields_dir(config["fields_dir"].rstrip("/"), os.getcwd())
# Every product's path (wfsspipe.layout): LAYOUT.rate() is the pattern, .rate(field, exposure)
# one file.
LAYOUT = Layout(OUT)

try:
    FIELDS = load_field_table(config["fields_csv"], config["fields"])
    FIELDS_MISSING = ""
except FieldTableMissing as error:
    # Parsing (and `snakemake --lint`) works before computeFields.py ran; asking for any job
    # then fails with this message (require_fields()).
    FIELDS, FIELDS_MISSING = FieldTable.empty(config["fields_csv"]), str(error)
except FieldTableError as error:
    raise WorkflowError(str(error)) from None


# Snakemake builds a survey's DAG from millions of long-lived objects (jobs, files), and
# Python's cyclic garbage collector, at its default thresholds, scans them all again and again
# as they grow: a quarter of a dry run over 6,800 exposures (bench/RESULTS.md). What this parse
# made (modules, the table) lives for the whole run, so the collector skips it (freeze), and a
# collection starts every 10,000 new objects instead of 700. It still finds every cycle; the
# dry run's peak memory did not change.
gc.freeze()
gc.set_threshold(10_000, 10, 10)

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


def field_direct_filters(field):
    """Blocking filters (lower case) with direct (NIS_IMAGE) exposures in the fields table."""
    return table_facts(field).direct_filters


def field_grism_filters(field):
    """Blocking filters (lower case) with grism (NIS_WFSS) exposures in the fields table."""
    return table_facts(field).grism_filters


wildcard_constraints:
    field=FIELD_PATTERN,
    exposure=EXPOSURE_PATTERN,
    filter=r"f\d{3}[wmn]",
    root=absolute_prefix_pattern(OUT, os.getcwd()),


def product(path):
    """An output, log or benchmark pattern for ``path`` that a target matches whether it is
    spelled relative to the working folder or absolute (``{root}`` is empty or that folder)."""
    return f"{{root}}{path}"


def field_log(*parts):
    """A job's log under the field's logs/, as a rule's ``log:`` (e.g. "stage1", "{exposure}")."""
    return product(LAYOUT.log("{field}", *parts))


def field_benchmark(*parts):
    """A job's benchmark table under the field's benchmarks/, as a rule's ``benchmark:``."""
    return product(LAYOUT.benchmark("{field}", *parts))


def field_rates(field):
    return [LAYOUT.rate(field, exposure) for exposure in FIELDS.exposures(field)]


def field_rate_inputs(wildcards):
    """The field's RATE files (a clear error for a field not in the table)."""
    require_fields()
    if wildcards.field not in FIELD_FACTS:  # a dict: FIELDS.fields sorts the table's names
        raise WorkflowError(f"field {wildcards.field!r} is not in {FIELDS.path}")
    return field_rates(wildcards.field)


# --- shared by several stages --------------------------------------------------------------------
# Scratch disk as Snakemake's default asks for it (twice the inputs, at least 1000 MB), but from
# os.stat of the inputs that exist (the table's size for an UNCAL not downloaded yet): the
# default asks Snakemake for the size of every input, an asyncio round trip per file even when
# the file does not exist yet, for every job whose resources are evaluated (a third of the CPU
# of a dry run that prints its jobs, over 6,800 exposures: bench/RESULTS.md).
MIN_DISK_MB = 1000


def inputs_disk_mb(wildcards, input):
    sizes = [os.stat(p).st_size for p in map(str, input) if os.path.exists(p)]
    return max(MIN_DISK_MB, int(2 * sum(sizes) / 1e6))


def crds_settings():
    """CRDS environment for jwst and grizli jobs: shared cache, pinned context, no network."""
    return job_environment(config["crds"]["path"], config["crds"]["context"])


# What a job needs before CRDS can answer offline: the field's sync, when syncing is on.
CRDS_READY = [LAYOUT.crds_record("{field}")] if config["crds"]["sync"] else []


def grizli_job_params(*sections):
    """What a grizli job reads: its sections of the config, grizli's and CRDS's."""
    return {key: config[key] for key in (*sections, "grizli", "crds")}


@cache  # once per field: several rules' resources ask for it
def field_mosaic_megapixels(field):
    """The size of the field's mosaics (from its footprints in the table)."""
    regions = [parse_polygon(FIELDS.row(field, e)["s_region"]) for e in FIELDS.exposures(field)]
    if not regions:
        return 0.0
    return mosaic_megapixels(
        regions, config["mosaic"]["pixel_scale"], config["mosaic"]["pad_arcsec"]
    )


def field_mosaic_arcmin2(field):
    return mosaic_area_arcmin2(field_mosaic_megapixels(field), config["mosaic"]["pixel_scale"])


# --- the report ----------------------------------------------------------------------------------
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


# --- what a field's run makes, by stage, and the final target ------------------------------------
# The stage functions (mosaic_products, redshift_targets, webmap_targets, ...) are in the stages'
# rule files; they are called only once every rule file is read.


def field_stage_products(field):
    """{stage: products} of a field, for the stages the field has (a field without direct
    imaging stops after preprocess)."""
    products = {
        "stage1": field_rates(field),
        "preprocess": [LAYOUT.visits_table(field), LAYOUT.footprint(field)],
    }
    if field_direct_filters(field):
        products["mosaic"] = mosaic_products(field)
    if redshift_targets(field):
        products["contam"] = [LAYOUT.contam_manifest(field), LAYOUT.contam_overview(field)]
        products["extract"] = [LAYOUT.extract_table(field)]
        products["zfit"] = LAYOUT.redshift_results(field)
        products["provenance"] = [LAYOUT.provenance(field)]
    maps = webmap_targets(field)
    if maps:
        products["webmap"] = maps
    return products


def all_targets(wildcards=None):
    """Every product of every selected field (the input of the default target; an input
    function, so a missing fields table stops the run, not the parsing)."""
    require_fields()
    stages = {field: field_stage_products(field) for field in FIELDS.fields}
    # The RATE files too (preprocess asks for them as well): a deleted one is made again.
    targets = [rate for products in stages.values() for rate in products["stage1"]]
    for field, products in stages.items():
        targets += [
            path for stage, paths in products.items() if stage != "stage1" for path in paths
        ]
        targets += field_summary_targets(field)
    return targets + summary_targets()
