"""Snakemake script of rule contam: contamination models of a field's grism exposures."""

snakemake = globals()["snakemake"]  # injected by Snakemake

from wfsspipe.grizli_env import GrizliError, GrizliSettings  # noqa: E402
from wfsspipe.logs import milestone, rule_job  # noqa: E402

settings = snakemake.params.settings
grizli = GrizliSettings.for_job(settings, blas_threads=1)  # before grizli, jwst or crds

from pathlib import Path  # noqa: E402

from wfsspipe.contam import ContamError, ContamSettings, make_contam  # noqa: E402
from wfsspipe.extraction_limit import LimitSettings  # noqa: E402

field = snakemake.wildcards.field
with rule_job(snakemake, GrizliError, ContamError, stpipe=True) as log:
    mosaics = dict(zip(snakemake.params.filters, snakemake.input.mosaics))
    result = make_contam(
        field,
        snakemake.input.visits,
        Path(snakemake.input.visits).parent,
        mosaics,
        snakemake.input.seg,
        snakemake.input.catalog,
        Path(snakemake.output.manifest).parent,
        ContamSettings.from_config(settings["contam"]),
        LimitSettings.from_config(settings["extract"]),
        grizli,
        threads=snakemake.threads,
        log_path=snakemake.log[0],
        keep=settings["products"]["keep"],
    )
    milestone(
        log,
        "contamination models of %d grism exposures in %.0f s; extraction limit %s",
        result.exposures,
        result.seconds,
        "none" if result.mag_limit is None else f"{result.mag_limit:.2f} mag",
    )
