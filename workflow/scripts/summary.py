"""Snakemake script of the summary rules: visit layout plot, combined catalogue, redshift plots,
index page (logic in wfsspipe.summary)."""

from pathlib import Path

snakemake = globals()["snakemake"]  # injected by Snakemake

from wfsspipe.logs import rule_job  # noqa: E402
from wfsspipe.summary import SummaryError  # noqa: E402

rule = snakemake.rule
output = snakemake.output
with rule_job(snakemake, SummaryError) as log:
    if rule == "summary_visits":
        from wfsspipe.summary.plots import plot_visit_layout

        plot_visit_layout(snakemake.input.visits, snakemake.wildcards.field, output.plot)
    elif rule == "summary_catalog":
        from wfsspipe.summary.catalog import FieldProducts, build_catalog

        products = [
            FieldProducts(
                name,
                Path(paths["phot"]),
                Path(paths["redshifts"]) if paths["redshifts"] else None,
                Path(paths["extractions"]) if paths.get("extractions") else None,
            )
            for name, paths in snakemake.params.fields.items()
        ]
        build_catalog(products, output.fits, output.csv, snakemake.params.aperture_arcsec)
    elif rule == "summary_redshifts":
        from wfsspipe.summary.plots import plot_redshift_distribution

        plot_redshift_distribution(snakemake.input.catalog, output.plot)
    elif rule == "summary_truth":
        from wfsspipe.summary.plots import plot_truth

        plot_truth(
            snakemake.input.catalog,
            snakemake.input.truth,
            output.plot,
            output.table,
            snakemake.params.radius_arcsec,
        )
    elif rule == "summary_index":
        from wfsspipe.summary.index import write_index

        write_index(
            output.html,
            snakemake.input.fields_csv,
            snakemake.params.fields,
            snakemake.input.catalog_fits,
            snakemake.params.field_targets,
            [(label, snakemake.input[name]) for label, name in snakemake.params.links],
            thumbnails=snakemake.params.thumbnails,
            visit_tables=snakemake.params.visit_tables,
        )
    else:
        raise SummaryError(f"summary.py does not know rule {rule}")
