"""The columnar view: best trial, filters, sorting (missing values last) and paging."""

from __future__ import annotations

import math

import pytest

import tunewise as tw
from tests.analysis.conftest import MINIMIZE, P, frame_of, random_trials, trial
from tunewise.trial import TrialState


def test_best_is_the_lowest_numbered_best_completed_trial() -> None:
    trials = [
        trial(0, P, 0.5),
        trial(1, P, 0.2),
        trial(2, P, 0.1, "stopped"),  # stopped: a lower-fidelity value, never the best
        trial(3, P, 0.2),
        trial(4, P, math.nan),
        trial(5, P, None, "failed"),
    ]
    frame = frame_of(trials)
    assert frame.best_index() == 1
    numbers, best = frame.best_so_far()
    assert numbers.tolist() == [0, 1, 3] and best.tolist() == [0.5, 0.2, 0.2]
    assert frame_of(trials, tw.Objective("loss", "maximize")).best_index() == 0
    assert frame_of([trial(0, P, None, "running")]).best_index() is None


def test_select_filters_sorts_and_pages() -> None:
    frame = frame_of([*random_trials(30, seed=3), trial(30, P, None, "failed")])
    total, rows = frame.select(sort="value", offset=0, limit=5)
    assert total == 31 and len(rows) == 5
    values = [frame.value[i] for i in rows]
    assert values == sorted(values)
    total, rows = frame.select(sort="value", descending=True, limit=100)
    assert frame.number[rows[-1]] == 30, "a trial without a value sorts last in both orders"
    assert frame.value[rows[0]] == max(frame.value[:30])
    total, rows = frame.select(states=[TrialState.FAILED])
    assert (total, [int(frame.number[i]) for i in rows]) == (1, [30])
    total, _ = frame.select(min_value=0.5, max_value=1.0)
    assert total == sum(1 for v in frame.value if 0.5 <= v <= 1.0)
    total, rows = frame.select(offset=28, limit=5)
    assert [int(frame.number[i]) for i in rows] == [28, 29, 30]


def test_sorting_by_a_parameter_follows_its_scale_and_category_order() -> None:
    frame = frame_of(random_trials(20, seed=4))
    _, rows = frame.select(sort="param:lr", limit=20)
    lrs = [frame.trials[i].params["lr"] for i in rows]
    assert lrs == sorted(lrs)
    _, rows = frame.select(sort="param:act", limit=20)
    acts = [frame.trials[i].params["act"] for i in rows]
    assert acts == sorted(acts, key=["relu", "tanh"].index)
    _, rows = frame.select(sort="metric:loss", descending=True, limit=1)
    assert rows == [int(frame.value.argmax())]
    with pytest.raises(KeyError):
        frame.select(sort="param:nope")
    assert "param:layers" in frame.sort_keys() and "metric:loss" in frame.sort_keys()


def test_values_the_space_cannot_encode_are_missing_not_errors() -> None:
    frame = frame_of([trial(0, {"lr": 5.0, "layers": "x", "act": "gelu"}, 1.0), trial(1, P, 2.0)])
    assert math.isnan(frame.unit["layers"][0]) and math.isnan(frame.unit["act"][0])
    assert frame.unit["lr"][0] == 1.0  # clipped into the range by the space's encoding
    assert MINIMIZE.metric == "loss" and len(frame) == 2
