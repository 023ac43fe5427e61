# stage1: UNCAL -> RATE with jwst Detector1 and columnjump, one job per exposure.


# The submit host fetches references (compute nodes are often offline); jobs then read the cache.
localrules:
    crds_sync,


rule crds_sync:
    input:
        uncals=crds_sync_uncals,
    output:
        product(crds_sync_record()),
    log:
        product(f"{OUT}/{{field}}/logs/crds_sync.log"),
    conda:
        "../envs/jwst.yaml"
    resources:
        mem_mb=1024,
        runtime=120,
    params:
        # The context decides the files; the server and cache folder (crds.server_url, path)
        # the script reads from the config: a new server address must not redo the sync.
        context=config["crds"]["context"],
        stage1=config["stage1"],  # the Detector1 steps that run decide the reference types
    script:
        "../scripts/crds_sync.py"


rule stage1:
    input:
        uncal=uncal_path(),
        crds=crds_ready,
    output:
        product(rate_path()),
    log:
        product(f"{OUT}/{{field}}/logs/stage1/{{exposure}}.log"),
    benchmark:
        product(f"{OUT}/{{field}}/benchmarks/stage1/{{exposure}}.tsv")
    conda:
        "../envs/jwst.yaml"
    threads: 1
    resources:
        mem_mb=stage1_mem_with_references_mb,  # UNCAL size, dark size, attempt
        runtime=60,
        disk_mb=stage1_disk_mb,  # the UNCAL's size (file or table)
    params:
        crds=crds_settings(),
        settings=config["stage1"],
    script:
        "../scripts/stage1.py"
