"""Snakemake script of rules mosaic_filter (one filter mosaic) and mosaic (IR image, catalogue)."""

snakemake = globals()["snakemake"]  # injected by Snakemake

from wfsspipe.grizli_env import GrizliError, GrizliSettings  # noqa: E402
from wfsspipe.logs import milestone, rule_job  # noqa: E402

settings = snakemake.params.settings
grizli = GrizliSettings.for_job(
    settings, blas_threads=snakemake.threads
)  # before grizli, jwst, crds

from wfsspipe.mosaic import MosaicError, MosaicSettings, drizzle_filter, make_catalog  # noqa: E402

field = snakemake.wildcards.field
mosaic = MosaicSettings.from_config(settings["mosaic"])
with rule_job(snakemake, GrizliError, MosaicError, stpipe=True) as log:
    if snakemake.rule == "mosaic_filter":
        shape = drizzle_filter(
            field,
            snakemake.wildcards.filter,
            snakemake.input.visits,
            snakemake.output.sci,
            snakemake.output.wht,
            mosaic,
            grizli,
            log_path=snakemake.log[0],
            keep=settings["products"]["keep"],
        )
        milestone(log, "%s mosaic of %d x %d pixels", snakemake.wildcards.filter, *shape[::-1])
    else:
        paths = list(snakemake.input.mosaics)  # sci, wht per filter, in params.filters order
        mosaics = dict(zip(snakemake.params.filters, zip(paths[::2], paths[1::2])))
        sources = make_catalog(
            field,
            mosaics,
            dict(snakemake.output.items()),
            mosaic,
            grizli,
            log_path=snakemake.log[0],
            keep=settings["products"]["keep"],
        )
        milestone(log, "detection catalogue of %d sources, photometry, RGB", sources)
