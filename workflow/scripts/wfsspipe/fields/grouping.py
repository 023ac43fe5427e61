"""Group exposures into fields: footprints that overlap or come closer than a separation.

Candidates come from a k-d tree on footprint centres (unit vectors, so chord distances are
monotonic in angle and nothing wraps); the exact polygon distance of :mod:`.sphere` then decides,
and connected components make the grouping transitive. No loop over pairs runs in Python.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

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
    candidates = cKDTree(centres).query_pairs(2 * np.sin(reach / 2), output_type="ndarray")
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
    # The rest, nearest first, in chunks: a pair whose ends earlier pairs already connect
    # changes no field, so it is not measured (most of them, in a real survey).
    rest = candidates[~inside]
    rest = rest[np.argsort(centre_angle[~inside], kind="stable")]
    for start in range(0, len(rest), _CHUNK_CONNECTED):
        labels = _components(np.concatenate(joined), len(polygons))
        chunk = rest[start : start + _CHUNK_CONNECTED]
        chunk = chunk[labels[chunk[:, 0]] != labels[chunk[:, 1]]]
        if len(chunk):
            distance = polygon_distances(stacked[chunk[:, 0]], stacked[chunk[:, 1]])
            joined.append(chunk[_joined(distance, separation)])
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


def _components(pairs: np.ndarray, n: int) -> np.ndarray:
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return labels


def _joined(distance: np.ndarray, separation: float) -> np.ndarray:
    """Closer than the separation; overlapping footprints (distance 0) always join."""
    return (distance < separation) | (distance == 0)
