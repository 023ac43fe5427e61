# download: the input, param and resource functions of workflow/rules/download.smk.
import pandas as pd


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
    """The table's size of the UNCAL in bytes (None: unknown)."""
    size = exposure_row(wildcards)["size"]
    return None if size is None or pd.isna(size) else int(size)
