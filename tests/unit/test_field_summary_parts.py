"""Parts of the field summary and of target spelling, without Snakemake."""

from __future__ import annotations

import re

import pytest

from wfsspipe.field_summary import FieldSummaryError, benchmarks, log_warnings, summary_text
from wfsspipe.layout import absolute_prefix_pattern, rule_fields_dir


def test_fields_dir_inside_the_working_folder_is_spelled_relative(tmp_path):
    assert rule_fields_dir(str(tmp_path / "FIELDS"), str(tmp_path)) == "FIELDS"
    assert rule_fields_dir("FIELDS", str(tmp_path)) == "FIELDS"
    assert rule_fields_dir(str(tmp_path / "demo" / "FIELDS"), str(tmp_path)) == "demo/FIELDS"
    outside = tmp_path.parent / "elsewhere" / "FIELDS"
    assert rule_fields_dir(str(outside), str(tmp_path)) == str(outside)
    # A sibling whose name starts like the working folder is outside it.
    sibling = str(tmp_path) + "-other/FIELDS"
    assert rule_fields_dir(sibling, str(tmp_path)) == sibling


def test_root_wildcard_matches_empty_or_the_working_folder(tmp_path):
    pattern = re.compile(absolute_prefix_pattern("FIELDS", str(tmp_path)) + "FIELDS/x$")
    assert pattern.match("FIELDS/x")
    assert pattern.match(f"{tmp_path}/FIELDS/x")
    assert not pattern.match(f"{tmp_path}-other/FIELDS/x")
    assert not pattern.match("/elsewhere/FIELDS/x")
    # An absolute fields_dir (outside the working folder) takes no prefix.
    absolute = re.compile(absolute_prefix_pattern("/data/FIELDS", str(tmp_path)) + "/data/F$")
    assert absolute.match("/data/F") and not absolute.match(f"{tmp_path}//data/F")


def test_benchmarks_add_up_jobs_and_keep_the_last_run(tmp_path):
    header = "s\th:m:s\tmax_rss\tmax_vms\n"
    (tmp_path / "stage1").mkdir()
    (tmp_path / "stage1" / "a.tsv").write_text(header + "10.0\t0:00:10\t500.0\t1\n")
    (tmp_path / "stage1" / "b.tsv").write_text(header + "99\t-\t1\t1\n20.5\t0:00:20\t700.0\t1\n")
    (tmp_path / "zfit.tsv").write_text(header + "5\t0:00:05\t-\t-\n")
    found = benchmarks(tmp_path)
    assert found["stage1"] == (2, 30.5, 700.0)
    assert found["zfit"] == (1, 5.0, 0.0)


def test_log_warnings_finds_our_and_stpipe_warnings(tmp_path):
    (tmp_path / "stage1").mkdir()
    (tmp_path / "stage1" / "e.log").write_text(
        "2026-12-03 10:00:00 INFO    wfsspipe: fine\n"
        "2026-12-03 10:00:01 WARNING wfsspipe.stage1: sky is bright\n"
        "2026-12-03 10:00:02,123 - stpipe.Detector1Pipeline.jump - WARNING - few groups\n"
    )
    (tmp_path / "quiet.log").write_text("2026-12-03 10:00:00 INFO    x: nothing\n")
    (tmp_path / "fmap.log").write_text("WARNING: this is the summary itself\n")
    found = log_warnings(tmp_path, exclude=[tmp_path / "fmap.log"])
    assert list(found) == ["stage1/"]
    assert any("sky is bright" in m for m in found["stage1/"])
    assert any("few groups" in m for m in found["stage1/"])


def test_summary_refuses_missing_products_and_unknown_stages(tmp_path):
    with pytest.raises(FieldSummaryError, match="products missing: .*nothing.fits"):
        summary_text("sex-00", {"stage1": [tmp_path / "nothing.fits"]}, tmp_path, "t")
    with pytest.raises(FieldSummaryError, match="unknown stages"):
        summary_text("sex-00", {"stage9": []}, tmp_path, "t")
