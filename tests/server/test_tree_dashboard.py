"""The dashboard's API on a define-by-run study over a tree: the space it has seen (growing
between two reads), figures with absent values (parallel coordinates draw them on an
"(inactive)" tick), importance over the trials where a parameter is active."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tunewise as tw
from tests.server.conftest import client_for


def objective(trial: Any) -> float:
    kind = trial.suggest_categorical("kind", ["svm", "tree"])
    x = trial.suggest_float("x", 0.0, 1.0)
    if kind == "svm":
        return x + trial.suggest_float("c", 0.0, 1.0)
    return x * trial.suggest_int("depth", 1, 4)


def test_the_dashboard_shows_a_growing_define_by_run_space(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'd.db'}"
    study = tw.create_study("seen", direction="maximize", strategy="random", seed=4, storage=url)
    with client_for(url) as client:
        api = "/api/studies/seen"
        assert client.get(api).json()["params"] == []  # nothing asked yet
        study.optimize(objective, n_trials=12, progress=False)
        assert sorted(client.get(api).json()["params"]) == ["c", "depth", "kind", "x"]
        parallel = client.get(f"{api}/figures/parallel").json()
        (trace,) = parallel["data"]  # every trial drawn: an absent value on "(inactive)"
        axes = {d["label"]: d for d in trace["dimensions"]}
        assert len(axes["c"]["values"]) == 12 and axes["c"]["ticktext"][0] == "(inactive)"
        for kind in ("slice", "importance", "history"):
            assert client.get(f"{api}/figures/{kind}").status_code == 200, kind
        importance = client.get(f"{api}/importance").json()
        assert set(importance["importances"]) <= {"c", "depth", "kind", "x"}
        page = client.get("/studies/seen").text
        assert "<h2>Space</h2>" in page and "depth  int [1, 4] linear" in page
        for t in client.get(f"{api}/trials").json()["trials"]:
            assert ("depth" in t["params"]) == (t["params"]["kind"] == "tree")
    study.close()
