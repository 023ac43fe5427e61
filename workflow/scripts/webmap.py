"""Snakemake script of rule webmap: the FITSMap web map of a field (wfsspipe.webmap).

Not named fitsmap.py: workflow/scripts is on sys.path, where that name would hide the fitsmap
package.
"""

from pathlib import Path

snakemake = globals()["snakemake"]  # injected by Snakemake

from wfsspipe.logs import rule_job  # noqa: E402
from wfsspipe.webmap import MapInputs, WebMapError, WebMapSettings, build_map  # noqa: E402

with rule_job(snakemake, WebMapError) as log:
    build_map(
        MapInputs(
            field=snakemake.wildcards.field,
            rgb=Path(snakemake.input.rgb),
            grid=Path(snakemake.input.grid),
            filter_mosaics=dict(zip(snakemake.params.filters, map(Path, snakemake.input.mosaics))),
            contam=Path(snakemake.input.contam),
            redshifts=Path(snakemake.input.redshifts),
        ),
        Path(snakemake.output.index).parent,
        WebMapSettings.from_config(snakemake.params.settings),
        threads=snakemake.threads,
    )
