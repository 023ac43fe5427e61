"""Resource requests of the rules: functions of the inputs and the retry attempt.

Every request grows with the attempt through one helper, ``grow``: memory and wall time ask for
half as much again per retry, so a job killed for memory (OOM) or time (TIMEOUT) comes back with
more of both. What the requests are computed from (exposure counts, UNCAL sizes, filters) comes
from the fields table, summarised once per field by ``field_facts``: resource functions run for
every job at every start of a survey run and must cost microseconds.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

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
MIN_RUNTIME_MIN = 10  # each job pays 10-20 s of Snakemake start-up; a margin for slow disks


def grow(amount: float, attempt: int, minimum: float = MIN_MEM_MB) -> int:
    """``amount`` for the first attempt, +50% of it for every retry; at least ``minimum``.

    The one retry rule of every request: memory (MB, the default minimum) and wall time
    (minutes, pass ``minimum=MIN_RUNTIME_MIN``).
    """
    return int(max(minimum, round(amount * (1 + RETRY_GROWTH * (max(attempt, 1) - 1)))))


def stage1_mem_mb(uncal_mb: float | None, attempt: int = 1, factor: float = 1.0) -> int:
    """Memory (MB) to request for Stage 1 of an UNCAL of ``uncal_mb`` megabytes.

    ``factor`` is the site's scaling (config ``resources.stage1_mem_factor``), e.g. for real darks
    much larger than the exposures; retries grow from the scaled request.
    """
    size = DEFAULT_UNCAL_MB if uncal_mb is None or uncal_mb <= 0 else uncal_mb
    first = factor * STAGE1_MARGIN * (STAGE1_BASE_MB + STAGE1_PER_UNCAL_MB * size)
    return grow(first, attempt)


# --- What the requests are computed from: the fields table, once per field ----------------------


@dataclass(frozen=True)
class FieldFacts:
    """A field's exposures as the resource and input functions need them (from the table)."""

    exposures: int = 0
    uncal_mb: float = 0.0  # table sizes; DEFAULT_UNCAL_MB for a row without one
    direct: Mapping[str, int] = field(default_factory=dict)  # filter (lower case) -> NIS_IMAGE
    grism: Mapping[str, int] = field(default_factory=dict)  # filter (lower case) -> NIS_WFSS

    @property
    def direct_filters(self) -> list[str]:
        return sorted(self.direct)

    @property
    def grism_filters(self) -> list[str]:
        return sorted(self.grism)

    @property
    def grism_exposures(self) -> int:
        return sum(self.grism.values())


def field_facts(rows: Iterable[Mapping]) -> dict[str, FieldFacts]:
    """{field: FieldFacts} of table rows (dicts with field, exp_type, pupil and size), in one pass."""
    counts: dict[str, dict] = {}
    for row in rows:
        facts = counts.setdefault(
            row["field"], {"n": 0, "mb": 0.0, "NIS_IMAGE": {}, "NIS_WFSS": {}}
        )
        facts["n"] += 1
        size = row.get("size")
        known = size is not None and not (isinstance(size, float) and math.isnan(size))
        try:
            facts["mb"] += int(size) / 1e6 if known and int(size) > 0 else DEFAULT_UNCAL_MB
        except (TypeError, ValueError):  # pandas' missing value (pd.NA) of the Int64 column
            facts["mb"] += DEFAULT_UNCAL_MB
        by_filter = facts.get(row["exp_type"])
        if by_filter is not None:
            pupil = str(row["pupil"]).lower()
            by_filter[pupil] = by_filter.get(pupil, 0) + 1
    return {
        name: FieldFacts(c["n"], c["mb"], dict(c["NIS_IMAGE"]), dict(c["NIS_WFSS"]))
        for name, c in counts.items()
    }


# --- Wall times (minutes) ----------------------------------------------------------------------
# First attempt: a base plus a cost per unit of the field's size (exposures, grism exposures,
# mosaic pixels, catalogue sources), each cost the one measured on the demo field (8 full-frame
# exposures, 18 sources; bench/RESULTS.md) times RUNTIME_MARGIN for real data (alignment, many
# more sources and contaminants, a busy file system). For the survey's average field (32
# exposures, ~4 arcmin²) this gives about the fixed limits used before (preprocess 240, contam
# 120, zfit 360 min); small fields ask for less, large ones for more, and every retry for half as
# much again (a TIMEOUT comes back with more time, as an OOM kill comes back with more memory).
RUNTIME_MARGIN = 10.0
PREPROCESS_S_PER_EXPOSURE = 31.0  # 250 s for 8 exposures
MOSAIC_S_PER_EXPOSURE = 2.2  # 8.7 s for a 4-exposure filter mosaic
MOSAIC_S_PER_MPIX = 0.1
CATALOG_S_PER_MPIX_FILTER = 0.34  # 16.8 s for 2 filters of 25 megapixels
CONTAM_S_PER_GRISM_EXPOSURE = 30.0
EXTRACT_S_PER_SOURCE = 1.4  # 25 s for 18 sources, one process
ZFIT_S_PER_SOURCE = 6.3  # 113 s for 18 sources, one process
# Catalogue sources per arcmin² of mosaic: a dense pure-parallel scene (PASSAGE: ~1,000 in a
# 4.8 arcmin² NIRISS field); only known once the catalogue exists, so estimated from the area.
SOURCES_PER_ARCMIN2 = 200.0


def _minutes(base_min: float, seconds: float, attempt: int) -> int:
    return grow(base_min + RUNTIME_MARGIN * seconds / 60.0, attempt, minimum=MIN_RUNTIME_MIN)


def mosaic_area_arcmin2(megapixels: float, pixel_scale: float) -> float:
    """Sky area (arcmin²) of a mosaic of ``megapixels`` at ``pixel_scale`` arcsec per pixel."""
    return max(megapixels, 0.0) * 1e6 * pixel_scale**2 / 3600.0


def expected_sources(area_arcmin2: float) -> float:
    return SOURCES_PER_ARCMIN2 * max(area_arcmin2, 0.0)


def preprocess_runtime(exposures: int, attempt: int = 1) -> int:
    """Minutes for grizli's preprocessing of a field's ``exposures`` RATE files (one visit after
    the other: the time adds up over exposures)."""
    return _minutes(15, PREPROCESS_S_PER_EXPOSURE * max(exposures, 1), attempt)


def mosaic_filter_runtime(megapixels: float, exposures: int, attempt: int = 1) -> int:
    """Minutes to drizzle a filter's ``exposures`` onto a ``megapixels`` mosaic."""
    seconds = MOSAIC_S_PER_EXPOSURE * max(exposures, 1) + MOSAIC_S_PER_MPIX * megapixels
    return _minutes(10, seconds, attempt)


def catalog_runtime(megapixels: float, filters: int, attempt: int = 1) -> int:
    """Minutes for the IR image, SEP catalogue and RGB image of ``filters`` mosaics."""
    return _minutes(10, CATALOG_S_PER_MPIX_FILTER * megapixels * max(filters, 1), attempt)


def contam_runtime(grism_exposures: int, attempt: int = 1) -> int:
    """Minutes to model a field's grism exposures (GrismFLT per exposure)."""
    return _minutes(15, CONTAM_S_PER_GRISM_EXPOSURE * max(grism_exposures, 1), attempt)


def extract_runtime(area_arcmin2: float, threads: int, attempt: int = 1) -> int:
    """Minutes to extract the sources of ``area_arcmin2`` of mosaic with ``threads`` processes."""
    seconds = EXTRACT_S_PER_SOURCE * expected_sources(area_arcmin2) / max(threads, 1)
    return _minutes(10, seconds, attempt)


def zfit_runtime(area_arcmin2: float, threads: int, attempt: int = 1) -> int:
    """Minutes to fit the sources of ``area_arcmin2`` of mosaic with ``threads`` processes."""
    seconds = ZFIT_S_PER_SOURCE * expected_sources(area_arcmin2) / max(threads, 1)
    return _minutes(15, seconds, attempt)
