"""Snakemake script of rule extract: 2D spectra of a field's sources brighter than the limit."""

snakemake = globals()["snakemake"]  # injected by Snakemake

from wfsspipe.grizli_env import GrizliError, GrizliSettings  # noqa: E402
from wfsspipe.logs import job_logging, milestone  # noqa: E402

settings = snakemake.params.settings
grizli = GrizliSettings.from_config(settings)
grizli.prepare_process(blas_threads=1)  # before grizli, jwst or crds are imported

from pathlib import Path  # noqa: E402

from wfsspipe.extract import ExtractError, ExtractSettings, extract_field  # noqa: E402

with job_logging(snakemake.log[0], snakemake.rule, snakemake.wildcards, stpipe=True) as log:
    try:
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
    except (GrizliError, ExtractError) as error:
        log.error("%s", error)
        raise SystemExit(1) from None
    milestone(
        log,
        "%d sources extracted, %d skipped, %d failed in %.0f s",
        result.extracted,
        result.skipped,
        result.failed,
        result.seconds,
    )
