# preprocess: a field's RATE files -> grizli-prepared exposures, visit table, footprint plot.
# Prep/ is built aside and renamed into place; the visit table (written last) lists every
# prepared exposure for the later stages.


include: "inputs/preprocess.smk"


rule preprocess:
    input:
        rates=field_rate_inputs,
        crds=CRDS_READY,
        grizli_config=ancient(GRIZLI_MANIFEST),  # its presence; a rebuild remakes nothing
    output:
        visits=product(LAYOUT.visits_table()),
        footprint=field_report(product(LAYOUT.footprint()), "footprint", "footprints"),
    log:
        field_log("preprocess"),
    benchmark:
        field_benchmark("preprocess")
    conda:
        "../envs/grizli.yaml"
    threads: preprocess_threads
    resources:
        mem_mb=preprocess_mem_mb,  # grows with the RATE data, threads and attempt
        runtime=preprocess_runtime,  # grows with the field's exposures and attempt
        disk_mb=inputs_disk_mb,  # inputs' size: stat, no size query
    params:
        settings=preprocess_params,
    script:
        "../scripts/preprocess.py"
