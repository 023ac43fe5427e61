# webmap: the input, param and resource functions of workflow/rules/webmap.smk.
from wfsspipe.webmap import MapInputs
from wfsspipe.webmap import fitsmap_mem_mb as _fitsmap_mem_mb


def webmap_inputs(wildcards):
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


def webmap_params(wildcards):
    """``fitsmap`` settings; ``assets_dir: null`` means resources/webmap/node_modules."""
    return config["fitsmap"]


def webmap_mem_mb(wildcards, threads, attempt):
    """Grows with the mosaic's pixels (from the field's footprints), the processes and attempt."""
    return _fitsmap_mem_mb(field_mosaic_megapixels(wildcards.field), threads, attempt)


def webmap_targets(field):
    """The web map of a field with direct imaging, once its redshift products are targets."""
    if not field_direct_filters(field) or not redshift_targets(field):
        return []
    return [LAYOUT.map_index(field)]
