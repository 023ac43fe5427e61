"""The synthetic field's exposure plan: the tests' two-filter field and the PASSAGE-like options
(a grism filter without a direct image, a second orient). Plans only: nothing is rendered."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from wfsssim.field import REVISIT_DAYS, FieldSpec, _spec_dict, footprint, plan_exposures

PASSAGE = FieldSpec(
    filters=("F115W", "F150W", "F200W"), no_direct=("F115W",), revisit=("F150W",), ngroups=8
)


def _kinds(planned):
    return Counter((p.pupil, p.pa_aper, p.filter) for p in planned)


def test_default_field_is_two_filters_one_orient_eight_exposures():
    planned = plan_exposures(FieldSpec(ngroups=7))
    assert len(planned) == 8
    assert {p.pa_aper for p in planned} == {FieldSpec.pa_aper}
    for pupil in ("F150W", "F200W"):
        assert [p.filter for p in planned if p.pupil == pupil] == [
            "CLEAR", "GR150R", "GR150C", "CLEAR"
        ]  # fmt: skip
    # No new keys in the manifest's spec: a field built before the options existed is reused.
    assert not {"no_direct", "revisit", "revisit_dpa"} & set(_spec_dict(FieldSpec()))


def test_passage_like_plan_per_filter_and_orient():
    planned = plan_exposures(PASSAGE)
    pa, second = PASSAGE.pa_aper, (PASSAGE.pa_aper + 90.0) % 360.0
    assert _kinds(planned) == {
        ("F115W", pa, "GR150R"): 1, ("F115W", pa, "GR150C"): 1,
        ("F150W", pa, "CLEAR"): 2, ("F150W", pa, "GR150R"): 1, ("F150W", pa, "GR150C"): 1,
        ("F200W", pa, "CLEAR"): 2, ("F200W", pa, "GR150R"): 1, ("F200W", pa, "GR150C"): 1,
        ("F150W", second, "CLEAR"): 1, ("F150W", second, "GR150R"): 1,
        ("F150W", second, "GR150C"): 1,
    }  # fmt: skip
    # F115W has grism exposures and no direct image: the workflow models it from F150W.
    assert not [p for p in planned if p.pupil == "F115W" and p.exp_type == "NIS_IMAGE"]
    ids = [p.obs_id for p in planned]
    assert len(set(ids)) == len(ids)
    # One visit per filter and orient (visit number = characters 10-12 of the obs_id).
    visits = {(p.pupil, p.pa_aper): p.obs_id[10:13] for p in planned}
    assert len(set(visits.values())) == len(visits) == 4
    # Exposures in time order; the revisit starts REVISIT_DAYS after the first visit.
    starts = [p.expstart for p in planned]
    assert starts == sorted(starts)
    first_revisit = min(p.expstart for p in planned if p.pa_aper == second)
    assert first_revisit == pytest.approx(PASSAGE.mjd_start + REVISIT_DAYS)
    assert plan_exposures(PASSAGE) == planned  # deterministic


def _corners(exposure):
    values = np.array(footprint(exposure).split()[2:], float).reshape(4, 2)
    return SkyCoord(values[:, 0], values[:, 1], unit="deg")


def test_rotated_visit_footprint_turns_with_the_position_angle():
    planned = plan_exposures(PASSAGE)
    first = next(p for p in planned if p.pupil == "F150W" and p.filter == "GR150R")
    second = next(p for p in planned if p.pupil == "F150W" and p.filter == "GR150R"
                  and p.pa_aper != first.pa_aper)  # fmt: skip
    a, b = _corners(first), _corners(second)
    # Corner 0 -> corner 3 runs along detector +y, at PA_APER east of north.
    for corners, pa in ((a, first.pa_aper), (b, second.pa_aper)):
        angle = corners[0].position_angle(corners[3]).deg
        assert (angle - pa + 180.0) % 360.0 - 180.0 == pytest.approx(0.0, abs=0.05)
    # Same pointing: the square detector turned by 90 deg covers the same square of sky, its
    # corners shifted by one.
    assert a.separation(b[np.r_[1:4, 0]]).arcsec.max() < 0.05 or (
        a.separation(b[np.r_[3, 0:3]]).arcsec.max() < 0.05
    )
    assert a.separation(b).arcsec.min() > 60.0


@pytest.mark.parametrize(
    "options",
    [
        {"no_direct": ("F115W",)},  # not among the filters
        {"revisit": ("F115W",)},
        {"no_direct": ("F150W", "F200W")},  # nothing left to model the grisms from
        {"no_direct": ("F150W",), "revisit": ("F150W",)},
        {"revisit": ("F150W",), "revisit_dpa": 0.0},
    ],
)
def test_inconsistent_options_are_refused(options):
    with pytest.raises(ValueError):
        FieldSpec(**options)
