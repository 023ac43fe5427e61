"""Snakemake script of rule zfit: redshift fits of a field's extracted sources."""

snakemake = globals()["snakemake"]  # injected by Snakemake

from wfsspipe.grizli_env import GrizliError, GrizliSettings  # noqa: E402
from wfsspipe.logs import milestone, rule_job  # noqa: E402

settings = snakemake.params.settings
grizli = GrizliSettings.for_job(settings, blas_threads=1)  # before grizli, jwst or crds

from pathlib import Path  # noqa: E402

from wfsspipe.zfit import ZfitError, ZfitSettings, fit_field  # noqa: E402

with rule_job(snakemake, GrizliError, ZfitError, stpipe=True) as log:
    result = fit_field(
        snakemake.wildcards.field,
        snakemake.input.table,
        Path(snakemake.output.fits).parent,
        ZfitSettings.from_config(settings["zfit"]),
        grizli,
        phot_catalog=snakemake.input.phot,
        threads=snakemake.threads,
        log_path=snakemake.log[0],
    )
    milestone(
        log,
        "%d sources fitted (%d good redshifts, %d failed) in %.0f s",
        result.fitted,
        result.good,
        result.failed,
        result.seconds,
    )
