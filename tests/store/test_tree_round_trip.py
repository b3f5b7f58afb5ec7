"""Conditional and define-by-run studies stored and read back on SQLite and PostgreSQL: the
space's conditions, each trial's params (only its active ones), the space a define-by-run
study has seen; and ``set_trial_params``, the store's one write for define-by-run trials."""

from __future__ import annotations

from typing import Any

import pytest

import tunewise as tw
from tunewise.errors import IllegalTransition
from tunewise.store import Store
from tunewise.trial import TrialState


@pytest.fixture(params=["sqlite-file", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_set_trial_params_replaces_a_running_trials_params_only(store: Store) -> None:
    study = store.create_study("s", {"x": 1})
    trial = store.add_trial(study.id, {"a": 1, "b": 2}, owner="me", lease_seconds=30)
    store.set_trial_params(study.id, trial.number, {"a": 1})
    assert store.get_trial(study.id, trial.number).params == {"a": 1}
    store.finish_trial(study.id, trial.number, TrialState.COMPLETED, value=1.0, owner="me")
    with pytest.raises(IllegalTransition, match="read-only"):
        store.set_trial_params(study.id, trial.number, {"a": 2})
    assert store.get_trial(study.id, trial.number).params == {"a": 1}


def objective(trial: Any) -> float:
    kind = trial.suggest_categorical("kind", ["svm", "tree"])
    if kind == "svm":
        return float(trial.suggest_float("c", 1e-3, 1e3, log=True))
    return float(trial.suggest_int("depth", 1, 8))


def test_a_define_by_run_study_reads_back_and_continues(store_url: str) -> None:
    study = tw.create_study("dbr", direction="minimize", strategy="random", storage=store_url)
    study.optimize(objective, n_trials=6, progress=False)
    params = [t.params for t in study.trials]
    space = study.space
    study.close()
    again = tw.load_study("dbr", storage=store_url)
    assert [t.params for t in again.trials] == params
    assert again.space == space and set(space.names) == {n for p in params for n in p}
    again.close()
    continued = tw.create_study("dbr", direction="minimize", strategy="random", storage=store_url)
    continued.optimize(objective, n_trials=2, progress=False)
    assert len(continued.trials) == 8 and continued.space.params["kind"] == space.params["kind"]
    continued.close()


def test_a_conditional_study_reads_back(store_url: str) -> None:
    space = tw.Space(
        {
            "kind": tw.Categorical(["svm", "tree"]),
            "c": tw.Float(1e-3, 1e3, scale="log", when={"kind": ["svm"]}),
            "depth": tw.Int(1, 8, when={"kind": "tree"}),
        }
    )
    study = tw.create_study(
        "tree", objective=tw.Objective("loss", "minimize"), space=space, strategy="random",
        storage=store_url, seed=2,
    )  # fmt: skip
    study.optimize(lambda p: float(p.get("c", 0.0)) + p.get("depth", 0), n_trials=6, progress=False)
    params = [t.params for t in study.trials]
    study.close()
    again = tw.load_study("tree", storage=store_url)
    assert again.space == space and again.space.params["depth"].when == {"kind": ("tree",)}
    assert [t.params for t in again.trials] == params
    assert all(again.space.validate(p) == p for p in params)
    again.close()


def test_two_processes_growing_the_space_keep_each_others_names(store_url: str) -> None:
    from tunewise.define_by_run import record_suggested

    study = tw.create_study("grow", direction="minimize", storage=store_url)
    stale = study.store.get_study("grow")  # what each of two drivers read when it started
    for name in ("a", "b"):
        trial = study.store.add_trial(stale.id, {}, owner="me", lease_seconds=30)
        asked = {name: {"type": "float", "low": 0.0, "high": 1.0, "scale": "linear"}}
        record_suggested(study.store, stale, trial.number, {name: 0.5}, asked)
        assert study.store.get_trial(stale.id, trial.number).params == {name: 0.5}
    assert study.space.names == ["a", "b"]
    study.close()
