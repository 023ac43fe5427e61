"""Snakemake script of rule contam: contamination models of a field's grism exposures."""

snakemake = globals()["snakemake"]  # injected by Snakemake

from wfsspipe.grizli_env import GrizliError, GrizliSettings  # noqa: E402
from wfsspipe.logs import job_logging, milestone  # noqa: E402

settings = snakemake.params.settings
grizli = GrizliSettings.from_config(settings)
grizli.prepare_process(blas_threads=1)  # before grizli, jwst or crds are imported

from pathlib import Path  # noqa: E402

from wfsspipe.contam import ContamError, ContamSettings, make_contam  # noqa: E402
from wfsspipe.extraction_limit import LimitSettings  # noqa: E402

field = snakemake.wildcards.field
with job_logging(snakemake.log[0], snakemake.rule, snakemake.wildcards, stpipe=True) as log:
    try:
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
    except (GrizliError, ContamError) as error:
        log.error("%s", error)
        raise SystemExit(1) from None
    milestone(
        log,
        "contamination models of %d grism exposures in %.0f s; extraction limit %s",
        result.exposures,
        result.seconds,
        "none" if result.mag_limit is None else f"{result.mag_limit:.2f} mag",
    )
