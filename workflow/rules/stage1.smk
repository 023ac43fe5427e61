# stage1: UNCAL -> RATE with jwst Detector1 and columnjump, one job per exposure.


include: "inputs/stage1.smk"


rule stage1:
    input:
        uncal=LAYOUT.uncal(),
        crds=crds_ready,
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
        crds=crds_settings(),
        settings=config["stage1"],
    script:
        "../scripts/stage1.py"
