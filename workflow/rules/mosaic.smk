# mosaic: one drizzled mosaic per direct filter on a common WCS (one job per filter), then the IR
# detection image, the SEP catalogue with photometry in every filter and an RGB image (per field).
# The filters of a field are those with direct exposures in the fields table.


include: "inputs/mosaic.smk"


rule mosaic_filter:
    input:
        visits=direct_filter_visits,
    output:
        sci=product(LAYOUT.filter_mosaic()[0]),
        wht=product(LAYOUT.filter_mosaic()[1]),
    log:
        field_log("mosaic", "{filter}"),
    benchmark:
        field_benchmark("mosaic", "{filter}")
    conda:
        "../envs/grizli.yaml"
    threads: 1
    resources:
        mem_mb=filter_mosaic_mem_mb,  # grows with the mosaic's pixels, exposures and attempt
        runtime=filter_mosaic_runtime,  # as mem_mb
        disk_mb=inputs_disk_mb,  # inputs' size: stat, no size query
    params:
        settings=mosaic_params,
    script:
        "../scripts/mosaic.py"


rule mosaic:
    input:
        mosaics=catalog_filter_mosaics,
    output:
        **mosaic_outputs(),  # LAYOUT.catalog(), the RGB image in the report
    log:
        field_log("mosaic", "catalog"),
    benchmark:
        field_benchmark("mosaic", "catalog")
    conda:
        "../envs/grizli.yaml"
    threads: 1
    resources:
        mem_mb=catalog_mem_mb,  # grows with the mosaic's pixels, filters and attempt
        runtime=catalog_runtime,  # as mem_mb
        disk_mb=inputs_disk_mb,  # inputs' size: stat, no size query
    params:
        settings=mosaic_params,
        filters=mosaic_filters,
    script:
        "../scripts/mosaic.py"
