"""The columnar view: best trial, filters, sorting (missing values last) and paging."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tunewise as tw
from tests.analysis.conftest import MINIMIZE, P, frame_of, random_trials, trial
from tunewise.analysis import TrialFrame, build_figure
from tunewise.store import Store, open_store
from tunewise.store.table import TrialTable
from tunewise.trial import FailureKind, Trial, TrialState


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


def _stored(trials: list[Trial]) -> tuple[Store, int]:
    """``trials`` written into an in-memory store, in their states (through the contract)."""
    store = open_store()
    study = store.create_study("s", {})
    for t in trials:
        number = store.add_trial(study.id, t.params, owner="w", lease_seconds=60).number
        if t.state is TrialState.QUEUED:
            store.requeue_trial(study.id, number, failure_kind=FailureKind.LOST)
        elif t.state is not TrialState.RUNNING:
            store.finish_trial(study.id, number, t.state, value=t.value, metrics=t.metrics,
                               failure_kind=t.failure_kind)  # fmt: skip
    return store, study.id


ODD = [  # values the space cannot (all) encode, and missing ones
    {"lr": "0.01", "layers": True, "act": "gelu"},
    {"lr": None, "layers": "2", "act": ["relu"]},
    {"lr": [0.1], "layers": 2.7},
    {"lr": -1.0, "layers": 4, "act": "tanh"},
    {},
]


def _assert_same_frame(a: TrialFrame, b: TrialFrame) -> None:
    for name in ("number", "state", "value", "attempt"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    for name in ("duration", "started_at", "finished_at"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), atol=1e-5, err_msg=name)
    for name in a.unit:
        np.testing.assert_array_equal(a.unit[name], b.unit[name], err_msg=name)
    assert a.unit.keys() == b.unit.keys() and a.metric_names == b.metric_names
    assert repr(list(a.params)) == repr(list(b.params))
    assert repr(list(a.metrics)) == repr(list(b.metrics))
    assert repr(list(a.trials)) == repr(list(b.trials))
    assert a.failure_kinds(range(len(a))) == b.failure_kinds(range(len(b)))
    for kind in ("history", "importance", "parallel", "slice"):
        assert build_figure(kind, a) == build_figure(kind, b), kind


def test_a_frame_read_from_a_table_is_the_frame_of_the_trials() -> None:
    made = [*random_trials(40, seed=5), trial(40, P, None, "failed"), trial(41, P, 0.3, "stopped")]
    made += [trial(42 + i, params, 1.0) for i, params in enumerate(ODD)]
    made += [trial(47, P, None, "running"), trial(48, P, None, "queued")]
    store, study = _stored(made)
    table = store.get_trial_table(study)
    from_table = frame_of(table)
    assert isinstance(from_table.trials, TrialTable)
    _assert_same_frame(from_table, frame_of(store.get_trials(study)))
    assert math.isnan(from_table.unit["lr"][43]) and from_table.unit["lr"][42] == pytest.approx(
        2 / 3
    )
    assert math.isnan(from_table.unit["lr"][45]), "log of a negative value: not encodable"
    assert from_table.unit["layers"][42] == frame_of([made[42]]).unit["layers"][0]


def test_an_updated_frame_is_the_frame_read_anew() -> None:
    made = [*random_trials(30, seed=6), trial(30, P, None, "running"), trial(31, P, 0.1)]
    store, study = _stored(made)
    frame = frame_of(store.get_trial_table(study))
    frame.trials[0:1].column("params")  # a decoded column carried along
    store.finish_trial(study, 30, TrialState.COMPLETED, value=-1.0, metrics={"acc": 0.9})
    for params in ODD[:2]:
        store.add_trial(study, params)
    newer = frame.updated(30, store.get_trial_table(study, min_number=30))
    _assert_same_frame(newer, frame_of(store.get_trial_table(study)))
    assert len(newer) == 34 and newer.best_index() == 30 and "acc" in newer.metric_names
    on_trials = frame_of(store.get_trials(study, min_number=0)[:30])
    _assert_same_frame(
        on_trials.updated(30, store.get_trials(study, min_number=30)),
        frame_of(store.get_trials(study)),
    )
