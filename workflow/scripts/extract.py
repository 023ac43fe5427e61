"""Snakemake script of rule extract: 2D spectra of a field's sources brighter than the limit."""

snakemake = globals()["snakemake"]  # injected by Snakemake

from wfsspipe.grizli_env import GrizliError, GrizliSettings  # noqa: E402
from wfsspipe.logs import milestone, rule_job  # noqa: E402

settings = snakemake.params.settings
grizli = GrizliSettings.for_job(settings, blas_threads=1)  # before grizli, jwst or crds

from pathlib import Path  # noqa: E402

from wfsspipe.extract import ExtractError, ExtractSettings, extract_field  # noqa: E402

with rule_job(snakemake, GrizliError, ExtractError, stpipe=True) as log:
    result = extract_field(
        snakemake.wildcards.field,
        snakemake.input.manifest,
        snakemake.input.seg,
        snakemake.input.catalog,
        Path(snakemake.output.table).parent,
        ExtractSettings.from_config(settings["extract"]),
        grizli,
        pad=int(settings["contam"]["pad"]),
        threads=snakemake.threads,
        log_path=snakemake.log[0],
    )
    milestone(
        log,
        "%d sources extracted, %d skipped, %d failed in %.0f s",
        result.extracted,
        result.skipped,
        result.failed,
        result.seconds,
    )
