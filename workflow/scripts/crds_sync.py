"""Snakemake script of rule crds_sync: fetch a field's CRDS references on the submit host."""

from wfsspipe.crdssync import sync_references, write_sync_record
from wfsspipe.logs import job_logging

snakemake = globals()["snakemake"]  # injected by Snakemake

with job_logging(snakemake.log[0], "crds_sync"):
    crds = snakemake.params.crds
    found = sync_references(
        snakemake.params.exposures, crds["path"], crds["context"], crds["server_url"]
    )
    write_sync_record(snakemake.output[0], found, crds["context"])
