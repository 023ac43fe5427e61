"""contam logic that needs no grizli: the extraction limit, the reference filter of each grism
filter (mixed-filter visits), PA labels, the overview figure."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.table import Table

from wfsspipe.contam import ContamError, position_angle, reference_filters
from wfsspipe.extraction_limit import LimitSettings, catalog_depth, extraction_limit


def background_limited_catalog(depth_5sigma=26.0, n=60, seed=2):
    """Magnitudes and errors of sources whose S/N falls by 10^(0.4) per magnitude."""
    rng = np.random.default_rng(seed)
    mag = rng.uniform(19.0, 27.0, n)
    snr = 5.0 * 10 ** (-0.4 * (mag - depth_5sigma)) * rng.lognormal(0, 0.05, n)
    return Table({"NUMBER": np.arange(1, n + 1), "MAG_AUTO": mag, "MAGERR_AUTO": 1.0857 / snr})


def visits(grism_time=1200.0, direct_time=300.0):
    return Table(
        rows=[("direct", "F150W", direct_time), ("grism", "F150W", grism_time / 2),
              ("grism", "F150W", grism_time / 2), ("direct", "F200W", direct_time)],
        names=["kind", "filter", "exptime"],
    )  # fmt: skip


def test_catalog_depth_recovers_the_5_sigma_magnitude():
    catalog = background_limited_catalog(depth_5sigma=26.3)
    depth = catalog_depth(catalog["MAG_AUTO"], catalog["MAGERR_AUTO"], 5.0)
    assert depth == pytest.approx(26.3, abs=0.05)
    assert catalog_depth(catalog["MAG_AUTO"], catalog["MAGERR_AUTO"], 10.0) == pytest.approx(
        26.3 - 2.5 * np.log10(2), abs=0.05
    )


def test_catalog_depth_needs_sources():
    assert catalog_depth([22.0, 23.0], [0.01, 0.02], 5.0) is None
    assert catalog_depth([], [], 5.0) is None


def test_extraction_limit_scales_with_exposure_times_and_dispersion():
    catalog = background_limited_catalog(depth_5sigma=26.0)
    settings = LimitSettings(direct_snr=5.0, dispersion_penalty_mag=2.0)
    limit, record = extraction_limit(catalog, visits(1200.0, 300.0), settings)
    # 4x the direct time in the grism: 1.25 log10(4) = 0.75 mag deeper, 2 mag shallower.
    assert limit == pytest.approx(26.0 + 0.7526 - 2.0, abs=0.06)
    assert record["time_terms"] == {"F150W": pytest.approx(0.7526, abs=1e-3)}
    limit_equal, _ = extraction_limit(catalog, visits(300.0, 300.0), settings)
    assert limit - limit_equal == pytest.approx(0.7526, abs=1e-3)


def test_extraction_limit_from_the_config_wins():
    limit, record = extraction_limit(
        background_limited_catalog(), visits(), LimitSettings(mag_limit=24.5)
    )
    assert (limit, record["method"]) == (24.5, "config extract.mag_limit")


def test_extraction_limit_of_a_tiny_catalogue_is_none_and_says_why():
    catalog = Table({"NUMBER": [1], "MAG_AUTO": [22.0], "MAGERR_AUTO": [0.01]})
    limit, record = extraction_limit(catalog, visits(), LimitSettings())
    assert limit is None and "too few" in record["method"]


def test_a_mixed_field_compares_grism_time_with_the_borrowed_direct_filter():
    """F200W grism, no F200W direct image: modelled from F150W, and the time term compares the
    F200W grism time with the F150W direct time."""
    catalog = background_limited_catalog(depth_5sigma=26.0)
    table = Table(
        rows=[("direct", "F150W", 300.0), ("grism", "F200W", 600.0), ("grism", "F200W", 600.0)],
        names=["kind", "filter", "exptime"],
    )
    mosaics = {"f150w": "Mosaic/f-00-f150w_drz_sci.fits"}
    references = reference_filters("f-00", ["F200W"], mosaics)
    assert references == {"F200W": "F150W"}
    _, record = extraction_limit(catalog, table, LimitSettings(), references)
    assert record["time_terms"] == {"F200W": pytest.approx(0.7526, abs=1e-3)}
    _, unreferenced = extraction_limit(catalog, table, LimitSettings())
    assert unreferenced["time_terms"] == {}  # no F200W direct time to compare with
    with pytest.raises(ContamError, match="f-00: grism exposures in F200W have no direct mosaic"):
        reference_filters("f-00", ["F200W"], {})


def test_position_angle_label_wraps():
    assert position_angle(359.7) == 0
    assert position_angle(35.577) == 36


def test_contam_overview_has_a_row_per_grism_and_pa(tmp_path):
    from PIL import Image

    from wfsspipe.contam import _binned, _overview

    image = np.arange(2048 * 2048, dtype=np.float32).reshape(2048, 2048)
    binned = _binned(image)
    assert binned.shape == (512, 512)
    assert binned[0, 0] == pytest.approx(image[:4, :4].mean())
    data = np.random.default_rng(1).normal(1.0, 0.1, (512, 512)).astype(np.float32)
    panels = [("GR150R F150W PA 125: a", data, data * 0.9), ("GR150C F150W PA 215: b", data, data)]
    _overview("f-00", panels, tmp_path / "two.png")
    _overview("f-00", panels[:1], tmp_path / "one.png")
    _overview("f-00", [], tmp_path / "none.png")
    with Image.open(tmp_path / "two.png") as two, Image.open(tmp_path / "one.png") as one:
        assert two.size[0] == one.size[0] and two.size[1] > 1.8 * one.size[1]
    assert (tmp_path / "none.png").stat().st_size > 1000


@pytest.mark.parametrize(
    "grism, direct, expected",
    [
        ("F150W", ["F115W", "F150W", "F200W"], "F150W"),  # its own
        ("F115W", ["F150W", "F200W"], "F150W"),  # nearest in wavelength
        ("F200W", ["F115W", "F150W"], "F150W"),
        ("F150W", ["F115W", "F200W"], "F115W"),  # 1.15 um is nearer 1.50 than 2.00 is
        ("f115w", ["f200w"], "f200w"),  # names keep their case
        ("F115W", [], None),
    ],
)
def test_a_grism_filter_without_direct_imaging_borrows_the_nearest(grism, direct, expected):
    from wfsspipe.niriss import reference_filter

    assert reference_filter(grism, direct) == expected
