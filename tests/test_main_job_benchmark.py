"""``benchmarks.main_job``'s interval: the mean of tuned - default over seeds and starts."""

from __future__ import annotations

import pytest
from benchmarks.main_job import bootstrap_interval


def test_the_point_is_the_mean_of_each_seeds_mean_less_the_defaults() -> None:
    tuned = [[0.98, 0.99], [0.97, 0.97, 0.97]]  # seed means 0.985 and 0.97
    point, low, high = bootstrap_interval(tuned, [0.96, 0.98], reps=200)
    assert point == pytest.approx((0.985 + 0.97) / 2 - 0.97)
    assert low <= point <= high


def test_no_spread_anywhere_gives_an_interval_of_one_point() -> None:
    assert bootstrap_interval([[0.98] * 3] * 4, [0.97] * 5, reps=100) == pytest.approx(
        (0.01, 0.01, 0.01)
    )


def test_the_interval_holds_the_seeds_luck() -> None:
    # Two seeds found a better configuration, three a worse one: zero lies inside.
    tuned = [[0.99] * 5, [0.99] * 5, [0.95] * 5, [0.95] * 5, [0.95] * 5]
    point, low, high = bootstrap_interval(tuned, [0.97] * 5)
    assert point == pytest.approx(-0.004)
    assert low < 0 < high
    # Every seed better by 0.01 with starts spread 0.002: the interval excludes zero.
    tuned = [[0.979, 0.981] * 3] * 5
    point, low, high = bootstrap_interval(tuned, [0.969, 0.971] * 3)
    assert point == pytest.approx(0.01)
    assert 0 < low < point < high


def test_the_same_seed_gives_the_same_interval() -> None:
    tuned = [[0.97, 0.98, 0.99], [0.96, 0.98]]
    assert bootstrap_interval(tuned, [0.97, 0.975], seed=3) == bootstrap_interval(
        tuned, [0.97, 0.975], seed=3
    )
