"""Snakemake script of rule provenance: the field's provenance record."""

snakemake = globals()["snakemake"]  # injected by Snakemake

from wfsspipe.logs import job_logging  # noqa: E402
from wfsspipe.provenance import build_record, write_record  # noqa: E402

with job_logging(snakemake.log[0], snakemake.rule, snakemake.wildcards) as log:
    record = build_record(
        snakemake.wildcards.field,
        dict(snakemake.params.config),
        snakemake.input.fields_csv,
        list(snakemake.params.rates),
        snakemake.input.results[0],
        snakemake.input.visits,
    )
    write_record(snakemake.output.record, record)
    log.info("%s: provenance record with config %s", record["field"], record["config_sha256"][:12])
