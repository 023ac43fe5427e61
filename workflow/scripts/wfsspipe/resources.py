"""Resource requests of the rules: functions of the inputs and the retry attempt."""

from __future__ import annotations

# Stage 1 peak RSS is in the jump step and grows with the UNCAL size (bench/stage1_memory.py):
# about 520 MB + 22.5 x UNCAL MB with a synthetic dark. The margin covers a real dark and noise;
# each retry after an OOM kill asks for half as much again.
STAGE1_BASE_MB = 520
STAGE1_PER_UNCAL_MB = 22.5
STAGE1_MARGIN = 1.2
RETRY_GROWTH = 0.5
# Used when the table has no size and the file is not there yet: a 10-group full-frame NIS UNCAL.
DEFAULT_UNCAL_MB = 84.0
MIN_MEM_MB = 256  # Snakemake's own job wrapper needs ~150 MB


def grow(mem_mb: float, attempt: int) -> int:
    """``mem_mb`` for the first attempt, +50% of it for every retry."""
    return max(MIN_MEM_MB, int(round(mem_mb * (1 + RETRY_GROWTH * (max(attempt, 1) - 1)))))


def stage1_mem_mb(uncal_mb: float | None, attempt: int = 1) -> int:
    """Memory (MB) to request for Stage 1 of an UNCAL of ``uncal_mb`` megabytes."""
    size = DEFAULT_UNCAL_MB if uncal_mb is None or uncal_mb <= 0 else uncal_mb
    return grow(STAGE1_MARGIN * (STAGE1_BASE_MB + STAGE1_PER_UNCAL_MB * size), attempt)
