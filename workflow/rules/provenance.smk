# provenance: the field's record of what made its redshifts (software versions, config, CRDS
# context, inputs and their checksums), once zfit is done.


include: "inputs/provenance.smk"


rule provenance:
    input:
        unpack(provenance_inputs),
    output:
        record=product(LAYOUT.provenance()),
    log:
        field_log("provenance"),
    conda:
        "../envs/grizli.yaml"
    resources:
        mem_mb=512,
        runtime=10,
        disk_mb=inputs_disk_mb,  # inputs' size: stat, no size query
    params:
        config=config,
        fields_csv=str(FIELDS.path),
    script:
        "../scripts/provenance.py"
