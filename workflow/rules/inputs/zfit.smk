# zfit: the input, param and resource functions of workflow/rules/zfit.smk.
from wfsspipe.resources import zfit_runtime as _zfit_runtime
from wfsspipe.zfit import zfit_mem_mb as _zfit_mem_mb


def zfit_params(wildcards):
    return grizli_job_params("zfit")


def zfit_mem_mb(wildcards, threads, attempt):
    return _zfit_mem_mb(threads, threads, attempt)


def zfit_runtime(wildcards, threads, attempt):
    """Minutes: grows with the mosaic's area (sources expected), falls with threads."""
    return _zfit_runtime(field_mosaic_arcmin2(wildcards.field), threads, attempt)


def redshift_targets(field):
    """Products of contam, extract and zfit for a field (one with direct imaging: the
    catalogue is made from it), and its provenance record."""
    if not field_direct_filters(field):
        return []
    return [LAYOUT.contam_manifest(field), LAYOUT.extract_table(field),
            *LAYOUT.redshift_results(field), LAYOUT.provenance(field)]  # fmt: skip
