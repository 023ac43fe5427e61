# zfit: redshift fits of the extracted sources in parallel, the field's results table (FITS and
# CSV) and fit plots in Redshifts/.


include: "inputs/zfit.smk"


rule zfit:
    input:
        table=LAYOUT.extract_table(),
        phot=LAYOUT.catalog()["phot"],  # zfit.photometry: the bands fitted with the spectra
        grizli_config=ancient(GRIZLI_MANIFEST),  # its presence; a rebuild remakes nothing
    output:
        fits=product(LAYOUT.redshift_results()[0]),
        csv=product(LAYOUT.redshift_results()[1]),
    log:
        field_log("zfit"),
    benchmark:
        field_benchmark("zfit")
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
