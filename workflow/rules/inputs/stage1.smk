# stage1: the input, param and resource functions of workflow/rules/stage1.smk.
from wfsspipe.crds_sync import stage1_reference_mb
from wfsspipe.resources import DEFAULT_UNCAL_MB
from wfsspipe.resources import stage1_mem_mb as _stage1_mem_mb

STAGE1_PROGRAM = Program(PYTHON, SCRIPTS / "stage1.py")


def uncal_mb(wildcards, input=None):
    """Size of the UNCAL in MB: the file when it is there, else the table's size, else unknown."""
    if input is not None and os.path.exists(str(input[0])):
        return os.path.getsize(str(input[0])) / 1e6
    size = expected_size(wildcards)
    return None if size is None else size / 1e6


def stage1_mem_mb(wildcards, input, attempt):
    """Grows with the UNCAL's size, the site's factor, the exposure's dark (from the field's
    CRDS sync record; not there yet: Snakemake evaluates this again once it is) and attempt."""
    factor = config["resources"]["stage1_mem_factor"]
    record = input.crds[0] if input.crds else None
    extra = stage1_reference_mb(record, wildcards.exposure)
    base = _stage1_mem_mb(uncal_mb(wildcards, input), attempt, factor)
    return base + grow(extra, attempt, minimum=0)


def stage1_disk_mb(wildcards, input):
    return max(MIN_DISK_MB, int(2 * (uncal_mb(wildcards, input) or DEFAULT_UNCAL_MB)))
