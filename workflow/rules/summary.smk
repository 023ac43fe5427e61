# summary: the index page of all fields, the combined catalogue and the report's QC plots.
# Cheap jobs (seconds): they run on the host running Snakemake (localrule).


include: "inputs/summary.smk"


rule summary_visits:
    input:
        visits=LAYOUT.visits_table(),
    output:
        plot=field_report(product(LAYOUT.visits_plot()), "visits", "visit layout"),
    log:
        field_log("summary", "visits"),
    localrule: True
    conda:
        "../envs/grizli.yaml"
    resources:
        mem_mb=512,
        runtime=10,
        disk_mb=inputs_disk_mb,
    script:
        "../scripts/summary.py"


rule summary_catalog:
    input:
        unpack(summary_catalog_inputs),
    output:
        fits=product(LAYOUT.survey("catalog_fits")),
        csv=product(LAYOUT.survey("catalog_csv")),
    log:
        product(LAYOUT.survey_log("summary", "catalog")),
    localrule: True
    conda:
        "../envs/grizli.yaml"
    resources:
        mem_mb=summary_catalog_mem_mb,  # grows with the number of fields and the attempt
        runtime=30,
        disk_mb=inputs_disk_mb,
    params:
        fields=summary_catalog_fields,
        aperture_arcsec=config["summary"]["aperture_arcsec"],
    script:
        "../scripts/summary.py"


rule summary_redshifts:
    input:
        catalog=LAYOUT.survey("catalog_fits"),
    output:
        plot=report(
            product(LAYOUT.survey("redshifts_plot")),
            caption="../report/redshifts.rst",
            category=REPORT_SURVEY,
            labels={"figure": "redshift distribution"},
        ),
    log:
        product(LAYOUT.survey_log("summary", "redshifts")),
    localrule: True
    conda:
        "../envs/grizli.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
        disk_mb=inputs_disk_mb,
    script:
        "../scripts/summary.py"


rule summary_truth:
    input:
        catalog=LAYOUT.survey("catalog_fits"),
        truth=summary_truth_input,
    output:
        plot=report(
            product(LAYOUT.survey("truth_plot")),
            caption="../report/truth.rst",
            category=REPORT_SURVEY,
            labels={"figure": "injected vs measured redshift"},
        ),
        table=product(LAYOUT.survey("truth_table")),
    log:
        product(LAYOUT.survey_log("summary", "truth")),
    localrule: True
    conda:
        "../envs/grizli.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
        disk_mb=inputs_disk_mb,
    params:
        radius_arcsec=config["summary"]["match_radius_arcsec"],
    script:
        "../scripts/summary.py"


rule summary_index:
    input:
        unpack(summary_index_inputs),
    output:
        html=product(LAYOUT.survey("index")),
    log:
        product(LAYOUT.survey_log("summary", "index")),
    localrule: True
    conda:
        "../envs/grizli.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
        disk_mb=inputs_disk_mb,
    params:
        fields=FIELDS.fields,
        field_targets=summary_field_targets,
        links=summary_index_links(),
        thumbnails=summary_thumbnails,
        visit_tables=summary_visit_tables,
    script:
        "../scripts/summary.py"
