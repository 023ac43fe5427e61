# stage1: UNCAL -> RATE with jwst Detector1 and columnjump, one job per exposure.


include: "inputs/stage1.smk"


rule stage1:
    input:
        uncal=LAYOUT.uncal(),
        crds=CRDS_READY,  # a pattern, not a function: one call fewer per exposure
    output:
        product(LAYOUT.rate()),
    log:
        field_log("stage1", "{exposure}"),
    benchmark:
        field_benchmark("stage1", "{exposure}")
    conda:
        "../envs/jwst.yaml"
    threads: 1
    resources:
        mem_mb=stage1_mem_mb,  # UNCAL size, dark size, attempt
        runtime=60,
        disk_mb=stage1_disk_mb,  # the UNCAL's size (file or table)
    params:
        crds=JsonParam(crds_settings()),
        settings=JsonParam(config["stage1"]),
        program=STAGE1_PROGRAM,  # python scripts/stage1.py (not a rerun trigger)
    # A program, not `script:`: Snakemake reads a script's source for every job of a DAG
    # (wfsspipe.shell_job). Editing this command line reruns every Stage 1 job.
    shell:
        "{params.program} --field {wildcards.field} --exposure {wildcards.exposure}"
        " --input {input.uncal:q} --output {output:q} --log {log:q} --threads {threads}"
        " --param crds={params.crds:q} --param settings={params.settings:q}"
