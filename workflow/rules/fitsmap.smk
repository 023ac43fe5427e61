# fitsmap: the FITSMap web map of a field (RGB, filter mosaics, grism models, redshift markers),
# with its JavaScript and CSS served from the map folder and no ray cluster (wfsspipe.webmap).


rule fitsmap:
    input:
        unpack(fitsmap_inputs),
    output:
        index=product(fitsmap_index()),
    log:
        product(f"{OUT}/{{field}}/logs/fitsmap/fitsmap.log"),
    benchmark:
        product(f"{OUT}/{{field}}/benchmarks/fitsmap/fitsmap.tsv")
    conda:
        "../envs/fitsmap.yaml"
    threads: config["fitsmap"]["threads"]
    resources:
        mem_mb=fitsmap_mem_mb,  # grows with the mosaic's pixels, the tiling processes and attempt
        runtime=60,
        disk_mb=inputs_disk_mb,  # inputs' size: stat, no size query
    params:
        settings=fitsmap_params,
        filters=mosaic_filters,
    script:
        "../scripts/webmap.py"
