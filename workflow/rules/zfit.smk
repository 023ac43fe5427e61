# zfit: redshift fits of the extracted sources in parallel, the field's results table (FITS and
# CSV) and fit plots in Redshifts/; then the field's provenance record.


rule zfit:
    input:
        table=extract_table(),
        grizli_config=ancient(GRIZLI_MANIFEST),  # its presence; a rebuild remakes nothing
    output:
        fits=product(redshift_results()[0]),
        csv=product(redshift_results()[1]),
    log:
        product(f"{OUT}/{{field}}/logs/zfit.log"),
    benchmark:
        product(f"{OUT}/{{field}}/benchmarks/zfit.tsv")
    conda:
        "../envs/grizli.yaml"
    threads: SOURCE_THREADS
    resources:
        mem_mb=zfit_mem_mb,  # templates and one source per process; grows with the attempt
        runtime=zfit_runtime,  # grows with the mosaic's area (sources) and attempt
        disk_mb=inputs_disk_mb,  # inputs' size: stat, no size query
    params:
        settings=zfit_params,
    script:
        "../scripts/zfit.py"


rule provenance:
    input:
        unpack(provenance_inputs),
        # The record hashes the table and copies the field's rows. ancient: like every per-field
        # rule, provenance reruns for what its field's products came from, not for a recomputed
        # table (computeFields.py rewrites it whole when a field is added).
        fields_csv=ancient(str(FIELDS.path)),
    output:
        record=product(provenance_record()),
    log:
        product(f"{OUT}/{{field}}/logs/provenance.log"),
    conda:
        "../envs/grizli.yaml"
    resources:
        mem_mb=512,
        runtime=10,
        disk_mb=inputs_disk_mb,  # inputs' size: stat, no size query
    params:
        config=config,
    script:
        "../scripts/provenance.py"
