# crds_sync: every CRDS reference and parameter file a field's exposures need, fetched and
# verified into the shared cache, with a record of them (crds_references.json) per field.


include: "inputs/crds_sync.smk"


# The submit host fetches references (compute nodes are often offline); jobs then read the cache.
localrules:
    crds_sync,


rule crds_sync:
    input:
        uncals=crds_sync_uncals,
    output:
        product(LAYOUT.crds_record()),
    log:
        field_log("crds_sync"),
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
