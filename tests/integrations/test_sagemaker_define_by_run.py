"""SageMaker's describe on a define-by-run study: a name its trials asked only sometimes is a
condition (AMT has none), refused naming it, by ``tunewise describe`` and the REST twin; a
define-by-run study whose trials all asked every name describes as a flat tuning job."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import tunewise as tw
from tests.server.conftest import client_for
from tunewise.cli.main import main


def branches(trial: Any) -> float:
    kind = trial.suggest_categorical("kind", ["svm", "tree"])
    x = trial.suggest_float("x", 0.0, 1.0)
    if kind == "svm":
        return x + trial.suggest_float("c", 0.0, 1.0)
    return x * trial.suggest_int("depth", 1, 4)


def flat(trial: Any) -> float:
    return trial.suggest_float("x", 0.0, 1.0) * trial.suggest_int("depth", 1, 4)


def test_describe_refuses_a_define_by_run_tree_naming_the_parameter(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'd.db'}"
    for name, objective in (("tree", branches), ("flat", flat)):
        study = tw.create_study(name, direction="maximize", strategy="random", seed=4, storage=url)
        study.optimize(objective, n_trials=8, progress=False)
        if name == "tree":  # both branches ran: c is absent from some trials
            assert {t.params["kind"] for t in study.trials} == {"svm", "tree"}
        study.close()
    capsys.readouterr()
    assert main(["describe", "tree", "--storage", url]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "space.c: SageMaker Automatic Model Tuning has no conditional" in err
    assert "c was asked by" in err and "of this define-by-run study's 8 trials" in err
    assert main(["describe", "flat", "--storage", url]) == 0
    assert '"Name": "depth"' in capsys.readouterr().out
    with client_for(url) as client:
        answer = client.get("/api/studies/tree/sagemaker/describe")
        assert answer.status_code == 409 and "space.c:" in answer.json()["detail"]
        assert client.get("/api/studies/flat/sagemaker/describe").status_code == 200
