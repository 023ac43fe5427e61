# summary: the index page of all fields, the combined catalogue and the report's QC plots.
# Cheap jobs (seconds): they run on the host running Snakemake (localrule).


rule summary_visits:
    input:
        visits=visits_table(),
    output:
        plot=field_report(product(summary_visits_plot()), "visits", "visit layout"),
    log:
        product(f"{OUT}/{{field}}/logs/summary/visits.log"),
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
        fits=product(SUMMARY["catalog_fits"]),
        csv=product(SUMMARY["catalog_csv"]),
    log:
        product(f"{OUT}/logs/summary/catalog.log"),
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
        catalog=SUMMARY["catalog_fits"],
    output:
        plot=report(
            product(SUMMARY["redshifts_plot"]),
            caption="../report/redshifts.rst",
            category=REPORT_SURVEY,
            labels={"figure": "redshift distribution"},
        ),
    log:
        product(f"{OUT}/logs/summary/redshifts.log"),
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
        catalog=SUMMARY["catalog_fits"],
        truth=summary_truth_input,
    output:
        plot=report(
            product(SUMMARY["truth_plot"]),
            caption="../report/truth.rst",
            category=REPORT_SURVEY,
            labels={"figure": "injected vs measured redshift"},
        ),
        table=product(SUMMARY["truth_table"]),
    log:
        product(f"{OUT}/logs/summary/truth.log"),
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
        html=product(SUMMARY["index"]),
    log:
        product(f"{OUT}/logs/summary/index.log"),
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
    script:
        "../scripts/summary.py"
