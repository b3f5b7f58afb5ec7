"""The Pareto maths against brute force on random point sets (issue 23)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from tunewise.pareto import (
    dominates,
    hypervolume,
    hypervolume_contributions,
    hypervolume_history,
    nondominated_ranks,
    normalise,
    pareto_front,
    reference_point,
)


def brute_front(points: np.ndarray) -> list[int]:
    return [
        i
        for i, p in enumerate(points)
        if not any(dominates(q, p) for j, q in enumerate(points) if j != i)
    ]


def brute_hypervolume(points: np.ndarray, ref: np.ndarray) -> float:
    """Exact: split the box at every coordinate and add each cell some point dominates."""
    inside = [p for p in points if np.all(p < ref)]
    if not inside:
        return 0.0
    m = len(ref)
    axes = [sorted({float(p[k]) for p in inside} | {float(ref[k])}) for k in range(m)]
    total = 0.0
    for cell in itertools.product(*[range(len(a) - 1) for a in axes]):
        low = np.array([axes[k][cell[k]] for k in range(m)])
        high = np.array([axes[k][cell[k] + 1] for k in range(m)])
        if any(np.all(p <= low) for p in inside):
            total += float(np.prod(high - low))
    return total


def random_points(rng: np.random.Generator, n: int, m: int) -> np.ndarray:
    # Rounded so ties and duplicates happen; some points fall outside the reference box.
    points = np.round(rng.uniform(0, 1.2, size=(n, m)), 1)
    if n > 2:
        points[1] = points[0]  # an exact duplicate
    return points


@pytest.mark.parametrize("m", [2, 3])
@pytest.mark.parametrize("seed", range(12))
def test_front_and_hypervolume_match_brute_force(m: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    points = random_points(rng, int(rng.integers(1, 14)), m)
    ref = np.ones(m)
    assert pareto_front(points).tolist() == brute_front(points)
    assert hypervolume(points, ref) == pytest.approx(brute_hypervolume(points, ref), abs=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_four_objectives_match_brute_force(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    points = random_points(rng, 7, 4)
    ref = np.ones(4)
    assert hypervolume(points, ref) == pytest.approx(brute_hypervolume(points, ref), abs=1e-12)


def test_known_values() -> None:
    assert hypervolume([[1, 2], [2, 1]], [3, 3]) == pytest.approx(3.0)
    assert hypervolume([[0, 0, 0]], [1, 2, 3]) == pytest.approx(6.0)
    assert hypervolume([[1, 1]], [1, 2]) == 0.0  # on the reference's edge: nothing inside
    assert hypervolume(np.zeros((0, 2)), [1, 1]) == 0.0


def test_duplicates_share_the_front_and_contribute_nothing_alone() -> None:
    points = np.array([[1.0, 2.0], [1.0, 2.0], [2.0, 1.0], [3.0, 3.0]])
    assert pareto_front(points).tolist() == [0, 1, 2]
    contributions = hypervolume_contributions(points, [4, 4])
    assert contributions.tolist() == pytest.approx([0.0, 0.0, 2.0, 0.0])


def test_ranks_peel_fronts() -> None:
    points = np.array([[1, 3], [3, 1], [2, 2], [2, 3], [3, 3], [4, 4]])
    assert nondominated_ranks(points).tolist() == [0, 0, 0, 1, 2, 3]


@pytest.mark.parametrize("seed", range(5))
def test_ranks_match_repeated_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    points = random_points(rng, 15, 3)
    ranks = nondominated_ranks(points)
    left = list(range(len(points)))
    rank = 0
    while left:
        front = [left[i] for i in brute_front(points[left])]
        assert sorted(np.flatnonzero(ranks == rank).tolist()) == sorted(front)
        left = [i for i in left if i not in front]
        rank += 1


def test_history_only_grows_and_ends_at_the_whole_set() -> None:
    rng = np.random.default_rng(3)
    points = rng.uniform(size=(20, 2))
    history = hypervolume_history(points, [1.0, 1.0])
    assert all(b >= a for a, b in itertools.pairwise(history))
    assert history[-1] == pytest.approx(hypervolume(points, [1.0, 1.0]))


def test_reference_and_normalise() -> None:
    points = np.array([[0.0, 10.0], [1.0, 20.0]])
    assert reference_point(points).tolist() == pytest.approx([1.1, 21.0])
    assert normalise(points, [0, 10], [1, 20]).tolist() == [[0, 0], [1, 1]]


def test_nan_is_refused() -> None:
    with pytest.raises(ValueError, match="NaN"):
        pareto_front([[np.nan, 1.0]])
