"""``get_trial_table``: the trials ``get_trials`` gives, read as columns, on every backend."""

from __future__ import annotations

import json
import math

import pytest

from tunewise.store import Store
from tunewise.store.table import COLUMNS, TrialTable
from tunewise.trial import FailureKind, Trial, TrialState


def _study_in_every_state(store: Store) -> int:
    """Trials 0-7: completed (with NaN, +inf, -inf values too), stopped, failed, retried and
    queued again, running with reports, queued."""
    study = store.create_study("t", {"space": {}}).id
    values = [0.0, 1.5, math.nan, math.inf, -math.inf]
    for value in values:
        number = store.add_trial(study, {"x": value, "c": "a", "flag": True}, owner="w",
                                 lease_seconds=60).number  # fmt: skip
        store.finish_trial(study, number, TrialState.COMPLETED, value=value,
                           metrics={"loss": value, "acc": 0.5}, owner="w")  # fmt: skip
    stopped = store.add_trial(study, {"x": 2}, owner="w", lease_seconds=60).number
    store.add_report(study, stopped, 3, {"loss": 0.7})
    store.finish_trial(study, stopped, TrialState.STOPPED, value=0.7)
    failed = store.add_trial(study, {"x": [1, 2]}).number
    store.finish_trial(study, failed, TrialState.FAILED, failure_kind=FailureKind.CRASHED,
                       error="Traceback: boom")  # fmt: skip
    retried = store.add_trial(study, {"x": None}, owner="w", lease_seconds=60).number
    store.requeue_trial(study, retried, failure_kind=FailureKind.LOST, error="gone")
    running = store.add_trial(study, {}, owner="w", lease_seconds=60).number
    store.add_report(study, running, 1, {"loss": 2.0})
    store.add_trial(study, {"x": 3})
    return study


def _same(a: list[Trial], b: list[Trial]) -> bool:
    """Equal trials (by their repr: a NaN value equals itself there)."""
    return repr(a) == repr(b)


def _epoch(trial: Trial, name: str) -> float | None:
    moment = getattr(trial, name)
    return None if moment is None else moment.timestamp()


def test_the_table_holds_the_trials_get_trials_gives(store: Store) -> None:
    study = _study_in_every_state(store)
    trials = store.get_trials(study)
    table = store.get_trial_table(study)
    assert isinstance(table, TrialTable) and len(table) == len(trials) == 10
    assert _same(list(table), trials) and _same([table[i] for i in range(10)], trials)
    assert {t.state for t in table} == set(TrialState)
    for name in COLUMNS:
        column = table.column(name)
        if name.endswith("_at") or name == "lease_deadline":
            expected = [_epoch(t, name) for t in trials]
            assert [c is None for c in column] == [e is None for e in expected], name
            assert all(c is None or c == pytest.approx(e, abs=1e-5)
                       for c, e in zip(column, expected, strict=True)), name  # fmt: skip
        else:
            expected = [getattr(t, name) for t in trials]
            assert repr(column) == repr(expected), name  # repr: NaN equals NaN
    assert table.column("state")[3] is TrialState.COMPLETED
    assert table.column("failure_kind")[6] is FailureKind.CRASHED
    with pytest.raises(KeyError):
        table.column("value_special")


def test_from_a_number_on_and_joined_back(store: Store) -> None:
    study = _study_in_every_state(store)
    whole = store.get_trial_table(study)
    whole.column("params")  # decoded columns travel through slices and joins
    tail = store.get_trial_table(study, min_number=7)
    assert _same(list(tail), store.get_trials(study, min_number=7))
    assert [t.number for t in tail] == [7, 8, 9]
    joined = whole.numbered_below(7).concat(tail)
    assert _same(list(joined), list(whole))
    assert joined.column("params") == whole.column("params")
    assert repr(joined.column("value")) == repr(whole.column("value"))
    assert _same(list(whole[2:4]), list(whole)[2:4]) and whole[2:4].column("number") == [2, 3]
    assert len(store.get_trial_table(study, min_number=10)) == 0


def test_a_table_is_a_snapshot(store: Store) -> None:
    study = _study_in_every_state(store)
    table = store.get_trial_table(study)
    store.finish_trial(study, 8, TrialState.COMPLETED, value=1.0)
    store.add_trial(study, {"x": 4})
    assert len(table) == 10 and table[8].state is TrialState.RUNNING
    assert table.column("state")[8] is TrialState.RUNNING
    empty = store.get_trial_table(store.create_study("empty", {}).id)
    assert len(empty) == 0 and empty.column("params") == [] and list(empty) == []


def test_a_document_is_never_split_across_rows() -> None:
    def table(*params: str) -> TrialTable:
        return TrialTable([(p,) for p in params], ("params",), lambda row: None)  # type: ignore[arg-type,return-value]

    assert table('{"x": 1}', "[1, 2]", "NaN").column("params")[1:] == [
        [1, 2],
        pytest.approx(math.nan, nan_ok=True),
    ]
    with pytest.raises(json.JSONDecodeError):
        table('{"x": 1}', "1, 2").column("params")  # one cell holding two values: refused
