"""``set_study_state(only_from=...)``: one conditional write, on every backend, so a stop from
the dashboard never overwrites a study that ended meanwhile (issue 20 §5 / 21 #13)."""

from __future__ import annotations

import pytest

from tunewise.errors import IllegalTransition, StoreError
from tunewise.store import Store
from tunewise.trial import StudyState


def test_the_write_happens_only_from_the_given_states(store: Store) -> None:
    sid = store.create_study("s", {"space": {"x": [1, 2]}}).id
    store.set_study_state(sid, StudyState.STOPPED, "asked", only_from=[StudyState.RUNNING])
    record = store.get_study("s")
    assert record.state == StudyState.STOPPED and record.reason == "asked"
    with pytest.raises(IllegalTransition, match="stopped"):
        store.set_study_state(sid, StudyState.STOPPED, "again", only_from=[StudyState.RUNNING])
    assert store.get_study("s").reason == "asked"  # nothing written
    store.set_study_state(sid, StudyState.COMPLETED, "done")  # unconditional, as before
    with pytest.raises(IllegalTransition, match="completed"):
        store.set_study_state(sid, StudyState.STOPPED, only_from=[StudyState.RUNNING])
    assert store.get_study("s").state == StudyState.COMPLETED
    with pytest.raises(StoreError):
        store.set_study_state(sid + 1000, StudyState.STOPPED, only_from=[StudyState.RUNNING])
