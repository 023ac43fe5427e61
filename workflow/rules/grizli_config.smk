# grizli_config: $GRIZLI (grism confs, sensitivities, sky flats, templates) from the configured
# sources, verified, with a manifest in CONF/ that every grizli stage depends on. Parsing stops
# when a grism x filter of the fields table has no conf or sky flat in $GRIZLI and no configured
# source provides it (wfsspipe.grizli_config.table_problems).


include: "inputs/grizli_config.smk"


# Downloads run on the submit host (compute nodes are often offline), like crds_sync.
localrules:
    grizli_config,


rule grizli_config:
    output:
        GRIZLI_MANIFEST,
    log:
        LAYOUT.survey_log("grizli_config"),
    conda:
        "../envs/grizli.yaml"
    resources:
        mem_mb=1024,
        runtime=120,
    params:
        # What the sources are (names, checksums, where they go, what they provide) decides the
        # build; their URLs and the transport settings the script reads from the config: a new
        # server address must not redo it.
        sources=grizli_config_sources(),
    script:
        "../scripts/grizli_config.py"
