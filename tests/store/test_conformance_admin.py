"""The store contract's study identity, user attributes, recorded trials, deletion and copy
(:mod:`tunewise.store.base`), on every backend (``conftest.py``)."""

from __future__ import annotations

import math

import pytest

from tunewise.errors import IllegalTransition, StoreError, StudyExists, StudyNotFound
from tunewise.store import Store, open_store
from tunewise.trial import FailureKind, StudyState, TrialState


def test_each_study_has_its_own_uuid(store: Store) -> None:
    first = store.create_study("a", {})
    second = store.create_study("b", {})
    assert len(first.uuid) == 32 and int(first.uuid, 16) >= 0
    assert first.uuid != second.uuid
    assert store.get_study("a").uuid == first.uuid
    store.delete_study(first.id)
    assert store.create_study("a", {}).uuid != first.uuid  # the name reused: another study


def test_study_user_attrs(store: Store) -> None:
    study = store.create_study("s", {})
    assert study.user_attrs == {}
    store.set_study_user_attr(study.id, "owner", "ana")
    store.set_study_user_attr(study.id, "tags", [1, 2.5, None, {"k": "v"}])
    store.set_study_user_attr(study.id, "owner", "bo")
    assert store.get_study("s").user_attrs == {"owner": "bo", "tags": [1, 2.5, None, {"k": "v"}]}
    with pytest.raises(StoreError, match="user attribute 'bad'"):
        store.set_study_user_attr(study.id, "bad", object())
    assert "bad" not in store.get_study("s").user_attrs
    with pytest.raises(StoreError):
        store.set_study_user_attr(study.id + 100, "k", 1)


def test_trial_user_attrs_in_any_state(store: Store) -> None:
    study_id = store.create_study("s", {}).id
    queued = store.add_trial(study_id, {"x": 1}, user_attrs={"source": "enqueued"})
    assert queued.user_attrs == {"source": "enqueued"}
    store.claim_trial(study_id, "me", 60)
    store.set_trial_user_attr(study_id, 0, "gpu", 3)
    store.finish_trial(study_id, 0, TrialState.COMPLETED, value=1.0)
    store.set_trial_user_attr(study_id, 0, "note", "checked")  # annotations, even when finished
    trial = store.get_trial(study_id, 0)
    assert trial.user_attrs == {"source": "enqueued", "gpu": 3, "note": "checked"}
    assert store.get_trial_table(study_id).column("user_attrs") == [trial.user_attrs]
    with pytest.raises(StoreError, match="user attribute 'bad'"):
        store.set_trial_user_attr(study_id, 0, "bad", {1, 2})
    with pytest.raises(StoreError, match="no trial 5"):
        store.set_trial_user_attr(study_id, 5, "k", 1)


def test_record_trial_adds_a_finished_trial(store: Store) -> None:
    study_id = store.create_study("s", {}).id
    store.add_trial(study_id, {"x": 0})
    done = store.record_trial(
        study_id, {"x": 1}, TrialState.COMPLETED, value=math.inf, metrics={"acc": 0.5},
        user_attrs={"from": "notebook"},
    )  # fmt: skip
    assert done.number == 1 and done.state is TrialState.COMPLETED and done.value == math.inf
    assert done.metrics == {"acc": 0.5} and done.user_attrs == {"from": "notebook"}
    assert done.started_at is not None and done.finished_at is not None
    failed = store.record_trial(
        study_id, {"x": 2}, TrialState.FAILED, failure_kind=FailureKind.USER_ERROR, error="oom"
    )
    assert (failed.number, failed.failure_kind, failed.error) == (2, FailureKind.USER_ERROR, "oom")
    assert store.get_trial(study_id, 2) == failed
    with pytest.raises(IllegalTransition):
        store.record_trial(study_id, {"x": 3}, TrialState.RUNNING)
    with pytest.raises(StoreError, match="failure_kind"):
        store.record_trial(study_id, {"x": 3}, TrialState.FAILED)
    with pytest.raises(StoreError):
        store.record_trial(study_id + 100, {"x": 3}, TrialState.COMPLETED, value=1.0)
    assert store.add_trial(study_id, {"x": 4}).number == 3  # numbers stay contiguous


def _filled(store: Store, name: str = "src") -> int:
    """A study with a completed trial (2 reports), a retried trial, a failed one, attrs."""
    study_id = store.create_study(name, {"space": {"x": [1, 2]}}).id
    store.set_study_user_attr(study_id, "team", "vision")
    store.add_trial(study_id, {"x": 1}, user_attrs={"a": 1})
    store.claim_trial(study_id, "me", 60)
    store.add_report(study_id, 0, 1, {"acc": 0.1})
    store.add_report(study_id, 0, 2, {"acc": math.nan})
    store.finish_trial(study_id, 0, TrialState.COMPLETED, value=math.nan, metrics={"acc": 0.2})
    store.add_trial(study_id, {"x": 2})
    store.claim_trial(study_id, "me", 60)
    store.add_report(study_id, 1, 1, {"acc": 0.3})
    store.requeue_trial(study_id, 1, failure_kind=FailureKind.LOST, error="gone")
    store.claim_trial(study_id, "me", 60)
    store.add_report(study_id, 1, 1, {"acc": 0.4})
    store.finish_trial(study_id, 1, TrialState.STOPPED, value=0.4)
    store.record_trial(study_id, {"x": 1}, TrialState.FAILED, failure_kind=FailureKind.CRASHED)
    store.set_study_state(study_id, StudyState.COMPLETED, "done", {"criterion": "max_trials"})
    return study_id


def test_export_and_import_copy_a_study_exactly(store: Store) -> None:
    source_id = _filled(store)
    rows = store.export_study("src")
    target = open_store(None)
    try:
        copied = target.import_study(rows, "dst")
        source = store.get_study("src")
        assert copied.name == "dst" and copied.uuid != source.uuid
        assert (copied.definition, copied.state, copied.reason, copied.evidence) == (
            source.definition, source.state, source.reason, source.evidence,
        )  # fmt: skip
        assert copied.user_attrs == {"team": "vision"} and copied.created_at == source.created_at
        strip = lambda t: {**t.__dict__, "study_id": 0, "value": repr(t.value)}  # noqa: E731
        theirs = [strip(t) for t in target.get_trials(copied.id)]
        assert theirs == [strip(t) for t in store.get_trials(source_id)]
        assert math.isnan(target.get_trial(copied.id, 0).value or 0.0)
        for number in (0, 1):
            assert target.get_reports(copied.id, number) == store.get_reports(source_id, number)
            assert [a.error for a in target.get_attempts(copied.id, number)] == [
                a.error for a in store.get_attempts(source_id, number)
            ]
        assert target.get_attempts(copied.id, 1)[0].failure_kind is FailureKind.LOST
        assert target.add_trial(copied.id, {"x": 2}).number == 3  # the counter came along
        with pytest.raises(StudyExists):
            target.import_study(rows, "dst")
    finally:
        target.close()


def test_import_into_the_same_store_under_another_name(store: Store) -> None:
    _filled(store)
    copied = store.import_study(store.export_study("src"), "again")
    assert [t.number for t in store.get_trials(copied.id)] == [0, 1, 2]
    with pytest.raises(StudyExists):
        store.import_study(store.export_study("src"), "src")
    with pytest.raises(StudyNotFound):
        store.export_study("missing")


def test_delete_study_removes_everything_it_holds(store: Store) -> None:
    study_id = _filled(store)
    kept = _filled(store, "kept")
    store.delete_study(study_id)
    with pytest.raises(StudyNotFound):
        store.get_study("src")
    assert store.get_trials(study_id) == [] and store.get_study_reports(study_id) == {}
    assert store.get_attempts(study_id, 1) == []
    assert len(store.get_trials(kept)) == 3 and store.get_reports(kept, 0)
    with pytest.raises(StoreError):
        store.delete_study(study_id)
