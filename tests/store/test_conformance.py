"""The store contract (:mod:`tunewise.store.base`), checked on every backend.

Each test runs on SQLite in a file, SQLite in memory and PostgreSQL (``conftest.py``); the
multi-process tests skip in-memory SQLite, which only one process can see.
"""

from __future__ import annotations

import dataclasses
import math
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tunewise.errors import (
    IllegalTransition,
    LeaseLost,
    NumberTaken,
    SpecError,
    StoreError,
    StudyExists,
    StudyNotFound,
)
from tunewise.store import Store, _resolve_url, open_store
from tunewise.trial import TRANSITIONS, FailureKind, StudyState, Trial, TrialState

from .conftest import WORKERS, Processes

Q, R, C, S, F = (TrialState.QUEUED, TrialState.RUNNING, TrialState.COMPLETED,
                 TrialState.STOPPED, TrialState.FAILED)  # fmt: skip


def _new_study(store: Store, name: str = "s") -> int:
    return store.create_study(name, {"space": {"x": [1, 2]}}).id


def _trial_in(store: Store, study_id: int, state: TrialState) -> Trial:
    """A new trial brought to ``state`` by legal moves."""
    trial = store.add_trial(study_id, {"x": 1})
    if state is Q:
        return trial
    if state is F and trial.number % 2:  # both roads to FAILED
        return store.finish_trial(study_id, trial.number, F, failure_kind=FailureKind.CRASHED)
    claimed = store.claim_trial(study_id, "me", 60, number=trial.number)
    assert claimed is not None
    if state is R:
        return claimed
    kind = FailureKind.USER_ERROR if state is F else None
    return store.finish_trial(study_id, trial.number, state, value=1.0, failure_kind=kind)


# Studies -------------------------------------------------------------------------------
def test_create_get_and_list_studies(store: Store) -> None:
    first = store.create_study("first", {"objective": {"metric": "acc"}, "n": [1, 2.5]})
    second = store.create_study("second", {})
    assert first.name == "first" and first.state is StudyState.RUNNING
    assert first.definition == {"objective": {"metric": "acc"}, "n": [1, 2.5]}
    assert first.created_at is not None and first.created_at.tzinfo is not None
    assert first.finished_at is None and first.reason is None
    assert store.get_study("first") == first
    assert [s.name for s in store.list_studies()] == ["first", "second"]
    assert first.id != second.id


def test_existing_and_missing_studies(store: Store) -> None:
    original = store.create_study("taken", {"a": 1})
    with pytest.raises(StudyExists, match="taken"):
        store.create_study("taken", {"a": 2})
    assert store.get_study("taken") == original
    assert len(store.list_studies()) == 1
    with pytest.raises(StudyNotFound) as caught:
        store.get_study("nope")
    assert isinstance(caught.value, StoreError) and "nope" in str(caught.value)


def test_set_study_state_and_definition(store: Store) -> None:
    study_id = _new_study(store)
    store.set_study_state(study_id, StudyState.FAILED, reason="5 trials failed in a row")
    aborted = store.get_study("s")
    assert aborted.state is StudyState.FAILED and aborted.reason == "5 trials failed in a row"
    assert aborted.finished_at is not None
    store.set_study_state(study_id, StudyState.RUNNING)
    resumed = store.get_study("s")
    assert resumed.state is StudyState.RUNNING and resumed.reason is None
    assert resumed.finished_at is None and resumed.evidence is None
    evidence = {"criterion": "target", "best": 0.991, "target": 0.99, "trial": 7}
    store.set_study_state(study_id, StudyState.COMPLETED, "reached the target", evidence)
    assert store.get_study("s").evidence == evidence
    store.set_study_state(study_id, StudyState.RUNNING)
    store.update_study_definition(study_id, {"limits": {"trials": 50}})
    assert store.get_study("s").definition == {"limits": {"trials": 50}}
    with pytest.raises(StoreError):
        store.set_study_state(study_id + 100, StudyState.STOPPED)
    with pytest.raises(StoreError):
        store.update_study_definition(study_id + 100, {})


# Trials ------------------------------------------------------------------------------
def test_numbers_are_contiguous_per_study(store: Store) -> None:
    a, b = _new_study(store, "a"), _new_study(store, "b")
    numbers = [store.add_trial(study, {"i": i}).number for i in range(5) for study in (a, b)]
    assert numbers == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    assert [t.number for t in store.get_trials(a)] == [0, 1, 2, 3, 4]
    with pytest.raises(StoreError):
        store.add_trial(a + b + 100, {})
    with pytest.raises(StoreError):
        store.add_trial(a, {}, owner="me")  # an owner needs a lease length
    assert len(store.get_trials(a)) == 5  # nothing was added by the refused calls


def test_add_trial_with_an_expected_number(store: Store) -> None:
    study_id = _new_study(store)
    assert store.add_trial(study_id, {"x": 1}, number=0).number == 0
    leased = store.add_trial(study_id, {"x": 2}, owner="me", lease_seconds=60, number=1)
    assert (leased.number, leased.state, leased.lease_owner) == (1, R, "me")
    for taken in (0, 1, 3):  # behind the next number, or ahead of it
        with pytest.raises(NumberTaken):
            store.add_trial(study_id, {"x": 9}, number=taken)
    assert [t.params for t in store.get_trials(study_id)] == [{"x": 1}, {"x": 2}]
    assert store.add_trial(study_id, {"x": 3}, number=2).number == 2
    with pytest.raises(StoreError) as missing:
        store.add_trial(study_id + 100, {}, number=0)
    assert not isinstance(missing.value, NumberTaken)


def test_trial_fields(store: Store) -> None:
    study_id = _new_study(store)
    queued = store.add_trial(study_id, {"lr": 0.1, "layers": [1, 2], "opt": "adam"})
    assert queued.state is Q and queued.params == {"lr": 0.1, "layers": [1, 2], "opt": "adam"}
    assert queued.attempt == 1 and queued.metrics == {} and queued.value is None
    assert queued.started_at is None and queued.lease_owner is None and queued.last_step is None
    running = store.add_trial(study_id, {}, owner="w1", lease_seconds=30)
    assert running.state is R and running.lease_owner == "w1" and running.started_at is not None
    assert running.lease_deadline is not None and running.heartbeat_at is not None
    assert 29 < (running.lease_deadline - running.heartbeat_at).total_seconds() < 31
    done = store.finish_trial(study_id, 1, C, value=0.5, metrics={"acc": 0.5}, owner="w1")
    assert done.state is C and done.value == 0.5 and done.metrics == {"acc": 0.5}
    assert done.lease_owner is None and done.lease_deadline is None
    assert done.finished_at is not None and done.duration is not None and done.duration >= 0
    assert store.get_trial(study_id, 1) == done
    with pytest.raises(StoreError):
        store.get_trial(study_id, 99)


@pytest.mark.parametrize("target", [C, S, F])
def test_legal_transitions(store: Store, target: TrialState) -> None:
    study_id = _new_study(store)
    trial = _trial_in(store, study_id, target)
    assert trial.state is target and store.get_trial(study_id, trial.number).state is target
    if target is F:
        assert trial.failure_kind is not None


def test_queued_trial_can_fail_without_starting(store: Store) -> None:
    study_id = _new_study(store)
    store.add_trial(study_id, {})
    failed = store.finish_trial(
        study_id, 0, F, failure_kind=FailureKind.INFRASTRUCTURE, error="no GPU"
    )
    assert failed.state is F and failed.failure_kind is FailureKind.INFRASTRUCTURE
    assert failed.error == "no GPU" and failed.started_at is None


def test_every_illegal_transition_is_refused(store: Store) -> None:
    study_id = _new_study(store)
    illegal = [(a, b) for a in TrialState for b in TrialState if b not in TRANSITIONS[a]]
    assert len(illegal) == 19  # every pair but the 6 legal ones
    for source, target in illegal:
        trial = _trial_in(store, study_id, source)
        before = store.get_trial(study_id, trial.number)
        kind = FailureKind.USER_ERROR if target is F else None
        with pytest.raises(IllegalTransition):
            store.finish_trial(study_id, trial.number, target, value=2.0, failure_kind=kind)
        if target is R:
            assert store.claim_trial(study_id, "other", 60, number=trial.number) is None
        assert store.get_trial(study_id, trial.number) == before, (source, target)


def test_finished_trials_are_read_only(store: Store) -> None:
    study_id = _new_study(store)
    for state in (C, S, F):
        trial = _trial_in(store, study_id, state)
        before = store.get_trial(study_id, trial.number)
        with pytest.raises(IllegalTransition):
            store.add_report(study_id, trial.number, 1, {"acc": 1.0})
        with pytest.raises(LeaseLost):
            store.heartbeat(study_id, trial.number, "me", 60)
        with pytest.raises(LeaseLost):
            store.finish_trial(study_id, trial.number, C, value=3.0, owner="me")
        assert store.claim_trial(study_id, "me", 60, number=trial.number) is None
        assert store.get_trial(study_id, trial.number) == before
        assert store.get_reports(study_id, trial.number) == []


def test_failure_kind_is_required_for_failed_only(store: Store) -> None:
    study_id = _new_study(store)
    store.add_trial(study_id, {})
    with pytest.raises(StoreError):
        store.finish_trial(study_id, 0, F)
    with pytest.raises(StoreError):
        store.finish_trial(study_id, 0, C, value=1.0, failure_kind=FailureKind.CRASHED)
    assert store.get_trial(study_id, 0).state is Q


def test_get_trials_and_count_trials(store: Store) -> None:
    study_id = _new_study(store)
    assert store.count_trials(study_id) == dict.fromkeys(TrialState, 0)
    assert store.get_trials(study_id) == []
    for state in (Q, R, C, C, F, Q):
        _trial_in(store, study_id, state)
    counts = store.count_trials(study_id)
    assert counts == {Q: 2, R: 1, C: 2, S: 0, F: 1}
    assert list(counts) == list(TrialState)
    assert [t.number for t in store.get_trials(study_id, [Q, C])] == [0, 2, 3, 5]
    assert [t.number for t in store.get_trials(study_id, [])] == []
    assert [t.number for t in store.get_trials(study_id)] == list(range(6))


# Leases ------------------------------------------------------------------------------
def test_claim_order_and_exclusivity(store: Store) -> None:
    study_id = _new_study(store)
    assert store.claim_trial(study_id, "a", 60) is None
    for i in range(3):
        store.add_trial(study_id, {"i": i})
    second = store.claim_trial(study_id, "a", 60, number=1)
    assert second is not None and second.number == 1 and second.lease_owner == "a"
    assert store.claim_trial(study_id, "b", 60, number=1) is None
    first = store.claim_trial(study_id, "b", 60)
    assert first is not None and first.number == 0 and first.state is R
    third = store.claim_trial(study_id, "c", 60)
    assert third is not None and third.number == 2
    assert store.claim_trial(study_id, "d", 60) is None
    assert store.get_trial(study_id, 1).lease_owner == "a"


def test_heartbeat_and_lease_lost(store: Store) -> None:
    study_id = _new_study(store)
    store.add_trial(study_id, {})
    with pytest.raises(LeaseLost):
        store.heartbeat(study_id, 0, "a", 60)  # queued: nobody holds it
    claimed = store.claim_trial(study_id, "a", 5)
    assert claimed is not None and claimed.lease_deadline is not None
    store.heartbeat(study_id, 0, "a", 600)
    beaten = store.get_trial(study_id, 0)
    assert beaten.lease_deadline is not None and beaten.lease_deadline > claimed.lease_deadline
    with pytest.raises(LeaseLost, match="'a'"):
        store.heartbeat(study_id, 0, "b", 60)
    with pytest.raises(LeaseLost):
        store.finish_trial(study_id, 0, C, value=1.0, owner="b")
    assert store.get_trial(study_id, 0) == beaten
    with pytest.raises(StoreError) as missing:
        store.heartbeat(study_id, 7, "a", 60)
    assert not isinstance(missing.value, LeaseLost)
    assert store.finish_trial(study_id, 0, C, value=1.0, owner="a").state is C


def test_expire_leases(store: Store) -> None:
    study_id = _new_study(store)
    store.add_trial(study_id, {}, owner="dead-worker", lease_seconds=10)
    store.add_trial(study_id, {}, owner="live-worker", lease_seconds=1000)
    store.add_trial(study_id, {})  # queued trials have no lease
    assert store.expire_leases(study_id) == []
    later = datetime.now(UTC) + timedelta(seconds=100)
    expired = store.expire_leases(study_id, now=later)
    assert [t.number for t in expired] == [0]
    lost = expired[0]
    assert lost.state is F and lost.failure_kind is FailureKind.LOST
    assert lost.error is not None and "dead-worker" in lost.error and "expired" in lost.error
    assert lost.lease_owner is None and lost.finished_at is not None
    assert store.get_trial(study_id, 0) == lost
    assert store.get_trial(study_id, 1).state is R
    with pytest.raises(LeaseLost):  # the presumed-dead worker comes back too late
        store.finish_trial(study_id, 0, C, value=1.0, owner="dead-worker")
    assert store.expire_leases(study_id, now=later) == []
    naive_much_later = datetime.now(UTC).replace(tzinfo=None) + timedelta(seconds=5000)
    assert [t.number for t in store.expire_leases(study_id, now=naive_much_later)] == [1]


def test_expired_leases_are_requeued_while_attempts_remain(store: Store) -> None:
    study_id = _new_study(store)
    store.add_trial(study_id, {"x": 1}, owner="dead", lease_seconds=1000)
    store.add_report(study_id, 0, 1, {"acc": 0.5})
    store.add_trial(study_id, {"x": 2}, owner="alive", lease_seconds=1000)
    requeued = store.expire_leases(study_id, owners=["dead"], max_attempts=2)
    assert [(t.number, t.state, t.attempt) for t in requeued] == [(0, Q, 2)]
    assert requeued[0].params == {"x": 1} and requeued[0].lease_owner is None
    assert store.get_trial(study_id, 1).state is R
    [first] = store.get_attempts(study_id, 0)
    assert (first.attempt, first.failure_kind, first.owner) == (1, FailureKind.LOST, "dead")
    assert first.error is not None and "'dead'" in first.error
    assert store.get_reports(study_id, 0) == []  # the new attempt starts its own curve
    again = store.claim_trial(study_id, "w2", 60)
    assert again is not None and (again.number, again.attempt) == (0, 2)
    failed = store.expire_leases(study_id, owners=["w2"], max_attempts=2)
    assert [(t.number, t.state, t.failure_kind) for t in failed] == [(0, F, FailureKind.LOST)]
    assert [a.attempt for a in store.get_attempts(study_id, 0)] == [1]


def test_get_trials_from_a_number_on(store: Store) -> None:
    study_id = _new_study(store)
    for _ in range(5):
        store.add_trial(study_id, {})
    assert [t.number for t in store.get_trials(study_id, min_number=3)] == [3, 4]
    assert [t.number for t in store.get_trials(study_id, [Q], min_number=4)] == [4]
    assert store.get_trials(study_id, min_number=9) == []


def test_study_reports_hold_the_current_attempts(store: Store) -> None:
    study_id = _new_study(store)
    store.add_trial(study_id, {}, owner="a", lease_seconds=60)
    store.add_trial(study_id, {}, owner="a", lease_seconds=60)
    store.add_report(study_id, 0, 2, {"acc": 0.2})
    store.add_report(study_id, 0, 1, {"acc": 0.1})
    store.add_report(study_id, 1, 1, {"acc": 0.5})
    store.requeue_trial(study_id, 1, failure_kind=FailureKind.LOST)
    curves = store.get_study_reports(study_id)
    assert list(curves) == [0]
    assert [(r.step, r.values) for r in curves[0]] == [(1, {"acc": 0.1}), (2, {"acc": 0.2})]
    assert store.get_study_reports(_new_study(store, "other")) == {}


def test_requeue_trial_keeps_every_attempt(store: Store) -> None:
    study_id = _new_study(store)
    store.add_trial(study_id, {"x": 1}, owner="a", lease_seconds=60)
    with pytest.raises(LeaseLost):
        store.requeue_trial(study_id, 0, failure_kind=FailureKind.CRASHED, owner="b")
    queued = store.requeue_trial(
        study_id, 0, failure_kind=FailureKind.CRASHED, error="SIGSEGV", owner="a"
    )
    assert (queued.state, queued.attempt, queued.started_at) == (Q, 2, None)
    with pytest.raises(IllegalTransition):
        store.requeue_trial(study_id, 0, failure_kind=FailureKind.CRASHED)
    store.claim_trial(study_id, "a", 60)
    store.requeue_trial(study_id, 0, failure_kind=FailureKind.TIMEOUT, error="slow")
    store.claim_trial(study_id, "a", 60)
    store.finish_trial(study_id, 0, C, value=1.0, owner="a")
    attempts = store.get_attempts(study_id, 0)
    assert [(a.attempt, a.failure_kind, a.error) for a in attempts] == [
        (1, FailureKind.CRASHED, "SIGSEGV"),
        (2, FailureKind.TIMEOUT, "slow"),
    ]
    assert store.get_trial(study_id, 0).attempt == 3


# Reports and values ------------------------------------------------------------------
def test_reports(store: Store) -> None:
    study_id = _new_study(store)
    store.add_trial(study_id, {})
    with pytest.raises(IllegalTransition):
        store.add_report(study_id, 0, 1, {"acc": 0.1})  # not started
    store.claim_trial(study_id, "me", 60)
    store.add_report(study_id, 0, 3, {"acc": 0.3})
    store.add_report(study_id, 0, 1, {"acc": 0.1, "loss": 2.0})
    store.add_report(study_id, 0, 2, {"acc": 0.2})
    store.add_report(study_id, 0, 2, {"acc": 0.25})  # a metric given again replaces its value
    store.add_report(study_id, 0, 1, {"loss": 1.5, "lr": 0.01})  # ... and the others are kept
    reports = store.get_reports(study_id, 0)
    assert [(r.step, dict(r.values)) for r in reports] == [
        (1, {"acc": 0.1, "loss": 1.5, "lr": 0.01}),
        (2, {"acc": 0.25}),
        (3, {"acc": 0.3}),
    ]
    assert all(r.time is not None and r.time.tzinfo is not None for r in reports)
    assert store.get_trial(study_id, 0).last_step == 3
    with pytest.raises(StoreError):
        store.add_report(study_id, 9, 1, {"acc": 1.0})
    with pytest.raises(StoreError):
        store.get_reports(study_id, 9)


@pytest.mark.parametrize("special", [math.nan, math.inf, -math.inf, 0.0, -1.5e300, None])
def test_values_round_trip(store: Store, special: float | None) -> None:
    study_id = _new_study(store)
    store.add_trial(study_id, {"x": 1}, owner="me", lease_seconds=60)
    metrics = {"a": math.nan, "b": math.inf, "c": -math.inf, "d": 1.25}
    store.add_report(study_id, 0, 0, metrics)
    done = store.finish_trial(study_id, 0, S, value=special, metrics=metrics, owner="me")
    for trial in (done, store.get_trial(study_id, 0), store.get_trials(study_id)[0]):
        _same(trial.value, special)
        for name, value in metrics.items():
            _same(trial.metrics[name], value)
    for name, value in metrics.items():
        _same(store.get_reports(study_id, 0)[0].values[name], value)


def _same(got: float | None, expected: float | None) -> None:
    if expected is None or not math.isnan(expected):
        assert got == expected and type(got) is type(expected)
    else:
        assert got is not None and math.isnan(got)


def test_returned_records_are_immutable_snapshots(store: Store) -> None:
    params: dict[str, Any] = {"layers": [1, 2]}
    study = store.create_study("s", {"k": [1]})
    trial = store.add_trial(study.id, params)
    params["layers"].append(3)  # the caller's object is not the stored one
    with pytest.raises(dataclasses.FrozenInstanceError):
        trial.state = R  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        study.name = "t"  # type: ignore[misc]
    store.claim_trial(study.id, "me", 60)
    store.set_study_state(study.id, StudyState.STOPPED)
    assert trial.state is Q and study.state is StudyState.RUNNING
    fresh = store.get_trial(study.id, 0)
    fresh.params["layers"].append(4)  # changing a returned object changes nothing stored
    assert store.get_trial(study.id, 0).params == {"layers": [1, 2]}
    assert trial.params == {"layers": [1, 2]}


def test_closed_store_refuses_calls(store_url: str) -> None:
    opened = open_store(store_url)
    opened.close()
    with pytest.raises(StoreError, match="closed"):
        opened.list_studies()


# Several processes -------------------------------------------------------------------
TRIALS_EACH = 150


def _add_trials(url: str, study_id: int, count: int, barrier: Any) -> tuple[list[int], list[str]]:
    numbers: list[int] = []
    errors: list[str] = []
    try:
        store = open_store(url)
        barrier.wait(timeout=60)
        for i in range(count):
            try:
                numbers.append(store.add_trial(study_id, {"i": i}).number)
            except Exception as exc:  # counted, the test asserts there is none
                errors.append(repr(exc))
        store.close()
    except Exception as exc:
        errors.append(repr(exc))
    return numbers, errors


def _add_numbered(url: str, study_id: int, count: int, barrier: Any) -> tuple[list[int], list[str]]:
    """Add trials the way processes sharing a study do: each at the number this process
    believes is next, reading the study again when another process took it."""
    numbers: list[int] = []
    errors: list[str] = []
    try:
        store = open_store(url)
        barrier.wait(timeout=60)
        guess = 0
        while len(numbers) < count:
            try:
                numbers.append(store.add_trial(study_id, {"n": guess}, number=guess).number)
            except NumberTaken:
                guess = len(store.get_trials(study_id))
                continue
            except Exception as exc:  # counted, the test asserts there is none
                errors.append(repr(exc))
                break
            guess += 1
        store.close()
    except Exception as exc:
        errors.append(repr(exc))
    return numbers, errors


def _claim_all(url: str, study_id: int, owner: str, barrier: Any) -> tuple[list[int], list[str]]:
    claimed: list[int] = []
    errors: list[str] = []
    try:
        store = open_store(url)
        barrier.wait(timeout=60)
        while (trial := store.claim_trial(study_id, owner, 60)) is not None:
            claimed.append(trial.number)
            store.finish_trial(study_id, trial.number, C, value=len(claimed), owner=owner)
        store.close()
    except Exception as exc:
        errors.append(repr(exc))
    return claimed, errors


def test_concurrent_add_trial_from_processes(
    store: Store, store_url: str, backend: str, processes: Processes
) -> None:
    if backend == "sqlite-memory":
        pytest.skip("one process only")
    study_id = _new_study(store)
    outcomes = processes.run(_add_trials, [(store_url, study_id, TRIALS_EACH)] * WORKERS)
    numbers = [n for n, _ in outcomes]
    assert [e for _, errors in outcomes for e in errors] == []
    assert all(len(n) == TRIALS_EACH for n in numbers)
    assert all(n == sorted(n) for n in numbers)  # each process sees its numbers grow
    assert sorted(x for n in numbers for x in n) == list(range(WORKERS * TRIALS_EACH))
    stored = store.get_trials(study_id)
    assert [t.number for t in stored] == list(range(WORKERS * TRIALS_EACH))
    assert store.count_trials(study_id)[Q] == WORKERS * TRIALS_EACH


def test_concurrent_numbered_adds_from_processes(
    store: Store, store_url: str, backend: str, processes: Processes
) -> None:
    if backend == "sqlite-memory":
        pytest.skip("one process only")
    study_id = _new_study(store)
    outcomes = processes.run(_add_numbered, [(store_url, study_id, 50)] * WORKERS)
    assert [e for _, errors in outcomes for e in errors] == []
    stored = store.get_trials(study_id)
    assert [t.number for t in stored] == list(range(WORKERS * 50))
    # Each trial holds the number its adder expected: no add landed on another number.
    assert all(t.params == {"n": t.number} for t in stored)


def _count_in_turns(url: str, study_id: int, path: str, rounds: int, barrier: Any) -> list[str]:
    """Increment the number in file ``path`` ``rounds`` times, each under the study's
    suggestion lock (read, pause, write: without the lock, increments get lost)."""
    errors: list[str] = []
    try:
        store = open_store(url)
        barrier.wait(timeout=60)
        for _ in range(rounds):
            with store.suggestion_lock(study_id, timeout=60) as held:
                if not held:
                    errors.append("not acquired within 60 s")
                value = int(Path(path).read_text())
                time.sleep(0.001)
                Path(path).write_text(str(value + 1))
        store.close()
    except Exception as exc:
        errors.append(repr(exc))
    return errors


def test_suggestion_lock_takes_turns_across_processes(
    store: Store, store_url: str, backend: str, processes: Processes, tmp_path: Path
) -> None:
    if backend == "sqlite-memory":
        pytest.skip("one process only")
    study_id = _new_study(store)
    counter = tmp_path / "counter"
    counter.write_text("0")
    calls = [(store_url, study_id, str(counter), 25)] * WORKERS
    assert [e for errors in processes.run(_count_in_turns, calls) for e in errors] == []
    assert counter.read_text() == str(25 * WORKERS)


def test_suggestion_lock_times_out_and_is_per_study(store: Store, store_url: str) -> None:
    a, b = _new_study(store, "a"), _new_study(store, "b")
    with store.suggestion_lock(a, timeout=1) as held:
        assert held
        if store_url != "sqlite://":  # in memory: one process, nobody to take turns with
            other = open_store(store_url)
            try:
                started = time.monotonic()
                with other.suggestion_lock(a, timeout=0.2) as again:
                    assert not again
                assert time.monotonic() - started >= 0.2
                if store_url.startswith("postgresql"):  # a lock per study (SQLite: per file)
                    with other.suggestion_lock(b, timeout=0.2) as elsewhere:
                        assert elsewhere
            finally:
                other.close()
    with store.suggestion_lock(a, timeout=0.2) as after:
        assert after  # released by the block's end
        store.add_trial(a, {"x": 1}, number=0)  # the store is usable inside


def test_concurrent_claims_from_processes(
    store: Store, store_url: str, backend: str, processes: Processes
) -> None:
    if backend == "sqlite-memory":
        pytest.skip("one process only")
    study_id = _new_study(store)
    pool = 200
    for i in range(pool):
        store.add_trial(study_id, {"i": i})
    outcomes = processes.run(
        _claim_all, [(store_url, study_id, f"worker-{w}") for w in range(WORKERS)]
    )
    claims = [c for c, _ in outcomes]
    assert [e for _, errors in outcomes for e in errors] == []
    everything = [x for c in claims for x in c]
    assert sorted(everything) == list(range(pool))  # each trial claimed exactly once
    assert store.count_trials(study_id)[C] == pool


def test_a_forked_child_does_not_share_connections(store: Store, backend: str) -> None:
    if backend == "sqlite-memory":
        pytest.skip("one process only")
    study_id = _new_study(store)
    store.add_trial(study_id, {})  # the parent's pool now holds an open connection
    session = _server_session(store)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: must open connections of its own
        code = 1
        try:
            store.add_trial(study_id, {})
            os.write(write, str(_server_session(store)).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    child_session = os.read(read, 100).decode()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    if backend == "postgresql":
        assert child_session != str(session)
    store.add_trial(study_id, {})  # the parent's connection still works
    assert _server_session(store) == session
    assert [t.number for t in store.get_trials(study_id)] == [0, 1, 2]


def _server_session(store: Store) -> int | None:
    """PostgreSQL's id of the connection the store uses (None on SQLite)."""
    if store.dialect != "postgresql":  # type: ignore[attr-defined]
        return None
    query = "SELECT pg_backend_pid()"
    return int(store._run(lambda conn: conn.exec_driver_sql(query).scalar()))  # type: ignore[attr-defined]


# Opening -----------------------------------------------------------------------------
def test_storage_urls(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    for memory in (None, "sqlite://", "sqlite:///:memory:"):
        assert _resolve_url(memory) == "sqlite://"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    assert _resolve_url("sqlite:///runs/a.db") == f"sqlite:///{tmp_path}/runs/a.db"
    assert _resolve_url(f"sqlite:///{tmp_path}/b.db") == f"sqlite:///{tmp_path}/b.db"
    assert _resolve_url("postgres://u:p@h:5/d") == "postgresql+psycopg://u:p@h:5/d"
    assert _resolve_url("postgresql://h/d") == "postgresql+psycopg://h/d"


def test_bad_storage_urls(tmp_path: Any) -> None:
    with pytest.raises(SpecError, match=f"{tmp_path}/missing") as caught:
        open_store(f"sqlite:///{tmp_path}/missing/x.db")
    assert caught.value.field == "storage"
    with pytest.raises(SpecError, match=r"sqlite:///.*postgresql://") as caught:
        open_store("mysql://root:hunter2@db/x")
    assert "hunter2" not in str(caught.value)


def test_importing_the_store_package_does_not_import_sqlalchemy() -> None:
    code = "import sys, tunewise.store; assert 'sqlalchemy' not in sys.modules, 'eager import'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
