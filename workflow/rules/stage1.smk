# stage1: UNCAL -> RATE with jwst Detector1 and columnjump, one job per exposure.


rule stage1:
    input:
        uncal_path(),
    output:
        rate_path(),
    log:
        f"{OUT}/{{field}}/logs/stage1/{{exposure}}.log",
    benchmark:
        f"{OUT}/{{field}}/benchmarks/stage1/{{exposure}}.tsv"
    conda:
        "../envs/jwst.yaml"
    threads: 1
    resources:
        mem_mb=stage1_mem_mb,  # grows with the UNCAL size and the attempt
        runtime=60,
    params:
        crds=crds_settings(),
        settings=config["stage1"],
    script:
        "../scripts/stage1.py"
