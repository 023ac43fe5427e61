"""Group exposures into fields: footprints that overlap or come closer than a separation.

Candidates come from a grid of cubes over the footprint centres (unit vectors, so chord distances
are monotonic in angle and nothing wraps): only centres in the same or adjacent cubes can be
closer than a cube's side. The exact polygon distance of :mod:`.sphere` then decides, and connected
components make the grouping transitive. Candidates are a superset of the close pairs, so the
fields depend only on the exact test. numpy only (scipy's k-d tree and graph code cost more to
import than the whole grouping takes).
"""

from __future__ import annotations

import itertools

import numpy as np

from .sphere import ARCSEC, angle_between, contains, polygon_distances

# Pairs are measured in chunks so the (pairs, n, m, 3) temporaries stay small and pairs that
# earlier chunks already connected can be skipped.
_CHUNK_CONNECTED = 2_000


def footprint_centres(stacked: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre unit vectors (N, 3) and circumradii (N,), radians, of padded polygons."""
    real = np.arange(stacked.shape[1])[None, :] < counts[:, None]
    centres = np.einsum("nk,nkd->nd", real.astype(float), stacked)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    radii = angle_between(stacked, centres[:, None, :]).max(axis=1)  # padding repeats a vertex
    return centres, radii


def close_pairs(polygons: list[np.ndarray], separation_arcsec: float) -> np.ndarray:
    """Index pairs (K, 2) of polygons closer than ``separation_arcsec`` (overlap counts as 0):
    enough of them to connect every such pair (pairs already connected are not measured)."""
    if len(polygons) < 2:
        return np.empty((0, 2), dtype=int)
    stacked = pad_polygons(polygons)
    centres, radii = footprint_centres(stacked, np.array([len(p) for p in polygons]))
    separation = separation_arcsec * ARCSEC
    reach = min(2 * radii.max() + separation, np.pi)
    candidates = near_pairs(centres, 2 * np.sin(reach / 2))
    if len(candidates) == 0:
        return candidates.reshape(0, 2)
    # Cheap exact pre-filter: centres further apart than both radii plus the separation.
    centre_angle = angle_between(centres[candidates[:, 0]], centres[candidates[:, 1]])
    near = centre_angle < radii[candidates[:, 0]] + radii[candidates[:, 1]] + separation
    candidates, centre_angle = candidates[near], centre_angle[near]
    # Most candidates are exposures of one pointing: one's centre inside the other settles them.
    inside = contains(stacked[candidates[:, 0]], centres[candidates[:, 1]]) | contains(
        stacked[candidates[:, 1]], centres[candidates[:, 0]]
    )
    joined = [candidates[inside]]
    labels = _components(joined[0], len(polygons))
    # The rest, nearest first, in chunks: a pair whose ends earlier pairs already connect
    # changes no field, so it is not measured (most of them, in a real survey).
    rest = candidates[~inside]
    rest = rest[np.argsort(centre_angle[~inside], kind="stable")]
    for start in range(0, len(rest), _CHUNK_CONNECTED):
        chunk = rest[start : start + _CHUNK_CONNECTED]
        chunk = chunk[labels[chunk[:, 0]] != labels[chunk[:, 1]]]
        if len(chunk):
            distance = polygon_distances(stacked[chunk[:, 0]], stacked[chunk[:, 1]])
            joined.append(chunk[_joined(distance, separation)])
            # Components of the components: the new pairs join labels.
            labels = _components(labels[joined[-1]], len(polygons))[labels]
    return np.concatenate(joined)


def pad_polygons(polygons: list[np.ndarray]) -> np.ndarray:
    """Stack polygons into one (N, K, 3) array, repeating each last vertex up to K.

    A repeated vertex is an edge of zero length, which changes no distance, crossing or
    containment test in :mod:`.sphere`.
    """
    most = max(len(vertices) for vertices in polygons)
    stacked = np.empty((len(polygons), most, 3))
    for index, vertices in enumerate(polygons):
        stacked[index, : len(vertices)] = vertices
        stacked[index, len(vertices) :] = vertices[-1]
    return stacked


def group_footprints(polygons: list[np.ndarray], separation_arcsec: float) -> np.ndarray:
    """Component label (N,) of each polygon: equal labels are one field."""
    return _components(close_pairs(polygons, separation_arcsec), len(polygons))


# The 13 neighbouring cubes "after" a cube (plus the cube itself): each adjacent pair once.
_FORWARD = [
    offset
    for offset in itertools.product((-1, 0, 1), repeat=3)
    if offset > (0, 0, 0)  # lexicographic: one of each pair of opposite offsets
]


def near_pairs(points: np.ndarray, chord: float) -> np.ndarray:
    """Index pairs (K, 2), i < j, of points (N, 3) at most ``chord`` apart (Euclidean).

    Points go into cubes of side ``chord``; a pair that close lies in one cube or two adjacent
    ones, so only those are compared.
    """
    n = len(points)
    if n < 2:
        return np.empty((0, 2), dtype=int)
    side = max(chord, 1e-9)
    cells = np.floor(points / side).astype(np.int64)
    cells -= cells.min(axis=0) - 1  # >= 1, so a neighbour's index never wraps into another row
    span = cells.max(axis=0) + 2
    keys = (cells[:, 0] * span[1] + cells[:, 1]) * span[2] + cells[:, 2]
    order = np.argsort(keys, kind="stable")
    cube_keys, starts, counts = np.unique(keys[order], return_index=True, return_counts=True)
    firsts, seconds = [], []
    for dx, dy, dz in [(0, 0, 0), *_FORWARD]:
        wanted = cube_keys + (dx * span[1] + dy) * span[2] + dz
        position = np.searchsorted(cube_keys, wanted)
        found = position < len(cube_keys)
        found[found] = cube_keys[position[found]] == wanted[found]
        a, b = np.flatnonzero(found), position[found]
        if not len(a):
            continue
        sizes = counts[a] * counts[b]
        owner = np.repeat(np.arange(len(a)), sizes)
        within = np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        first = starts[a][owner] + within // counts[b][owner]
        second = starts[b][owner] + within % counts[b][owner]
        if (dx, dy, dz) == (0, 0, 0):
            keep = first < second
            first, second = first[keep], second[keep]
        firsts.append(order[first])
        seconds.append(order[second])
    first, second = np.concatenate(firsts), np.concatenate(seconds)
    gap = points[first] - points[second]
    close = np.einsum("kd,kd->k", gap, gap) <= chord * chord
    pairs = np.stack([np.minimum(first, second), np.maximum(first, second)], axis=1)[close]
    return pairs


def _components(pairs: np.ndarray, n: int) -> np.ndarray:
    """Connected-component label (n,) of the graph of ``pairs``; labels count up in the order of
    each component's lowest index.

    Vectorised hooking and pointer jumping: every root that an edge joins to a lower root points
    at the lowest such root, then paths are compressed to stars; repeated until every edge has
    one root. Pointers only ever go to lower indices, so a component's root is its lowest index.
    """
    parent = np.arange(n)
    first, second = pairs[:, 0], pairs[:, 1]
    while len(first):
        root_first, root_second = parent[first], parent[second]
        differ = root_first != root_second
        first, second = first[differ], second[differ]
        if not len(first):
            break
        root_first, root_second = root_first[differ], root_second[differ]
        np.minimum.at(
            parent, np.maximum(root_first, root_second), np.minimum(root_first, root_second)
        )
        while True:
            grand = parent[parent]
            if np.array_equal(grand, parent):
                break
            parent = grand
    return np.unique(parent, return_inverse=True)[1].reshape(n)


def _joined(distance: np.ndarray, separation: float) -> np.ndarray:
    """Closer than the separation; overlapping footprints (distance 0) always join."""
    return (distance < separation) | (distance == 0)
