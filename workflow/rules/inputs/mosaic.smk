# mosaic: the input, param and resource functions of workflow/rules/mosaic.smk.
from wfsspipe.mosaic import catalog_mem_mb as _catalog_mem_mb
from wfsspipe.mosaic import filter_mem_mb as _filter_mem_mb
from wfsspipe.resources import catalog_runtime as _catalog_runtime
from wfsspipe.resources import mosaic_filter_runtime as _mosaic_filter_runtime


def field_filter_mosaics(field):
    return [path for f in field_direct_filters(field) for path in LAYOUT.filter_mosaic(field, f)]


def mosaic_products(field):
    """Every mosaic product of a field with direct imaging: filter mosaics, IR image,
    segmentation, catalogues, RGB image."""
    return field_filter_mosaics(field) + list(LAYOUT.catalog(field).values())


def direct_filter_visits(wildcards):
    """The visit table, for a filter the field has direct exposures in (else a clear error)."""
    filters = field_direct_filters(wildcards.field)
    if wildcards.filter not in filters:
        raise WorkflowError(
            f"field {wildcards.field} has no direct exposures in {wildcards.filter.upper()} "
            f"(direct filters: {', '.join(filters) or 'none'})"
        )
    return LAYOUT.visits_table(wildcards.field)


def catalog_filter_mosaics(wildcards):
    if not field_direct_filters(wildcards.field):
        raise WorkflowError(
            f"field {wildcards.field} has no direct imaging in {FIELDS.path}: no mosaic, no "
            "catalogue (preprocess still prepares its grism exposures)"
        )
    return field_filter_mosaics(wildcards.field)


def mosaic_filters(wildcards):
    return field_direct_filters(wildcards.field)


def mosaic_params(wildcards):
    return {key: config[key] for key in ("mosaic", "grizli", "crds", "products")}


def mosaic_outputs():
    """Outputs of the mosaic rule (LAYOUT.catalog()), the RGB image in the report."""
    products = {key: product(path) for key, path in LAYOUT.catalog().items()}
    products["rgb"] = field_report(products["rgb"], "rgb", "RGB image")
    return products


def filter_mosaic_mem_mb(wildcards, attempt):
    """Grows with the mosaic's pixels (from the field's footprints), exposures and attempt."""
    direct = table_facts(wildcards.field).direct.get(wildcards.filter, 0)
    return _filter_mem_mb(field_mosaic_megapixels(wildcards.field), direct, attempt)


def filter_mosaic_runtime(wildcards, attempt):
    """Minutes: grows with the mosaic's pixels, the filter's exposures and the attempt."""
    direct = table_facts(wildcards.field).direct.get(wildcards.filter, 0)
    return _mosaic_filter_runtime(field_mosaic_megapixels(wildcards.field), direct, attempt)


def catalog_mem_mb(wildcards, attempt):
    """Grows with the mosaic's pixels, the number of filters and the attempt."""
    filters = len(field_direct_filters(wildcards.field))
    return _catalog_mem_mb(field_mosaic_megapixels(wildcards.field), filters, attempt)


def catalog_runtime(wildcards, attempt):
    """Minutes: grows with the mosaic's pixels, the number of filters and the attempt."""
    filters = len(field_direct_filters(wildcards.field))
    return _catalog_runtime(field_mosaic_megapixels(wildcards.field), filters, attempt)
