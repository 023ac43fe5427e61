"""Rule stage1: UNCAL -> RATE (jwst Detector1 + columnjump).

A `shell:` rule's program (see wfsspipe.shell_job): `stage1.py --field F --exposure E --input
UNCAL --output RATE --log LOG --threads N --param crds=JSON --param settings=JSON` (the
rule's params).
"""

import os
import sys

from wfsspipe.shell_job import parse_job

job = parse_job(sys.argv[1:], "stage1")

# Before jwst or crds are imported: the pinned context and the local cache, never the network;
# one BLAS thread per job (parallelism comes from running jobs side by side).
os.environ.update(job.params.crds)
for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = str(job.threads)

from wfsspipe.logs import milestone, rule_job  # noqa: E402
from wfsspipe.stage1_job import Stage1Error, Stage1Settings, run_stage1  # noqa: E402

with rule_job(job, Stage1Error, stpipe=True) as log:
    result = run_stage1(
        job.input[0],
        job.output[0],
        Stage1Settings.from_config(job.params.settings),
    )
    milestone(
        log,
        "RATE in %.0f s (CRDS %s; columnjump %s, %d columns)",
        result.elapsed_s,
        result.crds_context,
        result.columnjump_status,
        len(result.columnjump_rows),
    )
