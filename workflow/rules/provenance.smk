# provenance: the field's record of what made its redshifts (software versions, config, CRDS
# context, inputs and their checksums), once zfit is done.


include: "inputs/provenance.smk"


rule provenance:
    input:
        unpack(provenance_inputs),
        # The record hashes the table and copies the field's rows. ancient: like every per-field
        # rule, provenance reruns for what its field's products came from, not for a recomputed
        # table (computeFields.py rewrites it whole when a field is added).
        fields_csv=ancient(str(FIELDS.path)),
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
        rates=provenance_rates,
    script:
        "../scripts/provenance.py"
