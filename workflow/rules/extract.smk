# extract: 2D spectra (beams files) of the catalogue sources brighter than the limit, in parallel
# over sources, and a table of what was extracted or skipped and why, in Extractions/.


include: "inputs/extract.smk"


rule extract:
    input:
        unpack(detection_products),
        manifest=LAYOUT.contam_manifest(),
        grizli_config=ancient(GRIZLI_MANIFEST),  # its presence; a rebuild remakes nothing
    output:
        table=product(LAYOUT.extract_table()),
    log:
        field_log("extract"),
    benchmark:
        field_benchmark("extract")
    conda:
        "../envs/grizli.yaml"
    threads: SOURCE_THREADS
    resources:
        mem_mb=extract_mem_mb,  # grows with the grism exposures, threads and attempt
        runtime=extract_runtime,  # grows with the mosaic's area (sources) and attempt
        disk_mb=inputs_disk_mb,  # inputs' size: stat, no size query
    params:
        settings=extract_params,
    script:
        "../scripts/extract.py"
