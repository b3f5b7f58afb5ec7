"""The store contract's space versions and suggestion records (:mod:`tunewise.store.base`,
migration 0006), on every backend (``conftest.py``)."""

from __future__ import annotations

import pytest

from tunewise.errors import StoreError
from tunewise.store import Store, open_store
from tunewise.trial import TrialState


def test_a_study_never_edited_has_its_definition_as_version_1(store: Store) -> None:
    study = store.create_study("s", {"space": {"x": {"type": "float"}}})
    (only,) = store.get_space_versions(study.id)
    assert (only.version, only.definition, only.note) == (1, study.definition, {})
    assert store.add_trial(study.id, {"x": 1}).space_version == 1
    with pytest.raises(StoreError, match="no study"):
        store.get_space_versions(study.id + 100)


def test_an_edit_keeps_every_version_and_trials_record_theirs(store: Store) -> None:
    first = {"space": {"x": {"type": "float", "low": 0, "high": 1}}}
    study = store.create_study("s", first)
    store.add_trial(study.id, {"x": 0.5})
    second = {"space": {"x": {"type": "float", "low": 0, "high": 2}}}
    made = store.add_space_version(study.id, second, {"reason": "widen x"})
    assert (made.version, made.definition, made.note) == (2, second, {"reason": "widen x"})
    assert store.get_study("s").definition == second  # the current definition
    added = store.add_trial(study.id, {"x": 1.5})
    recorded = store.record_trial(study.id, {"x": 1.9}, TrialState.COMPLETED, value=1.0)
    assert [added.space_version, recorded.space_version] == [2, 2]
    third = {"space": {}}
    assert store.add_space_version(study.id, third, {}).version == 3
    versions = store.get_space_versions(study.id)
    assert [(v.version, v.definition) for v in versions] == [(1, first), (2, second), (3, third)]
    assert versions[0].created_at == study.created_at  # version 1 began with the study
    assert [t.space_version for t in store.get_trials(study.id)] == [1, 2, 2]
    assert store.get_trial_table(study.id).column("space_version") == [1, 2, 2]
    with pytest.raises(StoreError, match="no study"):
        store.add_space_version(study.id + 100, third, {})
    with pytest.raises(StoreError, match="note"):
        store.add_space_version(study.id, third, {"bad": object()})
    assert len(store.get_space_versions(study.id)) == 3  # the refused edit wrote nothing


def test_a_trial_keeps_its_suggestion_record(store: Store) -> None:
    study_id = store.create_study("s", {}).id
    record = {"strategy": "random", "seed": 3, "finished": [[0, 4]], "pending": [5]}
    trial = store.add_trial(study_id, {"x": 1}, suggestion=record)
    plain = store.add_trial(study_id, {"x": 2})
    assert (trial.suggestion, plain.suggestion) == (record, None)
    assert store.get_trial(study_id, 0).suggestion == record
    assert store.get_trial_table(study_id).column("suggestion") == [record, None]
    with pytest.raises(StoreError, match="suggestion"):
        store.add_trial(study_id, {"x": 3}, suggestion={"bad": object()})


def test_a_copy_keeps_the_versions_and_a_delete_removes_them(store: Store, tmp_path) -> None:
    study = store.create_study("s", {"v": 1})
    store.add_space_version(study.id, {"v": 2}, {"why": "edit"})
    store.add_trial(study.id, {"x": 1}, suggestion={"n": 1})
    other = open_store(f"sqlite:///{tmp_path / 'other.db'}")
    try:
        copy = other.import_study(store.export_study("s"), "s")
        assert [v.definition for v in other.get_space_versions(copy.id)] == [{"v": 1}, {"v": 2}]
        assert other.get_trial(copy.id, 0).suggestion == {"n": 1}
        assert other.get_trial(copy.id, 0).space_version == 2
    finally:
        other.close()
    store.delete_study(study.id)
    again = store.create_study("s", {"v": 9})
    assert [v.version for v in store.get_space_versions(again.id)] == [1]
