"""Snakemake script of rule crds_sync: fetch and verify a field's CRDS files on the submit host."""

import os

from wfsspipe.crds_sync import CrdsSyncError, sync_environment, sync_exposures, write_sync_record

snakemake = globals()["snakemake"]  # injected by Snakemake
crds = {**snakemake.config["crds"], "context": snakemake.params.context}  # see the rule
# Before crds is imported (job_logging imports stpipe, which imports crds): crds reads them then.
os.environ.update(sync_environment(crds["path"], crds["context"], crds["server_url"]))

from wfsspipe.logs import job_logging  # noqa: E402
from wfsspipe.stage1_job import Stage1Settings  # noqa: E402

with job_logging(snakemake.log[0], "crds_sync", snakemake.wildcards, stpipe=True) as log:
    try:
        record = sync_exposures(
            snakemake.input.uncals,
            crds["path"],
            crds["context"],
            crds["server_url"],
            Stage1Settings.from_config(snakemake.params.stage1).step_parameters(),
        )
    except CrdsSyncError as error:
        log.error("%s", error)
        raise SystemExit(1) from None
    write_sync_record(snakemake.output[0], record)
