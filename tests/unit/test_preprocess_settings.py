"""Settings, config schema, resource requests and small helpers of the grizli stages."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from wfsspipe.mosaic import MosaicSettings
from wfsspipe.preprocess import (
    PreprocessSettings,
    _alignment_result,
    alignment_method,
    preprocess_mem_mb,
)
from wfsspipe.schemas import load_schema

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def config():
    return yaml.safe_load((ROOT / "config/config.yaml").read_text())


def validate(config) -> list[str]:
    import jsonschema

    schema = yaml.safe_load((ROOT / "workflow/schemas/config.schema.yaml").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    return [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(config)]


def test_default_config_is_valid_and_builds_the_settings(config):
    assert validate(config) == []
    pre = PreprocessSettings.from_config(config["preprocess"])
    assert pre.remote_catalogs == ("LS_DR10", "PS1", "GAIA") and pre.catalog == ""
    assert pre.mag_limits == (14.0, 24.0) and pre.grism_sky_iterations == 10
    mos = MosaicSettings.from_config(config["mosaic"])
    assert mos.pixel_scale == 0.04 and mos.kernel == "square" and mos.rnoise_percentile is None
    assert mos.apertures_arcsec[-1] == 3.0 and not mos.detection_background
    assert config["grizli"]["pure_parallel_wcs"] is False


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("mosaic", "kernel"), "bilinear", "is not one of"),
        (("mosaic", "pixel_scale"), 0, "less than or equal to the minimum"),
        (("mosaic", "surprise"), 1, "Additional properties"),
        (("preprocess", "alignment", "remote_catalogs"), ["GOOGLE"], "is not one of"),
        (("preprocess", "alignment", "mag_limits"), [14.0], "too short"),
        (("grizli", "pure_parallel_wcs"), "no", "is not of type 'boolean'"),
        (("preprocess", "sky", "grism_iterations"), 0, "less than the minimum"),
        (("zfit", "templates", "search"), "all lines", "is not one of"),
        (("zfit", "z_range"), [0.1], "too short"),
        (("contam", "pad"), -1, "less than the minimum"),
        (("extract", "mag_limit"), "deep", "is not of type"),
        (("resources", "grizli_threads"), 0, "less than the minimum"),
    ],
)  # fmt: skip
def test_schema_refuses_bad_values(config, path, value, message):
    broken = copy.deepcopy(config)
    section = broken
    for key in path[:-1]:
        section = section[key]
    section[path[-1]] = value
    problems = validate(broken)
    assert problems and any(message in p for p in problems), problems


def test_every_config_key_of_the_grizli_stages_is_documented(config):
    readme = (ROOT / "config/README.md").read_text()

    def keys(node, prefix):
        for key, value in node.items():
            name = f"{prefix}.{key}"
            if isinstance(value, dict):
                yield from keys(value, name)
            else:
                yield name

    for section in ("grizli", "preprocess", "mosaic", "contam", "extract", "zfit", "resources"):
        for name in keys(config[section], section):
            assert f"`{name}`" in readme, name


def test_visit_arguments_keep_grizli_offline_and_use_the_config():
    settings = PreprocessSettings(
        remote_catalogs=(), mag_limits=(15.0, 23.5), max_mag_error=0.1, direct_sky_mesh_arcsec=12.8
    )
    arguments = settings.visit_arguments(threads=3, pure_parallel_wcs=False)
    assert arguments["do_pure_parallel_wcs"] is False
    assert arguments["reference_catalogs"] == []
    assert arguments["align_mag_limits"] == [15.0, 23.5, 0.1]
    assert (
        arguments["imaging_bkg_params"]["bw"] * arguments["imaging_bkg_params"]["pixel_scale"]
        == 12.8
    )
    assert arguments["drizzle_params"] == {"num_cores": 3}
    assert arguments["oneoverf_kwargs"] is None and arguments["nircam_wisp_kwargs"] is None
    # A fresh dict each time: grizli pops keys from drizzle_params.
    arguments["drizzle_params"].pop("num_cores")
    assert settings.visit_arguments(1, False)["drizzle_params"] == {"num_cores": 1}


def test_catalogue_path_takes_the_field_name():
    settings = PreprocessSettings(catalog="/data/astrometry/{field}.radec")
    assert settings.catalog_for("uma-01") == Path("/data/astrometry/uma-01.radec")
    assert PreprocessSettings().catalog_for("uma-01") is None


WCS_LOG = """# ext xshift yshift rot scale rms N
# radec: /tmp/radec.txt
# jw001-nis-f150w-clear
    0        0.0233       -0.0113        0.0000       1.00000         0.015   15
"""


def test_alignment_result_is_read_from_grizlis_log(tmp_path):
    (tmp_path / "v_wcs.log").write_text(WCS_LOG)
    result = _alignment_result(tmp_path, "v")
    assert result == {"status": "aligned", "dx": 0.0233, "dy": -0.0113, "rot": 0.0, "scale": 1.0,
                      "rms": 0.015, "n": 15}  # fmt: skip
    (tmp_path / "v.wcs_failed").write_text("")
    assert _alignment_result(tmp_path, "v")["status"].startswith("alignment failed")
    assert _alignment_result(tmp_path, "missing")["status"] == "alignment not logged"
    (tmp_path / "few_wcs.log").write_text(WCS_LOG.replace("   15\n", "    2\n"))
    assert _alignment_result(tmp_path, "few")["status"].startswith("too few matches")


@pytest.mark.parametrize(
    ("label", "method"),
    [("GAIA_DR3", "remote catalogue"), ("LS_DR9", "remote catalogue"),
     ("USER radec.txt", "local file"), ("SELF", "self"), ("none", "none")],
)  # fmt: skip
def test_alignment_method_from_the_catalogue_label(label, method):
    assert alignment_method(label) == method


def test_memory_requests_grow_with_inputs_and_attempt():
    demo = [84.0] * 8  # the demo field: 8 full-frame RATE files
    assert preprocess_mem_mb(demo) > preprocess_mem_mb([84.0] * 4) > 2000
    assert preprocess_mem_mb(demo, attempt=2) == pytest.approx(1.5 * preprocess_mem_mb(demo), abs=1)
    assert preprocess_mem_mb([]) == preprocess_mem_mb([84.0])
    # Measured on the demo field: 2.46 GB in one process, 3.41 GB summed over the process tree
    # with 2 threads (AstroDrizzle's forked worker). Each request covers its measurement.
    assert 2460 < preprocess_mem_mb(demo, threads=1) < 1.5 * 2460
    assert 3410 < preprocess_mem_mb(demo, threads=2) < 1.5 * 3410


def test_schema_loader_sees_the_new_sections():
    schema = load_schema("config.schema.yaml")
    assert {"grizli", "preprocess", "mosaic"} <= set(schema["required"])
