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
        # What the product is: a change reruns the job. The program reads both from the table
        # (no table text on a command line).
        uri=data_uri,
        size=expected_size,
        # python scripts/download.py, the table, the config's download section (archive_url,
        # retries, ...): not a rerun trigger, a new archive must not redo downloads.
        program=DOWNLOAD_PROGRAM,
    # A program, not `script:`: Snakemake reads a script's source for every job of a DAG
    # (wfsspipe.shell_job). Editing this command line reruns every download.
    shell:
        "{params.program} --field {wildcards.field} --exposure {wildcards.exposure}"
        " --output {output:q} --log {log:q}"
