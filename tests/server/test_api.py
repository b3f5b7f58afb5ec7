"""The REST API over a study in every trial state."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from tests.server.conftest import client_for
from tests.server.helpers import make_study

API = "/api/studies/demo"


def test_studies_and_a_study(client: TestClient) -> None:
    studies = client.get("/api/studies").json()["studies"]
    assert [s["name"] for s in studies] == ["demo"]
    demo = studies[0]
    assert demo["counts"] == {
        "queued": 0, "running": 2, "completed": 31, "stopped": 5, "failed": 4,
    }  # fmt: skip
    assert demo["total"] == 42 and demo["strategy"] == "random" and demo["best"]["trial"] >= 0
    detail = client.get(API).json()
    assert detail["space"]["params"]["lr"]["scale"] == "log"
    assert detail["limits"]["max_trials"] == 100
    assert "trial" not in detail, "the trial's command and environment are not published"
    assert client.get("/api/studies/nope").status_code == 404


def test_trials_filter_sort_and_page(client: TestClient) -> None:
    page = client.get(f"{API}/trials", params={"limit": 10}).json()
    assert page["total"] == 42 and [t["trial"] for t in page["trials"]] == list(range(10))
    best = client.get(f"{API}/trials", params={"sort": "value", "limit": 1}).json()["trials"][0]
    assert best["trial"] == client.get(f"{API}/best").json()["trial"]
    failed = client.get(f"{API}/trials", params={"state": "failed"}).json()
    assert failed["total"] == 4 and {t["state"] for t in failed["trials"]} == {"failed"}
    both = client.get(f"{API}/trials", params=[("state", "failed"), ("state", "running")]).json()
    assert both["total"] == 6
    by_lr = client.get(f"{API}/trials", params={"sort": "param:lr", "order": "desc"}).json()
    lrs = [t["params"]["lr"] for t in by_lr["trials"]]
    assert lrs == sorted(lrs, reverse=True)
    window = client.get(f"{API}/trials", params={"min_value": 0.1, "max_value": 0.5}).json()
    assert all(0.1 <= t["value"] <= 0.5 for t in window["trials"])
    assert (
        client.get(f"{API}/trials", params={"offset": 40, "limit": 5}).json()["trials"][-1]["trial"]
        == 41
    )
    for bad in ({"sort": "param:nope"}, {"state": "lost"}, {"limit": 0}, {"order": "up"}):
        assert client.get(f"{API}/trials", params=bad).status_code == 422, bad


def test_a_trial_with_reports_logs_and_files(client: TestClient) -> None:
    trial = client.get(f"{API}/trials/3").json()
    assert trial["state"] == "stopped" and [r["step"] for r in trial["reports"]] == [0, 1, 2]
    assert trial["attempts"] == [] and {f["name"] for f in trial["files"]} == {
        "stdout.log", "stderr.log",
    }  # fmt: skip
    log = client.get(f"{API}/trials/3/logs/stdout").json()
    assert log["text"].startswith("trial 3\n") and not log["truncated"]
    assert client.get(f"{API}/trials/8/logs/stderr").json()["text"] == ""
    assert client.get(f"{API}/trials/3/files/stdout.log").json()["size"] == log["size"]
    assert client.get(f"{API}/trials/3/logs/other").status_code == 422
    assert client.get(f"{API}/trials/3/files/missing.txt").status_code == 404
    assert client.get(f"{API}/trials/999").status_code == 404
    assert client.get(f"{API}/trials/999/logs/stdout").status_code == 404


def test_importance_figures_and_sagemaker_views(client: TestClient) -> None:
    importance = client.get(f"{API}/importance").json()
    assert importance["method"] == "ped-anova" and next(iter(importance["importances"])) == "lr"
    for kind in ("history", "importance", "parallel", "slice", "curves"):
        figure = client.get(f"{API}/figures/{kind}").json()
        assert figure["data"], kind
    assert client.get(f"{API}/figures/pie").status_code == 422
    describe = client.get(f"{API}/sagemaker/describe").json()
    assert describe["TrainingJobStatusCounters"]["Completed"] == 31
    jobs = client.get(f"{API}/sagemaker/training-jobs", params={"MaxResults": 5}).json()
    assert len(jobs["TrainingJobSummaries"]) == 5 and jobs["NextToken"] == "5"
    more = client.get(f"{API}/sagemaker/training-jobs", params={"NextToken": "40"}).json()
    assert len(more["TrainingJobSummaries"]) == 2 and "NextToken" not in more
    assert client.get(f"{API}/sagemaker/training-jobs?NextToken=x").status_code == 422


def test_openapi_lists_every_api_route_and_no_docs_ui(client: TestClient) -> None:
    spec = client.get("/api/openapi.json").json()
    assert "/api/studies/{name}/trials" in spec["paths"]
    assert "/api/studies/{name}/sagemaker/describe" in spec["paths"]
    assert all(path.startswith("/api/") for path in spec["paths"])
    assert client.get("/docs").status_code == 404


def test_a_study_without_trials(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    make_study(url, tmp_path / "runs", n=0)
    with client_for(url) as empty:
        assert empty.get(f"{API}/best").status_code == 404
        assert empty.get(f"{API}/trials").json()["total"] == 0
        assert empty.get(f"{API}/importance").json()["importances"] == {}
        for kind in ("history", "parallel", "slice", "curves", "importance"):
            assert empty.get(f"{API}/figures/{kind}").status_code == 200
        assert empty.get("/studies/demo").status_code == 200
