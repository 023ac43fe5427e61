# extract: the input, param and resource functions of workflow/rules/extract.smk.
from wfsspipe.extract import extract_mem_mb as _extract_mem_mb
from wfsspipe.resources import extract_runtime as _extract_runtime

# extract and zfit work on sources in parallel: resources.grizli_threads processes (a constant:
# the rules' threads, no function per job).
SOURCE_THREADS = config["resources"]["grizli_threads"]


def extract_params(wildcards):
    """What an extract job reads: its settings and the pad the models were made with."""
    params = grizli_job_params("extract")
    params["contam"] = {"pad": config["contam"]["pad"]}
    return params


def extract_mem_mb(wildcards, threads, attempt):
    return _extract_mem_mb(table_facts(wildcards.field).grism_exposures, threads, attempt)


def extract_runtime(wildcards, threads, attempt):
    """Minutes: grows with the mosaic's area (sources expected), falls with threads."""
    return _extract_runtime(field_mosaic_arcmin2(wildcards.field), threads, attempt)
