"""Snakemake script of rule stage1: UNCAL -> RATE (jwst Detector1 + columnjump)."""

import os

snakemake = globals()["snakemake"]  # injected by Snakemake

# Before jwst or crds are imported: the pinned context and the local cache, never the network;
# one BLAS thread per job (parallelism comes from running jobs side by side).
os.environ.update(snakemake.params.crds)
for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = str(snakemake.threads)

from wfsspipe.logs import milestone, rule_job  # noqa: E402
from wfsspipe.stage1_job import Stage1Error, Stage1Settings, run_stage1  # noqa: E402

with rule_job(snakemake, Stage1Error, stpipe=True) as log:
    result = run_stage1(
        snakemake.input[0],
        snakemake.output[0],
        Stage1Settings.from_config(snakemake.params.settings),
    )
    milestone(
        log,
        "RATE in %.0f s (CRDS %s; columnjump %s, %d columns)",
        result.elapsed_s,
        result.crds_context,
        result.columnjump_status,
        len(result.columnjump_rows),
    )
