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
    return _stage1_mem_mb(uncal_mb(wildcards, input), attempt)


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
    return [rate for field in FIELDS.fields for rate in field_rates(field)]
