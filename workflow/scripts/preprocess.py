"""Snakemake script of rule preprocess: RATE files -> grizli-prepared exposures in Prep/."""

import os

snakemake = globals()["snakemake"]  # injected by Snakemake

from wfsspipe.grizli_env import GrizliError, GrizliSettings  # noqa: E402
from wfsspipe.logs import job_logging, milestone  # noqa: E402

settings = snakemake.params.settings
grizli = GrizliSettings.from_config(settings)
grizli.prepare_process(blas_threads=snakemake.threads)  # before grizli, jwst or crds are imported

from wfsspipe.preprocess import PreprocessError, PreprocessSettings, preprocess_field  # noqa: E402

with job_logging(snakemake.log[0], "preprocess", snakemake.wildcards, stpipe=True) as log:
    try:
        result = preprocess_field(
            snakemake.wildcards.field,
            snakemake.input.rates,
            os.path.dirname(snakemake.output.visits),
            PreprocessSettings.from_config(settings["preprocess"]),
            grizli,
            threads=snakemake.threads,
            log_path=snakemake.log[0],
            keep=settings["products"]["keep"],
        )
    except (GrizliError, PreprocessError) as error:
        log.error("%s", error)
        raise SystemExit(1) from None
    milestone(log, "%d exposures prepared in %.0f s", result.exposures, result.seconds)
