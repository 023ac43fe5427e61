# field_summary: the run summary of a field, the target its users type:
#   snakemake FIELDS/<field>/logs/fmap.log     (every stage of the field)
#   snakemake FIELDS/<field>/logs/stage1.log   (every RATE file of the field)
#   snakemake FIELDS/<field>/logs/mosaic.log   (up to the mosaics and the catalogue)
# Each is written once its products exist and lists them with their key numbers, timings and
# warnings (wfsspipe.field_summary). Cheap: it runs on the host running Snakemake.


include: "inputs/field_summary.smk"


rule field_summary:
    input:
        unpack(field_summary_inputs),
    output:
        product(LAYOUT.log("{field}", "{summary}")),
    log:
        field_log("summary", "{summary}"),
    localrule: True
    conda:
        "../envs/grizli.yaml"
    resources:
        mem_mb=512,
        runtime=10,
    params:
        field_dir=field_folder,
        title=field_summary_title,
        rates=field_summary_rates,
    script:
        "../scripts/field_summary.py"
