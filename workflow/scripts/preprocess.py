"""Snakemake script of rule preprocess: RATE files -> grizli-prepared exposures in Prep/."""

import os

snakemake = globals()["snakemake"]  # injected by Snakemake

from wfsspipe.grizli_env import GrizliError, GrizliSettings  # noqa: E402
from wfsspipe.logs import milestone, rule_job  # noqa: E402

settings = snakemake.params.settings
grizli = GrizliSettings.for_job(
    settings, blas_threads=snakemake.threads
)  # before grizli, jwst, crds

from wfsspipe.preprocess import PreprocessError, PreprocessSettings, preprocess_field  # noqa: E402

with rule_job(snakemake, GrizliError, PreprocessError, stpipe=True) as log:
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
    milestone(log, "%d exposures prepared in %.0f s", result.exposures, result.seconds)
