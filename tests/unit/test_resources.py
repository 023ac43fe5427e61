"""Resource requests: one retry rule for memory and wall time, sizes from the fields table."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from wfsspipe.contam import contam_mem_mb
from wfsspipe.extract import extract_mem_mb
from wfsspipe.mosaic import catalog_mem_mb, filter_mem_mb
from wfsspipe.preprocess import preprocess_mem_mb
from wfsspipe.resources import (
    DEFAULT_UNCAL_MB,
    MIN_MEM_MB,
    MIN_RUNTIME_MIN,
    FieldFacts,
    catalog_runtime,
    contam_runtime,
    expected_sources,
    extract_runtime,
    field_facts,
    grow,
    mosaic_area_arcmin2,
    mosaic_filter_runtime,
    preprocess_runtime,
    stage1_mem_mb,
    zfit_runtime,
)
from wfsspipe.webmap import fitsmap_mem_mb
from wfsspipe.zfit import zfit_mem_mb


def test_grow_adds_half_per_retry_and_keeps_a_floor():
    assert [grow(1000, attempt) for attempt in (1, 2, 3, 4)] == [1000, 1500, 2000, 2500]
    assert grow(1000, 0) == 1000  # Snakemake counts attempts from 1
    assert grow(10, 3) == MIN_MEM_MB
    assert grow(4, 2, minimum=MIN_RUNTIME_MIN) == MIN_RUNTIME_MIN
    assert grow(100, 2, minimum=MIN_RUNTIME_MIN) == 150
    assert isinstance(grow(333.3, 2), int)


@pytest.mark.parametrize(
    "request_of",
    [
        lambda attempt: stage1_mem_mb(84.0, attempt),
        lambda attempt: preprocess_mem_mb([84.0] * 8, 2, attempt),
        lambda attempt: filter_mem_mb(25.0, 4, attempt),
        lambda attempt: catalog_mem_mb(25.0, 2, attempt),
        lambda attempt: contam_mem_mb(4, 2, attempt),
        lambda attempt: extract_mem_mb(4, 2, attempt),
        lambda attempt: zfit_mem_mb(4, 2, attempt),
        lambda attempt: fitsmap_mem_mb(25.0, 2, attempt),
        lambda attempt: preprocess_runtime(32, attempt),
        lambda attempt: mosaic_filter_runtime(25.0, 4, attempt),
        lambda attempt: catalog_runtime(25.0, 2, attempt),
        lambda attempt: contam_runtime(21, attempt),
        lambda attempt: extract_runtime(4.0, 4, attempt),
        lambda attempt: zfit_runtime(4.0, 4, attempt),
    ],
)
def test_every_request_follows_the_one_retry_rule(request_of):
    first = request_of(1)
    assert first >= MIN_RUNTIME_MIN
    for attempt in (2, 3):  # +50% of the first request per retry (to the rounding)
        assert abs(request_of(attempt) - first * (1 + 0.5 * (attempt - 1))) <= 1


def test_contam_extract_zfit_memory_numbers():
    # 1500 + 600 per grism exposure + 400 per extra worker; retries +50%.
    assert contam_mem_mb(4, 2) == 4300
    assert contam_mem_mb(4, 2, attempt=2) == 6450
    assert extract_mem_mb(4, 2, attempt=3) == 2 * (1200 + 450 * 4 + 500)
    assert zfit_mem_mb(2, 2) == 1600  # 1.4 GB summed over the tree, measured


def test_wall_times_grow_with_the_field_and_the_attempt():
    # preprocess: 15 min + 10 x 31 s per exposure (the demo field's 250 s for 8).
    assert preprocess_runtime(8) == round(15 + 10 * 31 * 8 / 60) == 56
    assert preprocess_runtime(32) == 180
    assert preprocess_runtime(32, attempt=2) == 270
    assert preprocess_runtime(100) > preprocess_runtime(32) > preprocess_runtime(8)
    assert contam_runtime(21) == 120  # the old fixed limit at the survey's average field
    assert contam_runtime(42) > contam_runtime(21)
    assert mosaic_filter_runtime(100.0, 10) > mosaic_filter_runtime(25.0, 4) >= MIN_RUNTIME_MIN
    assert catalog_runtime(400.0, 3) > catalog_runtime(25.0, 3) >= MIN_RUNTIME_MIN


def test_source_stages_scale_with_area_and_share_over_threads():
    # 0.04"/pixel: 9 megapixels are 4 arcmin², ~800 sources of a dense pure-parallel scene.
    area = mosaic_area_arcmin2(9.0, 0.04)
    assert area == pytest.approx(4.0)
    assert expected_sources(area) == pytest.approx(800)
    # zfit: 15 min + 10 x 6.3 s per source over 4 processes.
    assert zfit_runtime(area, 4) == round(15 + 10 * 6.3 * 800 / 4 / 60) == 225
    assert zfit_runtime(area, 4, attempt=3) == 450
    assert zfit_runtime(area, 1) > zfit_runtime(area, 4)
    assert zfit_runtime(2 * area, 4) > zfit_runtime(area, 4)
    assert extract_runtime(area, 4) == round(10 + 10 * 1.4 * 800 / 4 / 60) == 57
    assert extract_runtime(0.0, 4) == MIN_RUNTIME_MIN


def table_rows():
    def row(field, exp_type, pupil, size):
        return {"field": field, "exp_type": exp_type, "pupil": pupil, "size": size}

    rows = [row("uma-00", "NIS_IMAGE", "F150W", 84_000_000)] * 2
    rows += [row("uma-00", "NIS_WFSS", "F150W", 100_000_000)] * 3
    rows += [row("uma-00", "NIS_WFSS", "F200W", None), row("uma-00", "NIS_IMAGE", "F200W", 0)]
    rows += [row("vir-01", "NIS_WFSS", "F115W", float("nan"))]
    return rows


def test_field_facts_count_filters_and_sizes_from_the_table():
    facts = field_facts(table_rows())
    uma = facts["uma-00"]
    assert uma.exposures == 7
    assert uma.direct == {"f150w": 2, "f200w": 1}
    assert uma.grism == {"f150w": 3, "f200w": 1}
    assert uma.direct_filters == ["f150w", "f200w"] and uma.grism_filters == ["f150w", "f200w"]
    assert uma.grism_exposures == 4
    # known sizes in MB; rows without one (None, 0) count as a default UNCAL
    assert uma.uncal_mb == pytest.approx(2 * 84 + 3 * 100 + 2 * DEFAULT_UNCAL_MB)
    vir = facts["vir-01"]
    assert vir.direct_filters == [] and vir.grism_exposures == 1
    assert vir.uncal_mb == DEFAULT_UNCAL_MB
    assert FieldFacts().direct_filters == [] and FieldFacts().exposures == 0


def test_field_facts_read_the_loaded_table_types():
    # load_field_table makes `size` a pandas Int64 column: missing sizes are pd.NA there.
    frame = pd.DataFrame(table_rows())
    frame["size"] = pd.to_numeric(frame["size"], errors="coerce").astype("Int64")
    assert frame["size"].isna().sum() == 2
    facts = field_facts(frame.to_dict("records"))
    assert facts["uma-00"].uncal_mb == pytest.approx(field_facts(table_rows())["uma-00"].uncal_mb)
    assert math.isclose(facts["vir-01"].uncal_mb, DEFAULT_UNCAL_MB)
