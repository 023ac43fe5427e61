"""Snakemake script of rules mosaic_filter (one filter mosaic) and mosaic (IR image, catalogue)."""

snakemake = globals()["snakemake"]  # injected by Snakemake

from wfsspipe.grizli_env import GrizliError, GrizliSettings  # noqa: E402
from wfsspipe.logs import job_logging, milestone  # noqa: E402

settings = snakemake.params.settings
grizli = GrizliSettings.from_config(settings)
grizli.prepare_process(blas_threads=snakemake.threads)  # before grizli, jwst or crds are imported

from wfsspipe.mosaic import MosaicError, MosaicSettings, drizzle_filter, make_catalog  # noqa: E402

field = snakemake.wildcards.field
mosaic = MosaicSettings.from_config(settings["mosaic"])
with job_logging(snakemake.log[0], snakemake.rule, snakemake.wildcards, stpipe=True) as log:
    try:
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
    except (GrizliError, MosaicError) as error:
        log.error("%s", error)
        raise SystemExit(1) from None
