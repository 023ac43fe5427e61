# download: one UNCAL product from MAST (or the synthetic archive) per exposure.


include: "inputs/download.smk"


if config["download"]["on_submit_host"]:

    # Compute nodes of many clusters have no internet: fetch on the host running Snakemake.
    localrules:
        download,


rule download:
    output:
        product(LAYOUT.uncal()) if config["stage1"]["keep_uncal"] else temp(product(LAYOUT.uncal())),
    log:
        field_log("download", "{exposure}"),
    conda:
        "../envs/jwst.yaml"
    resources:
        mem_mb=512,
        runtime=60,
        mast_downloads=1,  # cap parallel downloads with --resources mast_downloads=N
    params:
        # What the product is. Where and how it is fetched (download.archive_url, retries, ...)
        # the script reads from the config: a new archive address must not redo downloads.
        uri=data_uri,
        size=expected_size,
    script:
        "../scripts/download.py"
