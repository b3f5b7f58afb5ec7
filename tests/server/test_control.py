"""Stop and resume over HTTP: off by default; with --allow-control, state changes only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi import HTTPException

import tunewise as tw
from tests.server.conftest import client_for
from tests.server.helpers import make_study
from tunewise.errors import IllegalTransition
from tunewise.server.control import change_state
from tunewise.store import open_store
from tunewise.trial import StudyState


@pytest.fixture
def url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'ctl.db'}"
    make_study(url, tmp_path / "runs", n=3)
    return url


def state(url: str, name: str = "demo") -> str:
    store = open_store(url)
    try:
        return str(store.get_study(name).state)
    finally:
        store.close()


def test_off_by_default(url: str) -> None:
    with client_for(url) as client:
        response = client.post("/api/studies/demo/stop")
        assert response.status_code == 403 and "--allow-control" in response.json()["detail"]
    assert state(url) == "running"


def test_stop_and_resume_a_study_from_a_spec_file(url: str) -> None:
    with client_for(url, allow_control=True) as client:
        stopped = client.post("/api/studies/demo/stop", json={"note": "enough"})
        assert stopped.status_code == 200 and stopped.json()["state"] == "stopped"
        assert state(url) == "stopped"
        assert client.get("/api/studies/demo").json()["reason"] == (
            "stopped from the dashboard: enough"
        )
        assert client.post("/api/studies/demo/stop").status_code == 409
        assert client.post("/api/studies/demo/resume").json()["state"] == "running"
        assert state(url) == "running"
        assert client.post("/api/studies/nope/stop").status_code == 404


def test_a_python_defined_study_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'py.db'}"
    study = tw.create_study(
        "py", objective=tw.Objective("loss", "minimize"), space={"x": tw.Float(0, 1)},
        storage=url,
    )  # fmt: skip
    study.close()
    with client_for(url, allow_control=True) as client:
        response = client.post("/api/studies/py/stop")
        assert response.status_code == 409 and "spec file" in response.json()["detail"]
    assert state(url, "py") == "running"


def test_the_body_takes_a_note_and_nothing_else(url: str) -> None:
    with client_for(url, allow_control=True) as client:
        for body in ({"command": ["rm", "-rf", "/"]}, {"note": "x", "argv": "sh"},
                     {"note": "a\nb"}, {"note": "x" * 201}, ["stop"]):  # fmt: skip
            assert client.post("/api/studies/demo/stop", json=body).status_code == 422, body
    assert state(url) == "running"


def test_a_stop_is_one_conditional_write(url: str) -> None:
    """A stop read 'running' and wrote 'stopped' in two transactions: a study that completed
    in between was turned into a stopped one. Now the write itself checks the state."""
    store = open_store(url)
    try:
        stale = store.get_study("demo")  # read while it runs
        store.set_study_state(stale.id, StudyState.COMPLETED, "max_trials reached")

        class StaleRead:
            """The store, but its first read of the study is the one from before."""

            def __init__(self) -> None:
                self.reads = 0

            def __getattr__(self, name: str) -> Any:
                return getattr(store, name)

            def get_study(self, name: str) -> Any:
                self.reads += 1
                return stale if self.reads == 1 else store.get_study(name)

        with pytest.raises(HTTPException) as refused:
            change_state(StaleRead(), "demo", "stop", None)  # type: ignore[arg-type]
        assert refused.value.status_code == 409 and "completed" in str(refused.value.detail)
        assert store.get_study("demo").state == StudyState.COMPLETED
        assert store.get_study("demo").reason == "max_trials reached"
    finally:
        store.close()


def test_the_stop_is_stored_before_the_answer_and_says_so(url: str) -> None:
    with client_for(url, allow_control=True) as client:
        answer = client.post("/api/studies/demo/stop").json()
        assert state(url) == "stopped"  # read by another connection as soon as it answered
        assert answer["stored"] is True and "starts no new trial" in answer["message"]
        store = open_store(url)
        try:
            with pytest.raises(IllegalTransition):
                store.set_study_state(store.get_study("demo").id, StudyState.STOPPED,
                                      only_from=[StudyState.RUNNING])  # fmt: skip
        finally:
            store.close()
