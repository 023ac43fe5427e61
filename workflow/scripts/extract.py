"""Snakemake script of rule extract: 2D spectra of a field's sources brighter than the limit."""

import os

snakemake = globals()["snakemake"]  # injected by Snakemake

from wfsspipe.grizli_env import GrizliError, GrizliSettings  # noqa: E402
from wfsspipe.logs import job_logging  # noqa: E402

settings = snakemake.params.settings
grizli = GrizliSettings.from_config(settings)
os.environ.update(grizli.environment())  # before grizli is imported: it reads $GRIZLI then
for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = "1"  # parallel over sources, one BLAS thread each

from pathlib import Path  # noqa: E402

from wfsspipe.extract import ExtractError, ExtractSettings, extract_field  # noqa: E402

with job_logging(snakemake.log[0], snakemake.rule) as log:
    try:
        extract_field(
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
