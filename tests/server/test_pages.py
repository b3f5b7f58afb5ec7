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


def test_pages_answer_html_404_pages_and_the_api_json(client: TestClient) -> None:
    """Issue 20 §4: an unknown study, trial or page is an HTML page; under /api, JSON."""
    for path in ("/studies/nope", "/studies/demo/trials/999", "/no/such/page",
                 "/studies/demo/trials/-1", "/studies/demo/trials/abc", "/studies/bad%20name!",
                 "/static/nothing.js"):  # fmt: skip
        page = client.get(path)
        assert page.status_code == 404, path
        assert page.headers["content-type"].startswith("text/html"), path
        assert "<h1>Not found</h1>" in page.text and 'href="/"' in page.text, path
        assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "no study named &#39;nope&#39;" in client.get("/studies/nope").text
    assert "has no trial 999" in client.get("/studies/demo/trials/999").text
    for path in ("/api/studies/nope", "/api/studies/demo/trials/999", "/api/nothing",
                 "/api/studies/nope/trials", "/api/studies/nope/best"):  # fmt: skip
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"] == "application/json", path
        assert "detail" in response.json()
    assert client.post("/").status_code == 405 and "<h1>" in client.post("/").text


def test_unknown_study_trials_is_404_not_a_sort_error(client: TestClient) -> None:
    """Issue 21 #12: it answered 422 "cannot sort by 'number'"."""
    response = client.get("/api/studies/nope/trials")
    assert response.status_code == 404
    assert response.json() == {"detail": "no study named 'nope'"}
    bad_sort = client.get("/api/studies/demo/trials", params={"sort": "nothing"})
    assert bad_sort.status_code == 422 and "cannot sort by 'nothing'" in bad_sort.text


def test_a_stopped_trial_says_why_it_stopped(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'stop.db'}"
    store = open_store(url)
    record = store.create_study("s", StudySpec.from_dict(spec_dict("s", tmp_path)).to_dict())
    params = {"lr": 0.01, "layers": 2, "act": "relu"}
    for state, error in ((TrialState.STOPPED, "median rule: worse than the median at step 3"),
                         (TrialState.FAILED, "ValueError: boom")):  # fmt: skip
        trial = store.add_trial(record.id, params, owner="t", lease_seconds=60)
        kind = FailureKind.USER_ERROR if state is TrialState.FAILED else None
        store.finish_trial(record.id, trial.number, state, value=1.0, failure_kind=kind,
                           error=error)  # fmt: skip
    store.close()
    with client_for(url) as client:
        stopped = client.get("/studies/s/trials/0").text
        assert "Why it stopped" in stopped and "Why it failed" not in stopped
        assert "median rule" in stopped
        failed = client.get("/studies/s/trials/1").text
        assert "Why it failed" in failed and "Why it stopped" not in failed
