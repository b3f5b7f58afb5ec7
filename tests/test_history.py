"""TrialHistory: what a process knows of a study's trials, refreshed by reading only what may
have changed (the per-ask cost stays flat as the study grows)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import pytest

from tunewise.history import TrialHistory
from tunewise.store import Store, open_store
from tunewise.trial import Trial, TrialState


class Spy:
    """A store that records each get_trials/get_trial call and the trials it returned."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.calls: list[tuple[Any, int, int]] = []  # (states, min_number, trials returned)

    def get_trials(
        self, study_id: int, states: Iterable[TrialState] | None = None, *, min_number: int = 0
    ) -> list[Trial]:
        found = self.store.get_trials(study_id, states, min_number=min_number)
        wanted = None if states is None else tuple(states)
        self.calls.append((wanted, min_number, len(found)))
        return found

    def get_trial(self, study_id: int, number: int) -> Trial:
        self.calls.append(("one", number, 1))
        return self.store.get_trial(study_id, number)

    def read(self) -> int:
        """Trials returned since the last call."""
        total = sum(c[2] for c in self.calls)
        self.calls.clear()
        return total


@pytest.fixture
def store() -> Iterator[Store]:
    opened = open_store(None)
    yield opened
    opened.close()


def _add(store: Store, study_id: int) -> Trial:
    return store.add_trial(study_id, {"x": 0.5}, owner="me", lease_seconds=3600)


def _finish(store: Store, study_id: int, number: int) -> Trial:
    return store.finish_trial(
        study_id, number, TrialState.COMPLETED, value=float(number), owner="me"
    )


def test_a_refresh_reads_only_new_and_unfinished_trials(store: Store) -> None:
    sid = store.create_study("s", {}).id
    for n in range(50):
        _add(store, sid)
        _finish(store, sid, n)
    spy = Spy(store)
    history = TrialHistory(spy, sid)  # type: ignore[arg-type]
    assert len(history.refresh()) == 50 and spy.read() == 50
    assert history.refresh() and spy.read() == 0  # nothing new: nothing decoded
    _add(store, sid)
    history.refresh()
    assert spy.read() == 1
    assert [t.number for t in history.pending] == [50]
    _finish(store, sid, 50)
    history.refresh()
    assert spy.read() == 1  # the one that was unfinished
    assert [t.number for t in history.finished] == list(range(51)) and not history.pending


def test_an_old_unfinished_trial_does_not_make_refreshes_reread_the_study(store: Store) -> None:
    sid = store.create_study("s", {}).id
    _add(store, sid)  # runs for hours
    for n in range(1, 401):
        _add(store, sid)
        _finish(store, sid, n)
    spy = Spy(store)
    history = TrialHistory(spy, sid)  # type: ignore[arg-type]
    history.refresh()
    assert spy.read() == 401
    _add(store, sid)
    history.refresh()
    # The running trial 0 and the new one (read by state and by number), not the 400 between.
    assert spy.read() <= 3
    _finish(store, sid, 0)
    trials = history.refresh()
    assert spy.read() <= 3  # trial 0, read once more by number, and the unfinished 401
    assert trials[0].state == TrialState.COMPLETED
    assert [t.number for t in history.finished] == list(range(401))
    assert [t.number for t in history.pending] == [401]


def test_finished_trials_stay_in_number_order_whatever_order_they_end_in(store: Store) -> None:
    sid = store.create_study("s", {}).id
    history = TrialHistory(store, sid)
    history.refresh()
    added = [_add(store, sid) for _ in range(6)]
    for trial in added:
        history.update(trial)
    for number in (4, 1, 5, 0, 3, 2):
        history.update(_finish(store, sid, number))
        numbers = [t.number for t in history.finished]
        assert numbers == sorted(numbers)
    assert [t.number for t in history.finished] == list(range(6)) and not history.pending
    assert len(history) == 6


def test_a_number_seen_before_a_lower_one_is_read_later(store: Store) -> None:
    sid = store.create_study("s", {}).id
    history = TrialHistory(store, sid)
    history.refresh()
    first, second = _add(store, sid), _add(store, sid)
    _finish(store, sid, 0)
    history.update(second)  # as if trial 0's creator had committed after trial 1's
    trials = history.refresh()
    assert first.number in trials and trials[0].state == TrialState.COMPLETED
    assert [t.number for t in history.finished] == [0]
