"""Snakemake script of rule download: fetch and verify one UNCAL product."""

import os
from pathlib import Path

from wfsspipe.download import DownloadError, DownloadSpec, fetch
from wfsspipe.logs import milestone, rule_job

snakemake = globals()["snakemake"]  # injected by Snakemake

with rule_job(snakemake, DownloadError) as log:
    params = snakemake.params
    site = snakemake.config["download"]  # transport settings: not params (see the rule)
    spec = DownloadSpec(
        uri=params.uri,
        output=Path(snakemake.output[0]),
        expected_size=params.size,
        archive_url=site["archive_url"],
        token=os.environ.get(site["token_env"]) or None,
        retries=site["retries"],
        timeout=site["timeout"],
    )
    log.info(
        "fetching %s (%s bytes expected)%s",
        spec.uri,
        spec.expected_size or "unknown",
        " with a MAST token" if spec.token else "",
    )
    path = fetch(spec)
    milestone(log, "UNCAL downloaded and verified (%.1f MB)", path.stat().st_size / 1e6)
