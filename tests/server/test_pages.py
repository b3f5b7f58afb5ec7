"""The dashboard's pages: rendered on the server, escaped, with a strict content policy."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from tests.server.conftest import client_for
from tests.server.helpers import spec_dict
from tunewise.spec import StudySpec
from tunewise.store import open_store
from tunewise.trial import FailureKind, TrialState

EVIL = '<img src=x onerror="alert(1)">'


def test_the_three_pages(client: TestClient) -> None:
    studies = client.get("/")
    assert studies.status_code == 200 and 'href="/studies/demo"' in studies.text
    assert "script-src 'self'" in studies.headers["content-security-policy"]
    assert studies.headers["x-frame-options"] == "DENY"
    study = client.get("/studies/demo")
    assert 'id="trial-count">42<' in study.text
    for kind in ("history", "importance", "parallel", "slice", "curves"):
        assert f'id="fig-{kind}"' in study.text
    assert study.text.count('href="/studies/demo/trials/') >= 40
    trial = client.get("/studies/demo/trials/8")
    assert "ValueError: boom" in trial.text and "Traceback: boom" not in trial.text
    assert "trial 8" in trial.text  # the tail of stdout.log
    assert client.get("/studies/demo/trials/0").text.count("stderr.log") >= 1
    assert client.get("/studies/nope").status_code == 404
    assert client.get("/studies/demo/trials/999").status_code == 404


def test_static_files_come_from_the_package(client: TestClient) -> None:
    plotly = client.get("/static/plotly.min.js")
    assert plotly.status_code == 200 and b"plotly.js v" in plotly.content[:200]
    assert client.get("/static/dashboard.js").headers["content-type"].startswith("text/javascript")
    assert client.get("/static/../app.py").status_code == 404
    assert client.get("/static/app.py").status_code == 404


def test_what_a_study_stores_is_escaped(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'xss.db'}"
    data = spec_dict("xss", tmp_path / "runs")
    data["space"]["act"]["values"] = ["relu", EVIL]
    store = open_store(url)
    record = store.create_study("xss", StudySpec.from_dict(data).to_dict())
    trial = store.add_trial(record.id, {"lr": 0.01, "layers": 2, "act": EVIL}, owner="t",
                            lease_seconds=60)  # fmt: skip
    store.finish_trial(record.id, trial.number, TrialState.FAILED,
                       failure_kind=FailureKind.USER_ERROR, error=f"</pre>{EVIL}")  # fmt: skip
    store.close()
    with client_for(url) as client:
        for path in ("/studies/xss", "/studies/xss/trials/0"):
            page = client.get(path).text
            assert EVIL not in page and "&lt;img src=x" in page, path
        report = client.get("/api/studies/xss/trials/0").json()
        assert report["params"]["act"] == EVIL  # JSON carries it as data, for textContent
