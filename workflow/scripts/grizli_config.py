"""Snakemake script of rule grizli_config: build and verify $GRIZLI on the submit host."""

from wfsspipe.grizli_config import GrizliConfigError, build, sources_from_config, write_manifest
from wfsspipe.logs import rule_job

snakemake = globals()["snakemake"]  # injected by Snakemake
settings = snakemake.config["grizli_config"]  # URLs and transport: see the rule's params

with rule_job(snakemake, GrizliConfigError) as log:
    manifest = build(
        snakemake.config["grizli"]["path"],
        sources_from_config(settings["sources"]),
        {"retries": settings["retries"], "timeout": settings["timeout"]},
    )
    log.info(
        "$GRIZLI %s: %d files, grism x filter %s",
        manifest["grizli_path"],
        len(manifest["files"]),
        ", ".join(manifest["grism_filters"]) or "none",
    )
    write_manifest(snakemake.output[0], manifest)
