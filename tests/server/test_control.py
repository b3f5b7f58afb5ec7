"""Stop and resume over HTTP: off by default; with --allow-control, state changes only."""

from __future__ import annotations

from pathlib import Path

import pytest

import tunewise as tw
from tests.server.conftest import client_for
from tests.server.helpers import make_study
from tunewise.store import open_store


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
