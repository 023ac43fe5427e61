# contam: grism contamination models (GrismFLT) of a field's grism exposures, model images and
# colour images per grism and PA, and the extraction limit, in Contam/ (manifest written last).


include: "inputs/contam.smk"


rule contam:
    input:
        unpack(contam_inputs),
        grizli_config=ancient(GRIZLI_MANIFEST),  # its presence; a rebuild remakes nothing
    output:
        manifest=product(LAYOUT.contam_manifest()),
        overview=field_report(product(LAYOUT.contam_overview()), "contam", "grism models"),
    log:
        field_log("contam"),
    benchmark:
        field_benchmark("contam")
    conda:
        "../envs/grizli.yaml"
    threads: contam_threads
    resources:
        mem_mb=contam_mem_mb,  # grows with the grism exposures, threads and attempt
        runtime=contam_runtime,  # grows with the grism exposures and attempt
        disk_mb=inputs_disk_mb,  # inputs' size: stat, no size query
    params:
        settings=contam_params,
        filters=contam_filters,  # of input.mosaics, in order
    script:
        "../scripts/contam.py"
