"""Snakemake script of rule crds_sync: fetch and verify a field's CRDS files on the submit host."""

import os

from wfsspipe.crds_sync import CrdsSyncError, sync_environment, sync_exposures, write_sync_record

snakemake = globals()["snakemake"]  # injected by Snakemake
crds = {**snakemake.config["crds"], "context": snakemake.params.context}  # see the rule
# Before crds is imported (job_logging imports stpipe, which imports crds): crds reads them then.
os.environ.update(sync_environment(crds["path"], crds["context"], crds["server_url"]))

from wfsspipe.logs import rule_job  # noqa: E402
from wfsspipe.stage1_job import Stage1Settings  # noqa: E402

with rule_job(snakemake, CrdsSyncError, stpipe=True) as log:
    record = sync_exposures(
        snakemake.input.uncals,
        crds["path"],
        crds["context"],
        crds["server_url"],
        Stage1Settings.from_config(snakemake.params.stage1).step_parameters(),
    )
    write_sync_record(snakemake.output[0], record)
