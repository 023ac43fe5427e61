"""Exact spherical geometry and grouping of footprints."""

import numpy as np
import pytest
from fieldtools import ARCSEC, box_region

from wfsspipe.fields.grouping import _components, group_footprints, near_pairs
from wfsspipe.fields.sphere import (
    RegionError,
    oriented_convex_polygon,
    parse_polygon,
    point_arc_distance,
    polygon_distances,
    radec_to_xyz,
)

RAD_PER_ARCSEC = np.deg2rad(ARCSEC)


def polygon(region):
    return oriented_convex_polygon(parse_polygon(region[0]))


def distance_arcsec(first, second):
    return polygon_distances(polygon(first)[None], polygon(second)[None])[0] / RAD_PER_ARCSEC


def test_point_to_arc_distance_matches_spherical_trigonometry():
    # Arc along the equator from RA 0 to 10 deg; a point at RA 5, Dec 1 is 1 deg from it, and a
    # point at RA 12, Dec 0 is 2 deg from the nearer end.
    a, b = radec_to_xyz(0, 0), radec_to_xyz(10, 0)
    assert np.rad2deg(point_arc_distance(radec_to_xyz(5, 1), a, b)) == pytest.approx(1.0, abs=1e-12)
    assert np.rad2deg(point_arc_distance(radec_to_xyz(12, 0), a, b)) == pytest.approx(
        2.0, abs=1e-12
    )


@pytest.mark.parametrize(
    "gap, joined", [(29.0, True), (31.0, False), (29.99, True), (30.01, False)]
)
def test_separation_threshold_is_exact(gap, joined):
    ra0, dec0 = 150.1, 2.2
    below = box_region(ra0, dec0, -60, 60, -gap / 2 - 120, -gap / 2)
    above = box_region(ra0, dec0, -60, 60, gap / 2, gap / 2 + 120)
    # The facing edges are great circles that converge away from the tangent point, so the
    # closest points are their ends, ~1e-6" closer than the gap on the axis.
    assert distance_arcsec(below, above) == pytest.approx(gap, abs=1e-5)
    labels = group_footprints([polygon(below), polygon(above)], 30.0)
    assert bool(labels[0] == labels[1]) is joined


def test_overlap_and_containment_are_distance_zero():
    big = box_region(10, -30, -60, 60, -60, 60)
    inner = box_region(10, -30, -10, 10, -10, 10)  # no edges cross: containment
    shifted = box_region(10, -30, 30, 150, 30, 150)
    assert distance_arcsec(big, inner) == 0
    assert distance_arcsec(inner, big) == 0
    assert distance_arcsec(big, shifted) == 0
    labels = group_footprints([polygon(big), polygon(inner), polygon(shifted)], 0.0)
    assert len(set(labels)) == 1


def test_chains_join_transitively():
    # Five boxes in a row, 20" apart: the ends are 4' apart yet one field.
    boxes = [box_region(200, 40, -60 + 140 * k, 60 + 140 * k, -60, 60) for k in range(5)]
    far = box_region(200, 40, 900, 1000, -60, 60)
    labels = group_footprints([polygon(b) for b in boxes + [far]], 30.0)
    assert len(set(labels[:5])) == 1 and labels[5] != labels[0]


def test_pair_straddling_ra_zero():
    # Tangent point at RA 0: one box is at RA ~359.98, the other at ~0.02, 10" apart.
    west = box_region(0.0, 5.0, -130, -5, -60, 60)
    east = box_region(0.0, 5.0, 5, 130, -60, 60)
    assert west[1] > 359 and east[1] < 1
    assert distance_arcsec(west, east) == pytest.approx(10.0, abs=1e-6)
    labels = group_footprints([polygon(west), polygon(east)], 30.0)
    assert labels[0] == labels[1]


def test_near_pole_uses_true_distance():
    # At Dec 89.99 a box at RA 0 and one at RA 90 are ~50" apart (centre to centre), a box
    # across the pole at RA 180 is ~72"; in RA/Dec degrees they look 90-180 deg apart.
    near = box_region(0.0, 89.99, -10, 10, -10, 10)
    quarter = box_region(90.0, 89.99, -10, 10, -10, 10)
    across = box_region(180.0, 89.99, -10, 10, -10, 10)
    assert 20 < distance_arcsec(near, quarter) < 40
    labels = group_footprints([polygon(p) for p in (near, quarter, across)], 30.0)
    assert labels[0] == labels[1]
    # ...while two boxes 1 deg of RA apart at Dec 60 (1800") stay apart whatever RA looks like.
    first, second = (
        box_region(10.0, 60.0, -60, 60, -60, 60),
        box_region(12.0, 60.0, -60, 60, -60, 60),
    )
    assert group_footprints([polygon(first), polygon(second)], 30.0).tolist() == [0, 1]


def test_distance_agrees_with_dense_sampling():
    """Random quadrilaterals: exact distance vs. brute force over densely sampled edges."""
    rng = np.random.default_rng(5)
    for _ in range(30):
        ra0, dec0 = rng.uniform(0, 360), rng.uniform(-89, 89)
        quads = []
        for _side in range(2):
            cx, cy = rng.uniform(-150, 150, 2)
            angle = rng.uniform(0, 2 * np.pi)
            corners = np.array([[-40, -40], [40, -40], [40, 40], [-40, 40]]) * rng.uniform(0.5, 1.5)
            rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
            xy = corners @ rotation.T + [cx, cy]
            quads.append(xy)
        polys, samples = [], []
        for xy in quads:
            from fieldtools import tangent_to_radec

            scale = np.deg2rad(ARCSEC)
            ra, dec = tangent_to_radec(
                ra0, dec0, np.tan(xy[:, 0] * scale), np.tan(xy[:, 1] * scale)
            )
            vertices = np.stack([ra, dec], axis=1)
            polys.append(oriented_convex_polygon(vertices))
            # Great-circle edges are straight in the tangent plane: sample them there.
            t = np.linspace(0, 1, 400)[:, None]
            edge_points = np.concatenate([xy[k] + t * (xy[(k + 1) % 4] - xy[k]) for k in range(4)])
            sra, sdec = tangent_to_radec(
                ra0, dec0, np.tan(edge_points[:, 0] * scale), np.tan(edge_points[:, 1] * scale)
            )
            samples.append(radec_to_xyz(sra, sdec))
        exact = polygon_distances(polys[0][None], polys[1][None])[0] / RAD_PER_ARCSEC
        angles = np.arccos(np.clip(samples[0] @ samples[1].T, -1, 1)) / RAD_PER_ARCSEC
        sampled = angles.min()
        if exact > 0:
            assert exact == pytest.approx(sampled, abs=0.5)
        else:  # overlapping quads: sampled edges come within sampling resolution or cross
            from shapely.geometry import Polygon

            assert Polygon(quads[0]).intersects(Polygon(quads[1]))


@pytest.mark.parametrize(
    "region, message",
    [
        ("CIRCLE ICRS 10 20 0.1", "only POLYGON"),
        ("POLYGON ICRS 10 20 11 21", "at least 3"),
        ("POLYGON ICRS 10 20 11 21 12", "at least 3"),
        ("POLYGON ICRS 10 20 11 abc 12 22", "not a number"),
        ("POLYGON ICRS 10 95 11 21 12 22", "dec"),
        ("", "empty"),
    ],
)
def test_bad_regions_are_refused(region, message):
    with pytest.raises(RegionError, match=message):
        parse_polygon(region)


@pytest.mark.parametrize("chord", [1e-3, 0.05, 0.4, 3.0])
def test_near_pairs_and_components_match_brute_force(chord):
    """The cube grid finds exactly the pairs within the chord; components are the graph's."""
    rng = np.random.default_rng(11)
    points = rng.normal(size=(400, 3))
    points[:150] = points[0] + rng.normal(scale=chord / 2, size=(150, 3))  # a dense clump
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    gaps = np.linalg.norm(points[:, None] - points[None], axis=-1)
    first, second = np.nonzero(np.triu(gaps <= chord, k=1))
    pairs = near_pairs(points, chord)
    assert sorted(map(tuple, pairs.tolist())) == list(zip(first.tolist(), second.tolist()))
    # Components by repeated closure of the adjacency matrix, labelled by lowest member.
    reach = (gaps <= chord) | np.eye(len(points), dtype=bool)
    for _ in range(10):
        reach = (reach.astype(int) @ reach.astype(int)) > 0
    expected = np.unique(reach.argmax(axis=1), return_inverse=True)[1]
    assert _components(pairs, len(points)).tolist() == expected.tolist()
