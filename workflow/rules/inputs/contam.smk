# contam: the input, param and resource functions of workflow/rules/contam.smk.
from wfsspipe.contam import contam_mem_mb as _contam_mem_mb
from wfsspipe.niriss import reference_filter
from wfsspipe.resources import contam_runtime as _contam_runtime


def contam_filters(wildcards):
    """Direct filters whose mosaics the grism filters are modelled from: each grism filter's own,
    or the nearest in wavelength when the field has no direct image in it (mixed-filter visits,
    :func:`wfsspipe.niriss.reference_filter`)."""
    direct = field_direct_filters(wildcards.field)
    references = [reference_filter(f, direct) for f in field_grism_filters(wildcards.field)]
    return sorted({f for f in references if f is not None}, key=direct.index)


def detection_products(wildcards):
    """The segmentation image and detection catalogue of the field's mosaic."""
    products = LAYOUT.catalog(wildcards.field)
    return {"seg": products["seg"], "catalog": products["detection_catalog"]}


def contam_inputs(wildcards):
    """Visit table, the mosaics of the grism filters, segmentation image and catalogue."""
    catalog_filter_mosaics(wildcards)  # a clear error for a field without direct imaging
    return {
        "visits": LAYOUT.visits_table(wildcards.field),
        "mosaics": [LAYOUT.filter_mosaic(wildcards.field, f)[0] for f in contam_filters(wildcards)],
        **detection_products(wildcards),
    }


def contam_params(wildcards):
    """What a contam job reads: its settings and how the extraction limit is made."""
    return grizli_job_params("contam", "extract", "products")


def contam_threads(wildcards):
    """GroupFLT loads and models a filter's grism exposures in parallel: one core each."""
    most = max(table_facts(wildcards.field).grism.values(), default=1)
    return max(1, min(config["resources"]["grizli_threads"], most))


def contam_mem_mb(wildcards, threads, attempt):
    return _contam_mem_mb(table_facts(wildcards.field).grism_exposures, threads, attempt)


def contam_runtime(wildcards, attempt):
    """Minutes: grows with the field's grism exposures and the attempt."""
    return _contam_runtime(table_facts(wildcards.field).grism_exposures, attempt)
