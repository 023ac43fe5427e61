# webmap: the FITSMap web map of a field (RGB, filter mosaics, grism models, redshift markers),
# with its JavaScript and CSS served from the map folder and no ray cluster (wfsspipe.webmap).
# Its settings are the config's fitsmap section; the map is {field}/fitsmap/index.html.


include: "inputs/webmap.smk"


rule webmap:
    input:
        unpack(webmap_inputs),
    output:
        index=product(LAYOUT.map_index()),
    log:
        field_log("webmap"),
    benchmark:
        field_benchmark("webmap")
    conda:
        "../envs/fitsmap.yaml"
    threads: config["fitsmap"]["threads"]
    resources:
        mem_mb=webmap_mem_mb,  # grows with the mosaic's pixels, the tiling processes and attempt
        runtime=60,
        disk_mb=inputs_disk_mb,  # inputs' size: stat, no size query
    params:
        settings=webmap_params,
        filters=mosaic_filters,
    script:
        "../scripts/webmap.py"
