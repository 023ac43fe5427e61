"""Snakemake script of rule field_summary: a field's run summary (logs/fmap.log and the
per-stage targets), logic in wfsspipe.field_summary."""

snakemake = globals()["snakemake"]  # injected by Snakemake

from wfsspipe.field_summary import FieldSummaryError, write_summary  # noqa: E402
from wfsspipe.logs import job_logging  # noqa: E402

with job_logging(snakemake.log[0], snakemake.rule, snakemake.wildcards) as log:
    # The RATE files are params, not inputs, of the summaries of later stages (see the rule).
    products = {"stage1": list(snakemake.params.rates)} if snakemake.params.rates else {}
    products |= {stage: list(paths) for stage, paths in snakemake.input.items()}
    try:
        write_summary(
            snakemake.output[0],
            snakemake.wildcards.field,
            products,
            snakemake.params.field_dir,
            snakemake.params.title,
        )
    except FieldSummaryError as error:
        log.error("%s: %s", snakemake.wildcards.field, error)
        raise SystemExit(1) from None
    log.info(
        "%s: %s written (%s)", snakemake.wildcards.field, snakemake.output[0], ", ".join(products)
    )
