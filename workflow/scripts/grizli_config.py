"""Snakemake script of rule grizli_config: build and verify $GRIZLI on the submit host."""

from wfsspipe.grizli_config import GrizliConfigError, build, sources_from_config, write_manifest
from wfsspipe.logs import job_logging

snakemake = globals()["snakemake"]  # injected by Snakemake
settings = snakemake.config["grizli_config"]  # URLs and transport: see the rule's params

with job_logging(snakemake.log[0], "grizli_config", snakemake.wildcards) as log:
    try:
        manifest = build(
            snakemake.config["grizli"]["path"],
            sources_from_config(settings["sources"]),
            {"retries": settings["retries"], "timeout": settings["timeout"]},
        )
    except GrizliConfigError as error:
        log.error("%s", error)
        raise SystemExit(1) from None
    log.info(
        "$GRIZLI %s: %d files, grism x filter %s",
        manifest["grizli_path"],
        len(manifest["files"]),
        ", ".join(manifest["grism_filters"]) or "none",
    )
    write_manifest(snakemake.output[0], manifest)
