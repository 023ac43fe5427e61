"""Exact geometry of footprint polygons on the unit sphere.

Footprints are polygons whose edges are great-circle arcs (the IVOA/STC-S meaning of ``POLYGON``).
Everything here works on unit vectors, so it has no trouble at RA 0/360 or at the poles, where the
usual Cartesian RA/Dec shortcut joins footprints that are far apart (a degree of RA near the pole
is a few arcseconds) or splits footprints that touch across RA = 0.

Distances between two polygons are the true minimum great-circle distance between them: zero when
they overlap (an edge crosses an edge, or one contains the other), otherwise the smallest
vertex-to-arc distance. For two minor arcs that do not cross, the closest points include an
endpoint of one of them, so checking every vertex against every edge of the other polygon is exact.
"""

from __future__ import annotations

import numpy as np

ARCSEC = np.pi / (180.0 * 3600.0)


class RegionError(ValueError):
    """An ``s_region`` string that is not a usable polygon."""


def radec_to_xyz(ra_deg, dec_deg) -> np.ndarray:
    """Unit vectors (..., 3) for right ascension and declination in degrees."""
    ra = np.deg2rad(np.asarray(ra_deg, dtype=float))
    dec = np.deg2rad(np.asarray(dec_deg, dtype=float))
    cos_dec = np.cos(dec)
    return np.stack([cos_dec * np.cos(ra), cos_dec * np.sin(ra), np.sin(dec)], axis=-1)


def xyz_to_radec(xyz) -> tuple[np.ndarray, np.ndarray]:
    """Right ascension in [0, 360) and declination, degrees, of (..., 3) vectors."""
    xyz = np.asarray(xyz, dtype=float)
    ra = np.rad2deg(np.arctan2(xyz[..., 1], xyz[..., 0])) % 360.0
    dec = np.rad2deg(np.arctan2(xyz[..., 2], np.hypot(xyz[..., 0], xyz[..., 1])))
    return ra, dec


def parse_polygon(s_region: str) -> np.ndarray:
    """Vertices (n, 2) in degrees of a ``POLYGON [frame] ra1 dec1 ra2 dec2 ...`` region.

    Raises :class:`RegionError` for anything else (other shapes, odd or too few numbers,
    non-finite or out-of-range coordinates).
    """
    if not isinstance(s_region, str) or not s_region.strip():
        raise RegionError("empty s_region")
    words = s_region.split()
    if words[0].upper() != "POLYGON":
        raise RegionError(f"only POLYGON regions are supported, got {words[0]!r}")
    numbers = words[1:]
    if numbers and not _is_number(numbers[0]):
        numbers = numbers[1:]  # the frame, e.g. ICRS
    try:
        values = np.array([float(word) for word in numbers])
    except ValueError as error:
        raise RegionError(f"not a number in polygon: {error}") from None
    if values.size % 2 or values.size < 6:
        raise RegionError(f"a polygon needs at least 3 (ra, dec) pairs, got {values.size} numbers")
    vertices = values.reshape(-1, 2)
    if not np.all(np.isfinite(vertices)) or np.any(np.abs(vertices[:, 1]) > 90.0):
        raise RegionError("polygon coordinates must be finite with |dec| <= 90")
    # MAST sometimes repeats the first vertex at the end; an arc of zero length adds nothing.
    if len(vertices) > 3 and np.array_equal(vertices[0], vertices[-1]):
        vertices = vertices[:-1]
    return vertices


def _is_number(word: str) -> bool:
    try:
        float(word)
    except ValueError:
        return False
    return True


def oriented_convex_polygon(vertices_deg: np.ndarray) -> np.ndarray:
    """Unit-vector vertices (n, 3), counter-clockwise seen from outside the sphere.

    Footprints of NIRISS exposures are convex quadrilaterals. A non-convex polygon is replaced by
    its convex hull (a superset, so grouping stays conservative); :func:`oriented_convex_polygons`
    reports which polygons that happened to.
    """
    xyz = radec_to_xyz(vertices_deg[:, 0], vertices_deg[:, 1])
    centre = xyz.sum(axis=0)
    centre /= np.linalg.norm(centre)
    east, north = _tangent_basis(centre)
    # Gnomonic projection maps great circles to straight lines, so convexity and orientation of
    # the spherical polygon are those of its projection.
    plane = np.stack([xyz @ east, xyz @ north], axis=1) / (xyz @ centre)[:, None]
    hull = _convex_hull_indices(plane)
    return xyz[hull]


def oriented_convex_polygons(vertices_deg: list[np.ndarray]) -> tuple[list[np.ndarray], list[int]]:
    """:func:`oriented_convex_polygon` for many polygons, vectorised for the common convex case.

    Returns the oriented unit-vector polygons and the indices of those that were not convex
    (replaced by their hulls).
    """
    result: list[np.ndarray | None] = [None] * len(vertices_deg)
    not_convex = []
    counts = np.array([len(v) for v in vertices_deg])
    for count in np.unique(counts):
        members = np.flatnonzero(counts == count)
        degrees = np.stack([vertices_deg[i] for i in members])
        xyz = radec_to_xyz(degrees[..., 0], degrees[..., 1])
        # Turn at each vertex: positive for a left turn seen from outside the sphere.
        turns = dot(cross(xyz, np.roll(xyz, -1, axis=1)), np.roll(xyz, -2, axis=1))
        left, right = np.all(turns > 0, axis=1), np.all(turns < 0, axis=1)
        for position, index in enumerate(members):
            if left[position]:
                result[index] = xyz[position]
            elif right[position]:
                result[index] = xyz[position, ::-1]
            else:
                result[index] = oriented_convex_polygon(vertices_deg[index])
                if len(result[index]) != count:
                    not_convex.append(int(index))
    return result, sorted(not_convex)


def _tangent_basis(centre: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pole = np.array([0.0, 0.0, 1.0]) if abs(centre[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    east = cross(pole, centre)
    east /= np.linalg.norm(east)
    return east, cross(centre, east)


def _convex_hull_indices(points: np.ndarray) -> np.ndarray:
    """Indices of the convex hull of 2-D points, counter-clockwise (Andrew's monotone chain)."""
    order = np.lexsort((points[:, 1], points[:, 0]))

    def half(indices):
        chain: list[int] = []
        for index in indices:
            while len(chain) >= 2:
                o, a, b = points[chain[-2]], points[chain[-1]], points[index]
                if (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]) > 0:
                    break
                chain.pop()
            chain.append(index)
        return chain

    lower, upper = half(order), half(order[::-1])
    return np.array(lower[:-1] + upper[:-1])


def cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cross product over the last axis (numpy's ``cross`` is slow on many small vectors)."""
    a0, a1, a2 = a[..., 0], a[..., 1], a[..., 2]
    b0, b1, b2 = b[..., 0], b[..., 1], b[..., 2]
    return np.stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], axis=-1)


def dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("...k,...k->...", a, b)


def angle_between(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Great-circle angle (radians) between unit vectors, accurate for tiny angles."""
    return np.arctan2(np.linalg.norm(cross(p, q), axis=-1), dot(p, q))


def point_arc_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle (radians) from points ``p`` to minor arcs ``a``→``b``; arrays broadcast over (..., 3)."""
    normal = cross(a, b)
    normal_length = np.linalg.norm(normal, axis=-1, keepdims=True)
    normal = normal / np.where(normal_length > 0, normal_length, 1.0)
    height = dot(p, normal)
    foot = p - height[..., None] * normal  # projection onto the arc's great circle
    # The foot lies on the arc when it is on the inner side of both endpoints.
    within = (dot(cross(a, foot), normal) >= 0) & (dot(cross(foot, b), normal) >= 0)
    to_circle = np.arctan2(np.abs(height), np.linalg.norm(foot, axis=-1))
    to_ends = np.minimum(angle_between(p, a), angle_between(p, b))
    return np.where(within & (normal_length[..., 0] > 0), to_circle, to_ends)


def polygon_distances(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Minimum great-circle distance (radians) between paired convex polygons.

    ``first`` and ``second`` are (pairs, n, 3) and (pairs, m, 3) stacks of counter-clockwise unit
    vertices (:func:`oriented_convex_polygon`). Overlapping or touching pairs get 0.
    """
    a, b = first, np.roll(first, -1, axis=1)  # edges of the first polygons
    c, d = second, np.roll(second, -1, axis=1)
    # Vertex-to-edge distances both ways: (pairs, vertices, edges).
    first_to_second = point_arc_distance(a[:, :, None, :], c[:, None, :, :], d[:, None, :, :])
    second_to_first = point_arc_distance(c[:, :, None, :], a[:, None, :, :], b[:, None, :, :])
    distance = np.minimum(first_to_second.min(axis=(1, 2)), second_to_first.min(axis=(1, 2)))
    overlap = (
        _edges_cross(a, b, c, d) | contains(first, second[:, 0]) | contains(second, first[:, 0])
    )
    return np.where(overlap, 0.0, distance)


def contains(polygons: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Whether each convex counter-clockwise polygon (pairs, n, 3) contains its point (pairs, 3)."""
    edge_normals = cross(polygons, np.roll(polygons, -1, axis=1))
    return np.all(np.einsum("pnk,pk->pn", edge_normals, points) >= 0, axis=1)


def _edges_cross(a, b, c, d) -> np.ndarray:
    """Whether any edge a→b of each first polygon crosses any edge c→d of its partner."""
    a, b = a[:, :, None, :], b[:, :, None, :]
    c, d = c[:, None, :, :], d[:, None, :, :]
    ab, cd = cross(a, b), cross(c, d)
    side_c, side_d = dot(ab, c), dot(ab, d)
    side_a, side_b = dot(cd, a), dot(cd, b)
    # Opposite sides both ways; the last term rejects the antipodal crossing of the two circles.
    crossing = (side_c * side_d <= 0) & (side_a * side_b <= 0) & (dot(a + b, c + d) > 0)
    # Arcs on one great circle pass the sign test wherever they are; whether they share a point
    # is then decided by the vertex-to-arc distance, which is zero exactly when they do.
    collinear = (side_c == 0) & (side_d == 0)
    crossing &= ~collinear
    return np.any(crossing, axis=(1, 2))
