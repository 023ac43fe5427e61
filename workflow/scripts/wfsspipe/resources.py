"""Resource requests of the rules: functions of the inputs and the retry attempt."""

from __future__ import annotations

# Stage 1 peak RSS grows with the UNCAL size. bench/stage1_memory.py measured (full-frame NIS,
# 7-20 groups, 20-group synthetic dark; bench/RESULTS.md) a least-squares fit of about
# 940 MB + 13.75 x UNCAL MB, within 7% at every point; the 1.2 margin keeps the request between
# 1.1 and 1.3 times the measured peak. A real dark with many more groups than the exposure raises
# the base: an OOM-killed job comes back with half as much again per retry.
STAGE1_BASE_MB = 940
STAGE1_PER_UNCAL_MB = 14.0
STAGE1_MARGIN = 1.2
RETRY_GROWTH = 0.5
# Used when the table has no size and the file is not there yet: a 10-group full-frame NIS UNCAL.
DEFAULT_UNCAL_MB = 84.0
MIN_MEM_MB = 256  # Snakemake's own job wrapper needs ~150 MB


def grow(mem_mb: float, attempt: int) -> int:
    """``mem_mb`` for the first attempt, +50% of it for every retry."""
    return max(MIN_MEM_MB, int(round(mem_mb * (1 + RETRY_GROWTH * (max(attempt, 1) - 1)))))


def stage1_mem_mb(uncal_mb: float | None, attempt: int = 1, factor: float = 1.0) -> int:
    """Memory (MB) to request for Stage 1 of an UNCAL of ``uncal_mb`` megabytes.

    ``factor`` is the site's scaling (config ``resources.stage1_mem_factor``), e.g. for real darks
    much larger than the exposures; retries grow from the scaled request.
    """
    size = DEFAULT_UNCAL_MB if uncal_mb is None or uncal_mb <= 0 else uncal_mb
    first = factor * STAGE1_MARGIN * (STAGE1_BASE_MB + STAGE1_PER_UNCAL_MB * size)
    return grow(first, attempt)
