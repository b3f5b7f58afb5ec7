"""Pareto maths on points to MINIMISE: non-dominated sorting and exact hypervolume.

Pure numpy, no I/O, no study: callers turn trials into points (each objective's value times
``-objective.sign``, so every column is minimised) and leave infeasible trials out. A point
dominates another when it is no worse in every column and better in at least one; equal
points do not dominate each other, so duplicates share a front.

The hypervolume is the volume of the region between the points and a reference point that
the points dominate; points not strictly better than the reference in every column add
nothing. Two columns: one sweep (O(n log n)); more: the WFG algorithm (While, Bradstreet,
Barone 2012), exact for any number of columns and quick for the fronts of a study (a few
hundred points, 2-4 objectives).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "dominates",
    "hypervolume",
    "hypervolume_contributions",
    "hypervolume_history",
    "nondominated_ranks",
    "normalise",
    "pareto_front",
    "reference_point",
]


def _as_points(points: ArrayLike) -> NDArray[np.float64]:
    array = np.asarray(points, dtype=float)
    if array.ndim == 1 and array.size == 0:
        return array.reshape(0, 0)
    if array.ndim != 2:
        raise ValueError(f"points must be a 2-D array (one row per point), got shape {array.shape}")
    if np.isnan(array).any():
        raise ValueError("points must not hold NaN (leave trials without a value out)")
    return array


def dominates(a: ArrayLike, b: ArrayLike) -> bool:
    """Whether point ``a`` dominates ``b`` (both minimised)."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return bool(np.all(x <= y) and np.any(x < y))


def _dominated_mask(points: NDArray[np.float64]) -> NDArray[np.bool_]:
    """``mask[i]``: some other point dominates point i (pairwise, in blocks of rows)."""
    n = len(points)
    mask = np.zeros(n, dtype=bool)
    block = max(1, 4_000_000 // max(1, n * points.shape[1]))
    for start in range(0, n, block):
        rows = points[start : start + block, None, :]  # (b, 1, m): the points judged
        le = np.all(points[None, :, :] <= rows, axis=2)  # (b, n): j no worse than i
        lt = np.any(points[None, :, :] < rows, axis=2)  # (b, n): j better somewhere
        mask[start : start + block] = np.any(le & lt, axis=1)
    return mask


def pareto_front(points: ArrayLike) -> NDArray[np.intp]:
    """Indices (ascending) of the non-dominated points; duplicates of a front point are all
    kept."""
    array = _as_points(points)
    if len(array) == 0:
        return np.zeros(0, dtype=np.intp)
    return np.flatnonzero(~_dominated_mask(array))


def nondominated_ranks(points: ArrayLike) -> NDArray[np.intp]:
    """Each point's front: 0 for the Pareto front, 1 for the front once it is removed, ..."""
    array = _as_points(points)
    ranks = np.full(len(array), -1, dtype=np.intp)
    left = np.arange(len(array))
    rank = 0
    while len(left):
        front = ~_dominated_mask(array[left])
        ranks[left[front]] = rank
        left = left[~front]
        rank += 1
    return ranks


def reference_point(points: ArrayLike, margin: float = 0.1) -> NDArray[np.float64]:
    """A reference point beyond the worst of each column by ``margin`` of its range (or by
    ``margin`` when a column is constant): the convention when no reference is given."""
    array = _as_points(points)
    worst, best = array.max(axis=0), array.min(axis=0)
    span = np.where(worst > best, worst - best, 1.0)
    return np.asarray(worst + margin * span, dtype=float)


def normalise(points: ArrayLike, lower: ArrayLike, upper: ArrayLike) -> NDArray[np.float64]:
    """Points rescaled so ``lower`` maps to 0 and ``upper`` to 1 in each column (a constant
    column maps to 0): hypervolumes of differently scaled objectives become comparable."""
    array = _as_points(points)
    low, high = np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
    span = np.where(high > low, high - low, 1.0)
    return np.asarray((array - low) / span, dtype=float)


def hypervolume(points: ArrayLike, reference: ArrayLike) -> float:
    """The volume dominated by ``points`` and bounded by ``reference`` (both minimised)."""
    array = _as_points(points)
    ref = np.asarray(reference, dtype=float)
    if len(array) == 0:
        return 0.0
    if ref.shape != (array.shape[1],):
        raise ValueError(f"the reference has {ref.shape} values for {array.shape[1]} objectives")
    inside = array[np.all(array < ref, axis=1)]
    if len(inside) == 0:
        return 0.0
    front = np.unique(inside[pareto_front(inside)], axis=0)
    return float(_wfg(front, ref))


def hypervolume_contributions(points: ArrayLike, reference: ArrayLike) -> NDArray[np.float64]:
    """Each point's exclusive hypervolume: what the set loses without it (0 for dominated
    points and for each of two equal points)."""
    array = _as_points(points)
    total = hypervolume(array, reference)
    out = np.zeros(len(array))
    front = pareto_front(array)
    for i in front:
        rest = np.delete(array, i, axis=0)
        out[i] = total - hypervolume(rest, reference)
    return out


def _wfg(points: NDArray[np.float64], ref: NDArray[np.float64]) -> float:
    """Exact hypervolume of non-dominated points all strictly inside ``ref``."""
    n, m = points.shape
    if n == 0:
        return 0.0
    if n == 1:
        return float(np.prod(ref - points[0]))
    if m == 2:
        return _hv2d(points, ref)
    # Sorting by the last column (worst first) keeps the limited sets small.
    order = np.argsort(-points[:, -1], kind="stable")
    points = points[order]
    total = 0.0
    for i in range(n):
        point = points[i]
        inclusive = float(np.prod(ref - point))
        rest = points[i + 1 :]
        if len(rest):
            limited = np.maximum(rest, point)  # the part of each later point inside this box
            limited = _nondominated_unique(limited)
            inclusive -= _wfg(limited, ref)
        total += inclusive
    return total


def _nondominated_unique(points: NDArray[np.float64]) -> NDArray[np.float64]:
    unique = np.unique(points, axis=0)
    return unique[pareto_front(unique)]


def _hv2d(points: NDArray[np.float64], ref: NDArray[np.float64]) -> float:
    """Two columns: sort by the first; each point adds its strip below the previous one."""
    order = np.lexsort((points[:, 1], points[:, 0]))
    total, best_y = 0.0, float(ref[1])
    for x, y in points[order]:
        if y < best_y:
            total += (ref[0] - x) * (best_y - y)
            best_y = y
    return float(total)


def hypervolume_history(
    points: Sequence[Sequence[float]] | NDArray[np.float64], reference: ArrayLike
) -> list[float]:
    """The hypervolume of the first k points for every k (a study's progress, in order)."""
    array = _as_points(points) if len(points) else np.zeros((0, len(np.asarray(reference))))
    ref = np.asarray(reference, dtype=float)
    out: list[float] = []
    front = np.zeros((0, len(ref)))
    value = 0.0
    for row in array:
        if np.all(row < ref) and not any(np.all(f <= row) for f in front):
            front = np.vstack([front, row])
            front = front[pareto_front(front)]
            value = hypervolume(front, ref)
        out.append(value)
    return out
