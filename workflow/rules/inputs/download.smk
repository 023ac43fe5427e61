# download: the input, param and resource functions of workflow/rules/download.smk.
from wfsspipe.fieldtable import uncal_size

# The program, the table it reads the exposure's row from, and where and how to fetch (the
# config's download section): none of them reruns a download.
DOWNLOAD_PROGRAM = Program(
    PYTHON, SCRIPTS / "download.py", "--table", FIELDS.path, site=config["download"]
)


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
    return uncal_size(exposure_row(wildcards))
