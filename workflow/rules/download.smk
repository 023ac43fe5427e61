# download: one UNCAL product from MAST (or the synthetic archive) per exposure.
if config["download"]["on_submit_host"]:

    # Compute nodes of many clusters have no internet: fetch on the host running Snakemake.
    localrules:
        download,


rule download:
    output:
        product(uncal_path()) if config["stage1"]["keep_uncal"] else temp(product(uncal_path())),
    log:
        product(f"{OUT}/{{field}}/logs/download/{{exposure}}.log"),
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
