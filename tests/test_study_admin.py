"""``tw.delete_study`` and ``tw.copy_study`` (SQLite file <-> PostgreSQL, and within a store)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import tunewise as tw
from tunewise.trial import FailureKind, StudyState

MIN = tw.Objective("loss", "minimize")
SPACE = {"x": tw.Float(0.0, 1.0)}


def _filled(url: str, name: str = "src") -> None:
    """A study with completed, failed and added trials, reports, attempts and user attrs."""
    study = tw.create_study(name, objective=MIN, space=SPACE, storage=url, seed=3,
                            retries={"max_attempts": 2, "on": ["user_error"]})  # fmt: skip
    study.set_user_attr("team", "vision")

    def train(params: dict[str, Any], trial: Any) -> float:
        trial.report(params["x"] * 2, 1)
        if params["x"] > 0.5:
            raise ValueError("too big")
        return params["x"]

    study.enqueue_trial({"x": 0.9})
    study.optimize(train, n_trials=3, progress=False)
    study.add_trial({"x": 0.25}, 0.25, user_attrs={"note": "from a paper"})
    study.close()


def _snapshot(url: str, name: str) -> dict[str, Any]:
    study = tw.load_study(name, storage=url)
    try:
        trials = study.trials
        return {
            "definition": study.spec.to_dict(),
            "state": (study.state, study.reason),
            "user_attrs": study.user_attrs,
            "trials": [
                (
                    t.number,
                    t.state,
                    repr(t.value),
                    t.params,
                    t.metrics,
                    t.failure_kind,
                    t.error,
                    t.attempt,
                    t.user_attrs,
                    t.started_at,
                    t.finished_at,
                )
                for t in trials
            ],
            "reports": {t.number: study.reports(t.number) for t in trials},
            "attempts": {
                t.number: [(a.attempt, a.failure_kind, a.error) for a in study.attempts(t.number)]
                for t in trials
            },
            "uuid": study.uuid,
        }
    finally:
        study.close()


def _copy_and_compare(source: str, target: str) -> None:
    _filled(source)
    tw.copy_study(from_study_name="src", from_storage=source, to_storage=target)
    original, copied = _snapshot(source, "src"), _snapshot(target, "src")
    assert copied.pop("uuid") != original.pop("uuid")
    assert copied == original
    assert original["attempts"][0] == [(1, FailureKind.USER_ERROR, original["attempts"][0][0][2])]
    with pytest.raises(tw.StudyExists):
        tw.copy_study(from_study_name="src", from_storage=source, to_storage=target)
    continued = tw.load_study("src", storage=target)  # the copy is a study of its own
    continued.optimize(lambda p: p["x"], n_trials=1, progress=False)
    assert len(continued.trials) == 5
    continued.close()
    assert len(_snapshot(source, "src")["trials"]) == 4


def test_copy_between_sqlite_files_is_exact(tmp_path: Path) -> None:
    _copy_and_compare(f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}")


def test_copy_sqlite_to_postgresql_and_back(tmp_path: Path, postgres_server: Any) -> None:
    pg = postgres_server.create_schema()
    try:
        _copy_and_compare(f"sqlite:///{tmp_path / 'a.db'}", pg)
        back = f"sqlite:///{tmp_path / 'back.db'}"
        tw.copy_study(from_study_name="src", from_storage=pg, to_storage=back,
                      to_study_name="returned")  # fmt: skip
        assert len(_snapshot(back, "returned")["trials"]) == 5
    finally:
        postgres_server.drop(pg)


def test_copy_within_one_store_under_another_name(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    _filled(url)
    tw.copy_study(from_study_name="src", from_storage=url, to_storage=url, to_study_name="dup")
    assert _snapshot(url, "dup")["trials"] == _snapshot(url, "src")["trials"]
    with pytest.raises(tw.StudyNotFound):
        tw.copy_study(from_study_name="nope", from_storage=url, to_storage=url)
    with pytest.raises(TypeError, match="^to_study_name must be a study name"):
        tw.copy_study(from_study_name="src", from_storage=url, to_storage=url, to_study_name="")


def test_delete_study(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    _filled(url)
    _filled(url, "kept")
    tw.delete_study("src", storage=url)
    with pytest.raises(tw.StudyNotFound):
        tw.load_study("src", storage=url)
    assert len(_snapshot(url, "kept")["trials"]) == 4
    with pytest.raises(tw.StudyNotFound):
        tw.delete_study("src", storage=url)
    again = tw.create_study("src", objective=MIN, space=SPACE, storage=url)  # the name is free
    assert again.trials == [] and again.state == StudyState.RUNNING
    assert again.user_attrs == {}
    again.close()
    with pytest.raises(TypeError, match="^study_name must be a study name"):
        tw.delete_study(None, storage=url)  # type: ignore[arg-type]


def test_delete_and_copy_never_create_the_store_they_read(tmp_path: Path) -> None:
    missing = tmp_path / "typo.db"
    with pytest.raises(tw.SpecError, match="there is no SQLite database at"):
        tw.delete_study("src", storage=f"sqlite:///{missing}")
    with pytest.raises(tw.SpecError, match="there is no SQLite database at"):
        tw.copy_study(
            from_study_name="src",
            from_storage=f"sqlite:///{missing}",
            to_storage=f"sqlite:///{tmp_path / 'b.db'}",
        )
    assert not missing.exists() and not (tmp_path / "b.db").exists()
    with pytest.raises(TypeError, match="^from_storage must be a database URL"):
        tw.copy_study(from_study_name="src", from_storage=None, to_storage="sqlite://")  # type: ignore[arg-type]
