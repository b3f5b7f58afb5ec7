"""An edit of the space that lands after a suggestion was made and before its trial is added
(issue 27 §1-2): the store refuses the trial (``SpaceEdited``), it is suggested again in the
new space, and every trial replays under the version it records. Without the check the trial
was stored under the new version with params from the old space, and replay reported it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import tunewise as tw
from tunewise.errors import SpaceEdited
from tunewise.store import open_store
from tunewise.store.sql import SQLStore

pytestmark = pytest.mark.timeout(120)
OBJECTIVE = tw.Objective("loss", "minimize")


def _edit_before_adding(monkeypatch: pytest.MonkeyPatch, url: str, at: int) -> list[int]:
    """Make ``SQLStore.add_trial`` store an edit (``x`` moved to [5, 6]) from another handle
    right before it adds trial ``at``: the window between a suggestion and its trial."""
    original = SQLStore.add_trial
    edits: list[int] = []

    def add_trial(self: SQLStore, study_id: int, params: Any, **kwargs: Any) -> Any:
        if kwargs.get("number") == at and not edits:
            edits.append(at)
            other = tw.load_study("s", storage=url)
            other.set_space({"x": tw.Float(5.0, 6.0)})
            other.close()
        return original(self, study_id, params, **kwargs)

    monkeypatch.setattr(SQLStore, "add_trial", add_trial)
    return edits


def _study(url: str) -> tw.Study:
    space = {"x": tw.Float(0.0, 1.0)}
    return tw.create_study(
        "s", objective=OBJECTIVE, space=space, storage=url, seed=3, strategy="random"
    )


def _check(url: str) -> None:
    study = tw.load_study("s", storage=url)
    for trial in study.trials:
        low = 5.0 if trial.space_version == 2 else 0.0
        assert low <= trial.params["x"] <= low + 1.0, (trial.number, trial.params)
    assert [t.space_version for t in study.trials][-1] == 2
    report = study.replay()
    assert report.ok, report.to_dict()
    study.close()


def test_ask_suggests_again_when_the_space_is_edited_before_its_trial_is_added(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 't.db'}"
    study = _study(url)
    for _ in range(2):
        asked = study.ask()
        study.tell(asked, asked.params["x"])
    edits = _edit_before_adding(monkeypatch, url, at=2)
    asked = study.ask()
    assert edits == [2]
    assert asked.space_version == 2 and 5.0 <= asked.params["x"] <= 6.0
    study.tell(asked, asked.params["x"])
    study.close()
    _check(url)


def _train(params: dict[str, Any]) -> float:
    return float(params["x"])


def test_a_running_study_suggests_again_when_the_space_is_edited_before_adding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 't.db'}"
    study = _study(url)
    edits = _edit_before_adding(monkeypatch, url, at=3)
    study.optimize(_train, n_trials=6)
    assert edits == [3]
    study.close()
    _check(url)


def test_the_store_refuses_a_trial_suggested_in_an_earlier_version(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 't.db'}")
    try:
        study_id = store.create_study("s", {"v": 1}).id
        assert store.add_trial(study_id, {"x": 1}, space_version=1).space_version == 1
        store.add_space_version(study_id, {"v": 2}, {})
        with pytest.raises(SpaceEdited, match="version 2, not 1"):
            store.add_trial(study_id, {"x": 2}, space_version=1, number=1)
        assert len(store.get_trials(study_id)) == 1  # nothing added, the number still free
        assert store.add_trial(study_id, {"x": 2}, space_version=2, number=1).number == 1
    finally:
        store.close()
